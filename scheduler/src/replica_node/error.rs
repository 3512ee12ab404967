//! What a caller of the driver can be told instead of an answer.

/// Why the driver could not answer a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("not the leader")]
    NotLeader { leader: Option<(u64, String)> },
    #[error("the outcome is unknown: {0}; retry (submissions are idempotent by request id)")]
    Unknown(String),
    #[error("the replica is shutting down")]
    Stopped,
    #[error("the replica stopped on a storage failure: {0}")]
    Fatal(String),
    #[error("{0}")]
    Rejected(String),
}
