//! The row loops of integer VIF: vertical filter pass, horizontal pass fused with the
//! per-pixel statistic, and the low-pass + decimation between scales.
//!
//! The scalar functions here are the reference; [`crate::vif_avx2`] holds AVX2 twins
//! picked at run time through [`SimdLevel`], checked against these in tests.

use crate::sample::Sample;
use crate::simd_level::SimdLevel;
use crate::vif::{LevelView, VIF_FILTERS, VerticalShifts, VifAccumulators, mirror};

/// Entries kept on each side of a row for the horizontal mirror (17-tap filter → 8).
pub(crate) const PAD: usize = 8;

/// One vertically filtered row of the five moments, with [`PAD`] entries on each side.
#[derive(Debug, Default)]
pub struct VerticalRows {
    pub(crate) mu1: Vec<u32>,
    pub(crate) mu2: Vec<u32>,
    pub(crate) ref_sq: Vec<u32>,
    pub(crate) dis_sq: Vec<u32>,
    pub(crate) ref_dis: Vec<u32>,
}

impl VerticalRows {
    fn resize(&mut self, width: usize) {
        let n = width + 2 * PAD;
        for v in [&mut self.mu1, &mut self.mu2, &mut self.ref_sq, &mut self.dis_sq, &mut self.ref_dis] {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
    }

    /// `PADDING_SQ_DATA`: mirror the row ends into the padding.
    fn pad(&mut self, width: usize, half: usize) {
        for v in [&mut self.mu1, &mut self.mu2, &mut self.ref_sq, &mut self.dis_sq, &mut self.ref_dis] {
            mirror_pad(v, width, half);
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

/// The two filtered rows of the down-sampling pass, padded like [`VerticalRows`].
#[derive(Debug, Default)]
pub struct DownsampleRows {
    pub(crate) reference: Vec<u32>,
    pub(crate) distorted: Vec<u32>,
}

/// Accumulators of one whole scale: the vertical pass, then the horizontal pass with
/// the statistic, row by row.
pub(crate) fn scale_statistics<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    scale: usize,
    shifts: VerticalShifts,
    table: &[u16; 65537],
    simd: SimdLevel,
    rows: &mut VerticalRows,
) -> VifAccumulators {
    let (w, h) = (reference.width, reference.height);
    let filter = VIF_FILTERS[scale];
    let half = filter.len() / 2;
    rows.resize(w);
    let mut total = VifAccumulators::default();
    for i in 0..h {
        let taps: [usize; 17] =
            std::array::from_fn(|k| if k < filter.len() { mirror(i as isize - half as isize + k as isize, h) } else { 0 });
        let taps = &taps[..filter.len()];
        vertical_moments(reference, distorted, taps, filter, shifts, simd, rows);
        rows.pad(w, half);
        horizontal_statistics(rows, w, filter, table, simd, &mut total);
    }
    total
}

/// Vertical pass of one output row: the five moments over the rows `taps`.
fn vertical_moments<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut VerticalRows,
) {
    if crate::vif_avx2::vertical_moments(reference, distorted, taps, filter, shifts, simd, rows) {
        return;
    }
    vertical_moments_scalar(reference, distorted, taps, filter, shifts, rows);
}

/// Scalar reference of the vertical pass.
pub(crate) fn vertical_moments_scalar<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    let w = reference.width;
    for j in 0..w {
        let (mut mu1, mut mu2) = (0u32, 0u32);
        let (mut xx, mut yy, mut xy) = (0u64, 0u64, 0u64);
        for (&row, &c) in taps.iter().zip(filter) {
            let r = reference.data[row * w + j].to_u32();
            let d = distorted.data[row * w + j].to_u32();
            let cr = u32::from(c) * r;
            let cd = u32::from(c) * d;
            mu1 = mu1.wrapping_add(cr);
            mu2 = mu2.wrapping_add(cd);
            xx += u64::from(cr) * u64::from(r);
            yy += u64::from(cd) * u64::from(d);
            xy += u64::from(cr) * u64::from(d);
        }
        rows.mu1[PAD + j] = ((u64::from(mu1) + shifts.mu_round) >> shifts.mu_shift) as u32;
        rows.mu2[PAD + j] = ((u64::from(mu2) + shifts.mu_round) >> shifts.mu_shift) as u32;
        rows.ref_sq[PAD + j] = ((xx + shifts.sq_round) >> shifts.sq_shift) as u32;
        rows.dis_sq[PAD + j] = ((yy + shifts.sq_round) >> shifts.sq_shift) as u32;
        rows.ref_dis[PAD + j] = ((xy + shifts.sq_round) >> shifts.sq_shift) as u32;
    }
}

/// Horizontal pass fused with the per-pixel statistic over one padded row.
fn horizontal_statistics(
    rows: &VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    simd: SimdLevel,
    total: &mut VifAccumulators,
) {
    if crate::vif_avx2::horizontal_statistics(rows, w, filter, table, simd, total) {
        return;
    }
    horizontal_statistics_scalar(rows, 0, w, filter, table, total);
}

/// Scalar reference of the horizontal pass + statistic for columns `from..to`.
pub(crate) fn horizontal_statistics_scalar(
    rows: &VerticalRows,
    from: usize,
    to: usize,
    filter: &[u16],
    table: &[u16; 65537],
    total: &mut VifAccumulators,
) {
    let half = filter.len() / 2;
    for j in from..to {
        let base = PAD + j - half;
        let (mut mu1, mut mu2) = (0u32, 0u32);
        let (mut xx, mut yy, mut xy) = (0u64, 0u64, 0u64);
        for (k, &c) in filter.iter().enumerate() {
            let c32 = u32::from(c);
            mu1 = mu1.wrapping_add(c32.wrapping_mul(rows.mu1[base + k]));
            mu2 = mu2.wrapping_add(c32.wrapping_mul(rows.mu2[base + k]));
            xx += u64::from(c) * u64::from(rows.ref_sq[base + k]);
            yy += u64::from(c) * u64::from(rows.dis_sq[base + k]);
            xy += u64::from(c) * u64::from(rows.ref_dis[base + k]);
        }
        let xx = ((xx + 32768) >> 16) as u32;
        let yy = ((yy + 32768) >> 16) as u32;
        let xy = ((xy + 32768) >> 16) as u32;
        total.add_pixel(table, mu1, mu2, xx, yy, xy);
    }
}

/// Low-pass with filter `scale` and keep every second row and column
/// (`subsample_rd_8/16` + `decimate_and_pad`). Output is `(w/2) x (h/2)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn downsample<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    scale: usize,
    shifts: VerticalShifts,
    out_ref: &mut Vec<u16>,
    out_dis: &mut Vec<u16>,
    simd: SimdLevel,
    rows: &mut DownsampleRows,
) {
    let (w, h) = (reference.width, reference.height);
    let (ow, oh) = (w / 2, h / 2);
    let filter = VIF_FILTERS[scale];
    let half = filter.len() / 2;
    out_ref.resize(ow * oh, 0);
    out_dis.resize(ow * oh, 0);
    if rows.reference.len() < w + 2 * PAD {
        rows.reference.resize(w + 2 * PAD, 0);
        rows.distorted.resize(w + 2 * PAD, 0);
    }
    for oi in 0..oh {
        let i = 2 * oi;
        let taps: [usize; 9] =
            std::array::from_fn(|k| if k < filter.len() { mirror(i as isize - half as isize + k as isize, h) } else { 0 });
        let taps = &taps[..filter.len()];
        if !crate::vif_avx2::downsample_vertical(reference, distorted, taps, filter, shifts, simd, rows) {
            downsample_vertical_scalar(reference, distorted, taps, filter, shifts, rows);
        }
        mirror_pad(&mut rows.reference, w, half);
        mirror_pad(&mut rows.distorted, w, half);
        for oj in 0..ow {
            let base = PAD + 2 * oj - half;
            let (mut r, mut d) = (0u32, 0u32);
            for (k, &c) in filter.iter().enumerate() {
                r = r.wrapping_add(u32::from(c).wrapping_mul(rows.reference[base + k]));
                d = d.wrapping_add(u32::from(c).wrapping_mul(rows.distorted[base + k]));
            }
            out_ref[oi * ow + oj] = ((u64::from(r) + 32768) >> 16) as u16;
            out_dis[oi * ow + oj] = ((u64::from(d) + 32768) >> 16) as u16;
        }
    }
}

/// Scalar reference of the down-sampling vertical pass.
pub(crate) fn downsample_vertical_scalar<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    let w = reference.width;
    for j in 0..w {
        let (mut r, mut d) = (0u32, 0u32);
        for (&row, &c) in taps.iter().zip(filter) {
            r = r.wrapping_add(u32::from(c) * reference.data[row * w + j].to_u32());
            d = d.wrapping_add(u32::from(c) * distorted.data[row * w + j].to_u32());
        }
        rows.reference[PAD + j] = u32::from(((u64::from(r) + shifts.mu_round) >> shifts.mu_shift) as u16);
        rows.distorted[PAD + j] = u32::from(((u64::from(d) + shifts.mu_round) >> shifts.mu_shift) as u16);
    }
}
