//! The motion SAD on a [`Device`], bit-exact with [`crate::motion::blurred_difference_sad`]:
//! `motion_vertical` blurs the frame difference down the columns, `motion_horizontal`
//! along each row (one block per row) and sums |·|.

use super::CudaError;
use super::device::{Device, Kernel, KernelArg, LaunchShape};
use super::vif::widen;
use crate::frame::Plane;
use crate::sample::Sample;

/// The motion SAD of two reference lumas of `bit_depth` bits.
pub fn motion_sad<D: Device, T: Sample>(
    device: &D,
    previous: &Plane<T>,
    current: &Plane<T>,
    bit_depth: u8,
) -> Result<u64, CudaError> {
    use KernelArg::{I32, Pointer};
    let (w, h) = (current.width(), current.height());
    let prev = device.upload(&widen(previous))?;
    let cur = device.upload(&widen(current))?;
    let rows = device.zeros::<i32>(w * h)?;
    let sad = device.zeros::<u64>(1)?;
    let (wi, hi) = (I32(w as i32), I32(h as i32));
    let args = [Pointer(device.address(&prev)), Pointer(device.address(&cur)), wi, hi, I32(i32::from(bit_depth)), Pointer(device.address(&rows))];
    // SAFETY: `args` follow `motion_vertical` in motion.cu; w·h inputs and outputs.
    unsafe { device.launch(Kernel::MotionVertical, LaunchShape::per_pixel(w, h), &args) }?;
    let args = [Pointer(device.address(&rows)), wi, hi, Pointer(device.address(&sad))];
    // SAFETY: `args` follow `motion_horizontal` in motion.cu: w·h rows, one u64 total;
    // one block of BLOCK threads per row (the size of its shared array).
    unsafe { device.launch(Kernel::MotionHorizontal, LaunchShape::per_row(h), &args) }?;
    let v = device.download(&sad)?;
    v.first().copied().ok_or_else(|| CudaError("empty SAD buffer".into()))
}
