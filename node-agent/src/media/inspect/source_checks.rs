//! The checks behind inspection's verdict: a failed probe or decode classified into a rejection,
//! the streams picked, the picture size bounded, the decode checked for completeness, and the
//! timestamps judged (frame rate, variable rate, whether chunks can seek).

use tokio_util::sync::CancellationToken;

use super::container_extent::Overrun;
use super::non_video::{describe_refused_format, no_video_stream};
use crate::media::frame_analysis::DecodedVideo;
use crate::media::frame_timing::average_rate;
use crate::media::probe::{ProbeOutput, ProbeStream, Rational, parse_number};
use crate::media::source_picture::{FieldOrder, SourcePicture};
use super::InspectLimits;
use super::findings::{InspectError, InspectWarning, RejectionCode, WarningCode, reject, reject_at};

pub(super) async fn classify_probe_failure(stderr_tail: &[String], source: &std::path::Path, size_bytes: u64, cancel: &CancellationToken) -> InspectError {
    let text = stderr_tail.join("\n");
    if let Some(line) = stderr_tail.iter().find(|line| line.contains("Format not on whitelist")) {
        // `[tty @ 0x…] Format not on whitelist '…'`: the demuxer ffmpeg would have used. A
        // picture or an audio file is refused for what it is.
        let demuxer = line.trim_start().strip_prefix('[').and_then(|rest| rest.split(" @").next()).unwrap_or("unknown");
        return match describe_refused_format(demuxer, source, cancel).await {
            Some(described) => described,
            None => format_not_allowed(demuxer),
        };
    }
    // An mp4 cut short still starts with its `ftyp` box; random bytes named .mp4 do not.
    let starts_like_mp4 = read_head(source).await.is_some_and(|head| head.len() >= 8 && &head[4..8] == b"ftyp");
    if text.contains("moov atom not found") && starts_like_mp4 {
        return reject_at(
            RejectionCode::Truncated,
            "the mp4/mov index (moov atom) is missing: the file was cut short before its index was written",
            None,
            Some(size_bytes),
            "upload the complete file, or re-export it with the index at the front (ffmpeg -movflags +faststart)",
        );
    }
    let last_line = stderr_tail.last().cloned().unwrap_or_default();
    reject(
        RejectionCode::NotMedia,
        format!("ffprobe does not recognise it as audio or video ({})", last_line.trim()),
        "check that the file is a video (mp4, mov, mkv, webm, ts…) and was not corrupted in transfer",
    )
}

/// A file ffmpeg reads with a demuxer the farm does not allow (text, a playlist, …).
pub(super) fn format_not_allowed(demuxer: &str) -> InspectError {
    reject(
        RejectionCode::FormatNotAllowed,
        format!("the file is read as {demuxer:?}, not as a video container: text files, playlists (m3u8), concat lists and image sequences are refused"),
        "give a video file (mp4, mov, mkv, webm, ts, mxf, avi, y4m)",
    )
}

async fn read_head(path: &std::path::Path) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let mut head = vec![0u8; 16];
    let read = file.read(&mut head).await.ok()?;
    head.truncate(read);
    Some(head)
}

pub(super) fn classify_decode_failure(stderr_tail: &[String], video: &ProbeStream, overrun: Option<&Overrun>) -> InspectError {
    if let Some(overrun) = overrun {
        return cut_short(overrun, None);
    }
    let text = stderr_tail.join("\n");
    let codec = video.codec_name.clone().unwrap_or_else(|| "unknown".to_owned());
    if text.contains("Decoder (codec") && text.contains("not found") || text.contains("Unsupported codec") {
        return reject(
            RejectionCode::UnsupportedCodec,
            format!("this ffmpeg has no decoder for the video codec {codec}"),
            "transcode the source to H.264, HEVC, VP9 or AV1 first, or install an ffmpeg that decodes it",
        );
    }
    reject(
        RejectionCode::UndecodableFrames,
        format!("ffmpeg failed to decode the video stream ({codec}): {}", stderr_tail.last().map(|s| s.trim()).unwrap_or("no message")),
        "re-export the source; the video data is damaged",
    )
}

pub(super) fn pick_streams<'a>(probe: &'a ProbeOutput, warnings: &mut Vec<InspectWarning>) -> Result<(&'a ProbeStream, Option<&'a ProbeStream>), InspectError> {
    let videos: Vec<&ProbeStream> = probe.streams.iter().filter(|stream| stream.is_video()).collect();
    let audios: Vec<&ProbeStream> = probe.streams.iter().filter(|stream| stream.is_audio()).collect();
    // The stream marked default is the one players show; without a mark, the first.
    let chosen = videos.iter().find(|stream| stream.disposition.as_ref().is_some_and(|d| d.default == 1)).or(videos.first());
    let Some(&video) = chosen else {
        return Err(no_video_stream(probe));
    };
    if videos.len() > 1 {
        warnings.push(InspectWarning {
            code: WarningCode::SeveralVideoStreams,
            message: format!(
                "{} video streams; using stream {} ({}, {}x{}, the {}) and ignoring the others",
                videos.len(),
                video.index.unwrap_or(0),
                video.codec_name.as_deref().unwrap_or("?"),
                video.width.unwrap_or(0),
                video.height.unwrap_or(0),
                if video.disposition.as_ref().is_some_and(|d| d.default == 1) { "default one" } else { "first one" }
            ),
        });
    }
    if audios.len() > 1 {
        warnings.push(InspectWarning {
            code: WarningCode::SeveralAudioStreams,
            message: format!("{} audio streams; each becomes its own AAC rendition", audios.len()),
        });
    }
    Ok((video, audios.first().copied()))
}

/// Warnings for what the picture transform changes: deinterlacing, turning upright, the bit
/// depth and dynamic range each codec keeps.
pub(super) fn note_picture_transform(picture: &SourcePicture, video: &ProbeStream, warnings: &mut Vec<InspectWarning>) {
    if let Some(order) = picture.deinterlace {
        warnings.push(InspectWarning {
            code: WarningCode::Interlaced,
            message: format!(
                "the video is interlaced ({} field first, field order {}); every frame is deinterlaced with bwdif before scaling, one output frame per stored frame",
                match order {
                    FieldOrder::TopFirst => "top",
                    FieldOrder::BottomFirst => "bottom",
                },
                video.field_order.as_deref().unwrap_or("?")
            ),
        });
    }
    let colour = &picture.colour;
    if colour.is_hdr() {
        warnings.push(InspectWarning {
            code: WarningCode::HighDynamicRange,
            message: format!(
                "the video is HDR ({} transfer, {} primaries, {} bits{}{}); HEVC and AV1 renditions keep it in 10 bits with its colour tags and metadata, H.264 renditions are tone-mapped to SDR BT.709 (scored and validated against the source tone-mapped the same way)",
                colour.transfer.as_deref().unwrap_or("?"),
                colour.primaries.as_deref().unwrap_or("?"),
                colour.bit_depth,
                if colour.mastering_display.is_some() { ", mastering display" } else { "" },
                colour.content_light.map(|light| format!(", max-cll {},{}", light.max_content, light.max_average)).unwrap_or_default(),
            ),
        });
    } else if colour.bit_depth > 8 {
        warnings.push(InspectWarning {
            code: WarningCode::HighBitDepth,
            message: format!("the video has {} bits per sample; HEVC and AV1 renditions keep 10 bits, H.264 renditions are 8-bit", colour.bit_depth),
        });
    }
    if picture.rotation != 0 {
        let (width, height) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
        let (shown_width, shown_height) = picture.displayed_size(width, height);
        warnings.push(InspectWarning {
            code: WarningCode::Rotated,
            message: format!(
                "the video is stored {width}x{height} and displayed turned {} degrees counterclockwise ({shown_width}x{shown_height}); renditions are written upright at the displayed orientation",
                picture.rotation
            ),
        });
    }
}

/// The sample aspect ratio of the displayed picture: a quarter turn swaps it.
pub(super) fn displayed_sample_aspect_ratio(video: &ProbeStream, picture: &SourcePicture) -> Rational {
    let stored = video.sample_aspect_ratio.as_deref().and_then(Rational::parse).unwrap_or(Rational { num: 1, den: 1 });
    if picture.swaps_sides() { Rational { num: stored.den, den: stored.num } } else { stored }
}

pub(super) fn check_dimensions(video: &ProbeStream, limits: &InspectLimits, warnings: &mut Vec<InspectWarning>) -> Result<(u32, u32), InspectError> {
    let (width, height) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
    if width < limits.min_dimension || height < limits.min_dimension || width > limits.max_dimension || height > limits.max_dimension {
        return Err(reject(
            RejectionCode::AbsurdDimensions,
            format!(
                "the video is {width}x{height}; accepted sizes are {min}x{min} to {max}x{max}",
                min = limits.min_dimension,
                max = limits.max_dimension
            ),
            "check the source's video stream; re-export it at a normal size",
        ));
    }
    if width % 2 == 1 || height % 2 == 1 {
        warnings.push(InspectWarning {
            code: WarningCode::OddDimensions,
            message: format!("the video is {width}x{height} (odd); renditions are scaled to even sizes"),
        });
    }
    Ok((width, height))
}

pub(super) fn check_completeness(
    decoded: &DecodedVideo,
    video: &ProbeStream,
    overrun: Option<&Overrun>,
    limits: &InspectLimits,
    warnings: &mut Vec<InspectWarning>,
) -> Result<(), InspectError> {
    let frames = decoded.frames.len() as u64;
    let packets: Option<u64> = parse_number(video.nb_read_packets.as_ref());
    let declared: Option<u64> = parse_number(video.nb_frames.as_ref());
    // Truncation is what the container says about itself: a declared structure that runs past
    // the end of the file…
    if let Some(overrun) = overrun {
        return Err(cut_short(overrun, Some(frames)));
    }
    // …or a stream that ends in the middle of a packet.
    if let Some(complaint) = decoded.complaints.iter().find(|complaint| ends_mid_packet(&complaint.message)) {
        return Err(reject_at(
            RejectionCode::Truncated,
            format!("the file ends in the middle of a packet ({}): it was cut short", complaint.message),
            Some(complaint.near_frame),
            decoded.frames.iter().rev().find_map(|frame| frame.byte_position),
            "upload the complete file",
        ));
    }
    // A complete file that lists more frames than hold data: its index has empty entries ("repeat
    // the previous frame", as AVI writes a variable frame rate). Not damage; every real frame
    // is kept at its time.
    if let (Some(declared), Some(packets)) = (declared, packets)
        && declared > packets + 1
    {
        warnings.push(InspectWarning {
            code: WarningCode::SkippedFrames,
            message: format!(
                "the container lists {declared} video frames but only {packets} hold data: {} are empty \"repeat the previous frame\" entries; the {frames} decoded frames are kept, each once, in order",
                declared - packets
            ),
        });
    }
    if frames == 0 {
        return Err(reject_at(
            RejectionCode::ZeroFrames,
            format!("the video stream decodes to no frames ({} packets read)", packets.unwrap_or(0)),
            Some(0),
            None,
            "check that the source actually contains video frames; re-export it",
        ));
    }
    let lost = packets.map_or(0, |packets| packets.saturating_sub(frames));
    let allowed = limits.max_lost_frames.max((packets.unwrap_or(frames) as f64 * limits.max_lost_fraction) as u64);
    if lost > allowed {
        let first = decoded.complaints.first();
        return Err(reject_at(
            RejectionCode::UndecodableFrames,
            format!(
                "{lost} of {} video frames could not be decoded (at most {allowed} are tolerated){}",
                packets.unwrap_or(frames),
                first.map(|complaint| format!("; first decoder error: {}", complaint.message)).unwrap_or_default()
            ),
            Some(first.map_or(frames, |complaint| complaint.near_frame)),
            None,
            "re-export or re-transfer the source; its video data is damaged",
        ));
    }
    // Demuxers of index-less containers (MPEG-TS) drop damaged packets before anyone counts
    // them; the hole shows as a timestamp gap. Only with decoder complaints: a clean source
    // with gaps is variable frame rate, not damage.
    let nominal = video.r_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    if decoded.complaint_count > 0
        && let Some(rate) = nominal
    {
        let period = 1.0 / rate.as_f64();
        let mut missing = 0u64;
        let mut first_gap = None;
        for (index, pair) in decoded.frames.windows(2).enumerate() {
            if let (Some(a), Some(b)) = (pair[0].pts_seconds, pair[1].pts_seconds) {
                let gap_frames = ((b - a) / period).round() as i64 - 1;
                if gap_frames > 0 {
                    missing += gap_frames as u64;
                    first_gap.get_or_insert((index as u64 + 1, pair[1].byte_position));
                }
            }
        }
        let allowed = limits.max_lost_frames.max(((frames + missing) as f64 * limits.max_lost_fraction) as u64);
        if missing > allowed {
            let (frame, byte) = first_gap.unwrap_or((frames, None));
            return Err(reject_at(
                RejectionCode::UndecodableFrames,
                format!(
                    "about {missing} video frames are missing from damaged data (timestamps jump; at most {allowed} tolerated); first decoder error: {}",
                    decoded.complaints.first().map_or("none kept", |complaint| complaint.message.as_str())
                ),
                Some(frame),
                byte,
                "re-export or re-transfer the source; its video data is damaged",
            ));
        }
    }
    if lost > 0 || decoded.complaint_count > 0 {
        let first = decoded.complaints.first();
        warnings.push(InspectWarning {
            code: WarningCode::CorruptDataConcealed,
            message: format!(
                "the decoder reported {} error(s){}{}; {lost} frame(s) lost, within tolerance",
                decoded.complaint_count,
                first.map(|complaint| format!(" starting near frame {}", complaint.near_frame)).unwrap_or_default(),
                first.map(|complaint| format!(" ({})", complaint.message)).unwrap_or_default(),
            ),
        });
    }
    Ok(())
}

/// The rejection of a file whose declared structure runs past its end; `frames`: how many
/// decoded before the end.
fn cut_short(overrun: &Overrun, frames: Option<u64>) -> InspectError {
    reject_at(
        RejectionCode::Truncated,
        format!(
            "{} starts at byte {} and declares its end at byte {}, but the file ends at byte {}: it was cut short{}",
            overrun.structure,
            overrun.starts_at,
            overrun.declared_end,
            overrun.file_length,
            frames.map(|frames| format!(" ({frames} frame(s) decode before the end)")).unwrap_or_default()
        ),
        frames,
        Some(overrun.file_length),
        "upload the complete file",
    )
}

/// A demuxer's words for a packet cut off by the end of the file.
fn ends_mid_packet(message: &str) -> bool {
    message.contains("partial file") || message.contains("File ended prematurely")
}

/// The source's frame rate and what its timestamps allow.
pub(super) struct Timing {
    pub(super) frame_rate: Rational,
    pub(super) variable: bool,
    pub(super) seekable: bool,
    /// Renditions keep each frame's presentation time (see [`crate::media::frame_timing`]):
    /// a variable rate with every timestamp present and strictly increasing.
    pub(super) keeps_frame_times: bool,
    /// From the first frame's time to the end of the last frame, when the frame times are
    /// kept (the last frame shown for the average frame duration).
    pub(super) kept_span_seconds: Option<f64>,
}

pub(super) fn analyse_timing(decoded: &DecodedVideo, video: &ProbeStream, warnings: &mut Vec<InspectWarning>) -> Timing {
    let frames = &decoded.frames;
    let missing = video.start_time.is_none() || frames.iter().any(|frame| frame.pts_seconds.is_none());
    if missing {
        warnings.push(InspectWarning {
            code: WarningCode::MissingTimestamps,
            message: "the video has no timestamps of its own; frames are timed by the frame rate, in decoded order".to_owned(),
        });
    }
    let times: Vec<f64> = frames.iter().filter_map(|frame| frame.pts_seconds).collect();
    let mut deltas: Vec<f64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let non_monotonic = deltas.iter().filter(|&&delta| delta <= 0.0).count();
    if non_monotonic > 0 {
        warnings.push(InspectWarning {
            code: WarningCode::NonMonotonicTimestamps,
            message: format!("{non_monotonic} frame timestamp(s) go backwards or repeat; frames are kept in decoded order"),
        });
    }
    deltas.retain(|&delta| delta > 0.0);
    let mut sorted = deltas.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied();
    let irregular = median.map_or(0, |median| deltas.iter().filter(|&&delta| (delta - median).abs() > median * 0.1).count());
    let variable = !missing && irregular > 0 && irregular * 200 >= deltas.len().max(1);
    let nominal = video.r_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    let average = video.avg_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    let measured = match (times.first(), times.last(), median) {
        (Some(first), Some(last), Some(median)) if last > first => Rational::from_rate((times.len() - 1) as f64 / (last - first)).or(Rational::from_rate(1.0 / median)),
        _ => None,
    };
    // Frames evenly spaced at another rate than the container's (an AVI at 25 fps whose every
    // fifth entry holds a frame): the typical spacing tells the real rate. The median, not the
    // span, so one timestamp jump in a constant-rate file changes nothing; but where timestamps
    // repeat (pairs at one time), the span over the frames, which keeps the duration.
    let typical = if non_monotonic > 0 { measured } else { median.and_then(|median| Rational::from_rate(1.0 / median)) };
    let regular_at_another_rate = match (typical, nominal.or(average)) {
        (Some(typical), Some(declared)) if !variable && !missing => (typical.as_f64() - declared.as_f64()).abs() > declared.as_f64() * 0.1,
        _ => false,
    };
    let seekable = !missing && non_monotonic == 0;
    let keeps_frame_times = variable && seekable;
    // The last frame is shown for the average frame duration (what encoders give the last
    // frame of a stream timed at the average rate), so n frames span n/(n-1) of the time
    // from the first frame to the last.
    let kept_span_seconds = match (keeps_frame_times, times.first(), times.last()) {
        (true, Some(first), Some(last)) if times.len() >= 2 && last > first => Some((last - first) * times.len() as f64 / (times.len() - 1) as f64),
        _ => None,
    };
    let frame_rate = if let Some(span) = kept_span_seconds {
        average_rate(times.len() as u64, span).or(measured)
    } else if variable {
        measured.or(average).or(nominal)
    } else if regular_at_another_rate {
        typical
    } else {
        nominal.or(average).or(measured)
    }
    .unwrap_or(Rational { num: 25, den: 1 });
    if regular_at_another_rate && let Some(declared) = nominal.or(average) {
        warnings.push(InspectWarning {
            code: WarningCode::FrameRateFromTimestamps,
            message: format!("the container declares {declared} fps but its frames are evenly spaced at {frame_rate} fps; renditions are {frame_rate} fps"),
        });
    }
    if variable {
        let renditions = if keeps_frame_times {
            format!("renditions keep every decoded frame at its own presentation time (average {frame_rate} fps)")
        } else {
            format!("its timestamps are unusable, so renditions are constant rate at {frame_rate} fps with every decoded frame kept")
        };
        warnings.push(InspectWarning {
            code: WarningCode::VariableFrameRate,
            message: format!("frame durations vary ({irregular} of {} differ from the typical one); {renditions}", deltas.len()),
        });
    }
    if !seekable {
        warnings.push(InspectWarning {
            code: WarningCode::NotSeekable,
            message: "timestamps are not reliable enough to seek by; each chunk is decoded from the start of the file (slower, still frame-exact)".to_owned(),
        });
    }
    Timing { frame_rate, variable, seekable, keeps_frame_times, kept_span_seconds }
}
