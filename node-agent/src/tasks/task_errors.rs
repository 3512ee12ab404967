//! How the errors of storage and of each media stage become [`TaskError`]s: retryable when
//! another attempt (maybe on another node) can succeed, final when no retry can help.
//!
//! The messages keep the stage's own text (the failed command line, exit status and stderr tail
//! of a crashed ffmpeg included) behind a short lowercase prefix saying what the task was doing.

use super::TaskError;
use crate::media::artifacts::ArtifactError;
use crate::media::assemble::AssembleError;
use crate::media::encode::EncodeError;
use crate::media::inspect::InspectError;
use crate::media::package::PackageError;
use crate::media::score::ScoreError;
use crate::media::validate::ValidateError;
use crate::storage::{KeyError, StoreError};

impl TaskError {
    pub fn retryable(message: impl Into<String>) -> Self {
        TaskError::Retryable(message.into())
    }

    pub fn final_error(message: impl Into<String>) -> Self {
        TaskError::Final(message.into())
    }

    pub fn is_final(&self) -> bool {
        matches!(self, TaskError::Final(_))
    }
}

/// A storage error while `doing` something.
pub fn storage(doing: &str, error: StoreError) -> TaskError {
    let message = format!("{doing}: {error}");
    match error {
        // The url or key itself is wrong: the same spec fails the same way everywhere.
        StoreError::BadUrl { .. } | StoreError::UnsupportedScheme { .. } | StoreError::Key(_) => TaskError::Final(message),
        // An agent without s3 support may be replaced by one with it.
        StoreError::S3NotBuilt => TaskError::Retryable(message),
        // A missing artifact that an earlier task reported written: the store lost it, or the
        // work area was removed. Another attempt reads the same store.
        StoreError::NotFound { .. } => TaskError::Final(format!("{message}; the job's work area lost an artifact, resubmit the job")),
        StoreError::Store { .. } | StoreError::Local { .. } => TaskError::Retryable(message),
    }
}

/// An invalid key built from a spec (a rung name, a key the scheduler passed on).
pub fn key(doing: &str, error: KeyError) -> TaskError {
    TaskError::Final(format!("{doing}: {error}"))
}

/// A local file operation in the scratch or cache directory.
pub fn local_io(doing: &str, path: &std::path::Path, error: std::io::Error) -> TaskError {
    TaskError::Retryable(format!("{doing} {}: {error}", path.display()))
}

pub fn score(error: ScoreError) -> TaskError {
    match error {
        ScoreError::Cancelled => TaskError::Cancelled,
        // The encoded chunk itself cannot be scored: scoring it again gives the same answer.
        ScoreError::Encoded { .. } | ScoreError::EncodedStream { .. } | ScoreError::Unscorable(_) | ScoreError::UnscorableEncode { .. } => TaskError::Final(error.to_string()),
        ScoreError::Probe(_) | ScoreError::Reference(_) | ScoreError::Landing(_) | ScoreError::Vmaf(_) | ScoreError::Incomplete { .. } => {
            TaskError::Retryable(error.to_string())
        }
    }
}

pub fn inspect(error: InspectError) -> TaskError {
    match error {
        InspectError::Rejected(rejection) => TaskError::Final(rejection.to_string()),
        InspectError::Cancelled => TaskError::Cancelled,
        InspectError::Tool(tool) if tool.is_cancelled() => TaskError::Cancelled,
        InspectError::Chunking(chunking) => TaskError::Final(format!("cannot plan chunks: {chunking}; fix the job's chunk_min_ms/chunk_max_ms")),
        other => TaskError::Retryable(format!("inspection failed: {other}")),
    }
}

pub fn encode(error: EncodeError) -> TaskError {
    match error {
        EncodeError::Cancelled { .. } => TaskError::Cancelled,
        EncodeError::Tool { source, .. } if source.is_cancelled() => TaskError::Cancelled,
        // Another node's backend may offer the codec.
        EncodeError::Unsupported { .. } => TaskError::Retryable(format!("{error}; run this task on a node whose ffmpeg has the encoder")),
        EncodeError::InvalidRequest(_) => TaskError::Final(format!("{error}")),
        EncodeError::Input { .. } => TaskError::Final(format!("{error}; the source decoded during inspection but not now: re-upload it and resubmit")),
        EncodeError::Tool { .. } | EncodeError::FrameMismatch { .. } | EncodeError::Io { .. } => TaskError::Retryable(format!("{error}")),
    }
}

pub fn assemble(error: AssembleError) -> TaskError {
    match error {
        AssembleError::Cancelled { .. } => TaskError::Cancelled,
        AssembleError::Tool { source, .. } if source.is_cancelled() => TaskError::Cancelled,
        AssembleError::NoChunks { .. } | AssembleError::UnsafePath { .. } => TaskError::Final(format!("{error}")),
        other => TaskError::Retryable(format!("{other}")),
    }
}

pub fn validate(error: ValidateError) -> TaskError {
    match error {
        // A rendition that is not frame-exact fails the job with the precise finding.
        ValidateError::Failed(failure) => TaskError::Final(failure.to_string()),
        ValidateError::Cancelled => TaskError::Cancelled,
        ValidateError::Tool(tool) if tool.is_cancelled() => TaskError::Cancelled,
        other => TaskError::Retryable(format!("validation could not run: {other}")),
    }
}

pub fn package(error: PackageError) -> TaskError {
    packaging_stage("packaging failed", error)
}

/// The audio task's errors: its encodes are packaging's (`media::package::audio_files`).
pub fn audio(error: PackageError) -> TaskError {
    packaging_stage("encoding the audio failed", error)
}

/// The subtitles task's errors: its conversions are packaging's (`media::package::subtitles`).
pub fn subtitles(error: PackageError) -> TaskError {
    packaging_stage("converting the subtitles failed", error)
}

fn packaging_stage(failed: &str, error: PackageError) -> TaskError {
    match error {
        PackageError::Cancelled => TaskError::Cancelled,
        PackageError::Tool { source, .. } if source.is_cancelled() => TaskError::Cancelled,
        // The spec or the renditions themselves are wrong: packaging them again gives the same result.
        PackageError::NoRenditions | PackageError::MediaFolder(_) | PackageError::Misaligned { .. } | PackageError::AudioDuration { .. } | PackageError::Playlist { .. }
        | PackageError::Thumbnails(_) | PackageError::ThumbnailOptions(_) => {
            TaskError::Final(format!("{failed}: {error}"))
        }
        PackageError::Tool { .. } | PackageError::Io { .. } | PackageError::Probe(_) => TaskError::Retryable(format!("{failed}: {error}")),
    }
}

pub fn artifact(doing: &str, error: ArtifactError) -> TaskError {
    match error {
        ArtifactError::Parse { .. } | ArtifactError::Version { .. } => TaskError::Final(format!("{doing}: {error}")),
        ArtifactError::Read { .. } | ArtifactError::Write { .. } => TaskError::Retryable(format!("{doing}: {error}")),
    }
}
