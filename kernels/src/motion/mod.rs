//! Integer motion (`integer_motion2`), bit-exact with libvmaf HEAD's
//! `motion_score_pipeline_8/16` (the 2026 "pipelined v2" motion, commit a4a1492d).
//!
//! For frame i > 0: blur the *difference* of the reference luma of frames i−1 and i
//! with the 5-tap Gaussian {3571, 16004, 26386, 16004, 3571}/65536, vertically
//! (`>> bit_depth`, rounded) then horizontally (`>> 16`, rounded), with reflect-101
//! mirroring (`2·size − idx − 2`) at every edge; SAD of the result / 256 / (w·h) in
//! double. `motion2[i] = min(motion[i], motion[i+1])`, `motion2[last] = motion[last]`,
//! `motion2[0] = 0` — one frame of look-ahead.
//!
//! | module | what it holds |
//! | --- | --- |
//! | this file | the scalar reference ([`blurred_difference_sad_scalar`]), its dispatch ([`blurred_difference_sad_at`]: the same loops compiled with AVX2 or AVX-512 as the level and the CPU allow), motion and motion2 from the SADs |
//! | `avx2` | the AVX2 twins of the 8-bit vertical blur and of the horizontal blur + SAD |
//! | `avx512` | their AVX-512 twins (32 and 16 columns at a time) |

mod avx2;
mod avx512;

use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The 5-tap blur (`integer_motion.h`).
pub const MOTION_FILTER: [i32; 5] = [3571, 16004, 26386, 16004, 3571];

/// libvmaf's `motion_max_val` default.
const MOTION_MAX: f64 = 10000.0;

/// `mirror()` of libvmaf's motion: `−idx` below 0, `2·size − idx − 2` past the end.
#[inline(always)]
fn mirror(index: isize, size: usize) -> usize {
    let size = size as isize;
    let m = if index < 0 {
        -index
    } else if index >= size {
        2 * size - index - 2
    } else {
        index
    };
    m.clamp(0, size - 1) as usize
}

/// Scratch row of the vertical pass.
#[derive(Debug, Default)]
pub struct MotionScratch {
    row: Vec<i32>,
    acc: Vec<i64>,
}

/// SAD of the blurred difference of two reference lumas (`motion_score_pipeline_*`),
/// on the best SIMD level of this CPU.
pub fn blurred_difference_sad<T: Sample>(
    previous: &Plane<T>,
    current: &Plane<T>,
    bit_depth: u8,
    scratch: &mut MotionScratch,
) -> u64 {
    blurred_difference_sad_at(previous, current, bit_depth, SimdLevel::detect(), scratch)
}

/// The SAD computed by the code built for `simd` (the scalar build is the reference).
pub fn blurred_difference_sad_at<T: Sample>(
    previous: &Plane<T>,
    current: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut MotionScratch,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`), the one
        // requirement of the `#[target_feature]` function; its body is safe Rust.
        return unsafe { sad_avx512(previous, current, bit_depth, scratch) };
    }
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx2) {
        // SAFETY: the CPU has AVX2 (checked by `permits`), the one requirement of a
        // `#[target_feature(enable = "avx2")]` function; its body is safe Rust.
        return unsafe { sad_avx2(previous, current, bit_depth, scratch) };
    }
    sad_body(previous, current, bit_depth, SimdLevel::Scalar, scratch)
}

/// The same loops compiled with AVX2 enabled, with the 8-bit row loops of
/// [`avx2`] (bit-exact).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sad_avx2<T: Sample>(previous: &Plane<T>, current: &Plane<T>, bit_depth: u8, scratch: &mut MotionScratch) -> u64 {
    sad_body(previous, current, bit_depth, SimdLevel::Avx2, scratch)
}

/// The same loops compiled with AVX-512 enabled, with the 8-bit row loops of
/// [`avx512`] (bit-exact).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
fn sad_avx512<T: Sample>(previous: &Plane<T>, current: &Plane<T>, bit_depth: u8, scratch: &mut MotionScratch) -> u64 {
    sad_body(previous, current, bit_depth, SimdLevel::Avx512, scratch)
}

/// Scalar reference (also what the AVX2 build compiles).
pub fn blurred_difference_sad_scalar<T: Sample>(
    previous: &Plane<T>,
    current: &Plane<T>,
    bit_depth: u8,
    scratch: &mut MotionScratch,
) -> u64 {
    sad_body(previous, current, bit_depth, SimdLevel::Scalar, scratch)
}

#[inline(always)]
fn sad_body<T: Sample>(previous: &Plane<T>, current: &Plane<T>, bit_depth: u8, simd: SimdLevel, scratch: &mut MotionScratch) -> u64 {
    let (w, h) = (current.width(), current.height());
    let shift = u32::from(bit_depth);
    let y_round: i64 = 1 << (shift - 1);
    // Row with 2 mirrored entries on each side for the horizontal pass.
    scratch.row.resize(w + 4, 0);
    scratch.acc.resize(w, 0);
    let (prev, cur) = (previous.data(), current.data());
    let eight_bit = std::mem::size_of::<T>() == 1;
    let mut sad = 0u64;
    for i in 0..h {
        let taps: [usize; 5] = std::array::from_fn(|k| mirror(i as isize - 2 + k as isize, h));
        let done = {
            let p = taps.map(|r| &prev[r * w..r * w + w]);
            let q = taps.map(|r| &cur[r * w..r * w + w]);
            match avx512::vertical_row(p, q, shift, &mut scratch.row[2..w + 2], simd) {
                0 => avx2::vertical_row(p, q, shift, &mut scratch.row[2..w + 2], simd),
                done => done,
            }
        };
        let acc = &mut scratch.acc[done..w];
        acc.fill(0);
        for (&r, &c) in taps.iter().zip(&MOTION_FILTER) {
            let (p, q) = (&prev[r * w + done..r * w + w], &cur[r * w + done..r * w + w]);
            for j in 0..acc.len() {
                acc[j] += i64::from(c) * i64::from(p[j].to_i32() - q[j].to_i32());
            }
        }
        let row = &mut scratch.row;
        for (j, &a) in acc.iter().enumerate() {
            row[done + j + 2] = ((a + y_round) >> shift) as i32;
        }
        if row[2..w + 2].iter().all(|&v| v == 0) {
            continue;
        }
        for f in 1..=2 {
            row[2 - f] = row[2 + mirror(-(f as isize), w)];
            row[w + 1 + f] = row[2 + mirror((w - 1 + f) as isize, w)];
        }
        let (mut row_sad, done) = match avx512::horizontal_sad(row, w, eight_bit, simd) {
            (_, 0) => avx2::horizontal_sad(row, w, eight_bit, simd),
            done => done,
        };
        for j in done..w {
            let window = &row[j..j + 5];
            let mut a = 0i64;
            for k in 0..5 {
                a += i64::from(MOTION_FILTER[k]) * i64::from(window[k]);
            }
            row_sad = row_sad.wrapping_add((((a + 32768) >> 16) as i32).unsigned_abs());
        }
        sad += u64::from(row_sad);
    }
    sad
}

/// `VMAF_integer_feature_motion_sad_score`: SAD / 256 / (w·h), capped at 10000.
pub fn motion_score(sad: u64, width: usize, height: usize) -> f64 {
    let pixels = (width as u32).wrapping_mul(height as u32);
    (sad as f64 / 256.0 / f64::from(pixels)).min(MOTION_MAX)
}

/// `motion2` of every frame from the per-frame motion scores (`motion[0]` is 0).
pub fn motion2_from_motion(motion: &[f64]) -> Vec<f64> {
    let n = motion.len();
    (0..n)
        .map(|i| {
            if i == 0 {
                0.0
            } else if i + 1 < n {
                motion[i].min(motion[i + 1])
            } else {
                motion[i]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_frames_have_no_motion() {
        let p = Plane::<u8>::from_vec(7, 5, (0..35).collect()).unwrap();
        assert_eq!(blurred_difference_sad(&p, &p, 8, &mut MotionScratch::default()), 0);
    }

    #[test]
    fn motion2_takes_the_lookahead_minimum() {
        assert_eq!(motion2_from_motion(&[0.0, 3.0, 2.0, 5.0]), vec![0.0, 2.0, 2.0, 5.0]);
        assert_eq!(motion2_from_motion(&[0.0]), vec![0.0]);
    }

    #[test]
    fn mirror_reflects_without_repeating_the_edge() {
        assert_eq!(mirror(-2, 6), 2);
        assert_eq!(mirror(6, 6), 4);
        assert_eq!(mirror(7, 6), 3);
    }
}
