// Kernels that check the host launcher itself (kernels/tests/cuda_on_host.rs), written
// as CUDA would run them: barriers, exited threads, block and thread coordinates, and a
// barrier CUDA leaves undefined. Not part of Shotfarm's CUDA path.

// Each block reverses its slice of `in` through shared memory: right only if every
// thread has stored before any loads (threads run in order, so thread 0 would otherwise
// read thread 255's slot before thread 255 wrote it).
extern "C" __global__ void reverse_through_shared(const int* in, int* out) {
    __shared__ int staged[1024];
    int base = blockIdx.x * blockDim.x;
    staged[threadIdx.x] = in[base + threadIdx.x];
    __syncthreads();
    out[base + threadIdx.x] = staged[blockDim.x - 1 - threadIdx.x];
}

// Threads from `live` on return at once; the others still meet at the barrier, and
// thread 0 adds 1 + 2 + ... + live of each block to *total.
extern "C" __global__ void sum_of_live_threads(int live, unsigned long long* total) {
    __shared__ int staged[1024];
    int t = threadIdx.x;
    if (t >= live) return;
    staged[t] = t + 1;
    __syncthreads();
    if (t == 0) {
        unsigned long long sum = 0;
        for (int k = 0; k < live; ++k) sum += staged[k];
        atomicAdd(total, sum);
    }
}

// out[thread's rank in the grid] = its block and thread coordinates, 8 bits each
// (bx, by, bz, tx, ty, tz from the most significant byte down, in a u64).
extern "C" __global__ void coordinates(unsigned long long* out) {
    unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned long long packed = 0;
    unsigned parts[6] = {blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z};
    for (int k = 0; k < 6; ++k) packed = (packed << 8) | parts[k];
    out[block * (blockDim.x * blockDim.y * blockDim.z) + thread] = packed;
}

// Even and odd threads wait at different barriers (undefined in CUDA).
extern "C" __global__ void divergent_barrier(int* out) {
    if (threadIdx.x % 2 == 0) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}
