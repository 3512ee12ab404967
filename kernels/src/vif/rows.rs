//! The row loops of integer VIF: vertical filter pass, horizontal filter pass, the
//! per-pixel statistic of a row, and the low-pass + decimation between scales. The filter passes
//! are split in two: the reference's own moments (μ1, x²), once per row for every
//! distorted image scored against it, and each distorted image's (μ2, y², xy)
//! ([`scale_statistics`]).
//!
//! The scalar functions here are the reference; [`super::avx512`] and [`super::avx2`]
//! hold AVX-512 and AVX2 twins picked at run time through [`SimdLevel`] (the widest
//! first), checked against these in tests.

#![expect(clippy::needless_range_loop, reason = "these loops index several planes and tables by one position, as libvmaf's C does; iterator chains would hide the correspondence")]

use super::{LevelView, VIF_FILTERS, VerticalShifts, VifAccumulators, mirror};
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Entries kept on each side of a row for the horizontal mirror (17-tap filter → 8).
pub(crate) const PAD: usize = 8;

/// One vertically filtered row of the five moments, with [`PAD`] entries on each side
/// (each pass fills its own: see [`scale_statistics`]).
#[derive(Debug, Default)]
pub struct VerticalRows {
    pub(crate) mu1: Vec<u32>,
    pub(crate) mu2: Vec<u32>,
    pub(crate) ref_sq: Vec<u32>,
    pub(crate) dis_sq: Vec<u32>,
    pub(crate) ref_dis: Vec<u32>,
    /// Horizontal-pass results of one row (unpadded): μ1, μ2, E[x²], E[y²], E[xy].
    pub(crate) filtered: [Vec<u32>; 5],
    /// 64-bit vertical accumulators of the squares for high bit depth / later scales: the
    /// pass's own image's square, then the cross product.
    pub(crate) wide: [Vec<u64>; 2],
    /// The five padded rows with each 16-bit half offset by −2¹⁵ (the AVX2 horizontal
    /// pass's signed multiply-add input), made once per row instead of once per tap.
    pub(crate) biased: [Vec<u32>; 5],
    /// The five padded rows as planes of 16-bit halves offset by −2¹⁵ (μ1, μ2, then the
    /// low and high halves of x², y², xy): the AVX-512 horizontal pass's input.
    pub(crate) halves: [Vec<i16>; 8],
}

impl VerticalRows {
    fn resize(&mut self, width: usize) {
        let n = width + 2 * PAD;
        for v in [&mut self.mu1, &mut self.mu2, &mut self.ref_sq, &mut self.dis_sq, &mut self.ref_dis] {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
        for v in &mut self.filtered {
            if v.len() < width {
                v.resize(width, 0);
            }
        }
        for v in &mut self.wide {
            if v.len() < width {
                v.resize(width, 0);
            }
        }
        for v in &mut self.biased {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
        for v in &mut self.halves {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
    }

    /// `PADDING_SQ_DATA`: mirror the row ends of the moments of the pass (the reference's
    /// with `REFERENCE`, else the distorted image's: see [`scale_statistics`]) into the
    /// padding.
    fn pad<const REFERENCE: bool>(&mut self, width: usize, half: usize) {
        let Self { mu1, mu2, ref_sq, dis_sq, ref_dis, .. } = self;
        if REFERENCE {
            for v in [mu1, ref_sq] {
                mirror_pad(v, width, half);
            }
        } else {
            for v in [mu2, dis_sq, ref_dis] {
                mirror_pad(v, width, half);
            }
        }
    }
}

/// Fills `half` entries on each side of `row[PAD..PAD + width]` with its reflect-101 mirror.
#[inline]
pub(crate) fn mirror_pad(row: &mut [u32], width: usize, half: usize) {
    for f in 1..=half {
        row[PAD - f] = row[PAD + mirror(-(f as isize), width)];
        row[PAD + width - 1 + f] = row[PAD + mirror((width - 1 + f) as isize, width)];
    }
}

/// The filtered row of the down-sampling pass, padded like [`VerticalRows`].
#[derive(Debug, Default)]
pub struct DownsampleRows {
    pub(crate) row: Vec<u32>,
    /// A padded row split into its even and odd entries (for the decimating AVX2 pass).
    pub(crate) even: Vec<u32>,
    pub(crate) odd: Vec<u32>,
    /// A padded row as 16-bit values offset by −2¹⁵ (the decimating AVX-512 pass's
    /// `vpmaddwd` input), indexed as the row.
    pub(crate) biased: Vec<i16>,
}

/// Accumulators of one whole scale for each distorted image (`totals[k]` for
/// `distorted[k]`), row by row: the vertical and horizontal passes of the reference's own
/// moments (μ1, x²) once, then for each distorted image those of its own (μ2, y², xy),
/// and its statistic. The reference's row stays in `rows` (each pass fills its own
/// moments) and in cache while every distorted image is scored against it.
#[expect(clippy::too_many_arguments, reason = "the scale's images, its filter and shifts, the table, the level, the scratch rows and the sums are each needed")]
pub(crate) fn scale_statistics<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: &[LevelView<'_, T>],
    scale: usize,
    shifts: VerticalShifts,
    table: &[u16; 65537],
    simd: SimdLevel,
    rows: &mut VerticalRows,
    totals: &mut [VifAccumulators],
) {
    let (w, h) = (reference.width, reference.height);
    let filter = VIF_FILTERS[scale];
    let half = filter.len() / 2;
    rows.resize(w);
    for i in 0..h {
        let taps: [usize; 17] =
            std::array::from_fn(|k| if k < filter.len() { mirror(i as isize - half as isize + k as isize, h) } else { 0 });
        let taps = &taps[..filter.len()];
        // The distorted image is not read by the reference's pass.
        vertical_moments::<T, true>(reference, reference, taps, filter, shifts, simd, rows);
        rows.pad::<true>(w, half);
        horizontal_filter::<true>(rows, w, filter, simd);
        for (&distorted, total) in distorted.iter().zip(totals.iter_mut()) {
            vertical_moments::<T, false>(reference, distorted, taps, filter, shifts, simd, rows);
            rows.pad::<false>(w, half);
            horizontal_filter::<false>(rows, w, filter, simd);
            statistics(rows, w, table, simd, total);
        }
    }
}

/// Vertical pass of one output row over the rows `taps`: with `REFERENCE` μ1 and x² (the
/// distorted image unread), else μ2, y² and xy.
fn vertical_moments<T: Sample, const REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut VerticalRows,
) {
    if super::avx512::vertical_moments::<T, REFERENCE>(reference, distorted, taps, filter, shifts, simd, rows)
        || super::avx2::vertical_moments::<T, REFERENCE>(reference, distorted, taps, filter, shifts, simd, rows)
    {
        return;
    }
    vertical_moments_scalar::<T, REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// Scalar reference of the vertical pass.
pub(crate) fn vertical_moments_scalar<T: Sample, const REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    vertical_moments_body::<T, REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// The vertical pass, written so that the compiler vectorises the inner loops: taps
/// outer, columns inner over contiguous rows. For 8-bit samples every accumulator fits
/// in `u32` exactly (Σc·p² ≤ 65536·255²), otherwise the squares are summed in `u64`.
/// With `REFERENCE`, μ and the square of the reference (into `mu1`, `ref_sq`); else those
/// of the distorted image (into `mu2`, `dis_sq`) and the cross product (`ref_dis`).
#[inline(always)]
pub(crate) fn vertical_moments_body<T: Sample, const REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    let w = reference.width;
    let narrow = std::mem::size_of::<T>() == 1;
    let VerticalRows { mu1, mu2, ref_sq, dis_sq, ref_dis, wide, .. } = rows;
    let [w_own, w_xy] = wide;
    // The image whose μ and square this pass takes, and where they go.
    let (own, mu, sq) = if REFERENCE { (reference, mu1, ref_sq) } else { (distorted, mu2, dis_sq) };
    let (mu, sq, xy) = (&mut mu[PAD..PAD + w], &mut sq[PAD..PAD + w], &mut ref_dis[PAD..PAD + w]);
    let (w_own, w_xy) = (&mut w_own[..w], &mut w_xy[..w]);
    mu.fill(0);
    sq.fill(0);
    if !REFERENCE {
        xy.fill(0);
    }
    if !narrow {
        w_own.fill(0);
        if !REFERENCE {
            w_xy.fill(0);
        }
    }
    for (&row, &c) in taps.iter().zip(filter) {
        let c = u32::from(c);
        let o = &own.data[row * w..row * w + w];
        let r = &reference.data[row * w..row * w + w];
        if narrow {
            for j in 0..w {
                let ov = o[j].to_u32();
                let co = c * ov;
                mu[j] = mu[j].wrapping_add(co);
                sq[j] = sq[j].wrapping_add(co.wrapping_mul(ov));
            }
            if !REFERENCE {
                for j in 0..w {
                    xy[j] = xy[j].wrapping_add((c * r[j].to_u32()).wrapping_mul(o[j].to_u32()));
                }
            }
        } else {
            for j in 0..w {
                let ov = o[j].to_u32();
                let co = c.wrapping_mul(ov);
                mu[j] = mu[j].wrapping_add(co);
                w_own[j] += u64::from(co) * u64::from(ov);
            }
            if !REFERENCE {
                for j in 0..w {
                    w_xy[j] += u64::from(c.wrapping_mul(r[j].to_u32())) * u64::from(o[j].to_u32());
                }
            }
        }
    }
    let mu_round = shifts.mu_round as u32;
    for m in mu.iter_mut() {
        *m = ((u64::from(*m) + u64::from(mu_round)) >> shifts.mu_shift) as u32;
    }
    let squares: [(&mut [u32], &[u64]); 2] = [(sq, w_own), (xy, w_xy)];
    for (v, wide) in squares.into_iter().take(if REFERENCE { 1 } else { 2 }) {
        if narrow {
            // 8-bit scale 0: the squares are kept as they are (shift 0).
            if shifts.sq_shift != 0 {
                for x in v.iter_mut() {
                    *x = ((u64::from(*x) + shifts.sq_round) >> shifts.sq_shift) as u32;
                }
            }
        } else {
            for j in 0..w {
                v[j] = ((wide[j] + shifts.sq_round) >> shifts.sq_shift) as u32;
            }
        }
    }
}

/// Horizontal filter of the pass's padded rows (μ1 and x² with `REFERENCE`, else μ2, y² and
/// xy) into `rows.filtered`.
fn horizontal_filter<const REFERENCE: bool>(rows: &mut VerticalRows, w: usize, filter: &[u16], simd: SimdLevel) {
    if super::avx512::horizontal_filter::<REFERENCE>(rows, w, filter, simd) || super::avx2::horizontal_filter::<REFERENCE>(rows, w, filter, simd) {
        return;
    }
    horizontal_filter_scalar::<REFERENCE>(rows, 0, w, filter);
}

/// Scalar reference of the horizontal filter, columns `from..to` (vectorisable loops).
pub(crate) fn horizontal_filter_scalar<const REFERENCE: bool>(rows: &mut VerticalRows, from: usize, to: usize, filter: &[u16]) {
    match filter.len() {
        17 => filter_taps::<17, REFERENCE>(rows, from, to, filter),
        9 => filter_taps::<9, REFERENCE>(rows, from, to, filter),
        5 => filter_taps::<5, REFERENCE>(rows, from, to, filter),
        _ => filter_taps::<3, REFERENCE>(rows, from, to, filter),
    }
}

/// The per-pixel statistic of one row of `rows.filtered` added into `total`.
fn statistics(rows: &VerticalRows, w: usize, table: &[u16; 65537], simd: SimdLevel, total: &mut VifAccumulators) {
    if super::avx512::statistics(rows, w, table, simd, total) || super::avx2::statistics(rows, w, table, simd, total) {
        return;
    }
    statistics_scalar(rows, 0, w, table, total);
}

/// Scalar reference of the statistic, columns `from..to`.
pub(crate) fn statistics_scalar(rows: &VerticalRows, from: usize, to: usize, table: &[u16; 65537], total: &mut VifAccumulators) {
    let [mu1, mu2, xx, yy, xy] = &rows.filtered;
    for j in from..to {
        total.add_pixel(table, mu1[j], mu2[j], xx[j], yy[j], xy[j]);
    }
}

#[inline(always)]
fn filter_taps<const N: usize, const REFERENCE: bool>(rows: &mut VerticalRows, from: usize, to: usize, filter: &[u16]) {
    let half = N / 2;
    let taps: [u32; N] = std::array::from_fn(|k| u32::from(filter[k]));
    let [o_mu1, o_mu2, o_xx, o_yy, o_xy] = &mut rows.filtered;
    let (src, out) = if REFERENCE { (&rows.mu1, o_mu1) } else { (&rows.mu2, o_mu2) };
    for j in from..to {
        let base = PAD + j - half;
        let window = &src[base..base + N];
        let mut acc = 0u32;
        for k in 0..N {
            acc = acc.wrapping_add(taps[k].wrapping_mul(window[k]));
        }
        out[j] = acc;
    }
    let squares = if REFERENCE { [Some((&rows.ref_sq, o_xx)), None] } else { [Some((&rows.dis_sq, o_yy)), Some((&rows.ref_dis, o_xy))] };
    for (src, out) in squares.into_iter().flatten() {
        for j in from..to {
            let base = PAD + j - half;
            let window = &src[base..base + N];
            let mut acc = 0u64;
            for k in 0..N {
                acc += u64::from(taps[k]) * u64::from(window[k]);
            }
            out[j] = ((acc + 32768) >> 16) as u32;
        }
    }
}

/// Low-pass one image of the pyramid with filter `scale` and keep every second row and
/// column (`subsample_rd_8/16` + `decimate_and_pad`, which do the reference and the
/// distorted image alike and independently). Output is `(w/2) x (h/2)`.
pub(crate) fn downsample<T: Sample>(
    level: LevelView<'_, T>,
    scale: usize,
    shifts: VerticalShifts,
    out: &mut Vec<u16>,
    simd: SimdLevel,
    rows: &mut DownsampleRows,
) {
    let (w, h) = (level.width, level.height);
    let (ow, oh) = (w / 2, h / 2);
    let filter = VIF_FILTERS[scale];
    let half = filter.len() / 2;
    out.resize(ow * oh, 0);
    if rows.row.len() < w + 2 * PAD {
        rows.row.resize(w + 2 * PAD, 0);
    }
    for oi in 0..oh {
        let i = 2 * oi;
        let taps: [usize; 9] =
            std::array::from_fn(|k| if k < filter.len() { mirror(i as isize - half as isize + k as isize, h) } else { 0 });
        let taps = &taps[..filter.len()];
        if !super::avx2_downsample::downsample_vertical(level, taps, filter, shifts, simd, rows) {
            downsample_vertical_scalar(level, taps, filter, shifts, rows);
        }
        mirror_pad(&mut rows.row, w, half);
        let out_row = &mut out[oi * ow..(oi + 1) * ow];
        let done = super::avx2_downsample::downsample_horizontal(rows, filter, out_row, simd);
        for oj in done..ow {
            let base = PAD + 2 * oj - half;
            let mut v = 0u32;
            for (k, &c) in filter.iter().enumerate() {
                v = v.wrapping_add(u32::from(c).wrapping_mul(rows.row[base + k]));
            }
            out_row[oj] = ((u64::from(v) + 32768) >> 16) as u16;
        }
    }
}

/// Scalar reference of the down-sampling vertical pass.
pub(crate) fn downsample_vertical_scalar<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    downsample_vertical_body(level, taps, filter, shifts, rows);
}

/// The down-sampling vertical pass, taps outer and columns inner (vectorisable).
#[inline(always)]
pub(crate) fn downsample_vertical_body<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    let w = level.width;
    let out = &mut rows.row[PAD..PAD + w];
    out.fill(0);
    for (&row, &c) in taps.iter().zip(filter) {
        let c = u32::from(c);
        let src = &level.data[row * w..row * w + w];
        for j in 0..w {
            out[j] = out[j].wrapping_add(c.wrapping_mul(src[j].to_u32()));
        }
    }
    for x in out.iter_mut() {
        *x = u32::from(((u64::from(*x) + shifts.mu_round) >> shifts.mu_shift) as u16);
    }
}
