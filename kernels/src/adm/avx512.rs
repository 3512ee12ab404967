//! Hand-written AVX-512 versions of ADM's scale-0 DWT row loops, bit-exact with the
//! scalar code in [`super::dwt`]: [`super::avx2`]'s arithmetic on 512-bit registers.
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`dwt0_vertical`] | 8-bit scale 0: the vertical low/high-pass of 32 columns | `vpmaddwd` on interleaved pairs of rows (sums ≤ 50582·255 fit `i32`); `vpackssdw` of the unpacked halves restores the column order within each 128-bit lane |
//! | [`dwt0_horizontal`] | scale 0, every depth: the horizontal pass + decimation of 32 outputs | `vpmaddwd` on the `i16` row at `2j−1` and `2j+1`; \|Σ\| < 2³¹ for any `i16` input; `vpermq` puts the packed halves in order |
//!
//! Each returns how far it got and leaves the rest to the scalar code; below
//! [`SimdLevel::Avx512`] they do nothing. `tests/simd_and_threads.rs` compares the whole
//! ADM at every level with the scalar build.

use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The vertical pass of scale 0 for the leading columns of 4 source rows into the `i16`
/// rows `lo`/`hi`; returns how many columns it did (a multiple of 32; 0 = none).
pub(crate) fn dwt0_vertical<T: Sample>(rows: [&[T]; 4], shift: u32, lo: &mut [i16], hi: &mut [i16], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        let [r0, r1, r2, r3] = rows.map(T::as_u8);
        if let (Some(r0), Some(r1), Some(r2), Some(r3)) = (r0, r1, r2, r3) {
            // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`), the one
            // requirement of the `#[target_feature]` function.
            return unsafe { x86::dwt0_vertical_u8([r0, r1, r2, r3], shift, lo, hi) };
        }
    }
    let _ = (rows, shift, lo, hi, simd);
    0
}

/// The horizontal pass of scale 0 for outputs `1..` up to `last` (inclusive), the ones
/// whose taps need no mirroring; returns the first output it did not do (1 = none).
pub(crate) fn dwt0_horizontal(lo: &[i16], hi: &[i16], last: usize, out: [&mut [i16]; 4], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`).
        return unsafe { x86::dwt0_horizontal(lo, hi, last, out) };
    }
    let _ = (lo, hi, last, out, simd);
    1
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::adm::dwt::{DWT_HI, DWT_LO, DWT_LO_SUM};
    use crate::simd::avx512::{load32_u8_widened, load512, store512};

    /// Two 16-bit coefficients `(c0, c1)` repeated, for `vpmaddwd` on pairs `(x0, x1)`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn coefficient_pair(c0: i32, c1: i32) -> __m512i {
        _mm512_set1_epi32((c1 << 16) | (c0 & 0xFFFF))
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn dwt0_vertical_u8(rows: [&[u8]; 4], shift: u32, lo: &mut [i16], hi: &mut [i16]) -> usize {
        let w = lo.len().min(hi.len()).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
        let round = 1i32 << (shift - 1);
        // `(Σ − sum·round + round) >> shift` with the two constants folded together.
        let lo_add = _mm512_set1_epi32(round - DWT_LO_SUM * round);
        let hi_add = _mm512_set1_epi32(round);
        let count = _mm_cvtsi32_si128(shift as i32);
        let (lo01, lo23) = (coefficient_pair(DWT_LO[0], DWT_LO[1]), coefficient_pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (coefficient_pair(DWT_HI[0], DWT_HI[1]), coefficient_pair(DWT_HI[2], DWT_HI[3]));
        let w32 = w / 32 * 32;
        let mut j = 0;
        while j < w32 {
            let [r0, r1, r2, r3] = rows;
            let (s0, s1) = (load32_u8_widened(r0, j), load32_u8_widened(r1, j));
            let (s2, s3) = (load32_u8_widened(r2, j), load32_u8_widened(r3, j));
            let (p01l, p01h) = (_mm512_unpacklo_epi16(s0, s1), _mm512_unpackhi_epi16(s0, s1));
            let (p23l, p23h) = (_mm512_unpacklo_epi16(s2, s3), _mm512_unpackhi_epi16(s2, s3));
            let filt = |c01: __m512i, c23: __m512i, add: __m512i| {
                let l = _mm512_add_epi32(_mm512_madd_epi16(p01l, c01), _mm512_madd_epi16(p23l, c23));
                let h = _mm512_add_epi32(_mm512_madd_epi16(p01h, c01), _mm512_madd_epi16(p23h, c23));
                let l = _mm512_sra_epi32(_mm512_add_epi32(l, add), count);
                let h = _mm512_sra_epi32(_mm512_add_epi32(h, add), count);
                _mm512_packs_epi32(l, h)
            };
            store512(lo, j, filt(lo01, lo23, lo_add));
            store512(hi, j, filt(hi01, hi23, hi_add));
            j += 32;
        }
        w32
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn dwt0_horizontal(lo: &[i16], hi: &[i16], last: usize, out: [&mut [i16]; 4]) -> usize {
        let [a, v, h, d] = out;
        let (lo01, lo23) = (coefficient_pair(DWT_LO[0], DWT_LO[1]), coefficient_pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (coefficient_pair(DWT_HI[0], DWT_HI[1]), coefficient_pair(DWT_HI[2], DWT_HI[3]));
        let round = _mm512_set1_epi32(32768);
        // The packed halves hold, per 128-bit lane L, outputs 4L..4L+4 of each half.
        let order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
        let mut j = 1;
        // Outputs j..j+32 read the source at 2j−1 ..= 2j+64.
        while j + 31 <= last {
            let b = 2 * j - 1;
            let filt = |src: &[i16], c01: __m512i, c23: __m512i| {
                let half = |o: usize| {
                    let x = _mm512_madd_epi16(load512(src, o), c01);
                    let y = _mm512_madd_epi16(load512(src, o + 2), c23);
                    _mm512_srai_epi32::<16>(_mm512_add_epi32(_mm512_add_epi32(x, y), round))
                };
                _mm512_permutexvar_epi64(order, _mm512_packs_epi32(half(b), half(b + 32)))
            };
            store512(a, j, filt(lo, lo01, lo23));
            store512(v, j, filt(lo, hi01, hi23));
            store512(h, j, filt(hi, lo01, lo23));
            store512(d, j, filt(hi, hi01, hi23));
            j += 32;
        }
        j
    }
}
