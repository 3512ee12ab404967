//! A running replica: the driver that owns the consensus core, and what it talks to.
//!
//! | module | what |
//! | --- | --- |
//! | [`driver`] | the single owner of the `Replica`: ticks, batching, the Ready loop, placement, liveness verdicts |
//! | [`transport`] | replica-to-replica messages over gRPC, one bounded queue per peer |
//! | [`liveness`] | the leader's in-memory heartbeat and lease tracking |
//! | [`sessions`] | agents' session streams attached to the leader |

pub mod driver;
pub mod liveness;
pub mod sessions;
pub mod transport;

pub use driver::{DriverConfig, DriverError, DriverHandle, ReplicaInfo};
