//! Inspection's decode in segments: the source cut at keyframes into spans of presented frames,
//! decoded side by side and joined ([`crate::media::video_pieces`]) into exactly what one
//! decode of the whole gives, frame for frame. On a farm each segment is a task of its own
//! ([`plan_for_tasks`], then [`joined`] in the inspect task after them); run locally, the
//! segments are decoded side by side in one process ([`decode_in_segments`]).
//!
//! The keyframe index is the container's, listed without decoding ([`probe_packet_times`]).
//! A segment starts at a keyframe: ffmpeg seeks there, keeps the timestamps as they are, and a
//! `trim` keeps exactly the frames presented from that keyframe's time up to the next
//! segment's ([`DecodeSpan::Presented`]). That is the whole decode's partition only where
//! timestamps are exact and each frame has its own, so a source is cut only when
//! - its container indexes keyframes (MP4/MOV, Matroska/WebM) and its timestamps start at 0
//!   (a decode with the timestamps kept prints them as the whole decode does);
//! - it is not deinterlaced (a deinterlacer looks at the fields before and after a frame);
//! - every packet has a presentation time of its own, none shared.
//!
//! Then every segment must come out exactly as its index says: as many frames as packets
//! presented within it, and not one decoder complaint. Otherwise — and for any other oddity a
//! segment meets — the source is decoded whole instead, which alone says where a damaged
//! source goes wrong; why a source was not cut, or its segments not joined, is logged, and a
//! farm's inspection of a source long enough to cut that cannot be cut says so in a warning
//! ([`one_pass_warning`]).

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use shotfarm_proto::pipeline::{SegmentStart, SourceSegment};

use super::findings::{InspectWarning, WarningCode};
use crate::media::frame_analysis::{AnalysisDepth, DecodePassError, DecodeSpan, DecodedVideo, decode_piece};
use crate::media::probe::{PacketTimes, ProbeFormat, ProbeStream, parse_number, probe_packet_times};
use crate::media::source_picture::SourcePicture;
use crate::media::video_pieces::{DecodedPiece, join_pieces};

/// How inspection cuts a source into segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentPolicy {
    /// No segment is planned shorter than this many seconds; a source shorter than two is
    /// decoded whole.
    pub min_seconds: f64,
    /// Segments decoded at once (0: one per CPU core); a source is cut into at most twice as
    /// many, so a slow segment does not hold the rest. 1, the default, decodes every source
    /// whole: one decoder with all its threads is the faster on a few cores.
    pub workers: usize,
}

impl Default for SegmentPolicy {
    fn default() -> Self {
        Self { min_seconds: 4.0, workers: 1 }
    }
}

impl SegmentPolicy {
    fn workers(&self) -> usize {
        if self.workers == 0 { std::thread::available_parallelism().map_or(1, usize::from) } else { self.workers }
    }
}

/// The outcome of [`decode_in_segments`].
#[derive(Debug)]
pub(super) enum InProcessSegments {
    /// The segments, joined: exactly the whole decode; and how many there were.
    Joined { video: DecodedVideo, segments: u32 },
    /// The source is to be decoded whole, for this reason.
    Whole(String),
}

/// Decodes the video of `source` in segments where it can be done exactly; see the module
/// docs. Only a cancellation is an error: anything else a segment meets is a reason to decode
/// whole.
pub(super) async fn decode_in_segments(
    source: &std::path::Path,
    format: &ProbeFormat,
    video: &ProbeStream,
    picture: &SourcePicture,
    depth: AnalysisDepth,
    policy: SegmentPolicy,
    cancel: &CancellationToken,
) -> Result<InProcessSegments, DecodePassError> {
    let workers = policy.workers();
    if workers < 2 {
        return Ok(InProcessSegments::Whole("one segment is decoded at a time".to_owned()));
    }
    let segments = match cut(source, format, video, picture, policy.min_seconds, 2 * workers, cancel).await?.segments {
        Ok(segments) => segments,
        Err(reason) => return Ok(InProcessSegments::Whole(reason)),
    };
    let decodes: Result<Vec<DecodedPiece>, DecodePassError> =
        futures::stream::iter(segments.clone().into_iter().map(|segment| decode_piece(source, picture, DecodeSpan::Presented { start: segment.start, end_pts: segment.end_pts }, depth, cancel)))
            .buffered(workers)
            .try_collect()
            .await;
    let decodes = match decodes {
        Ok(pieces) => segments.into_iter().zip(pieces.into_iter().map(SegmentDecode::Decoded)).collect::<Vec<_>>(),
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(error.into()),
        Err(error) => return Ok(InProcessSegments::Whole(format!("a segment's decode failed: {error}"))),
    };
    let count = decodes.len() as u32;
    Ok(match joined(decodes, depth) {
        Ok(video) => InProcessSegments::Joined { video, segments: count },
        Err(reason) => InProcessSegments::Whole(reason),
    })
}

/// The most segments a source is cut into for tasks of their own.
pub const MAX_SEGMENT_TASKS: usize = 256;

/// How a source was cut, and what its packet listing counted on the way.
#[derive(Debug)]
pub(super) struct Cut {
    /// The segments, or why the source is not cut.
    pub segments: Result<Vec<SourceSegment>, String>,
    /// The video stream's packets, when they were listed: what a counting probe would read.
    pub packets: Option<u64>,
}

/// The segments of at least `min_seconds` (at most [`MAX_SEGMENT_TASKS`]) that tasks of their
/// own decode, or why the source is not cut.
pub(super) async fn plan_for_tasks(
    source: &std::path::Path,
    format: &ProbeFormat,
    video: &ProbeStream,
    picture: &SourcePicture,
    min_seconds: f64,
    cancel: &CancellationToken,
) -> Result<Cut, DecodePassError> {
    cut(source, format, video, picture, min_seconds, MAX_SEGMENT_TASKS, cancel).await
}

/// The warning for a source of `duration_seconds` (its container's) that a farm would cut
/// into segments of at least `min_seconds` by its length, but cannot cut for `reason`: its
/// inspection is one task, a linear scan of the whole file. None for a shorter source (one
/// task inspects it as fast) or one whose length is unknown.
pub(super) fn one_pass_warning(duration_seconds: Option<f64>, min_seconds: f64, reason: &str) -> Option<InspectWarning> {
    let seconds = duration_seconds.filter(|seconds| *seconds >= 2.0 * min_seconds)?;
    Some(InspectWarning {
        code: WarningCode::InspectedInOnePass,
        message: format!(
            "inspected by one task decoding all {seconds:.1} s, not in segments across the farm: {reason}; an MP4 or Matroska file with keyframes and timestamps from 0 is inspected in parallel"
        ),
    })
}

/// One segment's decode as a segment task reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentDecode {
    Decoded(DecodedPiece),
    /// The decode failed, for this reason: the source is then decoded whole, which says what
    /// is wrong with it.
    Failed(String),
}

/// The segments' decodes, in order, joined into the whole decode; or why they cannot be: one
/// failed, complained, or came out with another number of frames than its index presents.
pub(super) fn joined(decodes: Vec<(SourceSegment, SegmentDecode)>, depth: AnalysisDepth) -> Result<DecodedVideo, String> {
    let mut pieces = Vec::with_capacity(decodes.len());
    for (position, (segment, decode)) in decodes.into_iter().enumerate() {
        let index = segment.index;
        if index as usize != position {
            return Err(format!("segment {index} came in place {position}"));
        }
        let piece = match decode {
            SegmentDecode::Decoded(piece) => piece,
            SegmentDecode::Failed(reason) => return Err(format!("segment {index} could not be decoded: {reason}")),
        };
        if piece.complaint_count > 0 {
            return Err(format!("the decoder complained in segment {index}: {}", piece.complaints.first().map_or("", |complaint| complaint.message.as_str())));
        }
        if piece.frames.len() as u64 != segment.frames {
            return Err(format!("segment {index} decoded to {} frames where its index presents {}", piece.frames.len(), segment.frames));
        }
        pieces.push(piece);
    }
    Ok(join_pieces(pieces, depth))
}

/// The source cut into at most `most` segments of at least `min_seconds`, or why it cannot be
/// cut exactly.
async fn cut(
    source: &std::path::Path,
    format: &ProbeFormat,
    video: &ProbeStream,
    picture: &SourcePicture,
    min_seconds: f64,
    most: usize,
    cancel: &CancellationToken,
) -> Result<Cut, DecodePassError> {
    let not_cut = |reason: String| Ok(Cut { segments: Err(reason), packets: None });
    if let Some(reason) = unsegmentable(format, video, picture) {
        return not_cut(reason);
    }
    let times = match probe_packet_times(source, video.index.unwrap_or(0), cancel).await {
        Ok(Some(times)) => times,
        Ok(None) => return not_cut("ffprobe's listing of its packets cannot be read".to_owned()),
        Err(error) if error.is_cancelled() => return Err(error.into()),
        Err(error) => return not_cut(format!("its keyframe index cannot be listed: {error}")),
    };
    Ok(Cut { segments: plan_segments(&times, min_seconds, most), packets: Some(times.packets.len() as u64) })
}

/// Why the source cannot be cut exactly from what the probe says, if it cannot.
fn unsegmentable(format: &ProbeFormat, video: &ProbeStream, picture: &SourcePicture) -> Option<String> {
    let container = format.format_name.as_deref().unwrap_or_default();
    if !container.split(',').any(|name| matches!(name, "mov" | "matroska")) {
        return Some(format!("its container ({container}) is not one whose keyframe index inspection cuts at (MP4/MOV, Matroska/WebM)"));
    }
    let starts_at_zero = |start: Option<&String>| parse_number::<f64>(start) == Some(0.0);
    if !starts_at_zero(format.start_time.as_ref()) || !starts_at_zero(video.start_time.as_ref()) {
        return Some("its timestamps do not start at 0".to_owned());
    }
    if picture.deinterlace.is_some() {
        return Some("it is deinterlaced, which looks at the fields around every frame".to_owned());
    }
    None
}

/// Cuts the stream at keyframes into at most `most` segments of at least `min_seconds` each,
/// of about equal frames; an error says why it cannot be cut.
fn plan_segments(times: &PacketTimes, min_seconds: f64, most: usize) -> Result<Vec<SourceSegment>, String> {
    let mut presented = Vec::with_capacity(times.packets.len());
    let mut keyframes = Vec::new();
    for &(pts, keyframe) in &times.packets {
        let pts = pts.ok_or("a packet has no presentation time")?;
        presented.push(pts);
        if keyframe {
            keyframes.push(pts);
        }
    }
    presented.sort_unstable();
    if presented.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err("two packets share a presentation time".to_owned());
    }
    keyframes.sort_unstable();
    let (Some(&first), Some(&last)) = (presented.first(), presented.last()) else { return Err("the stream has no packets".to_owned()) };
    let tick = times.time_base.as_f64();
    let seconds = (last - first) as f64 * tick;
    let count = if min_seconds > 0.0 { (seconds / min_seconds).floor() as usize } else { most }.min(most);
    if count < 2 {
        return Err(format!("it is too short to cut ({seconds:.1} s, segments of at least {min_seconds} s)"));
    }
    // Each cut at the last keyframe at or before an equal share of the frames; two shares
    // landing on one keyframe make one cut.
    let mut starts: Vec<usize> = Vec::with_capacity(count);
    for share in 1..count {
        let target = presented[share * presented.len() / count];
        let Some(&keyframe) = keyframes.iter().rev().find(|&&keyframe| keyframe <= target) else { continue };
        let position = presented.partition_point(|&pts| pts < keyframe);
        if position > 0 && starts.last() != Some(&position) {
            starts.push(position);
        }
    }
    if starts.is_empty() {
        return Err("it has no keyframe to cut at".to_owned());
    }
    let mut segments = Vec::with_capacity(starts.len() + 1);
    let mut from: Option<usize> = None;
    for end in starts.iter().copied().map(Some).chain([None]) {
        let begin = from.unwrap_or(0);
        let start = from.map(|position| {
            // Half-way to the next frame: ffmpeg seeks to the keyframe at or before it.
            let next = presented.get(position + 1).copied().unwrap_or(presented[position] + 1);
            SegmentStart { seek_seconds: (presented[position] + next) as f64 / 2.0 * tick, pts: presented[position] }
        });
        segments.push(SourceSegment {
            index: segments.len() as u32,
            start,
            end_pts: end.map(|position| presented[position]),
            frames: (end.unwrap_or(presented.len()) - begin) as u64,
        });
        from = end;
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::probe::Rational;

    /// Packets of a stream at 25 fps in a 1/12800 time base, keyframes every `gop`, in decode
    /// order with one B-frame after each reference (presentation order differs).
    fn stream(frames: i64, gop: i64) -> PacketTimes {
        let mut packets = Vec::new();
        let mut index = 0;
        while index < frames {
            if index % gop == 0 || (index + 1) % gop == 0 || index + 1 >= frames {
                packets.push((Some(index * 512), index % gop == 0));
                index += 1;
            } else {
                packets.push((Some((index + 1) * 512), false));
                packets.push((Some(index * 512), false));
                index += 2;
            }
        }
        PacketTimes { time_base: Rational { num: 1, den: 12800 }, packets }
    }

    #[test]
    fn cuts_fall_on_keyframes_and_tile_every_frame() {
        // 20 s at 25 fps, keyframes every 48 frames; 4 s segments at most 4 of them.
        let segments = plan_segments(&stream(500, 48), 4.0, 4).unwrap();
        assert_eq!(segments.len(), 4);
        assert_eq!(segments[0].start, None);
        let starts: Vec<i64> = segments[1..].iter().map(|segment| segment.start.unwrap().pts).collect();
        // Shares at frames 125, 250, 375: the keyframes at 96, 240, 336.
        assert_eq!(starts, vec![96 * 512, 240 * 512, 336 * 512]);
        let ends: Vec<Option<i64>> = segments.iter().map(|segment| segment.end_pts).collect();
        assert_eq!(ends, vec![Some(96 * 512), Some(240 * 512), Some(336 * 512), None]);
        assert_eq!(segments.iter().map(|segment| segment.frames).collect::<Vec<_>>(), vec![96, 144, 96, 164]);
        assert_eq!(segments.iter().map(|segment| segment.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        // Seeks land half a frame past the keyframe.
        assert_eq!(segments[1].start.unwrap().seek_seconds, (96.0 * 512.0 + 256.0) / 12800.0);
    }

    /// A decode of `frames` frames, with `complaints` decoder complaints.
    fn decode(frames: usize, complaints: u64) -> SegmentDecode {
        let frame = crate::media::frame_analysis::AnalyzedFrame {
            pts_seconds: None,
            keyframe: false,
            byte_position: None,
            fingerprint: shotfarm_kernels::fingerprint::Fingerprint::of_luma(&[0; 128 * 72], 128, 72).unwrap(),
            sdr_fingerprint: None,
        };
        let complaint = crate::media::frame_analysis::DecodeComplaint { near_frame: 0, message: "error while decoding MB 3 4".to_owned() };
        SegmentDecode::Decoded(DecodedPiece {
            frames: vec![frame; frames],
            changes: Vec::new(),
            edges: None,
            complaints: vec![complaint; complaints as usize],
            complaint_count: complaints,
        })
    }

    #[test]
    fn only_segments_decoded_exactly_as_their_index_says_are_joined() {
        let segments = plan_segments(&stream(500, 48), 4.0, 4).unwrap();
        let frames: Vec<usize> = segments.iter().map(|segment| segment.frames as usize).collect();
        let decodes = |each: &dyn Fn(usize, usize) -> SegmentDecode| -> Vec<(SourceSegment, SegmentDecode)> {
            segments.iter().enumerate().map(|(position, segment)| (*segment, each(position, frames[position]))).collect()
        };
        let joined_video = joined(decodes(&|_, count| decode(count, 0)), AnalysisDepth::Fingerprints).unwrap();
        assert_eq!(joined_video.frames.len(), 500);
        let refused = |decodes: Vec<(SourceSegment, SegmentDecode)>| joined(decodes, AnalysisDepth::Fingerprints).unwrap_err();
        assert!(refused(decodes(&|position, count| if position == 2 { SegmentDecode::Failed("ffmpeg exited with 1".into()) } else { decode(count, 0) })).contains("segment 2 could not be decoded: ffmpeg exited with 1"));
        assert!(refused(decodes(&|position, count| decode(count, u64::from(position == 1)))).contains("complained in segment 1: error while decoding"));
        assert!(refused(decodes(&|position, count| decode(count - usize::from(position == 3), 0))).contains("segment 3 decoded to 163 frames where its index presents 164"));
        let mut swapped = decodes(&|_, count| decode(count, 0));
        swapped.swap(0, 1);
        assert!(refused(swapped).contains("segment 1 came in place 0"));
    }

    #[test]
    fn short_streams_or_ones_without_keyframes_or_exact_times_are_not_cut() {
        assert!(plan_segments(&stream(150, 48), 4.0, 4).unwrap_err().contains("too short"), "6 s in 4 s segments");
        assert_eq!(plan_segments(&stream(150, 48), 1.5, 4).unwrap().len(), 3);
        assert_eq!(plan_segments(&stream(500, 48), 4.0, 1).unwrap_err(), "it is too short to cut (20.0 s, segments of at least 4 s)");
        assert!(plan_segments(&stream(500, 1000), 4.0, 4).unwrap_err().contains("no keyframe"));
        let mut untimed = stream(500, 48);
        untimed.packets[7].0 = None;
        assert!(plan_segments(&untimed, 4.0, 4).unwrap_err().contains("no presentation time"));
        let mut repeated = stream(500, 48);
        repeated.packets[7].0 = repeated.packets[8].0;
        assert!(plan_segments(&repeated, 4.0, 4).unwrap_err().contains("share"));
        assert!(plan_segments(&PacketTimes { time_base: Rational { num: 1, den: 25 }, packets: Vec::new() }, 4.0, 4).is_err());
    }
}
