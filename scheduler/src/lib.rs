//! `shotfarm-scheduler`: the Raft-replicated brain of the farm.
//!
//! | module | what |
//! | --- | --- |
//! | [`state`] | the replicated state machine: jobs, task DAGs, nodes, leases; `apply` |
//! | [`planner`] | expands a job into its task DAG as results arrive (runs inside `apply`) |
//! | [`placement`] | pure multi-dimensional bin-packing of ready tasks onto nodes and GPUs |

pub mod placement;
pub mod planner;
pub mod state;
