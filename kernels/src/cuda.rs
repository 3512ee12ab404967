//! The CUDA path (feature `cuda`): integer VIF (4 scales) and the motion SAD on the GPU,
//! from `.cu` sources in `kernels/cuda/` compiled at run time with NVRTC through cudarc
//! (dynamic loading: nothing CUDA is needed to build). ADM still runs on the CPU.
//!
//! The kernels mirror the CPU reference line by line (same integer arithmetic, the
//! same double-precision steps in the same order, compiled with `--fmad=false`), so
//! the features are bit-exact with it. Nothing here panics on a machine without CUDA:
//! [`probe`] checks the driver library, NVRTC and a device before the first cudarc call
//! that would, and says why CUDA is unavailable.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};

use crate::frame::Plane;
use crate::sample::Sample;
use crate::vif::{VIF_FILTERS, VerticalShifts, VifAccumulators, VifScores, log2_table};

/// Every `.cu` source of the CUDA path, by file name.
pub const CUDA_SOURCES: &[(&str, &str)] =
    [("motion.cu", include_str!("../cuda/motion.cu")), ("vif.cu", include_str!("../cuda/vif.cu"))].as_slice();

/// Why CUDA cannot be used here (`cuda unavailable: <reason>` once formatted).
pub type Unavailable = String;

/// Whether libnvrtc can be loaded (cudarc panics on first use when it cannot).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the candidate library names; no symbol is called.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether the CUDA driver library (libcuda) can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the candidate library names; no symbol is called.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// NVRTC options of every source: exact IEEE double arithmetic (no fused multiply-add).
fn compile_options(name: &str) -> CompileOptions {
    CompileOptions {
        fmad: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        ftz: Some(false),
        name: Some(name.to_string()),
        ..CompileOptions::default()
    }
}

/// Compiles every `.cu` with NVRTC (no GPU needed); errors carry NVRTC's log.
pub fn compile_all() -> Result<Vec<(&'static str, Ptx)>, Unavailable> {
    if !nvrtc_present() {
        return Err("libnvrtc not found (install the CUDA 13 toolkit or the nvidia-cuda-nvrtc wheel and add its lib folder to LD_LIBRARY_PATH)".into());
    }
    CUDA_SOURCES
        .iter()
        .map(|&(name, src)| {
            compile_ptx_with_opts(src, compile_options(name))
                .map(|ptx| (name, ptx))
                .map_err(|e| format!("nvrtc cannot compile {name}: {e:?}"))
        })
        .collect()
}

/// Checks the driver, NVRTC and a device, compiles and loads the kernels.
pub fn probe() -> Result<Arc<CudaKernels>, Unavailable> {
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
    let func = |file: &str, name: &str| -> Result<CudaFunction, Unavailable> {
        let module: &Arc<CudaModule> =
            modules.iter().find(|(n, _)| *n == file).map(|(_, m)| m).ok_or_else(|| format!("{file} not loaded"))?;
        module.load_function(name).map_err(|e| format!("{file} has no kernel {name}: {e:?}"))
    };
    Ok(Arc::new(CudaKernels {
        vif_vertical: func("vif.cu", "vif_vertical")?,
        vif_statistic: func("vif.cu", "vif_horizontal_statistic")?,
        vif_downsample: func("vif.cu", "vif_downsample")?,
        motion_vertical: func("motion.cu", "motion_vertical")?,
        motion_horizontal: func("motion.cu", "motion_horizontal")?,
        ctx,
    }))
}

/// The loaded kernels of one device. Each call uses its own stream.
#[derive(Debug)]
pub struct CudaKernels {
    ctx: Arc<CudaContext>,
    vif_vertical: CudaFunction,
    vif_statistic: CudaFunction,
    vif_downsample: CudaFunction,
    motion_vertical: CudaFunction,
    motion_horizontal: CudaFunction,
}

/// A CUDA driver error, as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cuda: {0}")]
pub struct CudaError(pub String);

fn err(e: impl std::fmt::Debug) -> CudaError {
    CudaError(format!("{e:?}"))
}

fn widen<T: Sample>(p: &Plane<T>) -> Vec<u16> {
    p.data().iter().map(|v| v.to_u32() as u16).collect()
}

const BLOCK: u32 = 256;

fn grid(w: usize, h: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: ((w as u32).div_ceil(BLOCK), h as u32, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

impl CudaKernels {
    fn stream(&self) -> Arc<CudaStream> {
        self.ctx.default_stream()
    }

    /// Integer VIF of a luma pair, bit-exact with [`crate::vif::vif`].
    pub fn vif<T: Sample>(&self, reference: &Plane<T>, distorted: &Plane<T>, bit_depth: u8) -> Result<VifScores, CudaError> {
        let s = self.stream();
        let bpc = u32::from(bit_depth);
        let (mut w, mut h) = (reference.width(), reference.height());
        let table = s.clone_htod(&log2_table()[..]).map_err(err)?;
        let mut cur_ref = s.clone_htod(&widen(reference)).map_err(err)?;
        let mut cur_dis = s.clone_htod(&widen(distorted)).map_err(err)?;
        let mut scores = VifScores::default();
        for (scale, scale_filter) in VIF_FILTERS.iter().enumerate() {
            let filter: Vec<u32> = scale_filter.iter().map(|&c| u32::from(c)).collect();
            if scale > 0 {
                let f = s.clone_htod(&filter).map_err(err)?;
                let sh = VerticalShifts::for_scale(scale - 1, bpc);
                let (ow, oh) = (w / 2, h / 2);
                let mut next_ref = s.alloc_zeros::<u16>(ow * oh).map_err(err)?;
                let mut next_dis = s.alloc_zeros::<u16>(ow * oh).map_err(err)?;
                let (wi, hi, taps) = (w as i32, h as i32, filter.len() as i32);
                let mut b = s.launch_builder(&self.vif_downsample);
                b.arg(&cur_ref).arg(&cur_dis).arg(&wi).arg(&hi).arg(&f).arg(&taps);
                b.arg(&sh.mu_round).arg(&sh.mu_shift).arg(&mut next_ref).arg(&mut next_dis);
                // SAFETY: the argument list matches `vif_downsample`'s signature in vif.cu;
                // every buffer has the size the kernel indexes (w·h in, (w/2)·(h/2) out).
                unsafe { b.launch(grid(ow, oh)) }.map_err(err)?;
                cur_ref = next_ref;
                cur_dis = next_dis;
                (w, h) = (ow, oh);
            }
            let f = s.clone_htod(&filter).map_err(err)?;
            let sh = VerticalShifts::for_scale(scale, bpc);
            let narrow = i32::from(scale == 0 && bit_depth == 8);
            let n = w * h;
            let mut planes = Vec::with_capacity(5);
            for _ in 0..5 {
                planes.push(s.alloc_zeros::<u32>(n).map_err(err)?);
            }
            let (wi, hi, taps) = (w as i32, h as i32, filter.len() as i32);
            {
                let [m1, m2, xx, yy, xy] = &mut planes[..] else { return Err(CudaError("plane count".into())) };
                let mut b = s.launch_builder(&self.vif_vertical);
                b.arg(&cur_ref).arg(&cur_dis).arg(&wi).arg(&hi).arg(&f).arg(&taps);
                b.arg(&sh.mu_round).arg(&sh.mu_shift).arg(&sh.sq_round).arg(&sh.sq_shift).arg(&narrow);
                b.arg(m1).arg(m2).arg(xx).arg(yy).arg(xy);
                // SAFETY: the argument list matches `vif_vertical` in vif.cu; the inputs
                // hold w·h samples and each output plane w·h u32.
                unsafe { b.launch(grid(w, h)) }.map_err(err)?;
            }
            let mut acc = s.alloc_zeros::<u64>(4).map_err(err)?;
            {
                let [m1, m2, xx, yy, xy] = &planes[..] else { return Err(CudaError("plane count".into())) };
                let mut b = s.launch_builder(&self.vif_statistic);
                b.arg(m1).arg(m2).arg(xx).arg(yy).arg(xy).arg(&wi).arg(&hi).arg(&f).arg(&taps).arg(&table).arg(&mut acc);
                // SAFETY: the argument list matches `vif_horizontal_statistic` in vif.cu;
                // planes of w·h u32, a 65537-entry table, 4 accumulators; blocks of 256
                // threads (the size of its shared arrays).
                unsafe { b.launch(grid(w, h)) }.map_err(err)?;
            }
            let sums = s.clone_dtoh(&acc).map_err(err)?;
            let a = VifAccumulators {
                num_log: sums[0] as i64,
                den_log: sums[1] as i64,
                num_non_log: sums[2] as i64,
                den_non_log: sums[3] as i64,
            };
            (scores.num[scale], scores.den[scale]) = a.num_den();
        }
        Ok(scores)
    }

    /// The motion SAD of two reference lumas, bit-exact with
    /// [`crate::motion::blurred_difference_sad`].
    pub fn motion_sad<T: Sample>(&self, previous: &Plane<T>, current: &Plane<T>, bit_depth: u8) -> Result<u64, CudaError> {
        let s = self.stream();
        let (w, h) = (current.width(), current.height());
        let prev = s.clone_htod(&widen(previous)).map_err(err)?;
        let cur = s.clone_htod(&widen(current)).map_err(err)?;
        let mut rows = s.alloc_zeros::<i32>(w * h).map_err(err)?;
        let mut sad = s.alloc_zeros::<u64>(1).map_err(err)?;
        let (wi, hi, shift) = (w as i32, h as i32, i32::from(bit_depth));
        let mut b = s.launch_builder(&self.motion_vertical);
        b.arg(&prev).arg(&cur).arg(&wi).arg(&hi).arg(&shift).arg(&mut rows);
        // SAFETY: matches `motion_vertical` in motion.cu; w·h inputs and outputs.
        unsafe { b.launch(grid(w, h)) }.map_err(err)?;
        let mut b = s.launch_builder(&self.motion_horizontal);
        b.arg(&rows).arg(&wi).arg(&hi).arg(&mut sad);
        let cfg = LaunchConfig { grid_dim: (h as u32, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: BLOCK * 4 };
        // SAFETY: matches `motion_horizontal` in motion.cu; one block per row, BLOCK
        // u32 of dynamic shared memory for its reduction.
        unsafe { b.launch(cfg) }.map_err(err)?;
        let v = s.clone_dtoh(&sad).map_err(err)?;
        v.first().copied().ok_or_else(|| CudaError("empty SAD buffer".into()))
    }
}
