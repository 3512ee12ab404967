//! Frame metrics: VMAF, PSNR, SSIM, fingerprints and scene-change features.

pub mod fingerprint;
pub mod scene;
