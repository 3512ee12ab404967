//! ADM's contrast sensitivity function: the Watson et al. quantisation steps of the
//! default viewing condition, their fixed-point factors, the CSF weighting of the
//! impairment bands (`adm_csf`, `i4_adm_csf`) and the CSF denominators, Σ|reference
//! band|³ over the score region (`adm_csf_den_scale`, `adm_csf_den_s123`).

#![expect(clippy::needless_range_loop, reason = "these loops index several planes and tables by one position, as libvmaf's C does; iterator chains would hide the correspondence")]

use super::bands::{Bands, DetailBands};
use super::region::extended_region;
use super::sums::{DenS123, DenScale0};

const NORM_VIEW_DIST: f64 = 3.0;
const REF_DISPLAY_HEIGHT: i32 = 1080;

/// Watson et al. 1997 model for luma: a, k, f0, g[4].
const WATSON_A: f32 = 0.495;
const WATSON_K: f32 = 0.466;
const WATSON_F0: f32 = 0.401;
const WATSON_G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
const BASIS_AMPLITUDES: [[f32; 4]; 6] = [
    [0.62171, 0.67234, 0.72709, 0.67234],
    [0.34537, 0.41317, 0.49428, 0.41317],
    [0.18004, 0.22727, 0.28688, 0.22727],
    [0.091401, 0.11792, 0.15214, 0.11792],
    [0.045943, 0.059758, 0.077727, 0.059758],
    [0.023013, 0.030018, 0.039156, 0.030018],
];

/// `dwt_quant_step`: the quantisation step Q(λ, θ) for the default viewing condition.
fn dwt_quant_step(lambda: i32, theta: usize) -> f32 {
    let r = (NORM_VIEW_DIST * f64::from(REF_DISPLAY_HEIGHT) * std::f64::consts::PI / 180.0) as f32;
    let temp = (2.0f64.powf(f64::from(lambda + 1)) * f64::from(WATSON_F0) * f64::from(WATSON_G[theta])
        / f64::from(r))
    .log10() as f32;
    let q = 2.0 * f64::from(WATSON_A) * 10.0f64.powf(f64::from(WATSON_K * temp * temp))
        / f64::from(BASIS_AMPLITUDES[lambda as usize][theta]);
    q as f32
}

/// `1 / Q` for the H/V bands (θ=1) and the D band (θ=2) of a scale.
pub(super) fn reciprocal_factors(scale: usize) -> [f32; 3] {
    let f1 = dwt_quant_step(scale as i32, 1);
    let f2 = dwt_quant_step(scale as i32, 2);
    [1.0 / f1, 1.0 / f1, 1.0 / f2]
}

/// `(int32_t)(1u << 31)` as libvmaf's i4 CSF/CM code uses it: −2³¹.
pub(super) const I4_FLT_ROUND: i64 = -2147483648;

/// Scale-0 CSF factors in fixed point for the default viewing condition.
pub(crate) const I_RFACTOR_SCALE0: [i32; 3] = [36453, 36453, 49417];

/// `adm_csf` (scale 0).
#[inline(always)]
pub(super) fn csf_scale0(a: &DetailBands<i16>, w: usize, h: usize, csf_a: &mut DetailBands<i16>, csf_f: &mut DetailBands<i16>) {
    const SHIFTS: [u32; 3] = [15, 15, 17];
    const ROUNDS: [i32; 3] = [16384, 16384, 65535];
    const FIX_ONE_BY_30: i32 = 4369;
    let (top, bottom, left, right) = extended_region(w, h);
    for theta in 0..3 {
        for i in top..bottom {
            for j in left..right {
                let idx = i * w + j;
                let dst = I_RFACTOR_SCALE0[theta] * i32::from(a.bands[theta][idx]);
                let dst16 = ((dst + ROUNDS[theta]) >> SHIFTS[theta]) as i16;
                csf_a.bands[theta][idx] = dst16;
                csf_f.bands[theta][idx] = ((FIX_ONE_BY_30 * i32::from(dst16).abs() + 2048) >> 12) as i16;
            }
        }
    }
}

/// The scale-1..3 CSF factors in Q32 (`(uint32_t)(rfactor * 2^32)`).
pub(crate) fn i_rfactor_s123(scale: usize) -> [i64; 3] {
    reciprocal_factors(scale).map(|f| (f64::from(f) * 4294967296.0) as u32 as i64)
}

/// `i4_adm_csf` (scales 1–3).
#[inline(always)]
pub(super) fn csf_s123(a: &DetailBands<i32>, scale: usize, w: usize, h: usize, csf_a: &mut DetailBands<i32>, csf_f: &mut DetailBands<i32>) {
    const FIX_ONE_BY_30: i64 = 143165577;
    let rfactor = i_rfactor_s123(scale);
    let (top, bottom, left, right) = extended_region(w, h);
    for theta in 0..3 {
        for i in top..bottom {
            for j in left..right {
                let idx = i * w + j;
                let dst = ((rfactor[theta] * i64::from(a.bands[theta][idx]) + (1 << 27)) >> 28) as i32;
                csf_a.bands[theta][idx] = dst;
                csf_f.bands[theta][idx] = ((FIX_ONE_BY_30 * i64::from(dst.wrapping_abs()) + I4_FLT_ROUND) >> 32) as i32;
            }
        }
    }
}

/// `adm_csf_den_scale` (scale 0): Σ|ref band|³ over the score region, cube-rooted.
#[inline(always)]
pub(super) fn csf_den_scale0(reference: &Bands<i16>, w: usize, h: usize) -> f32 {
    let den = DenScale0::new(w, h);
    let mut accum = [0u64; 3];
    let bands = [&reference.h, &reference.v, &reference.d];
    for i in den.region.rows.0..den.region.rows.1 {
        let mut inner = [0u64; 3];
        for j in den.region.cols.0..den.region.cols.1 {
            for (b, band) in bands.iter().enumerate() {
                let x = u64::from(band[i * w + j].unsigned_abs());
                inner[b] += x * x * x;
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + den.round) >> den.shift;
        }
    }
    den.finish(accum)
}

/// `adm_csf_den_s123` (scales 1–3).
#[inline(always)]
pub(super) fn csf_den_s123(reference: &Bands<i32>, scale: usize, w: usize, h: usize) -> f32 {
    let den = DenS123::new(scale, w, h);
    let mut accum = [0u64; 3];
    let bands = [&reference.h, &reference.v, &reference.d];
    for i in den.region.rows.0..den.region.rows.1 {
        let mut inner = [0u64; 3];
        for j in den.region.cols.0..den.region.cols.1 {
            for (b, band) in bands.iter().enumerate() {
                let x = u64::from(band[i * w + j].unsigned_abs());
                inner[b] += ((((x * x) + den.round_sq) >> den.shift_sq) * x + den.round_cub) >> den.shift_cub;
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + den.round_accum) >> den.shift_accum;
        }
    }
    den.finish(accum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale0_fixed_point_factors_match_the_model() {
        let rf = reciprocal_factors(0);
        // libvmaf hard-codes these "around" values for the default viewing condition.
        let h = (f64::from(rf[0]) * 2f64.powi(21)) as i32;
        let d = (f64::from(rf[2]) * 2f64.powi(23)) as i32;
        assert!((h - I_RFACTOR_SCALE0[0]).abs() <= 4, "{h}");
        assert!((d - I_RFACTOR_SCALE0[2]).abs() <= 4, "{d}");
    }
}
