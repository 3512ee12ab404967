//! Consensus: raft-rs driven by one owner.
//!
//! | module | what |
//! | --- | --- |
//! | [`replica`] | the synchronous core: `RawNode` + state machine + durable store, one Ready loop |
//! | [`compaction`] | the applied state taken as a snapshot and the log before it dropped, every `snapshot_every` entries |
//! | [`membership`] | voters, learners and their progress; membership changes proposed, caught-up learners promoted |
//! | [`reconfiguration`] | the strict reconfiguration check: which membership changes may be proposed |
//! | [`member_addr`] | what a replica's address may be (`HOST:PORT`) |
//! | [`bootstrap`] | a new group's first snapshot; a restarted replica's `--peers` checked against its store |
//! | [`cluster_id`] | the group's id: derived from the initial peers, checked on every peer batch |
//! | [`force_new_cluster`] | disaster recovery: a surviving replica's store rewritten into a one-replica group |
//! | [`peer_message`] | what a peer's Raft message must hold before raft-rs sees it (range, shape, membership) |
//! | [`raft_log`] | the in-memory log raft-rs reads (`raft::Storage`), mirroring the durable store |
//! | [`logger`] | raft-rs's slog records forwarded to `tracing` |
//! | `test_group` | (tests) in-memory replicas driven turn by turn, their messages delivered |

pub mod bootstrap;
pub mod cluster_id;
pub mod compaction;
pub mod force_new_cluster;
pub mod logger;
pub mod member_addr;
pub mod membership;
pub mod peer_message;
pub mod raft_log;
pub mod reconfiguration;
pub mod replica;
#[cfg(test)]
pub mod test_group;

pub use reconfiguration::{MembershipChange, ReconfigurationRefusal};
pub use replica::{AppliedProposal, AppliedReady, PersistedReady, ReadyOutput, Replica, ReplicaConfig, ReplicaError, StepError, TakenReady};
