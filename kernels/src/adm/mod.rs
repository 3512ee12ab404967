//! Integer ADM (additive detail metric, "ADM2") at 4 scales, bit-exact with libvmaf's
//! `feature/integer_adm.c` (`integer_compute_adm` and the functions it calls).
//!
//! Per scale: a Daubechies-2 DWT of reference and distorted (int16 at scale 0, int32 at
//! scales 1–3, each on the previous LL band, size ⌈w/2⌉×⌈h/2⌉); decoupling of the detail
//! bands into restored (`r`) and additive impairment (`a`) parts; a contrast sensitivity
//! weighting (CSF); contrast masking of `r` by the CSF-weighted `a`; cube sums over the
//! frame minus a 10 % border; cube roots in `f32`. The fixed-point shifts and roundings,
//! including libvmaf's quirks (e.g. a rounding constant of −2³¹ that comes from an
//! unsigned constant stored in an `int32_t`), are reproduced as they are.
//!
//! | module | what it holds |
//! | --- | --- |
//! | this file | the frame: scratch, scores, the per-scale driver of a distorted image against a prepared reference ([`adm_against`]; [`adm_at`] prepares and scores one pair) and its dispatch (the whole driver compiled once for the scalar reference, once with AVX2 and once with AVX-512 enabled) |
//! | `reference` | [`AdmReference`]: the reference's DWT of every scale and the CSF denominators, prepared once per reference frame (compiled and dispatched as the driver) and shared by every distorted image scored against it |
//! | `bands` | the four bands of a DWT level; three detail bands of a derived quantity |
//! | `dwt` | the Daubechies-2 DWT of scale 0 (`i16`) and scales 1–3 (`i32`) |
//! | `decouple` | restored and additive-impairment bands, the enhancement gain limit |
//! | `csf` | the contrast sensitivity weighting and the CSF denominators |
//! | `masking` | contrast masking and the numerators' cube sums |
//! | `sums` | the sums' fixed-point shifts and float finishing, shared with `crate::cuda::adm` |
//! | `region` | the border each step leaves out |
//! | `avx2` | hand-written AVX2 twins of the DWT and scale-0 decoupling row loops |
//! | `avx512` | hand-written AVX-512 twins of the DWT row loops (scale 0, and scales 1–3) and of scale 0's decoupling |

mod avx2;
mod avx512;
mod bands;
mod csf;
pub(crate) mod decouple;
mod dwt;
mod masking;
mod reference;
pub(crate) mod region;
pub(crate) mod sums;

pub use self::reference::AdmReference;
use self::bands::{Bands, DetailBands};
use self::csf::{csf_s123, csf_scale0};
use self::decouple::{decouple_s123, decouple_scale0};
use self::dwt::{dwt_s123, dwt_scale0};
use self::masking::{cm_s123, cm_scale0};
use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// libvmaf refuses widths or heights of 32 and below for ADM.
pub const MIN_ADM_SIZE: usize = 33;

/// Scratch memory of one ADM computation, reused from frame to frame.
#[derive(Debug, Default)]
pub struct AdmScratch {
    dis0: Bands<i16>,
    r0: DetailBands<i16>,
    a0: DetailBands<i16>,
    csf_a0: DetailBands<i16>,
    csf_f0: DetailBands<i16>,
    dis_i4: Bands<i32>,
    /// The reference's scale-0 LL band widened to `i32`, the input of its scale-1 DWT
    /// (while preparing it).
    ll_ref: Vec<i32>,
    prev_dis: Vec<i32>,
    r_i4: DetailBands<i32>,
    a_i4: DetailBands<i32>,
    csf_a_i4: DetailBands<i32>,
    csf_f_i4: DetailBands<i32>,
    tmp: Vec<i32>,
    /// The vertical-pass rows of the scale-0 DWT (low-pass, high-pass).
    rows0: (Vec<i16>, Vec<i16>),
    /// Mirrored source columns of each DWT output column.
    col_taps: Vec<[usize; 4]>,
    /// The reference prepared by [`adm_at`], the one-pair entry point.
    reference: AdmReference,
}

/// Per-scale numerator and denominator (floats, as libvmaf keeps them) and ADM2.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AdmScores {
    pub num: [f32; 4],
    pub den: [f32; 4],
    /// `integer_adm2`.
    pub adm2: f64,
}

impl AdmScores {
    /// `integer_adm_scaleK` = num/den in double.
    pub fn scale(&self, k: usize) -> f64 {
        f64::from(self.num[k]) / f64::from(self.den[k])
    }
}

/// Integer ADM of a reference/distorted luma pair of `bit_depth` bits (w, h > 32),
/// on the best SIMD level of this CPU.
pub fn adm<T: Sample>(reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) -> AdmScores {
    adm_at(reference, distorted, bit_depth, SimdLevel::detect(), scratch)
}

/// Integer ADM computed by the code built for `simd` (the scalar build is the reference):
/// the reference prepared ([`AdmReference::prepare`]), then the pair scored
/// ([`adm_against`]).
pub fn adm_at<T: Sample>(
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut AdmScratch,
) -> AdmScores {
    let mut prepared = std::mem::take(&mut scratch.reference);
    prepared.prepare(reference, bit_depth, simd, scratch);
    let scores = adm_against(&prepared, distorted, bit_depth, simd, scratch);
    scratch.reference = prepared;
    scores
}

/// Integer ADM of `distorted` against a prepared reference of the same size and
/// `bit_depth`, computed by the code built for `simd` (the scalar build is the reference).
pub fn adm_against<T: Sample>(
    prepared: &AdmReference,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut AdmScratch,
) -> AdmScores {
    debug_assert_eq!(prepared.size, (distorted.width(), distorted.height()), "the reference was prepared from another frame size");
    #[cfg(target_arch = "x86_64")]
    if simd.permits(SimdLevel::Avx512) {
        // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`), the one
        // requirement of the `#[target_feature]` function; its body is safe Rust.
        return unsafe { adm_avx512(prepared, distorted, bit_depth, scratch) };
    }
    #[cfg(target_arch = "x86_64")]
    if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above), the one requirement of a
        // `#[target_feature(enable = "avx2")]` function; its body is safe Rust.
        return unsafe { adm_avx2(prepared, distorted, bit_depth, scratch) };
    }
    adm_body(prepared, distorted, bit_depth, SimdLevel::Scalar, scratch)
}

/// The same code compiled with AVX2 enabled: identical integer arithmetic, wider vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adm_avx2<T: Sample>(prepared: &AdmReference, distorted: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) -> AdmScores {
    adm_body(prepared, distorted, bit_depth, SimdLevel::Avx2, scratch)
}

/// The same code compiled with AVX-512 enabled (the compiler's own vectors are then
/// 512 bits wide; the hand-written loops of [`avx512`] are picked first).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
fn adm_avx512<T: Sample>(prepared: &AdmReference, distorted: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) -> AdmScores {
    adm_body(prepared, distorted, bit_depth, SimdLevel::Avx512, scratch)
}

#[inline(always)]
fn adm_body<T: Sample>(
    prepared: &AdmReference,
    distorted: &Plane<T>,
    bit_depth: u8,
    simd: SimdLevel,
    scratch: &mut AdmScratch,
) -> AdmScores {
    let (w0, h0) = (distorted.width(), distorted.height());
    let numden_limit = 1e-10 * (w0 * h0) as f64 / (1920.0 * 1080.0);
    let mut scores = AdmScores { den: prepared.den, ..AdmScores::default() };

    // Scale 0: int16 DWT of the samples.
    let (mut w, mut h) = (w0.div_ceil(2), h0.div_ceil(2));
    let n = w * h;
    let s = &mut *scratch;
    s.dis0.grow_to(n);
    dwt_scale0(distorted, u32::from(bit_depth), simd, &mut s.dis0, &mut s.rows0, &mut s.col_taps);
    for b in [&mut s.r0, &mut s.a0, &mut s.csf_a0, &mut s.csf_f0] {
        b.grow_to(n);
    }
    decouple_scale0(&prepared.scale0, &s.dis0, w, h, simd, &mut s.r0, &mut s.a0);
    csf_scale0(&s.a0, w, h, &mut s.csf_a0, &mut s.csf_f0);
    scores.num[0] = cm_scale0(&s.r0, &s.csf_a0, &s.csf_f0, w, h);
    // The distorted LL bands rotate through these two by `swap` below; each holding room
    // for the largest (scale 0's) keeps the next frame from reallocating them (fresh
    // pages, zeroed and copied, at every frame).
    for band in [&mut s.prev_dis, &mut s.dis_i4.a] {
        band.reserve(n.saturating_sub(band.len()));
    }
    s.prev_dis.clear();
    s.prev_dis.extend(s.dis0.a.iter().map(|&v| i32::from(v)));

    for scale in 1..4 {
        let (pw, ph) = (w, h);
        (w, h) = (pw.div_ceil(2), ph.div_ceil(2));
        let n = w * h;
        s.dis_i4.grow_to(n);
        for b in [&mut s.r_i4, &mut s.a_i4, &mut s.csf_a_i4, &mut s.csf_f_i4] {
            b.grow_to(n);
        }
        dwt_s123(&s.prev_dis, (pw, ph), scale, simd, &mut s.dis_i4, &mut s.tmp, &mut s.col_taps);
        decouple_s123(&prepared.scales[scale - 1], &s.dis_i4, w, h, &mut s.r_i4, &mut s.a_i4);
        csf_s123(&s.a_i4, scale, w, h, &mut s.csf_a_i4, &mut s.csf_f_i4);
        scores.num[scale] = cm_s123(&s.r_i4, &s.csf_a_i4, &s.csf_f_i4, scale, w, h);
        std::mem::swap(&mut s.prev_dis, &mut s.dis_i4.a);
    }

    let num: f64 = scores.num.iter().map(|&v| f64::from(v)).sum();
    let den: f64 = scores.den.iter().map(|&v| f64::from(v)).sum();
    let num = if num < numden_limit { 0.0 } else { num };
    let den = if den < numden_limit { 0.0 } else { den };
    scores.adm2 = if den == 0.0 { 1.0 } else { num / den };
    scores
}
