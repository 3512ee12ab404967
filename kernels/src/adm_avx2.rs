//! Hand-written AVX2 versions of ADM's hot loops, bit-exact with the scalar code in
//! [`crate::adm`].
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`dwt0_vertical`] | 8-bit scale 0: the vertical low/high-pass of 16 columns | `vpmaddwd` on interleaved pairs of rows; every sum fits `i32` (≤ 50582·255); results are in `i16` range, so the saturating pack truncates nothing |
//! | [`dwt0_horizontal`] | scale 0, every depth: the horizontal pass + decimation of 16 outputs | `vpmaddwd` on the `i16` row read at `2j−1` and `2j+1` pairs the taps of each output; \|Σ\| ≤ 54822·32768 < 2³¹ for any `i16` input, as in the scalar's wrapping `i32` |
//!
//! Each returns how far it got (columns or outputs), and the scalar code finishes the row;
//! below [`SimdLevel::Avx2`] they do nothing. `tests/simd_and_threads.rs` compares the
//! whole ADM on random frames of odd sizes with the scalar build.

use crate::sample::Sample;
use crate::simd_level::SimdLevel;

/// The vertical pass of scale 0 for the leading columns of 4 source rows into the `i16`
/// rows `lo`/`hi`; returns how many columns it did (a multiple of 16; 0 = none).
pub(crate) fn dwt0_vertical<T: Sample>(rows: [&[T]; 4], shift: u32, lo: &mut [i16], hi: &mut [i16], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        let [r0, r1, r2, r3] = rows.map(T::as_u8);
        if let (Some(r0), Some(r1), Some(r2), Some(r3)) = (r0, r1, r2, r3) {
            // SAFETY: AVX2 is present (checked just above), the one requirement of a
            // `#[target_feature(enable = "avx2")]` function.
            return unsafe { x86::dwt0_vertical_u8([r0, r1, r2, r3], shift, lo, hi) };
        }
    }
    let _ = (rows, shift, lo, hi, simd);
    0
}

/// The horizontal pass of scale 0 for outputs `1..` up to `last` (inclusive), the ones
/// whose taps need no mirroring; returns the first output it did not do.
pub(crate) fn dwt0_horizontal(lo: &[i16], hi: &[i16], last: usize, out: [&mut [i16]; 4], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { x86::dwt0_horizontal(lo, hi, last, out) };
    }
    let _ = (lo, hi, last, out, simd);
    1
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::adm::{DWT_HI, DWT_LO, DWT_LO_SUM};

    /// Two 16-bit coefficients `(c0, c1)` repeated, for `vpmaddwd` on pairs `(x0, x1)`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pair(c0: i32, c1: i32) -> __m256i {
        _mm256_set1_epi32((c1 << 16) | (c0 & 0xFFFF))
    }

    /// Loads 16 `u8` from `s[i..i + 16]` widened to `i16` lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load16_u8(s: &[u8], i: usize) -> __m256i {
        let s = &s[i..i + 16];
        // SAFETY: `s` holds exactly 16 readable bytes; unaligned load.
        _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(s.as_ptr().cast()) })
    }

    /// Loads 16 `i16` from `s[i..i + 16]`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load16(s: &[i16], i: usize) -> __m256i {
        let s = &s[i..i + 16];
        // SAFETY: `s` holds exactly 16 readable i16 (32 bytes); unaligned load.
        unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store16(s: &mut [i16], i: usize, v: __m256i) {
        let s = &mut s[i..i + 16];
        // SAFETY: `s` holds exactly 16 writable i16 (32 bytes); unaligned store.
        unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt0_vertical_u8(rows: [&[u8]; 4], shift: u32, lo: &mut [i16], hi: &mut [i16]) -> usize {
        let w = lo.len().min(hi.len()).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
        let round = 1i32 << (shift - 1);
        // `(Σ − sum·round + round) >> shift` with the two constants folded together.
        let lo_add = _mm256_set1_epi32(round - DWT_LO_SUM * round);
        let hi_add = _mm256_set1_epi32(round);
        let count = _mm_cvtsi32_si128(shift as i32);
        let (lo01, lo23) = (pair(DWT_LO[0], DWT_LO[1]), pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (pair(DWT_HI[0], DWT_HI[1]), pair(DWT_HI[2], DWT_HI[3]));
        let w16 = w / 16 * 16;
        let mut j = 0;
        while j < w16 {
            let [s0, s1, s2, s3] = rows.map(|r| load16_u8(r, j));
            // Lanes of the `lo` halves hold columns [0..4, 8..12], the `hi` halves
            // [4..8, 12..16]; `packs` of the two restores the column order.
            let (p01l, p01h) = (_mm256_unpacklo_epi16(s0, s1), _mm256_unpackhi_epi16(s0, s1));
            let (p23l, p23h) = (_mm256_unpacklo_epi16(s2, s3), _mm256_unpackhi_epi16(s2, s3));
            let filt = |c01: __m256i, c23: __m256i, add: __m256i| {
                let l = _mm256_add_epi32(_mm256_madd_epi16(p01l, c01), _mm256_madd_epi16(p23l, c23));
                let h = _mm256_add_epi32(_mm256_madd_epi16(p01h, c01), _mm256_madd_epi16(p23h, c23));
                let l = _mm256_sra_epi32(_mm256_add_epi32(l, add), count);
                let h = _mm256_sra_epi32(_mm256_add_epi32(h, add), count);
                _mm256_packs_epi32(l, h)
            };
            store16(lo, j, filt(lo01, lo23, lo_add));
            store16(hi, j, filt(hi01, hi23, hi_add));
            j += 16;
        }
        w16
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt0_horizontal(lo: &[i16], hi: &[i16], last: usize, out: [&mut [i16]; 4]) -> usize {
        let [a, v, h, d] = out;
        let (lo01, lo23) = (pair(DWT_LO[0], DWT_LO[1]), pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (pair(DWT_HI[0], DWT_HI[1]), pair(DWT_HI[2], DWT_HI[3]));
        let round = _mm256_set1_epi32(32768);
        let mut j = 1;
        // Outputs j..j+16 read the source at 2j−1 ..= 2j+32.
        while j + 15 <= last {
            let b = 2 * j - 1;
            // Lane m of a `vpmaddwd` over the row from `b` pairs (2m, 2m+1): taps 0–1 of
            // output j+m; from `b + 2`, taps 2–3.
            let filt = |src: &[i16], c01: __m256i, c23: __m256i| {
                let half = |o: usize| {
                    let x = _mm256_madd_epi16(load16(src, o), c01);
                    let y = _mm256_madd_epi16(load16(src, o + 2), c23);
                    _mm256_srai_epi32::<16>(_mm256_add_epi32(_mm256_add_epi32(x, y), round))
                };
                let packed = _mm256_packs_epi32(half(b), half(b + 16));
                _mm256_permute4x64_epi64::<0b11_01_10_00>(packed)
            };
            store16(a, j, filt(lo, lo01, lo23));
            store16(v, j, filt(lo, hi01, hi23));
            store16(h, j, filt(hi, lo01, lo23));
            store16(d, j, filt(hi, hi01, hi23));
            j += 16;
        }
        j
    }
}
