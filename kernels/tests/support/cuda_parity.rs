//! The check both CUDA test tiers run (on a GPU in `cuda_path.rs`, on the host emulation
//! of the kernels in `cuda_on_host.rs`): VIF, ADM and the motion SAD computed through a
//! [`Device`] equal the scalar CPU reference bit for bit, at 8 and 10 bits.

use shotfarm_kernels::Plane;
use shotfarm_kernels::adm::{AdmScratch, MIN_ADM_SIZE, adm_at};
use shotfarm_kernels::cuda::{self, Device};
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad_scalar};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::vif::{VifScratch, vif};

/// A reference/distorted pair of `w x h` samples below `1 << depth`: a textured reference
/// (gradients, edges and noise) and a distorted copy (attenuated, re-noised, partly
/// flattened), so the branches of VIF's statistic and ADM's decoupling (gain limit, angle
/// test, clamped restoration) all occur.
pub fn pair(w: usize, h: usize, depth: u8, seed: u64) -> (Plane<u16>, Plane<u16>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let max = (1i64 << depth) - 1;
    let scale = 1i64 << (depth - 8);
    let mut reference = Vec::with_capacity(w * h);
    let mut distorted = Vec::with_capacity(w * h);
    for i in 0..w * h {
        let (x, y) = ((i % w) as i64, (i / w) as i64);
        let edge = if (x / 9 + y / 7) % 2 == 0 { 60 } else { 180 };
        let texture = ((x * 5 + y * 3) % 40) + (next() % 24) as i64;
        let r = ((edge + texture) * scale).clamp(0, max);
        let d = match (x / 16 + y / 16) % 3 {
            0 => r * 7 / 8 + (next() % 9) as i64 * scale,
            1 => (edge + 20) * scale,
            _ => r + ((next() % 5) as i64 - 2) * scale,
        }
        .clamp(0, max);
        reference.push(r as u16);
        distorted.push(d as u16);
    }
    let plane = |data| Plane::from_vec(w, h, data).unwrap_or_else(|| panic!("plane {w}x{h}"));
    (plane(reference), plane(distorted))
}

/// Asserts that every feature of a `w x h` pair of `depth` bits (8-bit pairs are the
/// 8-bit samples as `u8`) computed on `device` equals the CPU's.
pub fn assert_device_equals_cpu<D: Device>(device: &D, w: usize, h: usize, depth: u8, seed: u64) {
    let (r, d) = pair(w, h, depth, seed);
    if depth == 8 {
        let narrow = |p: &Plane<u16>| Plane::from_vec(w, h, p.data().iter().map(|&v| v as u8).collect()).unwrap_or_else(|| panic!("8-bit"));
        assert_planes(device, &narrow(&r), &narrow(&d), depth, seed);
    } else {
        assert_planes(device, &r, &d, depth, seed);
    }
}

fn assert_planes<D: Device, T: shotfarm_kernels::sample::Sample>(device: &D, r: &Plane<T>, d: &Plane<T>, depth: u8, seed: u64) {
    let (w, h) = (r.width(), r.height());
    let what = |feature: &str| format!("{feature} {w}x{h} {depth}-bit seed {seed}");
    let cpu = vif(r, d, depth, SimdLevel::Scalar, &mut VifScratch::default());
    assert_eq!(cuda::vif(device, r, d, depth).unwrap_or_else(|e| panic!("{}: {e}", what("vif"))), cpu, "{}", what("vif"));
    let cpu = blurred_difference_sad_scalar(r, d, depth, &mut MotionScratch::default());
    assert_eq!(cuda::motion_sad(device, r, d, depth).unwrap_or_else(|e| panic!("{}: {e}", what("motion"))), cpu, "{}", what("motion"));
    if w >= MIN_ADM_SIZE && h >= MIN_ADM_SIZE {
        let cpu = adm_at(r, d, depth, SimdLevel::Scalar, &mut AdmScratch::default());
        assert_eq!(cuda::adm(device, r, d, depth).unwrap_or_else(|e| panic!("{}: {e}", what("adm"))), cpu, "{}", what("adm"));
    }
}
