//! `shotfarm-scheduler`: the Raft-replicated brain of the farm.
//!
//! | module | what |
//! | --- | --- |
//! | [`server`] | `run(config, shutdown)`: a replica from data directory to serving gRPC |
//! | [`connections`] | the listener's accept side: a cap on open connections, an idle timeout on each |
//! | [`recovery`] | `cluster recover --force-new-cluster`: a stopped replica's store rebuilt as a one-replica group |
//! | [`config`] | the typed, self-validating configuration: TOML file, `SHOTFARM_*` env, flags |
//! | [`service`] | the gRPC services: jobs, nodes, admin, raft; the error → status table |
//! | [`callbacks`] | completion callbacks: the allowed endpoints and their secrets, signatures, the leader's delivery |
//! | [`replica_node`] | a running replica: handle, outbox, Ready loop, leader duties, agents (sessions, liveness, progress), peer transport |
//! | [`consensus`] | raft-rs `RawNode` driven through one Ready loop, with no I/O but the store |
//! | [`http`] | the HTTP listener's routes (`--http-listen`): `/metrics` and the web dashboard, behind the API's authentication |
//! | [`metrics`] | the replica's Prometheus registry and the typed handles the Ready loop updates |
//! | [`audit`] | the audit trail of the applied stream (`--audit DIR`), for the cluster tests' invariants |
//! | [`failpoints`] | crash points in the Ready loop for tests (`FAILPOINTS`; feature `failpoints`, debug builds) |
//! | [`machine`] | the transition: the log's commands and `apply`, deterministic and pure |
//! | [`planner`] | expands a job into its task DAG as results arrive (runs inside `apply`) |
//! | [`placement`] | pure multi-dimensional bin-packing of ready tasks onto nodes and GPUs |
//! | [`storage`] | the durable store (redb): log, hard state, snapshot, state rows + applied index |
//! | [`state`] | the replicated entities: jobs, task DAGs, nodes, leases |
//! | [`synthetic`] | synthetic task outputs for simulated agents (benchmark, simulation) |
//!
//! ## Floors
//!
//! A module imports only modules on floors below its own; modules that share a floor do not
//! import each other. `tests/layering.rs` reads this block and holds every `crate::` path
//! under `src/` to it, tests included.
//!
//! ```text
//! server | recovery
//! config | connections
//! http
//! service
//! callbacks
//! replica_node
//! consensus
//! audit | failpoints | metrics
//! machine
//! planner | placement | storage
//! state | synthetic
//! ```
//!
//! - `config` is the process's settings: only `server` reads it, and hands each floor below
//!   its own typed configuration (`ReplicaConfig`, `DriverConfig`, `LivenessConfig`).
//! - `audit` and `failpoints` serve the Ready loop (`consensus`): what it records of the
//!   applied stream and where a test may crash it. They sit above `machine`, so the
//!   transition can neither crash on purpose nor write anything.
//! - `metrics` is written by the Ready loop (`consensus`, `replica_node`) and read by `http`;
//!   it counts commands and the state, so it sits above `machine`.
//! - `synthetic` stands in for the agents' side of the task contract and needs nothing of
//!   the crate, so every floor's tests may use it.

pub mod audit;
pub mod callbacks;
pub mod config;
pub mod connections;
pub mod consensus;
pub mod failpoints;
pub mod http;
pub mod machine;
pub mod metrics;
pub mod placement;
pub mod planner;
pub mod recovery;
pub mod replica_node;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod synthetic;
