//! `shotfarm-scheduler`: the Raft-replicated brain of the farm.
//!
//! | module | what |
//! | --- | --- |
//! | [`audit`] | the audit trail of the applied stream (`--audit DIR`), for the cluster tests' invariants |
//! | [`failpoints`] | crash points in the Ready loop for tests (`FAILPOINTS`; feature `failpoints`, debug builds) |
//! | [`state`] | the replicated state machine: jobs, task DAGs, nodes, leases; `apply` |
//! | [`planner`] | expands a job into its task DAG as results arrive (runs inside `apply`) |
//! | [`placement`] | pure multi-dimensional bin-packing of ready tasks onto nodes and GPUs |
//! | [`storage`] | the durable store (redb): log, hard state, snapshot, state rows + applied index |
//! | [`consensus`] | raft-rs `RawNode` driven through one Ready loop, with no I/O but the store |
//! | [`replica_node`] | a running replica: the driver task, peer transport, liveness, agent sessions |
//! | [`config`] | the typed, self-validating configuration: TOML file, `SHOTFARM_*` env, flags |
//! | [`server`] | `run(config, shutdown)`: a replica from data directory to serving gRPC |
//! | [`service`] | the gRPC services: jobs, nodes, admin, raft; the error → status table |
//! | [`synthetic`] | synthetic task outputs for simulated agents (benchmark, simulation) |

pub mod audit;
pub mod config;
pub mod consensus;
pub mod failpoints;
pub mod placement;
pub mod planner;
pub mod replica_node;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod synthetic;
