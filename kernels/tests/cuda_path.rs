//! The CUDA path: every `.cu` compiles with NVRTC (no GPU needed: CI installs the
//! `nvidia-cuda-nvrtc` wheel with `kernels/scripts/install-nvrtc.sh`), and on a GPU the
//! CUDA features equal the CPU reference bit for bit. Without libnvrtc or a GPU the
//! tests print a SKIP line; `REQUIRE_GPU=1` turns a missing GPU into a failure, and
//! `REQUIRE_NVRTC=1` a missing libnvrtc.
#![cfg(feature = "cuda")]

use std::sync::Arc;

use proptest::prelude::*;
use shotfarm_kernels::cuda::{self, CudaDevice};

mod support {
    pub mod cuda_parity;
}
use support::cuda_parity::assert_device_equals_cpu;

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

#[test]
fn every_cu_source_compiles_with_nvrtc() {
    if !cuda::nvrtc_present() {
        assert!(!required("REQUIRE_NVRTC"), "REQUIRE_NVRTC=1 but libnvrtc cannot be loaded");
        eprintln!("SKIP every_cu_source_compiles_with_nvrtc: libnvrtc not found (run kernels/scripts/install-nvrtc.sh and add its output to LD_LIBRARY_PATH)");
        return;
    }
    let compiled = cuda::compile_all().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compiled.len(), cuda::CUDA_SOURCES.len());
    for (name, ptx) in compiled {
        let text = ptx.to_src();
        assert!(text.contains(".entry"), "{name}: no kernel entry in the PTX");
    }
}

/// The GPU, or `None` after a SKIP line (a failure with `REQUIRE_GPU=1`).
fn gpu(test: &str) -> Option<Arc<CudaDevice>> {
    match cuda::probe() {
        Ok(device) => Some(device),
        Err(reason) => {
            assert!(!required("REQUIRE_GPU"), "REQUIRE_GPU=1 but cuda unavailable: {reason}");
            eprintln!("SKIP {test}: cuda unavailable: {reason}");
            None
        }
    }
}

#[test]
fn cuda_features_equal_the_cpu_reference() {
    let Some(device) = gpu("cuda_features_equal_the_cpu_reference") else { return };
    for (w, h, seed) in [(67, 41, 3), (120, 77, 9), (1920, 1080, 5)] {
        for depth in [8, 10] {
            assert_device_equals_cpu(&*device, w, h, depth, seed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random sizes (odd ones, widths not a multiple of 8, rows spanning several blocks).
    #[test]
    fn cuda_equals_the_cpu_on_random_sizes(w in 33usize..700, h in 33usize..300, ten_bit: bool, seed: u64) {
        if let Some(device) = gpu("cuda_equals_the_cpu_on_random_sizes") {
            assert_device_equals_cpu(&*device, w, h, if ten_bit { 10 } else { 8 }, seed);
        }
    }
}
