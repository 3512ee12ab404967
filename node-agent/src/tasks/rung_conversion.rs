//! `pipeline::Rung` (the wire contract) ⇄ `media::ladder::Rung` (what the media stages take),
//! and the rule that makes a rung name safe to use as a key segment and a directory name.

use shotfarm_proto::pipeline::{Codec, Rung as PipelineRung, SourceSummary};

use super::TaskError;
use crate::media::ladder::{Rung as MediaRung, VideoCodec};
use crate::media::probe::Rational;

pub fn video_codec(codec: Codec) -> VideoCodec {
    match codec {
        Codec::H264 => VideoCodec::H264,
        Codec::Hevc => VideoCodec::H265,
        Codec::Av1 => VideoCodec::Av1,
    }
}

pub fn pipeline_codec(codec: VideoCodec) -> Codec {
    match codec {
        VideoCodec::H264 => Codec::H264,
        VideoCodec::H265 => Codec::Hevc,
        VideoCodec::Av1 => Codec::Av1,
    }
}

/// A rung name is one key segment and one directory: 1 to 64 of `[A-Za-z0-9_-]`, not
/// `audio` (packaging's audio rendition directory).
pub fn check_rung_name(name: &str) -> Result<(), TaskError> {
    let well_formed = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed || name == "audio" {
        return Err(TaskError::final_error(format!(
            "rung name {name:?} cannot name a rendition; use 1 to 64 letters, digits, '_' or '-' (not \"audio\"), e.g. h264_720p"
        )));
    }
    Ok(())
}

/// The media stages' rung for a spec's rung (name checked).
pub fn media_rung(rung: &PipelineRung) -> Result<MediaRung, TaskError> {
    check_rung_name(&rung.name)?;
    Ok(MediaRung {
        name: rung.name.clone(),
        width: rung.width,
        height: rung.height,
        codec: video_codec(rung.codec),
        bitrate_kbps: rung.bitrate_kbps,
        maxrate_kbps: rung.maxrate_kbps,
        bufsize_kbits: rung.bufsize_kbps,
    })
}

/// The spec's rung for a media rung, renamed (`720p` → `h264_720p`, unique across codecs).
pub fn pipeline_rung(rung: &MediaRung) -> PipelineRung {
    let codec = pipeline_codec(rung.codec);
    PipelineRung {
        name: format!("{}_{}", codec.as_str(), rung.name),
        codec,
        width: rung.width,
        height: rung.height,
        bitrate_kbps: rung.bitrate_kbps,
        maxrate_kbps: rung.maxrate_kbps,
        bufsize_kbps: rung.bufsize_kbits,
    }
}

/// The source's constant output rate.
pub fn frame_rate(source: &SourceSummary) -> Result<Rational, TaskError> {
    if source.frame_rate_num == 0 || source.frame_rate_den == 0 {
        return Err(TaskError::final_error(format!(
            "the source summary has frame rate {}/{}; inspection must report a positive rate",
            source.frame_rate_num, source.frame_rate_den
        )));
    }
    Ok(Rational { num: source.frame_rate_num, den: source.frame_rate_den })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_round_trip_with_codec_prefixed_names() {
        let media = MediaRung { name: "720p".into(), width: 1280, height: 720, codec: VideoCodec::H265, bitrate_kbps: 2100, maxrate_kbps: 3150, bufsize_kbits: 4200 };
        let wire = pipeline_rung(&media);
        assert_eq!((wire.name.as_str(), wire.codec, wire.bufsize_kbps), ("hevc_720p", Codec::Hevc, 4200));
        let back = media_rung(&wire).unwrap();
        assert_eq!(back, MediaRung { name: "hevc_720p".into(), ..media });
    }

    #[test]
    fn unsafe_rung_names_are_refused() {
        for name in ["", "../x", "a/b", "audio", "a b", &"x".repeat(65)] {
            assert!(check_rung_name(name).unwrap_err().is_final(), "{name:?}");
        }
        check_rung_name("h264_1080p").unwrap();
    }
}
