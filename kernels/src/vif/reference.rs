//! The reference side of VIF that every distorted image scored against one reference
//! shares, computed once per reference frame ([`VifReference::prepare`]): the reference's
//! pyramid, its images of scales 1–3, each the one before low-passed and decimated by 2
//! by the same code as the distorted images' in [`super::vif_against_each`].

use super::{LevelView, VerticalShifts, VifScratch, rows};
use crate::frame::Plane;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// A reference prepared for VIF, reused from frame to frame (its levels keep their
/// memory).
#[derive(Debug, Default)]
pub struct VifReference {
    /// The reference's images of scales 1, 2 and 3.
    levels: [Vec<u16>; 3],
    /// Width and height of the reference (scale 0).
    size: (usize, usize),
}

impl VifReference {
    /// Prepares the luma `reference` of `bit_depth` bits: its pyramid, down-sampled by the
    /// code `simd` picks.
    pub fn prepare<T: Sample>(&mut self, reference: &Plane<T>, bit_depth: u8, simd: SimdLevel, scratch: &mut VifScratch) {
        let bpc = u32::from(bit_depth);
        let (w, h) = (reference.width(), reference.height());
        self.size = (w, h);
        let ref0 = LevelView { data: reference.data(), width: w, height: h };
        rows::downsample(ref0, 1, VerticalShifts::for_scale(0, bpc), &mut self.levels[0], simd, &mut scratch.down_rows);
        let (mut lw, mut lh) = (w / 2, h / 2);
        for scale in 2..4 {
            let (done, next) = self.levels.split_at_mut(scale - 1);
            let previous = LevelView { data: &done[scale - 2][..], width: lw, height: lh };
            rows::downsample(previous, scale, VerticalShifts::for_scale(scale, bpc), &mut next[0], simd, &mut scratch.down_rows);
            lw /= 2;
            lh /= 2;
        }
    }

    /// Width and height of the prepared reference.
    pub(super) fn size(&self) -> (usize, usize) {
        self.size
    }

    /// The reference's image of `scale` (1 to 3).
    pub(super) fn level(&self, scale: usize) -> LevelView<'_, u16> {
        let (width, height) = (self.size.0 >> scale, self.size.1 >> scale);
        LevelView { data: &self.levels[scale - 1][..width * height], width, height }
    }
}
