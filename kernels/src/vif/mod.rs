//! Integer VIF (visual information fidelity) at 4 scales, bit-exact with libvmaf's
//! `feature/integer_vif.c` (`vif_statistic_8/16`, `subsample_rd_8/16`).
//!
//! Per scale: separable Gaussian filters in Q16 give μ1, μ2, E[x²], E[y²], E[xy] at every
//! pixel; the per-pixel information terms are accumulated in int64 with a log2 look-up
//! table; `num/den` per scale is computed in `f32`. Scale k > 0 is the previous scale
//! low-passed with filter k and decimated by 2 (floor). Edges mirror without repeating
//! the edge sample (reflect-101) in both directions.
//!
//! | module | what it holds |
//! | --- | --- |
//! | this file | the frame-level flow over the 4 scales ([`vif`] for one pair, [`vif_against_each`] for distorted images against a prepared reference, all of them at once), the filters, the mirror, scratch and scores |
//! | `reference` | [`VifReference`]: the reference's pyramid (scales 1–3), prepared once per reference frame and shared by every distorted image scored against it |
//! | `statistic` | the scalar reference of one pixel's statistic: the log2 table, [`VifAccumulators`] |
//! | `rows` | the scalar reference row loops (vertical pass, horizontal pass + statistic, down-sampling) and their dispatch: each tries the AVX-512 twin, then the AVX2 one; the filter passes of the first distorted image of a row filter all five moments, those of the others only their own three (the reference's μ1 and x² are shared) |
//! | `avx2_downsample` | the AVX2 down-sampling between scales, and the pick of its AVX-512 passes |
//! | `avx2_halves` | the AVX2 horizontal filter over planes of 16-bit halves (the rows split once, one `vpmaddwd` per tap pair and plane), 16 columns at a time |
//! | `avx2_statistic` | the AVX2 per-pixel statistic (8 lanes), shared by the AVX2 pass and the AVX-512 pass's last columns |
//! | `avx512` | the AVX-512 twins of the hottest row loops (vertical pass of 8- and 16-bit rows, horizontal filter, the vertical down-sampling of 8-bit samples, the decimating horizontal down-sampling before scales 1 and 2), used when [`SimdLevel`] and the CPU allow it; each multiply-add is one AVX-512 VNNI `vpdpwssd` where the CPU has it |
//! | [`avx2`] | the AVX2 twins of the row loops, used when [`SimdLevel`] and the CPU allow it (public, as `vif_avx2` was, for its hidden `statistic_of_lanes`: kept as an entry point, the 8-lane statistic stays a function of its own and the row loop's machine code stays as it was) |

pub mod avx2;
mod avx2_downsample;
mod avx2_halves;
mod avx2_statistic;
mod avx512;
mod reference;
mod rows;
pub(crate) mod statistic;

pub use self::reference::VifReference;
pub use self::statistic::VifAccumulators;
use self::statistic::log2_table;
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

/// Smallest width/height the 4-scale pyramid supports with in-range mirroring.
pub const MIN_VIF_SIZE: usize = 16;

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
    /// Each distorted image's pyramid level being scored (scale 1..3) and the next one.
    levels: Vec<DistortedLevels>,
    down_rows: rows::DownsampleRows,
    /// The reference prepared by [`vif`], the one-pair entry point.
    reference: VifReference,
}

/// One distorted image's pyramid level being scored (scale 1..3) and the next one.
#[derive(Debug, Default)]
struct DistortedLevels {
    current: Vec<u16>,
    next: Vec<u16>,
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

/// Integer VIF of a reference/distorted luma pair of `bit_depth` bits: the reference
/// prepared ([`VifReference::prepare`]), then the pair scored ([`vif_against_each`]).
pub fn vif<T: Sample>(
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut VifScratch,
) -> VifScores {
    let mut prepared = std::mem::take(&mut scratch.reference);
    prepared.prepare(reference, bit_depth, simd, scratch);
    let [scores] = vif_against_each(reference, &prepared, &[distorted], bit_depth, simd, scratch)[..] else {
        unreachable!("one distorted image gives one score")
    };
    scratch.reference = prepared;
    scores
}

/// Integer VIF of each of `distorted` against `reference` (one score each, in order),
/// `prepared` being `reference` prepared with the same `bit_depth`: the reference's own
/// moments are filtered once, row by row, for all of them (see `rows::scale_statistics`).
pub fn vif_against_each<T: Sample>(
    reference: &Plane<T>,
    prepared: &VifReference,
    distorted: &[&Plane<T>],
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut VifScratch,
) -> Vec<VifScores> {
    let table = log2_table();
    let bpc = u32::from(bit_depth);
    let (w, h) = (reference.width(), reference.height());
    debug_assert_eq!(prepared.size(), (w, h), "the reference was prepared from another frame size");
    let n = distorted.len();
    let mut scores = vec![VifScores::default(); n];
    let mut totals = vec![VifAccumulators::default(); n];

    let ref0 = LevelView { data: reference.data(), width: w, height: h };
    let dis0: Vec<LevelView<'_, T>> = distorted.iter().map(|d| LevelView { data: d.data(), width: w, height: h }).collect();
    let shifts0 = VerticalShifts::for_scale(0, bpc);
    rows::scale_statistics(ref0, &dis0, 0, shifts0, table, simd, &mut scratch.rows, &mut totals);
    for (score, total) in scores.iter_mut().zip(&totals) {
        (score.num[0], score.den[0]) = total.num_den();
    }

    // Scale 1 from the samples, then from the previous u16 level.
    let VifScratch { rows, levels, down_rows, .. } = scratch;
    if levels.len() < n {
        levels.resize_with(n, DistortedLevels::default);
    }
    let levels = &mut levels[..n];
    for (d, level) in dis0.iter().zip(levels.iter_mut()) {
        rows::downsample(*d, 1, shifts0, &mut level.current, simd, down_rows);
    }
    let (mut lw, mut lh) = (w / 2, h / 2);
    for scale in 1..4 {
        let shifts = VerticalShifts::for_scale(scale, bpc);
        if scale > 1 {
            for level in levels.iter_mut() {
                let previous = LevelView { data: &level.current[..], width: lw, height: lh };
                rows::downsample(previous, scale, shifts, &mut level.next, simd, down_rows);
                std::mem::swap(&mut level.current, &mut level.next);
            }
            lw /= 2;
            lh /= 2;
        }
        let views: Vec<LevelView<'_, u16>> = levels.iter().map(|l| LevelView { data: &l.current[..lw * lh], width: lw, height: lh }).collect();
        totals.fill(VifAccumulators::default());
        rows::scale_statistics(prepared.level(scale), &views, scale, shifts, table, simd, rows, &mut totals);
        for (score, total) in scores.iter_mut().zip(&totals) {
            (score.num[scale], score.den[scale]) = total.num_den();
        }
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
    fn mirror_is_reflect_101() {
        assert_eq!(mirror(-1, 10), 1);
        assert_eq!(mirror(-3, 10), 3);
        assert_eq!(mirror(10, 10), 8);
        assert_eq!(mirror(11, 10), 7);
        assert_eq!(mirror(4, 10), 4);
    }
}
