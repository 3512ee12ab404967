//! The gRPC services every replica serves.
//!
//! | module | service |
//! | --- | --- |
//! | [`jobs`] | `JobService`: clients |
//! | [`nodes`] | `NodeService`: agents |
//! | [`admin`] | `AdminService`: operators |
//! | [`raft`] | `RaftService`: peer replicas |
//! | [`access`] | who is calling (certificate or bearer token) and which roles a service admits |
//! | [`tokens`] | `AdminService`'s bearer-token calls |
//! | [`status`] | the one table from errors to gRPC statuses |
//! | [`validate`] | checks on every field a client or agent sends |
//! | [`convert`] | replicated state → wire messages |

pub mod access;
pub mod admin;
pub mod convert;
pub mod jobs;
pub mod nodes;
pub mod raft;
pub mod status;
pub mod tokens;
pub mod validate;
