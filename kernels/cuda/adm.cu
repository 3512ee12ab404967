// Integer ADM (ADM2, 4 scales), mirroring kernels/src/adm/ function by function: the
// same integer arithmetic (wrapping where the CPU wraps: done in unsigned and cast back),
// the same double-precision steps in the same order, so every band value and every
// row sum is bit-exact with the CPU reference. The host (kernels/src/cuda/adm.rs)
// passes each sum's shifts and roundings, and turns the integer sums into floats with
// the CPU's own code.
//
// Must be compiled with --fmad=false (the angle test multiplies doubles in a fixed order).
//
// Layout: every band is row-major, w x h. Scale 0's detail bands are int16, its LL band
// (only the next scale's input) int32; scales 1-3 are int32 throughout.
// Kernels over a region take (row0, col0, col1): thread (blockIdx.y, x) works on row
// row0 + blockIdx.y, column col0 + x. Sums run one block of 256 threads per row.

#define ADM_GAIN_LIMIT 100.0

__constant__ int ADM_DWT_LO[4] = {15826, 27411, 7345, -4240};
__constant__ int ADM_DWT_HI[4] = {-4240, -7345, 27411, -15826};
__constant__ int ADM_RFACTOR_SCALE0[3] = {36453, 36453, 49417};

// dwt_taps: source row/column k (0..4) of DWT output i, mirrored.
extern "C" __device__ int adm_dwt_tap(int i, int k, int n) {
    int idx = 2 * i - 1 + k;
    int m = idx < 0 ? -idx : (idx >= n ? 2 * n - idx - 1 : idx);
    return m < 0 ? 0 : (m > n - 1 ? n - 1 : m);
}

// dwt0_filter: wrapping i32 products and sum, rounded >> 16, kept as i16.
extern "C" __device__ short adm_dwt0_filter(const int* f, const int* s) {
    unsigned acc = (unsigned)f[0] * (unsigned)s[0] + (unsigned)f[1] * (unsigned)s[1] + (unsigned)f[2] * (unsigned)s[2] +
                   (unsigned)f[3] * (unsigned)s[3];
    int rounded = (int)(acc + 32768u);
    return (short)(rounded >> 16);
}

// dwt_scale0: one DWT level of the samples. Output (i, j) of ceil(w/2) x ceil(h/2).
extern "C" __global__ void adm_dwt_scale0(const unsigned short* src, int w, int h, int shift, int* out_a, short* out_v,
                                          short* out_h, short* out_d) {
    int bw = (w + 1) / 2, bh = (h + 1) / 2;
    int i = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= bh || j >= bw) return;
    int round = 1 << (shift - 1);
    int rows[4];
    for (int k = 0; k < 4; ++k) rows[k] = adm_dwt_tap(i, k, h);
    int lo[4], hi[4];
    for (int k = 0; k < 4; ++k) {
        int x = adm_dwt_tap(j, k, w);
        int s[4];
        for (int t = 0; t < 4; ++t) s[t] = (int)src[rows[t] * w + x];
        // In unsigned: at 16 bits the sum overflows int32 and wraps (as libvmaf's int32
        // arithmetic does in practice); a signed overflow would be undefined.
        unsigned l = (unsigned)ADM_DWT_LO[0] * (unsigned)s[0] + (unsigned)ADM_DWT_LO[1] * (unsigned)s[1] +
                     (unsigned)ADM_DWT_LO[2] * (unsigned)s[2] + (unsigned)ADM_DWT_LO[3] * (unsigned)s[3];
        l -= 46342u * (unsigned)round;  // DWT_LO_SUM * round
        lo[k] = (short)((int)(l + (unsigned)round) >> shift);
        int g = ADM_DWT_HI[0] * s[0] + ADM_DWT_HI[1] * s[1] + ADM_DWT_HI[2] * s[2] + ADM_DWT_HI[3] * s[3];
        hi[k] = (short)((g + round) >> shift);  // DWT_HI_SUM is 0
    }
    int o = i * bw + j;
    out_a[o] = (int)adm_dwt0_filter(ADM_DWT_LO, lo);
    out_v[o] = adm_dwt0_filter(ADM_DWT_HI, lo);
    out_h[o] = adm_dwt0_filter(ADM_DWT_LO, hi);
    out_d[o] = adm_dwt0_filter(ADM_DWT_HI, hi);
}

// dwt_s123: one DWT level of an int32 LL band (int64 products, the scale's roundings).
extern "C" __global__ void adm_dwt_s123(const int* src, int w, int h, long long v_round, unsigned v_shift, long long h_round,
                                        unsigned h_shift, int* out_a, int* out_v, int* out_h, int* out_d) {
    int bw = (w + 1) / 2, bh = (h + 1) / 2;
    int i = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= bh || j >= bw) return;
    int rows[4];
    for (int k = 0; k < 4; ++k) rows[k] = adm_dwt_tap(i, k, h);
    long long lo[4], hi[4];
    for (int k = 0; k < 4; ++k) {
        int x = adm_dwt_tap(j, k, w);
        long long s[4];
        for (int t = 0; t < 4; ++t) s[t] = (long long)src[rows[t] * w + x];
        long long l = ADM_DWT_LO[0] * s[0] + ADM_DWT_LO[1] * s[1] + ADM_DWT_LO[2] * s[2] + ADM_DWT_LO[3] * s[3];
        long long g = ADM_DWT_HI[0] * s[0] + ADM_DWT_HI[1] * s[1] + ADM_DWT_HI[2] * s[2] + ADM_DWT_HI[3] * s[3];
        lo[k] = (long long)(int)((l + v_round) >> v_shift);
        hi[k] = (long long)(int)((g + v_round) >> v_shift);
    }
    int o = i * bw + j;
    out_a[o] = (int)((ADM_DWT_LO[0] * lo[0] + ADM_DWT_LO[1] * lo[1] + ADM_DWT_LO[2] * lo[2] + ADM_DWT_LO[3] * lo[3] + h_round) >> h_shift);
    out_v[o] = (int)((ADM_DWT_HI[0] * lo[0] + ADM_DWT_HI[1] * lo[1] + ADM_DWT_HI[2] * lo[2] + ADM_DWT_HI[3] * lo[3] + h_round) >> h_shift);
    out_h[o] = (int)((ADM_DWT_LO[0] * hi[0] + ADM_DWT_LO[1] * hi[1] + ADM_DWT_LO[2] * hi[2] + ADM_DWT_LO[3] * hi[3] + h_round) >> h_shift);
    out_d[o] = (int)((ADM_DWT_HI[0] * hi[0] + ADM_DWT_HI[1] * hi[1] + ADM_DWT_HI[2] * hi[2] + ADM_DWT_HI[3] * hi[3] + h_round) >> h_shift);
}

// angle_flag: is the angle between (oh, ov) and (th, tv) below 1 degree, in libvmaf's
// mixed float/double (products in wrapping int64, as the CPU).
extern "C" __device__ bool adm_angle_flag(float cos_sq, long long oh, long long ov, long long th, long long tv) {
    typedef unsigned long long u64;
    long long ot_dp = (long long)((u64)oh * (u64)th + (u64)ov * (u64)tv);
    long long o_mag_sq = (long long)((u64)oh * (u64)oh + (u64)ov * (u64)ov);
    long long t_mag_sq = (long long)((u64)th * (u64)th + (u64)tv * (u64)tv);
    double dp = (double)__ll2float_rn(ot_dp) / 4096.0;
    double o_mag = (double)__ll2float_rn(o_mag_sq) / 4096.0;
    double t_mag = (double)__ll2float_rn(t_mag_sq) / 4096.0;
    return dp >= 0.0 && __dmul_rn(dp, dp) >= __dmul_rn(__dmul_rn((double)cos_sq, o_mag), t_mag);
}

// limit_gain: the enhancement gain limit on a restored value.
extern "C" __device__ double adm_limit_gain(double rst, bool positive, bool negative, double t) {
    if (positive) return fmin(__dmul_rn(rst, ADM_GAIN_LIMIT), t);
    if (negative) return fmax(__dmul_rn(rst, ADM_GAIN_LIMIT), t);
    return rst;
}

// tmp_k of scale 0 (decouple_scale0): 2^30 / o from the table, times t, in Q15; int16
// bands, the product truncated to int32 as the CPU does.
__device__ long long adm_gain(const int* lookup, short ob, short tb) {
    if (ob == 0) return 32768;
    return (long long)(int)(((long long)lookup[ob + 32768] * (long long)tb + 16384) >> 15);
}

// tmp_k of scales 1-3 (decouple_s123): |o| above 15 bits is first reduced to its top 15
// bits (best15_from32) and the shift undone after the product.
__device__ long long adm_gain(const int* lookup, int ob, int tb) {
    if (ob == 0) return 32768;
    unsigned abs_o = ob < 0 ? 0u - (unsigned)ob : (unsigned)ob;
    long long sign = ob < 0 ? -1 : 1;
    unsigned msb = abs_o, shift = 0;
    if (abs_o >= 32768u) {
        shift = 17 - __clz(abs_o);
        msb = (abs_o + (1u << (shift - 1))) >> shift;
    }
    long long round = (long long)(int)(1u << ((14 + shift) & 31));
    return (((long long)lookup[msb + 32768] * (long long)tb) * sign + round) >> (15 + shift);
}

// decouple over rows row0.. and columns col0..col1 (the extended region), for bands of
// B (int16 at scale 0, int32 at scales 1-3): the restored part r = clamp(k, 0, 1) * o
// (gain-limited where o and t point within 1 degree) and the additive part a = t - r.
template <typename B>
__device__ void adm_decouple(const B* o_h, const B* o_v, const B* o_d, const B* t_h, const B* t_v, const B* t_d, int w,
                             int row0, int col0, int col1, unsigned cos_sq_bits, const int* lookup, B* r_h, B* r_v,
                             B* r_d, B* a_h, B* a_v, B* a_d) {
    int i = row0 + blockIdx.y;
    int j = col0 + blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= col1) return;
    int idx = i * w + j;
    float cos_sq = __uint_as_float(cos_sq_bits);
    B o[3] = {o_h[idx], o_v[idx], o_d[idx]};
    B t[3] = {t_h[idx], t_v[idx], t_d[idx]};
    B* r[3] = {r_h, r_v, r_d};
    B* a[3] = {a_h, a_v, a_d};
    bool flag = adm_angle_flag(cos_sq, o[0], o[1], t[0], t[1]);
    for (int band = 0; band < 3; ++band) {
        long long tmp_k = adm_gain(lookup, o[band], t[band]);
        long long k = tmp_k < 0 ? 0 : (tmp_k > 32768 ? 32768 : tmp_k);
        int ob = o[band], tb = t[band];
        B rst = (B)((k * (long long)ob + 16384) >> 15);
        if (flag) rst = (B)__double2int_rz(adm_limit_gain((double)rst, k > 0 && ob > 0, k > 0 && ob < 0, (double)tb));
        r[band][idx] = rst;
        a[band][idx] = (B)((unsigned)tb - (unsigned)(int)rst);
    }
}

extern "C" __global__ void adm_decouple_scale0(const short* o_h, const short* o_v, const short* o_d, const short* t_h,
                                               const short* t_v, const short* t_d, int w, int row0, int col0, int col1,
                                               unsigned cos_sq_bits, const int* lookup, short* r_h, short* r_v,
                                               short* r_d, short* a_h, short* a_v, short* a_d) {
    adm_decouple(o_h, o_v, o_d, t_h, t_v, t_d, w, row0, col0, col1, cos_sq_bits, lookup, r_h, r_v, r_d, a_h, a_v, a_d);
}

extern "C" __global__ void adm_decouple_s123(const int* o_h, const int* o_v, const int* o_d, const int* t_h, const int* t_v,
                                             const int* t_d, int w, int row0, int col0, int col1, unsigned cos_sq_bits,
                                             const int* lookup, int* r_h, int* r_v, int* r_d, int* a_h, int* a_v,
                                             int* a_d) {
    adm_decouple(o_h, o_v, o_d, t_h, t_v, t_d, w, row0, col0, col1, cos_sq_bits, lookup, r_h, r_v, r_d, a_h, a_v, a_d);
}

// csf_scale0 over the extended region: band theta of a.
extern "C" __global__ void adm_csf_scale0(const short* a_h, const short* a_v, const short* a_d, int w, int row0, int col0,
                                          int col1, short* csf_a_h, short* csf_a_v, short* csf_a_d, short* csf_f_h,
                                          short* csf_f_v, short* csf_f_d) {
    const unsigned SHIFTS[3] = {15, 15, 17};
    const int ROUNDS[3] = {16384, 16384, 65535};
    int i = row0 + blockIdx.y;
    int j = col0 + blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= col1) return;
    int idx = i * w + j;
    const short* a[3] = {a_h, a_v, a_d};
    short* csf_a[3] = {csf_a_h, csf_a_v, csf_a_d};
    short* csf_f[3] = {csf_f_h, csf_f_v, csf_f_d};
    for (int theta = 0; theta < 3; ++theta) {
        int dst = ADM_RFACTOR_SCALE0[theta] * (int)a[theta][idx];
        short dst16 = (short)((dst + ROUNDS[theta]) >> SHIFTS[theta]);
        int abs16 = dst16 < 0 ? -(int)dst16 : (int)dst16;
        csf_a[theta][idx] = dst16;
        csf_f[theta][idx] = (short)((4369 * abs16 + 2048) >> 12);  // FIX_ONE_BY_30
    }
}

extern "C" __device__ int adm_wrapping_abs(int v) {
    return v < 0 ? (int)(0u - (unsigned)v) : v;
}

// csf_s123 over the extended region; rfactor_* are the scale's Q32 factors.
extern "C" __global__ void adm_csf_s123(const int* a_h, const int* a_v, const int* a_d, int w, int row0, int col0, int col1,
                                        long long rfactor_h, long long rfactor_v, long long rfactor_d, int* csf_a_h,
                                        int* csf_a_v, int* csf_a_d, int* csf_f_h, int* csf_f_v, int* csf_f_d) {
    int i = row0 + blockIdx.y;
    int j = col0 + blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= col1) return;
    int idx = i * w + j;
    const int* a[3] = {a_h, a_v, a_d};
    const long long rfactor[3] = {rfactor_h, rfactor_v, rfactor_d};
    int* csf_a[3] = {csf_a_h, csf_a_v, csf_a_d};
    int* csf_f[3] = {csf_f_h, csf_f_v, csf_f_d};
    for (int theta = 0; theta < 3; ++theta) {
        long long product = (long long)((unsigned long long)rfactor[theta] * (unsigned long long)(long long)a[theta][idx]);
        int dst = (int)((product + (1ll << 27)) >> 28);
        csf_a[theta][idx] = dst;
        // FIX_ONE_BY_30 in Q32; I4_FLT_ROUND is -2^31.
        csf_f[theta][idx] = (int)((143165577ll * (long long)adm_wrapping_abs(dst) + (-2147483648ll)) >> 32);
    }
}

// Sums the block's three per-thread values and adds (sum + round) >> shift of each to
// accum[0..3] (exact: two's complement u64). Every thread of the block must call it,
// once per kernel.
extern "C" __device__ void adm_add_row_sums(long long* mine, unsigned long long round, unsigned shift, bool arithmetic,
                                            unsigned long long* accum) {
    __shared__ long long partial[3][256];
    int t = threadIdx.x;
    for (int b = 0; b < 3; ++b) partial[b][t] = mine[b];
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) {
            for (int b = 0; b < 3; ++b) partial[b][t] = (long long)((unsigned long long)partial[b][t] + (unsigned long long)partial[b][t + s]);
        }
        __syncthreads();
    }
    if (t == 0) {
        for (int b = 0; b < 3; ++b) {
            unsigned long long sum = (unsigned long long)partial[b][0] + round;
            unsigned long long row = arithmetic ? (unsigned long long)((long long)sum >> shift) : sum >> shift;
            atomicAdd(&accum[b], row);
        }
    }
}

// csf_den_scale0: one block per row row0 + blockIdx.x; Σ|x|³ of each band over col0..col1.
extern "C" __global__ void adm_den_scale0(const short* b_h, const short* b_v, const short* b_d, int w, int row0, int col0,
                                          int col1, unsigned long long round, unsigned shift, unsigned long long* accum) {
    int i = row0 + blockIdx.x;
    const short* band[3] = {b_h, b_v, b_d};
    long long inner[3] = {0, 0, 0};
    for (int j = col0 + threadIdx.x; j < col1; j += blockDim.x) {
        for (int b = 0; b < 3; ++b) {
            int v = band[b][i * w + j];
            unsigned long long x = (unsigned long long)(v < 0 ? -v : v);
            inner[b] = (long long)((unsigned long long)inner[b] + x * x * x);
        }
    }
    adm_add_row_sums(inner, round, shift, false, accum);
}

// csf_den_s123: one block per row; the fixed-point cube of each |x|.
extern "C" __global__ void adm_den_s123(const int* b_h, const int* b_v, const int* b_d, int w, int row0, int col0, int col1,
                                        unsigned long long round_sq, unsigned shift_sq, unsigned long long round_cub,
                                        unsigned shift_cub, unsigned long long round_accum, unsigned shift_accum,
                                        unsigned long long* accum) {
    int i = row0 + blockIdx.x;
    const int* band[3] = {b_h, b_v, b_d};
    long long inner[3] = {0, 0, 0};
    for (int j = col0 + threadIdx.x; j < col1; j += blockDim.x) {
        for (int b = 0; b < 3; ++b) {
            int v = band[b][i * w + j];
            unsigned long long x = v < 0 ? (unsigned long long)(0u - (unsigned)v) : (unsigned long long)v;
            unsigned long long cube = ((((x * x) + round_sq) >> shift_sq) * x + round_cub) >> shift_cub;
            inner[b] = (long long)((unsigned long long)inner[b] + cube);
        }
    }
    adm_add_row_sums(inner, round_accum, shift_accum, false, accum);
}

// cm_neighbours: i-1 and i+1, mirrored as 1 above the first and repeating the last.
extern "C" __device__ void adm_cm_neighbours(int i, int n, int* before, int* after) {
    *before = i == 0 ? 1 : i - 1;
    *after = i + 1 >= n ? n - 1 : i + 1;
}

// The masking threshold of (i, j): per band the 3x3 sum of csf_f with the centre (every
// position equal to (i, j), as the CPU's per-pixel definition) replaced by centre[band],
// summed over the bands, wrapping in 32 bits.
extern "C" __device__ int adm_cm_threshold(const void* const* csf_f, bool wide, const int* centre, int i, int j, int w, int h) {
    int up, down, lf, rt;
    adm_cm_neighbours(i, h, &up, &down);
    adm_cm_neighbours(j, w, &lf, &rt);
    const int ys[3] = {up, i, down};
    const int xs[3] = {lf, j, rt};
    unsigned thr = 0;
    for (int theta = 0; theta < 3; ++theta) {
        unsigned sum = 0;
        for (int p = 0; p < 3; ++p) {
            for (int q = 0; q < 3; ++q) {
                int y = ys[p], x = xs[q];
                int v;
                if (y == i && x == j) {
                    v = centre[theta];
                } else if (wide) {
                    v = ((const int*)csf_f[theta])[y * w + x];
                } else {
                    v = ((const short*)csf_f[theta])[y * w + x];
                }
                sum += (unsigned)v;
            }
        }
        thr += sum;
    }
    return (int)thr;
}

// cm_scale0: one block per row row0 + blockIdx.x of the score region, columns col0..col1.
extern "C" __global__ void adm_cm_scale0(const short* r_h, const short* r_v, const short* r_d, const short* ca_h,
                                         const short* ca_v, const short* ca_d, const short* cf_h, const short* cf_v,
                                         const short* cf_d, int w, int h, int row0, int col0, int col1,
                                         unsigned long long round_cub_hv, unsigned shift_cub_hv,
                                         unsigned long long round_cub_d, unsigned shift_cub_d,
                                         unsigned long long round_inner, unsigned shift_inner, unsigned long long* accum) {
    const unsigned SHIFT_SQ[3] = {29, 29, 30};
    const long long ROUND_SQ[3] = {268435456, 268435456, 536870912};
    const unsigned SHIFT_SUB[3] = {10, 10, 12};
    const long long round_cub[3] = {(long long)round_cub_hv, (long long)round_cub_hv, (long long)round_cub_d};
    const unsigned shift_cub[3] = {shift_cub_hv, shift_cub_hv, shift_cub_d};
    int i = row0 + blockIdx.x;
    const short* r[3] = {r_h, r_v, r_d};
    const short* ca[3] = {ca_h, ca_v, ca_d};
    const void* cf[3] = {cf_h, cf_v, cf_d};
    long long inner[3] = {0, 0, 0};
    for (int j = col0 + threadIdx.x; j < col1; j += blockDim.x) {
        int idx = i * w + j;
        int centre[3];
        for (int b = 0; b < 3; ++b) {
            int av = ca[b][idx];
            centre[b] = (int)(short)((8738 * (av < 0 ? -av : av) + 2048) >> 12);  // ONE_BY_15
        }
        int thr = adm_cm_threshold(cf, false, centre, i, j, w, h);
        for (int b = 0; b < 3; ++b) {
            int x = (int)r[b][idx] * ADM_RFACTOR_SCALE0[b];
            x = (int)((unsigned)adm_wrapping_abs(x) - ((unsigned)thr << SHIFT_SUB[b]));
            x = x < 0 ? 0 : x;
            int x_sq = (int)(((long long)x * (long long)x + ROUND_SQ[b]) >> SHIFT_SQ[b]);
            inner[b] += ((long long)x_sq * (long long)x + round_cub[b]) >> shift_cub[b];
        }
    }
    adm_add_row_sums(inner, round_inner, shift_inner, true, accum);
}

// cm_s123: one block per row of the score region.
extern "C" __global__ void adm_cm_s123(const int* r_h, const int* r_v, const int* r_d, const int* ca_h, const int* ca_v,
                                       const int* ca_d, const int* cf_h, const int* cf_v, const int* cf_d, int w, int h,
                                       int row0, int col0, int col1, long long rfactor_h, long long rfactor_v,
                                       long long rfactor_d, unsigned long long round_cub, unsigned shift_cub,
                                       unsigned long long round_inner, unsigned shift_inner, unsigned long long* accum) {
    int i = row0 + blockIdx.x;
    const int* r[3] = {r_h, r_v, r_d};
    const int* ca[3] = {ca_h, ca_v, ca_d};
    const void* cf[3] = {cf_h, cf_v, cf_d};
    const long long rfactor[3] = {rfactor_h, rfactor_v, rfactor_d};
    long long inner[3] = {0, 0, 0};
    for (int j = col0 + threadIdx.x; j < col1; j += blockDim.x) {
        int idx = i * w + j;
        int centre[3];
        for (int b = 0; b < 3; ++b) {
            // I4_ONE_BY_15 in Q32; I4_FLT_ROUND is -2^31.
            centre[b] = (int)((286331153ll * (long long)adm_wrapping_abs(ca[b][idx]) + (-2147483648ll)) >> 32);
        }
        int thr = adm_cm_threshold(cf, true, centre, i, j, w, h);
        for (int b = 0; b < 3; ++b) {
            long long product = (long long)((unsigned long long)(long long)r[b][idx] * (unsigned long long)rfactor[b]);
            int x = (int)((product + (1ll << 27)) >> 28);
            x = (int)((unsigned)adm_wrapping_abs(x) - (unsigned)thr);
            x = x < 0 ? 0 : x;
            int x_sq = (int)(((long long)x * (long long)x + 536870912ll) >> 30);
            inner[b] += ((long long)x_sq * (long long)x + (long long)round_cub) >> shift_cub;
        }
    }
    adm_add_row_sums(inner, round_inner, shift_inner, true, accum);
}
