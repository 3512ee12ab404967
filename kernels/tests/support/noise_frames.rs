//! Test data the kernels' test files share: planes and 4:2:0 frames of pseudo-random samples
//! over a ramp (xorshift noise of a chosen amplitude), the same for the same seed.

// Each test binary uses the part it needs.
#![allow(dead_code)]

use shotfarm_kernels::{Frame, Plane, YuvFrame};

/// A plane of `w x h` samples below `1 << depth`: a ramp (its phase set by `seed`) plus noise
/// below `noise`, smooth enough to exercise both branches of the VIF statistic.
pub fn noise_plane(w: usize, h: usize, depth: u8, seed: u64, noise: u16) -> Plane<u16> {
    let mut state = seed | 1;
    let max = (1u32 << depth) - 1;
    let data = (0..w * h)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            let base = (x * 7 + y * 3 + seed as u32 % 5) % (max + 1);
            ((base + (state % u64::from(noise.max(1))) as u32).min(max)) as u16
        })
        .collect();
    Plane::from_vec(w, h, data).expect("size matches")
}

/// [`noise_plane`] at 8 bits, in bytes.
pub fn noise_plane8(w: usize, h: usize, seed: u64, noise: u16) -> Plane<u8> {
    let plane = noise_plane(w, h, 8, seed, noise);
    Plane::from_vec(w, h, plane.data().iter().map(|&v| v as u8).collect()).expect("size matches")
}

/// A 4:2:0 frame of `w x h` luma at `depth` bits, its three planes [`noise_plane`]s of seeds
/// `seed`, `seed + 1` and `seed + 2`.
pub fn noise_frame(w: usize, h: usize, depth: u8, seed: u64, noise: u16) -> Frame {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let planes = [noise_plane(w, h, depth, seed, noise), noise_plane(cw, ch, depth, seed + 1, noise), noise_plane(cw, ch, depth, seed + 2, noise)];
    if depth == 8 {
        let narrow = planes.map(|p| Plane::from_vec(p.width(), p.height(), p.data().iter().map(|&v| v as u8).collect()).expect("size matches"));
        Frame::Eight(YuvFrame::from_planes(8, narrow).expect("4:2:0 sizes"))
    } else {
        Frame::High(YuvFrame::from_planes(depth, planes).expect("4:2:0 sizes"))
    }
}
