//! Files that are not videos, refused with their own code and a message that says what they
//! are: a still picture (`still_image`: a PNG, a JPEG, a one-frame GIF, a "video" of a single
//! frame), audio with or without a cover picture, a file of subtitles only (`no_video_stream`).
//!
//! The farm's ffprobe refuses picture and audio demuxers at the probe (they are not on
//! [`shotfarm_kernels::decode::input_pins`]' list). To say what such a file is, it is probed a
//! second time with exactly one single-file demuxer forced (`-f png_pipe`, `-f mp3`…): never
//! `image2`, which expands `%d` patterns into sequences of other files; a picture that `image2`
//! claimed by its extension is named by its first bytes instead.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::media::probe::{ProbeError, ProbeOutput, ProbeStream, parse_number, probe_as};
use super::findings::{InspectError, RejectionCode, reject};

/// Picture demuxers that read one file as one picture (or one GIF), with the name a user knows.
const PICTURE_DEMUXERS: &[(&str, &str)] = &[
    ("png_pipe", "PNG"),
    ("jpeg_pipe", "JPEG"),
    ("gif", "GIF"),
    ("webp_pipe", "WebP"),
    ("bmp_pipe", "BMP"),
    ("tiff_pipe", "TIFF"),
];

/// Audio-only demuxers: a file they read is described, never decoded.
const AUDIO_DEMUXERS: &[&str] = &["mp3", "wav", "flac", "ogg", "aac", "aiff", "w64"];

/// What a file read by the refused `demuxer` holds, as a rejection of its own; `None` when it
/// is none of the kinds above (the caller keeps `format_not_allowed`).
pub(super) async fn describe_refused_format(demuxer: &str, source: &Path, cancel: &CancellationToken) -> Option<InspectError> {
    let forced = match demuxer {
        "image2" => picture_demuxer_by_magic(source).await?,
        known if PICTURE_DEMUXERS.iter().any(|(name, _)| *name == known) || AUDIO_DEMUXERS.contains(&known) => known,
        _ => return None,
    };
    let probe = match probe_as(source, forced, cancel).await {
        Ok(probe) => probe,
        Err(ProbeError::Tool(error)) if error.is_cancelled() => return Some(InspectError::Cancelled),
        Err(_) => return None,
    };
    let pictures: Vec<&ProbeStream> = probe.streams.iter().filter(|stream| stream.codec_type.as_deref() == Some("video")).collect();
    let has_audio = probe.streams.iter().any(ProbeStream::is_audio);
    if has_audio {
        // An audio container with moving pictures (Ogg Theora) is a video in a format the farm
        // does not take: the caller's `format_not_allowed` says so.
        let moving = pictures.iter().any(|stream| stream.is_video() && parse_number::<u64>(stream.nb_read_packets.as_ref()).unwrap_or(0) > 1);
        return (!moving).then(|| no_video_stream(&probe));
    }
    let kind = PICTURE_DEMUXERS.iter().find(|(name, _)| *name == forced).map(|(_, kind)| *kind)?;
    let [picture] = pictures[..] else { return None };
    let packets: u64 = parse_number(picture.nb_read_packets.as_ref()).unwrap_or(1);
    let size = picture_size(picture);
    if packets > 1 {
        return Some(reject(
            RejectionCode::FormatNotAllowed,
            format!("the file is an animated {size} {kind} of {packets} frames; {kind} is not accepted as a video container"),
            "convert it to a video first, e.g. ffmpeg -i FILE -pix_fmt yuv420p video.mp4",
        ));
    }
    Some(still_image(format!("the file is a single {size} {kind} image, not a video")))
}

/// The rejection of a probe with no video stream, saying what the file holds instead.
pub(super) fn no_video_stream(probe: &ProbeOutput) -> InspectError {
    reject(RejectionCode::NoVideoStream, format!("the file has no video stream: it holds {}", describe_streams(probe)), "submit a file that contains video")
}

/// The rejection of a video stream that decodes to a single frame.
pub(super) fn single_frame(video: &ProbeStream, container: &str) -> InspectError {
    still_image(format!(
        "the video stream ({} in {container}) holds a single {} frame: a still picture, not a video",
        video.codec_name.as_deref().unwrap_or("unknown codec"),
        picture_size(video)
    ))
}

fn still_image(message: String) -> InspectError {
    reject(RejectionCode::StillImage, message, "give a video file; to make one of a picture, e.g. ffmpeg -loop 1 -i PICTURE -t 5 -pix_fmt yuv420p video.mp4")
}

fn picture_size(stream: &ProbeStream) -> String {
    format!("{}x{}", stream.width.unwrap_or(0), stream.height.unwrap_or(0))
}

/// `audio (mp3, 3.2 s) with a cover picture (640x480 mjpeg)`, `only subtitles (ass)`… Every
/// video stream of a file without video is a cover picture (the callers make sure of it).
fn describe_streams(probe: &ProbeOutput) -> String {
    let mut contents = Vec::new();
    let mut covers = Vec::new();
    for stream in &probe.streams {
        let codec = stream.codec_name.as_deref().unwrap_or("unknown codec");
        match stream.codec_type.as_deref() {
            Some("audio") => {
                let seconds = parse_number::<f64>(stream.duration.as_ref())
                    .or_else(|| probe.format.as_ref().and_then(|format| parse_number::<f64>(format.duration.as_ref())));
                contents.push(match seconds {
                    Some(seconds) => format!("audio ({codec}, {seconds:.1} s)"),
                    None => format!("audio ({codec})"),
                });
            }
            Some("video") => covers.push(format!("{} {codec}", picture_size(stream))),
            Some("subtitle") => contents.push(format!("subtitles ({codec})")),
            Some(other) => contents.push(format!("a {other} stream ({codec})")),
            None => contents.push(format!("a stream of unknown type ({codec})")),
        }
    }
    let covers = if covers.is_empty() { None } else { Some(format!("a cover picture ({})", covers.join(", "))) };
    match (contents.is_empty(), covers) {
        (true, None) => "no streams at all".to_owned(),
        (true, Some(covers)) => format!("only {covers}"),
        (false, None) if probe.streams.iter().all(|stream| stream.codec_type.as_deref() != Some("audio")) => format!("only {}", contents.join(", ")),
        (false, None) => contents.join(", "),
        (false, Some(covers)) => format!("{} with {covers}", contents.join(", ")),
    }
}

/// The picture demuxer for a file `image2` claimed by its extension, named by its first bytes.
async fn picture_demuxer_by_magic(source: &Path) -> Option<&'static str> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(source).await.ok()?;
    let mut head = [0u8; 12];
    let read = file.read(&mut head).await.ok()?;
    let head = &head[..read];
    let demuxer = if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpeg_pipe"
    } else if head.starts_with(b"\x89PNG") {
        "png_pipe"
    } else if head.starts_with(b"GIF8") {
        "gif"
    } else if head.starts_with(b"BM") {
        "bmp_pipe"
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        "webp_pipe"
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        "tiff_pipe"
    } else {
        return None;
    };
    Some(demuxer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::probe::{ProbeDisposition, ProbeFormat};

    fn stream(kind: &str, codec: &str) -> ProbeStream {
        ProbeStream { codec_type: Some(kind.into()), codec_name: Some(codec.into()), ..Default::default() }
    }

    #[test]
    fn streams_are_described_as_found() {
        let audio = ProbeStream { duration: Some("3.239".into()), ..stream("audio", "mp3") };
        let cover = ProbeStream { width: Some(640), height: Some(480), disposition: Some(ProbeDisposition { attached_pic: 1, ..Default::default() }), ..stream("video", "mjpeg") };
        let probe = ProbeOutput { streams: vec![audio.clone(), cover.clone()], format: None };
        assert_eq!(describe_streams(&probe), "audio (mp3, 3.2 s) with a cover picture (640x480 mjpeg)");
        let probe = ProbeOutput { streams: vec![stream("audio", "flac")], format: Some(ProbeFormat { duration: Some("12.0".into()), ..Default::default() }) };
        assert_eq!(describe_streams(&probe), "audio (flac, 12.0 s)");
        assert_eq!(describe_streams(&ProbeOutput { streams: vec![stream("subtitle", "ass")], format: None }), "only subtitles (ass)");
        assert_eq!(describe_streams(&ProbeOutput { streams: vec![cover], format: None }), "only a cover picture (640x480 mjpeg)");
        assert_eq!(describe_streams(&ProbeOutput::default()), "no streams at all");
    }
}
