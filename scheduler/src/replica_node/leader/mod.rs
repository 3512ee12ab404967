//! The leader's duties, each run by the driver while this replica leads: what it proposes
//! on its own and what it does with the effects of applied commands.
//!
//! | module | what |
//! | --- | --- |
//! | [`place`] | placement rounds over the queue and the tasks the gathered results will release, into the entry that carries those results; decisions proposed and not applied yet |
//! | [`judge_liveness`] | missed heartbeats → `MarkNodeDown` / `ExpireLease`, each proposed once a second at most |
//! | [`carry_out`] | effects → the agents' sessions (assignments, cancellations, closing a dead node's session) |

pub mod carry_out;
pub mod judge_liveness;
pub mod place;

pub use carry_out::carry_out;
pub use judge_liveness::LivenessJudge;
pub use place::Placer;
