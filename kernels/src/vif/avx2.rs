//! Hand-written AVX2 versions of the VIF row loops, bit-exact with [`super::rows`].
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`vertical_moments`] | 8-bit scale 0: the 17-tap vertical pass of μ1, μ2, x², y², xy (μ1 and x² in the reference's pass, the others in the distorted image's) | `vpmaddwd` on pairs of taps; squares (≤ 65025) biased by −32768 to fit `i16`, the bias (Σc·32768 = 2³¹) added back mod 2³² |
//! | [`vertical_moments`] (16-bit rows) | pyramid levels 1–3 (every depth) and scale 0 above 8 bits: the vertical pass of μ1, μ2, x², y², xy | symmetric taps folded into one `vpmaddwd` pair (the centre paired with itself, its coefficient halved, so scale 3's 43728 fits); values biased by −2¹⁵, Σc·2¹⁵ = 2³¹ added back; each square split by `vpmulhuw`/`vpmullw` into 16-bit halves summed apart (< 2³² each) and recombined as H·2¹⁶⁻ˢ + ((L + round) >> s), exact for shifts s ≤ 16 |
//! | [`horizontal_filter`], [`statistics`] | every scale and depth: horizontal pass (μ1 and x² in the reference's pass, the others in the distorted image's), then the per-pixel statistic of a row | the symmetric taps folded: one `vpmaddwd` per tap pair on lanes holding (value at k, value at n−1−k) as 16-bit halves (μ directly; each square as its low and its high halves, summed apart and recombined exactly); rows biased by −2¹⁵ once per row, not once per tap; the filtered row stored, then the statistic in a pass of its own (its long dependency chains overlap across groups), in integer lanes with `vpgatherdd` on the log2 table, the information term in `f64` lanes with the scalar's exact operation order |
//!
//! The statistic itself is in `avx2_statistic`, the down-sampling in `avx2_downsample`.
//! Other cases (an asymmetric filter, shifts above 16) run the scalar body compiled
//! with AVX2 enabled. Every path is compared with the scalar reference in
//! `tests/simd_and_threads.rs` and in `avx2_statistic`'s tests; integer sums are
//! order-independent, so splitting them over lanes changes nothing.

use crate::sample::Sample;
use crate::simd::SimdLevel;
use super::rows::{PAD, VerticalRows, horizontal_filter_scalar, statistics_scalar, vertical_moments_body};
use super::{LevelView, VerticalShifts, VifAccumulators};
pub use super::avx2_statistic::statistic_of_lanes;

/// The vertical pass with AVX2; `false` (nothing done) below [`SimdLevel::Avx2`].
pub(crate) fn vertical_moments<T: Sample, const REFERENCE: bool>(
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
            unsafe { x86::vertical_moments_u8::<REFERENCE>(r, d, taps, filter, shifts, rows, 0) };
        } else if let (Some(r), Some(d)) = (T::as_u16(reference.data), T::as_u16(distorted.data))
            && (1..=16).contains(&shifts.sq_shift)
            && shifts.mu_shift <= 16
            && is_symmetric(filter)
        {
            let r = LevelView { data: r, width: reference.width, height: reference.height };
            let d = LevelView { data: d, width: distorted.width, height: distorted.height };
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // a `#[target_feature(enable = "avx2")]` function.
            unsafe { x86::vertical_moments_u16::<REFERENCE>(r, d, taps, filter, shifts, rows, 0) };
        } else {
            // SAFETY: AVX2 is present (checked just above); the body is safe Rust.
            unsafe { vertical_moments_autovec::<T, REFERENCE>(reference, distorted, taps, filter, shifts, rows) };
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
fn vertical_moments_autovec<T: Sample, const REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    vertical_moments_body::<T, REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// The horizontal filter with AVX2; `false` below [`SimdLevel::Avx2`].
pub(crate) fn horizontal_filter<const REFERENCE: bool>(rows: &mut VerticalRows, w: usize, filter: &[u16], simd: SimdLevel) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above), the one requirement of the
        // `#[target_feature(enable = "avx2")]` function.
        let done = unsafe { x86::horizontal_filter::<REFERENCE>(rows, w, filter) };
        horizontal_filter_scalar::<REFERENCE>(rows, done, w, filter);
        return true;
    }
    let _ = (rows, w, filter, simd);
    false
}

/// The statistic of a row (see `rows::statistics`) with AVX2; `false` below
/// [`SimdLevel::Avx2`].
pub(crate) fn statistics(rows: &VerticalRows, w: usize, table: &[u16; 65537], simd: SimdLevel, total: &mut VifAccumulators) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        let w8 = w / 8 * 8;
        // SAFETY: AVX2 is present (checked just above), the one requirement of the
        // `#[target_feature(enable = "avx2")]` function.
        unsafe { super::avx2_statistic::x86::statistics_of_filtered(rows, 0, w8, table, total) };
        statistics_scalar(rows, w8, w, table, total);
        return true;
    }
    let _ = (rows, w, table, simd, total);
    false
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::*;
    use crate::simd::avx2::{load16_u8_widened, load256, store256};

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
    /// before by the caller): up to `w/16*16` in vectors, the rest scalar. With
    /// `REFERENCE` μ1 and x², else μ2, y² and xy (as `vertical_moments_body`).
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn vertical_moments_u8<const REFERENCE: bool>(
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
        let rd = reference.data;
        let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, .. } = rows;
        // The image whose μ and square this pass takes, and where they go.
        let (od, mu_row, sq_row) = if REFERENCE { (rd, mu1, ref_sq) } else { (distorted.data, mu2, dis_sq) };
        let bias = _mm256_set1_epi16(i16::MIN);
        let round = _mm256_set1_epi32(shifts.mu_round as i32);
        let shift = _mm_cvtsi32_si128(shifts.mu_shift as i32);
        let sq_bias = _mm256_set1_epi32(i32::MIN);
        let w16 = w / 16 * 16;
        let mut j = from;
        while j < w16 {
            let z = _mm256_setzero_si256();
            let (mut ml, mut mh, mut sql, mut sqh, mut xyl, mut xyh) = (z, z, z, z, z, z);
            for &(o0, o1, c) in pairs {
                let c = _mm256_set1_epi32(c);
                let (v0, v1) = (load16_u8_widened(od, o0 + j), load16_u8_widened(od, o1 + j));
                ml = _mm256_add_epi32(ml, _mm256_madd_epi16(_mm256_unpacklo_epi16(v0, v1), c));
                mh = _mm256_add_epi32(mh, _mm256_madd_epi16(_mm256_unpackhi_epi16(v0, v1), c));
                let vv0 = _mm256_xor_si256(_mm256_mullo_epi16(v0, v0), bias);
                let vv1 = _mm256_xor_si256(_mm256_mullo_epi16(v1, v1), bias);
                sql = _mm256_add_epi32(sql, _mm256_madd_epi16(_mm256_unpacklo_epi16(vv0, vv1), c));
                sqh = _mm256_add_epi32(sqh, _mm256_madd_epi16(_mm256_unpackhi_epi16(vv0, vv1), c));
                if !REFERENCE {
                    let (r0, r1) = (load16_u8_widened(rd, o0 + j), load16_u8_widened(rd, o1 + j));
                    let rv0 = _mm256_xor_si256(_mm256_mullo_epi16(r0, v0), bias);
                    let rv1 = _mm256_xor_si256(_mm256_mullo_epi16(r1, v1), bias);
                    xyl = _mm256_add_epi32(xyl, _mm256_madd_epi16(_mm256_unpacklo_epi16(rv0, rv1), c));
                    xyh = _mm256_add_epi32(xyh, _mm256_madd_epi16(_mm256_unpackhi_epi16(rv0, rv1), c));
                }
            }
            let mu = |v: __m256i| _mm256_srl_epi32(_mm256_add_epi32(v, round), shift);
            let sq = |v: __m256i| _mm256_add_epi32(v, sq_bias);
            // Lanes hold columns [0..4, 8..12] (lo) and [4..8, 12..16] (hi).
            let put = |dst: &mut [u32], lo: __m256i, hi: __m256i| {
                store256(dst, PAD + j, _mm256_permute2x128_si256::<0x20>(lo, hi));
                store256(dst, PAD + j + 8, _mm256_permute2x128_si256::<0x31>(lo, hi));
            };
            put(mu_row, mu(ml), mu(mh));
            put(sq_row, sq(sql), sq(sqh));
            if !REFERENCE {
                put(ref_dis, sq(xyl), sq(xyh));
            }
            j += 16;
        }
        // The last columns: the scalar arithmetic of `vertical_moments_body`.
        for j in w16..w {
            let (mut m, mut sq, mut xy) = (0u32, 0u32, 0u32);
            for (&row, &c) in taps.iter().zip(filter) {
                let c = u32::from(c);
                let (rv, ov) = (u32::from(rd[row * w + j]), u32::from(od[row * w + j]));
                m = m.wrapping_add(c * ov);
                sq = sq.wrapping_add(c * ov * ov);
                xy = xy.wrapping_add(c * rv * ov);
            }
            mu_row[PAD + j] = ((u64::from(m) + shifts.mu_round) >> shifts.mu_shift) as u32;
            sq_row[PAD + j] = sq;
            if !REFERENCE {
                ref_dis[PAD + j] = xy;
            }
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
    /// mod 2³² as the scalar's `as u32`.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn vertical_moments_u16<const REFERENCE: bool>(
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
        let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, .. } = rows;
        // The image whose μ and square this pass takes, and where they go.
        let (od, mu_row, sq_row) = if REFERENCE { (rd, mu1, ref_sq) } else { (dd, mu2, dis_sq) };
        let mut j = from;
        while j < w16 {
            // SAFETY: every tap row is below the height and j + 16 ≤ w, so the 16 words
            // read at row·w + j lie inside both planes (length checked above).
            let ld = |plane: &[u16], o: usize| unsafe { _mm256_loadu_si256(plane.as_ptr().add(o + j).cast()) };
            let z = (_mm256_setzero_si256(), _mm256_setzero_si256());
            // μ and the square of the pass's image first, then xy: at most 6 accumulators
            // at a time.
            let (mut m, mut sq_hi, mut sq_lo) = (z, z, z);
            for &(a, b, c) in pairs {
                let (va, vb) = (ld(od, a), ld(od, b));
                madd_pair(&mut m, va, vb, c);
                madd_pair(&mut sq_hi, _mm256_mulhi_epu16(va, va), _mm256_mulhi_epu16(vb, vb), c);
                madd_pair(&mut sq_lo, _mm256_mullo_epi16(va, va), _mm256_mullo_epi16(vb, vb), c);
            }
            let (m, sq_hi, sq_lo) = (unbiased(m), unbiased(sq_hi), unbiased(sq_lo));
            put(mu_row, j, (mu(m.0), mu(m.1)));
            put(sq_row, j, (sq(sq_hi.0, sq_lo.0), sq(sq_hi.1, sq_lo.1)));
            if !REFERENCE {
                let (mut xy_hi, mut xy_lo) = (z, z);
                for &(a, b, c) in pairs {
                    let (ra, rb, da, db) = (ld(rd, a), ld(rd, b), ld(dd, a), ld(dd, b));
                    madd_pair(&mut xy_hi, _mm256_mulhi_epu16(ra, da), _mm256_mulhi_epu16(rb, db), c);
                    madd_pair(&mut xy_lo, _mm256_mullo_epi16(ra, da), _mm256_mullo_epi16(rb, db), c);
                }
                let (xy_hi, xy_lo) = (unbiased(xy_hi), unbiased(xy_lo));
                put(ref_dis, j, (sq(xy_hi.0, xy_lo.0), sq(xy_hi.1, xy_lo.1)));
            }
            j += 16;
        }
        // The last columns: the scalar arithmetic of `vertical_moments_body`.
        for j in w16.max(from)..w {
            let (mut m, mut sq, mut xy) = (0u32, 0u64, 0u64);
            for (&row, &c) in taps.iter().zip(filter) {
                let c = u32::from(c);
                let (rv, ov) = (u32::from(rd[row * w + j]), u32::from(od[row * w + j]));
                m = m.wrapping_add(c * ov);
                sq += u64::from(c * ov) * u64::from(ov);
                xy += u64::from(c * rv) * u64::from(ov);
            }
            let square = |v: u64| ((v + shifts.sq_round) >> shifts.sq_shift) as u32;
            mu_row[PAD + j] = ((u64::from(m) + shifts.mu_round) >> shifts.mu_shift) as u32;
            sq_row[PAD + j] = square(sq);
            if !REFERENCE {
                ref_dis[PAD + j] = square(xy);
            }
        }
    }

    /// The pass's padded rows (μ1 and x² with `REFERENCE`, else μ2, y² and xy), entries
    /// `lo..hi`, into their places in `rows.biased`: μ rows (< 2¹⁶) as `v ^ 2¹⁵`, square
    /// rows as `v ^ 0x8000_8000` (each 16-bit half as a signed value offset by −2¹⁵, what
    /// `vpmaddwd` multiplies).
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn bias_rows<const REFERENCE: bool>(rows: &mut VerticalRows, lo: usize, hi: usize) {
        let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, biased, .. } = rows;
        let sources = [(&*mu1, 0x8000u32), (&*mu2, 0x8000), (&*ref_sq, 0x8000_8000), (&*dis_sq, 0x8000_8000), (&*ref_dis, 0x8000_8000)];
        let of_pass = |k: usize| matches!(k, 0 | 2) == REFERENCE;
        for (_, ((src, bias), dst)) in sources.into_iter().zip(biased.iter_mut()).enumerate().filter(|&(k, _)| of_pass(k)) {
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

    /// Horizontal filter of columns `0..w/8*8`; returns where it stopped.
    #[target_feature(enable = "avx2")]
    pub(super) fn horizontal_filter<const REFERENCE: bool>(rows: &mut VerticalRows, w: usize, filter: &[u16]) -> usize {
        let w8 = w / 8 * 8;
        let Some(pairs) = prepare_horizontal::<REFERENCE>(rows, w8, filter) else {
            return 0;
        };
        filter_columns::<REFERENCE>(rows, &pairs, 0, w8);
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

    /// The folded pairs of `filter`, with the padded rows biased (`bias_rows`) for the
    /// columns `0..to`; `None` (nothing done) when the filter or the rows do not fit.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn prepare_horizontal<const REFERENCE: bool>(rows: &mut VerticalRows, to: usize, filter: &[u16]) -> Option<FoldedPairs> {
        let pairs = folded_pairs(filter)?;
        let half = filter.len() / 2;
        let (lo, hi) = (PAD - half, PAD + to + half);
        if rows.biased.iter().chain([&rows.mu1, &rows.mu2, &rows.ref_sq, &rows.dis_sq, &rows.ref_dis]).any(|r| r.len() < hi) {
            return None;
        }
        bias_rows::<REFERENCE>(rows, lo, hi);
        Some(pairs)
    }

    /// Horizontal filter of columns `from..to` (multiples of 8) of the pass's biased rows
    /// (see [`bias_rows`]) into `rows.filtered`.
    ///
    /// The filters are symmetric, so taps k and n−1−k share a coefficient: one
    /// `vpmaddwd` takes both, on lanes holding (value at k, value at n−1−k) as 16-bit
    /// halves — μ directly (< 2¹⁶), each square as its low and its high halves, which
    /// are summed apart and recombined exactly. The centre tap is a pair with itself,
    /// its coefficient split in two (< 2¹⁵ each, as `vpmaddwd` multiplies signed
    /// values). Every half is offset by −2¹⁵ and the coefficients sum to 2¹⁶, so each
    /// sum is off by exactly −2³¹, added back mod 2³².
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn filter_columns<const REFERENCE: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], from: usize, to: usize) {
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
            let (mut mu, mut sqh, mut sql, mut xyh, mut xyl) = (z, z, z, z, z);
            let (m, sq) = if REFERENCE { (m1, x) } else { (m2, y) };
            for &(a, b, c) in pairs {
                let (a, b) = (base + a, base + b);
                // SAFETY: a and b lie in PAD − half..=PAD + to + half − 8 (j + 8 ≤ to, taps
                // below n), so the 8 entries read at each stay below hi, within every row
                // (checked above); unaligned loads.
                let ld = |row: *const u32, i: usize| unsafe { _mm256_loadu_si256(row.add(i).cast()) };
                // (μ at a, μ at b) as the two halves of each lane.
                let mu_pair = |row| _mm256_or_si256(ld(row, a), _mm256_slli_epi32::<16>(ld(row, b)));
                mu = _mm256_add_epi32(mu, _mm256_madd_epi16(mu_pair(m), c));
                // (low half at a, low half at b) and (high half at a, high half at b).
                let halves = |row, low: &mut __m256i, high: &mut __m256i| {
                    let (va, vb) = (ld(row, a), ld(row, b));
                    let lows = _mm256_blend_epi16::<0b1010_1010>(va, _mm256_slli_epi32::<16>(vb));
                    let highs = _mm256_blend_epi16::<0b1010_1010>(_mm256_srli_epi32::<16>(va), vb);
                    *low = _mm256_add_epi32(*low, _mm256_madd_epi16(lows, c));
                    *high = _mm256_add_epi32(*high, _mm256_madd_epi16(highs, c));
                };
                halves(sq, &mut sql, &mut sqh);
                if !REFERENCE {
                    halves(xy, &mut xyl, &mut xyh);
                }
            }
            // Σc·(v − 32768) + 2³¹ = Σc·v (mod 2³²); the squares are Σc·hi·2¹⁶ + Σc·lo,
            // rounded by 2¹⁶: hi + (lo + 2¹⁵) >> 16.
            let sq = |h: __m256i, l: __m256i| {
                let l = _mm256_srli_epi32::<16>(_mm256_add_epi32(_mm256_add_epi32(l, unbias), round16));
                _mm256_add_epi32(_mm256_add_epi32(h, unbias), l)
            };
            let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &mut *filtered;
            let (f_mu, f_sq) = if REFERENCE { (f_mu1, f_xx) } else { (f_mu2, f_yy) };
            store256(f_mu, j, _mm256_add_epi32(mu, unbias));
            store256(f_sq, j, sq(sqh, sql));
            if !REFERENCE {
                store256(f_xy, j, sq(xyh, xyl));
            }
            j += 8;
        }
    }

}
