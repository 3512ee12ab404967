//! Integer ADM (4 scales) on a [`Device`], bit-exact with [`crate::adm::adm`]. Per scale:
//! `adm_dwt_*` of both images, `adm_decouple_*` (restored and additive bands),
//! `adm_csf_*`, and two row-wise sums, `adm_den_*` (the reference's CSF denominator)
//! and `adm_cm_*` (the masked numerator). The sums of every scale land in one buffer,
//! downloaded once per frame; the CPU's own code ([`DenScale0::finish`] and its
//! siblings) turns them into the per-scale floats, so the float steps are shared too.

use super::CudaError;
use super::device::{Device, Element, Kernel, KernelArg, LaunchShape};
use super::vif::widen;
use crate::adm::decouple::{cos_1deg_sq, div_lookup};
use crate::adm::region::{SumRegion, extended_region};
use crate::adm::sums::{CmS123, CmScale0, DenS123, DenScale0};
use crate::adm::{AdmScores, MIN_ADM_SIZE};
use crate::frame::Plane;
use crate::sample::Sample;

use KernelArg::{I32, Pointer, U32, U64};

/// The three detail bands of one image at one scale, in the kernels' order (H, V, D).
struct Details<B> {
    h: B,
    v: B,
    d: B,
}

impl<B> Details<B> {
    fn try_new(mut make: impl FnMut() -> Result<B, CudaError>) -> Result<Self, CudaError> {
        Ok(Details { h: make()?, v: make()?, d: make()? })
    }
}

/// The detail bands of one image on device `D`.
type DeviceDetails<D, T> = Details<<D as Device>::Buffer<T>>;

fn pointers<D: Device, T: Element>(device: &D, bands: &DeviceDetails<D, T>) -> [KernelArg; 3] {
    [&bands.h, &bands.v, &bands.d].map(|b| Pointer(device.address(b)))
}

/// One scale's DWT of one image: the LL band (the next scale's input) and the details.
struct Dwt<D: Device, T: Element> {
    approximation: D::Buffer<i32>,
    details: DeviceDetails<D, T>,
}

/// The rows and columns decoupling and the CSF work on.
struct Region {
    row0: usize,
    rows: usize,
    col0: usize,
    col1: usize,
}

impl Region {
    fn extended(w: usize, h: usize) -> Self {
        let (top, bottom, left, right) = extended_region(w, h);
        Region { row0: top, rows: bottom.saturating_sub(top), col0: left, col1: right }
    }

    fn is_empty(&self) -> bool {
        self.rows == 0 || self.col1 <= self.col0
    }

    fn shape(&self) -> LaunchShape {
        LaunchShape::per_pixel(self.col1 - self.col0, self.rows)
    }

    fn args(&self) -> [KernelArg; 3] {
        [I32(self.row0 as i32), I32(self.col0 as i32), I32(self.col1 as i32)]
    }
}

/// Where each scale's sums go in the per-frame sums buffer: 3 den then 3 cm per scale.
const SUMS_PER_SCALE: usize = 6;

fn sums_at<D: Device>(device: &D, sums: &D::Buffer<u64>, scale: usize, cm: bool) -> KernelArg {
    let index = scale * SUMS_PER_SCALE + if cm { 3 } else { 0 };
    Pointer(device.address(sums) + (index * std::mem::size_of::<u64>()) as u64)
}

/// Integer ADM of a luma pair of `bit_depth` bits (w, h ≥ [`MIN_ADM_SIZE`]).
pub fn adm<D: Device, T: Sample>(
    device: &D,
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
) -> Result<AdmScores, CudaError> {
    let (w0, h0) = (reference.width(), reference.height());
    if w0 < MIN_ADM_SIZE || h0 < MIN_ADM_SIZE {
        return Err(CudaError(format!("adm needs at least {MIN_ADM_SIZE}x{MIN_ADM_SIZE} pixels, got {w0}x{h0}")));
    }
    let lookup = device.upload(&div_lookup()[..])?;
    let sums = device.zeros::<u64>(4 * SUMS_PER_SCALE)?;
    let context = Context { lookup: Pointer(device.address(&lookup)), cos_sq: U32(cos_1deg_sq().to_bits()) };

    let (mut w, mut h) = (w0.div_ceil(2), h0.div_ceil(2));
    let ref0 = dwt_scale0(device, reference, bit_depth)?;
    let dis0 = dwt_scale0(device, distorted, bit_depth)?;
    let den0 = DenScale0::new(w, h);
    let cm0 = CmScale0::new(w, h);
    scale0(device, &context, [&ref0.details, &dis0.details], (w, h), (&den0, &cm0), &sums)?;

    let (mut prev_ref, mut prev_dis) = (ref0.approximation, dis0.approximation);
    let mut den = Vec::with_capacity(3);
    let mut cm = Vec::with_capacity(3);
    for scale in 1..4 {
        let (pw, ph) = (w, h);
        (w, h) = (pw.div_ceil(2), ph.div_ceil(2));
        let next_ref = dwt_s123(device, &prev_ref, (pw, ph), scale)?;
        let next_dis = dwt_s123(device, &prev_dis, (pw, ph), scale)?;
        den.push(DenS123::new(scale, w, h));
        cm.push(CmS123::new(scale, w, h));
        scale_s123(device, &context, [&next_ref.details, &next_dis.details], (w, h), (&den[scale - 1], &cm[scale - 1]), scale, &sums)?;
        (prev_ref, prev_dis) = (next_ref.approximation, next_dis.approximation);
    }

    let totals = device.download(&sums)?;
    if totals.len() != 4 * SUMS_PER_SCALE {
        return Err(CudaError(format!("adm: {} sums, expected {}", totals.len(), 4 * SUMS_PER_SCALE)));
    }
    let three = |scale: usize, offset: usize| -> [u64; 3] {
        std::array::from_fn(|b| totals[scale * SUMS_PER_SCALE + offset + b])
    };
    let signed = |v: [u64; 3]| v.map(|x| x as i64);
    let mut scores = AdmScores::default();
    scores.den[0] = den0.finish(three(0, 0));
    scores.num[0] = cm0.finish(signed(three(0, 3)));
    for scale in 1..4 {
        scores.den[scale] = den[scale - 1].finish(three(scale, 0));
        scores.num[scale] = cm[scale - 1].finish(signed(three(scale, 3)));
    }
    let numden_limit = 1e-10 * (w0 * h0) as f64 / (1920.0 * 1080.0);
    let num: f64 = scores.num.iter().map(|&v| f64::from(v)).sum();
    let den: f64 = scores.den.iter().map(|&v| f64::from(v)).sum();
    let num = if num < numden_limit { 0.0 } else { num };
    let den = if den < numden_limit { 0.0 } else { den };
    scores.adm2 = if den == 0.0 { 1.0 } else { num / den };
    Ok(scores)
}

/// What every decoupling needs: the reciprocal table and cos²(1°) (as `f32` bits).
struct Context {
    lookup: KernelArg,
    cos_sq: KernelArg,
}

fn dwt_scale0<D: Device, T: Sample>(device: &D, image: &Plane<T>, bit_depth: u8) -> Result<Dwt<D, i16>, CudaError> {
    let (w, h) = (image.width(), image.height());
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let src = device.upload(&widen(image))?;
    let approximation = device.zeros::<i32>(bw * bh)?;
    let details = Details::try_new(|| device.zeros::<i16>(bw * bh))?;
    let [dh, dv, dd] = pointers(device, &details);
    let args = [
        Pointer(device.address(&src)),
        I32(w as i32),
        I32(h as i32),
        I32(i32::from(bit_depth)),
        Pointer(device.address(&approximation)),
        dv,
        dh,
        dd,
    ];
    // SAFETY: `args` follow `adm_dwt_scale0` in adm.cu (outputs a, v, h, d); w·h samples
    // in, ⌈w/2⌉·⌈h/2⌉ values in each output.
    unsafe { device.launch(Kernel::AdmDwtScale0, LaunchShape::per_pixel(bw, bh), &args) }?;
    Ok(Dwt { approximation, details })
}

fn dwt_s123<D: Device>(device: &D, src: &D::Buffer<i32>, (w, h): (usize, usize), scale: usize) -> Result<Dwt<D, i32>, CudaError> {
    const ROUND_VP: [i64; 3] = [0, 32768, 32768];
    const SHIFT_VP: [u32; 3] = [0, 16, 16];
    const ROUND_HP: [i64; 3] = [16384, 32768, 16384];
    const SHIFT_HP: [u32; 3] = [15, 16, 15];
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let approximation = device.zeros::<i32>(bw * bh)?;
    let details = Details::try_new(|| device.zeros::<i32>(bw * bh))?;
    let [dh, dv, dd] = pointers(device, &details);
    let args = [
        Pointer(device.address(src)),
        I32(w as i32),
        I32(h as i32),
        U64(ROUND_VP[scale - 1] as u64),
        U32(SHIFT_VP[scale - 1]),
        U64(ROUND_HP[scale - 1] as u64),
        U32(SHIFT_HP[scale - 1]),
        Pointer(device.address(&approximation)),
        dv,
        dh,
        dd,
    ];
    // SAFETY: `args` follow `adm_dwt_s123` in adm.cu (outputs a, v, h, d); w·h values in,
    // ⌈w/2⌉·⌈h/2⌉ in each output.
    unsafe { device.launch(Kernel::AdmDwtS123, LaunchShape::per_pixel(bw, bh), &args) }?;
    Ok(Dwt { approximation, details })
}

/// Launches a row-wise sum over `rows` rows (nothing to add when there are none).
///
/// # Safety
/// As [`Device::launch`], for a kernel run one block per row.
unsafe fn launch_row_sums<D: Device>(device: &D, kernel: Kernel, rows: usize, args: &[KernelArg]) -> Result<(), CudaError> {
    if rows == 0 {
        return Ok(());
    }
    // SAFETY: the caller's guarantee.
    unsafe { device.launch(kernel, LaunchShape::per_row(rows), args) }
}

/// The bands contrast masking reads: the restored details and both CSF outputs.
struct Masking<D: Device, T: Element> {
    restored: DeviceDetails<D, T>,
    csf_a: DeviceDetails<D, T>,
    csf_f: DeviceDetails<D, T>,
}

/// Decoupling and CSF of one scale over its extended region: `decouple` and `csf` are the
/// scale's kernels, `csf_factors` the CSF kernel's arguments after the region (none at
/// scale 0, whose factors are constants of adm.cu).
fn decouple_and_csf<D: Device, T: Element>(
    device: &D,
    context: &Context,
    [reference, distorted]: [&DeviceDetails<D, T>; 2],
    (w, h): (usize, usize),
    [decouple, csf]: [Kernel; 2],
    csf_factors: &[KernelArg],
) -> Result<Masking<D, T>, CudaError> {
    let n = w * h;
    let restored = Details::try_new(|| device.zeros::<T>(n))?;
    let additive = Details::try_new(|| device.zeros::<T>(n))?;
    let csf_a = Details::try_new(|| device.zeros::<T>(n))?;
    let csf_f = Details::try_new(|| device.zeros::<T>(n))?;
    let region = Region::extended(w, h);
    if !region.is_empty() {
        let mut args = pointers(device, reference).to_vec();
        args.extend(pointers(device, distorted));
        args.push(I32(w as i32));
        args.extend(region.args());
        args.extend([context.cos_sq, context.lookup]);
        args.extend(pointers(device, &restored));
        args.extend(pointers(device, &additive));
        // SAFETY: `args` follow `adm_decouple_scale0` / `adm_decouple_s123` in adm.cu
        // (bands of T); every band holds w·h values and the region lies inside the band;
        // the table has 65537 entries.
        unsafe { device.launch(decouple, region.shape(), &args) }?;
        let mut args = pointers(device, &additive).to_vec();
        args.push(I32(w as i32));
        args.extend(region.args());
        args.extend_from_slice(csf_factors);
        args.extend(pointers(device, &csf_a));
        args.extend(pointers(device, &csf_f));
        // SAFETY: `args` follow `adm_csf_scale0` / `adm_csf_s123`; bands of w·h values,
        // the region inside them.
        unsafe { device.launch(csf, region.shape(), &args) }?;
    }
    Ok(Masking { restored, csf_a, csf_f })
}

/// The arguments every row sum starts with after its bands: the band width (and height
/// where the kernel mirrors rows) and the region's first row and columns.
fn sum_region_args(w: usize, h: Option<usize>, region: SumRegion) -> Vec<KernelArg> {
    let mut args = vec![I32(w as i32)];
    args.extend(h.map(|h| I32(h as i32)));
    args.extend([I32(region.rows.0 as i32), I32(region.cols.0 as i32), I32(region.cols.1 as i32)]);
    args
}

/// Launches a scale's den kernel over its region's rows: `shifts` follow the region.
fn den_sums<D: Device, T: Element>(
    device: &D,
    kernel: Kernel,
    reference: &DeviceDetails<D, T>,
    (w, region): (usize, SumRegion),
    shifts: &[KernelArg],
    sums: KernelArg,
) -> Result<(), CudaError> {
    let mut args = pointers(device, reference).to_vec();
    args.extend(sum_region_args(w, None, region));
    args.extend_from_slice(shifts);
    args.push(sums);
    // SAFETY: `args` follow `adm_den_scale0` / `adm_den_s123` in adm.cu (bands of T); one
    // block per row of the score region (inside the band), three sums at the pointer.
    unsafe { launch_row_sums(device, kernel, region.rows.1.saturating_sub(region.rows.0), &args) }
}

/// Launches a scale's cm kernel over its region's rows: `shifts` follow the region.
fn cm_sums<D: Device, T: Element>(
    device: &D,
    kernel: Kernel,
    masking: &Masking<D, T>,
    (w, h, region): (usize, usize, SumRegion),
    shifts: &[KernelArg],
    sums: KernelArg,
) -> Result<(), CudaError> {
    let mut args = pointers(device, &masking.restored).to_vec();
    args.extend(pointers(device, &masking.csf_a));
    args.extend(pointers(device, &masking.csf_f));
    args.extend(sum_region_args(w, Some(h), region));
    args.extend_from_slice(shifts);
    args.push(sums);
    // SAFETY: `args` follow `adm_cm_scale0` / `adm_cm_s123` in adm.cu (bands of T); one
    // block per row of the score region, whose neighbours lie inside the band; three
    // sums at the pointer.
    unsafe { launch_row_sums(device, kernel, region.rows.1.saturating_sub(region.rows.0), &args) }
}

/// Scale 0 after its DWT: decoupling, CSF, and the den and cm sums into `sums`.
fn scale0<D: Device>(
    device: &D,
    context: &Context,
    details: [&DeviceDetails<D, i16>; 2],
    (w, h): (usize, usize),
    (den, cm): (&DenScale0, &CmScale0),
    sums: &D::Buffer<u64>,
) -> Result<(), CudaError> {
    let kernels = [Kernel::AdmDecoupleScale0, Kernel::AdmCsfScale0];
    let masking = decouple_and_csf(device, context, details, (w, h), kernels, &[])?;
    let shifts = [U64(den.round), U32(den.shift)];
    den_sums(device, Kernel::AdmDenScale0, details[0], (w, den.region), &shifts, sums_at(device, sums, 0, false))?;
    let shifts = [
        U64(cm.round_cub[0]),
        U32(cm.shift_cub[0]),
        U64(cm.round_cub[2]),
        U32(cm.shift_cub[2]),
        U64(cm.round_inner),
        U32(cm.shift_inner),
    ];
    cm_sums(device, Kernel::AdmCmScale0, &masking, (w, h, cm.region), &shifts, sums_at(device, sums, 0, true))
}

/// Scales 1–3 after their DWT: decoupling, CSF, and the den and cm sums into `sums`.
fn scale_s123<D: Device>(
    device: &D,
    context: &Context,
    details: [&DeviceDetails<D, i32>; 2],
    (w, h): (usize, usize),
    (den, cm): (&DenS123, &CmS123),
    scale: usize,
    sums: &D::Buffer<u64>,
) -> Result<(), CudaError> {
    let rfactor = cm.rfactor.map(|f| U64(f as u64));
    let kernels = [Kernel::AdmDecoupleS123, Kernel::AdmCsfS123];
    let masking = decouple_and_csf(device, context, details, (w, h), kernels, &rfactor)?;
    let shifts = [
        U64(den.round_sq),
        U32(den.shift_sq),
        U64(den.round_cub),
        U32(den.shift_cub),
        U64(den.round_accum),
        U32(den.shift_accum),
    ];
    den_sums(device, Kernel::AdmDenS123, details[0], (w, den.region), &shifts, sums_at(device, sums, scale, false))?;
    let mut shifts = rfactor.to_vec();
    shifts.extend([U64(cm.round_cub), U32(cm.shift_cub), U64(cm.round_inner), U32(cm.shift_inner)]);
    cm_sums(device, Kernel::AdmCmS123, &masking, (w, h, cm.region), &shifts, sums_at(device, sums, scale, true))
}
