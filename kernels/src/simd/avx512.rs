//! The AVX-512 loads, stores and constants that the VIF, ADM and motion kernels share,
//! the 512-bit twins of [`super::avx2`]'s.
//!
//! Each helper reads or writes a bounds-checked sub-slice (a slice too short panics, it
//! never reads past its end) with unaligned instructions, and is inlined into its
//! `#[target_feature(enable = "avx512f,avx512bw")]` caller.

use std::arch::x86_64::*;

use super::avx2::VectorElement;

/// Loads the 64 bytes of `s[i..]` (16 `i32`/`u32` or 32 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn load512<T: VectorElement>(s: &[T], i: usize) -> __m512i {
    let s = &s[i..i + 64 / size_of::<T>()];
    // SAFETY: `s` holds exactly 64 readable bytes of plain integers; unaligned load.
    unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
}

/// Stores `v` into the 64 bytes of `s[i..]` (16 `i32`/`u32` or 32 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn store512<T: VectorElement>(s: &mut [T], i: usize, v: __m512i) {
    let s = &mut s[i..i + 64 / size_of::<T>()];
    // SAFETY: `s` holds exactly 64 writable bytes of plain integers; unaligned store.
    unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v) }
}

/// Loads the 32 `u8` of `s[i..i + 32]` zero-extended to 16-bit lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn load32_u8_widened(s: &[u8], i: usize) -> __m512i {
    let s = &s[i..i + 32];
    // SAFETY: `s` holds exactly 32 readable bytes; unaligned load.
    _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
}

/// Puts the 32-bit results of `vpmaddwd` on `vpunpck{l,h}wd` halves back in column order:
/// `lo` holds columns [0..4, 8..12, 16..20, 24..28] and `hi` [4..8, 12..16, 20..24, 28..32];
/// returns columns 0..16 and 16..32.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn columns_of_unpacked(lo: __m512i, hi: __m512i) -> (__m512i, __m512i) {
    let first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    let second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    (_mm512_permutex2var_epi32(lo, first, hi), _mm512_permutex2var_epi32(lo, second, hi))
}
