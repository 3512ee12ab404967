// The CUDA dialect of kernels/cuda/*.cu for g++ (C++17), so the kernels run on the host
// (launcher.cpp runs them; kernels/tests/cuda_host/mod.rs maps the whole emulation).
//
// - Qualifiers: __global__, __device__ and __constant__ vanish; __shared__ is `static`:
//   blocks run one after another, so each static array (a kernel's, or a device
//   function's) is the running block's shared memory.
// - blockIdx, threadIdx, blockDim, gridDim are globals the launcher sets before it
//   resumes each CUDA thread (a fiber on one OS thread).
// - __syncthreads() hands control back to the launcher, which resumes the block's threads
//   once every live one has reached the barrier (or returned).
// - Intrinsics follow CUDA's documented results exactly, including the cases where C++
//   would be undefined (conversions out of range or of NaN saturate like PTX cvt.rzi).
//
// Build with -ffp-contract=off -fno-fast-math: every double operation then rounds like
// the GPU's with --fmad=false.

#ifndef SHOTFARM_CUDA_HOST_H
#define SHOTFARM_CUDA_HOST_H

// fmin and fmax (IEEE minNum/maxNum: a NaN operand yields the other) are the C library's,
// as in CUDA.
#include <math.h>

#include <climits>
#include <limits>

#define __global__
#define __device__
#define __constant__
#define __shared__ static

struct uint3 {
    unsigned int x, y, z;
};

struct dim3 {
    unsigned int x, y, z;
};

// Not `static`: the compiler must reload them after every call that may switch fibers.
extern uint3 blockIdx;
extern uint3 threadIdx;
extern dim3 blockDim;
extern dim3 gridDim;

namespace shotfarm_host {
// Parks the running CUDA thread at the barrier on source line `line` (launcher.cpp).
void sync_threads(int line);
}  // namespace shotfarm_host

#define __syncthreads() shotfarm_host::sync_threads(__LINE__)

// Blocks run one at a time on one OS thread: a read-modify-write is atomic.
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
    unsigned long long old = *address;
    *address = old + value;
    return old;
}

// Leading zero bits of the 32-bit (64-bit) pattern; 32 (64) for zero.
constexpr int __clz(int x) {
    return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x));
}

constexpr int __clzll(long long x) {
    return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x));
}

// IEEE double subtraction and product, rounded to nearest even, never fused.
constexpr double __dsub_rn(double a, double b) {
    return a - b;
}

constexpr double __dmul_rn(double a, double b) {
    return a * b;
}

namespace shotfarm_host {
// cvt.rzi: toward zero; out of range saturates to the type's bound; NaN is 0.
template <typename Integer>
constexpr Integer double_to_integer_toward_zero(double v) {
    constexpr double LOW = static_cast<double>(std::numeric_limits<Integer>::min());
    // 2^31 (2^63): the least double above every value of the type.
    constexpr double HIGH = -LOW;
    if (v != v) return 0;
    if (v <= LOW) return std::numeric_limits<Integer>::min();
    if (v >= HIGH) return std::numeric_limits<Integer>::max();
    return static_cast<Integer>(v);
}
}  // namespace shotfarm_host

constexpr int __double2int_rz(double v) {
    return shotfarm_host::double_to_integer_toward_zero<int>(v);
}

constexpr long long __double2ll_rz(double v) {
    return shotfarm_host::double_to_integer_toward_zero<long long>(v);
}

// Nearest float (ties to even), as the FPU converts in its default rounding mode.
constexpr float __ll2float_rn(long long v) {
    return static_cast<float>(v);
}

// The float with these bits.
constexpr float __uint_as_float(unsigned int bits) {
    return __builtin_bit_cast(float, bits);
}

static_assert(__clz(0) == 32 && __clz(1) == 31 && __clz(-1) == 0, "__clz");
static_assert(__clzll(0) == 64 && __clzll(1) == 63 && __clzll(LLONG_MIN) == 0, "__clzll");
static_assert(__double2int_rz(-2.9) == -2 && __double2int_rz(2.9) == 2, "__double2int_rz rounds toward zero");
static_assert(__double2int_rz(3.0e9) == INT_MAX && __double2int_rz(-3.0e9) == INT_MIN, "__double2int_rz saturates");
static_assert(__double2int_rz(2147483647.5) == INT_MAX && __double2int_rz(-2147483648.9) == INT_MIN, "__double2int_rz at the bounds");
static_assert(__double2int_rz(__builtin_nan("")) == 0, "__double2int_rz of NaN");
static_assert(__double2int_rz(__builtin_inf()) == INT_MAX && __double2int_rz(-__builtin_inf()) == INT_MIN, "__double2int_rz of infinities");
static_assert(__double2ll_rz(1.0e19) == LLONG_MAX && __double2ll_rz(-1.0e19) == LLONG_MIN, "__double2ll_rz saturates");
static_assert(__double2ll_rz(-9.2233720368547758e18) == LLONG_MIN, "__double2ll_rz of -2^63");
static_assert(__double2ll_rz(__builtin_nan("")) == 0 && __double2ll_rz(-7.5) == -7, "__double2ll_rz");
static_assert(__ll2float_rn(16777217) == 16777216.0f && __ll2float_rn(16777219) == 16777220.0f, "__ll2float_rn ties to even");
static_assert(__ll2float_rn(-16777219) == -16777220.0f && __ll2float_rn(LLONG_MAX) == 9223372036854775808.0f, "__ll2float_rn");
static_assert(__uint_as_float(0x3f800000u) == 1.0f && __uint_as_float(0xc0000000u) == -2.0f, "__uint_as_float");

#endif
