// Integer motion (blurred frame difference SAD), mirroring kernels/src/motion/mod.rs
// `sad_body` line by line: the same integer arithmetic, so the SAD is bit-exact.
// One block per output row; the row SAD is a u32 wrapping sum (as on the CPU), added
// to the frame total in u64.
//
// Compiled at run time with NVRTC (--fmad=false; no floating point here anyway).

extern "C" __device__ int motion_mirror(int index, int size) {
    int m = index < 0 ? -index : (index >= size ? 2 * size - index - 2 : index);
    return m < 0 ? 0 : (m > size - 1 ? size - 1 : m);
}

__constant__ int MOTION_FILTER[5] = {3571, 16004, 26386, 16004, 3571};

// prev, cur: luma planes of w*h samples widened to u16 on upload.
// row_scratch: h * w int32 (the vertically blurred difference of every row).
extern "C" __global__ void motion_vertical(const unsigned short* prev, const unsigned short* cur, int w, int h,
                                           int shift, int* row_scratch) {
    int i = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= h || j >= w) return;
    long long acc = 0;
    for (int k = 0; k < 5; ++k) {
        int r = motion_mirror(i - 2 + k, h);
        acc += (long long)MOTION_FILTER[k] * (long long)((int)prev[r * w + j] - (int)cur[r * w + j]);
    }
    long long y_round = 1ll << (shift - 1);
    row_scratch[i * w + j] = (int)((acc + y_round) >> shift);
}

// One block of 256 threads per row: horizontal blur of the row, |.|, u32 wrapping row
// sum, then atomically added to *sad.
extern "C" __global__ void motion_horizontal(const int* row_scratch, int w, int h, unsigned long long* sad) {
    __shared__ unsigned int partial[256];
    int i = blockIdx.x;
    if (i >= h) return;
    const int* row = row_scratch + (long long)i * w;
    unsigned int local = 0;
    for (int j = threadIdx.x; j < w; j += blockDim.x) {
        long long a = 0;
        for (int k = 0; k < 5; ++k) {
            int x = motion_mirror(j - 2 + k, w);
            a += (long long)MOTION_FILTER[k] * (long long)row[x];
        }
        int v = (int)((a + 32768) >> 16);
        local += (unsigned int)(v < 0 ? -v : v);
    }
    partial[threadIdx.x] = local;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(sad, (unsigned long long)partial[0]);
}
