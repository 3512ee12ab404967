//! A running replica: the driver that owns the consensus core, split by duty, and what it
//! talks to. Services hold a [`DriverHandle`]; it sends [`request`]s to the [`driver`]
//! thread, which gathers proposals in the [`outbox`], runs the Ready loop and, while
//! leader, the [`leader`]'s duties.
//!
//! | module | what |
//! | --- | --- |
//! | [`handle`] | `DriverHandle`: propose, read, step, change membership; the published info; `leader_only` |
//! | [`request`] | the requests the handle sends over the bounded channel, and their reply types |
//! | [`driver`] | the Ready loop: the single owner of the `Replica` (ticks, requests, persist, send, apply, answer) |
//! | [`outbox`] | proposals gathered into log entries (4,096 commands at most) and the callers waiting on them |
//! | [`leader`] | the leader's duties: place, judge liveness, carry out effects |
//! | [`info`] | `ReplicaInfo` (role, indexes, cluster id, members as voters or learners with their progress) and its `Role`, published after every turn |
//! | [`error`] | `DriverError`: what a caller is told instead of an answer |
//! | [`agents`] | the one handle over the agents' sessions, heartbeats and progress |
//! | [`sessions`] | agents' session streams attached to the leader |
//! | [`stream_end`] | why the replica ends a stream it serves (node down, leadership lost, shutting down) |
//! | [`liveness`] | the leader's in-memory heartbeat and lease tracking |
//! | [`assignment`] | the one builder of `v1::Assignment` |
//! | [`clock`] | `now_ms`: the leader's clock, proposed as data |
//! | [`transport`] | replica-to-replica messages over gRPC, one bounded queue per peer |
//! | [`snapshot_stream`] | a snapshot message cut into pieces and put back together, checked piece by piece |

pub mod agents;
pub mod assignment;
pub mod clock;
pub mod driver;
pub mod error;
pub mod handle;
pub mod info;
pub mod leader;
pub mod liveness;
pub mod outbox;
pub mod request;
pub mod sessions;
pub mod snapshot_stream;
pub mod stream_end;
pub mod transport;

pub use driver::DriverConfig;
pub use error::DriverError;
pub use handle::DriverHandle;
pub use info::{MemberInfo, ReplicaInfo, Role};
