//! The row loops of integer VIF: vertical filter pass, horizontal pass fused with the
//! per-pixel statistic, and the low-pass + decimation between scales. Several distorted
//! images are scored against one reference row by row ([`scale_statistics`]): the filter
//! passes of the first filter all five moments, those of the others only the three that
//! need the distorted image (μ2, y², xy), the reference's own (μ1, x²) left in the rows by
//! the first — every filter pass takes a `WITH_REFERENCE` parameter saying which.
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
/// (the reference's, μ1 and x², kept from one distorted image's passes to the next: see
/// [`scale_statistics`]).
#[derive(Debug, Default)]
pub struct VerticalRows {
    pub(crate) mu1: Vec<u32>,
    pub(crate) mu2: Vec<u32>,
    pub(crate) ref_sq: Vec<u32>,
    pub(crate) dis_sq: Vec<u32>,
    pub(crate) ref_dis: Vec<u32>,
    /// Horizontal-pass results of one row (unpadded): μ1, μ2, E[x²], E[y²], E[xy].
    pub(crate) filtered: [Vec<u32>; 5],
    /// 64-bit vertical accumulators of the squares for high bit depth / later scales.
    pub(crate) wide: [Vec<u64>; 3],
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

    /// `PADDING_SQ_DATA`: mirror the row ends into the padding (of the reference's rows
    /// too `WITH_REFERENCE`).
    fn pad<const WITH_REFERENCE: bool>(&mut self, width: usize, half: usize) {
        for v in [&mut self.mu2, &mut self.dis_sq, &mut self.ref_dis] {
            mirror_pad(v, width, half);
        }
        if WITH_REFERENCE {
            for v in [&mut self.mu1, &mut self.ref_sq] {
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
/// `distorted[k]`), row by row: the vertical pass, then the horizontal pass with the
/// statistic, of each distorted image in turn. The first filters all five moments, the
/// others only their own three: the reference's μ1 and x² of the row, the same for all,
/// are still in `rows` (and in cache) from the first.
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
        for (k, (&distorted, total)) in distorted.iter().zip(totals.iter_mut()).enumerate() {
            if k == 0 {
                vertical_moments::<T, true>(reference, distorted, taps, filter, shifts, simd, rows);
                rows.pad::<true>(w, half);
                horizontal_statistics::<true>(rows, w, filter, table, simd, total);
            } else {
                vertical_moments::<T, false>(reference, distorted, taps, filter, shifts, simd, rows);
                rows.pad::<false>(w, half);
                horizontal_statistics::<false>(rows, w, filter, table, simd, total);
            }
        }
    }
}

/// Vertical pass of one output row over the rows `taps`: the five moments
/// `WITH_REFERENCE`, else μ2, y² and xy.
fn vertical_moments<T: Sample, const WITH_REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut VerticalRows,
) {
    if super::avx512::vertical_moments::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, simd, rows)
        || super::avx2::vertical_moments::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, simd, rows)
    {
        return;
    }
    vertical_moments_scalar::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// Scalar reference of the vertical pass.
pub(crate) fn vertical_moments_scalar<T: Sample, const WITH_REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    vertical_moments_body::<T, WITH_REFERENCE>(reference, distorted, taps, filter, shifts, rows);
}

/// The vertical pass, written so that the compiler vectorises the inner loops: taps
/// outer, columns inner over contiguous rows. For 8-bit samples every accumulator fits
/// in `u32` exactly (Σc·p² ≤ 65536·255²), otherwise the squares are summed in `u64`.
/// Without `WITH_REFERENCE`, μ1 and x² are left as they are.
#[inline(always)]
pub(crate) fn vertical_moments_body<T: Sample, const WITH_REFERENCE: bool>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    let w = reference.width;
    let narrow = std::mem::size_of::<T>() == 1;
    let [wx, wy, wxy] = &mut rows.wide;
    let (mu1, mu2) = (&mut rows.mu1[PAD..PAD + w], &mut rows.mu2[PAD..PAD + w]);
    let (xx, yy, xy) =
        (&mut rows.ref_sq[PAD..PAD + w], &mut rows.dis_sq[PAD..PAD + w], &mut rows.ref_dis[PAD..PAD + w]);
    let (wx, wy, wxy) = (&mut wx[..w], &mut wy[..w], &mut wxy[..w]);
    for v in [&mut *mu2, &mut *yy, &mut *xy] {
        v.fill(0);
    }
    if WITH_REFERENCE {
        mu1.fill(0);
        xx.fill(0);
    }
    if !narrow {
        for v in [&mut *wx, &mut *wy, &mut *wxy] {
            v.fill(0);
        }
    }
    for (&row, &c) in taps.iter().zip(filter) {
        let c = u32::from(c);
        let r = &reference.data[row * w..row * w + w];
        let d = &distorted.data[row * w..row * w + w];
        if narrow {
            for j in 0..w {
                let (rv, dv) = (r[j].to_u32(), d[j].to_u32());
                let (cr, cd) = (c * rv, c * dv);
                if WITH_REFERENCE {
                    mu1[j] = mu1[j].wrapping_add(cr);
                    xx[j] = xx[j].wrapping_add(cr.wrapping_mul(rv));
                }
                mu2[j] = mu2[j].wrapping_add(cd);
                yy[j] = yy[j].wrapping_add(cd.wrapping_mul(dv));
                xy[j] = xy[j].wrapping_add(cr.wrapping_mul(dv));
            }
        } else {
            for j in 0..w {
                let (rv, dv) = (r[j].to_u32(), d[j].to_u32());
                let (cr, cd) = (c.wrapping_mul(rv), c.wrapping_mul(dv));
                if WITH_REFERENCE {
                    mu1[j] = mu1[j].wrapping_add(cr);
                    wx[j] += u64::from(cr) * u64::from(rv);
                }
                mu2[j] = mu2[j].wrapping_add(cd);
                wy[j] += u64::from(cd) * u64::from(dv);
                wxy[j] += u64::from(cr) * u64::from(dv);
            }
        }
    }
    let mu_round = shifts.mu_round as u32;
    for j in 0..w {
        if WITH_REFERENCE {
            mu1[j] = ((u64::from(mu1[j]) + u64::from(mu_round)) >> shifts.mu_shift) as u32;
        }
        mu2[j] = ((u64::from(mu2[j]) + u64::from(mu_round)) >> shifts.mu_shift) as u32;
    }
    if narrow {
        // 8-bit scale 0: the squares are kept as they are (shift 0).
        if shifts.sq_shift != 0 {
            for v in [&mut *xx, &mut *yy, &mut *xy].into_iter().skip(if WITH_REFERENCE { 0 } else { 1 }) {
                for x in v.iter_mut() {
                    *x = ((u64::from(*x) + shifts.sq_round) >> shifts.sq_shift) as u32;
                }
            }
        }
    } else {
        for j in 0..w {
            if WITH_REFERENCE {
                xx[j] = ((wx[j] + shifts.sq_round) >> shifts.sq_shift) as u32;
            }
            yy[j] = ((wy[j] + shifts.sq_round) >> shifts.sq_shift) as u32;
            xy[j] = ((wxy[j] + shifts.sq_round) >> shifts.sq_shift) as u32;
        }
    }
}

/// Horizontal pass fused with the per-pixel statistic over one padded row (filtering μ1
/// and x² only `WITH_REFERENCE`, else reading them as the last pass left them).
fn horizontal_statistics<const WITH_REFERENCE: bool>(
    rows: &mut VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    simd: SimdLevel,
    total: &mut VifAccumulators,
) {
    if super::avx512::horizontal_statistics::<WITH_REFERENCE>(rows, w, filter, table, simd, total)
        || super::avx2::horizontal_statistics::<WITH_REFERENCE>(rows, w, filter, table, simd, total)
    {
        return;
    }
    horizontal_statistics_scalar::<WITH_REFERENCE>(rows, 0, w, filter, table, total);
}

/// Scalar reference of the horizontal pass + statistic for columns `from..to`.
pub(crate) fn horizontal_statistics_scalar<const WITH_REFERENCE: bool>(
    rows: &mut VerticalRows,
    from: usize,
    to: usize,
    filter: &[u16],
    table: &[u16; 65537],
    total: &mut VifAccumulators,
) {
    horizontal_statistics_body::<WITH_REFERENCE>(rows, from, to, filter, table, total);
}

/// Horizontal filter of the padded rows into `rows.filtered` (vectorisable loops; μ1 and
/// x² only `WITH_REFERENCE`), then the per-pixel statistic.
#[inline(always)]
pub(crate) fn horizontal_statistics_body<const WITH_REFERENCE: bool>(
    rows: &mut VerticalRows,
    from: usize,
    to: usize,
    filter: &[u16],
    table: &[u16; 65537],
    total: &mut VifAccumulators,
) {
    match filter.len() {
        17 => horizontal_filter::<17, WITH_REFERENCE>(rows, from, to, filter),
        9 => horizontal_filter::<9, WITH_REFERENCE>(rows, from, to, filter),
        5 => horizontal_filter::<5, WITH_REFERENCE>(rows, from, to, filter),
        _ => horizontal_filter::<3, WITH_REFERENCE>(rows, from, to, filter),
    }
    let [mu1, mu2, xx, yy, xy] = &rows.filtered;
    for j in from..to {
        total.add_pixel(table, mu1[j], mu2[j], xx[j], yy[j], xy[j]);
    }
}

#[inline(always)]
fn horizontal_filter<const N: usize, const WITH_REFERENCE: bool>(rows: &mut VerticalRows, from: usize, to: usize, filter: &[u16]) {
    let half = N / 2;
    let taps: [u32; N] = std::array::from_fn(|k| u32::from(filter[k]));
    let [o_mu1, o_mu2, o_xx, o_yy, o_xy] = &mut rows.filtered;
    let skip = if WITH_REFERENCE { 0 } else { 1 };
    for (src, out) in [(&rows.mu1, o_mu1), (&rows.mu2, o_mu2)].into_iter().skip(skip) {
        for j in from..to {
            let base = PAD + j - half;
            let window = &src[base..base + N];
            let mut acc = 0u32;
            for k in 0..N {
                acc = acc.wrapping_add(taps[k].wrapping_mul(window[k]));
            }
            out[j] = acc;
        }
    }
    for (src, out) in [(&rows.ref_sq, o_xx), (&rows.dis_sq, o_yy), (&rows.ref_dis, o_xy)].into_iter().skip(skip) {
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
