//! The AVX2 horizontal filter of VIF over planes of 16-bit halves, 16 columns at a time:
//! the AVX-512 pass's arithmetic (`avx512::filter_halves`) on 256-bit registers.
//!
//! Each padded row of the vertical pass is split once into planes of its 16-bit halves,
//! offset by −2¹⁵ (μ1 and μ2, below 2¹⁶, one plane each; x², y² and xy a plane of low and
//! one of high halves). Per folded tap pair (k, n−1−k) and plane, the plane loaded at k and
//! at n−1−k is interleaved (`vpunpck{l,h}wd`) into lanes holding (value at k, value at
//! n−1−k) and multiplied by the pair's coefficients in one `vpmaddwd`: the same sums as
//! `avx2::filter_columns`, which builds those lanes from the 32-bit rows with two shifts
//! and two blends per tap and square. The sums are recombined as there (the −2¹⁵ offsets
//! add up to −2³¹, added back mod 2³²; a square is Σc·hi·2¹⁶ + Σc·lo, rounded by 2¹⁶).
//!
//! The 16 results of a moment come out as the interleaved halves hold them (columns
//! [0..4, 8..12] then [4..8, 12..16]) and are stored so: the same order for all five
//! moments, and the statistic's sums do not depend on the order of the pixels. The planes
//! are filtered at most four at a time, so that the eight accumulators, the coefficients
//! and the loads fit AVX2's sixteen registers.

use crate::vif::rows::{PAD, VerticalRows};

/// One padded row to split into planes: the row, the plane of its low halves, and that of
/// its high halves (none for the μ rows, below 2¹⁶).
pub(in crate::vif) type Split<'a> = (&'a [u32], &'a mut [i16], Option<&'a mut [i16]>);

/// The padded rows a split covers, each with its planes in `rows.halves`: μ2, y², xy, and
/// the reference's μ1 and x² `WITH_REFERENCE`.
pub(in crate::vif) fn split_targets<const WITH_REFERENCE: bool>(rows: &mut VerticalRows) -> impl Iterator<Item = Split<'_>> {
    let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, halves, .. } = rows;
    let [h_mu1, h_mu2, xx_lo, xx_hi, yy_lo, yy_hi, xy_lo, xy_hi] = halves;
    let targets: [Split<'_>; 5] = [
        (mu1, h_mu1, None),
        (mu2, h_mu2, None),
        (ref_sq, xx_lo, Some(xx_hi)),
        (dis_sq, yy_lo, Some(yy_hi)),
        (ref_dis, xy_lo, Some(xy_hi)),
    ];
    // The reference's rows are the first and the third.
    targets.into_iter().enumerate().filter(|&(k, _)| WITH_REFERENCE || (k != 0 && k != 2)).map(|(_, target)| target)
}

/// The planes of `rows.halves` (in their order) for a filter of the columns `0..to` reading
/// `half` entries past each side, where every plane holds them and every filtered row
/// `to` entries; none otherwise.
pub(in crate::vif) fn plane_pointers(rows: &VerticalRows, to: usize, half: usize) -> Option<[*const i16; 8]> {
    let fits = rows.halves.iter().all(|r| r.len() >= PAD + to + half) && rows.filtered.iter().all(|r| r.len() >= to);
    fits.then(|| rows.halves.each_ref().map(|r| r.as_ptr()))
}

/// The entries `from..to` of a split's row into its planes one by one (what a vector loop
/// leaves): each 16-bit half offset by −2¹⁵.
pub(in crate::vif) fn split_scalar((src, low, high): &mut Split<'_>, from: usize, to: usize) {
    for i in from..to {
        let v = src[i] ^ 0x8000_8000;
        low[i] = v as u16 as i16;
        if let Some(high) = high.as_deref_mut() {
            high[i] = (v >> 16) as u16 as i16;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(in crate::vif) mod x86 {
    use std::arch::x86_64::*;

    use super::{plane_pointers, split_scalar, split_targets};
    use crate::simd::avx2::{load256, store256};
    use crate::vif::rows::{PAD, VerticalRows};

    /// The padded rows' entries `lo..hi` (μ1's and x²'s only `WITH_REFERENCE`) into
    /// `rows.halves`, as `avx512::split_rows` lays them out: each 16-bit half offset by
    /// −2¹⁵, the low halves of a row in one plane and the high halves in another (μ rows
    /// only their low halves). The caller checked every row and plane holds `hi` entries.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn split_rows<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, lo: usize, hi: usize) {
        let bias = _mm256_set1_epi32(0x8000_8000u32 as i32);
        let low16 = _mm256_set1_epi32(0xFFFF);
        // `vpackusdw` takes values below 2¹⁶ as they are and interleaves the two sources by
        // 128-bit lane; `vpermq` puts the four quarters back in order.
        let pack = |x: __m256i, y: __m256i| _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(x, y));
        for mut split in split_targets::<WITH_REFERENCE>(rows) {
            let (src, low, high) = &mut split;
            let mut i = lo;
            while i + 16 <= hi {
                let (a, b) = (_mm256_xor_si256(load256(src, i), bias), _mm256_xor_si256(load256(src, i + 8), bias));
                store256(low, i, pack(_mm256_and_si256(a, low16), _mm256_and_si256(b, low16)));
                if let Some(high) = high.as_deref_mut() {
                    store256(high, i, pack(_mm256_srli_epi32::<16>(a), _mm256_srli_epi32::<16>(b)));
                }
                i += 16;
            }
            split_scalar(&mut split, i, hi);
        }
    }

    /// The sums of `N` planes over the tap pairs, 16 columns from `base`: per plane the
    /// accumulators of the interleaved low and high halves.
    ///
    /// # Safety
    /// The CPU must have AVX2, and every plane must hold 16 readable entries at `base + a`
    /// and `base + b` for each pair's offsets.
    #[inline(always)]
    unsafe fn filter_planes<const N: usize>(planes: [*const i16; N], pairs: &[(usize, usize, __m256i)], base: usize) -> [(__m256i, __m256i); N] {
        // SAFETY: AVX2 is present and the loads stay inside the planes (the contract).
        unsafe {
            let z = _mm256_setzero_si256();
            let mut sums = [(z, z); N];
            for &(a, b, c) in pairs {
                for (plane, (lo, hi)) in planes.iter().zip(&mut sums) {
                    let (va, vb) = (_mm256_loadu_si256(plane.add(base + a).cast()), _mm256_loadu_si256(plane.add(base + b).cast()));
                    *lo = _mm256_add_epi32(*lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(va, vb), c));
                    *hi = _mm256_add_epi32(*hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(va, vb), c));
                }
            }
            sums
        }
    }

    /// Horizontal filter of the columns `0..to` (a multiple of 16) from `rows.halves` into
    /// `rows.filtered` (μ1 and x² only `WITH_REFERENCE`), for the folded `pairs` of
    /// `avx2::folded_pairs`; nothing when a plane or a filtered row is too short.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn filter_halves<const WITH_REFERENCE: bool>(rows: &mut VerticalRows, pairs: &[(usize, usize, i32)], to: usize) {
        let half = pairs.len() - 1;
        let Some([p_mu1, p_mu2, p_xl, p_xh, p_yl, p_yh, p_pl, p_ph]) = plane_pointers(rows, to, half) else {
            return;
        };
        let filtered = &mut rows.filtered;
        let broadcast: [(usize, usize, __m256i); 9] = std::array::from_fn(|k| {
            let (a, b, c) = pairs.get(k).copied().unwrap_or_default();
            (a, b, _mm256_set1_epi32(c))
        });
        let pairs = &broadcast[..pairs.len()];
        let (unbias, round16) = (_mm256_set1_epi32(i32::MIN), _mm256_set1_epi32(32768));
        // Σc·(v − 32768) + 2³¹ = Σc·v (mod 2³²); the squares are Σc·hi·2¹⁶ + Σc·lo,
        // rounded by 2¹⁶: hi + (lo + 2¹⁵) >> 16.
        let mu = |s: __m256i| _mm256_add_epi32(s, unbias);
        let sq = |h: __m256i, l: __m256i| {
            let l = _mm256_srli_epi32::<16>(_mm256_add_epi32(_mm256_add_epi32(l, unbias), round16));
            _mm256_add_epi32(_mm256_add_epi32(h, unbias), l)
        };
        let put = |row: &mut Vec<u32>, j: usize, (lo, hi): (__m256i, __m256i)| {
            store256(row, j, lo);
            store256(row, j + 8, hi);
        };
        let mut j = 0;
        while j + 16 <= to {
            let base = PAD + j - half;
            let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &mut *filtered;
            if WITH_REFERENCE {
                // SAFETY: AVX2 is this function's target feature; every pair's offsets
                // are below 2·half + 1, so the 16 entries read at base + a and base + b
                // end below PAD + to + half, within every plane (`plane_pointers`).
                let [mu1, mu2, xl, xh] = unsafe { filter_planes([p_mu1, p_mu2, p_xl, p_xh], pairs, base) };
                put(f_mu1, j, (mu(mu1.0), mu(mu1.1)));
                put(f_mu2, j, (mu(mu2.0), mu(mu2.1)));
                put(f_xx, j, (sq(xh.0, xl.0), sq(xh.1, xl.1)));
            } else {
                // SAFETY: as above.
                let [mu2] = unsafe { filter_planes([p_mu2], pairs, base) };
                put(f_mu2, j, (mu(mu2.0), mu(mu2.1)));
            }
            // SAFETY: as above.
            let [yl, yh, pl, ph] = unsafe { filter_planes([p_yl, p_yh, p_pl, p_ph], pairs, base) };
            put(f_yy, j, (sq(yh.0, yl.0), sq(yh.1, yl.1)));
            put(f_xy, j, (sq(ph.0, pl.0), sq(ph.1, pl.1)));
            j += 16;
        }
    }
}
