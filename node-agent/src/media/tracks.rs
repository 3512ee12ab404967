//! The source's audio and subtitle tracks as ffprobe reports them, with what players show
//! for them (language, title, channels, which one is the default). Inspection reports them
//! (`SourceFacts::audio_tracks`, `subtitle_tracks`); the audio task makes one AAC rendition of
//! each audio track and the subtitles task one WebVTT rendition of each text subtitle track
//! (image subtitles, which would need OCR, are skipped with inspection's warning).

use serde::{Deserialize, Serialize};

use super::probe::{ProbeOutput, ProbeStream, parse_number};

/// One audio stream of the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioTrack {
    /// The stream's index in the file.
    pub stream_index: u32,
    /// Its index among the file's audio streams (`0:a:N`).
    pub audio_index: u32,
    pub codec: String,
    pub channels: Option<u32>,
    pub channel_layout: Option<String>,
    pub sample_rate: Option<u32>,
    /// ISO 639 language tag; `None` when absent or `und`.
    pub language: Option<String>,
    pub title: Option<String>,
    /// The track to play when nothing else is asked for: the one the source marks default,
    /// else the first.
    pub default: bool,
    pub start_seconds: Option<f64>,
    pub duration_seconds: Option<f64>,
}

fn non_empty(text: Option<&String>) -> Option<String> {
    text.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

fn track(stream: &ProbeStream, audio_index: u32) -> AudioTrack {
    let tags = stream.tags.clone().unwrap_or_default();
    AudioTrack {
        stream_index: stream.index.unwrap_or(0),
        audio_index,
        codec: stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned()),
        channels: stream.channels,
        channel_layout: non_empty(stream.channel_layout.as_ref()),
        sample_rate: parse_number(stream.sample_rate.as_ref()),
        language: non_empty(tags.language.as_ref()).filter(|language| language != "und"),
        title: non_empty(tags.title.as_ref()),
        default: stream.disposition.as_ref().is_some_and(|disposition| disposition.default != 0),
        start_seconds: parse_number(stream.start_time.as_ref()),
        duration_seconds: parse_number(stream.duration.as_ref()),
    }
}

/// Every audio stream of the probed file in order; exactly one is `default`.
pub fn audio_tracks(probe: &ProbeOutput) -> Vec<AudioTrack> {
    let mut tracks: Vec<AudioTrack> = probe.streams.iter().filter(|stream| stream.is_audio()).zip(0..).map(|(stream, index)| track(stream, index)).collect();
    let default = tracks.iter().position(|track| track.default).unwrap_or(0);
    for (index, track) in tracks.iter_mut().enumerate() {
        track.default = index == default;
    }
    tracks
}

/// Subtitle codecs ffmpeg converts to WebVTT (text, with or without styling).
const TEXT_SUBTITLE_CODECS: [&str; 14] =
    ["subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer", "subviewer1", "sami", "realtext", "mpl2", "vplayer"];

/// One subtitle stream of the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleTrack {
    pub stream_index: u32,
    /// Its index among the file's subtitle streams (`0:s:N`).
    pub subtitle_index: u32,
    pub codec: String,
    pub language: Option<String>,
    pub title: Option<String>,
    /// The source marks it to be shown when nothing else is asked for.
    pub default: bool,
    /// Text (converted to WebVTT) rather than pictures (PGS, DVB, DVD: skipped).
    pub text: bool,
}

/// Every subtitle stream of the probed file in order.
pub fn subtitle_tracks(probe: &ProbeOutput) -> Vec<SubtitleTrack> {
    probe
        .streams
        .iter()
        .filter(|stream| stream.codec_type.as_deref() == Some("subtitle"))
        .zip(0..)
        .map(|(stream, subtitle_index)| {
            let tags = stream.tags.clone().unwrap_or_default();
            let codec = stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned());
            SubtitleTrack {
                stream_index: stream.index.unwrap_or(0),
                subtitle_index,
                text: TEXT_SUBTITLE_CODECS.contains(&codec.as_str()),
                codec,
                language: non_empty(tags.language.as_ref()).filter(|language| language != "und"),
                title: non_empty(tags.title.as_ref()),
                default: stream.disposition.as_ref().is_some_and(|disposition| disposition.default != 0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_keep_their_tags_and_one_is_default() {
        let json = r#"{"streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264"},
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2, "sample_rate": "48000", "tags": {"language": "und"}, "disposition": {"default": 0}},
            {"index": 2, "codec_type": "audio", "codec_name": "ac3", "channels": 6, "channel_layout": "5.1(side)", "tags": {"language": "fra", "title": "Français 5.1", "handler_name": "x"}, "disposition": {"default": 1}}
        ]}"#;
        let probe: ProbeOutput = serde_json::from_str(json).expect("parses");
        let tracks = audio_tracks(&probe);
        assert_eq!(tracks.len(), 2);
        assert_eq!((tracks[0].audio_index, tracks[0].language.as_deref(), tracks[0].default), (0, None, false));
        assert_eq!((tracks[1].stream_index, tracks[1].audio_index, tracks[1].channels), (2, 1, Some(6)));
        assert_eq!((tracks[1].language.as_deref(), tracks[1].title.as_deref(), tracks[1].default), (Some("fra"), Some("Français 5.1"), true));
        let no_default: ProbeOutput = serde_json::from_str(r#"{"streams": [{"codec_type": "audio"}, {"codec_type": "audio"}]}"#).expect("parses");
        assert_eq!(audio_tracks(&no_default).iter().map(|track| track.default).collect::<Vec<_>>(), vec![true, false]);
    }

    #[test]
    fn text_subtitles_are_told_from_pictures() {
        let json = r#"{"streams": [
            {"index": 0, "codec_type": "video"},
            {"index": 3, "codec_type": "subtitle", "codec_name": "mov_text", "tags": {"language": "eng"}, "disposition": {"default": 1}},
            {"index": 4, "codec_type": "subtitle", "codec_name": "hdmv_pgs_subtitle", "tags": {"language": "deu"}},
            {"index": 5, "codec_type": "subtitle", "codec_name": "ass"}
        ]}"#;
        let probe: ProbeOutput = serde_json::from_str(json).expect("parses");
        let summary: Vec<(u32, u32, bool, bool)> = subtitle_tracks(&probe).iter().map(|track| (track.stream_index, track.subtitle_index, track.text, track.default)).collect();
        assert_eq!(summary, vec![(3, 0, true, true), (4, 1, false, false), (5, 2, true, false)]);
    }
}
