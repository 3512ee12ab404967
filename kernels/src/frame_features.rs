//! All features of one (reference, distorted) frame pair: VIF, ADM, the motion SAD
//! against the previous reference, and optionally PSNR and SSIM. The reference-only part
//! (motion, VIF's reference pyramid, ADM's reference DWT and CSF denominators, SSIM's
//! reference side) is a [`PreparedReference`], done once per reference frame and shared by
//! every distorted frame scored against it ([`features_against`], or
//! [`features_against_each`] for all of them at once, VIF's row passes over the reference
//! shared as well).

use crate::adm::{self, AdmReference, AdmScores, AdmScratch, MIN_ADM_SIZE};
use crate::frame::{Frame, Plane, YuvFrame};
use crate::motion::{self, MotionScratch};
use crate::psnr;
use crate::sample::Sample;
use crate::simd::SimdLevel;
use crate::ssim::{self, SsimReference, SsimScratch};
use crate::vif::{self, VifReference, VifScores, VifScratch};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("reference is {ref_w}x{ref_h} but distorted is {dis_w}x{dis_h}: frames must have the same size")]
    SizeMismatch { ref_w: usize, ref_h: usize, dis_w: usize, dis_h: usize },
    #[error("reference has {reference} bits per sample but distorted has {distorted}")]
    BitDepthMismatch { reference: u8, distorted: u8 },
    #[error("frames of {width}x{height} are too small: VMAF needs at least {min}x{min}")]
    TooSmall { width: usize, height: usize, min: usize },
    #[error("unsupported bit depth {0}: 8 to 16 bits are supported")]
    UnsupportedBitDepth(u8),
    #[error("the reference was prepared for its motion only: prepare it with a feature selection to score a frame against it")]
    MotionOnlyReference,
    #[error("{0}")]
    Cuda(String),
}

/// Which optional features to compute besides VMAF's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureSelection {
    pub psnr: bool,
    pub ssim: bool,
}

/// Everything measured on one frame pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFeatures {
    pub vif: VifScores,
    pub adm: AdmScores,
    /// `motion[i]` (SAD score against the previous reference; 0 for the first frame).
    pub motion: f64,
    pub psnr: Option<[f64; 3]>,
    pub ssim: Option<f64>,
}

/// Per-thread scratch memory, reused from frame to frame.
#[derive(Debug, Default)]
pub struct FeatureScratch {
    vif: VifScratch,
    adm: AdmScratch,
    motion: MotionScratch,
    ssim: SsimScratch,
    /// The GPU kernels when VIF and motion run on CUDA.
    #[cfg(feature = "cuda")]
    gpu: Option<std::sync::Arc<crate::cuda::CudaDevice>>,
}

impl FeatureScratch {
    /// Whether VIF and ADM run on a GPU (and so need no reference prepared on the CPU).
    #[cfg(feature = "cuda")]
    fn on_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// Whether VIF and ADM run on a GPU: never without CUDA.
    #[cfg(not(feature = "cuda"))]
    fn on_gpu(&self) -> bool {
        false
    }

    /// Scratch for a worker of `backend`.
    pub fn for_backend(backend: &crate::backend::Backend) -> Self {
        match backend {
            crate::backend::Backend::Cpu(_) => Self::default(),
            #[cfg(feature = "cuda")]
            crate::backend::Backend::Cuda(k, _) => Self { gpu: Some(std::sync::Arc::clone(k)), ..Self::default() },
        }
    }
}

/// Checks that a pair can be measured.
pub fn check_pair(reference: &Frame, distorted: &Frame) -> Result<(), MetricError> {
    if (reference.width(), reference.height()) != (distorted.width(), distorted.height()) {
        return Err(MetricError::SizeMismatch {
            ref_w: reference.width(),
            ref_h: reference.height(),
            dis_w: distorted.width(),
            dis_h: distorted.height(),
        });
    }
    if reference.bit_depth() != distorted.bit_depth() {
        return Err(MetricError::BitDepthMismatch { reference: reference.bit_depth(), distorted: distorted.bit_depth() });
    }
    if !(8..=16).contains(&reference.bit_depth()) {
        return Err(MetricError::UnsupportedBitDepth(reference.bit_depth()));
    }
    if reference.width() < MIN_ADM_SIZE || reference.height() < MIN_ADM_SIZE {
        return Err(MetricError::TooSmall { width: reference.width(), height: reference.height(), min: MIN_ADM_SIZE });
    }
    Ok(())
}

/// The work on one reference frame that every distorted frame scored against it shares,
/// done once ([`PreparedReference::prepare`]): its motion against the reference before it and,
/// for a scored frame, VIF's and ADM's reference side (on the CPU backend) and, with SSIM
/// selected, SSIM's. Reused from frame to frame, its buffers with it.
#[derive(Debug, Default)]
pub struct PreparedReference {
    motion: f64,
    /// The features distorted frames are scored on against this reference (`None`: only its
    /// motion is measured, a frame a subsampled run leaves out).
    selection: Option<FeatureSelection>,
    vif: VifReference,
    adm: AdmReference,
    ssim: SsimReference,
}

impl PreparedReference {
    /// Prepares `reference` (the frame after `previous_reference`) to have distorted frames
    /// scored against it on `selection`, or only its motion measured with `None`.
    pub fn prepare(&mut self, reference: &Frame, previous_reference: Option<&Frame>, selection: Option<FeatureSelection>, simd: SimdLevel, scratch: &mut FeatureScratch) -> Result<(), MetricError> {
        self.selection = selection;
        self.motion = frame_motion(reference, previous_reference, simd, scratch)?;
        if selection.is_some() && !scratch.on_gpu() {
            match reference {
                Frame::Eight(r) => self.prepare_vif_adm(r.luma(), r.bit_depth(), simd, scratch),
                Frame::High(r) => self.prepare_vif_adm(r.luma(), r.bit_depth(), simd, scratch),
            }
        }
        if selection.is_some_and(|selection| selection.ssim) {
            match reference {
                Frame::Eight(r) => ssim::ssim_reference(r.luma(), r.bit_depth(), simd, &mut scratch.ssim, &mut self.ssim),
                Frame::High(r) => ssim::ssim_reference(r.luma(), r.bit_depth(), simd, &mut scratch.ssim, &mut self.ssim),
            }
        }
        Ok(())
    }

    fn prepare_vif_adm<T: Sample>(&mut self, luma: &Plane<T>, bit_depth: u8, simd: SimdLevel, scratch: &mut FeatureScratch) {
        self.vif.prepare(luma, bit_depth, simd, &mut scratch.vif);
        self.adm.prepare(luma, bit_depth, simd, &mut scratch.adm);
    }

    /// `motion[i]` of the prepared reference (0 for the first frame).
    pub fn motion(&self) -> f64 {
        self.motion
    }

    /// The features the reference was prepared for (`None`: motion only).
    pub fn selection(&self) -> Option<FeatureSelection> {
        self.selection
    }
}

/// Features of the pair (`reference`, `distorted`), `prepared` being `reference` prepared with
/// a selection, on the same `simd` level and backend as `scratch` (prepared for its motion
/// only, as a frame a subsampled run leaves out, it is [`MetricError::MotionOnlyReference`]).
pub fn features_against(reference: &Frame, prepared: &PreparedReference, distorted: &Frame, simd: SimdLevel, scratch: &mut FeatureScratch) -> Result<FrameFeatures, MetricError> {
    let [features] = features_against_each(reference, prepared, &[distorted], simd, scratch)
        .try_into()
        .unwrap_or_else(|_| unreachable!("one distorted frame gives one result"));
    features
}

/// Features of each pair (`reference`, `distorted[k]`), one result each, in order, each what
/// [`features_against`] gives that pair; VIF's row passes over the reference run once for all
/// of them ([`vif::vif_against_each`]).
pub fn features_against_each(reference: &Frame, prepared: &PreparedReference, distorted: &[&Frame], simd: SimdLevel, scratch: &mut FeatureScratch) -> Vec<Result<FrameFeatures, MetricError>> {
    let checked: Vec<Result<(), MetricError>> = distorted
        .iter()
        .map(|&d| {
            check_pair(reference, d)?;
            prepared.selection.ok_or(MetricError::MotionOnlyReference)?;
            match (reference, d) {
                (Frame::Eight(_), Frame::Eight(_)) | (Frame::High(_), Frame::High(_)) => Ok(()),
                _ => Err(MetricError::BitDepthMismatch { reference: reference.bit_depth(), distorted: d.bit_depth() }),
            }
        })
        .collect();
    // The frames that passed the checks (all of the reference's sample type), scored together.
    let passed = || distorted.iter().zip(&checked).filter(|(_, check)| check.is_ok()).map(|(&d, _)| d);
    let scored = match (reference, prepared.selection) {
        (Frame::Eight(r), Some(selection)) => {
            let typed: Vec<&YuvFrame<u8>> = passed().filter_map(|d| if let Frame::Eight(d) = d { Some(d) } else { None }).collect();
            typed_features_each(r, prepared, selection, &typed, simd, scratch)
        }
        (Frame::High(r), Some(selection)) => {
            let typed: Vec<&YuvFrame<u16>> = passed().filter_map(|d| if let Frame::High(d) = d { Some(d) } else { None }).collect();
            typed_features_each(r, prepared, selection, &typed, simd, scratch)
        }
        // No frame passed the checks.
        (_, None) => Vec::new(),
    };
    let mut scored = scored.into_iter();
    checked
        .into_iter()
        .map(|check| check.and_then(|()| scored.next().unwrap_or_else(|| unreachable!("every frame that passed the checks was scored"))))
        .collect()
}

/// Features of each pair (`reference`, `distorted[k]`) of one sample type, in order.
fn typed_features_each<T: Sample>(
    reference: &YuvFrame<T>,
    prepared: &PreparedReference,
    selection: FeatureSelection,
    distorted: &[&YuvFrame<T>],
    simd: SimdLevel,
    scratch: &mut FeatureScratch,
) -> Vec<Result<FrameFeatures, MetricError>> {
    let depth = reference.bit_depth();
    let r = reference.luma();
    let motion = prepared.motion;
    #[cfg(feature = "cuda")]
    if let Some(gpu) = scratch.gpu.clone() {
        return distorted
            .iter()
            .map(|&distorted| {
                let d = distorted.luma();
                let vif = crate::cuda::vif(&*gpu, r, d, depth).map_err(cuda_error)?;
                let adm = crate::cuda::adm(&*gpu, r, d, depth).map_err(cuda_error)?;
                let psnr = selection.psnr.then(|| psnr::psnr(reference, distorted));
                let ssim = selection.ssim.then(|| ssim::ssim_against(&prepared.ssim, d, depth, simd, &mut scratch.ssim));
                Ok(FrameFeatures { vif, adm, motion, psnr, ssim })
            })
            .collect();
    }
    let lumas: Vec<&Plane<T>> = distorted.iter().map(|d| d.luma()).collect();
    let vifs = vif::vif_against_each(r, &prepared.vif, &lumas, depth, simd, &mut scratch.vif);
    distorted
        .iter()
        .zip(vifs)
        .map(|(&distorted, vif)| {
            let d = distorted.luma();
            let adm = adm::adm_against(&prepared.adm, d, depth, simd, &mut scratch.adm);
            let psnr = selection.psnr.then(|| psnr::psnr(reference, distorted));
            let ssim = selection.ssim.then(|| ssim::ssim_against(&prepared.ssim, d, depth, simd, &mut scratch.ssim));
            Ok(FrameFeatures { vif, adm, motion, psnr, ssim })
        })
        .collect()
}

/// The motion of one reference frame against the one before (0 for the first): all that a
/// frame left out of a subsampled run needs, since the VMAF of the next scored frame reads it
/// ([`crate::vmaf::VmafOptions::subsample`]).
fn frame_motion(reference: &Frame, previous_reference: Option<&Frame>, simd: SimdLevel, scratch: &mut FeatureScratch) -> Result<f64, MetricError> {
    let Some(previous) = previous_reference else { return Ok(0.0) };
    check_pair(previous, reference)?;
    match (previous, reference) {
        (Frame::Eight(p), Frame::Eight(r)) => typed_motion(r.luma(), Some(p.luma()), r.bit_depth(), simd, scratch),
        (Frame::High(p), Frame::High(r)) => typed_motion(r.luma(), Some(p.luma()), r.bit_depth(), simd, scratch),
        _ => Err(MetricError::BitDepthMismatch { reference: reference.bit_depth(), distorted: previous.bit_depth() }),
    }
}

/// Motion of the luma `reference` against `previous` (on the GPU where the scratch has one).
fn typed_motion<T: Sample>(reference: &Plane<T>, previous: Option<&Plane<T>>, depth: u8, simd: SimdLevel, scratch: &mut FeatureScratch) -> Result<f64, MetricError> {
    let Some(previous) = previous else { return Ok(0.0) };
    #[cfg(feature = "cuda")]
    if let Some(gpu) = scratch.gpu.clone() {
        let sad = crate::cuda::motion_sad(&*gpu, previous, reference, depth).map_err(cuda_error)?;
        return Ok(motion::motion_score(sad, reference.width(), reference.height()));
    }
    let sad = motion::blurred_difference_sad_at(previous, reference, depth, simd, &mut scratch.motion);
    Ok(motion::motion_score(sad, reference.width(), reference.height()))
}

#[cfg(feature = "cuda")]
fn cuda_error(error: crate::cuda::CudaError) -> MetricError {
    MetricError::Cuda(error.to_string())
}
