//! PSNR per plane as libvmaf's `psnr` feature (`integer_psnr.c`): integer SSE,
//! `10·log10(peak² / max(mse, 1e-16))` capped at `6·bit_depth + 12` dB (60 dB at 8 bits).

use crate::frame::{Plane, YuvFrame};
use crate::sample::Sample;

/// Sum of squared differences of two planes of the same size.
pub fn sse<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>) -> u64 {
    reference
        .data()
        .chunks(reference.width().max(1))
        .zip(distorted.data().chunks(distorted.width().max(1)))
        .map(|(r, d)| {
            r.iter()
                .zip(d)
                .map(|(&a, &b)| {
                    let e = i64::from(a.to_i32() - b.to_i32());
                    (e * e) as u64
                })
                .sum::<u64>()
        })
        .sum()
}

/// PSNR in dB from an SSE over `pixels` samples of `bit_depth` bits.
pub fn psnr_from_sse(sse: u64, pixels: usize, bit_depth: u8) -> f64 {
    let peak = f64::from((1u32 << bit_depth) - 1);
    let psnr_max = f64::from(6 * u32::from(bit_depth) + 12);
    let mse = sse as f64 / pixels as f64;
    (10.0 * (peak * peak / mse.max(1e-16)).log10()).min(psnr_max)
}

/// `[psnr_y, psnr_cb, psnr_cr]` of two frames.
pub fn psnr<T: Sample>(reference: &YuvFrame<T>, distorted: &YuvFrame<T>) -> [f64; 3] {
    std::array::from_fn(|p| {
        let (r, d) = (reference.plane(p), distorted.plane(p));
        psnr_from_sse(sse(r, d), r.width() * r.height(), reference.bit_depth())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_planes_hit_the_cap() {
        let f = YuvFrame::<u8>::new(5, 3, 8);
        assert_eq!(psnr(&f, &f), [60.0; 3]);
        let g = YuvFrame::<u16>::new(5, 3, 10);
        assert_eq!(psnr(&g, &g), [72.0; 3]);
    }

    #[test]
    fn one_step_everywhere_is_48_db() {
        let a = Plane::<u8>::from_vec(4, 1, vec![10; 4]).unwrap();
        let b = Plane::<u8>::from_vec(4, 1, vec![11; 4]).unwrap();
        assert_eq!(sse(&a, &b), 4);
        assert!((psnr_from_sse(4, 4, 8) - 10.0 * 65025f64.log10()).abs() < 1e-12);
    }
}
