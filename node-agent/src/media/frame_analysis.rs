//! One decode of a video into small gray frames, and what we compute from them.
//!
//! ffmpeg decodes the video stream of the [`SourcePicture`] (turned upright and deinterlaced as
//! it says; a rendition's picture is the default one), area-scales every frame to
//! [`ANALYSIS_WIDTH`]×[`ANALYSIS_HEIGHT`] 8-bit luma (swscale reads only the luma plane, so
//! this costs little beyond the decode itself), passes it through `showinfo` (timestamp,
//! keyframe flag, byte position per frame — on the small frame, so its checksum is cheap) and
//! writes raw frames to stdout with `-fps_mode passthrough`: one output frame per decoded frame,
//! never a duplicate or a drop. A blocking thread fingerprints each frame and measures what
//! changed from the frame before (cut score, SI/TI: [`shotfarm_kernels`]), fed through a
//! bounded channel; shots are decided over the whole video's changes
//! ([`super::video_pieces`], which also joins a video decoded in pieces, [`DecodeSpan::Presented`]).
//!
//! Inspection, the encode task's chunk check and validation's join check all use this pass, so
//! the source's, a chunk's and a rendition's fingerprints come from the same decode-and-scale
//! path; the chunk check decodes all the renditions of its chunk in one run, each with its own
//! chain and written to a raw frame file of its own ([`decode_frame_files`]), and
//! the join check decodes only each chunk's first frame, from its keyframe, many chunks
//! in one run ([`decode_keyframe_fingerprints`]: an input per seek, each input's first frame
//! scaled the same way, the same pixels as a run of its own).
//!
//! An HDR source is also fingerprinted tone-mapped to SDR (the tone map of its H.264 rungs,
//! [`super::source_colour`], applied after an area scale to [`TONE_MAP_WIDTH`]×[`TONE_MAP_HEIGHT`]
//! to bound its cost): each raw frame out of ffmpeg is then the analysis frame with its
//! tone-mapped twin stacked below it (`vstack`), so one pipe still carries one frame per
//! decoded frame; validation compares a tone-mapped rung with the twins.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::cpu_account::charged;
use shotfarm_kernels::decode::input_pins::pinned_input;
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_proto::pipeline::SegmentStart;
use shotfarm_kernels::scene::{CutScorer, ShotDetectionParams, spatial_information, temporal_information};
use tokio_util::sync::CancellationToken;

use super::keyframe_seek::KeyframeSeek;
use super::source_picture::SourcePicture;
use super::video_pieces::{DecodedPiece, PieceEdges, join_pieces};
use super::process::{DiscardStdout, StdoutSink, Tool, ToolCommand, ToolError, ToolRun, run_tool};

/// Width of the analysis frames: enough for 16×9 fingerprint blocks of 8×8 pixels and for
/// scene features; small enough that scaling and analysis cost next to nothing.
pub const ANALYSIS_WIDTH: usize = 128;
/// Height of the analysis frames.
pub const ANALYSIS_HEIGHT: usize = 72;
const FRAME_BYTES: usize = ANALYSIS_WIDTH * ANALYSIS_HEIGHT;

/// The filter that makes an analysis frame of a decoded one: every pass that compares
/// fingerprints scales with exactly this, so the same picture gives the same pixels.
fn analysis_scale() -> String {
    format!("scale={ANALYSIS_WIDTH}:{ANALYSIS_HEIGHT}:flags=area")
}

/// The fingerprint of the analysis frame `frame` (luma, at least [`FRAME_BYTES`]), the
/// `index`-th its decode delivered.
fn analysis_fingerprint(frame: &[u8], index: u64) -> Result<Fingerprint, DecodePassError> {
    Fingerprint::of_luma(&frame[..FRAME_BYTES.min(frame.len())], ANALYSIS_WIDTH, ANALYSIS_HEIGHT).map_err(|error| DecodePassError::Fingerprint { frame: index, message: error.to_string() })
}
/// The size an HDR source's frames are area-scaled to before the tone map of its SDR twin.
pub const TONE_MAP_WIDTH: usize = 512;
pub const TONE_MAP_HEIGHT: usize = 288;
/// Frames buffered between the reader and the analysis thread.
const ANALYSIS_QUEUE_FRAMES: usize = 128;

/// What one decoded frame left behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedFrame {
    /// Presentation time in seconds from the start of the file, as ffmpeg's filter saw it;
    /// `None` when the frame had no timestamp.
    #[serde(rename = "t", skip_serializing_if = "Option::is_none", default)]
    pub pts_seconds: Option<f64>,
    /// The decoder flagged it as a keyframe (a point where decoding can start).
    #[serde(rename = "k", default)]
    pub keyframe: bool,
    /// Byte offset of the packet in the file, when the demuxer knows it.
    #[serde(rename = "pos", skip_serializing_if = "Option::is_none", default)]
    pub byte_position: Option<u64>,
    #[serde(rename = "fp")]
    pub fingerprint: Fingerprint,
    /// The fingerprint of the frame tone-mapped to SDR (HDR sources only).
    #[serde(rename = "fs", skip_serializing_if = "Option::is_none", default)]
    pub sdr_fingerprint: Option<Fingerprint>,
}

/// What a frame changed from the one before it, before any shot is decided: its cut score and
/// temporal information (`None` for the first frame a decode delivered) and its spatial
/// information. Shots are decided over the whole video's changes ([`super::video_pieces`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameChange {
    pub cut_score: Option<f32>,
    pub spatial_information: f32,
    pub temporal_information: Option<f32>,
}

/// Per-frame scene features (not written to artifacts).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SceneFeatures {
    pub cut_score: f32,
    pub starts_shot: bool,
    pub spatial_information: f32,
    /// 0 for the first frame of a shot.
    pub temporal_information: f32,
}

/// A decoder complaint seen on stderr, with the number of frames already out at that moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeComplaint {
    pub near_frame: u64,
    pub message: String,
}

/// Everything a decode of the whole video produced (in one pass, or in pieces joined).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedVideo {
    pub frames: Vec<AnalyzedFrame>,
    pub scene: Vec<SceneFeatures>,
    /// Decoder errors and concealment messages, at most [`MAX_COMPLAINTS_KEPT`] kept…
    pub complaints: Vec<DecodeComplaint>,
    /// …and how many there were in all.
    pub complaint_count: u64,
}

pub const MAX_COMPLAINTS_KEPT: usize = 20;

/// What the analysis thread computes.
#[derive(Debug, Clone, Copy)]
pub enum AnalysisDepth {
    /// Fingerprints only (validation).
    Fingerprints,
    /// Fingerprints, shot detection and SI/TI (inspection).
    Full(ShotDetectionParams),
}

/// Why the decode pass failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodePassError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("frame {frame} could not be fingerprinted: {message}")]
    Fingerprint { frame: u64, message: String },
    #[error("the analysis thread stopped unexpectedly: {0}")]
    AnalysisThread(String),
    #[error("the decoded frames cannot be read back: {0}")]
    FrameFile(String),
}

struct FrameQueueSink {
    /// Bytes of one raw frame out of ffmpeg (two analysis frames with an SDR twin).
    frame_bytes: usize,
    pending: Vec<u8>,
    sender: Option<mpsc::SyncSender<Vec<u8>>>,
}

impl StdoutSink for FrameQueueSink {
    fn consume(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let wanted = self.frame_bytes - self.pending.len();
            let taken = wanted.min(bytes.len());
            self.pending.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if self.pending.len() == self.frame_bytes {
                let frame = std::mem::replace(&mut self.pending, Vec::with_capacity(self.frame_bytes));
                if let Some(sender) = &self.sender {
                    // Blocks only while the analysis thread is a full queue behind; it analyses
                    // a frame in tens of microseconds, far faster than ffmpeg decodes one.
                    if sender.send(frame).is_err() {
                        self.sender = None;
                    }
                }
            }
        }
    }
}

/// One line of `showinfo` output, the fields we use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShowinfoFrame {
    pub index: u64,
    pub pts_seconds: Option<f64>,
    pub keyframe: bool,
    pub byte_position: Option<u64>,
}

/// Parses a `showinfo` frame line (`... n:  12 pts: 6144 pts_time:0.48 pos: 37471 ... iskey:1 ...`).
pub fn parse_showinfo_line(line: &str) -> Option<ShowinfoFrame> {
    if !line.contains("Parsed_showinfo") {
        return None;
    }
    let after_marker = line.split_once("] ")?.1.trim_start();
    let rest = after_marker.strip_prefix("n:")?;
    let field = |name: &str| -> Option<&str> {
        let start = rest.find(name)? + name.len();
        rest[start..].split_whitespace().next()
    };
    let index = rest.split_whitespace().next()?.parse().ok()?;
    let pts_seconds = field(" pts_time:").and_then(|value| value.parse::<f64>().ok()).filter(|value| value.is_finite());
    let byte_position = field(" pos:").and_then(|value| value.parse::<i64>().ok()).and_then(|value| u64::try_from(value).ok());
    let keyframe = field(" iskey:") == Some("1");
    Some(ShowinfoFrame { index, pts_seconds, keyframe, byte_position })
}

fn is_decoder_complaint(line: &str) -> bool {
    const MARKERS: &[&str] = &[
        "error while decoding",
        "concealing",
        "Invalid NAL",
        "corrupt",
        "Corrupt",
        "partial file",
        "File ended prematurely",
        "missing picture",
        "decode_slice_header error",
        "Error splitting the input into NAL units",
        "Invalid data found when processing input",
        "Error while decoding stream",
    ];
    MARKERS.iter().any(|marker| line.contains(marker))
}

/// Decodes `picture` of `path` once and analyses every frame; see the module docs.
pub async fn decode_and_analyse(path: &Path, picture: &SourcePicture, depth: AnalysisDepth, cancel: &CancellationToken) -> Result<DecodedVideo, DecodePassError> {
    let whole = decode_piece(path, picture, DecodeSpan::Whole, depth, cancel).await?;
    Ok(join_pieces(vec![whole], depth))
}

/// Decodes the frames of `span` and analyses each; the piece's first frame has no change
/// measured (nothing before it was decoded).
pub async fn decode_piece(path: &Path, picture: &SourcePicture, span: DecodeSpan, depth: AnalysisDepth, cancel: &CancellationToken) -> Result<DecodedPiece, DecodePassError> {
    let pass = decode_pass(path, picture, span, move |receiver| analyse_frames(receiver, depth), cancel).await?;
    let analysed = pass.analysed;
    let frame_lines = pass.frame_lines;
    let frames = analysed
        .fingerprints
        .into_iter()
        .enumerate()
        .map(|(index, (fingerprint, sdr_fingerprint))| {
            let info = frame_lines.get(index);
            AnalyzedFrame {
                pts_seconds: info.and_then(|info| info.pts_seconds),
                keyframe: info.is_some_and(|info| info.keyframe),
                byte_position: info.and_then(|info| info.byte_position),
                fingerprint,
                sdr_fingerprint,
            }
        })
        .collect();
    Ok(DecodedPiece { frames, changes: analysed.changes, edges: analysed.edges, complaints: pass.complaints, complaint_count: pass.complaint_count })
}

/// What a streamed decode ([`decode_fingerprints`]) leaves besides the fingerprints it sent:
/// each frame's time (a few bytes a frame), the decoder's complaints, the run.
#[derive(Debug)]
pub struct StreamedDecode {
    pub times: Vec<Option<f64>>,
    pub complaints: Vec<DecodeComplaint>,
    pub complaint_count: u64,
    pub run: ToolRun,
}

/// Decodes `path` (no turning or deinterlacing: an encoded rendition) and sends each frame's
/// fingerprint to `prints` as it is made, holding none: validation compares them while the
/// decode runs. A closed `prints` ends the analysis.
pub async fn decode_fingerprints(path: &Path, prints: mpsc::SyncSender<Fingerprint>, cancel: &CancellationToken) -> Result<StreamedDecode, DecodePassError> {
    let send = move |receiver: mpsc::Receiver<Vec<u8>>| -> Result<(), DecodePassError> {
        for (index, frame) in receiver.into_iter().enumerate() {
            let print = analysis_fingerprint(&frame, index as u64)?;
            if prints.send(print).is_err() {
                break;
            }
        }
        Ok(())
    };
    let pass = decode_pass(path, &SourcePicture::default(), DecodeSpan::Whole, send, cancel).await?;
    Ok(StreamedDecode {
        times: pass.frame_lines.iter().map(|frame| frame.pts_seconds).collect(),
        complaints: pass.complaints,
        complaint_count: pass.complaint_count,
        run: pass.run,
    })
}

/// One encoded rendition for [`decode_frame_files`]: where it is, the raw frame file to write
/// and the most frames to write (a bound on the disk a runaway file can take).
#[derive(Debug, Clone)]
pub struct FrameFileDecode {
    pub encoded: PathBuf,
    pub frame_file: PathBuf,
    pub most_frames: u64,
}

/// Decodes every encoded rendition of `files` in one ffmpeg run, each exactly as
/// [`decode_fingerprints`] decodes it (its own `-map` and `-vf` chain: the same scale, the same
/// pixels), to its raw analysis frames in its frame file, for [`send_frame_file_fingerprints`]:
/// the renditions of one chunk checked together pay one process start (about 0.07 to 0.13
/// CPU-s with Debian's ffmpeg) instead of one each. Each input decodes on
/// [`DECODER_THREADS_PER_FILE`] threads.
pub async fn decode_frame_files(files: &[FrameFileDecode], cancel: &CancellationToken) -> Result<ToolRun, ToolError> {
    let mut command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-nostats", "-nostdin", "-y"]);
    for file in files {
        command = command.args(["-threads", DECODER_THREADS_PER_FILE]).args(pinned_input(&file.encoded));
    }
    for (index, file) in files.iter().enumerate() {
        command = command
            .args(["-map".to_owned(), format!("{index}:v:0"), "-vf".to_owned(), analysis_scale()])
            .args(["-frames:v".to_owned(), file.most_frames.to_string()])
            .args(["-pix_fmt", "gray", "-fps_mode", "passthrough", "-f", "rawvideo"])
            .args([format!("file:{}", file.frame_file.display())]);
    }
    run_tool(&command, cancel, &mut DiscardStdout, &mut |_| {}).await
}

/// Decoder threads per input of [`decode_frame_files`]: the five renditions of a 1080p ladder's
/// chunk, 72 frames, took 1.37 CPU-s in one run on two threads each (0.88 s wall on 2 cores),
/// as on ffmpeg's automatic count, against 1.47 to 1.73 CPU-s in five runs; a fixed count keeps
/// a many-core node from starting a decoder thread per core for every input.
const DECODER_THREADS_PER_FILE: &str = "2";

/// Sends the fingerprint of every frame of a raw frame file of [`decode_frame_files`] to
/// `prints`, in order, stopping early when `prints` is closed. A file ffmpeg never wrote (an
/// output that got no frame) holds no frames.
pub fn send_frame_file_fingerprints(frame_file: &Path, prints: &mpsc::SyncSender<Fingerprint>) -> Result<(), DecodePassError> {
    let file = match std::fs::File::open(frame_file) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(DecodePassError::FrameFile(format!("opening {}: {error}", frame_file.display()))),
    };
    let mut file = std::io::BufReader::new(file);
    let mut frame = vec![0u8; FRAME_BYTES];
    for index in 0u64.. {
        match read_whole_frame(&mut file, &mut frame) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => return Err(DecodePassError::FrameFile(format!("reading frame {index} of {}: {error}", frame_file.display()))),
        }
        let print = analysis_fingerprint(&frame, index)?;
        if prints.send(print).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads one frame into `frame`: `false` at the end of the file, an error when it ends inside a
/// frame.
fn read_whole_frame(file: &mut impl std::io::Read, frame: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < frame.len() {
        match file.read(&mut frame[filled..])? {
            0 if filled == 0 => return Ok(false),
            0 => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("it ends {filled} bytes into a frame of {}", frame.len()))),
            read => filled += read,
        }
    }
    Ok(true)
}

/// Decodes the frame at the keyframe `seek` opens `path` at (an encoded rendition, like
/// [`decode_fingerprints`]) and returns its fingerprint (none when nothing was decoded): the
/// join check's look at a chunk's first frame without decoding the rest of the file. The frame
/// is scaled exactly as in a whole decode.
pub async fn decode_keyframe_fingerprint(path: &Path, seek: KeyframeSeek, cancel: &CancellationToken) -> Result<Option<Fingerprint>, DecodePassError> {
    let span = DecodeSpan::KeyframeAt(seek);
    let pass = decode_pass(path, &SourcePicture::default(), span, |receiver| analyse_frames(receiver, AnalysisDepth::Fingerprints), cancel).await?;
    Ok(pass.analysed.fingerprints.into_iter().next().map(|(print, _)| print))
}

/// How many seeks one ffmpeg run of [`decode_keyframe_fingerprints`] opens the file at (one
/// input each).
const KEYFRAMES_PER_RUN: usize = 32;

/// The fingerprints of the frames at the keyframes `seeks` open `path` at (an encoded
/// rendition), in order, as [`decode_keyframe_fingerprint`] gives each: up to
/// [`KEYFRAMES_PER_RUN`] in one ffmpeg run, the file opened once per seek (one decoder thread
/// each: every input decodes before the graph starts) and each input's first frame scaled
/// exactly as in a whole decode, where a run per seek paid a process start each (about
/// 0.13 CPU-s with Debian's ffmpeg, which loads 215 libraries). When a run fails, or gives
/// fewer frames than seeks, its seeks are decoded again one at a time, to say which chunk is at
/// fault.
pub async fn decode_keyframe_fingerprints(path: &Path, seeks: &[KeyframeSeek], cancel: &CancellationToken) -> Result<Vec<Option<Fingerprint>>, DecodePassError> {
    let mut prints = Vec::with_capacity(seeks.len());
    for batch in seeks.chunks(KEYFRAMES_PER_RUN) {
        let mut command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-nostats", "-nostdin"]);
        for seek in batch {
            command = command.args(["-threads", "1"]).args(seek.input_args()).args(pinned_input(path));
        }
        // `setsar`: concat refuses inputs of different pixel shapes, which a chunk of another
        // rung joined in has; the check then names it, as a run of its own would.
        let firsts: String =
            (0..batch.len()).map(|input| format!("[{input}:v:0]trim=end_frame=1,{},setsar=1[first{input}];", analysis_scale())).collect();
        let joined: String = (0..batch.len()).map(|input| format!("[first{input}]")).collect();
        let graph = format!("{firsts}{joined}concat=n={}:v=1:a=0[frames]", batch.len());
        command = command.args(["-filter_complex", &graph, "-map", "[frames]", "-pix_fmt", "gray", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]);
        match run_decode(&command, FRAME_BYTES, |receiver| analyse_frames(receiver, AnalysisDepth::Fingerprints), cancel).await {
            Ok(pass) if pass.analysed.fingerprints.len() == batch.len() => {
                prints.extend(pass.analysed.fingerprints.into_iter().map(|(print, _)| Some(print)));
                continue;
            }
            Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(DecodePassError::Tool(error)),
            _ => {}
        }
        for seek in batch {
            prints.push(decode_keyframe_fingerprint(path, *seek, cancel).await?);
        }
    }
    Ok(prints)
}

/// Which frames a decode pass delivers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodeSpan {
    /// Every frame of the file.
    Whole,
    /// The one frame at the keyframe the seek opens the file at.
    KeyframeAt(KeyframeSeek),
    /// The frames presented from `start` (the first frame when `None`) up to `end_pts`
    /// (exclusive; `None`: the end), in the stream's time base, of a file whose timestamps
    /// start at 0: timestamps are kept as they are (`-copyts`, which for such a file prints
    /// them as a whole decode does) and a `trim` keeps exactly the span, ending the decode at
    /// its end. Decoded on one thread.
    Presented { start: Option<SegmentStart>, end_pts: Option<i64> },
}

/// One decode pass: ffmpeg's frames to the `analyse` thread, its showinfo lines and decoder
/// complaints read from stderr.
struct DecodePass<T> {
    analysed: T,
    frame_lines: Vec<ShowinfoFrame>,
    complaints: Vec<DecodeComplaint>,
    complaint_count: u64,
    run: ToolRun,
}

async fn decode_pass<T: Send + 'static>(
    path: &Path,
    picture: &SourcePicture,
    span: DecodeSpan,
    analyse: impl FnOnce(mpsc::Receiver<Vec<u8>>) -> Result<T, DecodePassError> + Send + 'static,
    cancel: &CancellationToken,
) -> Result<DecodePass<T>, DecodePassError> {
    let with_sdr_twin = picture.colour.is_hdr();
    let analysis = format!("{},showinfo", analysis_scale());
    let trim = match span {
        DecodeSpan::Presented { start, end_pts } => {
            let bounds: Vec<String> = start.map(|start| format!("start_pts={}", start.pts)).into_iter().chain(end_pts.map(|end| format!("end_pts={end}"))).collect();
            if bounds.is_empty() { String::new() } else { format!("trim={},", bounds.join(":")) }
        }
        DecodeSpan::Whole | DecodeSpan::KeyframeAt(_) => String::new(),
    };
    let picture_args = if with_sdr_twin {
        let graph = format!(
            "[{stream}]{trim}{head}split=2[hdr][sdr];[hdr]{analysis},format=gray[analysis];[sdr]scale={TONE_MAP_WIDTH}:{TONE_MAP_HEIGHT}:flags=area,{tone_map},{analysis_scale},format=gray[twin];[analysis][twin]vstack=inputs=2[frames]",
            stream = picture.stream_spec(),
            head = picture.chain_head(),
            tone_map = picture.colour.tone_map_filters(),
            analysis_scale = analysis_scale(),
        );
        vec!["-filter_complex".to_owned(), graph, "-map".to_owned(), "[frames]".to_owned()]
    } else {
        vec!["-map".to_owned(), picture.stream_spec(), "-vf".to_owned(), format!("{trim}{}{analysis}", picture.chain_head())]
    };
    let (seek_args, limit_args) = match span {
        DecodeSpan::Whole => (Vec::new(), Vec::new()),
        DecodeSpan::KeyframeAt(seek) => (seek.input_args().to_vec(), vec!["-frames:v".to_owned(), "1".to_owned()]),
        DecodeSpan::Presented { start, .. } => {
            // One decoder thread: a segment is one of many decoded side by side, each given a
            // core (two segments of a 1080p H.264 source: 3.69 CPU-s on one thread each
            // against 3.92 with ffmpeg's threads fighting over two cores).
            let seek = start.map(|start| KeyframeSeek::at(start.seek_seconds).input_args());
            (["-copyts", "-threads", "1"].map(str::to_owned).into_iter().chain(seek.into_iter().flatten()).collect(), Vec::new())
        }
    };
    let command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-nostats", "-nostdin"]).args(seek_args).args(pinned_input(path)).args(picture_args).args(limit_args).args([
        "-pix_fmt".to_owned(),
        "gray".to_owned(),
        "-fps_mode".to_owned(),
        "passthrough".to_owned(),
        "-f".to_owned(),
        "rawvideo".to_owned(),
        "pipe:1".to_owned(),
    ]);
    run_decode(&command, if with_sdr_twin { 2 * FRAME_BYTES } else { FRAME_BYTES }, analyse, cancel).await
}

/// Runs a decode `command` that writes raw frames of `frame_bytes` to stdout: its frames to the
/// `analyse` thread, its showinfo lines and decoder complaints read from stderr.
async fn run_decode<T: Send + 'static>(
    command: &ToolCommand,
    frame_bytes: usize,
    analyse: impl FnOnce(mpsc::Receiver<Vec<u8>>) -> Result<T, DecodePassError> + Send + 'static,
    cancel: &CancellationToken,
) -> Result<DecodePass<T>, DecodePassError> {
    let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(ANALYSIS_QUEUE_FRAMES);
    let analysis = tokio::task::spawn_blocking(charged(move || analyse(receiver)));
    let mut sink = FrameQueueSink { frame_bytes, pending: Vec::with_capacity(frame_bytes), sender: Some(sender) };
    let mut frame_lines: Vec<ShowinfoFrame> = Vec::new();
    let mut complaints = Vec::new();
    let mut complaint_count = 0u64;
    let mut on_stderr = |line: &str| {
        if let Some(frame) = parse_showinfo_line(line) {
            frame_lines.push(frame);
        } else if is_decoder_complaint(line) {
            complaint_count += 1;
            if complaints.len() < MAX_COMPLAINTS_KEPT {
                complaints.push(DecodeComplaint { near_frame: frame_lines.len() as u64, message: line.trim().to_owned() });
            }
        }
    };
    let outcome = run_tool(command, cancel, &mut sink, &mut on_stderr).await;
    // Close the queue so the analysis thread finishes, whatever happened to ffmpeg.
    drop(sink);
    let analysed = analysis.await.map_err(|error| DecodePassError::AnalysisThread(error.to_string()))?;
    let run = outcome?;
    Ok(DecodePass { analysed: analysed?, frame_lines, complaints, complaint_count, run })
}

/// What the analysis thread made of a decode's frames.
struct Analysed {
    /// Per frame: its fingerprint and its SDR twin's (when there is one).
    fingerprints: Vec<(Fingerprint, Option<Fingerprint>)>,
    /// Per frame, with [`AnalysisDepth::Full`]: what changed from the frame before.
    changes: Vec<FrameChange>,
    edges: Option<PieceEdges>,
}

fn analyse_frames(receiver: mpsc::Receiver<Vec<u8>>, depth: AnalysisDepth) -> Result<Analysed, DecodePassError> {
    let full = matches!(depth, AnalysisDepth::Full(_));
    let mut fingerprints = Vec::new();
    let mut changes = Vec::new();
    let mut scorer = CutScorer::default();
    let mut first: Option<Vec<u8>> = None;
    let mut previous: Option<Vec<u8>> = None;
    for mut frame in receiver {
        let index = fingerprints.len() as u64;
        let print = |luma: &[u8]| analysis_fingerprint(luma, index);
        // A frame with an SDR twin stacked below it: the twin is the second half.
        let twin = if frame.len() > FRAME_BYTES { Some(print(&frame.split_off(FRAME_BYTES))?) } else { None };
        fingerprints.push((print(&frame)?, twin));
        if full {
            changes.push(FrameChange {
                cut_score: scorer.push(&frame),
                spatial_information: spatial_information(&frame, ANALYSIS_WIDTH, ANALYSIS_HEIGHT),
                temporal_information: previous.as_deref().map(|previous| temporal_information(previous, &frame)),
            });
            if first.is_none() {
                first = Some(frame.clone());
            }
            previous = Some(frame);
        }
    }
    let edges = first.zip(previous).map(|(first, last)| PieceEdges { first, last });
    Ok(Analysed { fingerprints, changes, edges })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn showinfo_lines_are_parsed() {
        let line = "[Parsed_showinfo_1 @ 0x5626bf5263c0] n:  19 pts:   9728 pts_time:0.76    pos:    37471 fmt:gray sar:1/1 s:128x72 i:P iskey:0 type:P checksum:FD9E028F";
        assert_eq!(
            parse_showinfo_line(line),
            Some(ShowinfoFrame { index: 19, pts_seconds: Some(0.76), keyframe: false, byte_position: Some(37471) })
        );
        let no_pts = "[Parsed_showinfo_1 @ 0x1] n:   0 pts:NOPTS pts_time:NOPTS pos:     -1 fmt:gray iskey:1 type:I";
        assert_eq!(parse_showinfo_line(no_pts), Some(ShowinfoFrame { index: 0, pts_seconds: None, keyframe: true, byte_position: None }));
        assert_eq!(parse_showinfo_line("[Parsed_showinfo_1 @ 0x1] config in time_base: 1/12800"), None);
        assert_eq!(parse_showinfo_line("frame=  12"), None);
    }
}
