// Integer VIF for one scale, mirroring kernels/src/vif/ (statistic.rs and rows.rs)
// line by line: the same integer arithmetic and the same double-precision steps in the
// same order, so the four accumulators are bit-exact with the CPU reference.
//
// Must be compiled with --fmad=false: the CPU computes `s2 - g * s12` and `g * g * s1`
// as separate IEEE operations, and a fused multiply-add would round differently.
//
// Samples of every level are uploaded as u16 (8-bit samples widened: same values).

#define SIGMA_NSQ (65536 << 1)
#define ENHANCEMENT_GAIN_LIMIT 100.0


extern "C" __device__ int vif_mirror(int index, int size) {
    int m = index < 0 ? -index : (index >= size ? 2 * (size - 1) - index : index);
    return m < 0 ? 0 : (m > size - 1 ? size - 1 : m);
}

// Vertical pass: the five moments of every pixel (vertical_moments_body).
// narrow: 8-bit samples at scale 0 (every sum in u32, squares kept as they are).
extern "C" __global__ void vif_vertical(const unsigned short* ref, const unsigned short* dis, int w, int h, const unsigned int* VIF_FILTER, int taps,
                                        unsigned long long mu_round, unsigned int mu_shift, unsigned long long sq_round,
                                        unsigned int sq_shift, int narrow, unsigned int* mu1, unsigned int* mu2,
                                        unsigned int* xx, unsigned int* yy, unsigned int* xy) {
    int i = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= h || j >= w) return;
    int half = taps / 2;
    unsigned int m1 = 0, m2 = 0, sx = 0, sy = 0, sxy = 0;
    unsigned long long wx = 0, wy = 0, wxy = 0;
    for (int k = 0; k < taps; ++k) {
        int row = vif_mirror(i - half + k, h);
        unsigned int c = VIF_FILTER[k];
        unsigned int rv = ref[row * w + j], dv = dis[row * w + j];
        unsigned int cr = c * rv, cd = c * dv;
        m1 += cr;
        m2 += cd;
        if (narrow) {
            sx += cr * rv;
            sy += cd * dv;
            sxy += cr * dv;
        } else {
            wx += (unsigned long long)cr * rv;
            wy += (unsigned long long)cd * dv;
            wxy += (unsigned long long)cr * dv;
        }
    }
    int o = i * w + j;
    mu1[o] = (unsigned int)(((unsigned long long)m1 + mu_round) >> mu_shift);
    mu2[o] = (unsigned int)(((unsigned long long)m2 + mu_round) >> mu_shift);
    if (narrow) {
        if (sq_shift != 0) {
            sx = (unsigned int)(((unsigned long long)sx + sq_round) >> sq_shift);
            sy = (unsigned int)(((unsigned long long)sy + sq_round) >> sq_shift);
            sxy = (unsigned int)(((unsigned long long)sxy + sq_round) >> sq_shift);
        }
        xx[o] = sx;
        yy[o] = sy;
        xy[o] = sxy;
    } else {
        xx[o] = (unsigned int)((wx + sq_round) >> sq_shift);
        yy[o] = (unsigned int)((wy + sq_round) >> sq_shift);
        xy[o] = (unsigned int)((wxy + sq_round) >> sq_shift);
    }
}

extern "C" __device__ int vif_log2_32(const unsigned short* table, unsigned int v) {
    int k = 16 - __clz(v);
    return (int)table[v >> k] + 2048 * k;
}

extern "C" __device__ int vif_log2_64(const unsigned short* table, unsigned long long v) {
    int k = 48 - __clzll(v);
    return (int)table[v >> k] + 2048 * k;
}

// vif::information_term
extern "C" __device__ long long vif_information_term(const unsigned short* table, int s1, int s2, int s12) {
    const double EPS = 65536.0 * 1.0e-10;
    double g = (double)s12 / ((double)s1 + EPS);
    double sv_d = __dsub_rn((double)s2, __dmul_rn(g, (double)s12));
    int sv_sq = __double2int_rz(sv_d);  // saturating, like Rust's `as i32`
    unsigned int sv = sv_sq < 0 ? 0u : (unsigned int)sv_sq;
    g = fmin(g, ENHANCEMENT_GAIN_LIMIT);
    unsigned int numer1 = sv + (unsigned int)SIGMA_NSQ;
    long long numer1_tmp = __double2ll_rz(__dmul_rn(__dmul_rn(g, g), (double)s1)) + (long long)numer1;
    return (long long)vif_log2_64(table, (unsigned long long)numer1_tmp) -
           (long long)vif_log2_64(table, (unsigned long long)numer1);
}

// Horizontal pass + per-pixel statistic (horizontal_filter + add_pixel); the block's
// sums are added to acc[0..4] = num_log, den_log, num_non_log, den_non_log (int64 as
// two's complement u64: exact).
extern "C" __global__ void vif_horizontal_statistic(const unsigned int* mu1, const unsigned int* mu2,
                                                    const unsigned int* xx, const unsigned int* yy,
                                                    const unsigned int* xy, int w, int h, const unsigned int* VIF_FILTER, int taps,
                                                    const unsigned short* table, unsigned long long* acc) {
    __shared__ long long partial[4][256];
    int i = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    long long num_log = 0, den_log = 0, num_non_log = 0, den_non_log = 0;
    if (i < h && j < w) {
        int half = taps / 2;
        unsigned int a1 = 0, a2 = 0;
        unsigned long long bx = 0, by = 0, bxy = 0;
        int row = i * w;
        for (int k = 0; k < taps; ++k) {
            int x = row + vif_mirror(j - half + k, w);
            unsigned int c = VIF_FILTER[k];
            a1 += c * mu1[x];
            a2 += c * mu2[x];
            bx += (unsigned long long)c * xx[x];
            by += (unsigned long long)c * yy[x];
            bxy += (unsigned long long)c * xy[x];
        }
        unsigned int fxx = (unsigned int)((bx + 32768) >> 16);
        unsigned int fyy = (unsigned int)((by + 32768) >> 16);
        unsigned int fxy = (unsigned int)((bxy + 32768) >> 16);
        // VifAccumulators::add_pixel
        unsigned int mu1_sq = (unsigned int)(((unsigned long long)a1 * a1 + 2147483648ull) >> 32);
        unsigned int mu2_sq = (unsigned int)(((unsigned long long)a2 * a2 + 2147483648ull) >> 32);
        unsigned int mu1_mu2 = (unsigned int)(((unsigned long long)a1 * a2 + 2147483648ull) >> 32);
        int sigma1_sq = (int)(fxx - mu1_sq);
        int sigma2_sq = (int)(fyy - mu2_sq);
        sigma2_sq = sigma2_sq < 0 ? 0 : sigma2_sq;
        int sigma12 = (int)(fxy - mu1_mu2);
        if (sigma1_sq >= SIGMA_NSQ) {
            den_log = (long long)(vif_log2_32(table, (unsigned int)(SIGMA_NSQ + sigma1_sq)) - 2048 * 17);
            if (sigma12 > 0 && sigma2_sq > 0) num_log = vif_information_term(table, sigma1_sq, sigma2_sq, sigma12);
        } else {
            num_non_log = sigma2_sq;
            den_non_log = 1;
        }
    }
    int t = threadIdx.x;
    partial[0][t] = num_log;
    partial[1][t] = den_log;
    partial[2][t] = num_non_log;
    partial[3][t] = den_non_log;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) {
            for (int q = 0; q < 4; ++q) partial[q][t] += partial[q][t + s];
        }
        __syncthreads();
    }
    if (t == 0) {
        for (int q = 0; q < 4; ++q) atomicAdd(&acc[q], (unsigned long long)partial[q][0]);
    }
}

// Low-pass with the filter of the next scale and keep every second row and column
// (vif::rows::downsample): out is (w/2) x (h/2).
extern "C" __global__ void vif_downsample(const unsigned short* ref, const unsigned short* dis, int w, int h, const unsigned int* VIF_FILTER, int taps,
                                          unsigned long long mu_round, unsigned int mu_shift, unsigned short* out_ref,
                                          unsigned short* out_dis) {
    int ow = w / 2, oh = h / 2;
    int oi = blockIdx.y;
    int oj = blockIdx.x * blockDim.x + threadIdx.x;
    if (oi >= oh || oj >= ow) return;
    int half = taps / 2;
    int i = 2 * oi, j = 2 * oj;
    unsigned int r = 0, d = 0;
    for (int k = 0; k < taps; ++k) {
        int x = vif_mirror(j - half + k, w);
        unsigned int vr = 0, vd = 0;
        for (int t = 0; t < taps; ++t) {
            int y = vif_mirror(i - half + t, h);
            vr += VIF_FILTER[t] * (unsigned int)ref[y * w + x];
            vd += VIF_FILTER[t] * (unsigned int)dis[y * w + x];
        }
        unsigned int vr16 = (unsigned short)(((unsigned long long)vr + mu_round) >> mu_shift);
        unsigned int vd16 = (unsigned short)(((unsigned long long)vd + mu_round) >> mu_shift);
        r += VIF_FILTER[k] * vr16;
        d += VIF_FILTER[k] * vd16;
    }
    out_ref[oi * ow + oj] = (unsigned short)(((unsigned long long)r + 32768) >> 16);
    out_dis[oi * ow + oj] = (unsigned short)(((unsigned long long)d + 32768) >> 16);
}
