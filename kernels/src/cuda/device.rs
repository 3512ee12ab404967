//! What the CUDA path needs from a device, as a trait: upload, allocate, download and
//! launch a kernel by name with `cuLaunchKernel`'s argument convention. [`super::driver`]
//! implements it with cudarc on a real GPU; the kernels' tests also implement it with the
//! `.cu` sources compiled for the host (`kernels/tests/cuda_host/`), so the same host
//! code and the same kernels are checked on machines without a GPU.

use super::CudaError;

/// A value a device buffer may hold (plain integers: any bit pattern is valid).
pub trait Element: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits + Copy + Default + Send + Sync + 'static {}

impl Element for u16 {}
impl Element for i16 {}
impl Element for u32 {}
impl Element for i32 {}
impl Element for u64 {}

/// Every kernel of `kernels/cuda/*.cu`: the source file and the `extern "C"` symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    VifVertical,
    VifStatistic,
    VifDownsample,
    MotionVertical,
    MotionHorizontal,
    AdmDwtScale0,
    AdmDwtS123,
    AdmDecoupleScale0,
    AdmDecoupleS123,
    AdmCsfScale0,
    AdmCsfS123,
    AdmDenScale0,
    AdmDenS123,
    AdmCmScale0,
    AdmCmS123,
}

impl Kernel {
    pub const ALL: [Kernel; 15] = [
        Kernel::VifVertical,
        Kernel::VifStatistic,
        Kernel::VifDownsample,
        Kernel::MotionVertical,
        Kernel::MotionHorizontal,
        Kernel::AdmDwtScale0,
        Kernel::AdmDwtS123,
        Kernel::AdmDecoupleScale0,
        Kernel::AdmDecoupleS123,
        Kernel::AdmCsfScale0,
        Kernel::AdmCsfS123,
        Kernel::AdmDenScale0,
        Kernel::AdmDenS123,
        Kernel::AdmCmScale0,
        Kernel::AdmCmS123,
    ];

    /// The `.cu` file that defines it.
    pub fn source(self) -> &'static str {
        match self {
            Kernel::VifVertical | Kernel::VifStatistic | Kernel::VifDownsample => "vif.cu",
            Kernel::MotionVertical | Kernel::MotionHorizontal => "motion.cu",
            _ => "adm.cu",
        }
    }

    /// Its `extern "C"` name.
    pub fn symbol(self) -> &'static str {
        match self {
            Kernel::VifVertical => "vif_vertical",
            Kernel::VifStatistic => "vif_horizontal_statistic",
            Kernel::VifDownsample => "vif_downsample",
            Kernel::MotionVertical => "motion_vertical",
            Kernel::MotionHorizontal => "motion_horizontal",
            Kernel::AdmDwtScale0 => "adm_dwt_scale0",
            Kernel::AdmDwtS123 => "adm_dwt_s123",
            Kernel::AdmDecoupleScale0 => "adm_decouple_scale0",
            Kernel::AdmDecoupleS123 => "adm_decouple_s123",
            Kernel::AdmCsfScale0 => "adm_csf_scale0",
            Kernel::AdmCsfS123 => "adm_csf_s123",
            Kernel::AdmDenScale0 => "adm_den_scale0",
            Kernel::AdmDenS123 => "adm_den_s123",
            Kernel::AdmCmScale0 => "adm_cm_scale0",
            Kernel::AdmCmS123 => "adm_cm_s123",
        }
    }
}

/// One kernel parameter: a device address or a scalar, passed by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelArg {
    Pointer(u64),
    I32(i32),
    U32(u32),
    U64(u64),
}

/// Grid and block dimensions of a launch (no dynamic shared memory: every kernel
/// declares its shared arrays with a fixed size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchShape {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
}

/// Threads per block of every kernel; the shared arrays of the `.cu` sources have this size.
pub const BLOCK: u32 = 256;

impl LaunchShape {
    /// One thread per element of a `w × h` plane: rows of `BLOCK`-wide blocks.
    pub fn per_pixel(w: usize, h: usize) -> Self {
        LaunchShape { grid: ((w as u32).div_ceil(BLOCK), h as u32, 1), block: (BLOCK, 1, 1) }
    }

    /// One block per row of `h` rows (its threads stride over the row).
    pub fn per_row(h: usize) -> Self {
        LaunchShape { grid: (h as u32, 1, 1), block: (BLOCK, 1, 1) }
    }
}

/// A device the CUDA path can run on. Kernels run in launch order; `download` waits for
/// every launch before it.
pub trait Device {
    /// A buffer of `T` in the device's memory.
    type Buffer<T: Element>;

    fn upload<T: Element>(&self, host: &[T]) -> Result<Self::Buffer<T>, CudaError>;
    fn zeros<T: Element>(&self, len: usize) -> Result<Self::Buffer<T>, CudaError>;
    fn download<T: Element>(&self, buffer: &Self::Buffer<T>) -> Result<Vec<T>, CudaError>;
    /// The address kernels see for `buffer` (a [`KernelArg::Pointer`]).
    fn address<T: Element>(&self, buffer: &Self::Buffer<T>) -> u64;

    /// Launches `kernel`.
    ///
    /// # Safety
    /// `args` must match the kernel's parameter list in its `.cu` source, type for type,
    /// and every pointer must address a live buffer of this device that holds at least
    /// every element the kernel reads or writes for this `shape`.
    unsafe fn launch(&self, kernel: Kernel, shape: LaunchShape, args: &[KernelArg]) -> Result<(), CudaError>;
}
