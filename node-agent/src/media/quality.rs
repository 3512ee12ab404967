//! Pooling per-frame quality: one chunk's [`QualitySummary`] (the score task's answer), and the
//! same statistics over any run of frames (a rendition, a shot) for report.json.
//!
//! Mean, minimum and harmonic mean are libvmaf's (`n / Σ 1/(x+1) − 1`, through
//! [`shotfarm_kernels::pooling::Pooled`]); the 1st percentile interpolates linearly between the
//! closest ranks (numpy's default), so it is defined for any number of frames.

use serde::{Deserialize, Serialize};
use shotfarm_kernels::pooling::Pooled;
use shotfarm_proto::pipeline::{QualityStats, QualitySummary};

/// The `p`th percentile (0–100) of `values`; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
    let (below, above) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * weight)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// VMAF statistics over a run of frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VmafStats {
    pub mean: f64,
    pub harmonic_mean: f64,
    pub min: f64,
    pub p1: f64,
    pub frames: u64,
}

impl VmafStats {
    /// `None` for no frames.
    pub fn of(per_frame: &[f64]) -> Option<Self> {
        let pooled = Pooled::of(per_frame)?;
        Some(Self { mean: pooled.mean, harmonic_mean: pooled.harmonic_mean, min: pooled.min, p1: percentile(per_frame, 1.0)?, frames: per_frame.len() as u64 })
    }
}

/// One chunk's summary from its per-frame VMAF, PSNR-Y and SSIM; `None` for no frames or when
/// a metric does not cover every frame (JSON has no NaN to stand in for a missing value).
pub fn chunk_summary(vmaf: Vec<f64>, psnr_y: &[f64], ssim: &[f64]) -> Option<QualitySummary> {
    if psnr_y.len() != vmaf.len() || ssim.len() != vmaf.len() {
        return None;
    }
    let stats = VmafStats::of(&vmaf)?;
    Some(QualitySummary {
        stats: QualityStats { vmaf_mean: stats.mean, vmaf_harmonic_mean: stats.harmonic_mean, vmaf_min: stats.min, vmaf_p1: stats.p1, psnr_y: mean(psnr_y)?, ssim: mean(ssim)? },
        vmaf_per_frame: vmaf,
    })
}

/// Frame-weighted mean of per-chunk means (`(mean, frames)` pairs); `None` for no frames.
pub fn weighted_mean(parts: impl IntoIterator<Item = (f64, u64)>) -> Option<f64> {
    let (sum, frames) = parts.into_iter().filter(|(value, _)| value.is_finite()).fold((0.0, 0u64), |(sum, frames), (value, count)| (sum + value * count as f64, frames + count));
    (frames > 0).then(|| sum / frames as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 1.0), None);
        assert_eq!(percentile(&[42.0], 1.0), Some(42.0));
        // 101 values 0..=100: the 1st percentile is exactly 1.
        let values: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&values, 1.0), Some(1.0));
        assert_eq!(percentile(&[10.0, 20.0], 1.0), Some(10.1));
    }

    #[test]
    fn a_chunk_summary_pools_like_libvmaf() {
        let summary = chunk_summary(vec![90.0, 80.0, 70.0], &[40.0, 42.0, 44.0], &[0.9, 0.95, 1.0]).unwrap();
        assert!((summary.stats.vmaf_mean - 80.0).abs() < 1e-12);
        assert_eq!(summary.stats.vmaf_min, 70.0);
        assert!(summary.stats.vmaf_harmonic_mean < summary.stats.vmaf_mean && summary.stats.vmaf_harmonic_mean > 70.0);
        assert!((summary.stats.vmaf_p1 - 70.2).abs() < 1e-9);
        assert!((summary.stats.psnr_y - 42.0).abs() < 1e-12);
        assert!((summary.stats.ssim - 0.95).abs() < 1e-12);
        assert_eq!(summary.vmaf_per_frame.len(), 3);
        assert!(chunk_summary(Vec::new(), &[], &[]).is_none());
        assert!(chunk_summary(vec![90.0, 80.0], &[40.0], &[0.9, 0.9]).is_none());
    }

    #[test]
    fn weighted_means_weigh_by_frames() {
        assert_eq!(weighted_mean([(10.0, 1), (40.0, 2)]), Some(30.0));
        assert_eq!(weighted_mean([(f64::NAN, 5)]), None);
    }
}
