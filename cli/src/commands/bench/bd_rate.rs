//! The Bjøntegaard delta rate: how much more (or less, negative) bitrate one rate–quality
//! curve needs than another for the same quality, averaged over the quality range both cover.
//!
//! Each curve's log-rate is interpolated as a function of quality with a monotone
//! piecewise-cubic Hermite (Fritsch–Carlson, "PCHIP", as the JVET/AOM tools do rather than
//! Bjøntegaard's single cubic, which can swing between points); both are integrated exactly
//! (a Hermite segment's integral is closed-form) over the overlap of their quality ranges; the
//! mean difference of log-rates is turned back into a rate ratio: `exp(Δ) − 1`.

/// One rendition: its bitrate and its quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePoint {
    pub kbps: f64,
    pub vmaf: f64,
}

/// A curve ready to integrate: qualities strictly rising, log-rates, and PCHIP slopes.
struct LogRateCurve {
    quality: Vec<f64>,
    log_rate: Vec<f64>,
    slope: Vec<f64>,
}

impl LogRateCurve {
    /// `None` with fewer than two usable points (positive finite rate, finite quality).
    fn new(points: &[RatePoint]) -> Option<LogRateCurve> {
        let mut sorted: Vec<RatePoint> = points.iter().copied().filter(|point| point.kbps.is_finite() && point.kbps > 0.0 && point.vmaf.is_finite()).collect();
        sorted.sort_by(|a, b| a.vmaf.total_cmp(&b.vmaf).then(a.kbps.total_cmp(&b.kbps)));
        // Of points of equal quality, the cheapest.
        sorted.dedup_by(|later, earlier| later.vmaf == earlier.vmaf);
        if sorted.len() < 2 {
            return None;
        }
        let quality: Vec<f64> = sorted.iter().map(|point| point.vmaf).collect();
        let log_rate: Vec<f64> = sorted.iter().map(|point| point.kbps.ln()).collect();
        let slope = pchip_slopes(&quality, &log_rate);
        Some(LogRateCurve { quality, log_rate, slope })
    }

    /// The integral of the interpolated log-rate over `[low, high]` (inside the curve's range).
    fn integral(&self, low: f64, high: f64) -> f64 {
        let mut total = 0.0;
        for segment in 0..self.quality.len() - 1 {
            let (q0, q1) = (self.quality[segment], self.quality[segment + 1]);
            let (from, to) = (low.max(q0), high.min(q1));
            if to > from {
                total += self.segment_integral(segment, from, to);
            }
        }
        total
    }

    /// The Hermite cubic of `segment` integrated over `[from, to]` inside it.
    fn segment_integral(&self, segment: usize, from: f64, to: f64) -> f64 {
        let h = self.quality[segment + 1] - self.quality[segment];
        let (y0, y1, m0, m1) = (self.log_rate[segment], self.log_rate[segment + 1], self.slope[segment], self.slope[segment + 1]);
        // The antiderivative of the Hermite basis in t = (q − q0) / h, times h.
        let antiderivative = |t: f64| {
            let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
            let h00 = t4 / 2.0 - t3 + t;
            let h10 = t4 / 4.0 - 2.0 * t3 / 3.0 + t2 / 2.0;
            let h01 = -t4 / 2.0 + t3;
            let h11 = t4 / 4.0 - t3 / 3.0;
            h * (h00 * y0 + h10 * h * m0 + h01 * y1 + h11 * h * m1)
        };
        let t = |q: f64| (q - self.quality[segment]) / h;
        antiderivative(t(to)) - antiderivative(t(from))
    }
}

/// Fritsch–Carlson slopes: monotone data stays monotone between the points.
fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let secant: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i])).collect();
    if n == 2 {
        return vec![secant[0]; 2];
    }
    let mut slope = vec![0.0; n];
    for i in 1..n - 1 {
        let (left, right) = (secant[i - 1], secant[i]);
        if left * right > 0.0 {
            let (w1, w2) = (2.0 * (x[i + 1] - x[i]) + (x[i] - x[i - 1]), (x[i + 1] - x[i]) + 2.0 * (x[i] - x[i - 1]));
            slope[i] = (w1 + w2) / (w1 / left + w2 / right);
        }
    }
    let end = |h0: f64, h1: f64, d0: f64, d1: f64| {
        let estimate = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
        if estimate * d0 <= 0.0 {
            0.0
        } else if d0 * d1 < 0.0 && estimate.abs() > (3.0 * d0).abs() {
            3.0 * d0
        } else {
            estimate
        }
    };
    slope[0] = end(x[1] - x[0], x[2] - x[1], secant[0], secant[1]);
    slope[n - 1] = end(x[n - 1] - x[n - 2], x[n - 2] - x[n - 3], secant[n - 2], secant[n - 3]);
    slope
}

/// The BD-rate of `test` against `reference`, as a fraction (−0.2: 20 % less bitrate for the
/// same quality). `None` when either curve has fewer than two usable points or their
/// quality ranges do not overlap.
pub fn bd_rate(reference: &[RatePoint], test: &[RatePoint]) -> Option<f64> {
    let (reference, test) = (LogRateCurve::new(reference)?, LogRateCurve::new(test)?);
    let low = reference.quality[0].max(test.quality[0]);
    let high = reference.quality[reference.quality.len() - 1].min(test.quality[test.quality.len() - 1]);
    if high <= low {
        return None;
    }
    let difference = (test.integral(low, high) - reference.integral(low, high)) / (high - low);
    Some(difference.exp() - 1.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn curve(points: &[(f64, f64)]) -> Vec<RatePoint> {
        points.iter().map(|&(kbps, vmaf)| RatePoint { kbps, vmaf }).collect()
    }

    fn reference() -> Vec<RatePoint> {
        curve(&[(6000.0, 96.0), (3000.0, 91.0), (1500.0, 83.0), (700.0, 72.0), (300.0, 58.0)])
    }

    #[test]
    fn a_curve_scaled_in_rate_has_exactly_that_bd_rate() {
        let cheaper: Vec<RatePoint> = reference().iter().map(|point| RatePoint { kbps: point.kbps * 0.8, ..*point }).collect();
        assert!((bd_rate(&reference(), &cheaper).unwrap() + 0.2).abs() < 1e-12);
        assert!((bd_rate(&cheaper, &reference()).unwrap() - 0.25).abs() < 1e-12);
        assert!(bd_rate(&reference(), &reference()).unwrap().abs() < 1e-12);
    }

    #[test]
    fn only_the_overlapping_quality_range_counts() {
        // Log-rate linear in quality (PCHIP keeps lines exact, whatever the points); the test
        // curve covers VMAF 80..95 only, where it is half the rate.
        let line = |vmaf: f64| 20.0 * (0.05 * vmaf).exp();
        let reference_line: Vec<RatePoint> = [50.0, 65.0, 80.0, 90.0, 98.0].iter().map(|&vmaf| RatePoint { kbps: line(vmaf), vmaf }).collect();
        let test: Vec<RatePoint> = [80.0, 88.0, 95.0].iter().map(|&vmaf| RatePoint { kbps: line(vmaf) / 2.0, vmaf }).collect();
        assert!((bd_rate(&reference_line, &test).unwrap() + 0.5).abs() < 1e-12);
        assert_eq!(bd_rate(&reference(), &curve(&[(100.0, 40.0), (200.0, 50.0)])), None, "no overlap");
        assert_eq!(bd_rate(&reference(), &curve(&[(100.0, 60.0)])), None, "one point is no curve");
        assert_eq!(bd_rate(&reference(), &curve(&[(0.0, 60.0), (f64::NAN, 70.0), (100.0, 80.0)])), None, "unusable points are dropped");
    }

    #[test]
    fn a_segment_integral_is_exact_for_a_cubic() {
        // Two points with end slopes from PCHIP on straight data: the integral of a line.
        let line = LogRateCurve::new(&curve(&[(1.0f64.exp(), 0.0), (3.0f64.exp(), 2.0)])).unwrap();
        assert!((line.integral(0.0, 2.0) - 4.0).abs() < 1e-12);
        assert!((line.integral(0.5, 1.5) - 2.0).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn the_sign_follows_which_curve_is_cheaper(factor in 0.3f64..3.0, wobble in prop::collection::vec(0.9f64..1.1, 5)) {
            let base = reference();
            let test: Vec<RatePoint> = base.iter().zip(&wobble).map(|(point, w)| RatePoint { kbps: point.kbps * factor * w, vmaf: point.vmaf }).collect();
            let result = bd_rate(&base, &test).unwrap();
            // Every point within ±10 % of `factor` times the reference: the mean lies there too.
            prop_assert!(result >= factor * 0.9 - 1.0 - 1e-9 && result <= factor * 1.1 - 1.0 + 1e-9, "{result} for {factor}");
        }
    }
}
