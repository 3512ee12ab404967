//! The one table from scheduler errors to gRPC statuses.
//!
//! | error | code | notes |
//! | --- | --- | --- |
//! | not the leader | `UNAVAILABLE` | leader id and address in metadata (`shotfarm_proto::leader_hint`) |
//! | outcome unknown (leadership changed mid-commit) | `UNAVAILABLE` | safe to retry: submissions are idempotent |
//! | replica stopping | `UNAVAILABLE` | |
//! | storage failure | `INTERNAL` | the replica stops |
//! | membership change refused | `FAILED_PRECONDITION` | |
//! | unknown job / node / task | `NOT_FOUND` | |
//! | stale attempt, not running, node not ready | `FAILED_PRECONDITION` | |
//! | bad request field | `INVALID_ARGUMENT` | built by the services with the field's name |

use shotfarm_proto::leader_hint;
use tonic::Status;

use crate::machine::Refusal;
use crate::replica_node::DriverError;

pub fn from_driver(error: DriverError) -> Status {
    match error {
        DriverError::NotLeader { leader } => leader_hint::not_leader(leader.as_ref().map(|(id, addr)| (*id, addr.as_str()))),
        DriverError::Unknown(_) | DriverError::Stopped => Status::unavailable(error.to_string()),
        DriverError::Fatal(_) => Status::internal(error.to_string()),
        DriverError::Rejected(_) => Status::failed_precondition(error.to_string()),
    }
}

pub fn from_refusal(refusal: Refusal) -> Status {
    match refusal {
        Refusal::UnknownJob(_) | Refusal::UnknownTask(_) | Refusal::UnknownNode(_) => Status::not_found(refusal.to_string()),
        Refusal::StaleAttempt { .. }
        | Refusal::TaskNotRunning { .. }
        | Refusal::TaskNotQueued { .. }
        | Refusal::NodeNotReady { .. }
        | Refusal::DoesNotFit { .. } => Status::failed_precondition(refusal.to_string()),
        Refusal::BadOutput { .. } | Refusal::Invalid(_) => Status::invalid_argument(refusal.to_string()),
    }
}

pub fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}
