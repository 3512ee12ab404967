//! Integer VIF (4 scales) on a [`Device`], bit-exact with [`crate::vif::vif`]: per scale,
//! `vif_downsample` (scales 1–3), `vif_vertical` (the five moments of every pixel) and
//! `vif_horizontal_statistic` (the four accumulators, summed in `u64`).

use super::CudaError;
use super::device::{Device, Kernel, KernelArg, LaunchShape};
use crate::frame::Plane;
use crate::sample::Sample;
use crate::vif::statistic::log2_table;
use crate::vif::{VIF_FILTERS, VerticalShifts, VifAccumulators, VifScores};

/// The plane's samples as `u16` (8-bit samples widened: the same values).
pub(super) fn widen<T: Sample>(p: &Plane<T>) -> Vec<u16> {
    p.data().iter().map(|v| v.to_u32() as u16).collect()
}

/// The arguments `vif_downsample` and `vif_vertical` start with: both images of `w x h`,
/// the filter of `taps` coefficients, and the rounding of the filtered means.
fn filter_args<D: Device>(
    device: &D,
    images: [&D::Buffer<u16>; 2],
    (w, h): (usize, usize),
    filter: &D::Buffer<u32>,
    taps: usize,
    shifts: &VerticalShifts,
) -> Vec<KernelArg> {
    let [reference, distorted] = images.map(|b| KernelArg::Pointer(device.address(b)));
    vec![
        reference,
        distorted,
        KernelArg::I32(w as i32),
        KernelArg::I32(h as i32),
        KernelArg::Pointer(device.address(filter)),
        KernelArg::I32(taps as i32),
        KernelArg::U64(shifts.mu_round),
        KernelArg::U32(shifts.mu_shift),
    ]
}

/// Integer VIF of a luma pair of `bit_depth` bits.
pub fn vif<D: Device, T: Sample>(
    device: &D,
    reference: &Plane<T>,
    distorted: &Plane<T>,
    bit_depth: u8,
) -> Result<VifScores, CudaError> {
    use KernelArg::{I32, Pointer, U32, U64};
    let bpc = u32::from(bit_depth);
    let (mut w, mut h) = (reference.width(), reference.height());
    let table = device.upload(&log2_table()[..])?;
    let mut cur_ref = device.upload(&widen(reference))?;
    let mut cur_dis = device.upload(&widen(distorted))?;
    let mut scores = VifScores::default();
    for (scale, scale_filter) in VIF_FILTERS.iter().enumerate() {
        let filter: Vec<u32> = scale_filter.iter().map(|&c| u32::from(c)).collect();
        let f = device.upload(&filter)?;
        if scale > 0 {
            let sh = VerticalShifts::for_scale(scale - 1, bpc);
            let (ow, oh) = (w / 2, h / 2);
            let next_ref = device.zeros::<u16>(ow * oh)?;
            let next_dis = device.zeros::<u16>(ow * oh)?;
            let mut args = filter_args(device, [&cur_ref, &cur_dis], (w, h), &f, filter.len(), &sh);
            args.extend([Pointer(device.address(&next_ref)), Pointer(device.address(&next_dis))]);
            // SAFETY: `args` follow `vif_downsample` in vif.cu; the inputs hold w·h
            // samples, the outputs (w/2)·(h/2), the filter `taps` coefficients.
            unsafe { device.launch(Kernel::VifDownsample, LaunchShape::per_pixel(ow, oh), &args) }?;
            (cur_ref, cur_dis) = (next_ref, next_dis);
            (w, h) = (ow, oh);
        }
        let sh = VerticalShifts::for_scale(scale, bpc);
        let narrow = i32::from(scale == 0 && bit_depth == 8);
        let moments = [(); 5].map(|()| device.zeros::<u32>(w * h));
        let [m1, m2, xx, yy, xy] = moments;
        let (m1, m2, xx, yy, xy) = (m1?, m2?, xx?, yy?, xy?);
        let moment_args = [&m1, &m2, &xx, &yy, &xy].map(|b| Pointer(device.address(b)));
        let mut args = filter_args(device, [&cur_ref, &cur_dis], (w, h), &f, filter.len(), &sh);
        args.extend([U64(sh.sq_round), U32(sh.sq_shift), I32(narrow)]);
        args.extend(moment_args);
        // SAFETY: `args` follow `vif_vertical` in vif.cu; inputs of w·h samples, five
        // output planes of w·h u32.
        unsafe { device.launch(Kernel::VifVertical, LaunchShape::per_pixel(w, h), &args) }?;
        let acc = device.zeros::<u64>(4)?;
        let mut args = moment_args.to_vec();
        args.extend([
            I32(w as i32),
            I32(h as i32),
            Pointer(device.address(&f)),
            I32(filter.len() as i32),
            Pointer(device.address(&table)),
            Pointer(device.address(&acc)),
        ]);
        // SAFETY: `args` follow `vif_horizontal_statistic` in vif.cu; planes of w·h u32,
        // the 65537-entry log2 table, 4 accumulators; blocks of BLOCK threads (the size
        // of its shared arrays).
        unsafe { device.launch(Kernel::VifStatistic, LaunchShape::per_pixel(w, h), &args) }?;
        let sums = device.download(&acc)?;
        let [num_log, den_log, num_non_log, den_non_log] = sums[..] else {
            return Err(CudaError(format!("vif: {} accumulators, expected 4", sums.len())));
        };
        let a = VifAccumulators {
            num_log: num_log as i64,
            den_log: den_log as i64,
            num_non_log: num_non_log as i64,
            den_non_log: den_non_log as i64,
        };
        (scores.num[scale], scores.den[scale]) = a.num_den();
    }
    Ok(scores)
}
