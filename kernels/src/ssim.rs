//! SSIM as libvmaf's `float_ssim` (`float_ssim.c`, `ssim.c`, `iqa/ssim_tools.c`,
//! `iqa/convolve.c`, `iqa/decimate.c`): luma converted to float, decimated by
//! `max(1, round(min(w, h) / 256))` with a box filter (symmetric edges), then an 11×11
//! Gaussian (σ = 1.5, separable, valid region only), the l·c·s map averaged in double
//! and returned as float. The float/double mix of the original is kept. The reference's
//! side of that ([`SsimReference`]: its decimated luma, mean and mean of squares) is done
//! once per reference frame and shared by every distorted frame scored against it. The
//! convolution and the per-pixel l·c·s terms run one body each, compiled for the
//! [`SimdLevel`] picked (AVX-512, AVX2 or plain): every output keeps its own operations in
//! their order and the terms are summed in libvmaf's order, so every level gives the same
//! bits.

use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Outputs of [`decimate`] summed side by side.
const DECIMATE_BLOCK: usize = 8;

const GAUSSIAN: [f32; 11] =
    [0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001, 0.007599, 0.001028];

/// Scratch images of one SSIM computation (the distorted side and the products).
#[derive(Debug, Default)]
pub struct SsimScratch {
    distorted: Vec<f32>,
    products: Vec<f32>,
    mu_dis: Vec<f32>,
    sq_dis: Vec<f32>,
    cross: Vec<f32>,
    /// Each pixel's l·c·s term, summed in order afterwards.
    terms: Vec<f64>,
    convolve: ConvolveScratch,
    /// The reference side of a one-pair [`ssim`].
    reference: SsimReference,
}

/// The memory of [`convolve`]: the horizontal pass's image and one row of sums.
#[derive(Debug, Default)]
struct ConvolveScratch {
    cache: Vec<f32>,
    sums: Vec<f64>,
}

/// SSIM's work on a reference frame alone — its float luma (decimated), mean and mean of
/// squares — done once and shared by every distorted frame scored against it ([`ssim_against`]).
#[derive(Debug, Default)]
pub struct SsimReference {
    /// Size after decimation.
    width: usize,
    height: usize,
    pixels: Vec<f32>,
    mu: Vec<f32>,
    sq: Vec<f32>,
}

/// `KBND_SYMMETRIC`: `−1−x` below 0, `2w−x−1` past the end (edge sample repeated).
#[inline(always)]
fn symmetric(x: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if x < 0 {
        -1 - x
    } else if x >= n {
        2 * n - x - 1
    } else {
        x
    };
    m.clamp(0, n - 1) as usize
}

/// `_iqa_decimate` with a `factor x factor` box of weight `1/factor²`, of the samples as
/// floats of 8-bit scale (`sample / scaler`), into `out`. Each output's terms are added in
/// `_iqa_decimate`'s order (box rows, then columns) into its own `f64`; inside the image's
/// columns [`DECIMATE_BLOCK`] outputs are summed side by side (independent additions, no
/// symmetric edge), the others one by one.
fn decimate<T: Sample>(samples: &[T], w: usize, h: usize, factor: usize, scaler: f32, out: &mut Vec<f32>) -> (usize, usize) {
    let sw = w / factor + (w & 1);
    let sh = h / factor + (h & 1);
    let weight = 1.0f32 / (factor * factor) as f32;
    let (uc, vc) = ((factor / 2) as isize, (factor / 2) as isize);
    let even = if factor % 2 == 1 { 0 } else { 1 };
    // `scaler` is a power of two: multiplying by its inverse is the division, exactly.
    let inverse = 1.0 / scaler;
    let term = |sample: T| f64::from(sample.to_u32() as f32 * inverse * weight);
    // The outputs whose box lies inside the image's columns.
    let first = (uc as usize).div_ceil(factor);
    let end = (((w - 1) as isize + even - uc).max(0) as usize / factor + 1).min(sw);
    let mut box_rows: Vec<&[T]> = Vec::with_capacity(factor);
    out.clear();
    out.reserve(sw * sh);
    for y in 0..sh {
        let cy = (y * factor) as isize;
        box_rows.clear();
        box_rows.extend((-vc..=vc - even).map(|v| &samples[symmetric(cy + v, h) * w..][..w]));
        let mut x = 0;
        while x < sw {
            if x >= first && x + DECIMATE_BLOCK <= end {
                let mut sums = [0.0f64; DECIMATE_BLOCK];
                for row in &box_rows {
                    for u in -uc..=uc - even {
                        let columns = &row[((x * factor) as isize + u) as usize..];
                        for (j, sum) in sums.iter_mut().enumerate() {
                            *sum += term(columns[j * factor]);
                        }
                    }
                }
                out.extend(sums.map(|sum| sum as f32));
                x += DECIMATE_BLOCK;
            } else {
                let mut sum = 0.0f64;
                for row in &box_rows {
                    for u in -uc..=uc - even {
                        sum += term(row[symmetric((x * factor) as isize + u, w)]);
                    }
                }
                out.push(sum as f32);
                x += 1;
            }
        }
    }
    (sw, sh)
}

/// `_iqa_convolve` (1-D separable, valid region) into `out`, `(w−10) x (h−10)`, by the
/// code `simd` picks: the one body below, compiled for AVX-512 or AVX2 where the level
/// and the CPU allow it (the compiler's own vectors).
fn convolve(img: &[f32], w: usize, h: usize, simd: SimdLevel, scratch: &mut ConvolveScratch, out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`), the only
        // requirement of the `#[target_feature]` function; the body is safe Rust.
        unsafe { convolve_avx512(img, w, h, scratch, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx2) {
        // SAFETY: the CPU has AVX2 (checked by `permits`), the only requirement of the
        // `#[target_feature]` function; the body is safe Rust.
        unsafe { convolve_avx2(img, w, h, scratch, out) };
        return;
    }
    let _ = simd; // only read on x86-64
    convolve_body(img, w, h, scratch, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
fn convolve_avx512(img: &[f32], w: usize, h: usize, scratch: &mut ConvolveScratch, out: &mut Vec<f32>) {
    convolve_body(img, w, h, scratch, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn convolve_avx2(img: &[f32], w: usize, h: usize, scratch: &mut ConvolveScratch, out: &mut Vec<f32>) {
    convolve_body(img, w, h, scratch, out);
}

/// The convolution, each output's `f64` sum of its 11 float products taken tap by tap in
/// `_iqa_convolve`'s order, as one row of sums per output row: taps outer, columns inner,
/// so that the columns vectorise (lanes are independent sums, the order within each is
/// kept, and Rust never fuses a multiply and an add: every width gives the same bits).
#[inline(always)]
fn convolve_body(img: &[f32], w: usize, h: usize, scratch: &mut ConvolveScratch, out: &mut Vec<f32>) {
    let (dw, dh) = (w - 10, h - 10);
    let ConvolveScratch { cache, sums } = scratch;
    cache.resize(w * h, 0.0);
    sums.resize(dw, 0.0);
    let sums = &mut sums[..dw];
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        sums.fill(0.0);
        for (k, &c) in GAUSSIAN.iter().enumerate() {
            for (sum, &v) in sums.iter_mut().zip(&row[k..k + dw]) {
                *sum += f64::from(v * c);
            }
        }
        for (cached, &sum) in cache[y * w + 5..y * w + 5 + dw].iter_mut().zip(sums.iter()) {
            *cached = sum as f32;
        }
    }
    out.resize(dw * dh, 0.0);
    for y in 0..dh {
        sums.fill(0.0);
        for (k, &c) in GAUSSIAN.iter().enumerate() {
            let row = &cache[(y + k) * w + 5..(y + k) * w + 5 + dw];
            for (sum, &v) in sums.iter_mut().zip(row) {
                *sum += f64::from(v * c);
            }
        }
        for (o, &sum) in out[y * dw..(y + 1) * dw].iter_mut().zip(sums.iter()) {
            *o = sum as f32;
        }
    }
}

/// The luma samples of `plane` as floats of 8-bit scale, decimated as `float_ssim` does
/// (straight from the samples); returns the size after decimation.
fn float_luma<T: Sample>(plane: &Plane<T>, bit_depth: u8, out: &mut Vec<f32>) -> (usize, usize) {
    let (w, h) = (plane.width(), plane.height());
    let scaler = (1u32 << (bit_depth - 8)) as f32;
    let scale = ((w.min(h) as f32 / 256.0f32 + 0.5) as usize).max(1);
    if scale == 1 {
        out.clear();
        out.extend(plane.data().iter().map(|v| v.to_u32() as f32 / scaler));
        return (w, h);
    }
    decimate(plane.data(), w, h, scale, scaler, out)
}

/// Elementwise products of two images.
fn products(a: &[f32], b: &[f32], out: &mut Vec<f32>) {
    out.clear();
    out.extend(a.iter().zip(b).map(|(x, y)| x * y));
}

/// Fills `out` with SSIM's reference side of the luma plane `reference` of `bit_depth` bits,
/// computed by the code `simd` picks.
pub fn ssim_reference<T: Sample>(reference: &Plane<T>, bit_depth: u8, simd: SimdLevel, s: &mut SsimScratch, out: &mut SsimReference) {
    (out.width, out.height) = float_luma(reference, bit_depth, &mut out.pixels);
    let (w, h) = (out.width, out.height);
    if w < 11 || h < 11 {
        return;
    }
    convolve(&out.pixels, w, h, simd, &mut s.convolve, &mut out.mu);
    products(&out.pixels, &out.pixels, &mut s.products);
    convolve(&s.products, w, h, simd, &mut s.convolve, &mut out.sq);
}

/// `float_ssim` of a distorted luma plane against a reference whose side is already done
/// ([`ssim_reference`] of a plane of the same size and depth): the same value as [`ssim`],
/// at any `simd` level.
pub fn ssim_against<T: Sample>(reference: &SsimReference, distorted: &Plane<T>, bit_depth: u8, simd: SimdLevel, s: &mut SsimScratch) -> f64 {
    let (w, h) = float_luma(distorted, bit_depth, &mut s.distorted);
    debug_assert_eq!((w, h), (reference.width, reference.height), "ssim of planes of different sizes");
    if w < 11 || h < 11 {
        return 1.0;
    }

    const L: f32 = 255.0;
    let c1 = (0.01f32 * L) * (0.01f32 * L);
    let c2 = (0.03f32 * L) * (0.03f32 * L);
    let c3 = c2 / 2.0f32;

    convolve(&s.distorted, w, h, simd, &mut s.convolve, &mut s.mu_dis);
    products(&s.distorted, &s.distorted, &mut s.products);
    convolve(&s.products, w, h, simd, &mut s.convolve, &mut s.sq_dis);
    products(&reference.pixels, &s.distorted, &mut s.products);
    convolve(&s.products, w, h, simd, &mut s.convolve, &mut s.cross);

    let (dw, dh) = (w - 10, h - 10);
    let maps = Maps { mu1: &reference.mu, sq1: &reference.sq, mu2: &s.mu_dis, sq2: &s.sq_dis, cross: &s.cross };
    s.terms.resize(dw * dh, 0.0);
    ssim_terms(maps, (c1, c2, c3), simd, &mut s.terms[..dw * dh]);
    // Added in libvmaf's order, one after the other.
    let ssim_sum = s.terms[..dw * dh].iter().fold(0.0f64, |sum, &term| sum + term);
    f64::from((ssim_sum / (dw * dh) as f64) as f32)
}

/// The filtered maps one SSIM map is made of: both sides' means and means of squares, and
/// the mean of the products.
#[derive(Clone, Copy)]
struct Maps<'a> {
    mu1: &'a [f32],
    sq1: &'a [f32],
    mu2: &'a [f32],
    sq2: &'a [f32],
    cross: &'a [f32],
}

/// The l·c·s term of every pixel into `terms` (as long as the maps), by the body compiled
/// for the [`SimdLevel`] picked: each pixel's own operations in their order, so every level
/// gives the same bits.
fn ssim_terms(maps: Maps<'_>, constants: (f32, f32, f32), simd: SimdLevel, terms: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`), the only
        // requirement of the `#[target_feature]` function; the body is safe Rust.
        unsafe { ssim_terms_avx512(maps, constants, terms) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx2) {
        // SAFETY: the CPU has AVX2 (checked by `permits`), the only requirement of the
        // `#[target_feature]` function; the body is safe Rust.
        unsafe { ssim_terms_avx2(maps, constants, terms) };
        return;
    }
    let _ = simd; // only read on x86-64
    ssim_terms_body(maps, constants, terms);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
fn ssim_terms_avx512(maps: Maps<'_>, constants: (f32, f32, f32), terms: &mut [f64]) {
    ssim_terms_body(maps, constants, terms);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ssim_terms_avx2(maps: Maps<'_>, constants: (f32, f32, f32), terms: &mut [f64]) {
    ssim_terms_body(maps, constants, terms);
}

/// `ssim_map`'s per-pixel arithmetic, the float/double mix of the original kept.
#[inline(always)]
fn ssim_terms_body(maps: Maps<'_>, (c1, c2, c3): (f32, f32, f32), terms: &mut [f64]) {
    let n = terms.len();
    let Maps { mu1, sq1, mu2, sq2, cross } = maps;
    let (mu1, sq1, mu2, sq2, cross) = (&mu1[..n], &sq1[..n], &mu2[..n], &sq2[..n], &cross[..n]);
    for (i, term) in terms.iter_mut().enumerate() {
        let (mu1, mu2) = (mu1[i], mu2[i]);
        let sigma1_sq = f64::from(sq1[i] - mu1 * mu1).max(0.0) as f32;
        let sigma2_sq = f64::from(sq2[i] - mu2 * mu2).max(0.0) as f32;
        let sigma12 = cross[i] - mu1 * mu2;
        let sigma_product = f64::from(sigma1_sq * sigma2_sq).sqrt() as f32;
        let l = (2.0 * f64::from(mu1) * f64::from(mu2) + f64::from(c1)) / f64::from(mu1 * mu1 + mu2 * mu2 + c1);
        let c = (2.0 * f64::from(sigma_product) + f64::from(c2)) / f64::from(sigma1_sq + sigma2_sq + c2);
        let clamped = if sigma12 < 0.0 && sigma_product <= 0.0 { 0.0 } else { sigma12 };
        let st = f64::from((clamped + c3) / (sigma_product + c3));
        *term = l * c * st;
    }
}

/// `float_ssim` of two luma planes of `bit_depth` bits (needs at least 11x11 after
/// decimation), the same value at any `simd` level.
pub fn ssim<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8, simd: SimdLevel, s: &mut SsimScratch) -> f64 {
    let mut reference_side = std::mem::take(&mut s.reference);
    ssim_reference(reference, bit_depth, simd, s, &mut reference_side);
    let value = ssim_against(&reference_side, distorted, bit_depth, simd, s);
    s.reference = reference_side;
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_score_one() {
        let p = Plane::<u8>::from_vec(40, 30, (0..1200).map(|i| (i * 7 % 251) as u8).collect()).unwrap();
        let v = ssim(&p, &p, 8, SimdLevel::Scalar, &mut SsimScratch::default());
        assert!((v - 1.0).abs() < 1e-6, "{v}");
    }

    /// `_iqa_decimate` output by output, every index through the symmetric edge.
    fn decimate_one_by_one(samples: &[u16], w: usize, h: usize, factor: usize, scaler: f32) -> Vec<f32> {
        let weight = 1.0f32 / (factor * factor) as f32;
        let (c, even) = ((factor / 2) as isize, if factor % 2 == 1 { 0 } else { 1 });
        let mut out = Vec::new();
        for y in 0..h / factor + (h & 1) {
            for x in 0..w / factor + (w & 1) {
                let mut sum = 0.0f64;
                for v in -c..=c - even {
                    for u in -c..=c - even {
                        let sample = samples[symmetric((y * factor) as isize + v, h) * w + symmetric((x * factor) as isize + u, w)];
                        sum += f64::from(f32::from(sample) / scaler * weight);
                    }
                }
                out.push(sum as f32);
            }
        }
        out
    }

    #[test]
    fn decimate_matches_the_output_by_output_sums() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for (w, h, factor, bit_depth) in [(1920, 1080, 4, 8u8), (1280, 720, 3, 10), (37, 23, 4, 16), (61, 40, 5, 12), (7, 9, 2, 8), (3, 3, 4, 8)] {
            let samples: Vec<u16> = (0..w * h)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 20) as u16 >> (16 - bit_depth)
                })
                .collect();
            let scaler = (1u32 << (bit_depth - 8)) as f32;
            let mut out = Vec::new();
            decimate(&samples, w, h, factor, scaler, &mut out);
            let expected = decimate_one_by_one(&samples, w, h, factor, scaler);
            assert_eq!(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{w}x{h} by {factor}");
        }
    }

    /// `_iqa_convolve` output by output, each sum over its 11 taps in order.
    fn convolve_one_by_one(img: &[f32], w: usize, h: usize) -> Vec<f32> {
        let (dw, dh) = (w - 10, h - 10);
        let mut cache = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..dw {
                let sum: f64 = GAUSSIAN.iter().enumerate().fold(0.0, |sum, (k, &c)| sum + f64::from(img[y * w + x + k] * c));
                cache[y * w + x + 5] = sum as f32;
            }
        }
        let mut out = Vec::with_capacity(dw * dh);
        for y in 0..dh {
            for x in 0..dw {
                let sum: f64 = GAUSSIAN.iter().enumerate().fold(0.0, |sum, (k, &c)| sum + f64::from(cache[(y + k) * w + x + 5] * c));
                out.push(sum as f32);
            }
        }
        out
    }

    /// The convolution gives, at every SIMD level, the bits of the output-by-output sums,
    /// on random images of sizes around the vector widths (columns left over included).
    #[test]
    fn convolution_at_every_level_equals_the_output_by_output_sums() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (w, h) in [(11, 11), (12, 19), (26, 13), (41, 30), (75, 23), (130, 17)] {
            // Values of a decimated luma and of products of two (up to 255²), fractions included.
            let img: Vec<f32> = (0..w * h).map(|_| (next() % 65026) as f32 / [1.0, 3.0, 255.0][(next() % 3) as usize]).collect();
            let expected = convolve_one_by_one(&img, w, h);
            for simd in SimdLevel::available() {
                let mut out = Vec::new();
                convolve(&img, w, h, simd, &mut ConvolveScratch::default(), &mut out);
                assert_eq!(out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{w}x{h} at {}", simd.name());
            }
        }
    }

    #[test]
    fn symmetric_boundary_repeats_the_edge() {
        assert_eq!(symmetric(-1, 5), 0);
        assert_eq!(symmetric(-2, 5), 1);
        assert_eq!(symmetric(5, 5), 4);
        assert_eq!(symmetric(6, 5), 3);
    }
}
