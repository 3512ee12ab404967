//! The reference side of ADM that every distorted image scored against one reference
//! shares, computed once per reference frame ([`AdmReference::prepare`]): the reference's
//! DWT at each scale (its four bands, scale 0 in `i16`, scales 1–3 in `i32`, each on the
//! LL band before) and the CSF denominators, which read the reference alone.

use super::bands::Bands;
use super::csf::{csf_den_s123, csf_den_scale0};
use super::dwt::{dwt_s123, dwt_scale0};
use super::AdmScratch;
use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// A reference prepared for ADM, reused from frame to frame (its bands only grow, as the
/// scratch bands do).
#[derive(Debug, Default)]
pub struct AdmReference {
    /// The reference's DWT of scale 0.
    pub(super) scale0: Bands<i16>,
    /// The reference's DWT of scales 1, 2 and 3.
    pub(super) scales: [Bands<i32>; 3],
    /// `adm_csf_den_scale` of each scale.
    pub(super) den: [f32; 4],
    /// Width and height of the reference (scale 0's samples).
    pub(super) size: (usize, usize),
}

impl AdmReference {
    /// Prepares the luma `reference` of `bit_depth` bits with the code built for `simd`
    /// (the scalar build is the reference; every build gives the same bands).
    pub fn prepare<T: Sample>(&mut self, reference: &Plane<T>, bit_depth: u8, simd: SimdLevel, scratch: &mut AdmScratch) {
        #[cfg(target_arch = "x86_64")]
        if simd.permits(SimdLevel::Avx512) {
            // SAFETY: the CPU has AVX-512 F, BW, DQ and VL (checked by `permits`), the one
            // requirement of the `#[target_feature]` function; its body is safe Rust.
            return unsafe { self.prepare_avx512(reference, bit_depth, scratch) };
        }
        #[cfg(target_arch = "x86_64")]
        if simd >= SimdLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above), the one requirement of a
            // `#[target_feature(enable = "avx2")]` function; its body is safe Rust.
            return unsafe { self.prepare_avx2(reference, bit_depth, scratch) };
        }
        self.prepare_body(reference, bit_depth, SimdLevel::Scalar, scratch);
    }

    /// The same code compiled with AVX2 enabled: identical integer arithmetic, wider vectors.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn prepare_avx2<T: Sample>(&mut self, reference: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) {
        self.prepare_body(reference, bit_depth, SimdLevel::Avx2, scratch);
    }

    /// The same code compiled with AVX-512 enabled (the hand-written loops of
    /// [`super::avx512`] are picked first).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512dq,avx512vl")]
    fn prepare_avx512<T: Sample>(&mut self, reference: &Plane<T>, bit_depth: u8, scratch: &mut AdmScratch) {
        self.prepare_body(reference, bit_depth, SimdLevel::Avx512, scratch);
    }

    #[inline(always)]
    fn prepare_body<T: Sample>(&mut self, reference: &Plane<T>, bit_depth: u8, simd: SimdLevel, scratch: &mut AdmScratch) {
        let (w0, h0) = (reference.width(), reference.height());
        self.size = (w0, h0);
        let (mut w, mut h) = (w0.div_ceil(2), h0.div_ceil(2));
        let n = w * h;
        let s = &mut *scratch;
        self.scale0.grow_to(n);
        dwt_scale0(reference, u32::from(bit_depth), simd, &mut self.scale0, &mut s.rows0, &mut s.col_taps);
        self.den[0] = csf_den_scale0(&self.scale0, w, h);
        // Scale 1 reads scale 0's LL band widened to `i32`; scales 2 and 3 the LL band of
        // the scale before, where it is.
        s.ll_ref.clear();
        s.ll_ref.extend(self.scale0.a.iter().map(|&v| i32::from(v)));
        for scale in 1..4 {
            let (pw, ph) = (w, h);
            (w, h) = (pw.div_ceil(2), ph.div_ceil(2));
            let (before, this) = self.scales.split_at_mut(scale - 1);
            let src = if scale == 1 { &s.ll_ref[..] } else { &before[scale - 2].a[..] };
            let out = &mut this[0];
            out.grow_to(w * h);
            dwt_s123(src, (pw, ph), scale, simd, out, &mut s.tmp, &mut s.col_taps);
            self.den[scale] = csf_den_s123(out, scale, w, h);
        }
    }
}
