// One .cu source of kernels/cuda/ as a host shared library: its kernels run block after
// block, every CUDA thread of a block a fiber (its own stack; started with ucontext,
// switched with _setjmp/_longjmp) scheduled round-robin on the calling OS thread, so a
// launch is deterministic and needs no GPU.
//
// Built by kernels/tests/cuda_host/library.rs, one library per .cu (as NVRTC compiles one
// module per .cu; emulator_checks.cu too), without _FORTIFY_SOURCE (its longjmp refuses
// to jump between stacks), with
//   -DSHOTFARM_CU_SOURCE="<path of the .cu>"
//   -DSHOTFARM_KERNELS(KERNEL)=KERNEL(symbol) KERNEL(symbol)...   (its kernels, from Kernel::ALL)
//
// Exports (C ABI):
//   int shotfarm_host_launch(symbol, gx, gy, gz, bx, by, bz, void** params)
//       runs the kernel; params[i] points to the value of its i-th parameter
//       (cuLaunchKernel's kernelParams). Returns one of LaunchStatus.
//   unsigned shotfarm_host_kernel_count(), const char* shotfarm_host_kernel_symbol(i)
//       the kernels this library registers.

#include "cuda_host.h"

#include <sys/mman.h>
#include <setjmp.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include SHOTFARM_CU_SOURCE

uint3 blockIdx;
uint3 threadIdx;
dim3 blockDim;
dim3 gridDim;

namespace shotfarm_host {

// What shotfarm_host_launch returns (kernels/tests/cuda_host/library.rs names them).
enum LaunchStatus : int {
    LAUNCHED = 0,
    UNKNOWN_KERNEL = 1,
    // Threads of one block waited at different __syncthreads() (undefined in CUDA).
    DIVERGENT_BARRIER = 2,
    // A block of no thread or more than CUDA's 1024, or an empty grid.
    BAD_SHAPE = 3,
    OUT_OF_MEMORY = 4,
};

constexpr unsigned MAX_THREADS_PER_BLOCK = 1024;
// Each CUDA thread's stack, above one inaccessible guard page that turns an overflow
// into a crash rather than into another thread's stack.
constexpr std::size_t FIBER_STACK_BYTES = 64 * 1024;

enum class FiberState { RUNNABLE, AT_BARRIER, FINISHED };

struct Fiber {
    // Enters the fiber's stack the first time (ucontext is the portable way to start
    // code on a stack of one's own).
    ucontext_t start;
    bool started;
    // Where the fiber continues. Every later switch is _setjmp/_longjmp, which, unlike
    // swapcontext, makes no system call (swapcontext saves the signal mask each time).
    jmp_buf resume;
    FiberState state;
    int barrier_line;
    uint3 thread_index;
};

// A kernel with its parameters unpacked from cuLaunchKernel's kernelParams.
using KernelBody = void (*)(void** params);

// The block being run: what the fibers run and where they return to.
struct Block {
    KernelBody body = nullptr;
    void** params = nullptr;
    jmp_buf scheduler;
    Fiber* running = nullptr;
    // Made on first use and kept (fiber i is thread i of every block).
    std::vector<Fiber*> fibers;
};

Block block;
// Launches share the globals above: one at a time per library.
std::mutex launch_lock;

// Suspends the running fiber and continues the scheduler.
void switch_to_scheduler(Fiber* fiber) {
    if (_setjmp(fiber->resume) == 0) _longjmp(block.scheduler, 1);
}

void sync_threads(int line) {
    Fiber* fiber = block.running;
    fiber->state = FiberState::AT_BARRIER;
    fiber->barrier_line = line;
    switch_to_scheduler(fiber);
}

// Every fiber's life: one CUDA thread of a block per turn, then back to the scheduler,
// which resumes it for the same thread of the next block. It never returns.
void fiber_main() {
    for (;;) {
        block.body(block.params);
        Fiber* fiber = block.running;
        fiber->state = FiberState::FINISHED;
        switch_to_scheduler(fiber);
    }
}

// Runs `fiber` until it reaches a barrier or finishes its thread.
void resume(Fiber* fiber) {
    block.running = fiber;
    threadIdx = fiber->thread_index;
    if (_setjmp(block.scheduler) != 0) return;
    if (fiber->started) _longjmp(fiber->resume, 1);
    fiber->started = true;
    setcontext(&fiber->start);
}

// Makes `fiber` start afresh in fiber_main (its old stack contents are dropped).
void restart(Fiber* fiber) {
    makecontext(&fiber->start, fiber_main, 0);
    fiber->started = false;
}

// Makes sure `count` fibers exist; false when memory runs out.
bool reserve_fibers(unsigned count) {
    std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    while (block.fibers.size() < count) {
        void* mapping = mmap(nullptr, page + FIBER_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapping == MAP_FAILED) return false;
        if (mprotect(mapping, page, PROT_NONE) != 0) return false;
        Fiber* fiber = new Fiber();
        // getcontext fills what makecontext keeps (signal mask, FPU state).
        if (getcontext(&fiber->start) != 0) return false;
        fiber->start.uc_stack.ss_sp = static_cast<char*>(mapping) + page;
        fiber->start.uc_stack.ss_size = FIBER_STACK_BYTES;
        fiber->start.uc_link = nullptr;
        restart(fiber);
        block.fibers.push_back(fiber);
    }
    return true;
}

// Runs the current block's `count` threads to the end, barrier round by barrier round.
LaunchStatus run_block(unsigned count) {
    for (unsigned t = 0; t < count; ++t) {
        Fiber* fiber = block.fibers[t];
        fiber->state = FiberState::RUNNABLE;
        fiber->thread_index = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
    }
    for (;;) {
        int barrier_line = -1;
        bool divergent = false;
        for (unsigned t = 0; t < count; ++t) {
            Fiber* fiber = block.fibers[t];
            if (fiber->state != FiberState::RUNNABLE) continue;
            resume(fiber);
            if (fiber->state == FiberState::AT_BARRIER) {
                divergent |= barrier_line >= 0 && fiber->barrier_line != barrier_line;
                barrier_line = fiber->barrier_line;
            }
        }
        if (barrier_line < 0) return LAUNCHED;
        for (unsigned t = 0; t < count; ++t) {
            Fiber* fiber = block.fibers[t];
            if (fiber->state != FiberState::AT_BARRIER) continue;
            // A thread abandoned in the middle of a kernel must not go on in the next one.
            if (divergent) restart(fiber);
            fiber->state = FiberState::RUNNABLE;
        }
        if (divergent) return DIVERGENT_BARRIER;
    }
}

LaunchStatus run_grid(KernelBody body, dim3 grid, dim3 threads, void** params) {
    unsigned count = threads.x * threads.y * threads.z;
    if (count == 0 || count > MAX_THREADS_PER_BLOCK || grid.x == 0 || grid.y == 0 || grid.z == 0) return BAD_SHAPE;
    if (!reserve_fibers(count)) return OUT_OF_MEMORY;
    block.body = body;
    block.params = params;
    gridDim = grid;
    blockDim = threads;
    for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
            for (unsigned x = 0; x < grid.x; ++x) {
                blockIdx = uint3{x, y, z};
                LaunchStatus status = run_block(count);
                if (status != LAUNCHED) return status;
            }
        }
    }
    return LAUNCHED;
}

// Calls `kernel` with params[i] read as its i-th parameter's type.
template <typename... Params, std::size_t... I>
void call_unpacked(void (*kernel)(Params...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<Params*>(params[I])...);
}

template <typename... Params>
constexpr std::size_t parameter_count(void (*)(Params...)) {
    return sizeof...(Params);
}

template <auto kernel>
void kernel_body(void** params) {
    call_unpacked(kernel, params, std::make_index_sequence<parameter_count(kernel)>{});
}

struct RegisteredKernel {
    const char* symbol;
    KernelBody body;
};

#define SHOTFARM_REGISTER(symbol) RegisteredKernel{#symbol, &kernel_body<&symbol>},
// The last entry has no symbol (so a .cu with no kernel still gives a valid array).
const RegisteredKernel KERNELS[] = {SHOTFARM_KERNELS(SHOTFARM_REGISTER) RegisteredKernel{nullptr, nullptr}};
#undef SHOTFARM_REGISTER
constexpr unsigned KERNEL_COUNT = sizeof(KERNELS) / sizeof(KERNELS[0]) - 1;

}  // namespace shotfarm_host

extern "C" __attribute__((visibility("default"))) int shotfarm_host_launch(const char* symbol, unsigned gx, unsigned gy,
                                                                         unsigned gz, unsigned bx, unsigned by,
                                                                         unsigned bz, void** params) {
    using namespace shotfarm_host;
    for (unsigned k = 0; k < KERNEL_COUNT; ++k) {
        if (std::strcmp(KERNELS[k].symbol, symbol) != 0) continue;
        std::lock_guard<std::mutex> guard(launch_lock);
        return run_grid(KERNELS[k].body, dim3{gx, gy, gz}, dim3{bx, by, bz}, params);
    }
    return UNKNOWN_KERNEL;
}

extern "C" __attribute__((visibility("default"))) unsigned shotfarm_host_kernel_count() {
    return shotfarm_host::KERNEL_COUNT;
}

extern "C" __attribute__((visibility("default"))) const char* shotfarm_host_kernel_symbol(unsigned index) {
    return index < shotfarm_host::KERNEL_COUNT ? shotfarm_host::KERNELS[index].symbol : nullptr;
}
