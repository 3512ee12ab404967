//! The CUDA path (feature `cuda`): integer VIF (4 scales), ADM (4 scales) and the motion
//! SAD on the GPU, from `.cu` sources in `kernels/cuda/` compiled at run time with NVRTC
//! through cudarc (dynamic loading: nothing CUDA is needed to build).
//!
//! The kernels mirror the CPU reference line by line (same integer arithmetic, the
//! same double-precision steps in the same order, compiled with `--fmad=false`), so
//! the features are bit-exact with it. Nothing here panics on a machine without CUDA:
//! [`probe`] checks the driver library, NVRTC and a device before the first cudarc call
//! that would, and says why CUDA is unavailable.
//!
//! | module | what |
//! | --- | --- |
//! | [`device`] | the [`Device`] trait the host code runs on, the kernel list, launch shapes |
//! | [`driver`] | [`CudaDevice`]: a real GPU through cudarc |
//! | [`vif`], [`adm`], [`motion`] | each feature's host code: uploads, launches, the final sums |

pub mod adm;
pub mod device;
pub mod driver;
pub mod motion;
pub mod vif;

use std::sync::Arc;

use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};

pub use adm::adm;
pub use device::{Device, Kernel};
pub use driver::CudaDevice;
pub use motion::motion_sad;
pub use vif::vif;

/// Every `.cu` source of the CUDA path, by file name.
pub const CUDA_SOURCES: &[(&str, &str)] = [
    ("adm.cu", include_str!("../../cuda/adm.cu")),
    ("motion.cu", include_str!("../../cuda/motion.cu")),
    ("vif.cu", include_str!("../../cuda/vif.cu")),
]
.as_slice();

/// Why CUDA cannot be used here (`cuda unavailable: <reason>` once formatted).
pub type Unavailable = String;

/// Whether libnvrtc can be loaded (cudarc panics on first use when it cannot).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the candidate library names; no symbol is called.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether the CUDA driver library (libcuda) can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the candidate library names; no symbol is called.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// NVRTC options of every source: exact IEEE double arithmetic (no fused multiply-add).
fn compile_options(name: &str) -> CompileOptions {
    CompileOptions {
        fmad: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        ftz: Some(false),
        name: Some(name.to_string()),
        ..CompileOptions::default()
    }
}

/// Compiles every `.cu` with NVRTC (no GPU needed); errors carry NVRTC's log.
pub fn compile_all() -> Result<Vec<(&'static str, Ptx)>, Unavailable> {
    if !nvrtc_present() {
        return Err("libnvrtc not found (install the CUDA 13 toolkit or the nvidia-cuda-nvrtc wheel and add its lib folder to LD_LIBRARY_PATH)".into());
    }
    CUDA_SOURCES
        .iter()
        .map(|&(name, src)| {
            compile_ptx_with_opts(src, compile_options(name))
                .map(|ptx| (name, ptx))
                .map_err(|e| format!("nvrtc cannot compile {name}: {e:?}"))
        })
        .collect()
}

/// Opens device 0 with every kernel loaded, or says why CUDA cannot be used here.
pub fn probe() -> Result<Arc<CudaDevice>, Unavailable> {
    CudaDevice::open().map(Arc::new)
}

/// A CUDA driver error, as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cuda: {0}")]
pub struct CudaError(pub String);
