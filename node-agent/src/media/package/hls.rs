//! HLS text: the segment list ffmpeg's media playlist names, the media playlists rewritten
//! with durations read from the boxes, the I-frame playlists over the same segments, and the
//! master playlist.
//!
//! Durations are written to the microsecond as differences of rounded segment boundaries, so
//! the `EXTINF`s of a playlist add up to the track's length exactly (to the microsecond), and
//! `EXT-X-TARGETDURATION` is the longest `EXTINF` rounded up (at least 1).

use std::fmt::Write as _;

use super::declared_colour::DeclaredColour;
use super::fragments::TrackTiming;
use super::iframes::IFrameRange;
use super::subtitles::PackagedSubtitles;
use super::thumbnails::{IMAGE_PLAYLIST, PackagedThumbnails};
use super::{PackageRendition, PackagedAudio, PackagedRendition};

/// A video rendition's I-frame playlist, beside its media playlist.
pub(super) const IFRAME_PLAYLIST: &str = "iframes.m3u8";

/// The segment files a media playlist names, in order.
pub(super) fn segment_files(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(str::to_owned).collect()
}

/// Where each segment of a media playlist starts, in seconds: the sum of the `EXTINF`
/// durations before it.
pub(super) fn segment_starts(text: &str) -> Vec<f64> {
    let (mut starts, mut at) = (Vec::new(), 0.0);
    for line in text.lines().map(str::trim) {
        if let Some(duration) = line.strip_prefix("#EXTINF:").and_then(|rest| rest.split(',').next()).and_then(|value| value.trim().parse::<f64>().ok()) {
            starts.push(at);
            at += duration;
        }
    }
    starts
}

/// `ticks` of `timescale` in whole microseconds, rounded to nearest.
pub(super) fn micros(ticks: u64, timescale: u32) -> u64 {
    let scale = u128::from(timescale.max(1));
    u64::try_from((u128::from(ticks) * 1_000_000 + scale / 2) / scale).unwrap_or(u64::MAX)
}

/// Microseconds as seconds with six decimals.
pub(super) fn seconds_text(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// Each segment's duration in microseconds: differences of rounded boundaries.
pub(super) fn segment_micros(track: &TrackTiming) -> Vec<u64> {
    let scale = track.init.timescale;
    track.segments.iter().map(|segment| micros(segment.decode_start + segment.duration, scale) - micros(segment.decode_start, scale)).collect()
}

/// A VOD media playlist over `files` with `track`'s durations; `keys`: its `EXT-X-KEY` lines
/// (empty when clear).
pub(super) fn media_playlist_text(track: &TrackTiming, files: &[String], keys: &str) -> String {
    playlist_text(track, files, None, keys)
}

/// A VOD I-frame playlist: one entry per segment, its keyframe's byte range (`iframes`, one
/// per file) and the segment's duration.
pub(super) fn iframe_playlist_text(track: &TrackTiming, files: &[String], iframes: &[IFrameRange], keys: &str) -> String {
    playlist_text(track, files, Some(iframes), keys)
}

fn playlist_text(track: &TrackTiming, files: &[String], iframes: Option<&[IFrameRange]>, keys: &str) -> String {
    let durations = segment_micros(track);
    let longest = durations.iter().copied().max().unwrap_or(0);
    let target = longest.div_ceil(1_000_000).max(1);
    let iframes_only = if iframes.is_some() { "#EXT-X-I-FRAMES-ONLY\n" } else { "" };
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n{iframes_only}{keys}#EXT-X-MAP:URI=\"init.mp4\"\n"
    );
    for (index, (file, duration)) in files.iter().zip(durations).enumerate() {
        let _ = writeln!(text, "#EXTINF:{},", seconds_text(duration));
        if let Some(range) = iframes.and_then(|ranges| ranges.get(index)) {
            let _ = writeln!(text, "#EXT-X-BYTERANGE:{}@{}", range.length, range.offset);
        }
        let _ = writeln!(text, "{file}");
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The master playlist: every audio rendition in one group (`EXT-X-MEDIA` with its
/// language, name, channels, default/autoselect), every subtitle rendition in another, then
/// every video rendition, highest peak bitrate first, its bandwidth counting the largest
/// audio rendition, then each video rendition's I-frame playlist (video only, so its own
/// bandwidth and codec), then the thumbnails' image playlist (`EXT-X-IMAGE-STREAM-INF`, the
/// tile's resolution). Every URI is `media_prefix` (the media folder and a slash, or nothing)
/// followed by the rendition's folder.
pub(super) fn master_playlist_text(
    frame_rate: f64,
    renditions: &[(&PackagedRendition, &PackageRendition)],
    audio: &[PackagedAudio],
    subtitles: &[PackagedSubtitles],
    thumbnails: Option<&PackagedThumbnails>,
    media_prefix: &str,
) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for track in audio {
        let _ = write!(text, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"{}\"", track.label);
        if let Some(language) = &track.language {
            let _ = write!(text, ",LANGUAGE=\"{language}\"");
        }
        let _ = writeln!(
            text,
            ",CHANNELS=\"{}\",DEFAULT={},AUTOSELECT=YES,URI=\"{media_prefix}{}/playlist.m3u8\"",
            track.channels,
            if track.default { "YES" } else { "NO" },
            track.rendition.name
        );
    }
    for PackagedSubtitles { rendition: track, .. } in subtitles {
        let _ = write!(text, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subtitles\",NAME=\"{}\"", track.label);
        if let Some(language) = &track.language {
            let _ = write!(text, ",LANGUAGE=\"{language}\"");
        }
        let _ = writeln!(text, ",DEFAULT={},AUTOSELECT=YES,URI=\"{media_prefix}{}/playlist.m3u8\"", if track.default { "YES" } else { "NO" }, track.name);
    }
    let audio_peak = audio.iter().map(|track| track.rendition.peak_bitrate_bps).max().unwrap_or(0);
    let audio_average = audio.iter().map(|track| track.rendition.average_bitrate_bps).max().unwrap_or(0);
    let mut order = renditions.to_vec();
    order.sort_by_key(|(packaged, _)| std::cmp::Reverse(packaged.peak_bitrate_bps));
    for (packaged, rendition) in order {
        let codecs = match audio.first() {
            Some(track) => format!("{},{}", packaged.codecs, track.rendition.codecs),
            None => packaged.codecs.clone(),
        };
        let _ = write!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{codecs}\",FRAME-RATE={frame_rate:.3},VIDEO-RANGE={}",
            packaged.peak_bitrate_bps + audio_peak,
            packaged.average_bitrate_bps + audio_average,
            rendition.rung.width,
            rendition.rung.height,
            DeclaredColour::video_range(packaged.colour),
        );
        if !audio.is_empty() {
            text.push_str(",AUDIO=\"audio\"");
        }
        if !subtitles.is_empty() {
            text.push_str(",SUBTITLES=\"subtitles\"");
        }
        let _ = writeln!(text, "\n{media_prefix}{}/playlist.m3u8", packaged.name);
    }
    for (packaged, rendition) in renditions {
        if let Some(iframes) = &packaged.iframes {
            let _ = writeln!(
                text,
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\",VIDEO-RANGE={},URI=\"{media_prefix}{}/{IFRAME_PLAYLIST}\"",
                iframes.peak_bitrate_bps,
                iframes.average_bitrate_bps,
                rendition.rung.width,
                rendition.rung.height,
                packaged.codecs,
                DeclaredColour::video_range(packaged.colour),
                packaged.name,
            );
        }
    }
    if let Some(thumbnails) = thumbnails {
        let _ = writeln!(
            text,
            "#EXT-X-IMAGE-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"jpeg\",URI=\"{media_prefix}{}/{IMAGE_PLAYLIST}\"",
            thumbnails.bandwidth_bps.max(1),
            thumbnails.tile_width,
            thumbnails.tile_height,
            thumbnails.name,
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::package::fragments::{InitTiming, SegmentTiming};

    fn track(timescale: u32, durations: &[u64]) -> TrackTiming {
        let mut start = 0;
        let segments = durations
            .iter()
            .map(|&duration| {
                let segment = SegmentTiming { decode_start: start, samples: 1, duration, earliest_presentation: start as i64, signed_offsets: true };
                start += duration;
                segment
            })
            .collect();
        TrackTiming { init: InitTiming { timescale, has_edit_list: false, sample_defaults: Default::default() }, segments }
    }

    #[test]
    fn segment_files_are_the_uri_lines() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000000,\nseg_00000.m4s\n#EXTINF:1.040000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(segment_files(text), vec!["seg_00000.m4s".to_owned(), "seg_00001.m4s".to_owned()]);
        assert_eq!(segment_starts(text), vec![0.0, 2.0]);
    }

    #[test]
    fn durations_add_up_to_the_track_and_the_target_covers_the_longest() {
        // Three AAC frames of 1024 at 44.1 kHz per segment: 69659.86… µs each.
        let track = track(44100, &[3072, 3072, 3072]);
        let text = media_playlist_text(&track, &["a".to_owned(), "b".to_owned(), "c".to_owned()], "");
        let sum: u64 = segment_micros(&track).iter().sum();
        assert_eq!(sum, micros(9216, 44100));
        assert!(text.contains("#EXT-X-TARGETDURATION:1\n") && text.contains("#EXTINF:0.069660,\na\n"), "{text}");
        let long = track_text_target(&[12800 * 2 + 1, 12800]);
        assert_eq!(long, "#EXT-X-TARGETDURATION:3");
    }

    fn track_text_target(durations: &[u64]) -> String {
        let text = media_playlist_text(&track(12800, durations), &vec!["s".to_owned(); durations.len()], "");
        text.lines().find(|line| line.starts_with("#EXT-X-TARGETDURATION")).unwrap_or_default().to_owned()
    }
}
