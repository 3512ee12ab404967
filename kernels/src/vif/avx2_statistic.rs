//! The AVX2 per-pixel VIF statistic, bit-exact with [`super::statistic`]'s `add_pixel`:
//! 8 pixels at a time in integer lanes, `vpgatherdd`/`vpgatherqd` on the log2 table, the
//! information term in `f64` lanes with the scalar's exact operation order. Used by the
//! AVX2 horizontal pass ([`super::avx2`]) and for the columns the AVX-512 one leaves.

use super::VifAccumulators;

/// The statistic of 8 pixels at once, for tests: `(mu1, mu2, xx, yy, xy)` lanes in,
/// accumulators out; `None` without AVX2.
#[doc(hidden)]
pub fn statistic_of_lanes(table: &[u16; 65537], moments: [[u32; 8]; 5]) -> Option<VifAccumulators> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return Some(unsafe { x86::statistic_of_lanes(table, moments) });
    }
    let _ = (table, moments);
    None
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use crate::simd::avx2::{load256, store256};
    use crate::vif::VifAccumulators;
    use crate::vif::rows::VerticalRows;
    use crate::vif::statistic::{ENHANCEMENT_GAIN_LIMIT, SIGMA_NSQ};

    /// Lane accumulators of the statistic over a run of pixels.
    struct Lanes {
        num_log: __m256i,
        den_log: __m256i,
        num_non_log: __m256i,
        den_non_log: i64,
    }

    impl Lanes {
        #[target_feature(enable = "avx2")]
        fn new() -> Self {
            let z = _mm256_setzero_si256();
            Lanes { num_log: z, den_log: z, num_non_log: z, den_non_log: 0 }
        }

        #[target_feature(enable = "avx2")]
        fn finish(&self, total: &mut VifAccumulators) {
            total.num_log += hsum_i64(self.num_log);
            total.den_log += hsum_i64(self.den_log);
            total.num_non_log += hsum_i64(self.num_non_log);
            total.den_non_log += self.den_non_log;
        }
    }

    #[target_feature(enable = "avx2")]
    fn hsum_i64(v: __m256i) -> i64 {
        let mut lanes = [0i64; 4];
        store256(&mut lanes, 0, v);
        lanes.iter().sum()
    }

    /// `(a·b + 2³¹) >> 32` per `u32` lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul_q32(a: __m256i, b: __m256i) -> __m256i {
        let round = _mm256_set1_epi64x(1 << 31);
        let even = _mm256_mul_epu32(a, b);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(b));
        let even = _mm256_srli_epi64::<32>(_mm256_add_epi64(even, round));
        let odd = _mm256_add_epi64(odd, round);
        _mm256_blend_epi32::<0b1010_1010>(even, odd)
    }

    /// `log2_32` per lane, for lanes ≥ 2¹⁷ (< 2³²).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn log2_32(table: &[u16; 65537], v: __m256i) -> __m256i {
        // Position of the top bit: exponent of the float of v >> 9 (< 2^23: exact).
        let f = _mm256_cvtepi32_ps(_mm256_srli_epi32::<9>(v));
        let msb = _mm256_sub_epi32(_mm256_srli_epi32::<23>(_mm256_castps_si256(f)), _mm256_set1_epi32(127 - 9));
        let k = _mm256_sub_epi32(msb, _mm256_set1_epi32(15));
        let idx = _mm256_srlv_epi32(v, k);
        // SAFETY: idx is in 2^15..2^16, so each 4-byte read at byte 2·idx stays inside
        // the 65537-entry (131074-byte) table.
        let t = unsafe { _mm256_i32gather_epi32::<2>(table.as_ptr().cast(), idx) };
        let t = _mm256_and_si256(t, _mm256_set1_epi32(0xFFFF));
        _mm256_add_epi32(t, _mm256_slli_epi32::<11>(k))
    }

    /// `log2_64` per 64-bit lane, for lanes in 2¹⁷..2⁵².
    #[inline]
    #[target_feature(enable = "avx2")]
    fn log2_64(table: &[u16; 65537], v: __m256i) -> __m256i {
        let magic = _mm256_set1_epi64x(0x4330_0000_0000_0000);
        // The double of v (< 2^52: exact), whose exponent is the top bit's position.
        let d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic)), _mm256_castsi256_pd(magic));
        let msb = _mm256_sub_epi64(_mm256_srli_epi64::<52>(_mm256_castpd_si256(d)), _mm256_set1_epi64x(1023));
        let k = _mm256_sub_epi64(msb, _mm256_set1_epi64x(15));
        let idx = _mm256_srlv_epi64(v, k);
        // SAFETY: idx is in 2^15..2^16, so each 4-byte read at byte 2·idx stays inside
        // the 65537-entry (131074-byte) table.
        let t = unsafe { _mm256_i64gather_epi32::<2>(table.as_ptr().cast(), idx) };
        let t = _mm256_cvtepu16_epi64(_mm_shuffle_epi8(t, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1)));
        _mm256_add_epi64(t, _mm256_slli_epi64::<11>(k))
    }

    /// The information term of 4 lanes (`vif::information_term`), 0 where `mask` is off.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn information_term(table: &[u16; 65537], s1: __m128i, s2: __m128i, s12: __m128i, mask: __m128i) -> __m256i {
        const EPS: f64 = 65536.0 * 1.0e-10;
        let (s1d, s2d, s12d) = (_mm256_cvtepi32_pd(s1), _mm256_cvtepi32_pd(s2), _mm256_cvtepi32_pd(s12));
        let g = _mm256_div_pd(s12d, _mm256_add_pd(s1d, _mm256_set1_pd(EPS)));
        let sv = _mm256_cvttpd_epi32(_mm256_sub_pd(s2d, _mm256_mul_pd(g, s12d)));
        let sv = _mm_max_epi32(sv, _mm_setzero_si128());
        let g = _mm256_min_pd(g, _mm256_set1_pd(ENHANCEMENT_GAIN_LIMIT));
        let numer1 = _mm256_cvtepu32_epi64(_mm_add_epi32(sv, _mm_set1_epi32(SIGMA_NSQ)));
        // (g·g·σ1²) truncated; clamped to 0..2^50 only matters in masked-off lanes.
        let t = _mm256_mul_pd(_mm256_mul_pd(g, g), s1d);
        let t = _mm256_min_pd(_mm256_max_pd(t, _mm256_setzero_pd()), _mm256_set1_pd(1125899906842624.0));
        let t = _mm256_round_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(t);
        let magic = _mm256_set1_pd(4503599627370496.0);
        let t = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(t, magic)), _mm256_castpd_si256(magic));
        let numer1_tmp = _mm256_add_epi64(t, numer1);
        let diff = _mm256_sub_epi64(log2_64(table, numer1_tmp), log2_64(table, numer1));
        _mm256_and_si256(diff, _mm256_cvtepi32_epi64(mask))
    }

    /// The statistic of 8 pixels added into `acc` (`VifAccumulators::add_pixel` × 8).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn statistic(
        table: &[u16; 65537],
        mu1: __m256i,
        mu2: __m256i,
        xx: __m256i,
        yy: __m256i,
        xy: __m256i,
        acc: &mut Lanes,
    ) {
        let zero = _mm256_setzero_si256();
        let nsq = _mm256_set1_epi32(SIGMA_NSQ);
        let sigma1_sq = _mm256_sub_epi32(xx, mul_q32(mu1, mu1));
        let sigma2_sq = _mm256_max_epi32(_mm256_sub_epi32(yy, mul_q32(mu2, mu2)), zero);
        let sigma12 = _mm256_sub_epi32(xy, mul_q32(mu1, mu2));
        let log = _mm256_cmpgt_epi32(sigma1_sq, _mm256_set1_epi32(SIGMA_NSQ - 1));
        // Non-log pixels: Σσ2² and a count.
        let non_log = _mm256_andnot_si256(log, sigma2_sq);
        acc.num_non_log = _mm256_add_epi64(acc.num_non_log, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(non_log)));
        acc.num_non_log = _mm256_add_epi64(acc.num_non_log, _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(non_log)));
        let log_bits = _mm256_movemask_ps(_mm256_castsi256_ps(log)) as u32;
        acc.den_non_log += i64::from(8 - log_bits.count_ones());
        if log_bits == 0 {
            return;
        }
        // den_log: log2_32(σn² + σ1²) − 17·2048 (lanes off the branch read 2^17).
        let v = _mm256_blendv_epi8(nsq, _mm256_add_epi32(sigma1_sq, nsq), log);
        let den = _mm256_and_si256(_mm256_sub_epi32(log2_32(table, v), _mm256_set1_epi32(17 * 2048)), log);
        acc.den_log = _mm256_add_epi64(acc.den_log, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(den)));
        acc.den_log = _mm256_add_epi64(acc.den_log, _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(den)));
        // num_log where σ12 > 0 and σ2² > 0 as well.
        let num = _mm256_and_si256(
            log,
            _mm256_and_si256(_mm256_cmpgt_epi32(sigma12, zero), _mm256_cmpgt_epi32(sigma2_sq, zero)),
        );
        if _mm256_testz_si256(num, num) != 0 {
            return;
        }
        let half = |v: __m256i, hi: bool| if hi { _mm256_extracti128_si256::<1>(v) } else { _mm256_castsi256_si128(v) };
        for hi in [false, true] {
            let m = half(num, hi);
            if _mm_testz_si128(m, m) != 0 {
                continue;
            }
            let term = information_term(table, half(sigma1_sq, hi), half(sigma2_sq, hi), half(sigma12, hi), m);
            acc.num_log = _mm256_add_epi64(acc.num_log, term);
        }
    }

    /// The statistic of the filtered columns `from..to` (multiples of 8) added into `total`.
    ///
    /// It runs in a loop of its own: its long chains of dependent operations (products,
    /// gathers, a division) then overlap from one group of 8 to the next, which they do
    /// not behind the filter's 400-odd instructions per group.
    #[target_feature(enable = "avx2")]
    pub(in crate::vif) fn statistics_of_filtered(
        rows: &VerticalRows,
        from: usize,
        to: usize,
        table: &[u16; 65537],
        total: &mut VifAccumulators,
    ) {
        let mut acc = Lanes::new();
        let [f_mu1, f_mu2, f_xx, f_yy, f_xy] = &rows.filtered;
        for j in (from..to).step_by(8) {
            statistic(table, load256(f_mu1, j), load256(f_mu2, j), load256(f_xx, j), load256(f_yy, j), load256(f_xy, j), &mut acc);
        }
        acc.finish(total);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn statistic_of_lanes(table: &[u16; 65537], m: [[u32; 8]; 5]) -> VifAccumulators {
        let v = m.map(|lane| load256(&lane, 0));
        let mut acc = Lanes::new();
        statistic(table, v[0], v[1], v[2], v[3], v[4], &mut acc);
        let mut total = VifAccumulators::default();
        acc.finish(&mut total);
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vif::statistic::random_moments;

    /// The 8-lane statistic equals `add_pixel` on random moments, extreme ones included.
    #[test]
    fn lane_statistic_equals_scalar_on_random_moments() {
        random_moments::check_lanes::<8>("AVX2", statistic_of_lanes);
    }
}
