//! The AVX2 loads, stores and constants that the VIF, ADM and motion kernels share
//! (rav1e's `asm/shared` is the model).
//!
//! Each helper reads or writes a bounds-checked sub-slice (a slice too short panics, it
//! never reads past its end) with unaligned instructions, and is inlined into its
//! `#[target_feature(enable = "avx2")]` caller, so it costs what the bare intrinsic does.

use std::arch::x86_64::*;

/// Integer element types that vector registers are loaded from and stored to: every bit
/// pattern of their size is a valid value, so any 16 or 32 of their bytes make a register
/// and any register's bytes make valid elements.
pub(crate) trait VectorElement: Copy {}

impl VectorElement for i16 {}
impl VectorElement for u16 {}
impl VectorElement for i32 {}
impl VectorElement for u32 {}
impl VectorElement for i64 {}

/// Loads the 32 bytes of `s[i..]` (8 `i32`/`u32` or 16 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn load256<T: VectorElement>(s: &[T], i: usize) -> __m256i {
    let s = &s[i..i + 32 / size_of::<T>()];
    // SAFETY: `s` holds exactly 32 readable bytes of plain integers; unaligned load.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Stores `v` into the 32 bytes of `s[i..]` (8 `i32`/`u32` or 16 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn store256<T: VectorElement>(s: &mut [T], i: usize, v: __m256i) {
    let s = &mut s[i..i + 32 / size_of::<T>()];
    // SAFETY: `s` holds exactly 32 writable bytes of plain integers; unaligned store.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

/// Loads the 16 bytes of `s[i..]` (8 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn load128<T: VectorElement>(s: &[T], i: usize) -> __m128i {
    let s = &s[i..i + 16 / size_of::<T>()];
    // SAFETY: `s` holds exactly 16 readable bytes of plain integers; unaligned load.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// Stores `v` into the 16 bytes of `s[i..]` (8 `i16`/`u16`).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn store128<T: VectorElement>(s: &mut [T], i: usize, v: __m128i) {
    let s = &mut s[i..i + 16 / size_of::<T>()];
    // SAFETY: `s` holds exactly 16 writable bytes of plain integers; unaligned store.
    unsafe { _mm_storeu_si128(s.as_mut_ptr().cast(), v) }
}

/// Loads the 16 `u8` of `s[i..i + 16]` zero-extended to 16-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn load16_u8_widened(s: &[u8], i: usize) -> __m256i {
    let s = &s[i..i + 16];
    // SAFETY: `s` holds exactly 16 readable bytes; unaligned load.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(s.as_ptr().cast()) })
}

/// Two 16-bit coefficients `(c0, c1)` repeated, for `vpmaddwd` on pairs `(x0, x1)`.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn coefficient_pair(c0: i32, c1: i32) -> __m256i {
    _mm256_set1_epi32((c1 << 16) | (c0 & 0xFFFF))
}
