//! AVX2 twins of the VIF row loops (placeholder: defers to scalar until written).

use crate::sample::Sample;
use crate::simd_level::SimdLevel;
use crate::vif::{LevelView, VerticalShifts, VifAccumulators};
use crate::vif_rows::{DownsampleRows, VerticalRows};

pub(crate) fn vertical_moments<T: Sample>(
    _reference: LevelView<'_, T>,
    _distorted: LevelView<'_, T>,
    _taps: &[usize],
    _filter: &[u16],
    _shifts: VerticalShifts,
    _simd: SimdLevel,
    _rows: &mut VerticalRows,
) -> bool {
    false
}

pub(crate) fn horizontal_statistics(
    _rows: &VerticalRows,
    _w: usize,
    _filter: &[u16],
    _table: &[u16; 65537],
    _simd: SimdLevel,
    _total: &mut VifAccumulators,
) -> bool {
    false
}

pub(crate) fn downsample_vertical<T: Sample>(
    _reference: LevelView<'_, T>,
    _distorted: LevelView<'_, T>,
    _taps: &[usize],
    _filter: &[u16],
    _shifts: VerticalShifts,
    _simd: SimdLevel,
    _rows: &mut DownsampleRows,
) -> bool {
    false
}
