//! The state machine's transition: the commands the log carries and the one pure function,
//! [`apply`], that turns a command into a new [`State`](crate::state::State), an outcome and
//! effects. It sits above the entities (`state`) and the two pure functions it runs inside
//! (`planner`, `placement`), so none of them imports it.
//!
//! | module | what |
//! | --- | --- |
//! | [`command`] | the log's commands, their outcomes and effects |
//! | [`apply`] | `apply(state, command)`: deterministic, no clock, randomness or I/O; one function per command |
//! | [`jobs`] | submitting, cancelling and finishing a job |
//! | [`nodes`] | registering a node, changing its state, declaring it down |
//! | [`retention`] | bounded memory: finished jobs beyond the newest few keep their summary, not their tasks |
//! | [`tokens`] | bearer tokens: creating and revoking (fingerprints only) |
//! | [`recipes`] | saved recipes: each save the next version, a delete keeps the name's counter; the bounds |
//! | [`certificates`] | revoked certificates (by fingerprint); an agent's node declared down with its certificate |
//! | [`callbacks`] | a job's state changes as callback events; what the delivery reports back |
//! | [`leases`] | an attempt's lease: assigning, completing, failing, expiring, releasing (fencing by attempt) |

pub mod apply;
pub mod callbacks;
pub mod certificates;
pub mod command;
pub mod jobs;
pub mod leases;
pub mod nodes;
pub mod recipes;
pub mod retention;
pub mod tokens;

#[cfg(test)]
mod job_dags;

pub use apply::apply;
pub use command::{Command, Effect, Outcome, Proposal, Refusal};
