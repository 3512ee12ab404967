//! The gRPC services every replica serves.
//!
//! | module | service |
//! | --- | --- |
//! | [`jobs`] | `JobService`: clients |
//! | [`nodes`] | `NodeService`: agents |
//! | [`admin`] | `AdminService`: operators |
//! | [`forward`] | any replica answers any call: a follower relays leader-only `JobService`/`AdminService` calls to the leader |
//! | [`raft`] | `RaftService`: peer replicas |
//! | [`recipes`] | `RecipeService`: named, versioned job recipes; resolving a submission that names one |
//! | [`access`] | who is calling (certificate or bearer token) and which roles a service admits |
//! | [`rate_limit`] | a token bucket per client identity |
//! | [`tokens`] | `AdminService`'s bearer-token calls |
//! | [`certificates`] | `AdminService`'s certificate revocation calls |
//! | [`status`] | the one table from errors to gRPC statuses |
//! | [`validate`] | checks on every field a client or agent sends |
//! | [`wire_errors`] | malformed and oversize requests refused with `INVALID_ARGUMENT` / `RESOURCE_EXHAUSTED` |
//! | [`convert`] | replicated state → wire messages |
//! | [`job_pages`] | `ListJobs` pages: size limits and page tokens |
//! | [`job_quality`] | a finished job's renditions, quality and report location, from its report task's output |

pub mod access;
pub mod admin;
pub mod certificates;
pub mod convert;
pub mod forward;
pub mod job_pages;
pub mod job_quality;
pub mod jobs;
pub mod nodes;
pub mod raft;
pub mod recipes;
pub mod rate_limit;
pub mod status;
pub mod tokens;
pub mod validate;
pub mod wire_errors;
