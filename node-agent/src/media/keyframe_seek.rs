//! Opening a file at a keyframe without losing or gaining a frame: every decode that starts
//! part-way through a file (a chunk's encode and its score reference, a segment's inspection,
//! the join check's look at a chunk's first frame, the poster) opens its input the same way.
//!
//! The input is opened half-way from the keyframe to the frame presented after it, with
//! `-noaccurate_seek`. ffmpeg seeks to the keyframe at or before that time: this keyframe, never
//! an earlier one through rounding (the time is past it) and never a later one (no frame lies
//! between). Not seeking accurately, it drops nothing by time, so the first frame decoded is the
//! keyframe itself and the frames after it are counted from there (`select` on `n`), never
//! picked by timestamp.

use super::inspect::Chunk;
use super::probe::Rational;

/// Where, and how, a decode opens its input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyframeSeek {
    seconds: f64,
}

impl KeyframeSeek {
    /// Half-way from the keyframe presented at `keyframe_seconds` to the frame presented
    /// `frame_gap_seconds` after it.
    pub fn halfway_past(keyframe_seconds: f64, frame_gap_seconds: f64) -> Self {
        Self { seconds: keyframe_seconds + frame_gap_seconds / 2.0 }
    }

    /// At `seconds`, already half-way past a keyframe (as a segment's start records it).
    pub fn at(seconds: f64) -> Self {
        Self { seconds }
    }

    /// The input options, placed before the input they apply to.
    pub fn input_args(self) -> [String; 3] {
        ["-noaccurate_seek".to_owned(), "-ss".to_owned(), format!("{:.6}", self.seconds)]
    }
}

/// Where a decode of `chunk`'s frames opens the source at the constant `rate`: at the chunk's
/// seek point when it has one and `use_seek` allows it, otherwise at frame 0. Returns the
/// source frame the decode starts at (decoded indices count from it) and the seek.
pub fn chunk_start(chunk: &Chunk, rate: Rational, use_seek: bool) -> (u64, Option<KeyframeSeek>) {
    match (use_seek, chunk.seek) {
        (true, Some(seek)) => (seek.keyframe, Some(KeyframeSeek::halfway_past(seek.seconds, rate.period_seconds()))),
        _ => (0, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_opened_half_way_to_the_next_frame_without_accurate_seeking() {
        assert_eq!(KeyframeSeek::halfway_past(4.0, 0.04).input_args(), ["-noaccurate_seek", "-ss", "4.020000"]);
        assert_eq!(KeyframeSeek::at(1.001).input_args(), ["-noaccurate_seek", "-ss", "1.001000"]);
    }
}
