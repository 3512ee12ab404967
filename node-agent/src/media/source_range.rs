//! Decoding exactly the source frames `[start, end)` of a chunk as raw 4:2:0 frames (the
//! reference of the score task), with the encoder's seek trick and the source's picture
//! ([`SourcePicture`]: stream, deinterlacing, rotation) like every decode of the source.
//!
//! Like the cpu encode backend ([`crate::media::encode::cpu`]): with a seek point the input is
//! opened at the chunk's keyframe ([`super::keyframe_seek`]), frames are
//! selected by decoded index (`select` on `n`, counted from the keyframe), never by timestamp,
//! and a side output holds the 128×72 gray pictures of the first and last selected frames. After
//! the run, [`check_boundaries`] compares their fingerprints with the ones inspection recorded;
//! a mismatch means the seek landed elsewhere, and the caller decodes again from frame 0.
//!
//! This runs on a blocking thread (a [`RawFramePipe`] is a synchronous frame source); dropping it
//! kills its ffmpeg.

use std::path::{Path, PathBuf};

use shotfarm_kernels::decode::decode_error::DecodeError;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::decode::input_pins::pinned_input;
use shotfarm_kernels::decode::pixel_format::raw_pixel_format;
use shotfarm_kernels::decode::raw_frame_pipe::RawFramePipe;
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_kernels::frame::FrameFormat;

use super::frame_analysis::{ANALYSIS_HEIGHT, ANALYSIS_WIDTH};
use super::inspect::Chunk;
use super::keyframe_seek::{KeyframeSeek, chunk_start};
use super::probe::Rational;
use super::source_picture::SourcePicture;

/// Largest fingerprint distance at which a decoded boundary frame counts as the recorded one
/// (the encoder's threshold: same decoder, same scaler, normally identical).
/// Inspection and the encoder decode the same source with the same filters, so an aligned frame
/// matches almost exactly; a loose bound would let periodic content (an oscillating pattern)
/// pass a frame a few positions off.
const BOUNDARY_MATCH_DISTANCE: f32 = 0.25;

/// Which source frames to decode, and how.
#[derive(Debug, Clone)]
pub struct SourceRange {
    pub source: PathBuf,
    pub chunk: Chunk,
    pub frame_rate: Rational,
    /// The source's stream, rotation and deinterlacing, as inspection decoded it.
    pub picture: SourcePicture,
    /// Tone-map the frames to SDR BT.709 (8-bit), as the scored rung was.
    pub tone_map: bool,
    /// Start at the chunk's seek point (when it has one) instead of frame 0.
    pub use_seek: bool,
    /// Where the boundary frames go (removed by [`check_boundaries`]).
    pub boundary_file: PathBuf,
}

impl SourceRange {
    pub fn seeks(&self) -> bool {
        self.use_seek && self.chunk.seek.is_some()
    }

    fn frames(&self) -> u64 {
        self.chunk.frames.len()
    }

    fn boundary_frames(&self) -> usize {
        if self.frames() == 1 { 1 } else { 2 }
    }

    /// The ffmpeg arguments (decoded to `pixel_format` at the source's displayed size).
    pub fn ffmpeg_args(&self, pixel_format: &str) -> Vec<String> {
        let chunk = &self.chunk;
        let rate = self.frame_rate;
        let (offset, seek) = chunk_start(chunk, rate, self.use_seek);
        let first = chunk.frames.start - offset;
        let last = chunk.frames.end - 1 - offset;
        let graph = format!(
            "[{stream}]{head}select='between(n,{first},{last})',settb={den}/{num},setpts=N,split=2[selected][boundary];[selected]{reference}[reference];[boundary]select='eq(n,0)+eq(n,{final_index})',scale={ANALYSIS_WIDTH}:{ANALYSIS_HEIGHT}:flags=area,format=gray[fingerprints]",
            stream = self.picture.stream_spec(),
            head = self.picture.chain_head(),
            reference = if self.tone_map { self.picture.colour.tone_map_filters() } else { "null".to_owned() },
            den = rate.den,
            num = rate.num,
            final_index = self.frames() - 1,
        );
        let mut args: Vec<String> = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"].map(String::from).to_vec();
        args.extend(seek.into_iter().flat_map(KeyframeSeek::input_args));
        args.extend(pinned_input(&self.source));
        args.extend(["-filter_complex".to_owned(), graph]);
        args.extend(["-map", "[reference]", "-fps_mode", "passthrough", "-frames:v"].map(String::from));
        args.push(self.frames().to_string());
        args.extend(["-pix_fmt".to_owned(), pixel_format.to_owned(), "-f".to_owned(), "rawvideo".to_owned(), "pipe:1".to_owned()]);
        args.extend(["-map", "[fingerprints]", "-fps_mode", "passthrough", "-frames:v"].map(String::from));
        args.push(self.boundary_frames().to_string());
        args.extend(["-pix_fmt", "gray", "-f", "rawvideo"].map(String::from));
        args.push(self.boundary_file.display().to_string());
        args
    }

    /// Starts ffmpeg; frames come out in `format` (the source's displayed size; its bit depth, or
    /// 8 when tone-mapped).
    pub fn open(&self, programs: &FfmpegPrograms, format: FrameFormat) -> Result<RawFramePipe, DecodeError> {
        let args = self.ffmpeg_args(raw_pixel_format(format.bit_depth));
        RawFramePipe::spawn(&programs.ffmpeg, &args, format, &self.source, format!("{} (source frames)", self.source.display()))
    }
}

/// Checks that the decoded range started and ended on the recorded frames; removes the file.
/// `Err` says what differed.
pub fn check_boundaries(range: &SourceRange) -> Result<(), String> {
    let outcome = compare_boundaries(range, &range.boundary_file);
    let _ = std::fs::remove_file(&range.boundary_file);
    outcome
}

fn compare_boundaries(range: &SourceRange, path: &Path) -> Result<(), String> {
    let chunk = &range.chunk;
    let bytes = std::fs::read(path).map_err(|error| format!("reading the boundary frames {}: {error}", path.display()))?;
    let frame_bytes = ANALYSIS_WIDTH * ANALYSIS_HEIGHT;
    let expected_frames = range.boundary_frames();
    if bytes.len() != frame_bytes * expected_frames {
        return Err(format!(
            "the decoder delivered {} boundary frame(s) for source frames {}..{}; expected {expected_frames}",
            bytes.len() / frame_bytes,
            chunk.frames.start,
            chunk.frames.end
        ));
    }
    let checks = [(0, chunk.frames.start, &chunk.first_fingerprint), (expected_frames - 1, chunk.frames.end - 1, &chunk.last_fingerprint)];
    for (slot, source_frame, expected) in checks {
        let actual = Fingerprint::of_luma(&bytes[slot * frame_bytes..(slot + 1) * frame_bytes], ANALYSIS_WIDTH, ANALYSIS_HEIGHT).map_err(|error| error.to_string())?;
        let distance = actual.distance(expected);
        if distance > BOUNDARY_MATCH_DISTANCE {
            return Err(format!("the frame decoded as source frame {source_frame} differs from it (fingerprint distance {distance:.2})"));
        }
    }
    Ok(())
}
