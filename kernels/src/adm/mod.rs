//! Integer ADM (additive detail metric, "ADM2") at 4 scales, bit-exact with libvmaf's
//! `feature/integer_adm.c` (`integer_compute_adm` and the functions it calls).
//!
//! Per scale: a Daubechies-2 DWT of reference and distorted (int16 at scale 0, int32 at
//! scales 1–3, each on the previous LL band, size ⌈w/2⌉×⌈h/2⌉); decoupling of the detail
//! bands into restored (`r`) and additive impairment (`a`) parts; a contrast sensitivity
//! weighting (CSF); contrast masking of `r` by the CSF-weighted `a`; cube sums over the
//! frame minus a 10 % border; cube roots in `f32`. The fixed-point shifts and roundings,
//! including libvmaf's quirks (e.g. a rounding constant of −2³¹ that comes from an
//! unsigned constant stored in an `int32_t`), are reproduced as they are.

#![expect(clippy::needless_range_loop, reason = "these loops index several planes and tables by one position, as libvmaf's C does; iterator chains would hide the correspondence")]

mod avx2;

use std::sync::OnceLock;

use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Daubechies-2 low-pass and high-pass filters in Q15 (`dwt2_db2_coeffs_lo/hi`).
pub(crate) const DWT_LO: [i32; 4] = [15826, 27411, 7345, -4240];
pub(crate) const DWT_HI: [i32; 4] = [-4240, -7345, 27411, -15826];
pub(crate) const DWT_LO_SUM: i32 = 46342;
const DWT_HI_SUM: i32 = 0;

const ONE_BY_15: i32 = 8738;
const I4_ONE_BY_15: i64 = 286331153;
/// `(int32_t)(1u << 31)` as libvmaf's i4 CSF/CM code uses it: −2³¹.
const I4_FLT_ROUND: i64 = -2147483648;

const ENHANCEMENT_GAIN_LIMIT: f64 = 100.0;
const NORM_VIEW_DIST: f64 = 3.0;
const REF_DISPLAY_HEIGHT: i32 = 1080;
const BORDER_FACTOR: f64 = 0.1;

/// libvmaf refuses widths or heights of 32 and below for ADM.
pub const MIN_ADM_SIZE: usize = 33;

/// Watson et al. 1997 model for luma: a, k, f0, g[4].
const WATSON_A: f32 = 0.495;
const WATSON_K: f32 = 0.466;
const WATSON_F0: f32 = 0.401;
const WATSON_G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
const BASIS_AMPLITUDES: [[f32; 4]; 6] = [
    [0.62171, 0.67234, 0.72709, 0.67234],
    [0.34537, 0.41317, 0.49428, 0.41317],
    [0.18004, 0.22727, 0.28688, 0.22727],
    [0.091401, 0.11792, 0.15214, 0.11792],
    [0.045943, 0.059758, 0.077727, 0.059758],
    [0.023013, 0.030018, 0.039156, 0.030018],
];

/// `dwt_quant_step`: the quantisation step Q(λ, θ) for the default viewing condition.
fn dwt_quant_step(lambda: i32, theta: usize) -> f32 {
    let r = (NORM_VIEW_DIST * f64::from(REF_DISPLAY_HEIGHT) * std::f64::consts::PI / 180.0) as f32;
    let temp = (2.0f64.powf(f64::from(lambda + 1)) * f64::from(WATSON_F0) * f64::from(WATSON_G[theta])
        / f64::from(r))
    .log10() as f32;
    let q = 2.0 * f64::from(WATSON_A) * 10.0f64.powf(f64::from(WATSON_K * temp * temp))
        / f64::from(BASIS_AMPLITUDES[lambda as usize][theta]);
    q as f32
}

/// `1 / Q` for the H/V bands (θ=1) and the D band (θ=2) of a scale.
fn reciprocal_factors(scale: usize) -> [f32; 3] {
    let f1 = dwt_quant_step(scale as i32, 1);
    let f2 = dwt_quant_step(scale as i32, 2);
    [1.0 / f1, 1.0 / f1, 1.0 / f2]
}

/// `div_lookup[i + 32768] = 2^30 / i` for i in −32768..=32768 (0 at i = 0).
pub(crate) fn div_lookup() -> &'static [i32; 65537] {
    static TABLE: OnceLock<Box<[i32; 65537]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0i32; 65537]);
        for i in 1..=32768i32 {
            let recip = 1073741824 / i;
            t[(32768 + i) as usize] = recip;
            t[(32768 - i) as usize] = -recip;
        }
        t
    })
}

/// The four bands of one DWT level, row-major with stride = band width.
#[derive(Debug, Default, Clone)]
struct Bands<T> {
    a: Vec<T>,
    h: Vec<T>,
    v: Vec<T>,
    d: Vec<T>,
}

impl<T: Copy + Default> Bands<T> {
    fn resize(&mut self, n: usize) {
        for b in [&mut self.a, &mut self.h, &mut self.v, &mut self.d] {
            b.resize(n, T::default());
        }
    }
}

/// The three detail bands (H, V, D) of a derived quantity.
#[derive(Debug, Default, Clone)]
struct DetailBands<T> {
    bands: [Vec<T>; 3],
}

impl<T: Copy + Default> DetailBands<T> {
    fn resize(&mut self, n: usize) {
        for b in &mut self.bands {
            b.resize(n, T::default());
        }
    }
}

/// Scratch memory of one ADM computation, reused from frame to frame.
#[derive(Debug, Default)]
pub struct AdmScratch {
    ref0: Bands<i16>,
    dis0: Bands<i16>,
    r0: DetailBands<i16>,
    a0: DetailBands<i16>,
    csf_a0: DetailBands<i16>,
    csf_f0: DetailBands<i16>,
    ref_i4: Bands<i32>,
    dis_i4: Bands<i32>,
    prev_ref: Vec<i32>,
    prev_dis: Vec<i32>,
    r_i4: DetailBands<i32>,
    a_i4: DetailBands<i32>,
    csf_a_i4: DetailBands<i32>,
    csf_f_i4: DetailBands<i32>,
    tmp: Vec<i32>,
    /// The vertical-pass rows of the scale-0 DWT (low-pass, high-pass).
    rows0: (Vec<i16>, Vec<i16>),
    /// Mirrored source columns of each DWT output column.
    col_taps: Vec<[usize; 4]>,
}

/// Per-scale numerator and denominator (floats, as libvmaf keeps them) and ADM2.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AdmScores {
    pub num: [f32; 4],
    pub den: [f32; 4],
    /// `integer_adm2`.
    pub adm2: f64,
}

impl AdmScores {
    /// `integer_adm_scaleK` = num/den in double.
    pub fn scale(&self, k: usize) -> f64 {
        f64::from(self.num[k]) / f64::from(self.den[k])
    }
}

/// Index of the 4 source rows/columns of DWT output `i` (`dwt2_src_indices_filt`):
/// `2i−1 .. 2i+2`, mirrored as `−x` below 0 and `2n−x−1` above `n−1`.
#[inline(always)]
fn dwt_taps(i: usize, n: usize) -> [usize; 4] {
    std::array::from_fn(|k| {
        let idx = 2 * i as isize - 1 + k as isize;
        let m = if idx < 0 {
            -idx
        } else if idx >= n as isize {
            2 * n as isize - idx - 1
        } else {
            idx
        };
        m.clamp(0, n as isize - 1) as usize
    })
}

/// `(int)(n * 0.1 - 0.5 - extra)`, truncated toward zero like C.
#[inline]
fn border(n: usize, extra: f64) -> i32 {
    (n as f64 * BORDER_FACTOR - 0.5 - extra) as i32
}

/// The region decoupling and CSF work on: the 10 % border minus one filter tap.
pub(crate) fn extended_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let left = border(w, 1.0).max(0);
    let top = border(h, 1.0).max(0);
    let right = (w as i32 - left + 2).min(w as i32);
    let bottom = (h as i32 - top + 2).min(h as i32);
    (top as usize, bottom.max(0) as usize, left as usize, right.max(0) as usize)
}

/// The region the sums run over: the frame minus a 10 % border.
fn score_region(w: usize, h: usize) -> (i32, i32, i32, i32) {
    let left = border(w, 0.0);
    let top = border(h, 0.0);
    (top, h as i32 - top, left, w as i32 - left)
}

/// `(uint32_t)pow(2, shift - 1)` with libvmaf's unsigned wrap: 0 when `shift` is 0.
#[inline]
fn half_of_shift(shift: u32) -> u64 {
    if shift == 0 { 0 } else { 1u64 << (shift - 1) }
}

/// `(uint32_t)ceil(log2(x) - sub)`.
#[inline]
fn ceil_log2_minus(x: f64, sub: f64) -> u32 {
    (x.log2() - sub).ceil() as u32
}

/// `pow(2, a - b - c)` with the subtraction in `unsigned` as libvmaf writes it.
#[inline]
fn pow2_unsigned(a: u32, b: u32, c: u32) -> f64 {
    2.0f64.powf(f64::from(a.wrapping_sub(b).wrapping_sub(c)))
}

/// Integer ADM of a reference/distorted luma pair of `bit_depth` bits (w, h > 32),
/// on the best SIMD level of this CPU.
pub fn adm<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) -> AdmScores {
    adm_at(reference, distorted, bit_depth, SimdLevel::detect(), scratch)
}

/// Integer ADM computed by the code built for `simd` (the scalar build is the reference).
pub fn adm_at<T: Sample>(
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut AdmScratch,
) -> AdmScores {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above), the one requirement of a
        // `#[target_feature(enable = "avx2")]` function; its body is safe Rust.
        return unsafe { adm_avx2(reference, distorted, bit_depth, scratch) };
    }
    adm_body(reference, distorted, bit_depth, SimdLevel::Scalar, scratch)
}

/// The same code compiled with AVX2 enabled: identical integer arithmetic, wider vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adm_avx2<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) -> AdmScores {
    adm_body(reference, distorted, bit_depth, SimdLevel::Avx2, scratch)
}

#[inline(always)]
fn adm_body<T: Sample>(
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut AdmScratch,
) -> AdmScores {
    let (w0, h0) = (reference.width(), reference.height());
    let numden_limit = 1e-10 * (w0 * h0) as f64 / (1920.0 * 1080.0);
    let mut scores = AdmScores::default();

    // Scale 0: int16 DWT of the samples.
    let (mut w, mut h) = (w0.div_ceil(2), h0.div_ceil(2));
    let n = w * h;
    let s = &mut *scratch;
    s.ref0.resize(n);
    s.dis0.resize(n);
    dwt_scale0(reference, u32::from(bit_depth), simd, &mut s.ref0, &mut s.rows0, &mut s.col_taps);
    dwt_scale0(distorted, u32::from(bit_depth), simd, &mut s.dis0, &mut s.rows0, &mut s.col_taps);
    for b in [&mut s.r0, &mut s.a0, &mut s.csf_a0, &mut s.csf_f0] {
        b.resize(n);
    }
    decouple_scale0(&s.ref0, &s.dis0, w, h, simd, &mut s.r0, &mut s.a0);
    scores.den[0] = csf_den_scale0(&s.ref0, w, h);
    csf_scale0(&s.a0, w, h, &mut s.csf_a0, &mut s.csf_f0);
    scores.num[0] = cm_scale0(&s.r0, &s.csf_a0, &s.csf_f0, w, h);
    // The LL bands rotate through these four by `swap` below; each holding room for the
    // largest (scale 0's) keeps the next frame from reallocating them (fresh pages,
    // zeroed and copied, at every frame).
    for band in [&mut s.prev_ref, &mut s.prev_dis, &mut s.ref_i4.a, &mut s.dis_i4.a] {
        band.reserve(n.saturating_sub(band.len()));
    }
    s.prev_ref.clear();
    s.prev_ref.extend(s.ref0.a.iter().map(|&v| i32::from(v)));
    s.prev_dis.clear();
    s.prev_dis.extend(s.dis0.a.iter().map(|&v| i32::from(v)));

    for scale in 1..4 {
        let (pw, ph) = (w, h);
        (w, h) = (pw.div_ceil(2), ph.div_ceil(2));
        let n = w * h;
        s.ref_i4.resize(n);
        s.dis_i4.resize(n);
        for b in [&mut s.r_i4, &mut s.a_i4, &mut s.csf_a_i4, &mut s.csf_f_i4] {
            b.resize(n);
        }
        dwt_s123(&s.prev_ref, (pw, ph), scale, simd, &mut s.ref_i4, &mut s.tmp, &mut s.col_taps);
        dwt_s123(&s.prev_dis, (pw, ph), scale, simd, &mut s.dis_i4, &mut s.tmp, &mut s.col_taps);
        decouple_s123(&s.ref_i4, &s.dis_i4, w, h, &mut s.r_i4, &mut s.a_i4);
        scores.den[scale] = csf_den_s123(&s.ref_i4, scale, w, h);
        csf_s123(&s.a_i4, scale, w, h, &mut s.csf_a_i4, &mut s.csf_f_i4);
        scores.num[scale] = cm_s123(&s.r_i4, &s.csf_a_i4, &s.csf_f_i4, scale, w, h);
        std::mem::swap(&mut s.prev_ref, &mut s.ref_i4.a);
        std::mem::swap(&mut s.prev_dis, &mut s.dis_i4.a);
    }

    let num: f64 = scores.num.iter().map(|&v| f64::from(v)).sum();
    let den: f64 = scores.den.iter().map(|&v| f64::from(v)).sum();
    let num = if num < numden_limit { 0.0 } else { num };
    let den = if den < numden_limit { 0.0 } else { den };
    scores.adm2 = if den == 0.0 { 1.0 } else { num / den };
    scores
}

/// `adm_dwt2_8` / `adm_dwt2_16`: one DWT level of the samples into int16 bands.
#[inline(always)]
fn dwt_scale0<T: Sample>(
    src: &Plane<T>,
    bit_depth: u32,
    simd: SimdLevel,
    out: &mut Bands<i16>,
    rows: &mut (Vec<i16>, Vec<i16>),
    col_taps: &mut Vec<[usize; 4]>,
) {
    let (w, h) = (src.width(), src.height());
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let data = src.data();
    let (tmp_lo, tmp_hi) = rows;
    tmp_lo.resize(w, 0);
    tmp_hi.resize(w, 0);
    col_taps.clear();
    col_taps.extend((0..bw).map(|j| dwt_taps(j, w)));
    // Interior outputs j = 1..=interior read tmp[2j−1 ..= 2j+2] directly (no mirror table).
    let interior = w.saturating_sub(3).div_euclid(2).min(bw.saturating_sub(1));
    for i in 0..bh {
        let r: [&[T]; 4] = dwt_taps(i, h).map(|y| &data[y * w..(y + 1) * w]);
        let done = crate::adm::avx2::dwt0_vertical(r, bit_depth, tmp_lo, tmp_hi, simd);
        dwt0_vertical_columns(r, bit_depth, done, tmp_lo, tmp_hi);
        let row = i * bw;
        let out_row = [&mut out.a, &mut out.v, &mut out.h, &mut out.d].map(|b| &mut b[row..row + bw]);
        let [a, v, hb, d] = out_row;
        let next = crate::adm::avx2::dwt0_horizontal(tmp_lo, tmp_hi, interior, [&mut *a, &mut *v, &mut *hb, &mut *d], simd);
        for j in next..=interior {
            let b = 2 * j - 1;
            let lo = [tmp_lo[b], tmp_lo[b + 1], tmp_lo[b + 2], tmp_lo[b + 3]].map(i32::from);
            let hi = [tmp_hi[b], tmp_hi[b + 1], tmp_hi[b + 2], tmp_hi[b + 3]].map(i32::from);
            a[j] = dwt0_filter(&DWT_LO, &lo);
            v[j] = dwt0_filter(&DWT_HI, &lo);
            hb[j] = dwt0_filter(&DWT_LO, &hi);
            d[j] = dwt0_filter(&DWT_HI, &hi);
        }
        for j in std::iter::once(0).chain(interior + 1..bw) {
            let taps = col_taps[j];
            let lo = taps.map(|x| i32::from(tmp_lo[x]));
            let hi = taps.map(|x| i32::from(tmp_hi[x]));
            a[j] = dwt0_filter(&DWT_LO, &lo);
            v[j] = dwt0_filter(&DWT_HI, &lo);
            hb[j] = dwt0_filter(&DWT_LO, &hi);
            d[j] = dwt0_filter(&DWT_HI, &hi);
        }
    }
}

/// The scale-0 vertical pass of columns `from..` of the 4 source rows `r`, in wrapping
/// `i32` as libvmaf's `int32_t` sums (above 12 bits the sums can exceed `i32`).
#[inline(always)]
fn dwt0_vertical_columns<T: Sample>(r: [&[T]; 4], shift: u32, from: usize, tmp_lo: &mut [i16], tmp_hi: &mut [i16]) {
    let round = 1i32 << (shift - 1);
    let dot = |f: &[i32; 4], s: &[i32; 4]| {
        f[0].wrapping_mul(s[0]).wrapping_add(f[1].wrapping_mul(s[1])).wrapping_add(f[2].wrapping_mul(s[2])).wrapping_add(f[3].wrapping_mul(s[3]))
    };
    for j in from..tmp_lo.len() {
        let s = [r[0][j].to_i32(), r[1][j].to_i32(), r[2][j].to_i32(), r[3][j].to_i32()];
        let lo = dot(&DWT_LO, &s).wrapping_sub(DWT_LO_SUM.wrapping_mul(round));
        tmp_lo[j] = (lo.wrapping_add(round) >> shift) as i16;
        let hi = dot(&DWT_HI, &s).wrapping_sub(DWT_HI_SUM * round);
        tmp_hi[j] = (hi.wrapping_add(round) >> shift) as i16;
    }
}

/// The scale-0 horizontal filter of 4 taps (wrapping `i32`, `>> 16` rounded).
#[inline(always)]
fn dwt0_filter(f: &[i32; 4], s: &[i32; 4]) -> i16 {
    let acc = f[0]
        .wrapping_mul(s[0])
        .wrapping_add(f[1].wrapping_mul(s[1]))
        .wrapping_add(f[2].wrapping_mul(s[2]))
        .wrapping_add(f[3].wrapping_mul(s[3]));
    (acc.wrapping_add(32768) >> 16) as i16
}

/// `adm_dwt2_s123_combined` for one image: DWT of an int32 LL band of `w x h`.
///
/// Rows are read as slices and the interior columns without the mirror table, so the
/// loops vectorise; the arithmetic is libvmaf's (int64 products, its roundings).
#[inline(always)]
fn dwt_s123(
    src: &[i32],
    (w, h): (usize, usize),
    scale: usize,
    simd: SimdLevel,
    out: &mut Bands<i32>,
    tmp: &mut Vec<i32>,
    col_taps: &mut Vec<[usize; 4]>,
) {
    const ROUND_VP: [i64; 3] = [0, 32768, 32768];
    const SHIFT_VP: [u32; 3] = [0, 16, 16];
    const ROUND_HP: [i64; 3] = [16384, 32768, 16384];
    const SHIFT_HP: [u32; 3] = [15, 16, 15];
    let vertical = DwtRounding { round: ROUND_VP[scale - 1], shift: SHIFT_VP[scale - 1] };
    let horizontal = DwtRounding { round: ROUND_HP[scale - 1], shift: SHIFT_HP[scale - 1] };
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    tmp.resize(2 * w, 0);
    let (tmp_lo, tmp_hi) = tmp.split_at_mut(w);
    col_taps.clear();
    col_taps.extend((0..bw).map(|j| dwt_taps(j, w)));
    let lo_k = DWT_LO.map(i64::from);
    let hi_k = DWT_HI.map(i64::from);
    let filt = |f: &[i64; 4], s: [i32; 4]| {
        let s = s.map(i64::from);
        ((f[0] * s[0] + f[1] * s[1] + f[2] * s[2] + f[3] * s[3] + horizontal.round) >> horizontal.shift) as i32
    };
    // Interior outputs j = 1..=interior read tmp[2j−1 ..= 2j+2] directly.
    let interior = w.saturating_sub(3).div_euclid(2).min(bw.saturating_sub(1));
    for i in 0..bh {
        let r: [&[i32]; 4] = dwt_taps(i, h).map(|y| &src[y * w..(y + 1) * w]);
        let done = crate::adm::avx2::dwt_s123_vertical(r, vertical, tmp_lo, tmp_hi, simd);
        for j in done..w {
            let s = [i64::from(r[0][j]), i64::from(r[1][j]), i64::from(r[2][j]), i64::from(r[3][j])];
            let lo = lo_k[0] * s[0] + lo_k[1] * s[1] + lo_k[2] * s[2] + lo_k[3] * s[3];
            let hi = hi_k[0] * s[0] + hi_k[1] * s[1] + hi_k[2] * s[2] + hi_k[3] * s[3];
            tmp_lo[j] = ((lo + vertical.round) >> vertical.shift) as i32;
            tmp_hi[j] = ((hi + vertical.round) >> vertical.shift) as i32;
        }
        let row = i * bw;
        let [a, v, hb, d] = [&mut out.a, &mut out.v, &mut out.h, &mut out.d].map(|b| &mut b[row..row + bw]);
        let next = crate::adm::avx2::dwt_s123_horizontal(
            tmp_lo,
            tmp_hi,
            interior,
            horizontal,
            [&mut *a, &mut *v, &mut *hb, &mut *d],
            simd,
        );
        for j in next..=interior {
            let b = 2 * j - 1;
            let lo = [tmp_lo[b], tmp_lo[b + 1], tmp_lo[b + 2], tmp_lo[b + 3]];
            let hi = [tmp_hi[b], tmp_hi[b + 1], tmp_hi[b + 2], tmp_hi[b + 3]];
            a[j] = filt(&lo_k, lo);
            v[j] = filt(&hi_k, lo);
            hb[j] = filt(&lo_k, hi);
            d[j] = filt(&hi_k, hi);
        }
        for j in std::iter::once(0).chain(interior + 1..bw) {
            let taps = col_taps[j];
            let lo = taps.map(|x| tmp_lo[x]);
            let hi = taps.map(|x| tmp_hi[x]);
            a[j] = filt(&lo_k, lo);
            v[j] = filt(&hi_k, lo);
            hb[j] = filt(&lo_k, hi);
            d[j] = filt(&hi_k, hi);
        }
    }
}

/// One rounding of the scale 1–3 DWT: `(Σ + round) >> shift` in `i64`, kept as `i32`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DwtRounding {
    pub round: i64,
    pub shift: u32,
}

/// `cos(1°)²` as libvmaf stores it (computed in double, kept in float).
pub(crate) fn cos_1deg_sq() -> f32 {
    let c = (1.0f64 * std::f64::consts::PI / 180.0).cos();
    (c * c) as f32
}

/// The "angle between (oh, ov) and (th, tv) below 1°" test, in libvmaf's mixed float/double.
#[inline(always)]
fn angle_flag(cos_sq: f32, oh: i64, ov: i64, th: i64, tv: i64) -> bool {
    let ot_dp = oh * th + ov * tv;
    let o_mag_sq = oh * oh + ov * ov;
    let t_mag_sq = th * th + tv * tv;
    let dp = f64::from(ot_dp as f32) / 4096.0;
    dp >= 0.0
        && dp * dp >= f64::from(cos_sq) * (f64::from(o_mag_sq as f32) / 4096.0) * (f64::from(t_mag_sq as f32) / 4096.0)
}

/// Applies the enhancement gain limit to a restored value `rst` of sign `sign(k·o)`.
#[inline(always)]
fn limit_gain(rst: f64, positive: bool, negative: bool, t: f64) -> f64 {
    if positive {
        (rst * ENHANCEMENT_GAIN_LIMIT).min(t)
    } else if negative {
        (rst * ENHANCEMENT_GAIN_LIMIT).max(t)
    } else {
        rst
    }
}

/// `adm_decouple` (scale 0, int16).
#[inline(always)]
fn decouple_scale0(
    reference: &Bands<i16>,
    distorted: &Bands<i16>,
    w: usize,
    h: usize,
    simd: SimdLevel,
    r: &mut DetailBands<i16>,
    a: &mut DetailBands<i16>,
) {
    let lookup = div_lookup();
    let cos_sq = cos_1deg_sq();
    let (top, bottom, left, right) = extended_region(w, h);
    for i in top..bottom {
        let row = i * w + left..i * w + right;
        let o = [&reference.h, &reference.v, &reference.d].map(|b| &b[row.clone()]);
        let t = [&distorted.h, &distorted.v, &distorted.d].map(|b| &b[row.clone()]);
        let [rh, rv, rd] = r.bands.each_mut().map(|b| &mut b[row.clone()]);
        let [ah, av, ad] = a.bands.each_mut().map(|b| &mut b[row.clone()]);
        let done = crate::adm::avx2::decouple0(
            o,
            t,
            [&mut *rh, &mut *rv, &mut *rd],
            [&mut *ah, &mut *av, &mut *ad],
            lookup,
            cos_sq,
            simd,
        );
        let (r_row, a_row) = ([rh, rv, rd], [ah, av, ad]);
        for j in done..row.len() {
            let (oj, tj) = (o.map(|b| b[j]), t.map(|b| b[j]));
            let flag = angle_flag(cos_sq, oj[0].into(), oj[1].into(), tj[0].into(), tj[1].into());
            for band in 0..3 {
                let (ob, tb) = (i32::from(oj[band]), i32::from(tj[band]));
                let tmp_k = if ob == 0 {
                    32768
                } else {
                    ((i64::from(lookup[(ob + 32768) as usize]) * i64::from(tb) + 16384) >> 15) as i32
                };
                let k = tmp_k.clamp(0, 32768);
                let mut rst = ((k * ob + 16384) >> 15) as i16;
                if flag {
                    rst = limit_gain(f64::from(rst), k > 0 && ob > 0, k > 0 && ob < 0, f64::from(tb)) as i32 as i16;
                }
                r_row[band][j] = rst;
                a_row[band][j] = (tb - i32::from(rst)) as i16;
            }
        }
    }
}

/// `get_best15_from32`: the top 15 bits of `value` (rounded) and the shift used.
#[inline(always)]
fn best15_from32(value: u32) -> (u32, u32) {
    let k = 17 - value.leading_zeros();
    ((value + (1 << (k - 1))) >> k, k)
}

/// `adm_decouple_s123` (scales 1–3, int32).
#[inline(always)]
fn decouple_s123(
    reference: &Bands<i32>,
    distorted: &Bands<i32>,
    w: usize,
    h: usize,
    r: &mut DetailBands<i32>,
    a: &mut DetailBands<i32>,
) {
    let lookup = div_lookup();
    let cos_sq = cos_1deg_sq();
    let (top, bottom, left, right) = extended_region(w, h);
    for i in top..bottom {
        for j in left..right {
            let idx = i * w + j;
            let o = [reference.h[idx], reference.v[idx], reference.d[idx]];
            let t = [distorted.h[idx], distorted.v[idx], distorted.d[idx]];
            let flag = angle_flag(cos_sq, o[0].into(), o[1].into(), t[0].into(), t[1].into());
            for band in 0..3 {
                let (ob, tb) = (o[band], t[band]);
                let tmp_k: i64 = if ob == 0 {
                    32768
                } else {
                    let abs_o = ob.unsigned_abs();
                    let sign: i64 = if ob < 0 { -1 } else { 1 };
                    let (msb, shift) = if abs_o < 32768 { (abs_o, 0) } else { best15_from32(abs_o) };
                    let round = i64::from(1i32.wrapping_shl(14 + shift));
                    ((i64::from(lookup[(msb + 32768) as usize]) * i64::from(tb)) * sign + round) >> (15 + shift)
                };
                let k = tmp_k.clamp(0, 32768);
                let mut rst = ((k * i64::from(ob) + 16384) >> 15) as i32;
                if flag {
                    rst = limit_gain(f64::from(rst), k > 0 && ob > 0, k > 0 && ob < 0, f64::from(tb)) as i32;
                }
                r.bands[band][idx] = rst;
                a.bands[band][idx] = tb.wrapping_sub(rst);
            }
        }
    }
}

/// Scale-0 CSF factors in fixed point for the default viewing condition.
pub(crate) const I_RFACTOR_SCALE0: [i32; 3] = [36453, 36453, 49417];

/// `adm_csf` (scale 0).
#[inline(always)]
fn csf_scale0(a: &DetailBands<i16>, w: usize, h: usize, csf_a: &mut DetailBands<i16>, csf_f: &mut DetailBands<i16>) {
    const SHIFTS: [u32; 3] = [15, 15, 17];
    const ROUNDS: [i32; 3] = [16384, 16384, 65535];
    const FIX_ONE_BY_30: i32 = 4369;
    let (top, bottom, left, right) = extended_region(w, h);
    for theta in 0..3 {
        for i in top..bottom {
            for j in left..right {
                let idx = i * w + j;
                let dst = I_RFACTOR_SCALE0[theta] * i32::from(a.bands[theta][idx]);
                let dst16 = ((dst + ROUNDS[theta]) >> SHIFTS[theta]) as i16;
                csf_a.bands[theta][idx] = dst16;
                csf_f.bands[theta][idx] = ((FIX_ONE_BY_30 * i32::from(dst16).abs() + 2048) >> 12) as i16;
            }
        }
    }
}

/// The scale-1..3 CSF factors in Q32 (`(uint32_t)(rfactor * 2^32)`).
pub(crate) fn i_rfactor_s123(scale: usize) -> [i64; 3] {
    reciprocal_factors(scale).map(|f| (f64::from(f) * 4294967296.0) as u32 as i64)
}

/// `i4_adm_csf` (scales 1–3).
#[inline(always)]
fn csf_s123(a: &DetailBands<i32>, scale: usize, w: usize, h: usize, csf_a: &mut DetailBands<i32>, csf_f: &mut DetailBands<i32>) {
    const FIX_ONE_BY_30: i64 = 143165577;
    let rfactor = i_rfactor_s123(scale);
    let (top, bottom, left, right) = extended_region(w, h);
    for theta in 0..3 {
        for i in top..bottom {
            for j in left..right {
                let idx = i * w + j;
                let dst = ((rfactor[theta] * i64::from(a.bands[theta][idx]) + (1 << 27)) >> 28) as i32;
                csf_a.bands[theta][idx] = dst;
                csf_f.bands[theta][idx] = ((FIX_ONE_BY_30 * i64::from(dst.wrapping_abs()) + I4_FLT_ROUND) >> 32) as i32;
            }
        }
    }
}

/// The rows and columns a score sums over: the band minus a 10 % border, clamped to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SumRegion {
    pub rows: (usize, usize),
    pub cols: (usize, usize),
    /// `(bottom − top) · (right − left)` as libvmaf computes it (unclamped).
    pub area: i32,
}

impl SumRegion {
    pub(crate) fn of(w: usize, h: usize) -> Self {
        let (top, bottom, left, right) = score_region(w, h);
        SumRegion {
            rows: (top.max(0) as usize, (bottom.max(0) as usize).min(h)),
            cols: (left.max(0) as usize, (right.max(0) as usize).min(w)),
            area: (bottom - top) * (right - left),
        }
    }
}

/// `adm_csf_den_scale`'s fixed point (scale 0): each row's Σ|x|³ is added as
/// `(Σ + round) >> shift`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenScale0 {
    pub region: SumRegion,
    pub shift: u32,
    pub round: u64,
}

impl DenScale0 {
    pub(crate) fn new(w: usize, h: usize) -> Self {
        let region = SumRegion::of(w, h);
        let shift = (f64::from(region.area).log2() - 20.0).ceil() as i32;
        let shift = shift.max(0) as u32;
        DenScale0 { region, shift, round: half_of_shift(shift) }
    }

    /// The denominator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [u64; 3]) -> f32 {
        let shift_csf = 2.0f64.powf(f64::from(18 - self.shift as i32));
        finish_den(accum, shift_csf, reciprocal_factors(0), self.region.area)
    }
}

/// `adm_csf_den_scale` (scale 0): Σ|ref band|³ over the score region, cube-rooted.
#[inline(always)]
fn csf_den_scale0(reference: &Bands<i16>, w: usize, h: usize) -> f32 {
    let den = DenScale0::new(w, h);
    let mut accum = [0u64; 3];
    let bands = [&reference.h, &reference.v, &reference.d];
    for i in den.region.rows.0..den.region.rows.1 {
        let mut inner = [0u64; 3];
        for j in den.region.cols.0..den.region.cols.1 {
            for (b, band) in bands.iter().enumerate() {
                let x = u64::from(band[i * w + j].unsigned_abs());
                inner[b] += x * x * x;
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + den.round) >> den.shift;
        }
    }
    den.finish(accum)
}

/// Cube roots and the noise term of a CSF denominator.
fn finish_den(accum: [u64; 3], shift_csf: f64, rfactor: [f32; 3], area: i32) -> f32 {
    let powf_add = (area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
    let mut total = 0.0f32;
    for b in 0..3 {
        let csf = (accum[b] as f64 / shift_csf) * f64::from(rfactor[b]).powf(3.0);
        total += (csf as f32).powf(1.0f32 / 3.0f32) + powf_add;
    }
    total
}

/// `adm_csf_den_s123`'s fixed point (scales 1–3): per pixel
/// `((((x² + round_sq) >> shift_sq) · x + round_cub) >> shift_cub)`, per row
/// `(Σ + round_accum) >> shift_accum`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenS123 {
    pub scale: usize,
    pub region: SumRegion,
    pub shift_sq: u32,
    pub round_sq: u64,
    pub shift_cub: u32,
    pub round_cub: u64,
    pub shift_accum: u32,
    pub round_accum: u64,
}

impl DenS123 {
    pub(crate) fn new(scale: usize, w: usize, h: usize) -> Self {
        const SHIFT_SQ: [u32; 3] = [31, 30, 31];
        let (top, bottom, left, right) = score_region(w, h);
        let shift_sq = SHIFT_SQ[scale - 1];
        let shift_cub = ceil_log2_minus(f64::from(right - left), 0.0);
        let shift_accum = ceil_log2_minus(f64::from(bottom - top), 0.0);
        DenS123 {
            scale,
            region: SumRegion::of(w, h),
            shift_sq,
            round_sq: 1u64 << shift_sq,
            shift_cub,
            round_cub: half_of_shift(shift_cub),
            shift_accum,
            round_accum: half_of_shift(shift_accum),
        }
    }

    /// The denominator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [u64; 3]) -> f32 {
        const ACCUM_CONVERT_FLOAT: [u32; 3] = [32, 27, 23];
        let shift_csf = pow2_unsigned(ACCUM_CONVERT_FLOAT[self.scale - 1], self.shift_accum, self.shift_cub);
        finish_den(accum, shift_csf, reciprocal_factors(self.scale), self.region.area)
    }
}

/// `adm_csf_den_s123` (scales 1–3).
#[inline(always)]
fn csf_den_s123(reference: &Bands<i32>, scale: usize, w: usize, h: usize) -> f32 {
    let den = DenS123::new(scale, w, h);
    let mut accum = [0u64; 3];
    let bands = [&reference.h, &reference.v, &reference.d];
    for i in den.region.rows.0..den.region.rows.1 {
        let mut inner = [0u64; 3];
        for j in den.region.cols.0..den.region.cols.1 {
            for (b, band) in bands.iter().enumerate() {
                let x = u64::from(band[i * w + j].unsigned_abs());
                inner[b] += ((((x * x) + den.round_sq) >> den.shift_sq) * x + den.round_cub) >> den.shift_cub;
            }
        }
        for b in 0..3 {
            accum[b] += (inner[b] + den.round_accum) >> den.shift_accum;
        }
    }
    den.finish(accum)
}

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

/// `adm_cm`'s fixed point (scale 0): per pixel and band `b`,
/// `((x_sq · x + round_cub[b]) >> shift_cub[b])`, per row `(Σ + round_inner) >> shift_inner`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmScale0 {
    pub region: SumRegion,
    pub shift_cub: [u32; 3],
    pub round_cub: [u64; 3],
    pub shift_inner: u32,
    pub round_inner: u64,
}

impl CmScale0 {
    pub(crate) const SHIFT_SQ: [u32; 3] = [29, 29, 30];
    pub(crate) const ROUND_SQ: [i64; 3] = [268435456, 268435456, 536870912];
    pub(crate) const SHIFT_SUB: [u32; 3] = [10, 10, 12];

    pub(crate) fn new(w: usize, h: usize) -> Self {
        let shift_cub = [ceil_log2_minus(w as f64, 4.0), ceil_log2_minus(w as f64, 4.0), ceil_log2_minus(w as f64, 3.0)];
        let shift_inner = ceil_log2_minus(h as f64, 0.0);
        CmScale0 {
            region: SumRegion::of(w, h),
            shift_cub,
            round_cub: shift_cub.map(half_of_shift),
            shift_inner,
            round_inner: half_of_shift(shift_inner),
        }
    }

    /// The numerator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [i64; 3]) -> f32 {
        let noise = (self.region.area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
        let mut total = 0.0f32;
        for b in 0..3 {
            let base = if b == 2 { 57 } else { 52 };
            let f = (accum[b] as f64 / pow2_unsigned(base, self.shift_cub[b], self.shift_inner)) as f32;
            total += f.powf(1.0f32 / 3.0f32) + noise;
        }
        total
    }
}

/// `adm_cm` (scale 0): contrast-masked cube sums of the restored bands.
#[inline(always)]
fn cm_scale0(r: &DetailBands<i16>, csf_a: &DetailBands<i16>, csf_f: &DetailBands<i16>, w: usize, h: usize) -> f32 {
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

/// `i4_adm_cm`'s fixed point (scales 1–3): per pixel `(x_sq · x + round_cub) >> shift_cub`,
/// per row `(Σ + round_inner) >> shift_inner`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmS123 {
    pub region: SumRegion,
    pub rfactor: [i64; 3],
    pub shift_cub: u32,
    pub round_cub: u64,
    pub shift_inner: u32,
    pub round_inner: u64,
    final_shift: f32,
}

impl CmS123 {
    pub(crate) fn new(scale: usize, w: usize, h: usize) -> Self {
        let shift_cub = ceil_log2_minus(w as f64, 0.0);
        let shift_inner = ceil_log2_minus(h as f64, 0.0);
        let final_shift = [
            pow2_unsigned(45, shift_cub, shift_inner) as f32,
            pow2_unsigned(39, shift_cub, shift_inner) as f32,
            pow2_unsigned(36, shift_cub, shift_inner) as f32,
        ][scale - 1];
        CmS123 {
            region: SumRegion::of(w, h),
            rfactor: i_rfactor_s123(scale),
            shift_cub,
            round_cub: half_of_shift(shift_cub),
            shift_inner,
            round_inner: half_of_shift(shift_inner),
            final_shift,
        }
    }

    /// The numerator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [i64; 3]) -> f32 {
        let noise = (self.region.area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
        let mut total = 0.0f32;
        for b in 0..3 {
            // int64 / float is a float division in C.
            let f = accum[b] as f32 / self.final_shift;
            total += f.powf(1.0f32 / 3.0f32) + noise;
        }
        total
    }
}

/// `i4_adm_cm` (scales 1–3).
#[inline(always)]
fn cm_s123(r: &DetailBands<i32>, csf_a: &DetailBands<i32>, csf_f: &DetailBands<i32>, scale: usize, w: usize, h: usize) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale0_fixed_point_factors_match_the_model() {
        let rf = reciprocal_factors(0);
        // libvmaf hard-codes these "around" values for the default viewing condition.
        let h = (f64::from(rf[0]) * 2f64.powi(21)) as i32;
        let d = (f64::from(rf[2]) * 2f64.powi(23)) as i32;
        assert!((h - I_RFACTOR_SCALE0[0]).abs() <= 4, "{h}");
        assert!((d - I_RFACTOR_SCALE0[2]).abs() <= 4, "{d}");
    }

    #[test]
    fn dwt_taps_mirror_like_libvmaf() {
        assert_eq!(dwt_taps(0, 10), [1, 0, 1, 2]);
        assert_eq!(dwt_taps(4, 10), [7, 8, 9, 9]);
        assert_eq!(dwt_taps(4, 9), [7, 8, 8, 7]);
    }

    #[test]
    fn div_lookup_ends() {
        let t = div_lookup();
        assert_eq!(t[32768 + 1], 1 << 30);
        assert_eq!(t[0], -32768);
        assert_eq!(t[65536], 32768);
    }
}
