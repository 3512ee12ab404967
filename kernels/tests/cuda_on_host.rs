//! The CUDA path on the host: the real `.cu` kernels (compiled with g++ through
//! `cuda_host/`) driven by the real host code of `shotfarm_kernels::cuda` give VIF, ADM
//! and the motion SAD bit-exact with the CPU reference (`support/cuda_parity.rs`, the
//! GPU tier's check) on planes of odd sizes, a row of two blocks included. Without
//! g++ the tests print a SKIP line; `REQUIRE_HOST_CUDA=1` turns that into a failure.
#![cfg(feature = "cuda")]

mod cuda_host;
mod support {
    pub mod cuda_parity;
}

use std::collections::BTreeSet;

use cuda_host::{BuildError, HostDevice};
use shotfarm_kernels::cuda::{CUDA_SOURCES, Kernel, device::KernelArg, device::LaunchShape};
use support::cuda_parity::assert_device_equals_cpu;

/// Width × height of every comparison: odd sizes (all at least ADM's 33), and 301 wide
/// (a row of two blocks).
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
