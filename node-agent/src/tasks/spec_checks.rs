//! What a spec must hold before any media work: a rung name safe to use as a key segment and
//! a directory name, an audio rendition safe to name folders and playlist entries after, a
//! positive frame rate, and a chunk of frames inside the source.

use shotfarm_proto::pipeline::{AudioRenditionFacts, Chunk, SourceSummary};

use super::TaskError;
use crate::media::package::audio::AAC_SAMPLE_RATES;
use crate::media::package::labels::is_playlist_label;
use crate::media::package::language_tags::is_language_tag;
use crate::media::probe::Rational;

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

/// The audio renditions as the audio task reports them, before packaging makes folders of
/// their names and playlist entries of the rest: each as [`check_audio_rendition`] says, no
/// name or label twice (HLS `NAME` is unique within its group), at most one default.
pub fn check_audio_renditions<'a>(renditions: impl IntoIterator<Item = &'a AudioRenditionFacts>) -> Result<(), TaskError> {
    let renditions: Vec<&AudioRenditionFacts> = renditions.into_iter().collect();
    for (position, facts) in renditions.iter().enumerate() {
        check_audio_rendition(facts)?;
        if let Some(earlier) = renditions[..position].iter().find(|earlier| earlier.name == facts.name || earlier.label == facts.label) {
            return Err(TaskError::final_error(format!(
                "audio renditions {} and {} share a name or the label {:?}; the audio task names and labels each once",
                earlier.name, facts.name, facts.label
            )));
        }
    }
    if renditions.iter().filter(|facts| facts.default).count() > 1 {
        return Err(TaskError::final_error("more than one audio rendition is the default; the audio task marks the source's default track alone"));
    }
    Ok(())
}

/// One audio rendition: named `audio/a<N>` or `audio/a<N>-stereo`, a label a playlist's quoted
/// string holds (1 to 256 characters, no quotes or control characters), a language of 1 to 35
/// letters, digits and '-', 1 to 64 channels, a rate AAC carries.
fn check_audio_rendition(facts: &AudioRenditionFacts) -> Result<(), TaskError> {
    let stream = facts.name.strip_prefix("audio/a").map(|rest| rest.strip_suffix("-stereo").unwrap_or(rest));
    let named = stream.is_some_and(|number| !number.is_empty() && number.len() <= 5 && number.bytes().all(|byte| byte.is_ascii_digit()));
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
        for name in ["", "../x", "a/b", "audio", "a b", &"x".repeat(65)] {
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
}
