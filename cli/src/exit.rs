//! The one place that maps failures to process exit codes.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | any other failure (a peer unreachable, an encode that failed…) |
//! | 2 | bad usage or configuration: fix the command line or the config file |
//! | 3 | the input was inspected and rejected: fix the source |
//! | 4 | a scheduler replica's storage failed (disk full, I/O error): fix the disk, then restart it |

use std::fmt;
use std::process::ExitCode;

/// Why a command failed, and so which exit code the process ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Anything not covered below.
    Failure,
    /// Bad flags, a bad config file, an unusable data directory.
    Usage,
    /// The source was inspected and rejected.
    InputRejected,
    /// A scheduler replica could not write its store.
    StorageFailed,
}

impl ExitKind {
    pub fn code(self) -> ExitCode {
        match self {
            ExitKind::Failure => ExitCode::from(1),
            ExitKind::Usage => ExitCode::from(2),
            ExitKind::InputRejected => ExitCode::from(3),
            ExitKind::StorageFailed => ExitCode::from(4),
        }
    }
}

/// An error that knows which exit code it deserves. Wrap any error with
/// [`CommandError::usage`] or [`CommandError::rejected`]; a plain `anyhow::Error` exits 1.
#[derive(Debug)]
pub struct CommandError {
    pub kind: ExitKind,
    pub error: anyhow::Error,
}

impl CommandError {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self { kind: ExitKind::Usage, error: error.into() }
    }

    pub fn rejected(error: impl Into<anyhow::Error>) -> Self {
        Self { kind: ExitKind::InputRejected, error: error.into() }
    }

    /// Any error, as a plain failure (exit 1), by its message.
    pub fn from_display(error: impl std::fmt::Display) -> Self {
        Self::from(anyhow::anyhow!("{error}"))
    }

    pub fn storage_failed(error: impl Into<anyhow::Error>) -> Self {
        Self { kind: ExitKind::StorageFailed, error: error.into() }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(error: anyhow::Error) -> Self {
        // An error that was already classified further down keeps its class.
        match error.downcast::<CommandError>() {
            Ok(classified) => classified,
            Err(error) => Self { kind: ExitKind::Failure, error },
        }
    }
}

impl std::error::Error for CommandError {}

/// What every subcommand returns.
pub type CommandResult = Result<(), CommandError>;
