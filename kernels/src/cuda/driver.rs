//! [`CudaDevice`]: the kernels loaded on a real GPU through cudarc (driver API and NVRTC,
//! both loaded at run time). Everything runs on the context's default stream, so
//! launches and copies execute in the order they are issued.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg};

use super::device::{Device, Element, Kernel, KernelArg, LaunchShape};
use super::{CudaError, Unavailable, compile_all, driver_present};

/// Device 0 with every kernel of [`Kernel::ALL`] loaded.
#[derive(Debug)]
pub struct CudaDevice {
    stream: Arc<CudaStream>,
    functions: Vec<(Kernel, CudaFunction)>,
}

fn err(e: impl std::fmt::Debug) -> CudaError {
    CudaError(format!("{e:?}"))
}

impl CudaDevice {
    /// Checks the driver, NVRTC and a device, compiles and loads every kernel; says why
    /// CUDA cannot be used otherwise (never panics: cudarc is only called once the
    /// libraries are known to load).
    pub fn open() -> Result<Self, Unavailable> {
        if !driver_present() {
            return Err("libcuda (the NVIDIA driver) not found".into());
        }
        let count = CudaContext::device_count().map_err(|e| format!("cannot count CUDA devices: {e:?}"))?;
        if count < 1 {
            return Err("no CUDA device".into());
        }
        let ptx = compile_all()?;
        let ctx = CudaContext::new(0).map_err(|e| format!("cannot open CUDA device 0: {e:?}"))?;
        let mut modules = Vec::new();
        for (name, ptx) in ptx {
            modules.push((name, ctx.load_module(ptx).map_err(|e| format!("cannot load {name}: {e:?}"))?));
        }
        let mut functions = Vec::new();
        for kernel in Kernel::ALL {
            let (file, symbol) = (kernel.source(), kernel.symbol());
            let module = modules.iter().find(|(n, _)| *n == file).map(|(_, m)| m).ok_or_else(|| format!("{file} not loaded"))?;
            let function = module.load_function(symbol).map_err(|e| format!("{file} has no kernel {symbol}: {e:?}"))?;
            functions.push((kernel, function));
        }
        Ok(CudaDevice { stream: ctx.default_stream(), functions })
    }
}

impl Device for CudaDevice {
    type Buffer<T: Element> = CudaSlice<T>;

    fn upload<T: Element>(&self, host: &[T]) -> Result<CudaSlice<T>, CudaError> {
        self.stream.clone_htod(host).map_err(err)
    }

    fn zeros<T: Element>(&self, len: usize) -> Result<CudaSlice<T>, CudaError> {
        self.stream.alloc_zeros::<T>(len.max(1)).map_err(err)
    }

    fn download<T: Element>(&self, buffer: &CudaSlice<T>) -> Result<Vec<T>, CudaError> {
        self.stream.clone_dtoh(buffer).map_err(err)
    }

    fn address<T: Element>(&self, buffer: &CudaSlice<T>) -> u64 {
        // The read event this records is on the one stream every launch uses.
        let (address, _record) = buffer.device_ptr(&self.stream);
        address
    }

    unsafe fn launch(&self, kernel: Kernel, shape: LaunchShape, args: &[KernelArg]) -> Result<(), CudaError> {
        let function = self
            .functions
            .iter()
            .find(|(k, _)| *k == kernel)
            .map(|(_, f)| f)
            .ok_or_else(|| CudaError(format!("kernel {} not loaded", kernel.symbol())))?;
        let mut builder = self.stream.launch_builder(function);
        for arg in args {
            match arg {
                KernelArg::Pointer(v) | KernelArg::U64(v) => builder.arg(v),
                KernelArg::I32(v) => builder.arg(v),
                KernelArg::U32(v) => builder.arg(v),
            };
        }
        let config = LaunchConfig { grid_dim: shape.grid, block_dim: shape.block, shared_mem_bytes: 0 };
        // SAFETY: the caller guarantees that `args` match the kernel's parameters and
        // that every pointer covers what the kernel touches for this shape.
        unsafe { builder.launch(config) }.map(|_| ()).map_err(err)
    }
}
