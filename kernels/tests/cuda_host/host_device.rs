//! [`HostDevice`]: the [`Device`] of the CUDA host code backed by the host libraries.
//! Buffers are [`HostBuffer`]s (host memory ending at a guard page); a launch passes each
//! argument by address, cuLaunchKernel's way, and returns when the whole grid has run.

use std::ffi::c_void;

use shotfarm_kernels::cuda::CudaError;
use shotfarm_kernels::cuda::device::{Device, Element, Kernel, KernelArg, LaunchShape};

use super::host_buffer::HostBuffer;
use super::library::{BuildError, HostLibraries, emulator_check_libraries, host_libraries};

/// The CUDA kernels running on the host.
pub struct HostDevice {
    libraries: &'static HostLibraries,
}

/// One kernel argument's value; a kernel reads its parameter's type at its address.
#[repr(C)]
union ArgValue {
    i32: i32,
    u32: u32,
    u64: u64,
}

impl HostDevice {
    /// The kernels of `kernels/cuda/` (their libraries built or found, and loaded).
    pub fn new() -> Result<Self, BuildError> {
        Ok(HostDevice { libraries: host_libraries()? })
    }

    /// The launcher's own check kernels (`emulator_checks.cu`).
    pub fn emulator_checks() -> Result<Self, BuildError> {
        Ok(HostDevice { libraries: emulator_check_libraries()? })
    }

    /// The libraries the device launches from.
    pub fn libraries(&self) -> &'static HostLibraries {
        self.libraries
    }

    /// Launches `symbol` of the library of `file` with `args` (no [`Kernel`] needed, so a
    /// test can name one that does not exist).
    ///
    /// # Safety
    /// As [`Device::launch`].
    pub unsafe fn launch_symbol(&self, file: &str, symbol: &str, shape: LaunchShape, args: &[KernelArg]) -> Result<(), CudaError> {
        let mut values: Vec<ArgValue> = args
            .iter()
            .map(|arg| match *arg {
                KernelArg::Pointer(v) | KernelArg::U64(v) => ArgValue { u64: v },
                KernelArg::I32(v) => ArgValue { i32: v },
                KernelArg::U32(v) => ArgValue { u32: v },
            })
            .collect();
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut ArgValue).cast::<c_void>()).collect();
        // SAFETY: every field of `ArgValue` starts at its address, so params[i] points to
        // a value of args[i]'s type; the caller vouches that those match the kernel.
        unsafe { self.libraries.launch(file, symbol, shape, &mut params) }
    }
}

impl Device for HostDevice {
    type Buffer<T: Element> = HostBuffer<T>;

    fn upload<T: Element>(&self, host: &[T]) -> Result<HostBuffer<T>, CudaError> {
        HostBuffer::new(host)
    }

    fn zeros<T: Element>(&self, len: usize) -> Result<HostBuffer<T>, CudaError> {
        HostBuffer::new(&vec![T::default(); len])
    }

    fn download<T: Element>(&self, buffer: &HostBuffer<T>) -> Result<Vec<T>, CudaError> {
        // SAFETY: launches run to the end before they return, so no kernel is writing.
        Ok(unsafe { buffer.read() })
    }

    fn address<T: Element>(&self, buffer: &HostBuffer<T>) -> u64 {
        buffer.address()
    }

    unsafe fn launch(&self, kernel: Kernel, shape: LaunchShape, args: &[KernelArg]) -> Result<(), CudaError> {
        // SAFETY: the caller's guarantees for `kernel` are those `launch_symbol` asks.
        unsafe { self.launch_symbol(kernel.source(), kernel.symbol(), shape, args) }
    }
}
