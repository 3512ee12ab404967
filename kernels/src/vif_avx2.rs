//! AVX2 builds of the VIF row loops.
//!
//! The row loops of [`crate::vif_rows`] are written as plain Rust that vectorises
//! well; here the same bodies are compiled a second time with AVX2 enabled
//! (`#[target_feature]`), so LLVM emits 256-bit code for them, and are called only when
//! the CPU reports AVX2 at run time. Same source, same integer arithmetic: bit-exact by
//! construction, and tests compare both paths anyway.

use crate::sample::Sample;
use crate::simd_level::SimdLevel;
use crate::vif::{LevelView, VerticalShifts, VifAccumulators};
use crate::vif_rows::{self, DownsampleRows, VerticalRows};

/// The vertical pass with AVX2; `false` (nothing done) below [`SimdLevel::Avx2`].
pub(crate) fn vertical_moments<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut VerticalRows,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
        // a `#[target_feature(enable = "avx2")]` function; the body is safe Rust.
        unsafe { vertical_moments_avx2(reference, distorted, taps, filter, shifts, rows) };
        return true;
    }
    let _ = (reference, distorted, taps, filter, shifts, simd, rows);
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_moments_avx2<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut VerticalRows,
) {
    vif_rows::vertical_moments_body(reference, distorted, taps, filter, shifts, rows);
}

/// The horizontal pass and statistic with AVX2; `false` below [`SimdLevel::Avx2`].
pub(crate) fn horizontal_statistics(
    rows: &mut VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    simd: SimdLevel,
    total: &mut VifAccumulators,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above); the body is safe Rust.
        unsafe { horizontal_statistics_avx2(rows, w, filter, table, total) };
        return true;
    }
    let _ = (rows, w, filter, table, simd, total);
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_statistics_avx2(
    rows: &mut VerticalRows,
    w: usize,
    filter: &[u16],
    table: &[u16; 65537],
    total: &mut VifAccumulators,
) {
    vif_rows::horizontal_statistics_body(rows, 0, w, filter, table, total);
}

/// The down-sampling vertical pass with AVX2; `false` below [`SimdLevel::Avx2`].
pub(crate) fn downsample_vertical<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut DownsampleRows,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above); the body is safe Rust.
        unsafe { downsample_vertical_avx2(reference, distorted, taps, filter, shifts, rows) };
        return true;
    }
    let _ = (reference, distorted, taps, filter, shifts, simd, rows);
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn downsample_vertical_avx2<T: Sample>(
    reference: LevelView<'_, T>,
    distorted: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    vif_rows::downsample_vertical_body(reference, distorted, taps, filter, shifts, rows);
}
