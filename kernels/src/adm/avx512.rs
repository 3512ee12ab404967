//! Hand-written AVX-512 versions of ADM's DWT row loops and of scale 0's decoupling, bit-exact
//! with the scalar code in [`super::dwt`] and [`super::decouple`]: [`super::avx2`]'s
//! arithmetic on 512-bit registers.
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`dwt0_vertical`] | 8-bit scale 0: the vertical low/high-pass of 32 columns | `vpmaddwd` on interleaved pairs of rows (sums ≤ 50582·255 fit `i32`); `vpackssdw` of the unpacked halves restores the column order within each 128-bit lane |
//! | [`dwt0_horizontal`] | scale 0, every depth: the horizontal pass + decimation of 32 outputs | `vpmaddwd` on the `i16` row at `2j−1` and `2j+1`; \|Σ\| < 2³¹ for any `i16` input; `vpermq` puts the packed halves in order |
//! | [`dwt_s123_vertical`] | scales 1–3: the vertical low/high-pass of 16 `i32` columns | `vpmuldq` products summed in `i64` lanes (even and odd columns apart), rounded and shifted as the scalar `i64` code, interleaved back with a masked blend |
//! | [`dwt_s123_horizontal`] | scales 1–3: the horizontal pass + decimation of 16 outputs | taps from the even and odd `i32` lanes of the rows at `2j−1` and `2j+1`, summed in `i64` as the vertical pass; `vpermd` restores the order the interleave leaves |
//! | [`decouple0`] | scale 0's decoupling of 16 pixels of the three bands | [`super::avx2`]'s arithmetic: the angle test in `f64` lanes (each dot product rounded once to `f32`, no fused multiply-add), the reciprocal gathered from the table, `i64` products; mask registers in place of blend masks; `vpmovsdw` saturates as `packssdw` does |
//!
//! Each returns how far it got and leaves the rest to the scalar code (the horizontal pass
//! of scales 1–3 to the AVX2 one, then scalar); below
//! [`SimdLevel::Avx512`] they do nothing. `tests/simd_and_threads.rs` compares the whole
//! ADM at every level with the scalar build.

use super::dwt::DwtRounding;
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

/// The vertical pass of scales 1–3 for the leading columns of 4 rows; returns how many
/// columns it did (a multiple of 16; 0 = none).
pub(crate) fn dwt_s123_vertical(rows: [&[i32]; 4], rounding: DwtRounding, lo: &mut [i32], hi: &mut [i32], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) && rounding.shift < 32 {
        // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`).
        return unsafe { x86::dwt_s123_vertical(rows, rounding, lo, hi) };
    }
    let _ = (rows, rounding, lo, hi, simd);
    0
}

/// Decoupling of the leading pixels of one row of scale 0 (`adm_decouple`), as
/// [`super::avx2::decouple0`]; returns how many pixels it did (a multiple of 16; 0 = none).
pub(crate) fn decouple0(
    o: [&[i16]; 3],
    t: [&[i16]; 3],
    r: [&mut [i16]; 3],
    a: [&mut [i16]; 3],
    lookup: &[i32; 65537],
    cos_sq: f32,
    simd: SimdLevel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`).
        return unsafe { x86::decouple0(o, t, r, a, lookup, cos_sq) };
    }
    let _ = (o, t, r, a, lookup, cos_sq, simd);
    0
}

/// The horizontal pass of scales 1–3 for outputs `1..` up to `last` (inclusive, no
/// mirroring); returns the first output it did not do (1 = none).
pub(crate) fn dwt_s123_horizontal(lo: &[i32], hi: &[i32], last: usize, rounding: DwtRounding, out: [&mut [i32]; 4], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) && rounding.shift < 32 {
        // SAFETY: the CPU has AVX-512 F and BW (checked by `permits`).
        return unsafe { x86::dwt_s123_horizontal(lo, hi, last, rounding, out) };
    }
    let _ = (lo, hi, last, rounding, out, simd);
    1
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::DwtRounding;
    use crate::adm::dwt::{DWT_HI, DWT_LO, DWT_LO_SUM};
    use crate::simd::avx2::{load256, store256};
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

    /// `Σ c_k·x_k` of the even 32-bit lanes of `x` as `i64` lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dot4_even(x: [__m512i; 4], c: &[i32; 4]) -> __m512i {
        let p = |k: usize| _mm512_mul_epi32(x[k], _mm512_set1_epi64(i64::from(c[k])));
        _mm512_add_epi64(_mm512_add_epi64(p(0), p(1)), _mm512_add_epi64(p(2), p(3)))
    }

    /// `((even + round) >> shift, (odd + round) >> shift)` kept as `i32`, interleaved back
    /// into 32-bit lanes (even results in even lanes); with shift < 32 the low 32 bits of a
    /// logical shift are those of the arithmetic one.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round_interleave(even: __m512i, odd: __m512i, round: __m512i, count: __m128i) -> __m512i {
        let even = _mm512_srl_epi64(_mm512_add_epi64(even, round), count);
        let odd = _mm512_slli_epi64::<32>(_mm512_srl_epi64(_mm512_add_epi64(odd, round), count));
        _mm512_mask_blend_epi32(0xAAAA, even, odd)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn dwt_s123_vertical(rows: [&[i32]; 4], rounding: DwtRounding, lo: &mut [i32], hi: &mut [i32]) -> usize {
        let w = lo.len().min(hi.len()).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
        let round = _mm512_set1_epi64(rounding.round);
        let count = _mm_cvtsi32_si128(rounding.shift as i32);
        let w16 = w / 16 * 16;
        let mut j = 0;
        while j < w16 {
            let x = rows.map(|r| load512(r, j));
            let x_odd = x.map(|v| _mm512_srli_epi64::<32>(v));
            for (c, out) in [(&DWT_LO, &mut *lo), (&DWT_HI, &mut *hi)] {
                store512(out, j, round_interleave(dot4_even(x, c), dot4_even(x_odd, c), round, count));
            }
            j += 16;
        }
        w16
    }

    /// `adm::angle_flag` of 8 pixels given as `f64` lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn angle_flag8(oh: __m512d, ov: __m512d, th: __m512d, tv: __m512d, cos_sq: __m512d) -> __mmask8 {
        let q = _mm512_set1_pd(1.0 / 4096.0);
        // Exact integer sums (< 2^32), each rounded once to f32 like the scalar `i64 as f32`.
        let f32_round = |x: __m512d| _mm512_cvtps_pd(_mm512_cvtpd_ps(x));
        let dot = |a: __m512d, b: __m512d, c: __m512d, d: __m512d| f32_round(_mm512_add_pd(_mm512_mul_pd(a, b), _mm512_mul_pd(c, d)));
        let dp = _mm512_mul_pd(dot(oh, th, ov, tv), q);
        let o_mag = _mm512_mul_pd(dot(oh, oh, ov, ov), q);
        let t_mag = _mm512_mul_pd(dot(th, th, tv, tv), q);
        let non_negative = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(dp, _mm512_setzero_pd());
        let rhs = _mm512_mul_pd(_mm512_mul_pd(cos_sq, o_mag), t_mag);
        let within = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_mul_pd(dp, dp), rhs);
        non_negative & within
    }

    /// The angle flag of 16 pixels (`i16` lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn angle_flag16(oh: __m256i, ov: __m256i, th: __m256i, tv: __m256i, cos_sq: __m512d) -> __mmask16 {
        let half = |v: __m256i, upper: bool| _mm512_cvtepi32_pd(_mm256_cvtepi16_epi32(if upper { _mm256_extracti128_si256::<1>(v) } else { _mm256_castsi256_si128(v) }));
        let flags = |upper: bool| angle_flag8(half(oh, upper), half(ov, upper), half(th, upper), half(tv, upper), cos_sq);
        (u16::from(flags(true)) << 8) | u16::from(flags(false))
    }

    /// One band of 16 pixels: the restored value `r` and the impairment `a = t − r`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn decouple_band16(o16: __m256i, t16: __m256i, flag: __mmask16, lookup: &[i32; 65537]) -> (__m256i, __m256i) {
        let (o, t) = (_mm512_cvtepi16_epi32(o16), _mm512_cvtepi16_epi32(t16));
        let idx = _mm512_add_epi32(o, _mm512_set1_epi32(32768));
        // SAFETY: idx = o + 32768 is in 0..=65535 for i16 o, inside the 65537-entry table.
        let recip = unsafe { _mm512_i32gather_epi32::<4>(idx, lookup.as_ptr().cast()) };
        // (recip·t + 16384) >> 15 in i64; |recip·t| ≤ 2^45, so the quotient fits in i32
        // and its low 32 bits (all a logical shift keeps right) are the whole of it.
        let round = _mm512_set1_epi64(16384);
        let even = _mm512_add_epi64(_mm512_mul_epi32(recip, t), round);
        let odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64::<32>(recip), _mm512_srli_epi64::<32>(t)), round);
        let tmp_k = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<15>(even), _mm512_slli_epi64::<17>(odd));
        let zero = _mm512_setzero_si512();
        let one = _mm512_set1_epi32(32768);
        let tmp_k = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(o, zero), tmp_k, one);
        let k = _mm512_min_epi32(_mm512_max_epi32(tmp_k, zero), one);
        let rst = _mm512_srai_epi32::<15>(_mm512_add_epi32(_mm512_mullo_epi32(k, o), _mm512_set1_epi32(16384)));
        let k_pos = _mm512_cmpgt_epi32_mask(k, zero) & flag;
        let positive = k_pos & _mm512_cmpgt_epi32_mask(o, zero);
        let negative = k_pos & _mm512_cmpgt_epi32_mask(zero, o);
        let gained = _mm512_mullo_epi32(rst, _mm512_set1_epi32(100));
        let rst = _mm512_mask_blend_epi32(positive, rst, _mm512_min_epi32(gained, t));
        let rst = _mm512_mask_blend_epi32(negative, rst, _mm512_max_epi32(gained, t));
        let rst = _mm512_cvtsepi32_epi16(rst);
        (rst, _mm256_sub_epi16(t16, rst))
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn decouple0(
        o: [&[i16]; 3],
        t: [&[i16]; 3],
        r: [&mut [i16]; 3],
        a: [&mut [i16]; 3],
        lookup: &[i32; 65537],
        cos_sq: f32,
    ) -> usize {
        let n = o.iter().chain(&t).map(|b| b.len()).chain(r.iter().chain(&a).map(|b| b.len())).min().unwrap_or(0);
        let cos_sq = _mm512_set1_pd(f64::from(cos_sq));
        let mut j = 0;
        while j + 16 <= n {
            let ov = o.map(|b| load256(b, j));
            let tv = t.map(|b| load256(b, j));
            let flag = angle_flag16(ov[0], ov[1], tv[0], tv[1], cos_sq);
            for band in 0..3 {
                let (rst, imp) = decouple_band16(ov[band], tv[band], flag, lookup);
                store256(r[band], j, rst);
                store256(a[band], j, imp);
            }
            j += 16;
        }
        j
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn dwt_s123_horizontal(lo: &[i32], hi: &[i32], last: usize, rounding: DwtRounding, out: [&mut [i32]; 4]) -> usize {
        let [a, v, h, d] = out;
        let round = _mm512_set1_epi64(rounding.round);
        let count = _mm_cvtsi32_si128(rounding.shift as i32);
        // `round_interleave` of outputs j..j+8 and j+8..j+16 holds them in the order
        // [j, j+8, j+1, j+9, …]; this permutation restores [j, j+1, …].
        let order = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
        let mut j = 1;
        // Outputs j..j+16 read the source at 2j−1 ..= 2j+32.
        while j + 15 <= last {
            let b = 2 * j - 1;
            // Even lanes of the row from b: tap 0 of outputs j..j+8, odd lanes tap 1; from
            // b + 2 taps 2 and 3. From b + 16 and b + 18 the same for outputs j+8..j+16.
            let filt = |src: &[i32], c: &[i32; 4]| {
                let half = |o: usize| {
                    let (x, y) = (load512(src, o), load512(src, o + 2));
                    dot4_even([x, _mm512_srli_epi64::<32>(x), y, _mm512_srli_epi64::<32>(y)], c)
                };
                _mm512_permutexvar_epi32(order, round_interleave(half(b), half(b + 16), round, count))
            };
            store512(a, j, filt(lo, &DWT_LO));
            store512(v, j, filt(lo, &DWT_HI));
            store512(h, j, filt(hi, &DWT_LO));
            store512(d, j, filt(hi, &DWT_HI));
            j += 16;
        }
        j
    }
}
