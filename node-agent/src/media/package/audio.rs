//! The AAC encode of one source audio stream, fitted to the video's timeline so that audio
//! and video start together at presentation time 0 and end together within one AAC frame,
//! with no edit list (players such as hls.js ignore them):
//!
//! 1. **Sync.** Timestamps are kept as the source has them (`-copyts`) and moved so that the
//!    video stream's first frame is time 0; `aresample=async=1:first_pts=0` then pads with
//!    silence an audio stream that starts later than the video and trims one that starts
//!    earlier (and fills gaps inside it).
//! 2. **Priming.** ffmpeg's AAC encoder puts 1024 samples of priming before the first input
//!    sample, and without an edit list they are on the timeline: decoded sample `k` is input
//!    sample `k - 1024`. So the encoder's input starts 1024 samples in (`atrim=start_sample`):
//!    decoded sample `k` is then the source's sample `k` for every `k ≥ 1024`, and the first
//!    21 ms (at 48 kHz) are the priming's near-silence instead of the source's.
//! 3. **Length.** The output holds a whole number of AAC frames, as many as end at or before
//!    the video's end: padded with silence (`apad`) or trimmed (`atrim=end_sample`) to that.
//!    The audio therefore never outlasts the video (whose length the MPD declares) and ends
//!    less than one frame (21 ms at 48 kHz) before it.

use std::path::Path;

use shotfarm_kernels::decode::input_pins::pinned_input;

use crate::media::probe::Rational;

/// Samples in one AAC-LC frame.
pub const AAC_FRAME_SAMPLES: u64 = 1024;
/// Samples of priming ffmpeg's AAC encoder puts before the first input sample.
const AAC_PRIMING_SAMPLES: u64 = 1024;
/// Sample rates AAC (and ffmpeg's encoder) can carry; anything else is resampled to 48 kHz.
pub const AAC_SAMPLE_RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// How one audio stream is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioEncode {
    /// Index among the source's audio streams (`0:a:N`).
    pub audio_index: usize,
    pub sample_rate: u32,
    /// Seconds of the source's timeline at which the video's first frame is shown.
    pub video_start_seconds: f64,
    /// Samples of the output, priming included: a whole number of AAC frames.
    pub total_samples: u64,
    pub bitrate_kbps: u32,
    /// Channels to downmix to (`-ac`); `None` keeps the source's channels.
    pub downmix_to: Option<u32>,
    /// The channel layout to carry ([`standard_layout`]); `None` keeps the source's.
    pub layout: Option<&'static str>,
}

/// The AAC channel configuration a source's channel count is carried as, where one is
/// standard and means the same speakers whatever the source's variant: 5.1(side) and 5.1
/// both become 5.1 (configuration 6), which every player knows, rather than a layout ffmpeg
/// can only describe in a program config element. Other counts keep the source's layout.
pub fn standard_layout(channels: u32) -> Option<&'static str> {
    match channels {
        1 => Some("mono"),
        2 => Some("stereo"),
        6 => Some("5.1"),
        8 => Some("7.1"),
        _ => None,
    }
}

/// The rate the AAC rendition is encoded at: the source's when AAC can carry it.
pub fn output_sample_rate(source_rate: Option<u32>) -> u32 {
    source_rate.filter(|rate| AAC_SAMPLE_RATES.contains(rate)).unwrap_or(48000)
}

/// The samples of whole AAC frames that end at or before `frames` video frames at
/// `frame_rate` (at least one frame).
pub fn samples_within_video(frames: u64, frame_rate: Rational, sample_rate: u32) -> u64 {
    let samples = u128::from(frames) * u128::from(frame_rate.den) * u128::from(sample_rate) / u128::from(frame_rate.num.max(1));
    let whole = (samples / u128::from(AAC_FRAME_SAMPLES)).max(1) * u128::from(AAC_FRAME_SAMPLES);
    u64::try_from(whole).unwrap_or(u64::MAX)
}

impl AudioEncode {
    /// The `-af` graph of the module docs.
    pub fn filter_graph(&self) -> String {
        let encoded = self.total_samples.saturating_sub(AAC_PRIMING_SAMPLES).max(1);
        let layout = self.layout.map(|layout| format!(",aformat=channel_layouts={layout}")).unwrap_or_default();
        format!(
            "asetpts=PTS-({start:.6})/TB,aresample={rate}:async=1:first_pts=0,atrim=start_sample={AAC_PRIMING_SAMPLES},asetpts=PTS-STARTPTS,apad,atrim=end_sample={encoded}{layout}",
            start = self.video_start_seconds,
            rate = self.sample_rate,
        )
    }

    /// ffmpeg's arguments up to (not including) the muxer's: input, map, filter, encoder.
    pub fn ffmpeg_args(&self, source: &Path) -> Vec<String> {
        let mut args = vec!["-copyts".to_owned()];
        args.extend(pinned_input(source));
        args.extend([
            "-map".to_owned(),
            format!("0:a:{}", self.audio_index),
            "-vn".to_owned(),
            "-sn".to_owned(),
            "-dn".to_owned(),
            "-af".to_owned(),
            self.filter_graph(),
        ]);
        if let Some(channels) = self.downmix_to {
            args.extend(["-ac".to_owned(), channels.to_string()]);
        }
        args.extend([
            "-c:a".to_owned(),
            "aac".to_owned(),
            "-b:a".to_owned(),
            format!("{}k", self.bitrate_kbps),
        ]);
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audio_ends_within_one_frame_before_the_video() {
        // 12 s at 25 fps = 576000 samples at 48 kHz = 562.5 frames: 562 whole frames.
        assert_eq!(samples_within_video(300, Rational { num: 25, den: 1 }, 48000), 562 * 1024);
        // 10 s at 29.97 fps (300 frames) = 10.01 s = 441441 samples at 44.1 kHz → 431 frames.
        assert_eq!(samples_within_video(300, Rational { num: 30000, den: 1001 }, 44100), 431 * 1024);
        assert_eq!(samples_within_video(1, Rational { num: 25, den: 1 }, 8000), 1024);
    }

    #[test]
    fn unusual_rates_are_resampled() {
        assert_eq!(output_sample_rate(Some(44100)), 44100);
        assert_eq!(output_sample_rate(Some(44056)), 48000);
        assert_eq!(output_sample_rate(None), 48000);
    }

    #[test]
    fn the_graph_skips_the_priming_and_stops_at_the_last_whole_frame() {
        let encode = AudioEncode { audio_index: 1, sample_rate: 48000, video_start_seconds: 0.08, total_samples: 562 * 1024, bitrate_kbps: 128, downmix_to: None, layout: Some("5.1") };
        assert_eq!(
            encode.filter_graph(),
            "asetpts=PTS-(0.080000)/TB,aresample=48000:async=1:first_pts=0,atrim=start_sample=1024,asetpts=PTS-STARTPTS,apad,atrim=end_sample=574464,aformat=channel_layouts=5.1"
        );
        assert!(encode.ffmpeg_args(Path::new("/in.mp4")).windows(2).any(|pair| pair[0] == "-map" && pair[1] == "0:a:1"));
    }
}
