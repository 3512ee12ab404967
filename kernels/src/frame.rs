//! Planar YUV 4:2:0 frames, 8-bit and high bit depth (10-bit and up to 16).
//!
//! A [`Plane`] is tightly packed (stride = width). Chroma planes are
//! `ceil(width / 2) x ceil(height / 2)`, as ffmpeg and libvmaf lay them out, so any
//! width and height are allowed, odd ones included.

use crate::sample::Sample;

/// One plane of samples, row-major, stride equal to the width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane<T> {
    width: usize,
    height: usize,
    data: Vec<T>,
}

impl<T: Sample> Plane<T> {
    /// A plane filled with zeros.
    pub fn new(width: usize, height: usize) -> Self {
        Self { width, height, data: vec![T::default(); width * height] }
    }

    /// Wraps `data`; `None` if its length is not `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<T>) -> Option<Self> {
        (data.len() == width * height).then_some(Self { width, height, data })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// All samples, row after row.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Row `y` (panics if `y >= height`, like slice indexing).
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// A planar YUV 4:2:0 frame whose samples are of type `T` (`u8` or `u16`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YuvFrame<T> {
    /// Bits per sample: 8 for `u8`, 9..=16 for `u16` (values below `1 << bit_depth`).
    bit_depth: u8,
    planes: [Plane<T>; 3],
}

/// Chroma size of a 4:2:0 frame of the given luma size.
pub fn chroma_size(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

impl<T: Sample> YuvFrame<T> {
    /// A black-ish (all zero) frame.
    pub fn new(width: usize, height: usize, bit_depth: u8) -> Self {
        let (cw, ch) = chroma_size(width, height);
        Self {
            bit_depth,
            planes: [Plane::new(width, height), Plane::new(cw, ch), Plane::new(cw, ch)],
        }
    }

    /// Builds a frame from three planes; `None` unless their sizes are 4:2:0 consistent.
    pub fn from_planes(bit_depth: u8, planes: [Plane<T>; 3]) -> Option<Self> {
        let (cw, ch) = chroma_size(planes[0].width, planes[0].height);
        let consistent = planes[1..].iter().all(|p| p.width == cw && p.height == ch);
        consistent.then_some(Self { bit_depth, planes })
    }

    pub fn width(&self) -> usize {
        self.planes[0].width
    }

    pub fn height(&self) -> usize {
        self.planes[0].height
    }

    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }

    pub fn luma(&self) -> &Plane<T> {
        &self.planes[0]
    }

    /// Plane 0 (Y), 1 (Cb) or 2 (Cr).
    pub fn plane(&self, index: usize) -> &Plane<T> {
        &self.planes[index]
    }

    pub fn plane_mut(&mut self, index: usize) -> &mut Plane<T> {
        &mut self.planes[index]
    }

    pub fn planes(&self) -> &[Plane<T>; 3] {
        &self.planes
    }
}

/// A decoded frame of either sample width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Eight(YuvFrame<u8>),
    High(YuvFrame<u16>),
}

impl Frame {
    pub fn width(&self) -> usize {
        match self {
            Frame::Eight(f) => f.width(),
            Frame::High(f) => f.width(),
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Frame::Eight(f) => f.height(),
            Frame::High(f) => f.height(),
        }
    }

    pub fn bit_depth(&self) -> u8 {
        match self {
            Frame::Eight(f) => f.bit_depth(),
            Frame::High(f) => f.bit_depth(),
        }
    }
}

/// Frame geometry: what a decoder promises for every frame it yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameFormat {
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
}

impl FrameFormat {
    /// Bytes of one raw planar frame (`yuv420p` or `yuv420p10le`-style little-endian words).
    pub fn raw_frame_bytes(&self) -> usize {
        let (cw, ch) = chroma_size(self.width, self.height);
        let samples = self.width * self.height + 2 * cw * ch;
        if self.bit_depth > 8 { samples * 2 } else { samples }
    }

    /// An all-zero frame of this format.
    pub fn blank_frame(&self) -> Frame {
        if self.bit_depth > 8 {
            Frame::High(YuvFrame::new(self.width, self.height, self.bit_depth))
        } else {
            Frame::Eight(YuvFrame::new(self.width, self.height, 8))
        }
    }

    /// Overwrites `frame`, a frame of this format, with one raw planar frame of
    /// [`Self::raw_frame_bytes`] bytes; `false` (nothing written) if either does not fit.
    pub fn copy_raw_into(&self, raw: &[u8], frame: &mut Frame) -> bool {
        let fits = (frame.width(), frame.height(), frame.bit_depth()) == (self.width, self.height, self.bit_depth);
        if !fits || raw.len() != self.raw_frame_bytes() {
            return false;
        }
        let mut offset = 0;
        match frame {
            Frame::High(f) => {
                for plane in &mut f.planes {
                    let bytes = &raw[offset..offset + 2 * plane.data.len()];
                    offset += bytes.len();
                    for (sample, b) in plane.data.iter_mut().zip(bytes.chunks_exact(2)) {
                        *sample = u16::from_le_bytes([b[0], b[1]]);
                    }
                }
            }
            Frame::Eight(f) => {
                for plane in &mut f.planes {
                    let n = plane.data.len();
                    plane.data.copy_from_slice(&raw[offset..offset + n]);
                    offset += n;
                }
            }
        }
        true
    }

    /// Builds a frame from one raw planar frame of [`Self::raw_frame_bytes`] bytes.
    /// Returns `None` if the buffer has the wrong length.
    pub fn frame_from_raw(&self, raw: &[u8]) -> Option<Frame> {
        if raw.len() != self.raw_frame_bytes() {
            return None;
        }
        let (cw, ch) = chroma_size(self.width, self.height);
        let sizes = [(self.width, self.height), (cw, ch), (cw, ch)];
        if self.bit_depth > 8 {
            let mut offset = 0;
            let planes = sizes.map(|(w, h)| {
                let bytes = &raw[offset..offset + 2 * w * h];
                offset += 2 * w * h;
                let data = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
                Plane { width: w, height: h, data }
            });
            Some(Frame::High(YuvFrame { bit_depth: self.bit_depth, planes }))
        } else {
            let mut offset = 0;
            let planes = sizes.map(|(w, h)| {
                let data = raw[offset..offset + w * h].to_vec();
                offset += w * h;
                Plane { width: w, height: h, data }
            });
            Some(Frame::Eight(YuvFrame { bit_depth: 8, planes }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_round_chroma_up() {
        let f = YuvFrame::<u8>::new(427, 241, 8);
        assert_eq!(f.plane(1).width(), 214);
        assert_eq!(f.plane(2).height(), 121);
        let fmt = FrameFormat { width: 427, height: 241, bit_depth: 8 };
        assert_eq!(fmt.raw_frame_bytes(), 427 * 241 + 2 * 214 * 121);
    }

    #[test]
    fn raw_10bit_is_little_endian() {
        let fmt = FrameFormat { width: 2, height: 2, bit_depth: 10 };
        let mut raw = vec![0u8; fmt.raw_frame_bytes()];
        raw[0] = 0xff;
        raw[1] = 0x03;
        let Some(Frame::High(f)) = fmt.frame_from_raw(&raw) else { panic!("expected a 10-bit frame") };
        assert_eq!(f.luma().data()[0], 1023);
        assert!(fmt.frame_from_raw(&raw[1..]).is_none());
    }

    #[test]
    fn copy_raw_into_overwrites_a_frame_like_frame_from_raw() {
        for bit_depth in [8u8, 10] {
            let fmt = FrameFormat { width: 5, height: 3, bit_depth };
            let raw: Vec<u8> = (0..fmt.raw_frame_bytes()).map(|i| (i * 7 % 251) as u8 & 0x3f).collect();
            let mut frame = fmt.blank_frame();
            assert!(fmt.copy_raw_into(&raw, &mut frame));
            assert_eq!(Some(frame.clone()), fmt.frame_from_raw(&raw));
            assert!(!fmt.copy_raw_into(&raw[1..], &mut frame));
            let other = FrameFormat { width: 4, ..fmt };
            assert!(!other.copy_raw_into(&raw[..other.raw_frame_bytes()], &mut frame));
        }
    }
}
