//! The fixed-point parameters of ADM's row-wise cube sums and their float finishing:
//! the CSF denominators ([`DenScale0`], [`DenS123`]) and the contrast-masked numerators
//! ([`CmScale0`], [`CmS123`]). The CPU loops and the CUDA host code
//! (`crate::cuda::adm`) both sum with these shifts and finish with these functions.

#![expect(clippy::needless_range_loop, reason = "the finishing loops index the three bands' sums and factors by one position, as libvmaf's C does; iterator chains would hide the correspondence")]

use super::csf::{i_rfactor_s123, reciprocal_factors};
use super::region::{SumRegion, score_region};

/// `(uint32_t)pow(2, shift - 1)` with libvmaf's unsigned wrap: 0 when `shift` is 0.
#[inline]
fn half_of_shift(shift: u32) -> u64 {
    if shift == 0 { 0 } else { 1u64 << (shift - 1) }
}

/// `(uint32_t)ceil(log2(x) - sub)`.
#[inline]
fn ceil_log2_minus(x: f64, sub: f64) -> u32 {
    (x.log2() - sub).ceil() as u32
}

/// `pow(2, a - b - c)` with the subtraction in `unsigned` as libvmaf writes it.
#[inline]
fn pow2_unsigned(a: u32, b: u32, c: u32) -> f64 {
    2.0f64.powf(f64::from(a.wrapping_sub(b).wrapping_sub(c)))
}

/// `adm_csf_den_scale`'s fixed point (scale 0): each row's Σ|x|³ is added as
/// `(Σ + round) >> shift`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenScale0 {
    pub region: SumRegion,
    pub shift: u32,
    pub round: u64,
}

impl DenScale0 {
    pub(crate) fn new(w: usize, h: usize) -> Self {
        let region = SumRegion::of(w, h);
        let shift = (f64::from(region.area).log2() - 20.0).ceil() as i32;
        let shift = shift.max(0) as u32;
        DenScale0 { region, shift, round: half_of_shift(shift) }
    }

    /// The denominator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [u64; 3]) -> f32 {
        let shift_csf = 2.0f64.powf(f64::from(18 - self.shift as i32));
        finish_den(accum, shift_csf, reciprocal_factors(0), self.region.area)
    }
}

/// Cube roots and the noise term of a CSF denominator.
fn finish_den(accum: [u64; 3], shift_csf: f64, rfactor: [f32; 3], area: i32) -> f32 {
    let powf_add = (area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
    let mut total = 0.0f32;
    for b in 0..3 {
        let csf = (accum[b] as f64 / shift_csf) * f64::from(rfactor[b]).powf(3.0);
        total += (csf as f32).powf(1.0f32 / 3.0f32) + powf_add;
    }
    total
}

/// `adm_csf_den_s123`'s fixed point (scales 1–3): per pixel
/// `((((x² + round_sq) >> shift_sq) · x + round_cub) >> shift_cub)`, per row
/// `(Σ + round_accum) >> shift_accum`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenS123 {
    pub scale: usize,
    pub region: SumRegion,
    pub shift_sq: u32,
    pub round_sq: u64,
    pub shift_cub: u32,
    pub round_cub: u64,
    pub shift_accum: u32,
    pub round_accum: u64,
}

impl DenS123 {
    pub(crate) fn new(scale: usize, w: usize, h: usize) -> Self {
        const SHIFT_SQ: [u32; 3] = [31, 30, 31];
        let (top, bottom, left, right) = score_region(w, h);
        let shift_sq = SHIFT_SQ[scale - 1];
        let shift_cub = ceil_log2_minus(f64::from(right - left), 0.0);
        let shift_accum = ceil_log2_minus(f64::from(bottom - top), 0.0);
        DenS123 {
            scale,
            region: SumRegion::of(w, h),
            shift_sq,
            round_sq: 1u64 << shift_sq,
            shift_cub,
            round_cub: half_of_shift(shift_cub),
            shift_accum,
            round_accum: half_of_shift(shift_accum),
        }
    }

    /// The denominator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [u64; 3]) -> f32 {
        const ACCUM_CONVERT_FLOAT: [u32; 3] = [32, 27, 23];
        let shift_csf = pow2_unsigned(ACCUM_CONVERT_FLOAT[self.scale - 1], self.shift_accum, self.shift_cub);
        finish_den(accum, shift_csf, reciprocal_factors(self.scale), self.region.area)
    }
}

/// `adm_cm`'s fixed point (scale 0): per pixel and band `b`,
/// `((x_sq · x + round_cub[b]) >> shift_cub[b])`, per row `(Σ + round_inner) >> shift_inner`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmScale0 {
    pub region: SumRegion,
    pub shift_cub: [u32; 3],
    pub round_cub: [u64; 3],
    pub shift_inner: u32,
    pub round_inner: u64,
}

impl CmScale0 {
    pub(crate) const SHIFT_SQ: [u32; 3] = [29, 29, 30];
    pub(crate) const ROUND_SQ: [i64; 3] = [268435456, 268435456, 536870912];
    pub(crate) const SHIFT_SUB: [u32; 3] = [10, 10, 12];

    pub(crate) fn new(w: usize, h: usize) -> Self {
        let shift_cub = [ceil_log2_minus(w as f64, 4.0), ceil_log2_minus(w as f64, 4.0), ceil_log2_minus(w as f64, 3.0)];
        let shift_inner = ceil_log2_minus(h as f64, 0.0);
        CmScale0 {
            region: SumRegion::of(w, h),
            shift_cub,
            round_cub: shift_cub.map(half_of_shift),
            shift_inner,
            round_inner: half_of_shift(shift_inner),
        }
    }

    /// The numerator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [i64; 3]) -> f32 {
        let noise = (self.region.area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
        let mut total = 0.0f32;
        for b in 0..3 {
            let base = if b == 2 { 57 } else { 52 };
            let f = (accum[b] as f64 / pow2_unsigned(base, self.shift_cub[b], self.shift_inner)) as f32;
            total += f.powf(1.0f32 / 3.0f32) + noise;
        }
        total
    }
}

/// `i4_adm_cm`'s fixed point (scales 1–3): per pixel `(x_sq · x + round_cub) >> shift_cub`,
/// per row `(Σ + round_inner) >> shift_inner`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmS123 {
    pub region: SumRegion,
    pub rfactor: [i64; 3],
    pub shift_cub: u32,
    pub round_cub: u64,
    pub shift_inner: u32,
    pub round_inner: u64,
    final_shift: f32,
}

impl CmS123 {
    pub(crate) fn new(scale: usize, w: usize, h: usize) -> Self {
        let shift_cub = ceil_log2_minus(w as f64, 0.0);
        let shift_inner = ceil_log2_minus(h as f64, 0.0);
        let final_shift = [
            pow2_unsigned(45, shift_cub, shift_inner) as f32,
            pow2_unsigned(39, shift_cub, shift_inner) as f32,
            pow2_unsigned(36, shift_cub, shift_inner) as f32,
        ][scale - 1];
        CmS123 {
            region: SumRegion::of(w, h),
            rfactor: i_rfactor_s123(scale),
            shift_cub,
            round_cub: half_of_shift(shift_cub),
            shift_inner,
            round_inner: half_of_shift(shift_inner),
            final_shift,
        }
    }

    /// The numerator from the three bands' row sums.
    pub(crate) fn finish(&self, accum: [i64; 3]) -> f32 {
        let noise = (self.region.area as f32 / 32.0f32).powf(1.0f32 / 3.0f32);
        let mut total = 0.0f32;
        for b in 0..3 {
            // int64 / float is a float division in C.
            let f = accum[b] as f32 / self.final_shift;
            total += f.powf(1.0f32 / 3.0f32) + noise;
        }
        total
    }
}
