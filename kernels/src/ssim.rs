//! SSIM as libvmaf's `float_ssim` (`float_ssim.c`, `ssim.c`, `iqa/ssim_tools.c`,
//! `iqa/convolve.c`, `iqa/decimate.c`): luma converted to float, decimated by
//! `max(1, round(min(w, h) / 256))` with a box filter (symmetric edges), then an 11×11
//! Gaussian (σ = 1.5, separable, valid region only), the l·c·s map averaged in double
//! and returned as float. The float/double mix of the original is kept. The reference's
//! side of that ([`SsimReference`]: its decimated luma, mean and mean of squares) is done
//! once per reference frame and shared by every distorted frame scored against it.

use crate::frame::Plane;
use crate::sample::Sample;

const GAUSSIAN: [f32; 11] =
    [0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001, 0.007599, 0.001028];

/// Scratch images of one SSIM computation (the distorted side and the products).
#[derive(Debug, Default)]
pub struct SsimScratch {
    distorted: Vec<f32>,
    decimated: Vec<f32>,
    mu_dis: Vec<f32>,
    sq_dis: Vec<f32>,
    cross: Vec<f32>,
    cache: Vec<f32>,
    /// The reference side of a one-pair [`ssim`].
    reference: SsimReference,
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

/// `_iqa_decimate` with a `factor x factor` box of weight `1/factor²` (new buffer).
fn decimate(img: &[f32], w: usize, h: usize, factor: usize, out: &mut Vec<f32>) -> (usize, usize) {
    let sw = w / factor + (w & 1);
    let sh = h / factor + (h & 1);
    let weight = 1.0f32 / (factor * factor) as f32;
    let (uc, vc) = ((factor / 2) as isize, (factor / 2) as isize);
    let even = if factor % 2 == 1 { 0 } else { 1 };
    out.clear();
    out.reserve(sw * sh);
    for y in 0..sh {
        for x in 0..sw {
            let (cx, cy) = ((x * factor) as isize, (y * factor) as isize);
            let edge = cx < uc || cy < vc || cx >= w as isize - uc || cy >= h as isize - vc;
            let mut sum = 0.0f64;
            for v in -vc..=vc - even {
                for u in -uc..=uc - even {
                    let value = if edge {
                        img[symmetric(cy + v, h) * w + symmetric(cx + u, w)]
                    } else {
                        img[(cy + v) as usize * w + (cx + u) as usize]
                    };
                    sum += f64::from(value * weight);
                }
            }
            out.push(sum as f32);
        }
    }
    (sw, sh)
}

/// `_iqa_convolve` (1-D separable, valid region): returns the result, `(w−10) x (h−10)`.
fn convolve(img: &[f32], w: usize, h: usize, cache: &mut Vec<f32>, out: &mut Vec<f32>) {
    let (dw, dh) = (w - 10, h - 10);
    cache.resize(w * h, 0.0);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        for x in 0..dw {
            let mut sum = 0.0f64;
            for (k, &c) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(row[x + k] * c);
            }
            cache[y * w + x + 5] = sum as f32;
        }
    }
    out.resize(dw * dh, 0.0);
    for y in 0..dh {
        for x in 0..dw {
            let mut sum = 0.0f64;
            for (k, &c) in GAUSSIAN.iter().enumerate() {
                sum += f64::from(cache[(y + k) * w + x + 5] * c);
            }
            out[y * dw + x] = sum as f32;
        }
    }
}

/// The luma samples of `plane` as floats of 8-bit scale, decimated as `float_ssim` does;
/// returns the size after decimation.
fn float_luma<T: Sample>(plane: &Plane<T>, bit_depth: u8, out: &mut Vec<f32>, decimated: &mut Vec<f32>) -> (usize, usize) {
    let (w, h) = (plane.width(), plane.height());
    let scaler = (1u32 << (bit_depth - 8)) as f32;
    out.clear();
    out.extend(plane.data().iter().map(|v| v.to_u32() as f32 / scaler));
    let scale = ((w.min(h) as f32 / 256.0f32 + 0.5) as usize).max(1);
    if scale == 1 {
        return (w, h);
    }
    let size = decimate(out, w, h, scale, decimated);
    std::mem::swap(out, decimated);
    size
}

/// Elementwise products of two images.
fn products(a: &[f32], b: &[f32], out: &mut Vec<f32>) {
    out.clear();
    out.extend(a.iter().zip(b).map(|(x, y)| x * y));
}

/// Fills `out` with SSIM's reference side of the luma plane `reference` of `bit_depth` bits.
pub fn ssim_reference<T: Sample>(reference: &Plane<T>, bit_depth: u8, s: &mut SsimScratch, out: &mut SsimReference) {
    (out.width, out.height) = float_luma(reference, bit_depth, &mut out.pixels, &mut s.decimated);
    let (w, h) = (out.width, out.height);
    if w < 11 || h < 11 {
        return;
    }
    convolve(&out.pixels, w, h, &mut s.cache, &mut out.mu);
    products(&out.pixels, &out.pixels, &mut s.decimated);
    convolve(&s.decimated, w, h, &mut s.cache, &mut out.sq);
}

/// `float_ssim` of a distorted luma plane against a reference whose side is already done
/// ([`ssim_reference`] of a plane of the same size and depth): the same value as [`ssim`].
pub fn ssim_against<T: Sample>(reference: &SsimReference, distorted: &Plane<T>, bit_depth: u8, s: &mut SsimScratch) -> f64 {
    let (w, h) = float_luma(distorted, bit_depth, &mut s.distorted, &mut s.decimated);
    debug_assert_eq!((w, h), (reference.width, reference.height), "ssim of planes of different sizes");
    if w < 11 || h < 11 {
        return 1.0;
    }

    const L: f32 = 255.0;
    let c1 = (0.01f32 * L) * (0.01f32 * L);
    let c2 = (0.03f32 * L) * (0.03f32 * L);
    let c3 = c2 / 2.0f32;

    convolve(&s.distorted, w, h, &mut s.cache, &mut s.mu_dis);
    products(&s.distorted, &s.distorted, &mut s.decimated);
    convolve(&s.decimated, w, h, &mut s.cache, &mut s.sq_dis);
    products(&reference.pixels, &s.distorted, &mut s.decimated);
    convolve(&s.decimated, w, h, &mut s.cache, &mut s.cross);

    let (dw, dh) = (w - 10, h - 10);
    let mut ssim_sum = 0.0f64;
    for i in 0..dw * dh {
        let (mu1, mu2) = (reference.mu[i], s.mu_dis[i]);
        let sigma1_sq = f64::from(reference.sq[i] - mu1 * mu1).max(0.0) as f32;
        let sigma2_sq = f64::from(s.sq_dis[i] - mu2 * mu2).max(0.0) as f32;
        let sigma12 = s.cross[i] - mu1 * mu2;
        let sigma_product = f64::from(sigma1_sq * sigma2_sq).sqrt() as f32;
        let l = (2.0 * f64::from(mu1) * f64::from(mu2) + f64::from(c1)) / f64::from(mu1 * mu1 + mu2 * mu2 + c1);
        let c = (2.0 * f64::from(sigma_product) + f64::from(c2)) / f64::from(sigma1_sq + sigma2_sq + c2);
        let clamped = if sigma12 < 0.0 && sigma_product <= 0.0 { 0.0 } else { sigma12 };
        let st = f64::from((clamped + c3) / (sigma_product + c3));
        ssim_sum += l * c * st;
    }
    f64::from((ssim_sum / (dw * dh) as f64) as f32)
}

/// `float_ssim` of two luma planes of `bit_depth` bits (needs at least 11x11 after decimation).
pub fn ssim<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8, s: &mut SsimScratch) -> f64 {
    let mut reference_side = std::mem::take(&mut s.reference);
    ssim_reference(reference, bit_depth, s, &mut reference_side);
    let value = ssim_against(&reference_side, distorted, bit_depth, s);
    s.reference = reference_side;
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_score_one() {
        let p = Plane::<u8>::from_vec(40, 30, (0..1200).map(|i| (i * 7 % 251) as u8).collect()).unwrap();
        let v = ssim(&p, &p, 8, &mut SsimScratch::default());
        assert!((v - 1.0).abs() < 1e-6, "{v}");
    }

    #[test]
    fn symmetric_boundary_repeats_the_edge() {
        assert_eq!(symmetric(-1, 5), 0);
        assert_eq!(symmetric(-2, 5), 1);
        assert_eq!(symmetric(5, 5), 4);
        assert_eq!(symmetric(6, 5), 3);
    }
}
