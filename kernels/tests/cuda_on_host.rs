//! The CUDA path on the host: the real `.cu` kernels (compiled with g++ through
//! `cuda_host/`) driven by the real host code of `shotfarm_kernels::cuda` equal the CPU
//! reference bit for bit on planes of odd sizes, a row of two blocks included. Without
//! g++ the tests print a SKIP line; `REQUIRE_HOST_CUDA=1` turns that into a failure.
#![cfg(feature = "cuda")]

mod cuda_host;

use std::collections::BTreeSet;

use cuda_host::{BuildError, HostDevice};
use shotfarm_kernels::Plane;
use shotfarm_kernels::cuda::{self, CUDA_SOURCES, Kernel, device::KernelArg, device::LaunchShape};
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad_scalar};
use shotfarm_kernels::sample::Sample;
use shotfarm_kernels::simd_level::SimdLevel;
use shotfarm_kernels::vif::{VifScratch, vif};

/// Width × height of every comparison: odd sizes, and 301 wide (a row of two blocks).
const SIZES: [(usize, usize); 5] = [(67, 41), (97, 61), (120, 77), (35, 33), (301, 37)];

/// The host device, or `None` after a SKIP line when g++ is missing.
fn host_device(test: &str) -> Option<HostDevice> {
    match HostDevice::new() {
        Ok(device) => Some(device),
        Err(BuildError::NoCompiler) => {
            let required = std::env::var("REQUIRE_HOST_CUDA").is_ok_and(|v| v == "1");
            assert!(!required, "REQUIRE_HOST_CUDA=1 but g++ is not installed");
            eprintln!("SKIP {test}: g++ not found, the CUDA kernels cannot run on the host (install g++)");
            None
        }
        Err(BuildError::Failed(why)) => panic!("{why}"),
    }
}

/// xorshift64: seeded, so a failure names the planes it saw.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(bound)) as u32
    }
}

/// A reference plane of 24×24 regions of four kinds — flat, a gentle ramp, full-range
/// noise and stripes — so VIF sees flat and textured areas (both branches of its
/// statistic), and a distorted plane: the reference plus noise whose strength changes
/// every 8×8 tile (none to full range), clipped.
fn plane_pair(w: usize, h: usize, depth: u8, seed: u64) -> (Vec<u16>, Vec<u16>) {
    let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let max = (1u32 << depth) - 1;
    let mut reference = Vec::with_capacity(w * h);
    let mut distorted = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let value = match (x / 24 + y / 24) % 4 {
                0 => max / 3,
                1 => (max / 4 + (x + y) as u32 / 4).min(max),
                2 => random.below(max + 1),
                _ => (if (x / 2) % 2 == 0 { max / 4 } else { max / 2 }) + random.below(max / 16 + 1),
            };
            let strength = [0, 1, max / 64, max / 8, max][(x / 8 + 3 * (y / 8)) % 5];
            let noise = random.below(2 * strength + 1) as i64 - i64::from(strength);
            reference.push(value as u16);
            distorted.push((i64::from(value) + noise).clamp(0, i64::from(max)) as u16);
        }
    }
    (reference, distorted)
}

fn plane<T: Sample>(w: usize, h: usize, data: Vec<T>) -> Plane<T> {
    Plane::from_vec(w, h, data).unwrap_or_else(|| panic!("plane {w}x{h}"))
}

fn narrowed(data: &[u16]) -> Vec<u8> {
    data.iter().map(|&v| v as u8).collect()
}

/// The `extern "C" __global__` functions a `.cu` source defines.
fn global_functions(source: &str) -> BTreeSet<String> {
    source
        .split("__global__")
        .skip(1)
        .filter_map(|rest| {
            let name: String =
                rest.trim_start().strip_prefix("void")?.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

#[test]
fn every_kernel_is_registered_by_the_library_of_its_source() {
    let Some(device) = host_device("every_kernel_is_registered_by_the_library_of_its_source") else {
        return;
    };
    let libraries = device.libraries();
    let files = cuda_host::library::cuda_source_files().unwrap_or_else(|e| panic!("{e:?}"));
    let embedded: Vec<&str> = CUDA_SOURCES.iter().map(|&(name, _)| name).collect();
    assert_eq!(files, embedded, "kernels/cuda/*.cu and cuda::CUDA_SOURCES differ");
    assert_eq!(libraries.files(), files);
    let mut registered = BTreeSet::new();
    for file in &files {
        let expected: BTreeSet<String> = Kernel::ALL.iter().filter(|k| k.source() == file).map(|k| k.symbol().to_string()).collect();
        let symbols: BTreeSet<String> = libraries.registered_symbols(file).unwrap_or_else(|e| panic!("{e}")).into_iter().collect();
        assert_eq!(symbols, expected, "kernels registered by the host library of {file}");
        let text = std::fs::read_to_string(cuda_host::library::cuda_source_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(global_functions(&text), expected, "__global__ functions of {file} against Kernel::ALL");
        registered.extend(symbols);
    }
    let all: BTreeSet<String> = Kernel::ALL.iter().map(|k| k.symbol().to_string()).collect();
    assert_eq!(registered, all, "every Kernel::ALL symbol is registered");
}

#[test]
fn an_unknown_kernel_symbol_is_an_error() {
    let Some(device) = host_device("an_unknown_kernel_symbol_is_an_error") else {
        return;
    };
    let shape = LaunchShape::per_pixel(1, 1);
    for file in device.libraries().files() {
        // SAFETY: no kernel runs: the symbol is unknown.
        let result = unsafe { device.launch_symbol(file, "no_such_kernel", shape, &[KernelArg::I32(0)]) };
        let error = result.expect_err("an unknown symbol launched");
        assert!(error.0.contains("unknown kernel"), "{file}: {error}");
    }
}

#[test]
fn vif_on_the_host_equals_the_cpu_reference() {
    let Some(device) = host_device("vif_on_the_host_equals_the_cpu_reference") else {
        return;
    };
    for (seed, (w, h)) in (1..).zip(SIZES) {
        let (r, d) = plane_pair(w, h, 10, seed);
        let (r, d) = (plane(w, h, r), plane(w, h, d));
        let cpu = vif(&r, &d, 10, SimdLevel::Scalar, &mut VifScratch::default());
        let host = cuda::vif(&device, &r, &d, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(host, cpu, "vif {w}x{h} 10-bit seed {seed}");

        let (r, d) = plane_pair(w, h, 8, seed);
        let (r, d) = (plane(w, h, narrowed(&r)), plane(w, h, narrowed(&d)));
        let cpu = vif(&r, &d, 8, SimdLevel::Scalar, &mut VifScratch::default());
        let host = cuda::vif(&device, &r, &d, 8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(host, cpu, "vif {w}x{h} 8-bit seed {seed}");
    }
}

#[test]
fn motion_on_the_host_equals_the_cpu_reference() {
    let Some(device) = host_device("motion_on_the_host_equals_the_cpu_reference") else {
        return;
    };
    for (seed, (w, h)) in (1..).zip(SIZES) {
        let (previous, current) = plane_pair(w, h, 10, seed);
        let (p, c) = (plane(w, h, previous), plane(w, h, current));
        let cpu = blurred_difference_sad_scalar(&p, &c, 10, &mut MotionScratch::default());
        let host = cuda::motion_sad(&device, &p, &c, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(host, cpu, "motion {w}x{h} 10-bit seed {seed}");

        let (previous, current) = plane_pair(w, h, 8, seed);
        let (p, c) = (plane(w, h, narrowed(&previous)), plane(w, h, narrowed(&current)));
        let cpu = blurred_difference_sad_scalar(&p, &c, 8, &mut MotionScratch::default());
        let host = cuda::motion_sad(&device, &p, &c, 8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(host, cpu, "motion {w}x{h} 8-bit seed {seed}");
    }
}
