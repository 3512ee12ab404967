//! Consensus: raft-rs driven by one owner.
//!
//! | module | what |
//! | --- | --- |
//! | [`replica`] | the synchronous core: `RawNode` + state machine + durable store, one Ready loop |
//! | [`bootstrap`] | a new group's first snapshot; a restarted replica's `--peers` checked against its store |
//! | [`peer_message`] | what a peer's Raft message must hold before raft-rs sees it (range, shape, membership) |
//! | [`raft_log`] | the in-memory log raft-rs reads (`raft::Storage`), mirroring the durable store |
//! | [`logger`] | raft-rs's slog records forwarded to `tracing` |

pub mod bootstrap;
pub mod logger;
pub mod peer_message;
pub mod raft_log;
pub mod replica;

pub use replica::{AppliedProposal, ReadyOutput, Replica, ReplicaConfig, ReplicaError, StepError};
