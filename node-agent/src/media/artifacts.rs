//! Artifact files stages write next to their results: data too large for a result struct
//! (results travel through the replicated scheduler).
//!
//! | file | written by | read by | content |
//! | --- | --- | --- | --- |
//! | `frames.json` | inspect | validate | [`FrameArtifact`]: per decoded frame, its fingerprint, timestamp, keyframe flag |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::frame_analysis::AnalyzedFrame;
use super::probe::Rational;

/// File name of the frame artifact inside an inspect artifact dir.
pub const FRAME_ARTIFACT_FILE: &str = "frames.json";

/// Per-frame data of one decode pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameArtifact {
    pub version: u32,
    pub analysis_width: u32,
    pub analysis_height: u32,
    pub frame_rate: Rational,
    pub frames: Vec<AnalyzedFrame>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a frame artifact: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{path} has artifact version {found}; this agent reads version {expected}: re-run inspect")]
    Version { path: PathBuf, found: u32, expected: u32 },
}

impl FrameArtifact {
    pub const VERSION: u32 = 1;

    /// Writes the artifact (creating its directory) atomically: temp file, then rename.
    pub async fn write(&self, path: &Path) -> Result<(), ArtifactError> {
        let write_error = |source| ArtifactError::Write { path: path.to_owned(), source };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(write_error)?;
        }
        let json = serde_json::to_vec(self).map_err(|error| write_error(std::io::Error::other(error)))?;
        let temporary = path.with_extension("json.partial");
        tokio::fs::write(&temporary, json).await.map_err(write_error)?;
        tokio::fs::rename(&temporary, path).await.map_err(write_error)
    }

    pub async fn read(path: &Path) -> Result<Self, ArtifactError> {
        let bytes = tokio::fs::read(path).await.map_err(|source| ArtifactError::Read { path: path.to_owned(), source })?;
        let artifact: Self = serde_json::from_slice(&bytes).map_err(|source| ArtifactError::Parse { path: path.to_owned(), source })?;
        if artifact.version != Self::VERSION {
            return Err(ArtifactError::Version { path: path.to_owned(), found: artifact.version, expected: Self::VERSION });
        }
        Ok(artifact)
    }
}
