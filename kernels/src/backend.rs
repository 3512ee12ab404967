//! Choosing where the metrics run: the CPU reference, or CUDA where it exists.
//!
//! `auto` picks CUDA when this build has the `cuda` feature and a device answers, else
//! the CPU. The environment variable `SHOTFARM_KERNELS=cpu` can only lower the choice
//! (never raise it to CUDA).

use crate::simd_level::SimdLevel;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu(SimdLevel),
}

impl Backend {
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu(level) => format!("cpu/{}", level.name()),
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

/// Why CUDA cannot be used by this build/machine.
pub fn cuda_unavailable_reason() -> String {
    if cfg!(feature = "cuda") {
        "the CUDA metric kernels are not implemented yet in this build".to_string()
    } else {
        "this build of shotfarm has no `cuda` feature".to_string()
    }
}

/// Resolves a request. `Cuda` asked explicitly fails with the reason when it cannot run;
/// `Auto` falls back to the CPU.
pub fn resolve(request: BackendRequest) -> Result<Backend, BackendError> {
    let cpu = Backend::Cpu(SimdLevel::detect());
    match request {
        BackendRequest::Cpu | BackendRequest::Auto => Ok(cpu),
        BackendRequest::Cuda if cpu_forced() => Ok(cpu),
        BackendRequest::Cuda => Err(BackendError::CudaUnavailable { reason: cuda_unavailable_reason() }),
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
    fn auto_always_resolves() {
        assert!(matches!(resolve(BackendRequest::Auto), Ok(Backend::Cpu(_))));
    }
}
