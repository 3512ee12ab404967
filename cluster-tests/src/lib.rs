//! `shotfarm-cluster-tests`: the whole farm as real processes, for tests and benchmarks.
//!
//! | module | what |
//! | --- | --- |
//! | [`cluster`] | real scheduler replicas on loopback: start, kill -9, restart, pause, resume, find the leader, `wait_until` |
//! | [`swarm`] | many simulated agents in one process, answering assignments with synthetic outputs |

pub mod cluster;
pub mod swarm;
