//! A finished job's measured task graph (from `report.json`) and what it says about scaling:
//! work, span and parallelism, and a replay of the graph on farms of N identical agents with
//! the scheduler's placement rule. Pure: no clock, no I/O. See `README.md` beside this file.
//!
//! | module | what |
//! | --- | --- |
//! | [`graph`] | the tasks, their dependencies, wall durations, CPU and demands, checked and ordered |
//! | [`critical_path`] | work (CPU-s), span (longest path, wall), parallelism, the earliest encode |
//! | [`list_schedule`] | the replay on N agents: list scheduling with the scheduler's greedy placement |
//! | `properties` | proptests of the replay's bounds |

pub mod critical_path;
pub mod graph;
pub mod list_schedule;
#[cfg(test)]
mod properties;

pub use critical_path::{DagMeasures, measure};
pub use graph::TaskDag;
pub use list_schedule::replay;
