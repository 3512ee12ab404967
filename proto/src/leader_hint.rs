//! "Not the leader" as a machine-readable status: `UNAVAILABLE` with the leader's id and
//! address in metadata, so clients and agents can follow it without parsing messages.

use tonic::{Code, Status};

/// Metadata key carrying the leader's gRPC address (`host:port`), when known.
pub const LEADER_ADDR_KEY: &str = "x-shotfarm-leader-addr";
/// Metadata key carrying the leader's replica id, when known.
pub const LEADER_ID_KEY: &str = "x-shotfarm-leader-id";

/// Builds the status a follower returns for a call only the leader can serve.
pub fn not_leader(leader: Option<(u64, &str)>) -> Status {
    let message = match leader {
        Some((id, addr)) => format!("not the leader: replica {id} at {addr} is; retry there"),
        None => "not the leader, and no leader is known yet (election in progress); retry shortly".to_owned(),
    };
    let mut status = Status::new(Code::Unavailable, message);
    if let Some((id, addr)) = leader {
        if let Ok(value) = addr.parse() {
            status.metadata_mut().insert(LEADER_ADDR_KEY, value);
        }
        if let Ok(value) = id.to_string().parse() {
            status.metadata_mut().insert(LEADER_ID_KEY, value);
        }
    }
    status
}

/// The leader's address a status points at, if it is a "not the leader" answer.
pub fn leader_addr(status: &Status) -> Option<String> {
    if status.code() != Code::Unavailable {
        return None;
    }
    status.metadata().get(LEADER_ADDR_KEY)?.to_str().ok().map(str::to_owned)
}

/// Whether a status says "not the leader" (with or without a known leader).
pub fn is_not_leader(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.message().starts_with("not the leader")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_round_trips() {
        let status = not_leader(Some((2, "127.0.0.1:7002")));
        assert!(is_not_leader(&status));
        assert_eq!(leader_addr(&status).as_deref(), Some("127.0.0.1:7002"));
    }

    #[test]
    fn unknown_leader_has_no_address() {
        let status = not_leader(None);
        assert!(is_not_leader(&status));
        assert_eq!(leader_addr(&status), None);
    }
}
