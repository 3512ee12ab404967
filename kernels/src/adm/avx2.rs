//! Hand-written AVX2 versions of ADM's hot loops, bit-exact with the scalar code in
//! [`super::dwt`] and [`super::decouple`].
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`dwt0_vertical`] | 8-bit scale 0: the vertical low/high-pass of 16 columns | `vpmaddwd` on interleaved pairs of rows; every sum fits `i32` (≤ 50582·255); results are in `i16` range, so the saturating pack truncates nothing |
//! | [`dwt0_horizontal`] | scale 0, every depth: the horizontal pass + decimation of 16 outputs | `vpmaddwd` on the `i16` row read at `2j−1` and `2j+1` pairs the taps of each output; \|Σ\| ≤ 54822·32768 < 2³¹ for any `i16` input, as in the scalar's wrapping `i32` |
//! | [`decouple0`] | scale 0: decoupling of 8 pixels of the three detail bands | the angle test in `f64` lanes (products exact, each sum rounded once to `f32` as the scalar's `i64 as f32`); `2³⁰/o · t` as `i64` products (`vpmuldq`), of which the low 32 bits after `>> 15` are the exact quotient; the gain limit as integer min/max (the scalar's `f64` values are integers) |
//! | [`dwt_s123_vertical`], [`dwt_s123_horizontal`] | scales 1–3: both passes on `i32` rows, 8 columns or outputs at a time | products in `i64` lanes (`vpmuldq` on even and odd lanes); `(Σ + round) >> shift` kept as `i32` is bits `shift..shift+32` of the sum, which a logical shift gives as well as the scalar's arithmetic one |
//!
//! Each returns how far it got (columns or outputs), and the scalar code finishes the row
//! (the horizontal pass of scales 1–3 starts where [`super::avx512`]'s stopped, `from`);
//! below [`SimdLevel::Avx2`] they do nothing. `tests/simd_and_threads.rs` compares the
//! whole ADM on random frames of odd sizes with the scalar build.

use super::dwt::DwtRounding;
use crate::sample::Sample;
use crate::simd::SimdLevel;

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

/// Decoupling of the leading pixels of one row of scale 0 (`adm_decouple`): `o`, `t` are
/// the reference and distorted H, V, D bands, `r` and `a` the outputs; returns how many
/// pixels it did (a multiple of 8; 0 = none).
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
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { x86::decouple0(o, t, r, a, lookup, cos_sq) };
    }
    let _ = (o, t, r, a, lookup, cos_sq, simd);
    0
}

/// The vertical pass of scales 1–3 for the leading columns of 4 rows; returns how many
/// columns it did (a multiple of 8; 0 = none).
pub(crate) fn dwt_s123_vertical(rows: [&[i32]; 4], rounding: DwtRounding, lo: &mut [i32], hi: &mut [i32], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") && rounding.shift < 32 {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { x86::dwt_s123_vertical(rows, rounding, lo, hi) };
    }
    let _ = (rows, rounding, lo, hi, simd);
    0
}

/// The horizontal pass of scales 1–3 for outputs `from..=last` (no mirroring; `from` ≥ 1);
/// returns the first output it did not do.
pub(crate) fn dwt_s123_horizontal(
    lo: &[i32],
    hi: &[i32],
    from: usize,
    last: usize,
    rounding: DwtRounding,
    out: [&mut [i32]; 4],
    simd: SimdLevel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") && rounding.shift < 32 {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { x86::dwt_s123_horizontal(lo, hi, from, last, rounding, out) };
    }
    let _ = (lo, hi, last, rounding, out, simd);
    from
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::DwtRounding;
    use crate::adm::dwt::{DWT_HI, DWT_LO, DWT_LO_SUM};
    use crate::simd::avx2::{coefficient_pair, load16_u8_widened, load128, load256, store128, store256};

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt0_vertical_u8(rows: [&[u8]; 4], shift: u32, lo: &mut [i16], hi: &mut [i16]) -> usize {
        let w = lo.len().min(hi.len()).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
        let round = 1i32 << (shift - 1);
        // `(Σ − sum·round + round) >> shift` with the two constants folded together.
        let lo_add = _mm256_set1_epi32(round - DWT_LO_SUM * round);
        let hi_add = _mm256_set1_epi32(round);
        let count = _mm_cvtsi32_si128(shift as i32);
        let (lo01, lo23) = (coefficient_pair(DWT_LO[0], DWT_LO[1]), coefficient_pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (coefficient_pair(DWT_HI[0], DWT_HI[1]), coefficient_pair(DWT_HI[2], DWT_HI[3]));
        let w16 = w / 16 * 16;
        let mut j = 0;
        while j < w16 {
            let [s0, s1, s2, s3] = rows.map(|r| load16_u8_widened(r, j));
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
            store256(lo, j, filt(lo01, lo23, lo_add));
            store256(hi, j, filt(hi01, hi23, hi_add));
            j += 16;
        }
        w16
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt0_horizontal(lo: &[i16], hi: &[i16], last: usize, out: [&mut [i16]; 4]) -> usize {
        let [a, v, h, d] = out;
        let (lo01, lo23) = (coefficient_pair(DWT_LO[0], DWT_LO[1]), coefficient_pair(DWT_LO[2], DWT_LO[3]));
        let (hi01, hi23) = (coefficient_pair(DWT_HI[0], DWT_HI[1]), coefficient_pair(DWT_HI[2], DWT_HI[3]));
        let round = _mm256_set1_epi32(32768);
        let mut j = 1;
        // Outputs j..j+16 read the source at 2j−1 ..= 2j+32.
        while j + 15 <= last {
            let b = 2 * j - 1;
            // Lane m of a `vpmaddwd` over the row from `b` pairs (2m, 2m+1): taps 0–1 of
            // output j+m; from `b + 2`, taps 2–3.
            let filt = |src: &[i16], c01: __m256i, c23: __m256i| {
                let half = |o: usize| {
                    let x = _mm256_madd_epi16(load256(src, o), c01);
                    let y = _mm256_madd_epi16(load256(src, o + 2), c23);
                    _mm256_srai_epi32::<16>(_mm256_add_epi32(_mm256_add_epi32(x, y), round))
                };
                let packed = _mm256_packs_epi32(half(b), half(b + 16));
                _mm256_permute4x64_epi64::<0b11_01_10_00>(packed)
            };
            store256(a, j, filt(lo, lo01, lo23));
            store256(v, j, filt(lo, hi01, hi23));
            store256(h, j, filt(hi, lo01, lo23));
            store256(d, j, filt(hi, hi01, hi23));
            j += 16;
        }
        j
    }

    /// 8 `i32` lanes (each in `i16` range) packed to 8 `i16`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pack8(v: __m256i) -> __m128i {
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(_mm256_packs_epi32(v, v)))
    }

    /// `adm::angle_flag` of 4 pixels given as `f64` lanes: all-ones 64-bit lanes where set.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn angle_flag4(oh: __m256d, ov: __m256d, th: __m256d, tv: __m256d, cos_sq: __m256d) -> __m256d {
        let q = _mm256_set1_pd(1.0 / 4096.0);
        // Exact integer sums (< 2^32), each rounded once to f32 like the scalar `i64 as f32`.
        let f32_round = |x: __m256d| _mm256_cvtps_pd(_mm256_cvtpd_ps(x));
        let dot = |a: __m256d, b: __m256d, c: __m256d, d: __m256d| {
            f32_round(_mm256_add_pd(_mm256_mul_pd(a, b), _mm256_mul_pd(c, d)))
        };
        let dp = _mm256_mul_pd(dot(oh, th, ov, tv), q);
        let o_mag = _mm256_mul_pd(dot(oh, oh, ov, ov), q);
        let t_mag = _mm256_mul_pd(dot(th, th, tv, tv), q);
        let non_negative = _mm256_cmp_pd::<_CMP_GE_OQ>(dp, _mm256_setzero_pd());
        let rhs = _mm256_mul_pd(_mm256_mul_pd(cos_sq, o_mag), t_mag);
        let within = _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_mul_pd(dp, dp), rhs);
        _mm256_and_pd(non_negative, within)
    }

    /// The angle flag of 8 pixels as 32-bit mask lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn angle_flag8(oh: __m128i, ov: __m128i, th: __m128i, tv: __m128i, cos_sq: __m256d) -> __m256i {
        let wide = |v: __m128i| _mm256_cvtepi16_epi32(v);
        let (oh, ov, th, tv) = (wide(oh), wide(ov), wide(th), wide(tv));
        let half = |v: __m256i, upper: bool| {
            _mm256_cvtepi32_pd(if upper { _mm256_extracti128_si256::<1>(v) } else { _mm256_castsi256_si128(v) })
        };
        let even32 = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        let mask = |upper: bool| {
            let m = angle_flag4(half(oh, upper), half(ov, upper), half(th, upper), half(tv, upper), cos_sq);
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(m), even32))
        };
        _mm256_set_m128i(mask(true), mask(false))
    }

    /// One band of 8 pixels: the restored value `r` and the impairment `a = t − r`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn decouple_band8(o16: __m128i, t16: __m128i, flag: __m256i, lookup: &[i32; 65537]) -> (__m128i, __m128i) {
        let (o, t) = (_mm256_cvtepi16_epi32(o16), _mm256_cvtepi16_epi32(t16));
        let idx = _mm256_add_epi32(o, _mm256_set1_epi32(32768));
        // SAFETY: idx = o + 32768 is in 0..=65535 for i16 o, inside the 65537-entry table.
        let recip = unsafe { _mm256_i32gather_epi32::<4>(lookup.as_ptr(), idx) };
        // (recip·t + 16384) >> 15 in i64; |recip·t| ≤ 2^45, so the quotient fits in i32
        // and its low 32 bits (all a logical shift keeps right) are the whole of it.
        let round = _mm256_set1_epi64x(16384);
        let even = _mm256_add_epi64(_mm256_mul_epi32(recip, t), round);
        let odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64::<32>(recip), _mm256_srli_epi64::<32>(t)), round);
        let tmp_k = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<15>(even), _mm256_slli_epi64::<17>(odd));
        let zero = _mm256_setzero_si256();
        let one = _mm256_set1_epi32(32768);
        let tmp_k = _mm256_blendv_epi8(tmp_k, one, _mm256_cmpeq_epi32(o, zero));
        let k = _mm256_min_epi32(_mm256_max_epi32(tmp_k, zero), one);
        let rst = _mm256_srai_epi32::<15>(_mm256_add_epi32(_mm256_mullo_epi32(k, o), _mm256_set1_epi32(16384)));
        let k_pos = _mm256_and_si256(_mm256_cmpgt_epi32(k, zero), flag);
        let positive = _mm256_and_si256(k_pos, _mm256_cmpgt_epi32(o, zero));
        let negative = _mm256_and_si256(k_pos, _mm256_cmpgt_epi32(zero, o));
        let gained = _mm256_mullo_epi32(rst, _mm256_set1_epi32(100));
        let rst = _mm256_blendv_epi8(rst, _mm256_min_epi32(gained, t), positive);
        let rst = _mm256_blendv_epi8(rst, _mm256_max_epi32(gained, t), negative);
        let rst = pack8(rst);
        (rst, _mm_sub_epi16(t16, rst))
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn decouple0(
        o: [&[i16]; 3],
        t: [&[i16]; 3],
        r: [&mut [i16]; 3],
        a: [&mut [i16]; 3],
        lookup: &[i32; 65537],
        cos_sq: f32,
    ) -> usize {
        let n = o.iter().chain(&t).map(|b| b.len()).chain(r.iter().chain(&a).map(|b| b.len())).min().unwrap_or(0);
        let cos_sq = _mm256_set1_pd(f64::from(cos_sq));
        let mut j = 0;
        while j + 8 <= n {
            let ov = o.map(|b| load128(b, j));
            let tv = t.map(|b| load128(b, j));
            let flag = angle_flag8(ov[0], ov[1], tv[0], tv[1], cos_sq);
            for band in 0..3 {
                let (rst, imp) = decouple_band8(ov[band], tv[band], flag, lookup);
                store128(r[band], j, rst);
                store128(a[band], j, imp);
            }
            j += 8;
        }
        j
    }

    /// `Σ c_k·x_k` of the even 32-bit lanes of `x` as `i64` lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn dot4_even(x: [__m256i; 4], c: &[i32; 4]) -> __m256i {
        let p = |k: usize| _mm256_mul_epi32(x[k], _mm256_set1_epi64x(i64::from(c[k])));
        _mm256_add_epi64(_mm256_add_epi64(p(0), p(1)), _mm256_add_epi64(p(2), p(3)))
    }

    /// `((even + round) >> shift, (odd + round) >> shift)` kept as `i32`, interleaved back
    /// into 32-bit lanes (even results in even lanes).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn round_interleave(even: __m256i, odd: __m256i, round: __m256i, count: __m128i) -> __m256i {
        let even = _mm256_srl_epi64(_mm256_add_epi64(even, round), count);
        let odd = _mm256_slli_epi64::<32>(_mm256_srl_epi64(_mm256_add_epi64(odd, round), count));
        _mm256_blend_epi32::<0b1010_1010>(even, odd)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt_s123_vertical(rows: [&[i32]; 4], rounding: DwtRounding, lo: &mut [i32], hi: &mut [i32]) -> usize {
        let w = lo.len().min(hi.len()).min(rows.iter().map(|r| r.len()).min().unwrap_or(0));
        let round = _mm256_set1_epi64x(rounding.round);
        let count = _mm_cvtsi32_si128(rounding.shift as i32);
        let w8 = w / 8 * 8;
        let mut j = 0;
        while j < w8 {
            let x = rows.map(|r| load256(r, j));
            let x_odd = x.map(|v| _mm256_srli_epi64::<32>(v));
            for (c, out) in [(&DWT_LO, &mut *lo), (&DWT_HI, &mut *hi)] {
                let v = round_interleave(dot4_even(x, c), dot4_even(x_odd, c), round, count);
                store256(out, j, v);
            }
            j += 8;
        }
        w8
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dwt_s123_horizontal(
        lo: &[i32],
        hi: &[i32],
        from: usize,
        last: usize,
        rounding: DwtRounding,
        out: [&mut [i32]; 4],
    ) -> usize {
        let [a, v, h, d] = out;
        let round = _mm256_set1_epi64x(rounding.round);
        let count = _mm_cvtsi32_si128(rounding.shift as i32);
        // `round_interleave` of outputs j..j+4 and j+4..j+8 holds them in the order
        // [j, j+4, j+1, j+5, …]; this permutation restores [j, j+1, …].
        let order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        let mut j = from.max(1);
        // Outputs j..j+8 read the source at 2j−1 ..= 2j+16.
        while j + 7 <= last {
            let b = 2 * j - 1;
            // Even lanes of the row from b: tap 0 of outputs j..j+4, odd lanes tap 1; from
            // b + 2 taps 2 and 3. From b + 8 and b + 10 the same for outputs j+4..j+8.
            let filt = |src: &[i32], c: &[i32; 4]| {
                let quarter = |o: usize| {
                    let (x, y) = (load256(src, o), load256(src, o + 2));
                    let taps = [x, _mm256_srli_epi64::<32>(x), y, _mm256_srli_epi64::<32>(y)];
                    dot4_even(taps, c)
                };
                let v = round_interleave(quarter(b), quarter(b + 8), round, count);
                _mm256_permutevar8x32_epi32(v, order)
            };
            store256(a, j, filt(lo, &DWT_LO));
            store256(v, j, filt(lo, &DWT_HI));
            store256(h, j, filt(hi, &DWT_LO));
            store256(d, j, filt(hi, &DWT_HI));
            j += 8;
        }
        j
    }
}
