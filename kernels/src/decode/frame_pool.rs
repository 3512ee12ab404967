//! Frames given back by their consumer, for a source to decode the next ones into, so
//! that a stream in steady state allocates (and page-faults) nothing per frame.
//!
//! A 1080p 8-bit frame is 3 MB: allocated fresh, each one costs ~760 page faults and
//! the kernel's zeroing of every page, and freeing it unmaps them again. The VMAF
//! workers hand every frame they are done with back through [`crate::decode::frame_source::FrameSource::recycle`].

use crate::frame::{Frame, FrameFormat};

/// At most this many spare frames are kept; more are dropped (freed).
const MAX_SPARE: usize = 16;

/// Spare frames of one format.
#[derive(Debug)]
pub struct FramePool {
    format: FrameFormat,
    spare: Vec<Frame>,
}

impl FramePool {
    pub fn new(format: FrameFormat) -> Self {
        Self { format, spare: Vec::new() }
    }

    /// Keeps `frame` for reuse if it has this pool's format and the pool is not full.
    pub fn give_back(&mut self, frame: Frame) {
        let fits = (frame.width(), frame.height(), frame.bit_depth())
            == (self.format.width, self.format.height, self.format.bit_depth);
        if fits && self.spare.len() < MAX_SPARE {
            self.spare.push(frame);
        }
    }

    /// A spare frame (its samples are whatever it held), or a new blank one.
    pub fn take(&mut self) -> Frame {
        self.spare.pop().unwrap_or_else(|| self.format.blank_frame())
    }

    /// How many spare frames are held.
    pub fn spare_count(&self) -> usize {
        self.spare.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_frames_of_its_format_only() {
        let format = FrameFormat { width: 6, height: 4, bit_depth: 8 };
        let mut pool = FramePool::new(format);
        let frame = pool.take();
        assert_eq!((frame.width(), frame.height(), frame.bit_depth()), (6, 4, 8));
        pool.give_back(frame);
        assert_eq!(pool.spare_count(), 1);
        pool.give_back(FrameFormat { width: 6, height: 4, bit_depth: 10 }.blank_frame());
        pool.give_back(FrameFormat { width: 8, height: 4, bit_depth: 8 }.blank_frame());
        assert_eq!(pool.spare_count(), 1);
        let _ = pool.take();
        assert_eq!(pool.spare_count(), 0);
    }

    #[test]
    fn keeps_at_most_max_spare() {
        let format = FrameFormat { width: 2, height: 2, bit_depth: 8 };
        let mut pool = FramePool::new(format);
        for _ in 0..MAX_SPARE + 5 {
            pool.give_back(format.blank_frame());
        }
        assert_eq!(pool.spare_count(), MAX_SPARE);
    }
}
