//! One module per subcommand; each exposes an `Args` struct and a `run` function.

pub mod bench;
pub mod bench_vmaf;
pub mod vmaf;
