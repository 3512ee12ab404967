//! ADM's decoupling of the distorted detail bands into the restored part (`r`, the
//! reference scaled by the clamped ratio) and the additive impairment (`a`), with
//! libvmaf's enhancement gain limit where both bands' angles agree within 1°
//! (`adm_decouple`, `adm_decouple_s123`). At scale 0 the AVX2 twin in [`super::avx2`]
//! does the leading pixels of each row.

use std::sync::OnceLock;

use super::bands::{Bands, DetailBands};
use super::region::extended_region;
use crate::simd::SimdLevel;

const ENHANCEMENT_GAIN_LIMIT: f64 = 100.0;

/// `div_lookup[i + 32768] = 2^30 / i` for i in −32768..=32768 (0 at i = 0).
pub(crate) fn div_lookup() -> &'static [i32; 65537] {
    static TABLE: OnceLock<Box<[i32; 65537]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0i32; 65537]);
        for i in 1..=32768i32 {
            let recip = 1073741824 / i;
            t[(32768 + i) as usize] = recip;
            t[(32768 - i) as usize] = -recip;
        }
        t
    })
}

/// `cos(1°)²` as libvmaf stores it (computed in double, kept in float).
pub(crate) fn cos_1deg_sq() -> f32 {
    let c = (1.0f64 * std::f64::consts::PI / 180.0).cos();
    (c * c) as f32
}

/// The "angle between (oh, ov) and (th, tv) below 1°" test, in libvmaf's mixed float/double.
/// The values are `i32` band values, so each product fits `i64`; a sum of two of 2⁶² (both
/// values at `i32::MIN`) wraps, as libvmaf's `int64_t` arithmetic does on these CPUs, where
/// an overflow check would panic.
#[inline(always)]
fn angle_flag(cos_sq: f32, oh: i64, ov: i64, th: i64, tv: i64) -> bool {
    let ot_dp = (oh * th).wrapping_add(ov * tv);
    let o_mag_sq = (oh * oh).wrapping_add(ov * ov);
    let t_mag_sq = (th * th).wrapping_add(tv * tv);
    let dp = f64::from(ot_dp as f32) / 4096.0;
    dp >= 0.0
        && dp * dp >= f64::from(cos_sq) * (f64::from(o_mag_sq as f32) / 4096.0) * (f64::from(t_mag_sq as f32) / 4096.0)
}

/// Applies the enhancement gain limit to a restored value `rst` of sign `sign(k·o)`.
#[inline(always)]
fn limit_gain(rst: f64, positive: bool, negative: bool, t: f64) -> f64 {
    if positive {
        (rst * ENHANCEMENT_GAIN_LIMIT).min(t)
    } else if negative {
        (rst * ENHANCEMENT_GAIN_LIMIT).max(t)
    } else {
        rst
    }
}

/// `adm_decouple` (scale 0, int16).
#[inline(always)]
pub(super) fn decouple_scale0(
    reference: &Bands<i16>,
    distorted: &Bands<i16>,
    w: usize,
    h: usize,
    simd: SimdLevel,
    r: &mut DetailBands<i16>,
    a: &mut DetailBands<i16>,
) {
    let lookup = div_lookup();
    let cos_sq = cos_1deg_sq();
    let (top, bottom, left, right) = extended_region(w, h);
    for i in top..bottom {
        let row = i * w + left..i * w + right;
        let o = [&reference.h, &reference.v, &reference.d].map(|b| &b[row.clone()]);
        let t = [&distorted.h, &distorted.v, &distorted.d].map(|b| &b[row.clone()]);
        let [rh, rv, rd] = r.bands.each_mut().map(|b| &mut b[row.clone()]);
        let [ah, av, ad] = a.bands.each_mut().map(|b| &mut b[row.clone()]);
        let done = match super::avx512::decouple0(o, t, [&mut *rh, &mut *rv, &mut *rd], [&mut *ah, &mut *av, &mut *ad], lookup, cos_sq, simd) {
            0 => super::avx2::decouple0(o, t, [&mut *rh, &mut *rv, &mut *rd], [&mut *ah, &mut *av, &mut *ad], lookup, cos_sq, simd),
            done => done,
        };
        let (r_row, a_row) = ([rh, rv, rd], [ah, av, ad]);
        for j in done..row.len() {
            let (oj, tj) = (o.map(|b| b[j]), t.map(|b| b[j]));
            let flag = angle_flag(cos_sq, oj[0].into(), oj[1].into(), tj[0].into(), tj[1].into());
            for band in 0..3 {
                let (ob, tb) = (i32::from(oj[band]), i32::from(tj[band]));
                let tmp_k = if ob == 0 {
                    32768
                } else {
                    ((i64::from(lookup[(ob + 32768) as usize]) * i64::from(tb) + 16384) >> 15) as i32
                };
                let k = tmp_k.clamp(0, 32768);
                let mut rst = ((k * ob + 16384) >> 15) as i16;
                if flag {
                    rst = limit_gain(f64::from(rst), k > 0 && ob > 0, k > 0 && ob < 0, f64::from(tb)) as i32 as i16;
                }
                r_row[band][j] = rst;
                a_row[band][j] = (tb - i32::from(rst)) as i16;
            }
        }
    }
}

/// `get_best15_from32`: the top 15 bits of `value` (rounded) and the shift used.
#[inline(always)]
fn best15_from32(value: u32) -> (u32, u32) {
    let k = 17 - value.leading_zeros();
    ((value + (1 << (k - 1))) >> k, k)
}

/// `adm_decouple_s123` (scales 1–3, int32).
#[inline(always)]
pub(super) fn decouple_s123(
    reference: &Bands<i32>,
    distorted: &Bands<i32>,
    w: usize,
    h: usize,
    r: &mut DetailBands<i32>,
    a: &mut DetailBands<i32>,
) {
    let lookup = div_lookup();
    let cos_sq = cos_1deg_sq();
    let (top, bottom, left, right) = extended_region(w, h);
    for i in top..bottom {
        for j in left..right {
            let idx = i * w + j;
            let o = [reference.h[idx], reference.v[idx], reference.d[idx]];
            let t = [distorted.h[idx], distorted.v[idx], distorted.d[idx]];
            let flag = angle_flag(cos_sq, o[0].into(), o[1].into(), t[0].into(), t[1].into());
            for band in 0..3 {
                let (ob, tb) = (o[band], t[band]);
                let tmp_k: i64 = if ob == 0 {
                    32768
                } else {
                    let abs_o = ob.unsigned_abs();
                    let sign: i64 = if ob < 0 { -1 } else { 1 };
                    let (msb, shift) = if abs_o < 32768 { (abs_o, 0) } else { best15_from32(abs_o) };
                    let round = i64::from(1i32.wrapping_shl(14 + shift));
                    ((i64::from(lookup[(msb + 32768) as usize]) * i64::from(tb)) * sign + round) >> (15 + shift)
                };
                let k = tmp_k.clamp(0, 32768);
                let mut rst = ((k * i64::from(ob) + 16384) >> 15) as i32;
                if flag {
                    rst = limit_gain(f64::from(rst), k > 0 && ob > 0, k > 0 && ob < 0, f64::from(tb)) as i32;
                }
                r.bands[band][idx] = rst;
                a.bands[band][idx] = tb.wrapping_sub(rst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Band values at `i32::MIN` (an attacker's frame can drive a DWT sum there) make the
    /// angle test's sums wrap, as libvmaf's do, instead of failing an overflow check.
    #[test]
    fn extreme_band_values_wrap_in_the_angle_test() {
        let min = i64::from(i32::MIN);
        assert!(!angle_flag(cos_1deg_sq(), min, min, min, min));
        assert!(angle_flag(cos_1deg_sq(), 1 << 20, 0, 1 << 21, 0));
    }

    #[test]
    fn div_lookup_ends() {
        let t = div_lookup();
        assert_eq!(t[32768 + 1], 1 << 30);
        assert_eq!(t[0], -32768);
        assert_eq!(t[65536], 32768);
    }
}
