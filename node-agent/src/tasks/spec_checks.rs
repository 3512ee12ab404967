//! What a spec must hold before any media work: a rung name safe to use as a key segment and
//! a directory name, a positive frame rate, and a chunk of frames inside the source.

use shotfarm_proto::pipeline::{Chunk, SourceSummary};

use super::TaskError;
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
}
