//! What a spec must hold before any media work: a rung name safe to use as a key segment and
//! a directory name, audio and subtitle renditions safe to name folders and playlist entries
//! after, a positive frame rate, and a chunk of frames inside the source.

use shotfarm_proto::pipeline::{AudioRenditionFacts, Chunk, SourceSummary, SubtitleRenditionFacts};

use super::TaskError;
use crate::media::package::audio::AAC_SAMPLE_RATES;
use crate::media::package::labels::is_playlist_label;
use crate::media::package::language_tags::is_language_tag;
use crate::media::probe::Rational;

/// The folders packaging puts beside the video renditions, which no rung may be named.
const PACKAGING_FOLDERS: [&str; 3] = ["audio", "subtitles", "thumbnails"];

/// A rung name is one key segment and one directory: 1 to 64 of `[A-Za-z0-9_-]`, not one of
/// packaging's own folders ([`PACKAGING_FOLDERS`]).
pub fn check_rung_name(name: &str) -> Result<(), TaskError> {
    let well_formed = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed || PACKAGING_FOLDERS.contains(&name) {
        return Err(TaskError::final_error(format!(
            "rung name {name:?} cannot name a rendition; use 1 to 64 letters, digits, '_' or '-' (not {}), e.g. h264_720p",
            PACKAGING_FOLDERS.join(", ")
        )));
    }
    Ok(())
}

/// Renditions of one kind as `reporter` reported them (name, label, default): no name or label
/// twice (HLS `NAME` is unique within its group), at most one default.
fn check_one_of_each(kind: &str, reporter: &str, renditions: &[(&str, &str, bool)]) -> Result<(), TaskError> {
    for (position, (name, label, _)) in renditions.iter().enumerate() {
        if let Some((earlier, ..)) = renditions[..position].iter().find(|(earlier_name, earlier_label, _)| earlier_name == name || earlier_label == label) {
            return Err(TaskError::final_error(format!("{kind} renditions {earlier} and {name} share a name or the label {label:?}; {reporter} names and labels each once")));
        }
    }
    if renditions.iter().filter(|(.., default)| *default).count() > 1 {
        return Err(TaskError::final_error(format!("more than one {kind} rendition is the default; {reporter} marks the source's first default track alone")));
    }
    Ok(())
}

/// `name` is `<prefix><N>` with N a stream number of 1 to 5 digits; N.
fn stream_number(name: &str, prefix: &str) -> Option<u32> {
    let number = name.strip_prefix(prefix)?;
    let digits = !number.is_empty() && number.len() <= 5 && number.bytes().all(|byte| byte.is_ascii_digit());
    digits.then(|| number.parse().ok()).flatten()
}

/// The subtitle renditions as the subtitles task reports them, before packaging makes folders
/// of their names and playlist entries of the rest: each named `subtitles/s<N>` after its
/// subtitle stream N, with a label a playlist's quoted string holds and a language tag, no
/// name or label twice, at most one default.
pub fn check_subtitle_renditions<'a>(renditions: impl IntoIterator<Item = &'a SubtitleRenditionFacts>) -> Result<(), TaskError> {
    let renditions: Vec<&SubtitleRenditionFacts> = renditions.into_iter().collect();
    for facts in &renditions {
        let problem = if stream_number(&facts.name, "subtitles/s") != Some(facts.subtitle_index) {
            "its name is not subtitles/s<N>, N its subtitle stream's index"
        } else if !is_playlist_label(&facts.label) {
            "its label is empty, longer than 256 characters, or holds a quote or a control character"
        } else if !facts.language.as_deref().is_none_or(is_language_tag) {
            "its language is not a tag of 1 to 35 letters, digits and '-'"
        } else {
            continue;
        };
        return Err(TaskError::final_error(format!("subtitle rendition {:?} cannot be packaged: {problem}; the subtitles task reports the renditions it made", facts.name)));
    }
    let summary: Vec<(&str, &str, bool)> = renditions.iter().map(|facts| (facts.name.as_str(), facts.label.as_str(), facts.default)).collect();
    check_one_of_each("subtitle", "the subtitles task", &summary)
}

/// The audio renditions as the audio task reports them, before packaging makes folders of
/// their names and playlist entries of the rest: each as [`check_audio_rendition`] says, no
/// name or label twice (HLS `NAME` is unique within its group), at most one default.
pub fn check_audio_renditions<'a>(renditions: impl IntoIterator<Item = &'a AudioRenditionFacts>) -> Result<(), TaskError> {
    let renditions: Vec<&AudioRenditionFacts> = renditions.into_iter().collect();
    for facts in &renditions {
        check_audio_rendition(facts)?;
    }
    let summary: Vec<(&str, &str, bool)> = renditions.iter().map(|facts| (facts.name.as_str(), facts.label.as_str(), facts.default)).collect();
    check_one_of_each("audio", "the audio task", &summary)
}

/// One audio rendition: named `audio/a<N>` or `audio/a<N>-stereo`, a label a playlist's quoted
/// string holds (1 to 256 characters, no quotes or control characters), a language of 1 to 35
/// letters, digits and '-', 1 to 64 channels, a rate AAC carries.
fn check_audio_rendition(facts: &AudioRenditionFacts) -> Result<(), TaskError> {
    let named = stream_number(facts.name.strip_suffix("-stereo").unwrap_or(&facts.name), "audio/a").is_some();
    let problem = if !named {
        "its name is not audio/a<N> or audio/a<N>-stereo"
    } else if !is_playlist_label(&facts.label) {
        "its label is empty, longer than 256 characters, or holds a quote or a control character"
    } else if !facts.language.as_deref().is_none_or(is_language_tag) {
        "its language is not a tag of 1 to 35 letters, digits and '-'"
    } else if !(1..=64).contains(&facts.channels) {
        "it has no channels or more than 64"
    } else if !AAC_SAMPLE_RATES.contains(&facts.sample_rate) {
        "its sample rate is not one AAC carries"
    } else {
        return Ok(());
    };
    Err(TaskError::final_error(format!("audio rendition {:?} cannot be packaged: {problem}; the audio task reports the renditions it made", facts.name)))
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

/// A chunk of at least one frame, ending within the source.
pub fn check_chunk_in_source(chunk: &Chunk, source: &SourceSummary) -> Result<(), TaskError> {
    if chunk.frames() == 0 || chunk.end_frame > source.frames {
        return Err(TaskError::final_error(format!(
            "chunk {} is frames {}..{} of a {}-frame source; the plan is inconsistent",
            chunk.index, chunk.start_frame, chunk.end_frame, source.frames
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_rung_names_are_refused() {
        for name in ["", "../x", "a/b", "audio", "subtitles", "thumbnails", "a b", &"x".repeat(65)] {
            assert!(check_rung_name(name).unwrap_err().is_final(), "{name:?}");
        }
        check_rung_name("h264_1080p").unwrap();
    }

    #[test]
    fn audio_renditions_that_could_escape_a_folder_or_a_playlist_or_clash_are_refused() {
        let good = AudioRenditionFacts {
            name: "audio/a1-stereo".to_owned(),
            language: Some("pt-BR".to_owned()),
            label: "Português (stereo)".to_owned(),
            channels: 2,
            default: false,
            source_stream: 2,
            sample_rate: 44100,
        };
        let other = AudioRenditionFacts { name: "audio/a0".to_owned(), language: None, label: "Audio 1".to_owned(), default: true, ..good.clone() };
        check_audio_renditions([&good, &other]).unwrap();
        let bad = [
            AudioRenditionFacts { name: "audio/../../etc".to_owned(), ..good.clone() },
            AudioRenditionFacts { name: "audio/a".to_owned(), ..good.clone() },
            AudioRenditionFacts { name: "audio/a1/x".to_owned(), ..good.clone() },
            AudioRenditionFacts { name: "h264_720p".to_owned(), ..good.clone() },
            AudioRenditionFacts { label: "x\",URI=\"http://evil".to_owned(), ..good.clone() },
            AudioRenditionFacts { label: "two\nlines".to_owned(), ..good.clone() },
            AudioRenditionFacts { label: String::new(), ..good.clone() },
            AudioRenditionFacts { language: Some("en\"".to_owned()), ..good.clone() },
            AudioRenditionFacts { channels: 0, ..good.clone() },
            AudioRenditionFacts { sample_rate: 44056, ..good.clone() },
        ];
        for facts in bad {
            assert!(check_audio_renditions([&facts]).unwrap_err().is_final(), "{facts:?}");
        }
        let twice = [
            [&good, &AudioRenditionFacts { label: "Other".to_owned(), ..good.clone() }],
            [&good, &AudioRenditionFacts { name: "audio/a7".to_owned(), ..good.clone() }],
            [&other, &AudioRenditionFacts { name: "audio/a7".to_owned(), label: "Other".to_owned(), ..other.clone() }],
        ];
        for pair in twice {
            assert!(check_audio_renditions(pair).unwrap_err().is_final(), "{pair:?}");
        }
    }

    #[test]
    fn subtitle_renditions_that_could_escape_a_folder_or_a_playlist_or_clash_are_refused() {
        let good = SubtitleRenditionFacts {
            name: "subtitles/s3".to_owned(),
            language: Some("fr-CA".to_owned()),
            label: "Français".to_owned(),
            default: true,
            source_stream: 5,
            subtitle_index: 3,
            source_codec: "ass".to_owned(),
        };
        let other = SubtitleRenditionFacts { name: "subtitles/s0".to_owned(), subtitle_index: 0, label: "English".to_owned(), default: false, language: None, ..good.clone() };
        check_subtitle_renditions([&good, &other]).unwrap();
        check_subtitle_renditions([]).unwrap();
        let bad = [
            SubtitleRenditionFacts { name: "subtitles/../../etc".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { name: "subtitles/s4".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { name: "subtitles/s".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { name: "audio/a3".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { name: "subtitles/s3/x".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { label: "x\",URI=\"http://evil".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { label: "two\rlines".to_owned(), ..good.clone() },
            SubtitleRenditionFacts { label: String::new(), ..good.clone() },
            SubtitleRenditionFacts { language: Some("fr ca".to_owned()), ..good.clone() },
        ];
        for facts in bad {
            assert!(check_subtitle_renditions([&facts]).unwrap_err().is_final(), "{facts:?}");
        }
        let twice = [
            [&good, &SubtitleRenditionFacts { label: "Other".to_owned(), default: false, ..good.clone() }],
            [&other, &SubtitleRenditionFacts { name: "subtitles/s7".to_owned(), subtitle_index: 7, ..other.clone() }],
            [&good, &SubtitleRenditionFacts { name: "subtitles/s7".to_owned(), subtitle_index: 7, label: "Other".to_owned(), ..good.clone() }],
        ];
        for pair in twice {
            assert!(check_subtitle_renditions(pair).unwrap_err().is_final(), "{pair:?}");
        }
    }
}
