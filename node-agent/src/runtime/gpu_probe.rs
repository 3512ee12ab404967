//! GPUs, through the CUDA driver API loaded at run time (cudarc's dynamic loading): count,
//! name, memory and multiprocessors. A machine without the driver, or without GPUs, gets an
//! empty list and the reason — never a panic: cudarc panics on first use of a missing
//! library, so its presence is checked first.
//!
//! NVENC sessions are not inferred from the GPU's name: they come from actually opening a
//! session, which needs the `nvenc` build; without it every GPU reports 0.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuProbe {
    pub index: u32,
    pub name: String,
    pub memory_bytes: u64,
    pub multiprocessors: u32,
    pub nvenc_sessions: u32,
}

/// The GPUs found, or why none could be probed.
pub fn probe_gpus() -> Result<Vec<GpuProbe>, String> {
    // SAFETY: `is_culib_present` only tries to dlopen the driver library; it does not call into it.
    let present = unsafe { cudarc::driver::sys::is_culib_present() };
    if !present {
        return Err("cuda unavailable: no CUDA driver library (libcuda.so) on this machine".to_owned());
    }
    let count = cudarc::driver::CudaContext::device_count().map_err(|err| format!("cuda unavailable: {err}"))?;
    let mut gpus = Vec::new();
    for ordinal in 0..count.max(0) as usize {
        let context = cudarc::driver::CudaContext::new(ordinal).map_err(|err| format!("cuda device {ordinal}: {err}"))?;
        let name = context.name().map_err(|err| format!("cuda device {ordinal} name: {err}"))?;
        let memory_bytes = context.total_mem().map_err(|err| format!("cuda device {ordinal} memory: {err}"))? as u64;
        let multiprocessors = context
            .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|err| format!("cuda device {ordinal} attributes: {err}"))?;
        gpus.push(GpuProbe { index: ordinal as u32, name, memory_bytes, multiprocessors: multiprocessors.max(0) as u32, nvenc_sessions: 0 });
    }
    Ok(gpus)
}
