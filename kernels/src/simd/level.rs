//! Which vector instructions the kernels may use, detected once at run time.
//!
//! Every fast path is checked against the scalar reference in tests; callers can force
//! a lower level (`VmafOptions::simd`, `--simd`) and the environment variable
//! `SHOTFARM_SIMD=scalar|avx2|avx512` lowers the detected level (it can never raise it).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// Plain Rust: the reference.
    Scalar,
    /// x86-64 AVX2 (with the CPU's runtime support checked).
    Avx2,
    /// x86-64 AVX-512 F, BW, DQ and VL (with the CPU's runtime support checked); kernels
    /// without an AVX-512 twin run their AVX2 path at this level.
    Avx512,
}

impl SimdLevel {
    /// Every level, lowest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    /// The best level this CPU supports, lowered by `SHOTFARM_SIMD`.
    pub fn detect() -> SimdLevel {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let forced = std::env::var("SHOTFARM_SIMD").ok().and_then(|v| Self::from_name(&v));
            let hardware = Self::hardware();
            forced.map_or(hardware, |level| level.min(hardware))
        })
    }

    /// The best level the hardware supports.
    pub fn hardware() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return SimdLevel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Scalar
    }

    /// Every level usable here, scalar first (for tests comparing them).
    pub fn available() -> Vec<SimdLevel> {
        let hardware = Self::hardware();
        Self::ALL.into_iter().filter(|&level| level <= hardware).collect()
    }

    /// Whether code of `level` may run: this level allows it and the CPU has it.
    pub fn permits(self, level: SimdLevel) -> bool {
        self >= level && Self::hardware() >= level
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level called `name` (`scalar`, `avx2`, `avx512`; any case), if any.
    pub fn from_name(name: &str) -> Option<SimdLevel> {
        Self::ALL.into_iter().find(|level| level.name().eq_ignore_ascii_case(name.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for level in SimdLevel::ALL {
            assert_eq!(SimdLevel::from_name(level.name()), Some(level));
        }
        assert_eq!(SimdLevel::from_name("AVX512"), Some(SimdLevel::Avx512));
        assert_eq!(SimdLevel::from_name("sse9"), None);
    }

    #[test]
    fn the_available_levels_end_at_the_hardware_level() {
        let levels = SimdLevel::available();
        assert_eq!(levels.first(), Some(&SimdLevel::Scalar));
        assert_eq!(levels.last(), Some(&SimdLevel::hardware()));
    }
}
