//! Hand-written AVX-512 versions of the motion blur's row loops, bit-exact with the
//! scalar code in [`crate::motion`]: [`super::avx2`]'s arithmetic on 512-bit registers
//! (8-bit samples only).
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`vertical_row`] | the 5-tap vertical blur of the frame difference, 32 columns at a time | differences in `i16`, `vpmaddwd` on pairs of rows; \|Σ\| ≤ 65536·255 fits `i32`; `vpermt2d` restores the column order |
//! | [`horizontal_sad`] | the 5-tap horizontal blur of a padded row and its absolute sum, 16 at a time | each value split as `256·⌊v/256⌋ + (v mod 256)`, both sums of products fit `i32`; the sum of absolute values wraps in `u32` like the scalar's |
//!
//! Each returns how far it got; the AVX2 and scalar loops finish the row.

use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The vertical blur of `previous − current` over 5 rows each (8-bit) into the leading
/// columns of `out`, `(Σ + round) >> shift`; returns how many columns it did (0 = none).
pub(crate) fn vertical_row<T: Sample>(previous: [&[T]; 5], current: [&[T]; 5], shift: u32, out: &mut [i32], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) && shift == 8 {
        let (p, c) = (previous.map(T::as_u8), current.map(T::as_u8));
        if let (Some(p), Some(c)) = (super::avx2::collect(p), super::avx2::collect(c)) {
            // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`), the one
            // requirement of the `#[target_feature]` function.
            return unsafe { x86::vertical_row_u8(p, c, out) };
        }
    }
    let _ = (previous, current, shift, out, simd);
    0
}

/// The horizontal blur of `row` (the `width` values at `row[2..]`, mirrored into 2 entries
/// on each side) and the wrapping sum of its absolute values over the leading outputs;
/// returns `(sum, outputs done)`. Only for values of 8-bit frames (\|v\| ≤ 65536).
pub(crate) fn horizontal_sad(row: &[i32], width: usize, eight_bit: bool, simd: SimdLevel) -> (u32, usize) {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) && eight_bit {
        // SAFETY: the CPU has AVX-512 F (checked by `permits`).
        return unsafe { x86::horizontal_sad(row, width) };
    }
    let _ = (row, width, eight_bit, simd);
    (0, 0)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::motion::MOTION_FILTER;
    use crate::simd::avx512::{columns_of_unpacked, load32_u8_widened, load512, store512};

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn vertical_row_u8(previous: [&[u8]; 5], current: [&[u8]; 5], out: &mut [i32]) -> usize {
        let w = previous.iter().chain(&current).map(|r| r.len()).min().unwrap_or(0).min(out.len());
        let c = MOTION_FILTER;
        let pair = |c0: i32, c1: i32| _mm512_set1_epi32((c1 << 16) | (c0 & 0xFFFF));
        let (c01, c23, c4) = (pair(c[0], c[1]), pair(c[2], c[3]), pair(c[4], 0));
        let round = _mm512_set1_epi32(128);
        let zero = _mm512_setzero_si512();
        let w32 = w / 32 * 32;
        let mut j = 0;
        while j < w32 {
            let difference = |k: usize| _mm512_sub_epi16(load32_u8_widened(previous[k], j), load32_u8_widened(current[k], j));
            let d = [difference(0), difference(1), difference(2), difference(3), difference(4)];
            let sum = |p01: __m512i, p23: __m512i, p4: __m512i| {
                let s = _mm512_add_epi32(_mm512_madd_epi16(p01, c01), _mm512_madd_epi16(p23, c23));
                let s = _mm512_add_epi32(s, _mm512_madd_epi16(p4, c4));
                _mm512_srai_epi32::<8>(_mm512_add_epi32(s, round))
            };
            let lo = sum(_mm512_unpacklo_epi16(d[0], d[1]), _mm512_unpacklo_epi16(d[2], d[3]), _mm512_unpacklo_epi16(d[4], zero));
            let hi = sum(_mm512_unpackhi_epi16(d[0], d[1]), _mm512_unpackhi_epi16(d[2], d[3]), _mm512_unpackhi_epi16(d[4], zero));
            let (first, second) = columns_of_unpacked(lo, hi);
            store512(out, j, first);
            store512(out, j + 16, second);
            j += 32;
        }
        w32
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn horizontal_sad(row: &[i32], width: usize) -> (u32, usize) {
        let width = width.min(row.len().saturating_sub(4));
        let coeff = MOTION_FILTER.map(|c| _mm512_set1_epi32(c));
        let low8 = _mm512_set1_epi32(255);
        let half_unit = _mm512_set1_epi32(32768);
        let mut sums = _mm512_setzero_si512();
        let mut j = 0;
        while j + 16 <= width {
            let (mut high, mut low) = (_mm512_setzero_si512(), _mm512_setzero_si512());
            for (k, c) in coeff.iter().enumerate() {
                let v = load512(row, j + k);
                high = _mm512_add_epi32(high, _mm512_mullo_epi32(_mm512_srai_epi32::<8>(v), *c));
                low = _mm512_add_epi32(low, _mm512_mullo_epi32(_mm512_and_si512(v, low8), *c));
            }
            let low = _mm512_srli_epi32::<8>(_mm512_add_epi32(low, half_unit));
            let blurred = _mm512_srai_epi32::<8>(_mm512_add_epi32(high, low));
            sums = _mm512_add_epi32(sums, _mm512_abs_epi32(blurred));
            j += 16;
        }
        // The lanes' sum wraps in u32 like the scalar's (the sum of i32 lanes, mod 2^32).
        (_mm512_reduce_add_epi32(sums) as u32, j)
    }
}
