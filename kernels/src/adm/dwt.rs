//! ADM's Daubechies-2 DWT: scale 0 on the samples into `i16` bands
//! (`adm_dwt2_8`/`adm_dwt2_16`), scales 1–3 on the previous `i32` LL band
//! (`adm_dwt2_s123_combined`). The scalar loops finish what the AVX2 twins in
//! [`super::avx2`] leave of each row.

use super::bands::Bands;
use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Daubechies-2 low-pass and high-pass filters in Q15 (`dwt2_db2_coeffs_lo/hi`).
pub(crate) const DWT_LO: [i32; 4] = [15826, 27411, 7345, -4240];
pub(crate) const DWT_HI: [i32; 4] = [-4240, -7345, 27411, -15826];
pub(crate) const DWT_LO_SUM: i32 = 46342;
const DWT_HI_SUM: i32 = 0;

/// Index of the 4 source rows/columns of DWT output `i` (`dwt2_src_indices_filt`):
/// `2i−1 .. 2i+2`, mirrored as `−x` below 0 and `2n−x−1` above `n−1`.
#[inline(always)]
fn dwt_taps(i: usize, n: usize) -> [usize; 4] {
    std::array::from_fn(|k| {
        let idx = 2 * i as isize - 1 + k as isize;
        let m = if idx < 0 {
            -idx
        } else if idx >= n as isize {
            2 * n as isize - idx - 1
        } else {
            idx
        };
        m.clamp(0, n as isize - 1) as usize
    })
}

/// `adm_dwt2_8` / `adm_dwt2_16`: one DWT level of the samples into int16 bands.
#[inline(always)]
pub(super) fn dwt_scale0<T: Sample>(
    src: &Plane<T>,
    bit_depth: u32,
    simd: SimdLevel,
    out: &mut Bands<i16>,
    rows: &mut (Vec<i16>, Vec<i16>),
    col_taps: &mut Vec<[usize; 4]>,
) {
    let (w, h) = (src.width(), src.height());
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let data = src.data();
    let (tmp_lo, tmp_hi) = rows;
    tmp_lo.resize(w, 0);
    tmp_hi.resize(w, 0);
    col_taps.clear();
    col_taps.extend((0..bw).map(|j| dwt_taps(j, w)));
    // Interior outputs j = 1..=interior read tmp[2j−1 ..= 2j+2] directly (no mirror table).
    let interior = w.saturating_sub(3).div_euclid(2).min(bw.saturating_sub(1));
    for i in 0..bh {
        let r: [&[T]; 4] = dwt_taps(i, h).map(|y| &data[y * w..(y + 1) * w]);
        let done = match super::avx512::dwt0_vertical(r, bit_depth, tmp_lo, tmp_hi, simd) {
            0 => super::avx2::dwt0_vertical(r, bit_depth, tmp_lo, tmp_hi, simd),
            done => done,
        };
        dwt0_vertical_columns(r, bit_depth, done, tmp_lo, tmp_hi);
        let row = i * bw;
        let out_row = [&mut out.a, &mut out.v, &mut out.h, &mut out.d].map(|b| &mut b[row..row + bw]);
        let [a, v, hb, d] = out_row;
        let next = match super::avx512::dwt0_horizontal(tmp_lo, tmp_hi, interior, [&mut *a, &mut *v, &mut *hb, &mut *d], simd) {
            1 => super::avx2::dwt0_horizontal(tmp_lo, tmp_hi, interior, [&mut *a, &mut *v, &mut *hb, &mut *d], simd),
            next => next,
        };
        for j in next..=interior {
            let b = 2 * j - 1;
            let lo = [tmp_lo[b], tmp_lo[b + 1], tmp_lo[b + 2], tmp_lo[b + 3]].map(i32::from);
            let hi = [tmp_hi[b], tmp_hi[b + 1], tmp_hi[b + 2], tmp_hi[b + 3]].map(i32::from);
            a[j] = dwt0_filter(&DWT_LO, &lo);
            v[j] = dwt0_filter(&DWT_HI, &lo);
            hb[j] = dwt0_filter(&DWT_LO, &hi);
            d[j] = dwt0_filter(&DWT_HI, &hi);
        }
        for j in std::iter::once(0).chain(interior + 1..bw) {
            let taps = col_taps[j];
            let lo = taps.map(|x| i32::from(tmp_lo[x]));
            let hi = taps.map(|x| i32::from(tmp_hi[x]));
            a[j] = dwt0_filter(&DWT_LO, &lo);
            v[j] = dwt0_filter(&DWT_HI, &lo);
            hb[j] = dwt0_filter(&DWT_LO, &hi);
            d[j] = dwt0_filter(&DWT_HI, &hi);
        }
    }
}

/// The scale-0 vertical pass of columns `from..` of the 4 source rows `r`, in wrapping
/// `i32` as libvmaf's `int32_t` sums (above 12 bits the sums can exceed `i32`).
#[inline(always)]
fn dwt0_vertical_columns<T: Sample>(r: [&[T]; 4], shift: u32, from: usize, tmp_lo: &mut [i16], tmp_hi: &mut [i16]) {
    let round = 1i32 << (shift - 1);
    let dot = |f: &[i32; 4], s: &[i32; 4]| {
        f[0].wrapping_mul(s[0]).wrapping_add(f[1].wrapping_mul(s[1])).wrapping_add(f[2].wrapping_mul(s[2])).wrapping_add(f[3].wrapping_mul(s[3]))
    };
    for j in from..tmp_lo.len() {
        let s = [r[0][j].to_i32(), r[1][j].to_i32(), r[2][j].to_i32(), r[3][j].to_i32()];
        let lo = dot(&DWT_LO, &s).wrapping_sub(DWT_LO_SUM.wrapping_mul(round));
        tmp_lo[j] = (lo.wrapping_add(round) >> shift) as i16;
        let hi = dot(&DWT_HI, &s).wrapping_sub(DWT_HI_SUM * round);
        tmp_hi[j] = (hi.wrapping_add(round) >> shift) as i16;
    }
}

/// The scale-0 horizontal filter of 4 taps (wrapping `i32`, `>> 16` rounded).
#[inline(always)]
fn dwt0_filter(f: &[i32; 4], s: &[i32; 4]) -> i16 {
    let acc = f[0]
        .wrapping_mul(s[0])
        .wrapping_add(f[1].wrapping_mul(s[1]))
        .wrapping_add(f[2].wrapping_mul(s[2]))
        .wrapping_add(f[3].wrapping_mul(s[3]));
    (acc.wrapping_add(32768) >> 16) as i16
}

/// `adm_dwt2_s123_combined` for one image: DWT of an int32 LL band of `w x h`.
///
/// Rows are read as slices and the interior columns without the mirror table, so the
/// loops vectorise; the arithmetic is libvmaf's (int64 products, its roundings).
#[inline(always)]
pub(super) fn dwt_s123(
    src: &[i32],
    (w, h): (usize, usize),
    scale: usize,
    simd: SimdLevel,
    out: &mut Bands<i32>,
    tmp: &mut Vec<i32>,
    col_taps: &mut Vec<[usize; 4]>,
) {
    const ROUND_VP: [i64; 3] = [0, 32768, 32768];
    const SHIFT_VP: [u32; 3] = [0, 16, 16];
    const ROUND_HP: [i64; 3] = [16384, 32768, 16384];
    const SHIFT_HP: [u32; 3] = [15, 16, 15];
    let vertical = DwtRounding { round: ROUND_VP[scale - 1], shift: SHIFT_VP[scale - 1] };
    let horizontal = DwtRounding { round: ROUND_HP[scale - 1], shift: SHIFT_HP[scale - 1] };
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    tmp.resize(2 * w, 0);
    let (tmp_lo, tmp_hi) = tmp.split_at_mut(w);
    col_taps.clear();
    col_taps.extend((0..bw).map(|j| dwt_taps(j, w)));
    let lo_k = DWT_LO.map(i64::from);
    let hi_k = DWT_HI.map(i64::from);
    let filt = |f: &[i64; 4], s: [i32; 4]| {
        let s = s.map(i64::from);
        ((f[0] * s[0] + f[1] * s[1] + f[2] * s[2] + f[3] * s[3] + horizontal.round) >> horizontal.shift) as i32
    };
    // Interior outputs j = 1..=interior read tmp[2j−1 ..= 2j+2] directly.
    let interior = w.saturating_sub(3).div_euclid(2).min(bw.saturating_sub(1));
    for i in 0..bh {
        let r: [&[i32]; 4] = dwt_taps(i, h).map(|y| &src[y * w..(y + 1) * w]);
        let done = match super::avx512::dwt_s123_vertical(r, vertical, tmp_lo, tmp_hi, simd) {
            0 => super::avx2::dwt_s123_vertical(r, vertical, tmp_lo, tmp_hi, simd),
            done => done,
        };
        for j in done..w {
            let s = [i64::from(r[0][j]), i64::from(r[1][j]), i64::from(r[2][j]), i64::from(r[3][j])];
            let lo = lo_k[0] * s[0] + lo_k[1] * s[1] + lo_k[2] * s[2] + lo_k[3] * s[3];
            let hi = hi_k[0] * s[0] + hi_k[1] * s[1] + hi_k[2] * s[2] + hi_k[3] * s[3];
            tmp_lo[j] = ((lo + vertical.round) >> vertical.shift) as i32;
            tmp_hi[j] = ((hi + vertical.round) >> vertical.shift) as i32;
        }
        let row = i * bw;
        let [a, v, hb, d] = [&mut out.a, &mut out.v, &mut out.h, &mut out.d].map(|b| &mut b[row..row + bw]);
        let next = super::avx512::dwt_s123_horizontal(tmp_lo, tmp_hi, interior, horizontal, [&mut *a, &mut *v, &mut *hb, &mut *d], simd);
        let next = super::avx2::dwt_s123_horizontal(tmp_lo, tmp_hi, next, interior, horizontal, [&mut *a, &mut *v, &mut *hb, &mut *d], simd);
        for j in next..=interior {
            let b = 2 * j - 1;
            let lo = [tmp_lo[b], tmp_lo[b + 1], tmp_lo[b + 2], tmp_lo[b + 3]];
            let hi = [tmp_hi[b], tmp_hi[b + 1], tmp_hi[b + 2], tmp_hi[b + 3]];
            a[j] = filt(&lo_k, lo);
            v[j] = filt(&hi_k, lo);
            hb[j] = filt(&lo_k, hi);
            d[j] = filt(&hi_k, hi);
        }
        for j in std::iter::once(0).chain(interior + 1..bw) {
            let taps = col_taps[j];
            let lo = taps.map(|x| tmp_lo[x]);
            let hi = taps.map(|x| tmp_hi[x]);
            a[j] = filt(&lo_k, lo);
            v[j] = filt(&hi_k, lo);
            hb[j] = filt(&lo_k, hi);
            d[j] = filt(&hi_k, hi);
        }
    }
}

/// One rounding of the scale 1–3 DWT: `(Σ + round) >> shift` in `i64`, kept as `i32`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DwtRounding {
    pub round: i64,
    pub shift: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwt_taps_mirror_like_libvmaf() {
        assert_eq!(dwt_taps(0, 10), [1, 0, 1, 2]);
        assert_eq!(dwt_taps(4, 10), [7, 8, 9, 9]);
        assert_eq!(dwt_taps(4, 9), [7, 8, 8, 7]);
    }
}
