//! Integer VIF (visual information fidelity) at 4 scales, bit-exact with libvmaf's
//! `feature/integer_vif.c` (`vif_statistic_8/16`, `subsample_rd_8/16`).
//!
//! Per scale: separable Gaussian filters in Q16 give μ1, μ2, E[x²], E[y²], E[xy] at every
//! pixel; the per-pixel information terms are accumulated in int64 with a log2 look-up
//! table; `num/den` per scale is computed in `f32`. Scale k > 0 is the previous scale
//! low-passed with filter k and decimated by 2 (floor). Edges mirror without repeating
//! the edge sample (reflect-101) in both directions.
//!
//! The hot row loops live in [`crate::vif::rows`], which picks an AVX2 version at run
//! time; this file keeps the frame-level flow and the exact arithmetic of one pixel.

pub mod avx2;
pub mod rows;

use std::sync::OnceLock;

use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Q16 Gaussian filters of the 4 scales (`vif_filter1d_table`), 17, 9, 5 and 3 taps.
pub const VIF_FILTERS: [&[u16]; 4] = [
    &[489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640, 935, 489],
    &[1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244],
    &[3571, 16004, 26386, 16004, 3571],
    &[10904, 43728, 10904],
];

/// σn² = 2.0 in Q16.
pub(crate) const SIGMA_NSQ: i32 = 65536 << 1;
/// Default `vif_enhn_gain_limit`.
pub(crate) const ENHANCEMENT_GAIN_LIMIT: f64 = 100.0;

/// Smallest width/height the 4-scale pyramid supports with in-range mirroring.
pub const MIN_VIF_SIZE: usize = 16;

/// `log2_table[i] = round(log2f(i) * 2048)` for i in 32767..=65535 (`log_generate`).
pub(crate) fn log2_table() -> &'static [u16; 65537] {
    static TABLE: OnceLock<Box<[u16; 65537]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0u16; 65537]);
        for (i, entry) in t.iter_mut().enumerate().take(65536).skip(32767) {
            // libvmaf: (uint16_t)round(log2f((float)i) * 2048), the product in float.
            *entry = f64::from((i as f32).log2() * 2048.0).round() as u16;
        }
        t
    })
}

/// `log2_32`: log2 of a value ≥ 2^17 in Q11, from its best 16 bits.
#[inline(always)]
pub(crate) fn log2_32(table: &[u16; 65537], value: u32) -> i32 {
    let k = 16 - value.leading_zeros() as i32;
    i32::from(table[(value >> k) as usize]) + 2048 * k
}

/// `log2_64`: log2 of a value ≥ 2^17 in Q11, from its best 16 bits.
#[inline(always)]
pub(crate) fn log2_64(table: &[u16; 65537], value: u64) -> i32 {
    let k = 48 - value.leading_zeros() as i32;
    i32::from(table[(value >> k) as usize]) + 2048 * k
}

/// The four int64 accumulators of one scale (`VifResiduals`). Sums of them over any
/// split of the pixels are equal, which keeps SIMD and threaded versions exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VifAccumulators {
    pub num_log: i64,
    pub den_log: i64,
    pub num_non_log: i64,
    pub den_non_log: i64,
}

impl VifAccumulators {
    pub fn add(&mut self, other: &VifAccumulators) {
        self.num_log += other.num_log;
        self.den_log += other.den_log;
        self.num_non_log += other.num_non_log;
        self.den_non_log += other.den_non_log;
    }

    /// `(num, den)` as libvmaf stores them: computed in double, kept as float.
    pub fn num_den(&self) -> (f32, f32) {
        let num = self.num_log as f64 / 2048.0
            + (self.den_non_log as f64 - (self.num_non_log as f64 / 16384.0) / 65025.0);
        let den = self.den_log as f64 / 2048.0 + self.den_non_log as f64;
        (num as f32, den as f32)
    }

    /// The contribution of one pixel, from the filtered moments
    /// (μ1, μ2 in Q32 of the sample; E[x²], E[y²], E[xy] in Q16 of the squared sample).
    #[inline(always)]
    pub(crate) fn add_pixel(&mut self, table: &[u16; 65537], mu1: u32, mu2: u32, xx: u32, yy: u32, xy: u32) {
        let mu1_sq = ((u64::from(mu1) * u64::from(mu1) + 2147483648) >> 32) as u32;
        let mu2_sq = ((u64::from(mu2) * u64::from(mu2) + 2147483648) >> 32) as u32;
        let mu1_mu2 = ((u64::from(mu1) * u64::from(mu2) + 2147483648) >> 32) as u32;
        let sigma1_sq = xx.wrapping_sub(mu1_sq) as i32;
        let sigma2_sq = (yy.wrapping_sub(mu2_sq) as i32).max(0);
        let sigma12 = xy.wrapping_sub(mu1_mu2) as i32;
        if sigma1_sq >= SIGMA_NSQ {
            self.den_log += i64::from(log2_32(table, (SIGMA_NSQ + sigma1_sq) as u32) - 2048 * 17);
            if sigma12 > 0 && sigma2_sq > 0 {
                self.num_log += information_term(table, sigma1_sq, sigma2_sq, sigma12);
            }
        } else {
            self.num_non_log += i64::from(sigma2_sq);
            self.den_non_log += 1;
        }
    }
}

/// `log2(sv² + σn² + g²σ1²) − log2(sv² + σn²)` in Q11, for σ1² ≥ σn², σ12 > 0, σ2² > 0.
#[inline(always)]
pub(crate) fn information_term(table: &[u16; 65537], sigma1_sq: i32, sigma2_sq: i32, sigma12: i32) -> i64 {
    const EPS: f64 = 65536.0 * 1.0e-10;
    let g = f64::from(sigma12) / (f64::from(sigma1_sq) + EPS);
    let sv_sq = (f64::from(sigma2_sq) - g * f64::from(sigma12)) as i32;
    let sv_sq = sv_sq.max(0) as u32;
    let g = g.min(ENHANCEMENT_GAIN_LIMIT);
    let numer1 = sv_sq.wrapping_add(SIGMA_NSQ as u32);
    let numer1_tmp = (g * g * f64::from(sigma1_sq)) as i64 + i64::from(numer1);
    i64::from(log2_64(table, numer1_tmp as u64)) - i64::from(log2_64(table, u64::from(numer1)))
}

/// Rounding of the vertical pass: `(sum + round) >> shift` for μ and for the squares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerticalShifts {
    pub mu_round: u64,
    pub mu_shift: u32,
    pub sq_round: u64,
    pub sq_shift: u32,
}

impl VerticalShifts {
    /// Scale 0 reads samples of `bit_depth` bits; later scales read Q16-normalised values.
    pub fn for_scale(scale: usize, bit_depth: u32) -> Self {
        if scale == 0 {
            let sq_shift = (bit_depth - 8) * 2;
            Self {
                mu_round: 1 << (bit_depth - 1),
                mu_shift: bit_depth,
                sq_round: if sq_shift == 0 { 0 } else { 1 << (sq_shift - 1) },
                sq_shift,
            }
        } else {
            Self { mu_round: 32768, mu_shift: 16, sq_round: 32768, sq_shift: 16 }
        }
    }
}

/// Reflect-101 mirror of `index` into `0..size` (libvmaf's VIF padding).
#[inline(always)]
pub(crate) fn mirror(index: isize, size: usize) -> usize {
    let size = size as isize;
    let m = if index < 0 {
        -index
    } else if index >= size {
        2 * (size - 1) - index
    } else {
        index
    };
    m.clamp(0, size - 1) as usize
}

/// Scratch memory of one VIF computation, reused from frame to frame.
#[derive(Debug, Default)]
pub struct VifScratch {
    /// Vertical-pass rows with `PAD` extra entries on each side for the horizontal mirror.
    pub(crate) rows: rows::VerticalRows,
    /// The pyramid levels of the reference and the distorted image (scale 1..3).
    level_ref: Vec<u16>,
    level_dis: Vec<u16>,
    next_ref: Vec<u16>,
    next_dis: Vec<u16>,
    down_rows: rows::DownsampleRows,
}

/// Per-scale `num` and `den`, as libvmaf keeps them (float).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VifScores {
    pub num: [f32; 4],
    pub den: [f32; 4],
}

impl VifScores {
    /// `integer_vif_scaleK`: `num/den` computed in float, widened to double.
    pub fn scale(&self, k: usize) -> f64 {
        f64::from(self.num[k] / self.den[k])
    }
}

/// A view on one image of the pyramid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelView<'a, T> {
    pub data: &'a [T],
    pub width: usize,
    pub height: usize,
}

/// Integer VIF of a reference/distorted luma pair of `bit_depth` bits.
pub fn vif<T: Sample>(
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut VifScratch,
) -> VifScores {
    let table = log2_table();
    let bpc = u32::from(bit_depth);
    let (w, h) = (reference.width(), reference.height());
    let mut scores = VifScores::default();

    let ref0 = LevelView { data: reference.data(), width: w, height: h };
    let dis0 = LevelView { data: distorted.data(), width: w, height: h };
    let acc = rows::scale_statistics(ref0, dis0, 0, VerticalShifts::for_scale(0, bpc), table, simd, &mut scratch.rows);
    (scores.num[0], scores.den[0]) = acc.num_den();

    // Scale 1 from the samples, then from the previous u16 level.
    let (mut lw, mut lh) = (w / 2, h / 2);
    rows::downsample(
        ref0,
        dis0,
        1,
        VerticalShifts::for_scale(0, bpc),
        &mut scratch.level_ref,
        &mut scratch.level_dis,
        simd,
        &mut scratch.down_rows,
    );
    for scale in 1..4 {
        if scale > 1 {
            let prev_ref = LevelView { data: &scratch.level_ref[..], width: lw, height: lh };
            let prev_dis = LevelView { data: &scratch.level_dis[..], width: lw, height: lh };
            rows::downsample(
                prev_ref,
                prev_dis,
                scale,
                VerticalShifts::for_scale(scale, bpc),
                &mut scratch.next_ref,
                &mut scratch.next_dis,
                simd,
                &mut scratch.down_rows,
            );
            std::mem::swap(&mut scratch.level_ref, &mut scratch.next_ref);
            std::mem::swap(&mut scratch.level_dis, &mut scratch.next_dis);
            lw /= 2;
            lh /= 2;
        }
        let r = LevelView { data: &scratch.level_ref[..lw * lh], width: lw, height: lh };
        let d = LevelView { data: &scratch.level_dis[..lw * lh], width: lw, height: lh };
        let acc =
            rows::scale_statistics(r, d, scale, VerticalShifts::for_scale(scale, bpc), table, simd, &mut scratch.rows);
        (scores.num[scale], scores.den[scale]) = acc.num_den();
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_sum_to_one_in_q16() {
        for f in VIF_FILTERS {
            assert_eq!(f.iter().map(|&c| u32::from(c)).sum::<u32>(), 65536);
        }
    }

    #[test]
    fn log2_table_matches_double_rounding_on_range() {
        let t = log2_table();
        assert_eq!(t[32768], 15 * 2048);
        assert_eq!(t[65535], (16.0f64 * 2048.0 - 0.045).round() as u16);
        assert_eq!(log2_32(t, 1 << 17), 17 * 2048);
        assert_eq!(log2_64(t, 1 << 40), 40 * 2048);
    }

    #[test]
    fn mirror_is_reflect_101() {
        assert_eq!(mirror(-1, 10), 1);
        assert_eq!(mirror(-3, 10), 3);
        assert_eq!(mirror(10, 10), 8);
        assert_eq!(mirror(11, 10), 7);
        assert_eq!(mirror(4, 10), 4);
    }
}
