//! Which vector instructions the kernels may use, detected once at run time.
//!
//! Every fast path is checked against the scalar reference in tests; callers can force
//! the scalar path (`SimdLevel::Scalar`) and the environment variable
//! `SHOTFARM_SIMD=scalar` lowers the detected level (it can never raise it).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Plain Rust: the reference.
    Scalar,
    /// x86-64 AVX2 (with the CPU's runtime support checked).
    Avx2,
}

impl SimdLevel {
    /// The best level this CPU supports, lowered by `SHOTFARM_SIMD=scalar`.
    pub fn detect() -> SimdLevel {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let forced_scalar = std::env::var("SHOTFARM_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("scalar"));
            if forced_scalar { SimdLevel::Scalar } else { Self::hardware() }
        })
    }

    /// The best level the hardware supports.
    pub fn hardware() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Scalar
    }

    /// Every level usable here, scalar first (for tests comparing them).
    pub fn available() -> Vec<SimdLevel> {
        let mut levels = vec![SimdLevel::Scalar];
        if Self::hardware() >= SimdLevel::Avx2 {
            levels.push(SimdLevel::Avx2);
        }
        levels
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
        }
    }
}
