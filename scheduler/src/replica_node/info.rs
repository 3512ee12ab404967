//! What any caller can know about this replica without asking the driver: its role, term,
//! indexes, members and revoked certificates, published by the driver after every turn.

use std::collections::BTreeSet;
use std::sync::Arc;

/// The replica's part in the Raft group (raft-rs's `StateRole`, named for the wire).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// The name clients see in `ClusterStatus` (they parse it).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::PreCandidate => "pre-candidate",
        }
    }
}

impl From<raft::StateRole> for Role {
    fn from(role: raft::StateRole) -> Role {
        match role {
            raft::StateRole::Leader => Role::Leader,
            raft::StateRole::Follower => Role::Follower,
            raft::StateRole::Candidate => Role::Candidate,
            raft::StateRole::PreCandidate => Role::PreCandidate,
        }
    }
}

/// A snapshot of the replica's Raft status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaInfo {
    pub id: u64,
    pub role: Role,
    pub leader_id: u64,
    pub leader_addr: Option<String>,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    pub first_log_index: u64,
    /// Every voter, then every learner.
    pub members: Vec<MemberInfo>,
    /// The group's id (0 while joining).
    pub cluster_id: u64,
    /// The last index of this replica's log.
    pub last_index: u64,
    /// Fingerprints of the revoked certificates, as applied here (the gate refuses them).
    pub revoked_certificates: Arc<BTreeSet<String>>,
}

/// One member of the group as this replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u64,
    pub addr: String,
    /// A learner catching up, not yet a voter.
    pub learner: bool,
    /// The leader's view of its replicated log position (0 on followers).
    pub matched: u64,
}

impl ReplicaInfo {
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    pub fn leader_hint(&self) -> Option<(u64, String)> {
        self.leader_addr.clone().filter(|_| self.leader_id != 0).map(|addr| (self.leader_id, addr))
    }
}
