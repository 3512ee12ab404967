//! Pooling of per-frame scores as libvmaf does it (`vmaf_feature_score_pooled`).

use serde::Serialize;

/// Mean, min, max and harmonic mean (`n / Σ 1/(x+1) − 1`) of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pooled {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub harmonic_mean: f64,
}

impl Pooled {
    /// `None` for an empty series.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let (mut sum, mut inv_sum) = (0.0, 0.0);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in values {
            sum += v;
            inv_sum += 1.0 / (v + 1.0);
            min = min.min(v);
            max = max.max(v);
        }
        Some(Self { min, max, mean: sum / n, harmonic_mean: n / inv_sum - 1.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_like_libvmaf() {
        let p = Pooled::of(&[0.0, 1.0, 3.0]).unwrap();
        assert_eq!((p.min, p.max), (0.0, 3.0));
        assert!((p.mean - 4.0 / 3.0).abs() < 1e-15);
        assert!((p.harmonic_mean - (3.0 / (1.0 + 0.5 + 0.25) - 1.0)).abs() < 1e-15);
        assert!(Pooled::of(&[]).is_none());
    }
}
