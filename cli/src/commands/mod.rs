//! One module per subcommand; each exposes an `Args` struct and a `run` function.
//! `bench/` holds the benchmarks, one module per `shotfarm bench` subcommand.

pub mod agent;
pub mod bench;
pub mod cancel;
pub mod certs;
pub mod cluster;
pub mod dev;
pub mod inspect;
pub mod jobs;
pub mod nodes;
pub mod recipes;
pub mod report;
pub mod scheduler;
pub mod status;
pub mod submit;
pub mod tokens;
pub mod vmaf;
pub mod watch;
