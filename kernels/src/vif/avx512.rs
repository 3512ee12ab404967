//! Hand-written AVX-512 versions of the hottest VIF row loops, bit-exact with
//! [`super::rows`]: the same arithmetic as [`super::avx2`]'s, on 512-bit registers.
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`vertical_moments`] | 8-bit scale 0: the 17-tap vertical pass of μ1, μ2, x², y², xy, 32 columns at a time | as the AVX2 pass: `vpmaddwd` on pairs of taps (`vpdpwssd` with AVX-512 VNNI, as below), squares biased by −2¹⁵ and the bias added back mod 2³²; `vpermt2d` puts the unpacked halves back in column order |
//! | [`vertical_moments`] | 16-bit rows (pyramid levels 1–3, scale 0 above 8 bits): the vertical pass, 32 columns at a time | the AVX2 pass's folded tap pairs and high/low halves of the squares (`vpmulhuw`, `vpmullw`), on 512-bit registers (`vpdpwssd` with VNNI) |
//! | [`horizontal_statistics`] | every scale and depth: the horizontal filter, 32 columns at a time, then the statistic, 16 pixels at a time | the rows split once per row into planes of 16-bit halves offset by −2¹⁵ (`vpermt2w`); per folded tap pair (k, n−1−k) and plane one `vpunpck{l,h}wd` + `vpmaddwd`, the halves recombined exactly as in the AVX2 pass; the statistic as the AVX2 one in 16 lanes, with mask registers and AVX-512 DQ's exact `i64`/`f64` conversions; where the CPU has AVX-512 VNNI, each `vpmaddwd` of the filter and the `vpaddd` after it are one `vpdpwssd` (wrapping, so the same sums mod 2³²; both filters are compared in a test) |
//!
//! | [`downsample_vertical_u8`] | the low-pass of 8-bit samples before scale 1 (every second row), 32 columns at a time | adjacent taps paired in one `vpmaddwd` (`vpdpwssd` with VNNI): samples below 2⁸ and coefficients below 2¹⁵ make every product and sum exact; the rounding, shift and 16-bit cut of the scalar body |
//! | [`downsample_horizontal`] | the decimating horizontal low-pass between scales 0–2, 16 outputs at a time | taps 2p and 2p + 1 of 16 outputs are the word pairs of one load of the row offset by −2¹⁵: one `vpmaddwd` (`vpdpwssd` with VNNI) per pair of taps, the offset's −2³¹ added back mod 2³²; scale 3's filter (a centre of 2¹⁵ or more) runs the AVX2 pass |
//! | [`downsample_vertical_avx512`] | the between-scale low-pass of the 16-bit levels | the scalar body compiled with AVX-512 (autovectorised; integer sums, so any vector width gives the same) |
//!
//! Each filter pass takes `WITH_REFERENCE` as the scalar one does (see
//! `rows::scale_statistics`): without it, μ1 and x² are neither filtered nor stored.
//! Columns left over (fewer than a vector) go to the AVX2 loops, then to the scalar ones;
//! other cases run the AVX2 path.
//! Every path is compared with the scalar reference in `tests/simd_and_threads.rs`.

use super::rows::{DownsampleRows, VerticalRows, downsample_vertical_body, horizontal_statistics_scalar};
use super::{LevelView, VerticalShifts, VifAccumulators};
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The vertical pass with AVX-512; `false` (nothing done) below [`SimdLevel::Avx512`]
/// or where only the AVX2 pass applies.
pub(crate) fn vertical_moments<T: Sample, const WITH_REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut VerticalRows,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512)
        && let (Some(r), Some(d)) = (T::as_u8(reference.data), T::as_u8(distorted.data))
        && shifts.sq_shift == 0
        && filter.len() <= 17
        && filter.iter().all(|&c| c < 16384)
    {
        let r = LevelView { data: r, width: reference.width, height: reference.height };
        let d = LevelView { data: d, width: distorted.width, height: distorted.height };
        // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked by `permits`), and
        // VNNI where its twin is picked (checked there), the only requirements of these
        // `#[target_feature]` functions (AVX2 is implied).
        unsafe {
            let done = if std::arch::is_x86_feature_detected!("avx512vnni") {
                x86::vertical_moments_u8_vnni::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows)
            } else {
                x86::vertical_moments_u8::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows)
            };
            super::avx2::x86::vertical_moments_u8::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows, done);
        }
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512)
        && let (Some(r), Some(d)) = (T::as_u16(reference.data), T::as_u16(distorted.data))
        && (1..=16).contains(&shifts.sq_shift)
        && shifts.mu_shift <= 16
        && super::avx2::is_symmetric(filter)
    {
        let r = LevelView { data: r, width: reference.width, height: reference.height };
        let d = LevelView { data: d, width: distorted.width, height: distorted.height };
        // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked by `permits`), and
        // VNNI where its twin is picked (checked there), the only requirements of these
        // `#[target_feature]` functions (AVX2 is implied).
        unsafe {
            let done = if std::arch::is_x86_feature_detected!("avx512vnni") {
                x86::vertical_moments_u16_vnni::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows)
            } else {
                x86::vertical_moments_u16::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows)
            };
            super::avx2::x86::vertical_moments_u16::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows, done);
        }
        return true;
    }
    let _ = (reference, distorted, taps, filter, shifts, simd, rows);
    false
}

/// The horizontal pass and statistic with AVX-512; `false` below [`SimdLevel::Avx512`].
pub(crate) fn horizontal_statistics<const WITH_REFERENCE: bool>(
    rows: &mut VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    simd: SimdLevel,
    total: &mut VifAccumulators,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked by `permits`), the one
        // requirement of the `#[target_feature]` function.
        let done = unsafe { x86::horizontal_statistics::<WITH_REFERENCE>(rows, w, filter, table, total) };
        horizontal_statistics_scalar::<WITH_REFERENCE>(rows, done, w, filter, table, total);
        return true;
    }
    let _ = (rows, w, filter, table, simd, total);
    false
}

/// The down-sampling vertical pass compiled with AVX-512 (the compiler's own 512-bit
/// vectors; integer sums, so any vector width gives the same), picked by
/// `avx2_downsample::downsample_vertical` at [`SimdLevel::Avx512`].
///
/// # Safety
/// The CPU must have AVX-512 F, BW, DQ and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
pub(crate) fn downsample_vertical_avx512<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    downsample_vertical_body(level, taps, filter, shifts, rows);
}

/// The down-sampling vertical pass of 8-bit samples (scale 0 → 1) with hand-written
/// AVX-512 (VNNI where the CPU has it); `false` (nothing done) below
/// [`SimdLevel::Avx512`] or for other samples and filters.
pub(crate) fn downsample_vertical_u8<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut DownsampleRows,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512)
        && let Some(samples) = T::as_u8(level.data)
        && filter.len() <= 17
        && filter.iter().all(|&c| c < 32768)
        && shifts.mu_shift < 32
    {
        let level = LevelView { data: samples, width: level.width, height: level.height };
        // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked by `permits`), and
        // VNNI where its twin is picked (checked there), the only requirements of these
        // `#[target_feature]` functions.
        unsafe {
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                x86::downsample_vertical_u8_vnni(level, taps, filter, shifts, rows);
            } else {
                x86::downsample_vertical_u8(level, taps, filter, shifts, rows);
            }
        }
        return true;
    }
    let _ = (level, taps, filter, shifts, simd, rows);
    false
}

/// The horizontal low-pass and decimation of the down-sampling with AVX-512 (VNNI where
/// the CPU has it): the padded row of `rows` into the leading outputs of `out`; returns
/// how many it did, a multiple of 16 (0 = none: below [`SimdLevel::Avx512`], or a
/// coefficient of 2¹⁵ or more, as scale 3's centre).
pub(crate) fn downsample_horizontal(rows: &mut DownsampleRows, filter: &[u16], out: &mut [u16], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) && filter.len() <= 17 && filter.iter().all(|&c| c < 32768) {
        // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked by `permits`), and
        // VNNI where its twin is picked (checked there), the only requirements of these
        // `#[target_feature]` functions.
        return unsafe {
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                x86::downsample_horizontal_vnni(rows, filter, out)
            } else {
                x86::downsample_horizontal(rows, filter, out)
            }
        };
    }
    let _ = (rows, filter, out, simd);
    0
}

/// The statistic of 16 pixels at once, for tests: `(mu1, mu2, xx, yy, xy)` lanes in,
/// accumulators out; `None` without AVX-512.
#[cfg(test)]
fn statistic_of_lanes(table: &[u16; 65537], moments: [[u32; 16]; 5]) -> Option<VifAccumulators> {
    #[cfg(target_arch = "x86_64")]
    if SimdLevel::hardware().permits(SimdLevel::Avx512) {
        // SAFETY: the CPU supports AVX-512 F, DQ and VL (checked just above).
        return Some(unsafe { x86::statistic_of_lanes(table, moments) });
    }
    let _ = (table, moments);
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::*;
    use crate::simd::avx2::store256;
    use crate::simd::avx512::{columns_of_unpacked, load32_u8_widened, load512, store512};
    use crate::vif::avx2::x86 as avx2;
    use crate::vif::avx2_halves::{plane_pointers, split_scalar, split_targets};
    use crate::vif::rows::PAD;
    use crate::vif::statistic::{ENHANCEMENT_GAIN_LIMIT, SIGMA_NSQ};

    /// 8-bit scale 0 vertical pass of the columns `0..w/32*32`; returns `w/32*32`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn vertical_moments_u8<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u8>,
        distorted: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` off.
        unsafe { vertical_moments_u8_with::<WITH_REFERENCE, false>(reference, distorted, taps, filter, shifts, rows) }
    }

    /// [`vertical_moments_u8`] with each `vpmaddwd` and the `vpaddd` after it fused into
    /// one AVX-512 VNNI `vpdpwssd` (see [`multiply_add`]): the same sums, fewer instructions.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn vertical_moments_u8_vnni<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u8>,
        distorted: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` on.
        unsafe { vertical_moments_u8_with::<WITH_REFERENCE, true>(reference, distorted, taps, filter, shifts, rows) }
    }

    /// The body of [`vertical_moments_u8`] and [`vertical_moments_u8_vnni`], inlined into each.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn vertical_moments_u8_with<const WITH_REFERENCE: bool, const VNNI: bool>(
        reference: LevelView<'_, u8>,
        distorted: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        let w = reference.width;
        let (pairs, npairs) = avx2::adjacent_pairs(taps, filter, w);
        let pairs = &pairs[..npairs];
        let (rd, dd) = (reference.data, distorted.data);
        let w32 = w / 32 * 32;
        // SAFETY: the CPU has AVX-512 F and BW, and VNNI where `multiply_add` uses it (this
        // function's contract), all the intrinsics below need; loads and stores go
        // through the bounds-checked helpers.
        unsafe {
            let bias = _mm512_set1_epi16(i16::MIN);
            let round = _mm512_set1_epi32(shifts.mu_round as i32);
            let shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
            let sq_bias = _mm512_set1_epi32(i32::MIN);
            let mut j = 0;
            while j < w32 {
                let z = _mm512_setzero_si512();
                let (mut m1l, mut m1h, mut m2l, mut m2h) = (z, z, z, z);
                let (mut xxl, mut xxh, mut yyl, mut yyh, mut xyl, mut xyh) = (z, z, z, z, z, z);
                for &(o0, o1, c) in pairs {
                    let c = _mm512_set1_epi32(c);
                    let (r0, r1) = (load32_u8_widened(rd, o0 + j), load32_u8_widened(rd, o1 + j));
                    let (d0, d1) = (load32_u8_widened(dd, o0 + j), load32_u8_widened(dd, o1 + j));
                    let madd = |acc: &mut __m512i, a: __m512i, b: __m512i, high: bool| {
                        let pair = if high { _mm512_unpackhi_epi16(a, b) } else { _mm512_unpacklo_epi16(a, b) };
                        *acc = multiply_add::<VNNI>(*acc, pair, c);
                    };
                    if WITH_REFERENCE {
                        madd(&mut m1l, r0, r1, false);
                        madd(&mut m1h, r0, r1, true);
                    }
                    madd(&mut m2l, d0, d1, false);
                    madd(&mut m2h, d0, d1, true);
                    let product = |a: __m512i, b: __m512i| _mm512_xor_si512(_mm512_mullo_epi16(a, b), bias);
                    if WITH_REFERENCE {
                        let (rr0, rr1) = (product(r0, r0), product(r1, r1));
                        madd(&mut xxl, rr0, rr1, false);
                        madd(&mut xxh, rr0, rr1, true);
                    }
                    let (dd0, dd1) = (product(d0, d0), product(d1, d1));
                    let (rd0, rd1) = (product(r0, d0), product(r1, d1));
                    madd(&mut yyl, dd0, dd1, false);
                    madd(&mut yyh, dd0, dd1, true);
                    madd(&mut xyl, rd0, rd1, false);
                    madd(&mut xyh, rd0, rd1, true);
                }
                let mu = |v: __m512i| _mm512_srl_epi32(_mm512_add_epi32(v, round), shift);
                let sq = |v: __m512i| _mm512_add_epi32(v, sq_bias);
                let put = |dst: &mut [u32], lo: __m512i, hi: __m512i| {
                    let (first, second) = columns_of_unpacked(lo, hi);
                    store512(dst, PAD + j, first);
                    store512(dst, PAD + j + 16, second);
                };
                if WITH_REFERENCE {
                    put(&mut rows.mu1, mu(m1l), mu(m1h));
                    put(&mut rows.ref_sq, sq(xxl), sq(xxh));
                }
                put(&mut rows.mu2, mu(m2l), mu(m2h));
                put(&mut rows.dis_sq, sq(yyl), sq(yyh));
                put(&mut rows.ref_dis, sq(xyl), sq(xyh));
                j += 32;
            }
        }
        w32
    }

    /// The vertical pass on 16-bit rows (pyramid levels 1–3, scale 0 above 8 bits) of the
    /// columns `0..w/32*32`, the AVX2 pass's arithmetic (`avx2::vertical_moments_u16`:
    /// folded tap pairs, squares as high and low 16-bit halves) on 32 columns at a time;
    /// returns where it stopped.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn vertical_moments_u16<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u16>,
        distorted: LevelView<'_, u16>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` off.
        unsafe { vertical_moments_u16_with::<WITH_REFERENCE, false>(reference, distorted, taps, filter, shifts, rows) }
    }

    /// [`vertical_moments_u16`] with each `vpmaddwd` and the `vpaddd` after it fused into
    /// one AVX-512 VNNI `vpdpwssd` (see [`multiply_add`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn vertical_moments_u16_vnni<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u16>,
        distorted: LevelView<'_, u16>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` on.
        unsafe { vertical_moments_u16_with::<WITH_REFERENCE, true>(reference, distorted, taps, filter, shifts, rows) }
    }

    /// The body of [`vertical_moments_u16`] and [`vertical_moments_u16_vnni`], inlined
    /// into each.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn vertical_moments_u16_with<const WITH_REFERENCE: bool, const VNNI: bool>(
        reference: LevelView<'_, u16>,
        distorted: LevelView<'_, u16>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
    ) -> usize {
        let w = reference.width;
        let n = filter.len();
        let half = n / 2;
        let (rd, dd) = (reference.data, distorted.data);
        let w32 = if rd.len() < w * reference.height || dd.len() < w * reference.height { 0 } else { w / 32 * 32 };
        // SAFETY: the CPU has AVX-512 F and BW, and VNNI where `multiply_add` uses it (this
        // function's contract), all the intrinsics below need; the raw loads stay in
        // bounds (see below), the stores go through the bounds-checked helper.
        unsafe {
            let mut pairs = [(0usize, 0usize, _mm512_setzero_si512()); 9];
            for (k, pair) in pairs.iter_mut().enumerate().take(half + 1) {
                let c = i32::from(filter[k]);
                let (ca, cb) = if k == half { (c / 2, c - c / 2) } else { (c, c) };
                *pair = (taps[k] * w, taps[n - 1 - k] * w, _mm512_set1_epi32((cb << 16) | ca));
            }
            let pairs = &pairs[..=half];
            let mu_round = _mm512_set1_epi32(shifts.mu_round as i32);
            let mu_shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
            let sq_round = _mm512_set1_epi32(shifts.sq_round as i32);
            let sq_shift = _mm_cvtsi32_si128(shifts.sq_shift as i32);
            let high_shift = _mm_cvtsi32_si128(16 - shifts.sq_shift as i32);
            let mu = |v: __m512i| _mm512_srl_epi32(_mm512_add_epi32(v, mu_round), mu_shift);
            let sq = |high: __m512i, low: __m512i| {
                _mm512_add_epi32(_mm512_sll_epi32(high, high_shift), _mm512_srl_epi32(_mm512_add_epi32(low, sq_round), sq_shift))
            };
            let put = |dst: &mut [u32], j: usize, (lo, hi): (__m512i, __m512i)| {
                let (first, second) = columns_of_unpacked(lo, hi);
                store512(dst, PAD + j, first);
                store512(dst, PAD + j + 16, second);
            };
            let (bias, unbias) = (_mm512_set1_epi16(i16::MIN), _mm512_set1_epi32(i32::MIN));
            // (a, b) biased by −2¹⁵ and interleaved, times the pair's coefficients, added
            // into the unpacked low and high halves' columns.
            let madd_pair = |(lo, hi): &mut (__m512i, __m512i), a: __m512i, b: __m512i, c: __m512i| {
                let (a, b) = (_mm512_xor_si512(a, bias), _mm512_xor_si512(b, bias));
                *lo = multiply_add::<VNNI>(*lo, _mm512_unpacklo_epi16(a, b), c);
                *hi = multiply_add::<VNNI>(*hi, _mm512_unpackhi_epi16(a, b), c);
            };
            let unbiased = |(lo, hi): (__m512i, __m512i)| (_mm512_add_epi32(lo, unbias), _mm512_add_epi32(hi, unbias));
            let mut j = 0;
            while j < w32 {
                // Every tap row is below the height and j + 32 ≤ w, so the 32 words read at
                // row·w + j lie inside both planes (lengths checked above).
                let ld = |plane: &[u16], o: usize| _mm512_loadu_si512(plane.as_ptr().add(o + j).cast());
                let z = (_mm512_setzero_si512(), _mm512_setzero_si512());
                // μ1, μ2 and x² first, then y² and xy: 8 accumulators at a time.
                let (mut m1, mut m2, mut xx_hi, mut xx_lo) = (z, z, z, z);
                for &(a, b, c) in pairs {
                    let (da, db) = (ld(dd, a), ld(dd, b));
                    madd_pair(&mut m2, da, db, c);
                    if WITH_REFERENCE {
                        let (ra, rb) = (ld(rd, a), ld(rd, b));
                        madd_pair(&mut m1, ra, rb, c);
                        madd_pair(&mut xx_hi, _mm512_mulhi_epu16(ra, ra), _mm512_mulhi_epu16(rb, rb), c);
                        madd_pair(&mut xx_lo, _mm512_mullo_epi16(ra, ra), _mm512_mullo_epi16(rb, rb), c);
                    }
                }
                let m2 = unbiased(m2);
                put(&mut rows.mu2, j, (mu(m2.0), mu(m2.1)));
                if WITH_REFERENCE {
                    let (m1, xx_hi, xx_lo) = (unbiased(m1), unbiased(xx_hi), unbiased(xx_lo));
                    put(&mut rows.mu1, j, (mu(m1.0), mu(m1.1)));
                    put(&mut rows.ref_sq, j, (sq(xx_hi.0, xx_lo.0), sq(xx_hi.1, xx_lo.1)));
                }
                let (mut yy_hi, mut yy_lo, mut xy_hi, mut xy_lo) = (z, z, z, z);
                for &(a, b, c) in pairs {
                    let (ra, rb, da, db) = (ld(rd, a), ld(rd, b), ld(dd, a), ld(dd, b));
                    madd_pair(&mut yy_hi, _mm512_mulhi_epu16(da, da), _mm512_mulhi_epu16(db, db), c);
                    madd_pair(&mut yy_lo, _mm512_mullo_epi16(da, da), _mm512_mullo_epi16(db, db), c);
                    madd_pair(&mut xy_hi, _mm512_mulhi_epu16(ra, da), _mm512_mulhi_epu16(rb, db), c);
                    madd_pair(&mut xy_lo, _mm512_mullo_epi16(ra, da), _mm512_mullo_epi16(rb, db), c);
                }
                let (yy_hi, yy_lo, xy_hi, xy_lo) = (unbiased(yy_hi), unbiased(yy_lo), unbiased(xy_hi), unbiased(xy_lo));
                put(&mut rows.dis_sq, j, (sq(yy_hi.0, yy_lo.0), sq(yy_hi.1, yy_lo.1)));
                put(&mut rows.ref_dis, j, (sq(xy_hi.0, xy_lo.0), sq(xy_hi.1, xy_lo.1)));
                j += 32;
            }
        }
        w32
    }

    /// The down-sampling vertical pass of 8-bit samples: columns `0..w/32*32` 32 at a
    /// time, each pair of adjacent taps one `vpmaddwd` (samples below 2⁸, coefficients
    /// below 2¹⁵: every product and sum is exact and positive), rounded, shifted and cut
    /// to 16 bits as the scalar body does; the last columns scalar.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn downsample_vertical_u8(
        level: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut DownsampleRows,
    ) {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` off.
        unsafe { downsample_vertical_u8_with::<false>(level, taps, filter, shifts, rows) }
    }

    /// [`downsample_vertical_u8`] with each `vpmaddwd` and the `vpaddd` after it fused
    /// into one AVX-512 VNNI `vpdpwssd` (see [`multiply_add`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn downsample_vertical_u8_vnni(
        level: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut DownsampleRows,
    ) {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` on.
        unsafe { downsample_vertical_u8_with::<true>(level, taps, filter, shifts, rows) }
    }

    /// The body of [`downsample_vertical_u8`] and [`downsample_vertical_u8_vnni`],
    /// inlined into each.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn downsample_vertical_u8_with<const VNNI: bool>(
        level: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut DownsampleRows,
    ) {
        let w = level.width;
        let (pairs, npairs) = avx2::adjacent_pairs(taps, filter, w);
        let pairs = &pairs[..npairs];
        let samples = level.data;
        let w32 = w / 32 * 32;
        // SAFETY: the CPU has AVX-512 F and BW, and VNNI where `multiply_add` uses it (this
        // function's contract), all the intrinsics below need; loads and stores go
        // through the bounds-checked helpers.
        unsafe {
            let round = _mm512_set1_epi32(shifts.mu_round as i32);
            let shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
            let low16 = _mm512_set1_epi32(0xFFFF);
            // (sum + round) >> shift as u16, in the columns' order.
            let rounded = |lo: __m512i, hi: __m512i| {
                let cut = |v: __m512i| _mm512_and_si512(_mm512_srl_epi32(_mm512_add_epi32(v, round), shift), low16);
                columns_of_unpacked(cut(lo), cut(hi))
            };
            let mut j = 0;
            while j < w32 {
                let z = _mm512_setzero_si512();
                let (mut lo, mut hi) = (z, z);
                for &(o0, o1, c) in pairs {
                    let c = _mm512_set1_epi32(c);
                    let (s0, s1) = (load32_u8_widened(samples, o0 + j), load32_u8_widened(samples, o1 + j));
                    lo = multiply_add::<VNNI>(lo, _mm512_unpacklo_epi16(s0, s1), c);
                    hi = multiply_add::<VNNI>(hi, _mm512_unpackhi_epi16(s0, s1), c);
                }
                let (first, second) = rounded(lo, hi);
                store512(&mut rows.row, PAD + j, first);
                store512(&mut rows.row, PAD + j + 16, second);
                j += 32;
            }
        }
        // The last columns: the scalar arithmetic of `downsample_vertical_body`.
        for j in w32..w {
            let mut v = 0u32;
            for (&row, &c) in taps.iter().zip(filter) {
                v = v.wrapping_add(u32::from(c) * u32::from(samples[row * w + j]));
            }
            rows.row[PAD + j] = u32::from(((u64::from(v) + shifts.mu_round) >> shifts.mu_shift) as u16);
        }
    }

    /// The decimating horizontal pass of the down-sampling, 16 outputs at a time.
    ///
    /// Output o reads the padded row at PAD − half + 2o + k for the taps k, so taps 2p and
    /// 2p + 1 of 16 consecutive outputs are the 16 word pairs of one 32-word load: one
    /// `vpmaddwd` per pair of taps (a last odd tap paired with coefficient 0), no shuffle.
    /// The row's entries (below 2¹⁶) are offset by −2¹⁵ into `rows.biased` first, and
    /// the coefficients (below 2¹⁵ here) sum to 2¹⁶, so each sum is off by exactly −2³¹,
    /// added back mod 2³² (the scalar's wrapping `u32` sum); then `(x + 2¹⁵) >> 16` cut to
    /// 16 bits as `(x >> 16) + carry` in 32-bit lanes.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn downsample_horizontal(rows: &mut DownsampleRows, filter: &[u16], out: &mut [u16]) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` off.
        unsafe { downsample_horizontal_with::<false>(rows, filter, out) }
    }

    /// [`downsample_horizontal`] with each `vpmaddwd` and the `vpaddd` after it fused
    /// into one AVX-512 VNNI `vpdpwssd` (see [`multiply_add`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn downsample_horizontal_vnni(rows: &mut DownsampleRows, filter: &[u16], out: &mut [u16]) -> usize {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` on.
        unsafe { downsample_horizontal_with::<true>(rows, filter, out) }
    }

    /// The body of [`downsample_horizontal`] and [`downsample_horizontal_vnni`], inlined
    /// into each; the outputs `0..ow/16*16`, returns how many.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn downsample_horizontal_with<const VNNI: bool>(
        rows: &mut DownsampleRows,
        filter: &[u16],
        out: &mut [u16],
    ) -> usize {
        let half = filter.len() / 2;
        let npairs = filter.len().div_ceil(2);
        let ow16 = out.len() / 16 * 16;
        let DownsampleRows { row, biased, .. } = rows;
        // The entries read: from PAD − half to the end of the last pair's last load.
        let start = PAD - half;
        let end = start + 2 * ow16 + 2 * npairs;
        if ow16 == 0 || npairs > 9 || end > row.len() {
            return 0;
        }
        if biased.len() < end {
            biased.resize(end, 0);
        }
        let coefficient = |k: usize| filter.get(k).map_or(0, |&c| i32::from(c));
        // SAFETY: the CPU has AVX-512 F and BW, and VNNI where `multiply_add` uses it (this
        // function's contract), all the intrinsics below need (AVX2 is implied); loads and
        // stores go through the bounds-checked helpers.
        unsafe {
            let pairs: [__m512i; 9] = std::array::from_fn(|p| _mm512_set1_epi32(coefficient(2 * p) | (coefficient(2 * p + 1) << 16)));
            let pairs = &pairs[..npairs];
            let (unbias, low16, half_unit) = (_mm512_set1_epi32(i32::MIN), _mm512_set1_epi32(0xFFFF), _mm512_set1_epi32(32768));
            let mut i = start;
            while i + 16 <= end {
                let words = _mm512_cvtepi32_epi16(load512(row, i));
                store256(biased, i, _mm256_xor_si256(words, _mm256_set1_epi16(i16::MIN)));
                i += 16;
            }
            for i in i..end {
                biased[i] = (row[i] ^ 0x8000) as u16 as i16;
            }
            let mut oj = 0;
            while oj < ow16 {
                let mut acc = _mm512_setzero_si512();
                for (p, &c) in pairs.iter().enumerate() {
                    acc = multiply_add::<VNNI>(acc, load512(biased, start + 2 * oj + 2 * p), c);
                }
                let acc = _mm512_add_epi32(acc, unbias);
                let carry = _mm512_srli_epi32::<16>(_mm512_add_epi32(_mm512_and_si512(acc, low16), half_unit));
                let rounded = _mm512_add_epi32(_mm512_srli_epi32::<16>(acc), carry);
                store256(out, oj, _mm512_cvtepi32_epi16(rounded));
                oj += 16;
            }
        }
        ow16
    }

    /// Horizontal filter and statistic (AVX-512 for `0..w/32*32`, AVX2 up to `w/8*8`) of
    /// the columns `0..w/8*8`; returns where it stopped.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(super) fn horizontal_statistics<const WITH_REFERENCE: bool>(
        rows: &mut VerticalRows,
        w: usize,
        filter: &[u16],
        table: &[u16; 65537],
        total: &mut VifAccumulators,
    ) -> usize {
        let (w8, w32) = (w / 8 * 8, w / 32 * 32);
        let Some(pairs) = avx2::folded_pairs(filter) else {
            return 0;
        };
        let half = filter.len() / 2;
        let padded = [&rows.mu1, &rows.mu2, &rows.ref_sq, &rows.dis_sq, &rows.ref_dis];
        let scratch = rows.biased.iter().map(Vec::len).chain(rows.halves.iter().map(Vec::len));
        if padded.iter().map(|r| r.len()).chain(scratch).any(|len| len < PAD + w8 + half) || rows.filtered.iter().any(|r| r.len() < w8) {
            return 0;
        }
        if w32 > 0 {
            split_rows::<WITH_REFERENCE>(rows, PAD - half, PAD + w32 + half);
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                // SAFETY: the CPU has AVX-512 VNNI (checked just above), and F and BW
                // (this function's own target features).
                unsafe { filter_halves_vnni::<WITH_REFERENCE>(rows, &pairs, w32) };
            } else {
                filter_halves::<WITH_REFERENCE>(rows, &pairs, w32);
            }
            statistics_of_filtered(rows, w32, table, total);
        }
        if w8 > w32 {
            avx2::bias_rows::<WITH_REFERENCE>(rows, PAD + w32 - half, PAD + w8 + half);
            avx2::filter_columns::<WITH_REFERENCE>(rows, &pairs, w32, w8);
            crate::vif::avx2_statistic::x86::statistics_of_filtered(rows, w32, w8, table, total);
        }
        w8
    }

    /// The padded rows' entries `lo..hi` (μ1's and x²'s only `WITH_REFERENCE`) into
    /// `rows.halves`: each 16-bit half of every entry offset by −2¹⁵ (`v ^ 0x8000_8000`),
    /// the low halves of a row in one plane and the high halves in another (μ rows, below
    /// 2¹⁶, only their low halves). The lengths were checked by the caller.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn split_rows<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, lo: usize, hi: usize) {
        let bias = _mm512_set1_epi32(0x8000_8000u32 as i32);
        let words = |first: i16| -> __m512i {
            let mut idx = [0i16; 32];
            for (k, v) in idx.iter_mut().enumerate() {
                *v = first + 2 * k as i16;
            }
            load512(&idx, 0)
        };
        let (even, odd) = (words(0), words(1));
        for mut split in split_targets::<WITH_REFERENCE>(rows) {
            let (src, low, high) = &mut split;
            let mut i = lo;
            while i + 32 <= hi {
                let (a, b) = (_mm512_xor_si512(load512(src, i), bias), _mm512_xor_si512(load512(src, i + 16), bias));
                store512(low, i, _mm512_permutex2var_epi16(a, even, b));
                if let Some(high) = high.as_deref_mut() {
                    store512(high, i, _mm512_permutex2var_epi16(a, odd, b));
                }
                i += 32;
            }
            split_scalar(&mut split, i, hi);
        }
    }

    /// Horizontal filter of the columns `0..to` (a multiple of 32) from `rows.halves` into
    /// `rows.filtered`, 32 columns at a time: per folded tap pair and half-plane, one
    /// `vpunpck{l,h}wd` of the plane at k and at n−1−k and one `vpmaddwd` (the AVX2 pass's
    /// arithmetic, see `avx2::filter_columns`, without its per-tap shifts and blends).
    ///
    /// The 32 results of a moment come out as the unpacked halves hold them (columns
    /// [0..4, 8..12, …] then [4..8, 12..16, …]) and are stored so: the same order for all
    /// five moments, and the statistic's sums do not depend on the order of the pixels.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn filter_halves<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], to: usize) {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` off.
        unsafe { filter_halves_with::<WITH_REFERENCE, false>(rows, pairs, to) }
    }

    /// [`filter_halves`] with each `vpmaddwd` and the `vpaddd` after it fused into one
    /// AVX-512 VNNI `vpdpwssd` (see [`multiply_add`]): the same sums, fewer instructions.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn filter_halves_vnni<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], to: usize) {
        // SAFETY: this function's target features are every one the body uses with
        // `VNNI` on.
        unsafe { filter_halves_with::<WITH_REFERENCE, true>(rows, pairs, to) }
    }

    /// `acc + vpmaddwd(a, b)` per 32-bit lane: `vpdpwssd` when `VNNI`, else `vpmaddwd`
    /// and `vpaddd`. Equal mod 2³²: `vpdpwssd` (not its saturating `s` twin) adds both
    /// 32-bit products to `acc` with wrap-around, and the one `vpmaddwd` overflow
    /// (−2¹⁵·−2¹⁵ twice) wraps to the same 2³¹.
    ///
    /// # Safety
    /// The CPU must have AVX-512 BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn multiply_add<const VNNI: bool>(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: the CPU has the features these need (the caller's contract).
        unsafe {
            if VNNI {
                _mm512_dpwssd_epi32(acc, a, b)
            } else {
                _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
            }
        }
    }

    /// The body of [`filter_halves`] and [`filter_halves_vnni`], inlined into each.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW, and AVX-512 VNNI when `VNNI`.
    #[inline(always)]
    unsafe fn filter_halves_with<const WITH_REFERENCE: bool, const VNNI: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], to: usize) {
        let half = pairs.len() - 1;
        let Some([p_mu1, p_mu2, p_xl, p_xh, p_yl, p_yh, p_pl, p_ph]) = plane_pointers(rows, to, half) else {
            return;
        };
        let filtered = &mut rows.filtered;
        // SAFETY: the CPU has AVX-512 F and BW, and VNNI where `multiply_add` uses it (this
        // function's contract), all the intrinsics below need; the raw loads stay in
        // bounds (see below).
        unsafe {
            let broadcast: [(usize, usize, __m512i); 9] = std::array::from_fn(|k| {
                let (a, b, c) = pairs.get(k).copied().unwrap_or_default();
                (a, b, _mm512_set1_epi32(c))
            });
            let pairs = &broadcast[..pairs.len()];
            let (unbias, round16) = (_mm512_set1_epi32(i32::MIN), _mm512_set1_epi32(32768));
            // Σc·(v − 32768) + 2³¹ = Σc·v (mod 2³²); the squares are Σc·hi·2¹⁶ + Σc·lo,
            // rounded by 2¹⁶: hi + (lo + 2¹⁵) >> 16.
            let sq = |h: __m512i, l: __m512i| {
                let l = _mm512_srli_epi32::<16>(_mm512_add_epi32(_mm512_add_epi32(l, unbias), round16));
                _mm512_add_epi32(_mm512_add_epi32(h, unbias), l)
            };
            let mut j = 0;
            while j + 32 <= to {
                let base = PAD + j - half;
                let z = _mm512_setzero_si512();
                let (mut mu1, mut mu2, mut xl, mut xh, mut yl, mut yh, mut pl, mut ph) = ((z, z), (z, z), (z, z), (z, z), (z, z), (z, z), (z, z), (z, z));
                for &(a, b, c) in pairs {
                    let (a, b) = (base + a, base + b);
                    // The plane at a and at b interleaved, times the pair's coefficients,
                    // added into the accumulators of the unpacked low and high halves.
                    // a and b lie in PAD − half..=PAD + to + half − 32 (j + 32 ≤ to, taps
                    // below n), so the 32 entries read at each stay below the checked
                    // length of every plane; unaligned loads.
                    let tap = |plane: *const i16, (lo, hi): &mut (__m512i, __m512i)| {
                        let (va, vb) = (_mm512_loadu_si512(plane.add(a).cast()), _mm512_loadu_si512(plane.add(b).cast()));
                        *lo = multiply_add::<VNNI>(*lo, _mm512_unpacklo_epi16(va, vb), c);
                        *hi = multiply_add::<VNNI>(*hi, _mm512_unpackhi_epi16(va, vb), c);
                    };
                    if WITH_REFERENCE {
                        tap(p_mu1, &mut mu1);
                        tap(p_xl, &mut xl);
                        tap(p_xh, &mut xh);
                    }
                    tap(p_mu2, &mut mu2);
                    tap(p_yl, &mut yl);
                    tap(p_yh, &mut yh);
                    tap(p_pl, &mut pl);
                    tap(p_ph, &mut ph);
                }
                let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &mut *filtered;
                if WITH_REFERENCE {
                    store512(f_mu1, j, _mm512_add_epi32(mu1.0, unbias));
                    store512(f_mu1, j + 16, _mm512_add_epi32(mu1.1, unbias));
                    store512(f_xx, j, sq(xh.0, xl.0));
                    store512(f_xx, j + 16, sq(xh.1, xl.1));
                }
                store512(f_mu2, j, _mm512_add_epi32(mu2.0, unbias));
                store512(f_mu2, j + 16, _mm512_add_epi32(mu2.1, unbias));
                store512(f_yy, j, sq(yh.0, yl.0));
                store512(f_yy, j + 16, sq(yh.1, yl.1));
                store512(f_xy, j, sq(ph.0, pl.0));
                store512(f_xy, j + 16, sq(ph.1, pl.1));
                j += 32;
            }
        }
    }

    /// Lane accumulators of the statistic over a run of pixels (64-bit lanes).
    struct Lanes {
        num_log: __m512i,
        den_log: __m512i,
        num_non_log: __m512i,
        den_non_log: i64,
    }

    impl Lanes {
        #[target_feature(enable = "avx512f")]
        fn new() -> Self {
            let z = _mm512_setzero_si512();
            Lanes { num_log: z, den_log: z, num_non_log: z, den_non_log: 0 }
        }

        #[target_feature(enable = "avx512f")]
        fn finish(&self, total: &mut VifAccumulators) {
            total.num_log += _mm512_reduce_add_epi64(self.num_log);
            total.den_log += _mm512_reduce_add_epi64(self.den_log);
            total.num_non_log += _mm512_reduce_add_epi64(self.num_non_log);
            total.den_non_log += self.den_non_log;
        }

        /// Adds the 16 `i32` lanes of `v`, widened, into `acc`.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn add_widened(acc: &mut __m512i, v: __m512i) {
            let low = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
            let high = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(v));
            *acc = _mm512_add_epi64(*acc, _mm512_add_epi64(low, high));
        }
    }

    /// `(a·b + 2³¹) >> 32` per `u32` lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul_q32(a: __m512i, b: __m512i) -> __m512i {
        let round = _mm512_set1_epi64(1 << 31);
        let even = _mm512_mul_epu32(a, b);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(b));
        let even = _mm512_srli_epi64::<32>(_mm512_add_epi64(even, round));
        let odd = _mm512_add_epi64(odd, round);
        _mm512_mask_blend_epi32(0xAAAA, even, odd)
    }

    /// `log2_32` per lane, for lanes ≥ 2¹⁷ (< 2³²).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn log2_32(table: &[u16; 65537], v: __m512i) -> __m512i {
        // Position of the top bit: exponent of the float of v >> 9 (< 2^23: exact).
        let f = _mm512_cvtepi32_ps(_mm512_srli_epi32::<9>(v));
        let msb = _mm512_sub_epi32(_mm512_srli_epi32::<23>(_mm512_castps_si512(f)), _mm512_set1_epi32(127 - 9));
        let k = _mm512_sub_epi32(msb, _mm512_set1_epi32(15));
        let idx = _mm512_srlv_epi32(v, k);
        // SAFETY: idx is in 2^15..2^16, so each 4-byte read at byte 2·idx stays inside
        // the 65537-entry (131074-byte) table.
        let t = unsafe { _mm512_i32gather_epi32::<2>(idx, table.as_ptr().cast()) };
        let t = _mm512_and_si512(t, _mm512_set1_epi32(0xFFFF));
        _mm512_add_epi32(t, _mm512_slli_epi32::<11>(k))
    }

    /// `log2_64` per 64-bit lane, for lanes in 2¹⁷..2⁵².
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn log2_64(table: &[u16; 65537], v: __m512i) -> __m512i {
        // The double of v (< 2^52: exact), whose exponent is the top bit's position.
        let d = _mm512_cvtepu64_pd(v);
        let msb = _mm512_sub_epi64(_mm512_srli_epi64::<52>(_mm512_castpd_si512(d)), _mm512_set1_epi64(1023));
        let k = _mm512_sub_epi64(msb, _mm512_set1_epi64(15));
        let idx = _mm512_srlv_epi64(v, k);
        // SAFETY: idx is in 2^15..2^16, so each 4-byte read at byte 2·idx stays inside
        // the 65537-entry (131074-byte) table.
        let t = unsafe { _mm512_i64gather_epi32::<2>(idx, table.as_ptr().cast()) };
        let t = _mm512_cvtepu32_epi64(_mm256_and_si256(t, _mm256_set1_epi32(0xFFFF)));
        _mm512_add_epi64(t, _mm512_slli_epi64::<11>(k))
    }

    /// The information term of 8 lanes (`vif::information_term`), 0 where `mask` is off;
    /// the operations and their order are the AVX2 twin's (no fused multiply-adds).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn information_term(table: &[u16; 65537], s1: __m256i, s2: __m256i, s12: __m256i, mask: __mmask8) -> __m512i {
        const EPS: f64 = 65536.0 * 1.0e-10;
        let (s1d, s2d, s12d) = (_mm512_cvtepi32_pd(s1), _mm512_cvtepi32_pd(s2), _mm512_cvtepi32_pd(s12));
        let g = _mm512_div_pd(s12d, _mm512_add_pd(s1d, _mm512_set1_pd(EPS)));
        let sv = _mm512_cvttpd_epi32(_mm512_sub_pd(s2d, _mm512_mul_pd(g, s12d)));
        let sv = _mm256_max_epi32(sv, _mm256_setzero_si256());
        let g = _mm512_min_pd(g, _mm512_set1_pd(ENHANCEMENT_GAIN_LIMIT));
        let numer1 = _mm512_cvtepu32_epi64(_mm256_add_epi32(sv, _mm256_set1_epi32(SIGMA_NSQ)));
        // (g·g·σ1²) truncated; clamped to 0..2^50 only matters in masked-off lanes.
        let t = _mm512_mul_pd(_mm512_mul_pd(g, g), s1d);
        let t = _mm512_min_pd(_mm512_max_pd(t, _mm512_setzero_pd()), _mm512_set1_pd(1125899906842624.0));
        let t = _mm512_cvttpd_epi64(t);
        let numer1_tmp = _mm512_add_epi64(t, numer1);
        let diff = _mm512_sub_epi64(log2_64(table, numer1_tmp), log2_64(table, numer1));
        _mm512_maskz_mov_epi64(mask, diff)
    }

    /// The statistic of 16 pixels added into `acc` (`VifAccumulators::add_pixel` × 16).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn statistic(table: &[u16; 65537], [mu1, mu2, xx, yy, xy]: [__m512i; 5], acc: &mut Lanes) {
        let zero = _mm512_setzero_si512();
        let nsq = _mm512_set1_epi32(SIGMA_NSQ);
        let sigma1_sq = _mm512_sub_epi32(xx, mul_q32(mu1, mu1));
        let sigma2_sq = _mm512_max_epi32(_mm512_sub_epi32(yy, mul_q32(mu2, mu2)), zero);
        let sigma12 = _mm512_sub_epi32(xy, mul_q32(mu1, mu2));
        let log = _mm512_cmpgt_epi32_mask(sigma1_sq, _mm512_set1_epi32(SIGMA_NSQ - 1));
        // Non-log pixels: Σσ2² and a count.
        Lanes::add_widened(&mut acc.num_non_log, _mm512_maskz_mov_epi32(!log, sigma2_sq));
        acc.den_non_log += i64::from(16 - log.count_ones());
        if log == 0 {
            return;
        }
        // den_log: log2_32(σn² + σ1²) − 17·2048 (lanes off the branch read 2^17).
        let v = _mm512_mask_add_epi32(nsq, log, sigma1_sq, nsq);
        let den = _mm512_maskz_sub_epi32(log, log2_32(table, v), _mm512_set1_epi32(17 * 2048));
        Lanes::add_widened(&mut acc.den_log, den);
        // num_log where σ12 > 0 and σ2² > 0 as well.
        let num = log & _mm512_cmpgt_epi32_mask(sigma12, zero) & _mm512_cmpgt_epi32_mask(sigma2_sq, zero);
        for (half, mask) in [(0, num as u8), (1, (num >> 8) as u8)] {
            if mask == 0 {
                continue;
            }
            let part = |v: __m512i| if half == 0 { _mm512_castsi512_si256(v) } else { _mm512_extracti64x4_epi64::<1>(v) };
            let term = information_term(table, part(sigma1_sq), part(sigma2_sq), part(sigma12), mask);
            acc.num_log = _mm512_add_epi64(acc.num_log, term);
        }
    }

    /// The statistic of the filtered columns `0..to` (a multiple of 16) added into `total`.
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    fn statistics_of_filtered(rows: &VerticalRows, to: usize, table: &[u16; 65537], total: &mut VifAccumulators) {
        let mut acc = Lanes::new();
        let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &rows.filtered;
        for j in (0..to).step_by(16) {
            statistic(table, [load512(f_mu1, j), load512(f_mu2, j), load512(f_xx, j), load512(f_yy, j), load512(f_xy, j)], &mut acc);
        }
        acc.finish(total);
    }

    /// The statistic of 16 pixels, for tests: `(mu1, mu2, xx, yy, xy)` lanes in.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) fn statistic_of_lanes(table: &[u16; 65537], m: [[u32; 16]; 5]) -> VifAccumulators {
        let mut acc = Lanes::new();
        statistic(table, m.map(|lane| load512(&lane, 0)), &mut acc);
        let mut total = VifAccumulators::default();
        acc.finish(&mut total);
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vif::rows::PAD;
    use crate::vif::statistic::random_moments;

    /// The 16-lane statistic equals `add_pixel` on random moments, extreme ones included.
    #[test]
    fn lane_statistic_equals_scalar_on_random_moments() {
        random_moments::check_lanes::<16>("AVX-512", statistic_of_lanes);
    }

    /// The 8-bit vertical pass gives the same moments with `vpmaddwd` + `vpaddd` as with
    /// VNNI's `vpdpwssd`, for the scale-0 filter, on random samples with their extremes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vertical_pass_with_and_without_vnni_agree() {
        if !SimdLevel::hardware().permits(SimdLevel::Avx512) || !std::arch::is_x86_feature_detected!("avx512vnni") {
            return;
        }
        let (w, h) = (64, 24);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut samples = |_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            [0, 255, (seed >> 24) as u8][(seed % 3) as usize]
        };
        let (r, d): (Vec<u8>, Vec<u8>) = ((0..w * h).map(&mut samples).collect(), (0..w * h).map(&mut samples).collect());
        let (r, d) = (LevelView { data: &r[..], width: w, height: h }, LevelView { data: &d[..], width: w, height: h });
        let filter = crate::vif::VIF_FILTERS[0];
        let taps: Vec<usize> = (0..filter.len()).map(|k| (k + 3) % h).collect();
        let shifts = VerticalShifts::for_scale(0, 8);
        let (mut plain, mut vnni) = (padded_rows(w), padded_rows(w));
        // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above).
        unsafe {
            assert_eq!(x86::vertical_moments_u8::<true>(r, d, &taps, filter, shifts, &mut plain), w);
            assert_eq!(x86::vertical_moments_u8_vnni::<true>(r, d, &taps, filter, shifts, &mut vnni), w);
        }
        assert_same_moments(&plain, &vnni);
    }

    /// The 16-bit vertical pass gives the same moments with and without VNNI, for the
    /// filters of scales 1–3 on random 16-bit rows with their extremes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vertical_pass_of_16_bit_rows_with_and_without_vnni_agree() {
        if !SimdLevel::hardware().permits(SimdLevel::Avx512) || !std::arch::is_x86_feature_detected!("avx512vnni") {
            return;
        }
        let (w, h) = (64, 24);
        let mut seed = 0x6a09_e667_f3bc_c908u64;
        let mut samples = |_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            [0, u16::MAX, (seed >> 24) as u16][(seed % 3) as usize]
        };
        let (r, d): (Vec<u16>, Vec<u16>) = ((0..w * h).map(&mut samples).collect(), (0..w * h).map(&mut samples).collect());
        let (r, d) = (LevelView { data: &r[..], width: w, height: h }, LevelView { data: &d[..], width: w, height: h });
        for scale in 1..4 {
            let filter = crate::vif::VIF_FILTERS[scale];
            let taps: Vec<usize> = (0..filter.len()).map(|k| (k * 5 + 1) % h).collect();
            let shifts = VerticalShifts::for_scale(scale, 8);
            let (mut plain, mut vnni) = (padded_rows(w), padded_rows(w));
            // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above).
            unsafe {
                assert_eq!(x86::vertical_moments_u16::<true>(r, d, &taps, filter, shifts, &mut plain), w);
                assert_eq!(x86::vertical_moments_u16_vnni::<true>(r, d, &taps, filter, shifts, &mut vnni), w);
            }
            assert_same_moments(&plain, &vnni);
        }
    }

    /// The 8-bit down-sampling vertical pass gives the same rows with and without VNNI
    /// (32 columns in vectors and 8 scalar ones), on random samples with their extremes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn downsampling_with_and_without_vnni_agree() {
        if !SimdLevel::hardware().permits(SimdLevel::Avx512) || !std::arch::is_x86_feature_detected!("avx512vnni") {
            return;
        }
        let (w, h) = (40, 20);
        let mut seed = 0xbb67_ae85_84ca_a73bu64;
        let mut samples = |_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            [0, 255, (seed >> 24) as u8][(seed % 3) as usize]
        };
        let level: Vec<u8> = (0..w * h).map(&mut samples).collect();
        let level = LevelView { data: &level[..], width: w, height: h };
        let filter = crate::vif::VIF_FILTERS[1];
        let taps: Vec<usize> = (0..filter.len()).map(|k| (k * 3 + 2) % h).collect();
        let shifts = VerticalShifts::for_scale(0, 8);
        let row = vec![0; w + 2 * PAD];
        let mut plain = DownsampleRows { row: row.clone(), ..DownsampleRows::default() };
        let mut vnni = DownsampleRows { row, ..DownsampleRows::default() };
        // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above).
        unsafe {
            x86::downsample_vertical_u8(level, &taps, filter, shifts, &mut plain);
            x86::downsample_vertical_u8_vnni(level, &taps, filter, shifts, &mut vnni);
        }
        assert_eq!(plain.row, vnni.row);
        assert!(plain.row.iter().any(|&v| v != 0));
    }

    /// The decimating horizontal pass gives the same outputs with and without VNNI, for
    /// the filters of scales 1 and 2, on random padded rows with their extremes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn decimation_with_and_without_vnni_agree() {
        if !SimdLevel::hardware().permits(SimdLevel::Avx512) || !std::arch::is_x86_feature_detected!("avx512vnni") {
            return;
        }
        let w = 70;
        let mut seed = 0x3c6e_f372_fe94_f82bu64;
        let mut entries = |_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            [0, 65535, (seed >> 24) as u16 as u32][(seed % 3) as usize]
        };
        for filter in &crate::vif::VIF_FILTERS[1..3] {
            let row: Vec<u32> = (0..w + 2 * PAD).map(&mut entries).collect();
            let mut rows = DownsampleRows { row, ..DownsampleRows::default() };
            let (mut plain, mut vnni) = ([0u16; 35], [0u16; 35]);
            // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above).
            unsafe {
                assert_eq!(x86::downsample_horizontal(&mut rows, filter, &mut plain), 32);
                assert_eq!(x86::downsample_horizontal_vnni(&mut rows, filter, &mut vnni), 32);
            }
            assert_eq!(plain, vnni);
            assert!(plain.iter().any(|&v| v != 0));
        }
    }

    /// Rows of the vertical pass for `w` columns, padded, all zero.
    #[cfg(target_arch = "x86_64")]
    fn padded_rows(w: usize) -> VerticalRows {
        let row = vec![0; w + 2 * PAD];
        VerticalRows { mu1: row.clone(), mu2: row.clone(), ref_sq: row.clone(), dis_sq: row.clone(), ref_dis: row, ..VerticalRows::default() }
    }

    /// The five moment rows of `a` and `b` are equal, and not all zero.
    #[cfg(target_arch = "x86_64")]
    fn assert_same_moments(a: &VerticalRows, b: &VerticalRows) {
        for (x, y) in [(&a.mu1, &b.mu1), (&a.mu2, &b.mu2), (&a.ref_sq, &b.ref_sq), (&a.dis_sq, &b.dis_sq), (&a.ref_dis, &b.ref_dis)] {
            assert_eq!(x, y);
            assert!(x.iter().any(|&v| v != 0));
        }
    }

    /// The horizontal filter gives the same sums with `vpmaddwd` + `vpaddd` as with VNNI's
    /// `vpdpwssd`, for every scale's filter, on random half-planes with their extremes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn horizontal_filter_with_and_without_vnni_agree() {
        if !SimdLevel::hardware().permits(SimdLevel::Avx512) || !std::arch::is_x86_feature_detected!("avx512vnni") {
            return;
        }
        let to = 96;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            match seed % 8 {
                0 => i16::MIN,
                1 => i16::MAX,
                _ => (seed >> 16) as u16 as i16,
            }
        };
        for filter in crate::vif::VIF_FILTERS {
            let pairs = crate::vif::avx2::x86::folded_pairs(filter).expect("the VIF filters fold");
            let mut plain = VerticalRows::default();
            for plane in &mut plain.halves {
                *plane = (0..PAD + to + PAD).map(|_| next()).collect();
            }
            plain.filtered = std::array::from_fn(|_| vec![0; to]);
            let mut vnni = VerticalRows { halves: plain.halves.clone(), filtered: plain.filtered.clone(), ..VerticalRows::default() };
            // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above).
            unsafe {
                x86::filter_halves::<true>(&mut plain, &pairs, to);
                x86::filter_halves_vnni::<true>(&mut vnni, &pairs, to);
            }
            assert_eq!(plain.filtered, vnni.filtered, "filter of {} taps", filter.len());
            assert!(plain.filtered.iter().flatten().any(|&v| v != 0));
        }
    }
}
