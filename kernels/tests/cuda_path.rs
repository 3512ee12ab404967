//! The CUDA path: every `.cu` compiles with NVRTC (no GPU needed: CI installs the
//! `nvidia-cuda-nvrtc` wheel with `kernels/scripts/install-nvrtc.sh`), and on a GPU the
//! CUDA features equal the CPU reference bit for bit. Without libnvrtc or a GPU the
//! tests print a SKIP line; `REQUIRE_GPU=1` turns a missing GPU into a failure, and
//! `REQUIRE_NVRTC=1` a missing libnvrtc.
#![cfg(feature = "cuda")]

use shotfarm_kernels::Plane;
use shotfarm_kernels::adm::{AdmScratch, adm_at};
use shotfarm_kernels::cuda;
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad_scalar};
use shotfarm_kernels::simd_level::SimdLevel;
use shotfarm_kernels::vif::{VifScratch, vif};

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

fn plane(w: usize, h: usize, depth: u8, seed: u64) -> Plane<u16> {
    let mut s = seed | 1;
    let max = (1u64 << depth) - 1;
    let data = (0..w * h)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (((i % w) as u64 * 5 + (i / w) as u64 * 3 + s % 9) % (max + 1)) as u16
        })
        .collect();
    Plane::from_vec(w, h, data).unwrap_or_else(|| panic!("plane {w}x{h}"))
}

#[test]
fn cuda_features_equal_the_cpu_reference() {
    let kernels = match cuda::probe() {
        Ok(k) => k,
        Err(reason) => {
            assert!(!required("REQUIRE_GPU"), "REQUIRE_GPU=1 but cuda unavailable: {reason}");
            eprintln!("SKIP cuda_features_equal_the_cpu_reference: cuda unavailable: {reason}");
            return;
        }
    };
    for (w, h, depth, seed) in [(67, 41, 10, 3), (120, 77, 10, 9), (1920, 1080, 10, 5)] {
        let r = plane(w, h, depth, seed);
        let d = plane(w, h, depth, seed * 7 + 1);
        let cpu = vif(&r, &d, depth, SimdLevel::Scalar, &mut VifScratch::default());
        let gpu = cuda::vif(&*kernels, &r, &d, depth).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gpu, cpu, "vif {w}x{h} {depth}-bit seed {seed}");
        let cpu_adm = adm_at(&r, &d, depth, SimdLevel::Scalar, &mut AdmScratch::default());
        assert_eq!(cuda::adm(&*kernels, &r, &d, depth).unwrap_or_else(|e| panic!("{e}")), cpu_adm, "adm {w}x{h} {depth}-bit");
        let sad = blurred_difference_sad_scalar(&r, &d, depth, &mut MotionScratch::default());
        assert_eq!(cuda::motion_sad(&*kernels, &r, &d, depth).unwrap_or_else(|e| panic!("{e}")), sad, "motion {w}x{h}");
        let r8 = Plane::from_vec(w, h, r.data().iter().map(|&v| v as u8).collect()).unwrap_or_else(|| panic!("8-bit"));
        let d8 = Plane::from_vec(w, h, d.data().iter().map(|&v| v as u8).collect()).unwrap_or_else(|| panic!("8-bit"));
        let cpu8 = vif(&r8, &d8, 8, SimdLevel::Scalar, &mut VifScratch::default());
        assert_eq!(cuda::vif(&*kernels, &r8, &d8, 8).unwrap_or_else(|e| panic!("{e}")), cpu8, "vif 8-bit {w}x{h}");
        let cpu_adm8 = adm_at(&r8, &d8, 8, SimdLevel::Scalar, &mut AdmScratch::default());
        assert_eq!(cuda::adm(&*kernels, &r8, &d8, 8).unwrap_or_else(|e| panic!("{e}")), cpu_adm8, "adm 8-bit {w}x{h}");
    }
}
