//! The `cpu` backend: one ffmpeg process per call, decoding the chunk once and encoding every
//! requested rung from it with libx264 (libx265, libsvtav1 where ffmpeg has them).
//!
//! Picture: the source's [`SourcePicture`](crate::media::source_picture::SourcePicture) (stream; deinterlacing, after ffmpeg's autorotation
//! turned it upright) heads the graph and the landing check alike, before any frame is
//! selected, so both see inspection's frames.
//!
//! Frame exactness: the filter graph selects decoded frames by index (`select` on `n`), never
//! by timestamp, then renumbers them (`setpts=N` in a `1/rate` time base) so every output is
//! constant rate starting at 0 — or, when the chunk keeps the source's frame times (it has a
//! span: [`crate::media::frame_timing`]), times them from the chunk's first frame
//! (`setpts=PTS-STARTPTS`, written in a 90 kHz time base) and encodes without B-frames, so
//! that decode times never go back where chunks join. When the chunk has a seek point, the input is opened at that
//! keyframe ([`crate::media::keyframe_seek`]: ffmpeg drops nothing by time) and indices count
//! from the keyframe. Beside the encode, a second small ffmpeg opens the source the same way
//! and decodes just up to the chunk's first frame: its fingerprint must be the one inspection
//! recorded, otherwise the seek landed elsewhere (open GOPs, odd containers), the encode is
//! stopped and redone decoding from frame 0. (The check is a separate process, not a side
//! output of the encode: one more output in the encoding ffmpeg cost 30 % more CPU in
//! ffmpeg 5.1 — measured with five x264 rungs of a 1080p chunk.) Afterwards every output must
//! hold exactly the chunk's frame count ([`crate::media::mp4_samples`], no process); the
//! encode task then checks every frame of each output against the source
//! ([`crate::media::chunk_check`]) and the validate stage checks how the chunks were joined.
//!
//! Colour: each rung's pixel format, colour tags and HDR metadata (or tone map to SDR for
//! H.264 of an HDR source) come from the source's colour ([`crate::media::source_colour`]).
//!
//! Keyframes: an IDR at the chunk's first frame and every `keyframe_interval_frames` after it,
//! scene-cut keyframes off, closed GOPs — identical in every rung, so segments align.

use std::path::{Path, PathBuf};
use std::time::Instant;

use shotfarm_kernels::decode::input_pins::pinned_input;
use shotfarm_kernels::fingerprint::Fingerprint;
use tokio_util::sync::CancellationToken;

use super::backend::{
    BackendCapabilities, ChunkOutput, DecodeStart, EncodeBackend, EncodeChunkParams, EncodeChunkResult, EncodeError, EncodeFuture, EncodedOutput,
    ProgressCallback, check_request,
};
use crate::media::capabilities::MediaCapabilities;
use crate::media::frame_analysis::{ANALYSIS_HEIGHT, ANALYSIS_WIDTH};
use crate::media::frame_timing::KEPT_TIME_BASE;
use shotfarm_proto::pipeline::Codec;
use crate::media::keyframe_seek::{KeyframeSeek, chunk_start};
use crate::media::mp4_samples;
use crate::media::process::{Tool, ToolCommand, ToolError, ToolProgress, run_collecting_stdout, run_with_progress};

/// Largest fingerprint distance at which the chunk's first frame counts as the recorded one.
/// Both come from the same decoder and the same scaler, so they are normally identical.
/// Inspection and the encoder decode the same source with the same filters, so an aligned frame
/// matches almost exactly; a loose bound would let periodic content (an oscillating pattern)
/// pass a frame a few positions off.
const BOUNDARY_MATCH_DISTANCE: f32 = 0.25;

/// The ffmpeg backend.
#[derive(Debug, Clone)]
pub struct CpuBackend {
    capabilities: BackendCapabilities,
}

impl CpuBackend {
    /// A backend offering the codecs this machine's ffmpeg has encoders for.
    pub fn new(media: &MediaCapabilities) -> Self {
        let mut codecs = Vec::new();
        for (encoder, codec) in [("libx264", Codec::H264), ("libx265", Codec::Hevc), ("libsvtav1", Codec::Av1)] {
            if media.has_encoder(encoder) {
                codecs.push(codec);
            }
        }
        Self { capabilities: BackendCapabilities { codecs, max_outputs_per_call: 8, hardware: false } }
    }
}

impl EncodeBackend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn capabilities(&self) -> &BackendCapabilities {
        &self.capabilities
    }

    fn encode_chunk<'a>(&'a self, params: &'a EncodeChunkParams, progress: ProgressCallback<'a>, cancel: &'a CancellationToken) -> EncodeFuture<'a> {
        Box::pin(async move {
            check_request(self, params)?;
            let started = Instant::now();
            let chunk = params.chunk.index;
            let decode_start = match params.chunk.seek {
                Some(seek) => match encode_seeking(params, progress, cancel).await {
                    Ok(()) => DecodeStart::Seek { keyframe: seek.keyframe },
                    Err(EncodeError::FrameMismatch { message, .. }) => {
                        tracing::warn!(chunk, keyframe = seek.keyframe, %message, "seek landed on the wrong frame; encoding from frame 0");
                        encode_once(params, false, progress, cancel).await?;
                        DecodeStart::FellBackToStart { keyframe: seek.keyframe }
                    }
                    Err(error) => return Err(error),
                },
                None => {
                    encode_once(params, false, progress, cancel).await?;
                    DecodeStart::FromStart
                }
            };
            let mut outputs = Vec::with_capacity(params.outputs.len());
            for output in &params.outputs {
                let partial = partial_path(&output.path);
                let frames = mp4_samples::video_sample_count(&partial).map_err(|error| {
                    remove_partials(params);
                    EncodeError::FrameMismatch { chunk, rung: output.rung.name.clone(), message: format!("cannot count the encoded frames: {error}") }
                })?;
                let expected = params.chunk.frames.len();
                if frames != expected {
                    remove_partials(params);
                    return Err(EncodeError::FrameMismatch {
                        chunk,
                        rung: output.rung.name.clone(),
                        message: format!("encoded {frames} frames; the chunk has {expected} (source frames {}..{})", params.chunk.frames.start, params.chunk.frames.end),
                    });
                }
                let bytes = std::fs::metadata(&partial).map(|metadata| metadata.len()).unwrap_or(0);
                outputs.push(EncodedOutput { rung: output.rung.name.clone(), path: output.path.clone(), frames, bytes });
            }
            for output in &params.outputs {
                std::fs::rename(partial_path(&output.path), &output.path)
                    .map_err(|source| EncodeError::Io { operation: "renaming encoded chunk into", path: output.path.clone(), source })?;
            }
            let result = EncodeChunkResult { backend: self.name().to_owned(), chunk, outputs, decode_start, seconds: started.elapsed().as_secs_f64() };
            tracing::info!(chunk, rungs = result.outputs.len(), seconds = result.seconds, decode_start = ?result.decode_start, "chunk encoded");
            Ok(result)
        })
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

fn remove_partials(params: &EncodeChunkParams) {
    for output in &params.outputs {
        let _ = std::fs::remove_file(partial_path(&output.path));
    }
}

/// Builds the ffmpeg command for one attempt.
pub fn build_command(params: &EncodeChunkParams, use_seek: bool) -> ToolCommand {
    let chunk = &params.chunk;
    let rate = params.frame_rate;
    let length = chunk.frames.len();
    let (offset, seek) = chunk_start(chunk, rate, use_seek);
    let first = chunk.frames.start - offset;
    let last = chunk.frames.end - 1 - offset;
    let outputs = params.outputs.len();
    let picture = &params.picture;
    // Kept frame times: each frame at its source time from the chunk's first; otherwise
    // renumbered at the constant rate.
    let keeps_frame_times = chunk.span_us.is_some();
    let timing = if keeps_frame_times { "setpts=PTS-STARTPTS".to_owned() } else { format!("settb={}/{},setpts=N", rate.den, rate.num) };
    let mut graph = format!(
        "[{stream}]{head}select='between(n,{first},{last})',{timing},split={outputs}",
        stream = picture.stream_spec(),
        head = picture.chain_head(),
    );
    for index in 0..outputs {
        graph.push_str(&format!("[s{index}]"));
    }
    for (index, output) in params.outputs.iter().enumerate() {
        let colour = picture.colour.rung_filters(output.rung.codec);
        graph.push_str(&format!(";[s{index}]scale={}:{}:flags=bicubic,setsar=1,{colour}[v{index}]", output.rung.width, output.rung.height));
    }
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-y", "-progress", "pipe:1", "-stats_period", "0.25"].map(String::from).to_vec();
    args.extend(seek.into_iter().flat_map(KeyframeSeek::input_args));
    args.extend(pinned_input(&params.source));
    args.extend(["-filter_complex".to_owned(), graph]);
    for (index, output) in params.outputs.iter().enumerate() {
        args.extend(["-map".to_owned(), format!("[v{index}]")]);
        args.extend(codec_args(output, params));
        if keeps_frame_times {
            args.extend(["-enc_time_base".to_owned(), format!("1/{KEPT_TIME_BASE}")]);
        }
        args.extend([
            "-r".to_owned(),
            format!("{}/{}", rate.num, rate.den),
            "-fps_mode".to_owned(),
            "passthrough".to_owned(),
            "-frames:v".to_owned(),
            length.to_string(),
            "-an".to_owned(),
            "-f".to_owned(),
            "mp4".to_owned(),
            partial_path(&output.path).display().to_string(),
        ]);
    }
    ToolCommand::new(Tool::Ffmpeg).args(args)
}

/// The command that decodes, from the chunk's seek point, up to the chunk's first frame and
/// writes it as one 128×72 gray picture (the inspection's analysis frame) to stdout.
pub fn landing_check_command(params: &EncodeChunkParams) -> ToolCommand {
    let (offset, seek) = chunk_start(&params.chunk, params.frame_rate, true);
    let first = params.chunk.frames.start - offset;
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"].map(String::from).to_vec();
    args.extend(seek.into_iter().flat_map(KeyframeSeek::input_args));
    args.extend(pinned_input(&params.source));
    args.extend(["-map".to_owned(), params.picture.stream_spec(), "-vf".to_owned()]);
    args.push(format!("{}select='eq(n,{first})',scale={ANALYSIS_WIDTH}:{ANALYSIS_HEIGHT}:flags=area,format=gray", params.picture.chain_head()));
    args.extend(["-frames:v", "1", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"].map(String::from));
    ToolCommand::new(Tool::Ffmpeg).args(args)
}

fn codec_args(output: &ChunkOutput, params: &EncodeChunkParams) -> Vec<String> {
    let rung = &output.rung;
    let colour = &params.picture.colour;
    let interval = params.settings.keyframe_interval_frames;
    let preset = params.settings.preset.clone();
    let rate_control = rate_control_args(output);
    let keyframes = vec![
        "-g".to_owned(),
        interval.to_string(),
        "-keyint_min".to_owned(),
        interval.to_string(),
        "-sc_threshold".to_owned(),
        "0".to_owned(),
        "-force_key_frames".to_owned(),
        format!("expr:eq(mod(n,{interval}),0)"),
        "-forced-idr".to_owned(),
        "1".to_owned(),
    ];
    // Kept frame times: no B-frames, so decode order is presentation order and each chunk's
    // decode timeline is its presentation timeline. With reordering, a chunk's first decode
    // times reach back by its own first frame durations, which a variable rate makes longer
    // than the previous chunk's last ones: the joined stream's decode times would go back.
    let reordering = if params.chunk.span_us.is_some() { vec!["-bf".to_owned(), "0".to_owned()] } else { Vec::new() };
    let mut args = Vec::new();
    match rung.codec {
        Codec::H264 => {
            args.extend(["-c:v", "libx264", "-profile:v", "high", "-preset"].map(String::from));
            args.push(preset);
            args.extend(rate_control);
            args.extend(keyframes);
            args.extend(reordering);
            args.extend(["-x264-params".to_owned(), "open-gop=0:scenecut=0".to_owned()]);
            args.extend(colour.tag_args(rung.codec));
        }
        Codec::Hevc => {
            args.extend(["-c:v", "libx265", "-tag:v", "hvc1", "-preset"].map(String::from));
            args.push(preset);
            args.extend(rate_control);
            args.extend(keyframes);
            args.extend(reordering);
            let hdr = colour.x265_hdr_params().map(|params| format!(":{params}")).unwrap_or_default();
            args.extend(["-x265-params".to_owned(), format!("open-gop=0:scenecut=0:keyint={interval}:min-keyint={interval}:log-level=error{hdr}")]);
            args.extend(colour.tag_args(rung.codec));
        }
        Codec::Av1 => {
            let svt_preset = match params.settings.preset.as_str() {
                "ultrafast" | "superfast" => "12",
                "veryfast" | "faster" => "10",
                "fast" | "medium" => "8",
                _ => "6",
            };
            args.extend(["-c:v", "libsvtav1", "-preset", svt_preset].map(String::from));
            // SVT-AV1 (ffmpeg 5.1) takes an integer CRF and no peak rate: a per-shot AV1 rung
            // is uncapped.
            match output.constant_quality {
                Some(setting) => args.extend(["-crf".to_owned(), format!("{}", setting.round().clamp(1.0, 63.0))]),
                None => args.extend(["-b:v".to_owned(), format!("{}k", rung.bitrate_kbps)]),
            }
            args.extend(["-g".to_owned(), interval.to_string()]);
            let hdr = colour.svtav1_hdr_params().map(|params| format!(":{params}")).unwrap_or_default();
            args.extend(["-svtav1-params".to_owned(), format!("scd=0{hdr}")]);
            args.extend(colour.tag_args(rung.codec));
        }
    }
    args
}

/// x264/x265 rate control: the rung's bitrate under its VBV peak and buffer, or a constant
/// quality (CRF), capped by them when the rung has them.
fn rate_control_args(output: &ChunkOutput) -> Vec<String> {
    let rung = &output.rung;
    let mut args = match output.constant_quality {
        Some(setting) => vec!["-crf".to_owned(), format!("{setting:.2}")],
        None => vec!["-b:v".to_owned(), format!("{}k", rung.bitrate_kbps)],
    };
    if output.constant_quality.is_none() || rung.maxrate_kbps > 0 {
        args.extend(["-maxrate".to_owned(), format!("{}k", rung.maxrate_kbps), "-bufsize".to_owned(), format!("{}k", rung.bufsize_kbps)]);
    }
    args
}

async fn encode_once(params: &EncodeChunkParams, use_seek: bool, progress: ProgressCallback<'_>, cancel: &CancellationToken) -> Result<(), EncodeError> {
    let chunk = params.chunk.index;
    for output in &params.outputs {
        if let Some(parent) = output.path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| EncodeError::Io { operation: "creating the directory of", path: output.path.clone(), source })?;
        }
    }
    let command = build_command(params, use_seek);
    let mut on_progress = |update: ToolProgress| progress(update);
    let outcome = run_with_progress(&command, cancel, &mut on_progress).await;
    if let Err(error) = outcome {
        remove_partials(params);
        return Err(match error {
            ToolError::Cancelled { .. } => EncodeError::Cancelled { chunk },
            ToolError::Failed(failure) if looks_like_bad_input(&failure.stderr_tail) => EncodeError::Input {
                chunk,
                message: format!("{}", ToolError::Failed(failure)),
            },
            source => EncodeError::Tool { chunk, source },
        });
    }
    Ok(())
}

/// Encodes from the chunk's seek point while [`check_landing`] runs beside it; a landing on
/// the wrong frame stops the encode and is the error.
async fn encode_seeking(params: &EncodeChunkParams, progress: ProgressCallback<'_>, cancel: &CancellationToken) -> Result<(), EncodeError> {
    let encode_cancel = cancel.child_token();
    let landing = async {
        let landing = check_landing(params, cancel).await;
        if landing.is_err() {
            encode_cancel.cancel();
        }
        landing
    };
    let (encoded, landed) = tokio::join!(encode_once(params, true, progress, &encode_cancel), landing);
    match (encoded, landed) {
        (_, Err(EncodeError::Cancelled { .. })) | (Err(EncodeError::Cancelled { .. }), _) if cancel.is_cancelled() => Err(EncodeError::Cancelled { chunk: params.chunk.index }),
        (encoded, Ok(())) => encoded,
        (_, Err(landing)) => {
            remove_partials(params);
            Err(landing)
        }
    }
}

/// Checks that decoding from the chunk's seek point reaches the chunk's first frame.
async fn check_landing(params: &EncodeChunkParams, cancel: &CancellationToken) -> Result<(), EncodeError> {
    let chunk = &params.chunk;
    let mismatch = |message: String| EncodeError::FrameMismatch { chunk: chunk.index, rung: params.outputs[0].rung.name.clone(), message };
    let (picture, _) = run_collecting_stdout(&landing_check_command(params), cancel).await.map_err(|error| match error {
        ToolError::Cancelled { .. } => EncodeError::Cancelled { chunk: chunk.index },
        ToolError::Failed(failure) if looks_like_bad_input(&failure.stderr_tail) => EncodeError::Input { chunk: chunk.index, message: format!("{}", ToolError::Failed(failure)) },
        source => EncodeError::Tool { chunk: chunk.index, source },
    })?;
    if picture.len() != ANALYSIS_WIDTH * ANALYSIS_HEIGHT {
        return Err(mismatch(format!(
            "decoding from the seek point delivered {} bytes, not source frame {} (the source has fewer frames than inspected?)",
            picture.len(),
            chunk.frames.start
        )));
    }
    let landed = Fingerprint::of_luma(&picture, ANALYSIS_WIDTH, ANALYSIS_HEIGHT).map_err(|error| mismatch(error.to_string()))?;
    let distance = landed.distance(&chunk.first_fingerprint);
    if distance > BOUNDARY_MATCH_DISTANCE {
        return Err(mismatch(format!("the seek point does not lead to source frame {} (fingerprint distance {distance:.2})", chunk.frames.start)));
    }
    Ok(())
}

fn looks_like_bad_input(stderr_tail: &[String]) -> bool {
    stderr_tail.iter().any(|line| {
        line.contains("Invalid data found when processing input")
            || line.contains("moov atom not found")
            || line.contains("No such file or directory")
            || line.contains("does not contain any stream")
            || line.contains("matches no streams")
    })
}

