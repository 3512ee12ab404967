//! One module per subcommand; each exposes an `Args` struct and a `run` function.

pub mod agent;
pub mod bench;
pub mod bench_pipeline;
pub mod bench_scheduler;
pub mod bench_statistics;
pub mod cpu_time;
pub mod cancel;
pub mod cluster;
pub mod dev;
pub mod job_options;
pub mod job_view;
pub mod jobs;
pub mod nodes;
pub mod report_stages;
pub mod scheduler;
pub mod scheduler_client;
pub mod status;
pub mod submit;
pub mod watch;
pub mod bench_vmaf;
pub mod inspect;
pub mod vmaf;
