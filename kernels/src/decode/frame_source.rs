//! A stream of frames, one at a time, from a y4m file or an ffmpeg process.

use crate::decode::decode_error::DecodeError;
use crate::frame::{Frame, FrameFormat};

/// Anything that yields frames of one fixed [`FrameFormat`] in order.
pub trait FrameSource: Send {
    /// Geometry and bit depth of every frame this source yields.
    fn format(&self) -> FrameFormat;

    /// The next frame, `Ok(None)` at the end of the stream.
    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError>;

    /// A name for error messages (usually the path).
    fn name(&self) -> String;

    /// Takes back a frame this source yielded once its consumer is done with it, so a
    /// later frame can be decoded into its memory. The default drops it.
    fn recycle(&mut self, frame: Frame) {
        drop(frame);
    }
}

/// Frames already in memory (tests, benchmarks).
#[derive(Debug)]
pub struct MemorySource {
    format: FrameFormat,
    frames: std::collections::VecDeque<Frame>,
    name: String,
}

impl MemorySource {
    /// `None` if a frame's geometry differs from `format`.
    pub fn new(format: FrameFormat, frames: Vec<Frame>, name: impl Into<String>) -> Option<Self> {
        let consistent = frames.iter().all(|f| {
            f.width() == format.width && f.height() == format.height && f.bit_depth() == format.bit_depth
        });
        consistent.then(|| Self { format, frames: frames.into(), name: name.into() })
    }
}

impl FrameSource for MemorySource {
    fn format(&self) -> FrameFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        Ok(self.frames.pop_front())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
