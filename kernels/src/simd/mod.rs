//! Vector instructions: which ones the kernels may use, detected once at run time.
//!
//! | module | what it holds |
//! | --- | --- |
//! | `level` | [`SimdLevel`]: the detected level, lowered by `SHOTFARM_SIMD` |

mod level;

pub use level::SimdLevel;
