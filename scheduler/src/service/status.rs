//! The one table from scheduler errors to gRPC statuses: every status a service returns
//! is built here, from a [`ServiceError`].
//!
//! | error | code | notes |
//! | --- | --- | --- |
//! | not the leader | `UNAVAILABLE` | leader id and address in metadata (`shotfarm_proto::leader_hint`) |
//! | outcome unknown (leadership changed mid-commit) | `UNAVAILABLE` | safe to retry: submissions are idempotent |
//! | replica stopping, leadership lost (ends sessions and watches) | `UNAVAILABLE` | the agent reconnects to the new leader |
//! | storage failure | `INTERNAL` | the replica stops |
//! | an outcome the command cannot have | `INTERNAL` | a bug |
//! | membership change refused (strict reconfiguration check: one at a time, a reachable quorum kept, not the last voter) | `FAILED_PRECONDITION` | |
//! | a Raft batch from another cluster | `FAILED_PRECONDITION` | names both cluster ids |
//! | unknown job / node / task / replica | `NOT_FOUND` | |
//! | replica already a member | `ALREADY_EXISTS` | |
//! | stale attempt, not running, node not ready | `FAILED_PRECONDITION` | |
//! | node declared down (refuses or ends its session) | `FAILED_PRECONDITION` | the agent registers again |
//! | bad request field, session without hello | `INVALID_ARGUMENT` | with the field's name |
//! | no certificate, no or unknown token | `UNAUTHENTICATED` | says what to present |
//! | a role that may not make the call, another node's name or session | `PERMISSION_DENIED` | names the role needed |
//! | token name taken / unknown | `ALREADY_EXISTS` / `NOT_FOUND` | |
//! | a client past its request rate, a submitter past its jobs in flight | `RESOURCE_EXHAUSTED` | says the limit and its setting |

use shotfarm_proto::leader_hint;
use tonic::Status;

use crate::consensus::cluster_id::ClusterIdMismatch;
use crate::machine::{Outcome, Refusal};
use crate::replica_node::DriverError;
use crate::replica_node::stream_end::StreamEnd;
use crate::state::model::NodeId;

/// Everything a service can refuse a request with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{field}: {why}")]
    Invalid { field: String, why: String },
    #[error("unexpected outcome {0:?}")]
    UnexpectedOutcome(Outcome),
    #[error("the first session message must be hello")]
    SessionWithoutHello,
    #[error("the session ended before hello")]
    SessionEndedBeforeHello,
    #[error("no node {0}; register first")]
    NodeNotRegistered(NodeId),
    #[error("node {0} was declared down; register again")]
    NodeDeclaredDown(NodeId),
    #[error("no node {0:?}; see `shotfarm nodes`")]
    NoNodeNamed(String),
    #[error("replica {0} is already a member; give the new replica an id no member has (see `shotfarm cluster`)")]
    AlreadyMember(u64),
    #[error("replica {0} is not a member (see `shotfarm cluster`)")]
    NotMember(u64),
    #[error(transparent)]
    OtherCluster(#[from] ClusterIdMismatch),
    #[error(transparent)]
    StreamEnded(#[from] StreamEnd),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// A relayed call from a replica the leader does not count as a member (one removed while
    /// it still runs): `PERMISSION_DENIED`, marked so that the relaying replica answers its
    /// caller "not the leader" with the leader's address instead (`forward::front`).
    #[error("{0}")]
    RelayFromNonMember(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    OverQuota(String),
}

impl ServiceError {
    /// An outcome other than the one the command was sent for: a refusal says why,
    /// anything else is a bug.
    pub fn from_outcome(outcome: Outcome) -> ServiceError {
        match outcome {
            Outcome::Refused(refusal) => ServiceError::Refused(refusal),
            other => ServiceError::UnexpectedOutcome(other),
        }
    }
}

/// Marks the leader's refusal of a relay from a replica it does not count as a member.
pub const RELAY_REFUSED: &str = "x-shotfarm-relay-refused";

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        let message = error.to_string();
        match error {
            ServiceError::Driver(DriverError::NotLeader { leader }) => {
                leader_hint::not_leader(leader.as_ref().map(|(id, addr)| (*id, addr.as_str())))
            }
            ServiceError::Driver(DriverError::Unknown(_) | DriverError::Stopped)
            | ServiceError::StreamEnded(StreamEnd::LeadershipLost | StreamEnd::ShuttingDown) => Status::unavailable(message),
            ServiceError::Driver(DriverError::Fatal(_)) | ServiceError::UnexpectedOutcome(_) => Status::internal(message),
            ServiceError::Driver(DriverError::Rejected(_))
            | ServiceError::OtherCluster(_)
            | ServiceError::NodeDeclaredDown(_)
            | ServiceError::StreamEnded(StreamEnd::NodeDown) => Status::failed_precondition(message),
            ServiceError::Refused(Refusal::UnknownJob(_) | Refusal::UnknownTask(_) | Refusal::UnknownNode(_))
            | ServiceError::NodeNotRegistered(_)
            | ServiceError::NoNodeNamed(_)
            | ServiceError::NotMember(_)
            | ServiceError::Refused(Refusal::UnknownToken(_) | Refusal::UnknownRecipe(_) | Refusal::UnknownRecipeVersion { .. }) => Status::not_found(message),
            ServiceError::Refused(
                Refusal::StaleAttempt { .. }
                | Refusal::TaskNotRunning { .. }
                | Refusal::TaskNotQueued { .. }
                | Refusal::NodeNotReady { .. }
                | Refusal::DoesNotFit { .. },
            ) => Status::failed_precondition(message),
            ServiceError::Refused(Refusal::BadOutput { .. } | Refusal::Invalid(_))
            | ServiceError::Invalid { .. }
            | ServiceError::SessionWithoutHello
            | ServiceError::SessionEndedBeforeHello => Status::invalid_argument(message),
            ServiceError::AlreadyMember(_) | ServiceError::Refused(Refusal::RequestIdReused { .. } | Refusal::TokenExists(_)) => {
                Status::already_exists(message)
            }
            ServiceError::Unauthenticated(_) => Status::unauthenticated(message),
            ServiceError::Forbidden(_) => Status::permission_denied(message),
            ServiceError::RelayFromNonMember(_) => {
                let mut status = Status::permission_denied(message);
                status.metadata_mut().insert(RELAY_REFUSED, tonic::metadata::MetadataValue::from_static("not-a-member"));
                status
            }
            ServiceError::RateLimited(_) | ServiceError::OverQuota(_) | ServiceError::Refused(Refusal::RecipeLimit(_)) => Status::resource_exhausted(message),
        }
    }
}

impl From<DriverError> for Status {
    fn from(error: DriverError) -> Status {
        ServiceError::Driver(error).into()
    }
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Status {
        ServiceError::Refused(refusal).into()
    }
}

impl From<StreamEnd> for Status {
    fn from(end: StreamEnd) -> Status {
        ServiceError::StreamEnded(end).into()
    }
}

/// A request field that fails its check: `INVALID_ARGUMENT` naming the field.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    ServiceError::Invalid { field: field.to_owned(), why: why.to_string() }.into()
}

/// An outcome other than the one the command was sent for, as a status.
pub fn unwanted(outcome: Outcome) -> Status {
    ServiceError::from_outcome(outcome).into()
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_has_its_code_and_message() {
        let cases = [
            (ServiceError::Driver(DriverError::Stopped), Code::Unavailable, "the replica is shutting down"),
            (ServiceError::UnexpectedOutcome(Outcome::Applied), Code::Internal, "unexpected outcome Applied"),
            (ServiceError::NodeDeclaredDown(3), Code::FailedPrecondition, "node 3 was declared down; register again"),
            (ServiceError::NodeNotRegistered(3), Code::NotFound, "no node 3; register first"),
            (ServiceError::AlreadyMember(2), Code::AlreadyExists, "replica 2 is already a member; give the new replica an id no member has (see `shotfarm cluster`)"),
            (
                ServiceError::Refused(Refusal::RequestIdReused { request_id: "r1".to_owned(), job: "job-1".to_owned() }),
                Code::AlreadyExists,
                "request id \"r1\" already submitted job-1 with another spec; submit with a new request id (the same spec under it answers job-1)",
            ),
            (
                ServiceError::StreamEnded(StreamEnd::NodeDown),
                Code::FailedPrecondition,
                "this node was declared down (no heartbeat in time); register again",
            ),
            (ServiceError::StreamEnded(StreamEnd::ShuttingDown), Code::Unavailable, "the scheduler replica is shutting down"),
            (ServiceError::Invalid { field: "name".to_owned(), why: "is empty".to_owned() }, Code::InvalidArgument, "name: is empty"),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }

    #[test]
    fn not_the_leader_carries_the_leaders_address() {
        let status = Status::from(DriverError::NotLeader { leader: Some((2, "127.0.0.1:7000".to_owned())) });
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(leader_hint::leader_addr(&status).as_deref(), Some("127.0.0.1:7000"));
    }
}
