//! ADM's contrast masking: the restored bands, CSF-weighted, less a threshold from the
//! 3×3 neighbourhood of the CSF-weighted impairment, cubed and summed over the score
//! region (`adm_cm`, `i4_adm_cm`).

#![expect(clippy::needless_range_loop, reason = "these loops index several planes and tables by one position, as libvmaf's C does; iterator chains would hide the correspondence")]

use super::bands::DetailBands;
use super::csf::{I_RFACTOR_SCALE0, I4_FLT_ROUND};
use super::sums::{CmS123, CmScale0};

const ONE_BY_15: i32 = 8738;
const I4_ONE_BY_15: i64 = 286331153;

/// Neighbour rows/columns of the masking threshold: `i−1, i+1`, mirrored as
/// `1` above the first and repeating the last one below the end.
#[inline(always)]
fn cm_neighbours(i: usize, n: usize) -> (usize, usize) {
    let before = if i == 0 { 1 } else { i - 1 };
    let after = if i + 1 >= n { n - 1 } else { i + 1 };
    (before, after)
}

/// Masking thresholds of row `i`, columns `c0..c1`, into `thr[c0..c1]`: for each band,
/// the 3×3 sum of `csf_f` around the pixel with the centre replaced by `center(csf_a)`,
/// summed over the bands (wrapping `i32`, like libvmaf). Interior rows and columns use
/// separable sums (a wrapping sum does not depend on the order); the frame's edges,
/// where the mirrored neighbours repeat a sample, take the pixel-by-pixel definition.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cm_thresholds<T: Copy + Into<i32>>(
    csf_a: &DetailBands<T>,
    csf_f: &DetailBands<T>,
    center: impl Fn(T) -> i32,
    i: usize,
    c0: usize,
    c1: usize,
    w: usize,
    h: usize,
    rows: &mut [Vec<i32>; 3],
    thr: &mut [i32],
) {
    let per_pixel = |j: usize| -> i32 {
        let (up, down) = cm_neighbours(i, h);
        let (lf, rt) = cm_neighbours(j, w);
        let mut thr: i32 = 0;
        for theta in 0..3 {
            let f = &csf_f.bands[theta];
            let mut sum: i32 = 0;
            for y in [up, i, down] {
                for x in [lf, j, rt] {
                    let v = if y == i && x == j { center(csf_a.bands[theta][i * w + j]) } else { f[y * w + x].into() };
                    sum = sum.wrapping_add(v);
                }
            }
            thr = thr.wrapping_add(sum);
        }
        thr
    };
    if c0 >= c1 {
        return;
    }
    if i == 0 || i + 1 >= h || c0 == 0 || c1 + 1 > w {
        for j in c0..c1 {
            thr[j] = per_pixel(j);
        }
        return;
    }
    // F = Σθ csf_f over columns c0−1..c1+1 of rows i−1, i, i+1; V = vertical 3-sum of F.
    let (x0, x1) = (c0 - 1, c1 + 1);
    let [vsum, mid, _] = rows;
    vsum.clear();
    vsum.resize(x1 - x0, 0);
    mid.clear();
    mid.resize(x1 - x0, 0);
    for y in [i - 1, i, i + 1] {
        for theta in 0..3 {
            let f = &csf_f.bands[theta][y * w + x0..y * w + x1];
            for (v, &fv) in vsum.iter_mut().zip(f) {
                *v = v.wrapping_add(fv.into());
            }
            if y == i {
                for (m, &fv) in mid.iter_mut().zip(f) {
                    *m = m.wrapping_add(fv.into());
                }
            }
        }
    }
    let out = &mut thr[c0..c1];
    for (k, t) in out.iter_mut().enumerate() {
        // Column c0 + k is entry k + 1 of vsum/mid.
        *t = vsum[k].wrapping_add(vsum[k + 1]).wrapping_add(vsum[k + 2]).wrapping_sub(mid[k + 1]);
    }
    for theta in 0..3 {
        let a = &csf_a.bands[theta][i * w + c0..i * w + c1];
        for (t, &av) in out.iter_mut().zip(a) {
            *t = t.wrapping_add(center(av));
        }
    }
}

/// `adm_cm` (scale 0): contrast-masked cube sums of the restored bands.
#[inline(always)]
pub(super) fn cm_scale0(r: &DetailBands<i16>, csf_a: &DetailBands<i16>, csf_f: &DetailBands<i16>, w: usize, h: usize) -> f32 {
    let cm = CmScale0::new(w, h);
    let mut accum = [0i64; 3];
    let (c0, c1) = cm.region.cols;
    let mut rows: [Vec<i32>; 3] = Default::default();
    let mut thr_row = vec![0i32; w];
    let center = |a: i16| i32::from(((ONE_BY_15 * i32::from(a).abs() + 2048) >> 12) as i16);
    for i in cm.region.rows.0..cm.region.rows.1 {
        cm_thresholds(csf_a, csf_f, center, i, c0, c1, w, h, &mut rows, &mut thr_row);
        let mut inner = [0i64; 3];
        for j in c0..c1 {
            let thr = thr_row[j];
            let idx = i * w + j;
            for b in 0..3 {
                let x = i32::from(r.bands[b][idx]) * I_RFACTOR_SCALE0[b];
                let x = (x.wrapping_abs() - thr.wrapping_shl(CmScale0::SHIFT_SUB[b])).max(0);
                let x_sq = ((i64::from(x) * i64::from(x) + CmScale0::ROUND_SQ[b]) >> CmScale0::SHIFT_SQ[b]) as i32;
                inner[b] += (i64::from(x_sq) * i64::from(x) + cm.round_cub[b] as i64) >> cm.shift_cub[b];
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + cm.round_inner as i64) >> cm.shift_inner;
        }
    }
    cm.finish(accum)
}

/// `i4_adm_cm` (scales 1–3).
#[inline(always)]
pub(super) fn cm_s123(r: &DetailBands<i32>, csf_a: &DetailBands<i32>, csf_f: &DetailBands<i32>, scale: usize, w: usize, h: usize) -> f32 {
    let cm = CmS123::new(scale, w, h);
    let mut accum = [0i64; 3];
    let (c0, c1) = cm.region.cols;
    let mut rows: [Vec<i32>; 3] = Default::default();
    let mut thr_row = vec![0i32; w];
    let center = |a: i32| ((I4_ONE_BY_15 * i64::from(a.wrapping_abs()) + I4_FLT_ROUND) >> 32) as i32;
    for i in cm.region.rows.0..cm.region.rows.1 {
        cm_thresholds(csf_a, csf_f, center, i, c0, c1, w, h, &mut rows, &mut thr_row);
        let mut inner = [0i64; 3];
        for j in c0..c1 {
            let thr = thr_row[j];
            let idx = i * w + j;
            for b in 0..3 {
                let x = ((i64::from(r.bands[b][idx]) * cm.rfactor[b] + (1 << 27)) >> 28) as i32;
                let x = x.wrapping_abs().wrapping_sub(thr).max(0);
                let x_sq = ((i64::from(x) * i64::from(x) + 536870912) >> 30) as i32;
                inner[b] += (i64::from(x_sq) * i64::from(x) + cm.round_cub as i64) >> cm.shift_cub;
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + cm.round_inner as i64) >> cm.shift_inner;
        }
    }
    cm.finish(accum)
}
