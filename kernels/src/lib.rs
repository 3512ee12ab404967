//! Frame metrics: VMAF, PSNR, SSIM, fingerprints and scene-change features.
