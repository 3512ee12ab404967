//! The CUDA kernels on the host: `kernels/cuda/*.cu` compiled with g++ (`cuda_host.h`
//! maps CUDA's qualifiers, built-in variables and intrinsics to C++ with CUDA's exact
//! results; `launcher.cpp` runs a grid block by block, each CUDA thread a fiber, barriers
//! as rounds), and a [`HostDevice`] for the CUDA host code of `shotfarm_kernels::cuda`.
//! Together they check the kernels' logic and the host code against the CPU reference on
//! machines without a GPU, with buffers that end at a guard page and the kernels under
//! UBSan; not GPU scheduling, races, or speed.
//!
//! | file | what |
//! | --- | --- |
//! | `cuda_host.h` | the CUDA dialect for g++ |
//! | `launcher.cpp` | the fiber scheduler, the kernel registry, `shotfarm_host_launch` |
//! | `emulator_checks.cu` | kernels that check the launcher itself |
//! | [`library`] | builds one shared library per `.cu` with g++ and loads it |
//! | [`host_buffer`] | [`host_buffer::HostBuffer`]: device memory, ending at a guard page |
//! | [`host_device`] | [`HostDevice`]: the `Device` trait on those libraries |

pub mod host_buffer;
pub mod host_device;
pub mod library;

pub use host_device::HostDevice;
pub use library::BuildError;
