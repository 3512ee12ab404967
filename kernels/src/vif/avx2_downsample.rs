//! The AVX2 down-sampling between VIF scales, bit-exact with [`super::rows`]'s
//! `downsample` (its AVX-512 vertical pass is picked here too).
//!
//! | function | what is vectorised | how it stays exact |
//! | --- | --- | --- |
//! | [`downsample_vertical`] | the between-scale low-pass | the scalar body compiled with AVX2 (autovectorised), or at [`SimdLevel::Avx512`] the hand-written AVX-512 pass for 8-bit samples and the body compiled with AVX-512 for the 16-bit levels |
//! | [`downsample_horizontal`] | the between-scale low-pass and decimation of a row (the AVX-512 pass first, at [`SimdLevel::Avx512`] for filters it takes) | the padded row split once into even and odd entries, so each tap of 8 outputs is one load; `u32` wrapping products as in the scalar; `(x + 2¹⁵) >> 16` done as `(x >> 16) + carry` in 32-bit lanes |

use super::rows::{DownsampleRows, downsample_vertical_body};
use super::{LevelView, VerticalShifts};
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// The down-sampling vertical pass with AVX2 (with AVX-512 at [`SimdLevel::Avx512`]);
/// `false` below [`SimdLevel::Avx2`].
pub(crate) fn downsample_vertical<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    simd: SimdLevel,
    rows: &mut DownsampleRows,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        if super::avx512::downsample_vertical_u8(level, taps, filter, shifts, simd, rows) {
            return true;
        }
        if simd.permits(SimdLevel::Avx512) {
            // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`).
            unsafe { super::avx512::downsample_vertical_avx512(level, taps, filter, shifts, rows) };
        } else {
            // SAFETY: AVX2 is present (checked just above); the body is safe Rust.
            unsafe { downsample_vertical_avx2(level, taps, filter, shifts, rows) };
        }
        return true;
    }
    let _ = (level, taps, filter, shifts, simd, rows);
    false
}

/// The horizontal low-pass + decimation of the padded row of `rows` into the leading
/// outputs of `out`; returns how many it did (0 = none).
pub(crate) fn downsample_horizontal(rows: &mut DownsampleRows, filter: &[u16], out: &mut [u16], simd: SimdLevel) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        let done = super::avx512::downsample_horizontal(rows, filter, out, simd);
        if done > 0 {
            return done;
        }
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { x86::downsample_horizontal(rows, filter, out) };
    }
    let _ = (rows, filter, out, simd);
    0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn downsample_vertical_avx2<T: Sample>(
    level: LevelView<'_, T>,
    taps: &[usize],
    filter: &[u16],
    shifts: VerticalShifts,
    rows: &mut DownsampleRows,
) {
    downsample_vertical_body(level, taps, filter, shifts, rows);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::simd::avx2::{load256, store128, store256};
    use crate::vif::rows::{DownsampleRows, PAD};

    /// `even[i] = src[start + 2i]`, `odd[i] = src[start + 2i + 1]` for `i < even.len()`.
    #[target_feature(enable = "avx2")]
    fn split_even_odd(src: &[u32], start: usize, even: &mut [u32], odd: &mut [u32]) {
        let n = even.len().min(odd.len());
        let order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        let mut i = 0;
        while i + 8 <= n && start + 2 * i + 16 <= src.len() {
            let a = _mm256_permutevar8x32_epi32(load256(src, start + 2 * i), order);
            let b = _mm256_permutevar8x32_epi32(load256(src, start + 2 * i + 8), order);
            store256(even, i, _mm256_permute2x128_si256::<0x20>(a, b));
            store256(odd, i, _mm256_permute2x128_si256::<0x31>(a, b));
            i += 8;
        }
        for i in i..n {
            even[i] = src[start + 2 * i];
            odd[i] = src[start + 2 * i + 1];
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn downsample_horizontal(rows: &mut DownsampleRows, filter: &[u16], out: &mut [u16]) -> usize {
        let half = filter.len() / 2;
        let ow = out.len();
        // Output oj, tap k reads the padded row at PAD − half + 2·oj + k: entry
        // oj + ⌊k/2⌋ of the even or odd split starting at PAD − half.
        let start = PAD - half;
        let n = ow + half;
        let DownsampleRows { row, even, odd, .. } = rows;
        if even.len() < n {
            even.resize(n, 0);
            odd.resize(n, 0);
        }
        let (even, odd) = (&mut even[..n], &mut odd[..n]);
        let low16 = _mm256_set1_epi32(0xFFFF);
        let half_unit = _mm256_set1_epi32(32768);
        split_even_odd(row, start, even, odd);
        let mut oj = 0;
        while oj + 8 <= ow {
            let mut acc = _mm256_setzero_si256();
            for (k, &c) in filter.iter().enumerate() {
                let v = if k % 2 == 0 { load256(even, oj + k / 2) } else { load256(odd, oj + k / 2) };
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, _mm256_set1_epi32(i32::from(c))));
            }
            // ((acc + 2^15) >> 16) as u16, without leaving 32 bits.
            let carry = _mm256_srli_epi32::<16>(_mm256_add_epi32(_mm256_and_si256(acc, low16), half_unit));
            let v = _mm256_and_si256(_mm256_add_epi32(_mm256_srli_epi32::<16>(acc), carry), low16);
            let packed = _mm256_permute4x64_epi64::<0b00_00_10_00>(_mm256_packus_epi32(v, v));
            store128(out, oj, _mm256_castsi256_si128(packed));
            oj += 8;
        }
        oj
    }
}
