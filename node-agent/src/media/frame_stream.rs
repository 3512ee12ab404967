//! A frame artifact's frames read one at a time from the file, never all in memory: the
//! source side of validation, which may be a feature film's hundreds of thousands of frames.
//! The frames are found under a path of object keys — `["frames"]` in a `frames.json`
//! ([`super::artifacts::FrameArtifact`]), `["frames", "frames"]` in an inspection document —
//! every other field skipped unparsed; the artifact's version is checked on the way.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use shotfarm_kernels::fingerprint::Fingerprint;

use super::artifacts::{ArtifactError, FrameArtifact};

/// Where the frames array is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FramesWithin {
    /// A `frames.json`: `{"version", …, "frames": [ … ]}`.
    #[default]
    Artifact,
    /// An inspection document: `{"version", "report", "frames": {"version", …, "frames": [ … ]}}`.
    Inspection,
}

/// What validation needs of one source frame.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StreamedFrame {
    #[serde(rename = "t", default)]
    pub pts_seconds: Option<f64>,
    #[serde(rename = "fp")]
    pub fingerprint: Fingerprint,
    #[serde(rename = "fs", default)]
    pub sdr_fingerprint: Option<Fingerprint>,
}

/// Reads the frames of the file at `path`, handing each to `on_frame` in order; `on_frame`
/// returning false stops the reading there (its caller needs no more). Blocking: run it on a
/// blocking thread.
pub fn stream_frames(path: &Path, within: FramesWithin, on_frame: &mut dyn FnMut(StreamedFrame) -> bool) -> Result<(), ArtifactError> {
    let file = File::open(path).map_err(|source| ArtifactError::Read { path: path.to_owned(), source })?;
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, file));
    let keys: &[&str] = match within {
        FramesWithin::Artifact => &["frames"],
        FramesWithin::Inspection => &["frames", "frames"],
    };
    let mut version = None;
    let mut stopped = false;
    let mut handed = |frame: StreamedFrame| {
        let more = on_frame(frame);
        stopped |= !more;
        more
    };
    let outcome = Descend { keys, on_frame: &mut handed, version: &mut version }.deserialize(&mut deserializer);
    if stopped {
        return Ok(());
    }
    outcome.map_err(|source| ArtifactError::Parse { path: path.to_owned(), source })?;
    match version {
        Some(FrameArtifact::VERSION) => Ok(()),
        Some(found) => Err(ArtifactError::Version { path: path.to_owned(), found, expected: FrameArtifact::VERSION }),
        None => Err(ArtifactError::Parse { path: path.to_owned(), source: serde::de::Error::custom("the frames come without the artifact's version") }),
    }
}

/// The object at `keys[0]` of a map, and so on down; then the frames array.
struct Descend<'a, 'f> {
    keys: &'a [&'a str],
    on_frame: &'f mut dyn FnMut(StreamedFrame) -> bool,
    /// The frame artifact's version, once seen (the object holding the frames).
    version: &'f mut Option<u32>,
}

impl<'de> DeserializeSeed<'de> for Descend<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.keys {
            [] => deserializer.deserialize_seq(Frames { on_frame: self.on_frame }),
            _ => deserializer.deserialize_map(self),
        }
    }
}

impl<'de> Visitor<'de> for Descend<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "an object with a {:?} field", self.keys.first())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Descend { keys, on_frame, version } = self;
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == keys[0] && !found {
                found = true;
                map.next_value_seed(Descend { keys: &keys[1..], on_frame: &mut *on_frame, version: &mut *version })?;
            } else if key == "version" && keys.len() == 1 {
                *version = Some(map.next_value::<u32>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found { Ok(()) } else { Err(serde::de::Error::missing_field("frames")) }
    }
}

struct Frames<'f> {
    on_frame: &'f mut dyn FnMut(StreamedFrame) -> bool,
}

impl<'de> Visitor<'de> for Frames<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of frames")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(frame) = seq.next_element::<StreamedFrame>()? {
            if !(self.on_frame)(frame) {
                return Err(serde::de::Error::custom(StoppedEarly));
            }
        }
        Ok(())
    }
}

/// The marker of a reading its caller stopped.
#[derive(Debug)]
struct StoppedEarly;

impl fmt::Display for StoppedEarly {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("stopped early")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::frame_analysis::AnalyzedFrame;
    use crate::media::probe::Rational;

    fn artifact(frames: u8) -> FrameArtifact {
        let frame = |index: u8| AnalyzedFrame {
            pts_seconds: (index != 2).then_some(f64::from(index) / 25.0),
            keyframe: index == 0,
            byte_position: Some(u64::from(index) * 100),
            fingerprint: Fingerprint([index; shotfarm_kernels::fingerprint::FINGERPRINT_LEN]),
            sdr_fingerprint: index.is_multiple_of(2).then(|| Fingerprint([255 - index; shotfarm_kernels::fingerprint::FINGERPRINT_LEN])),
        };
        FrameArtifact { version: FrameArtifact::VERSION, analysis_width: 128, analysis_height: 72, frame_rate: Rational { num: 25, den: 1 }, frames: (0..frames).map(frame).collect() }
    }

    fn streamed(path: &Path, within: FramesWithin, stop_after: usize) -> Result<Vec<StreamedFrame>, ArtifactError> {
        let mut frames = Vec::new();
        stream_frames(path, within, &mut |frame| {
            frames.push(frame);
            frames.len() < stop_after
        })?;
        Ok(frames)
    }

    #[test]
    fn frames_come_one_by_one_from_an_artifact_or_an_inspection() {
        let dir = tempfile::tempdir().unwrap();
        let written = artifact(6);
        let expected: Vec<StreamedFrame> = written
            .frames
            .iter()
            .map(|frame| StreamedFrame { pts_seconds: frame.pts_seconds, fingerprint: frame.fingerprint.clone(), sdr_fingerprint: frame.sdr_fingerprint.clone() })
            .collect();
        let artifact_path = dir.path().join("frames.json");
        std::fs::write(&artifact_path, serde_json::to_vec(&written).unwrap()).unwrap();
        assert_eq!(streamed(&artifact_path, FramesWithin::Artifact, usize::MAX).unwrap(), expected);
        // An inspection document: the report (skipped) before the frames' object.
        let document = serde_json::json!({ "version": 1, "report": { "frames": "not these", "source": { "nested": [1, 2, 3] } }, "frames": written });
        let inspection_path = dir.path().join("inspection.json");
        std::fs::write(&inspection_path, serde_json::to_vec(&document).unwrap()).unwrap();
        assert_eq!(streamed(&inspection_path, FramesWithin::Inspection, usize::MAX).unwrap(), expected);
        assert_eq!(streamed(&inspection_path, FramesWithin::Inspection, 2).unwrap().len(), 2, "a stop is honoured");
    }

    #[test]
    fn a_wrong_version_or_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames.json");
        let mut newer = artifact(3);
        newer.version = FrameArtifact::VERSION + 1;
        std::fs::write(&path, serde_json::to_vec(&newer).unwrap()).unwrap();
        assert!(matches!(streamed(&path, FramesWithin::Artifact, usize::MAX), Err(ArtifactError::Version { .. })));
        let whole = serde_json::to_vec(&artifact(3)).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 40]).unwrap();
        assert!(matches!(streamed(&path, FramesWithin::Artifact, usize::MAX), Err(ArtifactError::Parse { .. })));
        std::fs::write(&path, br#"{"version":1,"nothing":[]}"#).unwrap();
        assert!(matches!(streamed(&path, FramesWithin::Artifact, usize::MAX), Err(ArtifactError::Parse { .. })));
        assert!(matches!(streamed(&dir.path().join("absent.json"), FramesWithin::Artifact, usize::MAX), Err(ArtifactError::Read { .. })));
    }
}
