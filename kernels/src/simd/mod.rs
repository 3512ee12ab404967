//! Vector instructions: which ones the kernels may use, detected once at run time, and
//! the helpers their hand-written SIMD paths share.
//!
//! | module | what it holds |
//! | --- | --- |
//! | `level` | [`SimdLevel`]: the detected level, lowered by `SHOTFARM_SIMD` |
//! | `avx2` (x86-64) | bounds-checked AVX2 loads and stores, the `u8` widening load, `vpmaddwd` coefficient pairs |
//! | `avx512` (x86-64) | their AVX-512 twins, and the column order of unpacked `vpmaddwd` results |

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
mod level;

pub use level::SimdLevel;
