//! The CUDA path on the host: the real `.cu` kernels (compiled with g++ through
//! `cuda_host/`) driven by the real host code of `shotfarm_kernels::cuda` give VIF, ADM
//! and the motion SAD bit-exact with the CPU reference (`support/cuda_parity.rs`, the
//! GPU tier's check) on planes of odd sizes, a row of two blocks included, and on random
//! sizes. The launcher itself is checked with kernels of its own (`emulator_checks.cu`):
//! barriers, exited threads, coordinates, refused launches. Without g++ the tests print
//! a SKIP line; `REQUIRE_HOST_CUDA=1` (set by `scripts/test`) turns that into a failure.
#![cfg(feature = "cuda")]

mod cuda_host;
mod support {
    pub mod cuda_parity;
}

use std::collections::BTreeSet;

use proptest::prelude::*;

use cuda_host::{BuildError, HostDevice};
use cuda_host::library::EMULATOR_CHECKS;
use shotfarm_kernels::cuda::device::{Device, KernelArg, LaunchShape};
use shotfarm_kernels::Plane;
use shotfarm_kernels::cuda::{self, CUDA_SOURCES, CudaError, Kernel};
use shotfarm_kernels::adm::{AdmScratch, adm_at};
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad_scalar};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::vif::{VifScratch, vif};
use support::cuda_parity::assert_device_equals_cpu;

/// Width × height of every comparison: odd sizes (all at least ADM's 33), and 301 wide
/// (a row of two blocks).
const SIZES: [(usize, usize); 5] = [(67, 41), (97, 61), (120, 77), (35, 33), (301, 37)];

/// The host device of `kernels/cuda/`, or `None` after a SKIP line when g++ is missing.
fn host_device(test: &str) -> Option<HostDevice> {
    or_skip(test, HostDevice::new())
}

/// The host device of the launcher's own check kernels, or `None` after a SKIP line.
fn check_device(test: &str) -> Option<HostDevice> {
    or_skip(test, HostDevice::emulator_checks())
}

fn or_skip(test: &str, device: Result<HostDevice, BuildError>) -> Option<HostDevice> {
    match device {
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

/// Launches a kernel of `emulator_checks.cu` on a 1-D or 3-D shape.
fn launch_check(device: &HostDevice, symbol: &str, grid: (u32, u32, u32), block: (u32, u32, u32), args: &[KernelArg]) -> Result<(), CudaError> {
    // SAFETY: each caller passes the kernel's parameters of emulator_checks.cu, with
    // buffers covering every thread of the shape.
    unsafe { device.launch_symbol(EMULATOR_CHECKS, symbol, LaunchShape { grid, block }, args) }
}

#[test]
fn barriers_order_shared_memory_and_exited_threads_do_not_hold_them() {
    let Some(device) = check_device("barriers_order_shared_memory_and_exited_threads_do_not_hold_them") else {
        return;
    };
    for threads in [256u32, 1024, 7] {
        let input: Vec<i32> = (0..3 * threads as i32).collect();
        let (from, to) = (device.upload(&input).unwrap(), device.zeros::<i32>(input.len()).unwrap());
        let args = [KernelArg::Pointer(device.address(&from)), KernelArg::Pointer(device.address(&to))];
        launch_check(&device, "reverse_through_shared", (3, 1, 1), (threads, 1, 1), &args).unwrap();
        let expected: Vec<i32> = input.chunks(threads as usize).flat_map(|block| block.iter().rev().copied()).collect();
        assert_eq!(device.download(&to).unwrap(), expected, "blocks of {threads}");
    }
    let total = device.zeros::<u64>(1).unwrap();
    launch_check(&device, "sum_of_live_threads", (2, 1, 1), (256, 1, 1), &[KernelArg::I32(100), KernelArg::Pointer(device.address(&total))]).unwrap();
    assert_eq!(device.download(&total).unwrap(), [2 * 5050]);
}

#[test]
fn block_and_thread_coordinates_follow_the_launch_shape() {
    let Some(device) = check_device("block_and_thread_coordinates_follow_the_launch_shape") else {
        return;
    };
    let (grid, block) = ((3, 2, 2), (4, 3, 2));
    let out = device.zeros::<u64>(12 * 24).unwrap();
    launch_check(&device, "coordinates", grid, block, &[KernelArg::Pointer(device.address(&out))]).unwrap();
    let mut expected = Vec::new();
    for (bz, by, bx) in coordinates_in_order(grid) {
        for (tz, ty, tx) in coordinates_in_order(block) {
            expected.push([bx, by, bz, tx, ty, tz].iter().fold(0u64, |packed, &c| (packed << 8) | u64::from(c)));
        }
    }
    assert_eq!(device.download(&out).unwrap(), expected);
}

/// Every (z, y, x) below `shape`, x fastest (CUDA's linear order of blocks and threads).
fn coordinates_in_order((x, y, z): (u32, u32, u32)) -> impl Iterator<Item = (u32, u32, u32)> {
    (0..z).flat_map(move |k| (0..y).flat_map(move |j| (0..x).map(move |i| (k, j, i))))
}

#[test]
fn a_divergent_barrier_is_an_error_and_the_next_launch_starts_afresh() {
    let Some(device) = check_device("a_divergent_barrier_is_an_error_and_the_next_launch_starts_afresh") else {
        return;
    };
    let out = device.zeros::<i32>(64).unwrap();
    let error = launch_check(&device, "divergent_barrier", (1, 1, 1), (64, 1, 1), &[KernelArg::Pointer(device.address(&out))])
        .expect_err("a divergent barrier launched");
    assert!(error.0.contains("different __syncthreads()"), "{error}");
    assert_eq!(device.download(&out).unwrap(), vec![0; 64], "threads went on past a divergent barrier");
    // The abandoned threads must not resume the old kernel in the next launch.
    let input: Vec<i32> = (0..64).collect();
    let (from, to) = (device.upload(&input).unwrap(), device.zeros::<i32>(64).unwrap());
    let args = [KernelArg::Pointer(device.address(&from)), KernelArg::Pointer(device.address(&to))];
    launch_check(&device, "reverse_through_shared", (1, 1, 1), (64, 1, 1), &args).unwrap();
    assert_eq!(device.download(&to).unwrap(), input.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(device.download(&out).unwrap(), vec![0; 64], "an abandoned thread resumed");
}

#[test]
fn a_block_of_no_or_too_many_threads_or_an_empty_grid_is_refused() {
    let Some(device) = check_device("a_block_of_no_or_too_many_threads_or_an_empty_grid_is_refused") else {
        return;
    };
    let out = device.zeros::<u64>(1).unwrap();
    for (grid, block) in [((1, 1, 1), (0, 1, 1)), ((1, 1, 1), (1025, 1, 1)), ((1, 1, 1), (32, 16, 4)), ((0, 1, 1), (1, 1, 1))] {
        let error = launch_check(&device, "coordinates", grid, block, &[KernelArg::Pointer(device.address(&out))])
            .expect_err("a bad shape launched");
        assert!(error.0.contains("bad launch shape"), "grid {grid:?} block {block:?}: {error}");
    }
}

#[test]
fn cuda_features_on_the_host_equal_the_cpu_reference() {
    let Some(device) = host_device("cuda_features_on_the_host_equal_the_cpu_reference") else {
        return;
    };
    for (seed, (w, h)) in (1..).zip(SIZES) {
        for depth in [8, 10] {
            assert_device_equals_cpu(&device, w, h, depth, seed);
        }
    }
}

/// Extreme 16-bit planes (full-scale stripes against their negation) through every
/// feature: UBSan aborts the test at any undefined behaviour in a kernel, and the
/// features equal the CPU's (whose scale-0 DWT wraps in `i32` there, as libvmaf's).
#[test]
fn the_kernels_equal_the_cpu_without_undefined_behaviour_on_extreme_16_bit_planes() {
    let Some(device) = host_device("the_kernels_equal_the_cpu_without_undefined_behaviour_on_extreme_16_bit_planes") else {
        return;
    };
    let (w, h) = (64, 48);
    let stripes: Vec<u16> = (0..w * h).map(|i| if (i % w) % 3 == 0 { u16::MAX } else { 0 }).collect();
    let negated: Vec<u16> = stripes.iter().map(|&v| u16::MAX - v).collect();
    let reference = Plane::from_vec(w, h, stripes).unwrap();
    let distorted = Plane::from_vec(w, h, negated).unwrap();
    let cpu_vif = vif(&reference, &distorted, 16, SimdLevel::Scalar, &mut VifScratch::default());
    assert_eq!(cuda::vif(&device, &reference, &distorted, 16).unwrap(), cpu_vif);
    let cpu_adm = adm_at(&reference, &distorted, 16, SimdLevel::Scalar, &mut AdmScratch::default());
    assert_eq!(cuda::adm(&device, &reference, &distorted, 16).unwrap(), cpu_adm);
    let cpu_sad = blurred_difference_sad_scalar(&reference, &distorted, 16, &mut MotionScratch::default());
    assert_eq!(cuda::motion_sad(&device, &reference, &distorted, 16).unwrap(), cpu_sad);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Random sizes (odd ones, widths not a multiple of 8, rows of one to three blocks).
    #[test]
    fn cuda_on_the_host_equals_the_cpu_on_random_sizes(w in 33usize..700, h in 33usize..120, ten_bit: bool, seed: u64) {
        if let Some(device) = host_device("cuda_on_the_host_equals_the_cpu_on_random_sizes") {
            assert_device_equals_cpu(&device, w, h, if ten_bit { 10 } else { 8 }, seed);
        }
    }
}
