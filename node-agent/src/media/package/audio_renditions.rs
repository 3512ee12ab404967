//! Which AAC renditions the source's audio tracks become and what players are told about
//! each: one rendition per track at its own channel count (5.1 stays 5.1), plus a stereo
//! downmix of the default track when it has more than two channels. Each is named for players
//! by its title, else its language, else its number (`HLS NAME`, DASH `Label`), unique within
//! the ladder; the source's default track is the default rendition.

use shotfarm_proto::pipeline::AudioRenditionFacts;

use crate::media::probe::Rational;
use crate::media::tracks::AudioTrack;

use super::audio::{AudioEncode, output_sample_rate, samples_within_video, standard_layout};
use super::labels::unique_label;
use super::language_tags::bcp47;

/// One AAC rendition to make: what players are told of it, and its encode.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    pub facts: AudioRenditionFacts,
    pub encode: AudioEncode,
}

/// What the ladder's timing asks of every audio rendition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioTimeline {
    /// The video's frames: the audio ends within one AAC frame before the last one ends.
    pub frames: u64,
    pub frame_rate: Rational,
    /// The bitrate of a stereo rendition; others get the same per channel.
    pub stereo_bitrate_kbps: u32,
}

/// The renditions of `tracks`, in the source's order, each downmix after its track, fitted to
/// a video whose first frame is shown at `video_start_seconds` of the source's timeline.
pub fn plan_audio_renditions(tracks: &[AudioTrack], video_start_seconds: f64, timeline: AudioTimeline) -> Vec<AudioRendition> {
    let mut renditions: Vec<AudioRendition> = Vec::new();
    for track in tracks {
        let channels = track.channels.unwrap_or(2).max(1);
        let base = track.title.clone().or_else(|| track.language.clone()).unwrap_or_else(|| format!("Audio {}", track.audio_index + 1));
        let mut add = |name: String, label: String, channels: u32, downmix: bool, default: bool| {
            let sample_rate = output_sample_rate(track.sample_rate);
            let encode = AudioEncode {
                audio_index: track.audio_index as usize,
                sample_rate,
                video_start_seconds,
                total_samples: samples_within_video(timeline.frames, timeline.frame_rate, sample_rate),
                bitrate_kbps: (timeline.stereo_bitrate_kbps / 2).max(32) * channels,
                downmix_to: downmix.then_some(channels),
                layout: if downmix { None } else { standard_layout(channels) },
            };
            let label = unique_label(&label, |candidate| renditions.iter().any(|rendition| rendition.facts.label == candidate));
            let language = track.language.as_deref().and_then(bcp47);
            let facts = AudioRenditionFacts { name, language, label, channels, default, source_stream: track.stream_index, sample_rate };
            renditions.push(AudioRendition { facts, encode });
        };
        add(format!("audio/a{}", track.audio_index), base.clone(), channels, false, track.default);
        if track.default && channels > 2 {
            add(format!("audio/a{}-stereo", track.audio_index), format!("{base} (stereo)"), 2, true, false);
        }
    }
    renditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(audio_index: u32, channels: u32, language: Option<&str>, title: Option<&str>, default: bool) -> AudioTrack {
        AudioTrack {
            stream_index: audio_index + 1,
            audio_index,
            codec: "aac".to_owned(),
            channels: Some(channels),
            channel_layout: None,
            sample_rate: Some(48000),
            language: language.map(str::to_owned),
            title: title.map(str::to_owned),
            default,
            start_seconds: Some(0.0),
            duration_seconds: None,
        }
    }

    #[test]
    fn every_track_is_a_rendition_and_the_default_surround_one_gets_a_stereo_downmix() {
        let timeline = AudioTimeline { frames: 100, frame_rate: Rational { num: 25, den: 1 }, stereo_bitrate_kbps: 128 };
        let tracks = [track(0, 6, Some("eng"), Some("English \"5.1\""), true), track(1, 2, Some("fra"), None, false), track(2, 6, None, None, false), track(3, 1, Some("fra"), None, false)];
        let renditions = plan_audio_renditions(&tracks, 0.0, timeline);
        type Summary<'a> = (&'a str, &'a str, u32, bool, Option<u32>, u32);
        let summary: Vec<Summary<'_>> = renditions
            .iter()
            .map(|AudioRendition { facts, encode }| (facts.name.as_str(), facts.label.as_str(), facts.channels, facts.default, encode.downmix_to, encode.bitrate_kbps))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("audio/a0", "English  5.1 ", 6, true, None, 384),
                ("audio/a0-stereo", "English  5.1  (stereo)", 2, false, Some(2), 128),
                ("audio/a1", "fra", 2, false, None, 128),
                ("audio/a2", "Audio 3", 6, false, None, 384),
                ("audio/a3", "fra 2", 1, false, None, 64),
            ]
        );
        assert!(renditions.iter().all(|rendition| rendition.encode.total_samples == 187 * 1024));
    }
}
