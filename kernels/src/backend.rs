//! Choosing where the metrics run: the CPU reference, or CUDA where it exists.
//!
//! `auto` picks CUDA when this build has the `cuda` feature and a device answers, else
//! the CPU. The environment variable `SHOTFARM_KERNELS=cpu` can only lower the choice
//! (never raise it to CUDA).

use crate::simd::SimdLevel;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendRequest {
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl std::str::FromStr for BackendRequest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(format!("unknown backend `{other}`: expected auto, cpu or cuda")),
        }
    }
}

/// What will actually run.
#[derive(Debug, Clone)]
pub enum Backend {
    Cpu(SimdLevel),
    /// VIF, ADM and motion on the GPU; PSNR and SSIM on the CPU at this SIMD level.
    #[cfg(feature = "cuda")]
    Cuda(std::sync::Arc<crate::cuda::CudaDevice>, SimdLevel),
}

impl Backend {
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu(level) => format!("cpu/{}", level.name()),
            #[cfg(feature = "cuda")]
            Backend::Cuda(_, level) => format!("cuda (vif, adm, motion) + cpu/{} (psnr, ssim)", level.name()),
        }
    }

    /// The SIMD level of the CPU part.
    pub fn simd(&self) -> SimdLevel {
        match self {
            Backend::Cpu(level) => *level,
            #[cfg(feature = "cuda")]
            Backend::Cuda(_, level) => *level,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("cuda unavailable: {reason}")]
    CudaUnavailable { reason: String },
}

/// Whether the environment lowers every choice to the CPU.
fn cpu_forced() -> bool {
    std::env::var("SHOTFARM_KERNELS").is_ok_and(|v| v.eq_ignore_ascii_case("cpu"))
}

/// The CUDA backend, or why it cannot be used by this build/machine (probed once).
#[cfg(feature = "cuda")]
fn cuda_backend() -> Result<Backend, String> {
    use std::sync::{Arc, OnceLock};
    static PROBE: OnceLock<Result<Arc<crate::cuda::CudaDevice>, String>> = OnceLock::new();
    PROBE.get_or_init(crate::cuda::probe).clone().map(|k| Backend::Cuda(k, SimdLevel::detect()))
}

#[cfg(not(feature = "cuda"))]
fn cuda_backend() -> Result<Backend, String> {
    Err("this build of shotfarm has no `cuda` feature".to_string())
}

/// Why CUDA cannot be used by this build/machine (`None` when it can).
pub fn cuda_unavailable_reason() -> Option<String> {
    cuda_backend().err()
}

/// Resolves a request. `Auto` picks CUDA when a device answers, else the CPU;
/// `Cuda` asked explicitly fails with the reason when it cannot run. With
/// `SHOTFARM_KERNELS=cpu` every request resolves to the CPU.
pub fn resolve(request: BackendRequest) -> Result<Backend, BackendError> {
    let cpu = Backend::Cpu(SimdLevel::detect());
    if cpu_forced() {
        return Ok(cpu);
    }
    match request {
        BackendRequest::Cpu => Ok(cpu),
        BackendRequest::Auto => Ok(cuda_backend().unwrap_or(cpu)),
        BackendRequest::Cuda => cuda_backend().map_err(|reason| BackendError::CudaUnavailable { reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        assert_eq!("CPU".parse::<BackendRequest>(), Ok(BackendRequest::Cpu));
        assert!("gpu".parse::<BackendRequest>().is_err());
    }

    #[test]
    fn auto_always_resolves_and_cpu_is_the_cpu() {
        assert!(resolve(BackendRequest::Auto).is_ok());
        assert!(matches!(resolve(BackendRequest::Cpu), Ok(Backend::Cpu(_))));
    }
}
