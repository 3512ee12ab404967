//! The exact arithmetic of one VIF pixel: from the filtered moments to the information
//! terms, accumulated in `i64` with libvmaf's log2 look-up table (`vif_statistic_8/16`).
//! The AVX2 statistic in [`super::avx2`] computes 8 pixels at once with the same
//! operations; the CUDA host code uploads the same table.

use std::sync::OnceLock;

/// σn² = 2.0 in Q16.
pub(crate) const SIGMA_NSQ: i32 = 65536 << 1;
/// Default `vif_enhn_gain_limit`.
pub(crate) const ENHANCEMENT_GAIN_LIMIT: f64 = 100.0;

/// `log2_table[i] = round(log2f(i) * 2048)` for i in 32767..=65535 (`log_generate`).
pub(crate) fn log2_table() -> &'static [u16; 65537] {
    static TABLE: OnceLock<Box<[u16; 65537]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0u16; 65537]);
        for (i, entry) in t.iter_mut().enumerate().take(65536).skip(32767) {
            // libvmaf: (uint16_t)round(log2f((float)i) * 2048), the product in float.
            *entry = f64::from((i as f32).log2() * 2048.0).round() as u16;
        }
        t
    })
}

/// `log2_32`: log2 of a value ≥ 2^17 in Q11, from its best 16 bits.
#[inline(always)]
pub(crate) fn log2_32(table: &[u16; 65537], value: u32) -> i32 {
    let k = 16 - value.leading_zeros() as i32;
    i32::from(table[(value >> k) as usize]) + 2048 * k
}

/// `log2_64`: log2 of a value ≥ 2^17 in Q11, from its best 16 bits.
#[inline(always)]
pub(crate) fn log2_64(table: &[u16; 65537], value: u64) -> i32 {
    let k = 48 - value.leading_zeros() as i32;
    i32::from(table[(value >> k) as usize]) + 2048 * k
}

/// The four int64 accumulators of one scale (`VifResiduals`). Sums of them over any
/// split of the pixels are equal, which keeps SIMD and threaded versions exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VifAccumulators {
    pub num_log: i64,
    pub den_log: i64,
    pub num_non_log: i64,
    pub den_non_log: i64,
}

impl VifAccumulators {
    pub fn add(&mut self, other: &VifAccumulators) {
        self.num_log += other.num_log;
        self.den_log += other.den_log;
        self.num_non_log += other.num_non_log;
        self.den_non_log += other.den_non_log;
    }

    /// `(num, den)` as libvmaf stores them: computed in double, kept as float.
    pub fn num_den(&self) -> (f32, f32) {
        let num = self.num_log as f64 / 2048.0
            + (self.den_non_log as f64 - (self.num_non_log as f64 / 16384.0) / 65025.0);
        let den = self.den_log as f64 / 2048.0 + self.den_non_log as f64;
        (num as f32, den as f32)
    }

    /// The contribution of one pixel, from the filtered moments
    /// (μ1, μ2 in Q32 of the sample; E[x²], E[y²], E[xy] in Q16 of the squared sample).
    #[inline(always)]
    pub(crate) fn add_pixel(&mut self, table: &[u16; 65537], mu1: u32, mu2: u32, xx: u32, yy: u32, xy: u32) {
        let mu1_sq = ((u64::from(mu1) * u64::from(mu1) + 2147483648) >> 32) as u32;
        let mu2_sq = ((u64::from(mu2) * u64::from(mu2) + 2147483648) >> 32) as u32;
        let mu1_mu2 = ((u64::from(mu1) * u64::from(mu2) + 2147483648) >> 32) as u32;
        let sigma1_sq = xx.wrapping_sub(mu1_sq) as i32;
        let sigma2_sq = (yy.wrapping_sub(mu2_sq) as i32).max(0);
        let sigma12 = xy.wrapping_sub(mu1_mu2) as i32;
        if sigma1_sq >= SIGMA_NSQ {
            self.den_log += i64::from(log2_32(table, (SIGMA_NSQ + sigma1_sq) as u32) - 2048 * 17);
            if sigma12 > 0 && sigma2_sq > 0 {
                self.num_log += information_term(table, sigma1_sq, sigma2_sq, sigma12);
            }
        } else {
            self.num_non_log += i64::from(sigma2_sq);
            self.den_non_log += 1;
        }
    }
}

/// `log2(sv² + σn² + g²σ1²) − log2(sv² + σn²)` in Q11, for σ1² ≥ σn², σ12 > 0, σ2² > 0.
#[inline(always)]
pub(crate) fn information_term(table: &[u16; 65537], sigma1_sq: i32, sigma2_sq: i32, sigma12: i32) -> i64 {
    const EPS: f64 = 65536.0 * 1.0e-10;
    let g = f64::from(sigma12) / (f64::from(sigma1_sq) + EPS);
    let sv_sq = (f64::from(sigma2_sq) - g * f64::from(sigma12)) as i32;
    let sv_sq = sv_sq.max(0) as u32;
    let g = g.min(ENHANCEMENT_GAIN_LIMIT);
    let numer1 = sv_sq.wrapping_add(SIGMA_NSQ as u32);
    let numer1_tmp = (g * g * f64::from(sigma1_sq)) as i64 + i64::from(numer1);
    i64::from(log2_64(table, numer1_tmp as u64)) - i64::from(log2_64(table, u64::from(numer1)))
}

/// Random moments for the tests of the SIMD statistics: the extremes included.
#[cfg(test)]
#[expect(clippy::needless_range_loop, reason = "each lane fills five moment arrays by index")]
pub(crate) mod random_moments {
    /// xorshift64*, seeded.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `LANES` pixels' `(mu1, mu2, xx, yy, xy)`, near-consistent moments and wild ones.
    fn lanes<const LANES: usize>(seed: u64) -> [[u32; LANES]; 5] {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut m = [[0u32; LANES]; 5];
        for lane in 0..LANES {
            let mu1 = next(&mut s) as u32 >> (next(&mut s) % 24);
            let mu2 = mu1.wrapping_add((next(&mut s) as u32) >> (8 + next(&mut s) % 24));
            let sq = |mu: u32, s: &mut u64| {
                let base = ((u64::from(mu) * u64::from(mu) + (1 << 31)) >> 32) as u32;
                base.wrapping_add((next(s) as u32) >> (next(s) % 32))
            };
            let (xx, yy) = (sq(mu1, &mut s), sq(mu2, &mut s));
            let mu12 = ((u64::from(mu1) * u64::from(mu2) + (1 << 31)) >> 32) as u32;
            let xy = if next(&mut s).is_multiple_of(4) {
                next(&mut s) as u32
            } else {
                mu12.wrapping_add((next(&mut s) as u32) >> (next(&mut s) % 32)).wrapping_sub(1 << 12)
            };
            for (k, v) in [mu1, mu2, xx, yy, xy].into_iter().enumerate() {
                m[k][lane] = v;
            }
        }
        m
    }

    /// `statistic` (a SIMD level's `LANES`-pixel statistic, `None` where this CPU lacks the
    /// level) equals the scalar statistic on 4000 random sets of moments.
    pub(crate) fn check_lanes<const LANES: usize>(
        level: &str,
        statistic: impl Fn(&[u16; 65537], [[u32; LANES]; 5]) -> Option<super::VifAccumulators>,
    ) {
        let table = super::log2_table();
        for seed in 1..4000u64 {
            let m = lanes::<LANES>(seed);
            let Some(simd) = statistic(table, m) else {
                eprintln!("SKIP: no {level} on this CPU");
                return;
            };
            assert_eq!(simd, scalar_sum(table, &m), "{level}, seed {seed}: moments {m:?}");
        }
    }

    /// The scalar statistic of every lane of `m`.
    fn scalar_sum<const LANES: usize>(table: &[u16; 65537], m: &[[u32; LANES]; 5]) -> super::VifAccumulators {
        let mut total = super::VifAccumulators::default();
        for lane in 0..LANES {
            total.add_pixel(table, m[0][lane], m[1][lane], m[2][lane], m[3][lane], m[4][lane]);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_table_matches_double_rounding_on_range() {
        let t = log2_table();
        assert_eq!(t[32768], 15 * 2048);
        assert_eq!(t[65535], (16.0f64 * 2048.0 - 0.045).round() as u16);
        assert_eq!(log2_32(t, 1 << 17), 17 * 2048);
        assert_eq!(log2_64(t, 1 << 40), 40 * 2048);
    }
}
