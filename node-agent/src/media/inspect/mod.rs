//! Inspection: probe a source, decode every frame once, and either accept it with its facts,
//! shots, chunk plan and per-frame fingerprints, or reject it with a specific code, the frame
//! or byte where it went wrong, and what to fix.
//!
//! Steps: (1) the file exists and is not empty; (2) ffprobe with packet counting (reads the
//! whole file without decoding), pinned to real video demuxers and local files — text,
//! playlists, unreadable files, pictures, audio and subtitle files, missing video, absurd
//! dimensions stop here; the video stream (the default-disposition one, else the first) and its
//! [`SourcePicture`] are fixed here: rotation, deinterlacing (by the stream's field order),
//! colour (an HDR stream's first frame is probed for its mastering display and content light
//! level); sizes reported are the displayed ones;
//! (3) the container's declared sizes against the file's length ([`container_extent`]);
//! (4) one decode ([`super::frame_analysis`]) — frame count, timestamps, keyframes,
//! fingerprints, shots, SI/TI — in segments cut at keyframes and decoded side by side (in this
//! process, or by tasks of their own on a farm) where that gives exactly the whole decode
//! ([`segments`]), else in one pass; (5) the verdict: a truncated file (the mp4 index is missing, a
//! declared box/chunk/element runs past the end of the file, or the demuxer hits the end in
//! the middle of a packet — never a declared frame count, which the empty "repeat" entries of a
//! variable-frame-rate AVI inflate), zero frames, undecodable frames beyond [`InspectLimits`],
//! a single frame (a still picture);
//! recoverable oddities become [`InspectWarning`]s; (6) the chunk plan with a seek point per
//! chunk; (7) the frame artifact (`frames.json`).
//!
//! The frame count is the number of frames the decoder produced, and every index in the
//! results (shots, chunks, seek points, fingerprints) is a decoded-frame index.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`findings`] | rejections (code, where, fix), the inspection error, warnings |
//! | [`facts`] | what an accepted inspection reports: source facts, shots, chunks with seek points |
//! | [`container_extent`] | the container's declared sizes (mp4 boxes, AVI chunks, Matroska elements) against the file's length |
//! | [`segments`] | the decode in segments at keyframes, decoded side by side; when a source is decoded whole instead |
//! | [`non_video`] | pictures, audio files and subtitle-only files described for their refusal (`still_image`, `no_video_stream`) |
//! | [`source_checks`] | the verdict's checks: failures classified, streams picked, dimensions, completeness, timing |

mod container_extent;
mod facts;
mod findings;
mod non_video;
mod segments;
mod source_checks;

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::cpu_account::charged;
use shotfarm_kernels::scene::ShotDetectionParams;
use shotfarm_proto::pipeline::SourceSegment;
use tokio_util::sync::CancellationToken;

pub use facts::{AudioFacts, Chunk, InspectReport, SeekPoint, Shot, SourceFacts, VideoFacts};
pub use findings::{InspectError, InspectWarning, Rejection, RejectionCode, WarningCode};
pub use segments::{SegmentDecode, SegmentPolicy};
use segments::{Cut, InProcessSegments, decode_in_segments, joined, one_pass_warning, plan_for_tasks};
use findings::reject;
use shotfarm_kernels::decode::input_pins::is_allowed_demuxer;
use source_checks::{analyse_timing, displayed_sample_aspect_ratio, note_picture_transform, check_completeness, check_dimensions, classify_decode_failure, classify_probe_failure, format_not_allowed, pick_streams};

use super::artifacts::{FRAME_ARTIFACT_FILE, FrameArtifact};
use super::chunking::{ChunkingParams, FrameRange, limits_in_frames, plan_chunks};
use super::frame_analysis::{ANALYSIS_HEIGHT, ANALYSIS_WIDTH, AnalysisDepth, DecodePassError, DecodeSpan, DecodedVideo, decode_and_analyse, decode_piece};
use super::frame_timing::chunk_spans_us;
use super::probe::{ProbeError, ProbeFormat, ProbeOutput, ProbeSideData, ProbeStream, parse_number, probe_file, probe_first_frame_side_data};
use super::process::ToolError;
use super::tracks::{audio_tracks, subtitle_tracks};
use super::source_colour::is_hdr_transfer;
use super::source_picture::SourcePicture;

/// What inspection is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectParams {
    /// The source, a local file.
    pub source: PathBuf,
    /// Where `frames.json` is written (created if missing).
    pub artifact_dir: PathBuf,
    #[serde(default)]
    pub chunking: ChunkingParams,
    #[serde(default)]
    pub shot_detection: ShotDetectionParams,
    #[serde(default)]
    pub limits: InspectLimits,
    #[serde(default)]
    pub segments: SegmentPolicy,
}

/// Where acceptance ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectLimits {
    /// The smallest width and height accepted: the smallest frame VMAF scores (its ADM needs
    /// four halvings), so every accepted source can be scored.
    pub min_dimension: u32,
    pub max_dimension: u32,
    /// Frames may be lost to decoding errors up to this many…
    pub max_lost_frames: u64,
    /// …or this fraction of the packets, whichever is larger.
    pub max_lost_fraction: f64,
}

impl Default for InspectLimits {
    fn default() -> Self {
        Self { min_dimension: shotfarm_kernels::adm::MIN_ADM_SIZE as u32, max_dimension: 16384, max_lost_frames: 2, max_lost_fraction: 0.005 }
    }
}

/// Inspects `params.source`; see the module docs. The decode is cut into segments decoded
/// side by side here, by `params.segments`.
pub async fn inspect_source(params: &InspectParams, cancel: &CancellationToken) -> Result<InspectReport, InspectError> {
    let prepared = prepare(params, PacketCount::Probed, cancel).await?;
    let decode_started = Instant::now();
    let depth = AnalysisDepth::Full(params.shot_detection);
    let (decoded, segments) = match decode_in_segments(&params.source, &prepared.format, &prepared.video, &prepared.picture, depth, params.segments, cancel).await {
        Ok(InProcessSegments::Joined { video, segments }) => (video, segments),
        Ok(InProcessSegments::Whole(reason)) => {
            tracing::info!(source = %params.source.display(), reason, "the source is decoded whole, not in segments");
            (decode_whole(params, &prepared, cancel).await?, 1)
        }
        Err(error) => return Err(decode_error(error, &prepared)),
    };
    conclude(params, prepared, decoded, decode_started.elapsed().as_secs_f64(), segments).await
}

/// What the first pass of a farm's inspection found.
#[derive(Debug)]
pub enum InspectStep {
    /// The source, inspected.
    Inspected(Box<InspectReport>),
    /// The source is long enough to be decoded in these segments, each by a task of its own
    /// ([`decode_segment`]); [`inspect_joined`] then finishes the inspection.
    Cut(Vec<SourceSegment>),
}

/// The first pass of a farm's inspection: the checks that need no decoding, then either the
/// source cut into segments of at least `segment_seconds` ([`segments::plan_for_tasks`]) or,
/// when it cannot be cut exactly or is too short, the whole inspection.
pub async fn inspect_or_cut(params: &InspectParams, segment_seconds: f64, cancel: &CancellationToken) -> Result<InspectStep, InspectError> {
    // The listing that cuts the source reads the whole file; a counting probe would read it
    // again, so the packets are counted only where nothing listed them.
    let mut prepared = prepare(params, PacketCount::Later, cancel).await?;
    let cut = if prepared.overrun.is_some() {
        // Known cut short: the one-pass decode says where, at once.
        Cut { segments: Err("its container declares more than the file holds".to_owned()), packets: None }
    } else {
        plan_for_tasks(&params.source, &prepared.format, &prepared.video, &prepared.picture, segment_seconds, cancel).await.map_err(|error| decode_error(error, &prepared))?
    };
    match cut.segments {
        Ok(segments) => return Ok(InspectStep::Cut(segments)),
        Err(reason) => {
            tracing::info!(source = %params.source.display(), reason, "the source is inspected by one task");
            // A file known to be cut short is refused or warned of by its decode.
            if prepared.overrun.is_none() {
                prepared.warnings.extend(one_pass_warning(parse_number(prepared.format.duration.as_ref()), segment_seconds, &reason));
            }
        }
    }
    prepared.video.nb_read_packets = match cut.packets {
        Some(packets) => Some(packets.to_string()),
        None => counted_packets(params, &prepared, cancel).await?,
    };
    let decode_started = Instant::now();
    let decoded = decode_whole(params, &prepared, cancel).await?;
    conclude(params, prepared, decoded, decode_started.elapsed().as_secs_f64(), 1).await.map(|report| InspectStep::Inspected(Box::new(report)))
}

/// The packets of `prepared`'s video counted by a probe that reads the whole file (which
/// refuses a damaged file as the first probe would have, had it counted).
async fn counted_packets(params: &InspectParams, prepared: &Prepared, cancel: &CancellationToken) -> Result<Option<String>, InspectError> {
    match probe_file(&params.source, true, cancel).await {
        Ok(probe) => Ok(probe.streams.into_iter().find(|stream| stream.index == prepared.video.index).and_then(|stream| stream.nb_read_packets)),
        Err(error) => Err(probe_failure(error, &params.source, prepared.size_bytes, cancel).await),
    }
}

/// A probe's failure as inspection reports it: what ffprobe's complaints say of the file.
async fn probe_failure(error: ProbeError, source: &std::path::Path, size_bytes: u64, cancel: &CancellationToken) -> InspectError {
    match error {
        ProbeError::Tool(error) if error.is_cancelled() => InspectError::Cancelled,
        ProbeError::Tool(ToolError::Failed(failure)) => classify_probe_failure(&failure.stderr_tail, source, size_bytes, cancel).await,
        ProbeError::Tool(error) => InspectError::Tool(error),
        ProbeError::Json(error) => reject(RejectionCode::NotMedia, format!("ffprobe could not describe the file: {error}"), "check that the file is a video"),
    }
}

/// The inspection of a source cut by [`inspect_or_cut`], from each segment's decode
/// ([`decode_segment`]) in order: joined when every segment came out as its index says, else
/// decoded whole here.
pub async fn inspect_joined(params: &InspectParams, decodes: Vec<(SourceSegment, SegmentDecode)>, cancel: &CancellationToken) -> Result<InspectReport, InspectError> {
    let depth = AnalysisDepth::Full(params.shot_detection);
    let count = decodes.len() as u32;
    let join_started = Instant::now();
    match joined(decodes, depth) {
        Ok(video) => {
            let join_seconds = join_started.elapsed().as_secs_f64();
            // Every packet of the index was presented by a segment: no need to read the file
            // again to count them.
            let prepared = prepare(params, PacketCount::Known(video.frames.len() as u64), cancel).await?;
            conclude(params, prepared, video, join_seconds, count).await
        }
        Err(reason) => {
            tracing::warn!(source = %params.source.display(), reason, "the segments' decodes cannot be joined; the source is decoded whole");
            let prepared = prepare(params, PacketCount::Probed, cancel).await?;
            let decode_started = Instant::now();
            let decoded = decode_whole(params, &prepared, cancel).await?;
            conclude(params, prepared, decoded, decode_started.elapsed().as_secs_f64(), 1).await
        }
    }
}

/// One segment of `source` decoded for [`inspect_joined`]: the source's video stream as
/// inspection picks it, turned and tone-mapped as it says. A failed decode is a
/// [`SegmentDecode::Failed`], which makes the join decode the source whole (and say what is
/// wrong with it); only a cancellation or a missing tool is an error.
pub async fn decode_segment(source: &std::path::Path, segment: SourceSegment, shot_detection: ShotDetectionParams, cancel: &CancellationToken) -> Result<SegmentDecode, InspectError> {
    let probe = match probe_file(source, false, cancel).await {
        Ok(probe) => probe,
        Err(ProbeError::Tool(error)) if error.is_cancelled() => return Err(InspectError::Cancelled),
        Err(error) => return Ok(SegmentDecode::Failed(format!("probing the source: {error}"))),
    };
    let Ok((video, _)) = pick_streams(&probe, &mut Vec::new()) else { return Ok(SegmentDecode::Failed("the source has no video stream".to_owned())) };
    let picture = source_picture(source, video, cancel).await?;
    let span = DecodeSpan::Presented { start: segment.start, end_pts: segment.end_pts };
    match decode_piece(source, &picture, span, AnalysisDepth::Full(shot_detection), cancel).await {
        Ok(piece) => Ok(SegmentDecode::Decoded(piece)),
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => Err(InspectError::Cancelled),
        Err(error) => Ok(SegmentDecode::Failed(error.to_string())),
    }
}

/// What inspection knows before it decodes.
struct Prepared {
    started: Instant,
    size_bytes: u64,
    format: ProbeFormat,
    format_name: String,
    video: ProbeStream,
    audio: Option<ProbeStream>,
    probe: ProbeOutput,
    picture: SourcePicture,
    /// The displayed size.
    width: u32,
    height: u32,
    overrun: Option<container_extent::Overrun>,
    warnings: Vec<InspectWarning>,
}

/// How [`prepare`] learns the video's packet count, what decoded frames are counted against.
enum PacketCount {
    /// Its probe counts them, reading the whole file.
    Probed,
    /// The caller knows it.
    Known(u64),
    /// The caller counts them after (a listing of the packets may count them on the way).
    Later,
}

/// Steps 1–3 of the module docs: everything but the decode.
async fn prepare(params: &InspectParams, packets: PacketCount, cancel: &CancellationToken) -> Result<Prepared, InspectError> {
    let started = Instant::now();
    let source = &params.source;
    let size_bytes = match tokio::fs::metadata(source).await {
        Ok(metadata) if metadata.is_file() => metadata.len(),
        Ok(_) => return Err(reject(RejectionCode::Unreadable, format!("{} is not a regular file", source.display()), "pass the path of a video file")),
        Err(error) => {
            return Err(reject(RejectionCode::Unreadable, format!("cannot open {}: {error}", source.display()), "check the path and its permissions"));
        }
    };
    if size_bytes == 0 {
        return Err(reject(RejectionCode::NotMedia, "the file is empty (0 bytes)", "upload the source again; the copy is empty"));
    }
    let probe = match probe_file(source, matches!(packets, PacketCount::Probed), cancel).await {
        Ok(probe) => probe,
        Err(error) => return Err(probe_failure(error, source, size_bytes, cancel).await),
    };
    // ffprobe ran with the demuxer allow-list; checked again on what it reports.
    let format_name = probe.format.as_ref().and_then(|format| format.format_name.clone()).unwrap_or_default();
    if !is_allowed_demuxer(&format_name) {
        return Err(format_not_allowed(&format_name));
    }
    let mut warnings = Vec::new();
    let (video_stream, audio_stream) = pick_streams(&probe, &mut warnings)?;
    let (mut video, audio) = (video_stream.clone(), audio_stream.cloned());
    if let PacketCount::Known(packets) = packets {
        video.nb_read_packets = Some(packets.to_string());
    }
    let (stored_width, stored_height) = check_dimensions(&video, &params.limits, &mut warnings)?;
    let picture = source_picture(source, &video, cancel).await?;
    note_picture_transform(&picture, &video, &mut warnings);
    let (width, height) = picture.displayed_size(stored_width, stored_height);

    let extent_source = source.clone();
    let overrun = match tokio::task::spawn_blocking(charged(move || container_extent::find_overrun(&extent_source))).await {
        Ok(Ok(overrun)) => overrun,
        Ok(Err(error)) => return Err(reject(RejectionCode::Unreadable, format!("cannot read {}: {error}", source.display()), "check the file and its permissions")),
        Err(error) => return Err(InspectError::Analysis(format!("reading the container's sizes: {error}"))),
    };
    let format = probe.format.clone().unwrap_or_default();
    Ok(Prepared { started, size_bytes, format, format_name, video, audio, probe, picture, width, height, overrun, warnings })
}

/// Step 4 in one pass.
async fn decode_whole(params: &InspectParams, prepared: &Prepared, cancel: &CancellationToken) -> Result<DecodedVideo, InspectError> {
    decode_and_analyse(&params.source, &prepared.picture, AnalysisDepth::Full(params.shot_detection), cancel).await.map_err(|error| decode_error(error, prepared))
}

/// A decode's failure as inspection reports it: what ffmpeg's complaints say of the source.
fn decode_error(error: DecodePassError, prepared: &Prepared) -> InspectError {
    match error {
        DecodePassError::Tool(error) if error.is_cancelled() => InspectError::Cancelled,
        DecodePassError::Tool(ToolError::Failed(failure)) => classify_decode_failure(&failure.stderr_tail, &prepared.video, prepared.overrun.as_ref()),
        DecodePassError::Tool(error) => InspectError::Tool(error),
        error => InspectError::Analysis(error.to_string()),
    }
}

/// Steps 5–7: the verdict on the decode, the facts, the chunk plan and the frame artifact.
async fn conclude(params: &InspectParams, prepared: Prepared, decoded: DecodedVideo, decode_seconds: f64, decoded_in_segments: u32) -> Result<InspectReport, InspectError> {
    let Prepared { started, size_bytes, format, format_name, video: video_stream, audio: audio_stream, probe, picture, width, height, overrun, mut warnings } = prepared;
    let source = &params.source;
    let video_stream = &video_stream;
    let frames = decoded.frames.len() as u64;
    check_completeness(&decoded, video_stream, overrun.as_ref(), &params.limits, &mut warnings)?;
    if frames == 1 {
        return Err(non_video::single_frame(video_stream, &format_name));
    }

    let timing = analyse_timing(&decoded, video_stream, &mut warnings);
    let frame_rate = timing.frame_rate;
    let duration_seconds = timing.kept_span_seconds.unwrap_or(frames as f64 / frame_rate.as_f64());
    let video = VideoFacts {
        stream_index: video_stream.index.unwrap_or(0),
        codec: video_stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned()),
        profile: video_stream.profile.clone(),
        width,
        height,
        pix_fmt: video_stream.pix_fmt.clone(),
        sample_aspect_ratio: displayed_sample_aspect_ratio(video_stream, &picture),
        frame_rate,
        variable_frame_rate: timing.variable,
        keeps_frame_times: timing.keeps_frame_times,
        frames,
        duration_seconds,
        bitrate_kbps: parse_number::<u64>(video_stream.bit_rate.as_ref()).map(|bps| (bps / 1000) as u32),
        picture,
    };
    let audio = audio_stream.map(|stream| AudioFacts {
        stream_index: stream.index.unwrap_or(0),
        codec: stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned()),
        channels: stream.channels,
        sample_rate: parse_number(stream.sample_rate.as_ref()),
        duration_seconds: parse_number(stream.duration.as_ref()),
    });
    let facts = SourceFacts {
        container: format.format_name.unwrap_or_else(|| "unknown".to_owned()),
        size_bytes,
        container_duration_seconds: parse_number(format.duration.as_ref()),
        video,
        audio,
        audio_tracks: audio_tracks(&probe),
        subtitle_tracks: subtitle_tracks(&probe),
    };
    for track in facts.subtitle_tracks.iter().filter(|track| !track.text) {
        warnings.push(InspectWarning {
            code: WarningCode::ImageSubtitlesSkipped,
            message: format!("subtitle stream {} is {} (pictures, not text); it is not packaged: add a text (SRT/WebVTT) track of it to carry it", track.stream_index, track.codec),
        });
    }

    let shots = summarise_shots(&decoded);
    let shot_starts: Vec<u64> = shots.iter().skip(1).map(|shot| shot.start).collect();
    let (min_frames, max_frames) = limits_in_frames(&params.chunking, frame_rate.as_f64())?;
    let ranges = plan_chunks(frames, &shot_starts, min_frames, max_frames)?;
    let spans = if timing.keeps_frame_times {
        let times: Vec<Option<f64>> = decoded.frames.iter().map(|frame| frame.pts_seconds).collect();
        chunk_spans_us(&times, &ranges, duration_seconds)
    } else {
        None
    };
    let chunks = plan_chunk_decodes(&ranges, &decoded, timing.seekable, spans.as_deref());

    let artifact = FrameArtifact {
        version: FrameArtifact::VERSION,
        analysis_width: ANALYSIS_WIDTH as u32,
        analysis_height: ANALYSIS_HEIGHT as u32,
        frame_rate,
        frames: decoded.frames,
    };
    let frame_artifact = params.artifact_dir.join(FRAME_ARTIFACT_FILE);
    artifact.write(&frame_artifact).await?;
    let report = InspectReport { source: facts, warnings, shots, chunks, frame_artifact, decode_seconds, total_seconds: started.elapsed().as_secs_f64(), decoded_in_segments };
    tracing::info!(
        source = %source.display(),
        frames,
        shots = report.shots.len(),
        chunks = report.chunks.len(),
        warnings = report.warnings.len(),
        decode_seconds,
        decoded_in_segments,
        "source inspected"
    );
    Ok(report)
}

/// The picture every decode of `video` uses: turned, deinterlaced and, for HDR, with its first
/// frame's mastering display and light level (none carried, with a warning, when they cannot
/// be read). The same for the inspection and each of its segments.
async fn source_picture(source: &std::path::Path, video: &ProbeStream, cancel: &CancellationToken) -> Result<SourcePicture, InspectError> {
    let side_data = match first_frame_side_data(source, video, cancel).await {
        Err(ProbeError::Tool(error)) if error.is_cancelled() => return Err(InspectError::Cancelled),
        outcome => outcome.unwrap_or_else(|error| {
            tracing::warn!(source = %source.display(), %error, "the first frame's side data could not be read; no HDR metadata carried");
            Vec::new()
        }),
    };
    Ok(SourcePicture::of_stream(video, &side_data))
}

/// The first frame's side data (HDR mastering display, content light level) of an HDR
/// stream; nothing for others (one ffprobe of one frame saved).
async fn first_frame_side_data(source: &std::path::Path, video: &ProbeStream, cancel: &CancellationToken) -> Result<Vec<ProbeSideData>, ProbeError> {
    if !is_hdr_transfer(video.colour.color_transfer.as_deref()) {
        return Ok(Vec::new());
    }
    let selector = video.index.map_or_else(|| "v:0".to_owned(), |index| index.to_string());
    probe_first_frame_side_data(source, &selector, cancel).await
}

fn summarise_shots(decoded: &DecodedVideo) -> Vec<Shot> {
    let total = decoded.scene.len() as u64;
    let mut starts: Vec<u64> = decoded.scene.iter().enumerate().filter(|(_, features)| features.starts_shot).map(|(index, _)| index as u64).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut shots = Vec::with_capacity(starts.len());
    for (position, &start) in starts.iter().enumerate() {
        let end = starts.get(position + 1).copied().unwrap_or(total);
        if end <= start {
            continue;
        }
        let features = &decoded.scene[start as usize..end as usize];
        let count = features.len() as f32;
        let si: Vec<f32> = features.iter().map(|f| f.spatial_information).collect();
        let ti: Vec<f32> = features.iter().skip(1).map(|f| f.temporal_information).collect();
        shots.push(Shot {
            start,
            end,
            si_mean: si.iter().sum::<f32>() / count,
            si_max: si.iter().copied().fold(0.0, f32::max),
            ti_mean: if ti.is_empty() { 0.0 } else { ti.iter().sum::<f32>() / ti.len() as f32 },
            ti_max: ti.iter().copied().fold(0.0, f32::max),
        });
    }
    shots
}

/// The chunks of `ranges`: each with its seek point, boundary fingerprints and, with kept
/// frame times, its span.
fn plan_chunk_decodes(ranges: &[FrameRange], decoded: &DecodedVideo, seekable: bool, spans_us: Option<&[u64]>) -> Vec<Chunk> {
    let keyframes: Vec<(u64, f64)> = decoded
        .frames
        .iter()
        .enumerate()
        .filter_map(|(index, frame)| frame.keyframe.then_some(()).and(frame.pts_seconds).map(|seconds| (index as u64, seconds)))
        .collect();
    ranges
        .iter()
        .enumerate()
        .map(|(index, range)| {
            let seek = if seekable {
                keyframes
                    .iter()
                    .rev()
                    .find(|(keyframe, _)| *keyframe <= range.start)
                    .filter(|(keyframe, _)| *keyframe > 0)
                    .map(|&(keyframe, seconds)| SeekPoint { keyframe, seconds })
            } else {
                None
            };
            let fingerprint_at = |frame: u64| decoded.frames[frame as usize].fingerprint.clone();
            Chunk {
                index: index as u32,
                frames: *range,
                seek,
                first_fingerprint: fingerprint_at(range.start),
                last_fingerprint: fingerprint_at(range.end - 1),
                span_us: spans_us.and_then(|spans| spans.get(index).copied()),
            }
        })
        .collect()
}
