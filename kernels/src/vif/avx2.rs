//! Hand-written AVX2 versions of the VIF row loops, bit-exact with [`super::rows`].
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`vertical_moments`] | 8-bit scale 0: the 17-tap vertical pass of μ1, μ2, x², y², xy | `vpmaddwd` on pairs of taps; squares (≤ 65025) biased by −32768 to fit `i16`, the bias (Σc·32768 = 2³¹) added back mod 2³² |
//! | [`vertical_moments`] (16-bit rows) | pyramid levels 1–3 (every depth) and scale 0 above 8 bits: the vertical pass of μ1, μ2, x², y², xy | symmetric taps folded into one `vpmaddwd` pair (the centre paired with itself, its coefficient halved, so scale 3's 43728 fits); values biased by −2¹⁵, Σc·2¹⁵ = 2³¹ added back; each square split by `vpmulhuw`/`vpmullw` into 16-bit halves summed apart (< 2³² each) and recombined as H·2¹⁶⁻ˢ + ((L + round) >> s), exact for shifts s ≤ 16 |
//! | [`horizontal_statistics`] | every scale and depth: horizontal pass + per-pixel statistic | the symmetric taps folded: one `vpmaddwd` per tap pair on lanes holding (value at k, value at n−1−k) as 16-bit halves (μ directly; each square as its low and its high halves, summed apart and recombined exactly), from the rows split once per row into planes of 16-bit halves offset by −2¹⁵ (`avx2_halves`, 16 columns at a time: one `vpunpck{l,h}wd` + `vpmaddwd` per pair and plane), the 8 columns after the last 16 from the rows biased in place (two shifts and blends per pair and square); the filtered row stored, then the statistic in a loop of its own (its long dependency chains overlap across groups), in integer lanes with `vpgatherdd` on the log2 table, the information term in `f64` lanes with the scalar's exact operation order |
//!
//! Each filter pass takes `WITH_REFERENCE` as the scalar one does (see
//! `rows::scale_statistics`): without it, μ1 and x² are neither filtered nor stored.
//! The statistic itself is in `avx2_statistic`, the down-sampling in `avx2_downsample`.
//! Other cases (an asymmetric filter, shifts above 16) run the scalar body compiled
//! with AVX2 enabled. Every path is compared with the scalar reference in
//! `tests/simd_and_threads.rs` and in `avx2_statistic`'s tests; integer sums are
//! order-independent, so splitting them over lanes changes nothing.

use crate::sample::Sample;
use crate::simd::SimdLevel;
use super::rows::{PAD, VerticalRows, horizontal_statistics_scalar, vertical_moments_body};
use super::{LevelView, VerticalShifts, VifAccumulators};
pub use super::avx2_statistic::statistic_of_lanes;

/// The vertical pass with AVX2; `false` (nothing done) below [`SimdLevel::Avx2`].
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
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        if let (Some(r), Some(d)) = (T::as_u8(reference.data), T::as_u8(distorted.data))
            && shifts.sq_shift == 0
            && filter.len() <= 17
            && filter.iter().all(|&c| c < 16384)
        {
            let r = LevelView { data: r, width: reference.width, height: reference.height };
            let d = LevelView { data: d, width: distorted.width, height: distorted.height };
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // a `#[target_feature(enable = "avx2")]` function.
            unsafe { x86::vertical_moments_u8::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows, 0) };
        } else if let (Some(r), Some(d)) = (T::as_u16(reference.data), T::as_u16(distorted.data))
            && (1..=16).contains(&shifts.sq_shift)
            && shifts.mu_shift <= 16
            && is_symmetric(filter)
        {
            let r = LevelView { data: r, width: reference.width, height: reference.height };
            let d = LevelView { data: d, width: distorted.width, height: distorted.height };
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // a `#[target_feature(enable = "avx2")]` function.
            unsafe { x86::vertical_moments_u16::<WITH_REFERENCE>(r, d, taps, filter, shifts, rows, 0) };
        } else {
            // SAFETY: AVX2 is present (checked just above); the body is safe Rust.
            unsafe { vertical_moments_autovec::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, rows) };
        }
        return true;
    }
    let _ = (reference, distorted, taps, filter, shifts, simd, rows);
    false
}

/// Whether `filter` reads the same backwards, with every coefficient of a mirrored pair
/// below 2¹⁵ and the centre below 2¹⁶ (what the folded multiply-adds need).
pub(in crate::vif) fn is_symmetric(filter: &[u16]) -> bool {
    let n = filter.len();
    n % 2 == 1 && (0..n / 2).all(|k| filter[k] == filter[n - 1 - k] && filter[k] < 32768)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_moments_autovec<T: Sample, const WITH_REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    vertical_moments_body::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// The horizontal pass and statistic with AVX2; `false` below [`SimdLevel::Avx2`].
pub(crate) fn horizontal_statistics<const WITH_REFERENCE: bool>(
    rows: &mut VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    simd: SimdLevel,
    total: &mut VifAccumulators,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above), the one requirement of the
        // `#[target_feature(enable = "avx2")]` function.
        let done = unsafe { x86::horizontal_statistics::<WITH_REFERENCE>(rows, w, filter, table, total) };
        horizontal_statistics_scalar::<WITH_REFERENCE>(rows, done, w, filter, table, total);
        return true;
    }
    let _ = (rows, w, filter, table, simd, total);
    false
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::*;
    use crate::simd::avx2::{load16_u8_widened, load256, store256};
    use crate::vif::avx2_halves::x86::{filter_halves, split_rows};

    /// The vertical pass's taps in pairs (k, k+1) as `(row offset of k, row offset of
    /// k+1, (c_{k+1} << 16) | c_k)`, an odd last tap paired with itself at coefficient 0;
    /// and how many pairs there are.
    pub(in crate::vif) fn adjacent_pairs(taps: &[usize], filter: &[u16], w: usize) -> ([(usize, usize, i32); 9], usize) {
        let n = filter.len();
        let mut pairs = [(0usize, 0usize, 0i32); 9];
        let npairs = n.div_ceil(2);
        for (p, pair) in pairs.iter_mut().enumerate().take(npairs) {
            let (k0, k1) = (2 * p, (2 * p + 1).min(n - 1));
            let c0 = i32::from(filter[k0]);
            let c1 = if 2 * p + 1 < n { i32::from(filter[k1]) } else { 0 };
            *pair = (taps[k0] * w, taps[k1] * w, (c1 << 16) | c0);
        }
        (pairs, npairs)
    }

    /// 8-bit scale 0 vertical pass of the columns from `from` (a multiple of 16, done
    /// before by the caller): up to `w/16*16` in vectors, the rest scalar; μ1 and x² only
    /// `WITH_REFERENCE`.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn vertical_moments_u8<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u8>,
        distorted: LevelView<'_, u8>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
        from: usize,
    ) {
        let w = reference.width;
        let (pairs, npairs) = adjacent_pairs(taps, filter, w);
        let pairs = &pairs[..npairs];
        let (rd, dd) = (reference.data, distorted.data);
        let bias = _mm256_set1_epi16(i16::MIN);
        let round = _mm256_set1_epi32(shifts.mu_round as i32);
        let shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
        let sq_bias = _mm256_set1_epi32(i32::MIN);
        let w16 = w / 16 * 16;
        let mut j = from;
        while j < w16 {
            let z = _mm256_setzero_si256();
            let (mut m1l, mut m1h, mut m2l, mut m2h) = (z, z, z, z);
            let (mut xxl, mut xxh, mut yyl, mut yyh, mut xyl, mut xyh) = (z, z, z, z, z, z);
            for &(o0, o1, c) in pairs {
                let c = _mm256_set1_epi32(c);
                let (r0, r1) = (load16_u8_widened(rd, o0 + j), load16_u8_widened(rd, o1 + j));
                let (d0, d1) = (load16_u8_widened(dd, o0 + j), load16_u8_widened(dd, o1 + j));
                if WITH_REFERENCE {
                    m1l = _mm256_add_epi32(m1l, _mm256_madd_epi16(_mm256_unpacklo_epi16(r0, r1), c));
                    m1h = _mm256_add_epi32(m1h, _mm256_madd_epi16(_mm256_unpackhi_epi16(r0, r1), c));
                }
                m2l = _mm256_add_epi32(m2l, _mm256_madd_epi16(_mm256_unpacklo_epi16(d0, d1), c));
                m2h = _mm256_add_epi32(m2h, _mm256_madd_epi16(_mm256_unpackhi_epi16(d0, d1), c));
                if WITH_REFERENCE {
                    let rr0 = _mm256_xor_si256(_mm256_mullo_epi16(r0, r0), bias);
                    let rr1 = _mm256_xor_si256(_mm256_mullo_epi16(r1, r1), bias);
                    xxl = _mm256_add_epi32(xxl, _mm256_madd_epi16(_mm256_unpacklo_epi16(rr0, rr1), c));
                    xxh = _mm256_add_epi32(xxh, _mm256_madd_epi16(_mm256_unpackhi_epi16(rr0, rr1), c));
                }
                let dd0 = _mm256_xor_si256(_mm256_mullo_epi16(d0, d0), bias);
                let dd1 = _mm256_xor_si256(_mm256_mullo_epi16(d1, d1), bias);
                let rd0 = _mm256_xor_si256(_mm256_mullo_epi16(r0, d0), bias);
                let rd1 = _mm256_xor_si256(_mm256_mullo_epi16(r1, d1), bias);
                yyl = _mm256_add_epi32(yyl, _mm256_madd_epi16(_mm256_unpacklo_epi16(dd0, dd1), c));
                yyh = _mm256_add_epi32(yyh, _mm256_madd_epi16(_mm256_unpackhi_epi16(dd0, dd1), c));
                xyl = _mm256_add_epi32(xyl, _mm256_madd_epi16(_mm256_unpacklo_epi16(rd0, rd1), c));
                xyh = _mm256_add_epi32(xyh, _mm256_madd_epi16(_mm256_unpackhi_epi16(rd0, rd1), c));
            }
            let mu = |v: __m256i| _mm256_srl_epi32(_mm256_add_epi32(v, round), shift);
            let sq = |v: __m256i| _mm256_add_epi32(v, sq_bias);
            // Lanes hold columns [0..4, 8..12] (lo) and [4..8, 12..16] (hi).
            let put = |dst: &mut [u32], lo: __m256i, hi: __m256i| {
                store256(dst, PAD + j, _mm256_permute2x128_si256::<0x20>(lo, hi));
                store256(dst, PAD + j + 8, _mm256_permute2x128_si256::<0x31>(lo, hi));
            };
            if WITH_REFERENCE {
                put(&mut rows.mu1, mu(m1l), mu(m1h));
                put(&mut rows.ref_sq, sq(xxl), sq(xxh));
            }
            put(&mut rows.mu2, mu(m2l), mu(m2h));
            put(&mut rows.dis_sq, sq(yyl), sq(yyh));
            put(&mut rows.ref_dis, sq(xyl), sq(xyh));
            j += 16;
        }
        // The last columns: the scalar arithmetic of `vertical_moments_body`.
        for j in w16..w {
            let (mut m1, mut m2, mut xx, mut yy, mut xy) = (0u32, 0u32, 0u32, 0u32, 0u32);
            for (&row, &c) in taps.iter().zip(filter) {
                let c = u32::from(c);
                let (rv, dv) = (u32::from(rd[row * w + j]), u32::from(dd[row * w + j]));
                m1 = m1.wrapping_add(c * rv);
                m2 = m2.wrapping_add(c * dv);
                xx = xx.wrapping_add(c * rv * rv);
                yy = yy.wrapping_add(c * dv * dv);
                xy = xy.wrapping_add(c * rv * dv);
            }
            let mu = |v: u32| ((u64::from(v) + shifts.mu_round) >> shifts.mu_shift) as u32;
            if WITH_REFERENCE {
                rows.mu1[PAD + j] = mu(m1);
                rows.ref_sq[PAD + j] = xx;
            }
            rows.mu2[PAD + j] = mu(m2);
            rows.dis_sq[PAD + j] = yy;
            rows.ref_dis[PAD + j] = xy;
        }
    }

    /// The vertical pass on 16-bit rows: pyramid levels 1–3 and scale 0 above 8 bits.
    /// Columns from `from` (a multiple of 16, done before by the caller) up to `w/16*16`
    /// in vectors, the rest scalar.
    ///
    /// The filter is symmetric: taps k and n−1−k are one `vpmaddwd` pair (c, c), the
    /// centre a pair with itself (⌊c/2⌋, ⌈c/2⌉). μ sums Σc·v (< 2³² for v < 2¹⁶). A
    /// square v·w (< 2³²) is taken as its high and low 16-bit halves
    /// (`vpmulhuw`, `vpmullw`), Σc·hi = H and Σc·lo = L (each < 2³²); then
    /// (2¹⁶·H + L + round) >> s = H·2¹⁶⁻ˢ + ((L + round) >> s) exactly for s ≤ 16,
    /// mod 2³² as the scalar's `as u32`. μ1 and x² only `WITH_REFERENCE`.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn vertical_moments_u16<const WITH_REFERENCE: bool>(
        reference: LevelView<'_, u16>,
        distorted: LevelView<'_, u16>,
        taps: &[usize],
        filter: &[u16],
        shifts: VerticalShifts,
        rows: &mut VerticalRows,
        from: usize,
    ) {
        let w = reference.width;
        let n = filter.len();
        let half = n / 2;
        let mut pairs = [(0usize, 0usize, _mm256_setzero_si256()); 9];
        for (k, pair) in pairs.iter_mut().enumerate().take(half + 1) {
            let c = i32::from(filter[k]);
            let (ca, cb) = if k == half { (c / 2, c - c / 2) } else { (c, c) };
            *pair = (taps[k] * w, taps[n - 1 - k] * w, _mm256_set1_epi32((cb << 16) | ca));
        }
        let pairs = &pairs[..=half];
        let (rd, dd) = (reference.data, distorted.data);
        let mu_round = _mm256_set1_epi32(shifts.mu_round as i32);
        let mu_shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
        let sq_round = _mm256_set1_epi32(shifts.sq_round as i32);
        let sq_shift = _mm_cvtsi32_si128(shifts.sq_shift as i32);
        let high_shift = _mm_cvtsi32_si128(16 - shifts.sq_shift as i32);
        let mu = |v: __m256i| _mm256_srl_epi32(_mm256_add_epi32(v, mu_round), mu_shift);
        let sq = |high: __m256i, low: __m256i| {
            _mm256_add_epi32(_mm256_sll_epi32(high, high_shift), _mm256_srl_epi32(_mm256_add_epi32(low, sq_round), sq_shift))
        };
        // Lanes hold columns [0..4, 8..12] (lo) and [4..8, 12..16] (hi).
        let put = |dst: &mut [u32], j: usize, (lo, hi): (__m256i, __m256i)| {
            store256(dst, PAD + j, _mm256_permute2x128_si256::<0x20>(lo, hi));
            store256(dst, PAD + j + 8, _mm256_permute2x128_si256::<0x31>(lo, hi));
        };
        let w16 = if rd.len() < w * reference.height || dd.len() < w * reference.height { 0 } else { w / 16 * 16 };
        let (bias, unbias) = (_mm256_set1_epi16(i16::MIN), _mm256_set1_epi32(i32::MIN));
        // (a, b) biased by −2¹⁵ and interleaved, times the pair's coefficients, added
        // into the columns [0..4, 8..12] and [4..8, 12..16].
        let madd_pair = |(lo, hi): &mut (__m256i, __m256i), a: __m256i, b: __m256i, c: __m256i| {
            let (a, b) = (_mm256_xor_si256(a, bias), _mm256_xor_si256(b, bias));
            *lo = _mm256_add_epi32(*lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), c));
            *hi = _mm256_add_epi32(*hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), c));
        };
        let unbiased = |(lo, hi): (__m256i, __m256i)| (_mm256_add_epi32(lo, unbias), _mm256_add_epi32(hi, unbias));
        let mut j = from;
        while j < w16 {
            // SAFETY: every tap row is below the height and j + 16 ≤ w, so the 16 words
            // read at row·w + j lie inside both planes (length checked above).
            let ld = |plane: &[u16], o: usize| unsafe { _mm256_loadu_si256(plane.as_ptr().add(o + j).cast()) };
            let z = (_mm256_setzero_si256(), _mm256_setzero_si256());
            // μ1, μ2 and x² first, then y² and xy: 8 accumulators at a time.
            let (mut m1, mut m2, mut xx_hi, mut xx_lo) = (z, z, z, z);
            for &(a, b, c) in pairs {
                let (da, db) = (ld(dd, a), ld(dd, b));
                madd_pair(&mut m2, da, db, c);
                if WITH_REFERENCE {
                    let (ra, rb) = (ld(rd, a), ld(rd, b));
                    madd_pair(&mut m1, ra, rb, c);
                    madd_pair(&mut xx_hi, _mm256_mulhi_epu16(ra, ra), _mm256_mulhi_epu16(rb, rb), c);
                    madd_pair(&mut xx_lo, _mm256_mullo_epi16(ra, ra), _mm256_mullo_epi16(rb, rb), c);
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
                madd_pair(&mut yy_hi, _mm256_mulhi_epu16(da, da), _mm256_mulhi_epu16(db, db), c);
                madd_pair(&mut yy_lo, _mm256_mullo_epi16(da, da), _mm256_mullo_epi16(db, db), c);
                madd_pair(&mut xy_hi, _mm256_mulhi_epu16(ra, da), _mm256_mulhi_epu16(rb, db), c);
                madd_pair(&mut xy_lo, _mm256_mullo_epi16(ra, da), _mm256_mullo_epi16(rb, db), c);
            }
            let (yy_hi, yy_lo, xy_hi, xy_lo) = (unbiased(yy_hi), unbiased(yy_lo), unbiased(xy_hi), unbiased(xy_lo));
            put(&mut rows.dis_sq, j, (sq(yy_hi.0, yy_lo.0), sq(yy_hi.1, yy_lo.1)));
            put(&mut rows.ref_dis, j, (sq(xy_hi.0, xy_lo.0), sq(xy_hi.1, xy_lo.1)));
            j += 16;
        }
        // The last columns: the scalar arithmetic of `vertical_moments_body`.
        for j in w16.max(from)..w {
            let (mut m1, mut m2, mut xx, mut yy, mut xy) = (0u32, 0u32, 0u64, 0u64, 0u64);
            for (&row, &c) in taps.iter().zip(filter) {
                let c = u32::from(c);
                let (rv, dv) = (u32::from(rd[row * w + j]), u32::from(dd[row * w + j]));
                m1 = m1.wrapping_add(c * rv);
                m2 = m2.wrapping_add(c * dv);
                xx += u64::from(c * rv) * u64::from(rv);
                yy += u64::from(c * dv) * u64::from(dv);
                xy += u64::from(c * rv) * u64::from(dv);
            }
            let mu = |v: u32| ((u64::from(v) + shifts.mu_round) >> shifts.mu_shift) as u32;
            let sq = |v: u64| ((v + shifts.sq_round) >> shifts.sq_shift) as u32;
            if WITH_REFERENCE {
                rows.mu1[PAD + j] = mu(m1);
                rows.ref_sq[PAD + j] = sq(xx);
            }
            rows.mu2[PAD + j] = mu(m2);
            rows.dis_sq[PAD + j] = sq(yy);
            rows.ref_dis[PAD + j] = sq(xy);
        }
    }

    /// The five padded rows (μ1 and x² only `WITH_REFERENCE`), entries `lo..hi`, into
    /// `rows.biased`: μ rows (< 2¹⁶) as `v ^ 2¹⁵`, square rows as `v ^ 0x8000_8000` (each
    /// 16-bit half as a signed value offset by −2¹⁵, what `vpmaddwd` multiplies).
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn bias_rows<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, lo: usize, hi: usize) {
        let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, biased, .. } = rows;
        let sources = [(&*mu1, 0x8000u32), (&*mu2, 0x8000), (&*ref_sq, 0x8000_8000), (&*dis_sq, 0x8000_8000), (&*ref_dis, 0x8000_8000)];
        let of_reference = |k: usize| k == 0 || k == 2;
        for (_, ((src, bias), dst)) in sources.into_iter().zip(biased.iter_mut()).enumerate().filter(|&(k, _)| WITH_REFERENCE || !of_reference(k)) {
            let (src, dst) = (&src[lo..hi], &mut dst[lo..hi]);
            let mut i = 0;
            while i + 8 <= src.len() {
                store256(dst, i, _mm256_xor_si256(load256(src, i), _mm256_set1_epi32(bias as i32)));
                i += 8;
            }
            for i in i..src.len() {
                dst[i] = src[i] ^ bias;
            }
        }
    }

    /// Horizontal filter and statistic of columns `0..w/8*8`; returns where it stopped.
    /// The filter runs over planes of 16-bit halves (`avx2_halves`) for `0..w/16*16`, and
    /// over the biased 32-bit rows (`filter_columns`) for the 8 columns after them.
    #[target_feature(enable = "avx2")]
    pub(super) fn horizontal_statistics<const WITH_REFERENCE: bool>(
        rows: &mut VerticalRows,
        w: usize,
        filter: &[u16],
        table: &[u16; 65537],
        total: &mut VifAccumulators,
    ) -> usize {
        let (w8, w16) = (w / 8 * 8, w / 16 * 16);
        let Some(pairs) = folded_pairs(filter) else {
            return 0;
        };
        let half = filter.len() / 2;
        let padded = [&rows.mu1, &rows.mu2, &rows.ref_sq, &rows.dis_sq, &rows.ref_dis].into_iter().chain(&rows.biased).map(Vec::len);
        if padded.chain(rows.halves.iter().map(Vec::len)).any(|len| len < PAD + w8 + half) || rows.filtered.iter().any(|r| r.len() < w8) {
            return 0;
        }
        if w16 > 0 {
            split_rows::<WITH_REFERENCE>(rows, PAD - half, PAD + w16 + half);
            filter_halves::<WITH_REFERENCE>(rows, &pairs, w16);
        }
        if w8 > w16 {
            bias_rows::<WITH_REFERENCE>(rows, PAD + w16 - half, PAD + w8 + half);
            filter_columns::<WITH_REFERENCE>(rows, &pairs, w16, w8);
        }
        crate::vif::avx2_statistic::x86::statistics_of_filtered(rows, 0, w8, table, total);
        w8
    }

    /// The folded tap pairs of one filter, at most 9 (the 17-tap filter's 8 and its
    /// centre), held in place so that the rows' horizontal passes allocate nothing.
    #[derive(Debug, Clone, Copy)]
    pub(in crate::vif) struct FoldedPairs {
        pairs: [(usize, usize, i32); 9],
        len: usize,
    }

    impl std::ops::Deref for FoldedPairs {
        type Target = [(usize, usize, i32)];

        fn deref(&self) -> &Self::Target {
            &self.pairs[..self.len]
        }
    }

    /// The folded tap pairs of a symmetric `filter` (see [`filter_columns`]), the centre
    /// last, as `(k, n−1−k, (c_b << 16) | c_a)`; `None` for a filter they cannot take.
    pub(in crate::vif) fn folded_pairs(filter: &[u16]) -> Option<FoldedPairs> {
        let n = filter.len();
        let half = n / 2;
        let mut folded = FoldedPairs { pairs: [(0, 0, 0); 9], len: half + 1 };
        if folded.len > folded.pairs.len() {
            return None;
        }
        for k in 0..=half {
            let c = i32::from(filter[k]);
            let (ca, cb) = if k == half { (c / 2, c - c / 2) } else { (c, c) };
            if ca > 32767 || cb > 32767 || filter[k] != filter[n - 1 - k] {
                return None;
            }
            folded.pairs[k] = (k, n - 1 - k, (cb << 16) | ca);
        }
        Some(folded)
    }

    /// Horizontal filter of columns `from..to` (multiples of 8) of the biased rows into
    /// `rows.filtered` (μ1 and x² only `WITH_REFERENCE`).
    ///
    /// The filters are symmetric, so taps k and n−1−k share a coefficient: one
    /// `vpmaddwd` takes both, on lanes holding (value at k, value at n−1−k) as 16-bit
    /// halves — μ directly (< 2¹⁶), each square as its low and its high halves, which
    /// are summed apart and recombined exactly. The centre tap is a pair with itself,
    /// its coefficient split in two (< 2¹⁵ each, as `vpmaddwd` multiplies signed
    /// values). Every half is offset by −2¹⁵ and the coefficients sum to 2¹⁶, so each
    /// sum is off by exactly −2³¹, added back mod 2³².
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn filter_columns<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], from: usize, to: usize) {
        let half = pairs.len() - 1;
        let broadcast: [(usize, usize, __m256i); 9] = std::array::from_fn(|k| {
            let (a, b, c) = pairs.get(k).copied().unwrap_or_default();
            (a, b, _mm256_set1_epi32(c))
        });
        let pairs = &broadcast[..pairs.len()];
        let hi = PAD + to + half;
        if to > from && rows.biased.iter().any(|r| r.len() < hi) {
            return;
        }
        let [m1, m2, x, y, xy] = rows.biased.each_ref().map(|r| r.as_ptr());
        let filtered = &mut rows.filtered;
        let unbias = _mm256_set1_epi32(i32::MIN);
        let round16 = _mm256_set1_epi32(32768);
        let mut j = from;
        while j + 8 <= to {
            let base = PAD + j - half;
            let z = _mm256_setzero_si256();
            let (mut mu1, mut mu2) = (z, z);
            let (mut xxh, mut xxl, mut yyh, mut yyl, mut xyh, mut xyl) = (z, z, z, z, z, z);
            for &(a, b, c) in pairs {
                let (a, b) = (base + a, base + b);
                // SAFETY: a and b lie in PAD − half..=PAD + to + half − 8 (j + 8 ≤ to, taps
                // below n), so the 8 entries read at each stay below hi, within every row
                // (checked above); unaligned loads.
                let ld = |row: *const u32, i: usize| unsafe { _mm256_loadu_si256(row.add(i).cast()) };
                // (μ at a, μ at b) as the two halves of each lane.
                let mu_pair = |row| _mm256_or_si256(ld(row, a), _mm256_slli_epi32::<16>(ld(row, b)));
                if WITH_REFERENCE {
                    mu1 = _mm256_add_epi32(mu1, _mm256_madd_epi16(mu_pair(m1), c));
                }
                mu2 = _mm256_add_epi32(mu2, _mm256_madd_epi16(mu_pair(m2), c));
                // (low half at a, low half at b) and (high half at a, high half at b).
                let halves = |row, low: &mut __m256i, high: &mut __m256i| {
                    let (va, vb) = (ld(row, a), ld(row, b));
                    let lows = _mm256_blend_epi16::<0b1010_1010>(va, _mm256_slli_epi32::<16>(vb));
                    let highs = _mm256_blend_epi16::<0b1010_1010>(_mm256_srli_epi32::<16>(va), vb);
                    *low = _mm256_add_epi32(*low, _mm256_madd_epi16(lows, c));
                    *high = _mm256_add_epi32(*high, _mm256_madd_epi16(highs, c));
                };
                if WITH_REFERENCE {
                    halves(x, &mut xxl, &mut xxh);
                }
                halves(y, &mut yyl, &mut yyh);
                halves(xy, &mut xyl, &mut xyh);
            }
            // Σc·(v − 32768) + 2³¹ = Σc·v (mod 2³²); the squares are Σc·hi·2¹⁶ + Σc·lo,
            // rounded by 2¹⁶: hi + (lo + 2¹⁵) >> 16.
            let mu1 = _mm256_add_epi32(mu1, unbias);
            let mu2 = _mm256_add_epi32(mu2, unbias);
            let sq = |h: __m256i, l: __m256i| {
                let l = _mm256_srli_epi32::<16>(_mm256_add_epi32(_mm256_add_epi32(l, unbias), round16));
                _mm256_add_epi32(_mm256_add_epi32(h, unbias), l)
            };
            let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &mut *filtered;
            if WITH_REFERENCE {
                store256(f_mu1, j, mu1);
                store256(f_xx, j, sq(xxh, xxl));
            }
            store256(f_mu2, j, mu2);
            store256(f_yy, j, sq(yyh, yyl));
            store256(f_xy, j, sq(xyh, xyl));
            j += 8;
        }
    }

}
