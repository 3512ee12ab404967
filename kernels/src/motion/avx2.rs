//! Hand-written AVX2 versions of the motion blur's row loops, bit-exact with the scalar
//! code in [`crate::motion`]; 8-bit samples only (other depths take the scalar loops
//! compiled with AVX2).
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`vertical_row`] | the 5-tap vertical blur of the frame difference, 16 columns at a time | differences in `i16`, `vpmaddwd` on pairs of rows; \|Σ\| ≤ 65536·255 fits `i32` |
//! | [`horizontal_sad`] | the 5-tap horizontal blur of a padded row and its absolute sum, 8 at a time | each value `v` (\|v\| ≤ 65536) split as `256·⌊v/256⌋ + (v mod 256)`, both sums of products fit `i32`, and `(256A + B + 2¹⁵) >> 16 = (A + ((B + 2¹⁵) >> 8)) >> 8`; the sum of absolute values wraps in `u32` like the scalar's |
//!
//! `tests/simd_and_threads.rs` compares the whole SAD with the scalar build on random
//! frames of odd sizes.

use crate::motion::MOTION_FILTER;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The vertical blur of `previous − current` over 5 rows each (8-bit) into the leading
/// columns of `out`, `(Σ + round) >> shift`; returns how many columns it did.
pub(crate) fn vertical_row<T: Sample>(previous: [&[T]; 5], current: [&[T]; 5], shift: u32, out: &mut [i32], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx2) && shift == 8 {
        let (p, c) = (previous.map(T::as_u8), current.map(T::as_u8));
        if let (Some(p), Some(c)) = (collect(p), collect(c)) {
            // SAFETY: the CPU has AVX2 (checked by `permits`), the one requirement of a
            // `#[target_feature(enable = "avx2")]` function.
            return unsafe { x86::vertical_row_u8(p, c, out) };
        }
    }
    let _ = (previous, current, shift, out, simd);
    0
}

/// `[Option<&[u8]>; 5]` → `Option<[&[u8]; 5]>`.
pub(super) fn collect(rows: [Option<&[u8]>; 5]) -> Option<[&[u8]; 5]> {
    let [a, b, c, d, e] = rows;
    Some([a?, b?, c?, d?, e?])
}

/// The horizontal blur of `row` (the `width` values at `row[2..]`, mirrored into 2 entries
/// on each side) and the wrapping sum of its absolute values over the leading outputs;
/// returns `(sum, outputs done)`. Only for values of 8-bit frames (\|v\| ≤ 65536).
pub(crate) fn horizontal_sad(row: &[i32], width: usize, eight_bit: bool, simd: SimdLevel) -> (u32, usize) {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx2) && eight_bit {
        // SAFETY: the CPU has AVX2 (checked by `permits`).
        return unsafe { x86::horizontal_sad(row, width) };
    }
    let _ = (row, width, eight_bit, simd, MOTION_FILTER);
    (0, 0)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::MOTION_FILTER;
    use crate::simd::avx2::{coefficient_pair, load16_u8_widened, load256, store256};

    #[target_feature(enable = "avx2")]
    pub(super) fn vertical_row_u8(previous: [&[u8]; 5], current: [&[u8]; 5], out: &mut [i32]) -> usize {
        let w = previous.iter().chain(&current).map(|r| r.len()).min().unwrap_or(0).min(out.len());
        let c = MOTION_FILTER;
        let (c01, c23, c4) = (coefficient_pair(c[0], c[1]), coefficient_pair(c[2], c[3]), coefficient_pair(c[4], 0));
        let round = _mm256_set1_epi32(128);
        let zero = _mm256_setzero_si256();
        let w16 = w / 16 * 16;
        let mut j = 0;
        while j < w16 {
            let d: [__m256i; 5] =
                std::array::from_fn(|k| _mm256_sub_epi16(load16_u8_widened(previous[k], j), load16_u8_widened(current[k], j)));
            // Lanes of `lo` hold columns [0..4, 8..12], of `hi` [4..8, 12..16].
            let sum = |p01: __m256i, p23: __m256i, p4: __m256i| {
                let s = _mm256_add_epi32(_mm256_madd_epi16(p01, c01), _mm256_madd_epi16(p23, c23));
                let s = _mm256_add_epi32(s, _mm256_madd_epi16(p4, c4));
                _mm256_srai_epi32::<8>(_mm256_add_epi32(s, round))
            };
            let lo = sum(
                _mm256_unpacklo_epi16(d[0], d[1]),
                _mm256_unpacklo_epi16(d[2], d[3]),
                _mm256_unpacklo_epi16(d[4], zero),
            );
            let hi = sum(
                _mm256_unpackhi_epi16(d[0], d[1]),
                _mm256_unpackhi_epi16(d[2], d[3]),
                _mm256_unpackhi_epi16(d[4], zero),
            );
            store256(out, j, _mm256_permute2x128_si256::<0x20>(lo, hi));
            store256(out, j + 8, _mm256_permute2x128_si256::<0x31>(lo, hi));
            j += 16;
        }
        w16
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn horizontal_sad(row: &[i32], width: usize) -> (u32, usize) {
        let width = width.min(row.len().saturating_sub(4));
        let coeff = MOTION_FILTER.map(|c| _mm256_set1_epi32(c));
        let low8 = _mm256_set1_epi32(255);
        let half_unit = _mm256_set1_epi32(32768);
        let mut sums = _mm256_setzero_si256();
        let mut j = 0;
        while j + 8 <= width {
            let (mut high, mut low) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for (k, c) in coeff.iter().enumerate() {
                let v = load256(row, j + k);
                high = _mm256_add_epi32(high, _mm256_mullo_epi32(_mm256_srai_epi32::<8>(v), *c));
                low = _mm256_add_epi32(low, _mm256_mullo_epi32(_mm256_and_si256(v, low8), *c));
            }
            let low = _mm256_srli_epi32::<8>(_mm256_add_epi32(low, half_unit));
            let blurred = _mm256_srai_epi32::<8>(_mm256_add_epi32(high, low));
            sums = _mm256_add_epi32(sums, _mm256_abs_epi32(blurred));
            j += 8;
        }
        let mut lanes = [0u32; 8];
        store256(&mut lanes, 0, sums);
        (lanes.iter().fold(0u32, |a, &b| a.wrapping_add(b)), j)
    }
}
