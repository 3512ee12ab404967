//! `shotfarm agent`: run a node agent.

use std::path::PathBuf;

use shotfarm_agent::runtime::config::AgentConfig;
use shotfarm_agent::runtime::registration::capability_report;
use shotfarm_agent::runtime::runner::media_executor;
use shotfarm_agent::runtime::{self, AgentError, Shutdown};

use crate::exit::{CommandError, CommandResult};
use crate::runtime::{block_on, shutdown_on_signals};

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Scheduler replicas, HOST:PORT[,HOST:PORT…].
    #[arg(long = "scheduler", env = "SHOTFARM_SCHEDULER")]
    pub scheduler: String,
    /// Scratch space, the job cache and the result journal.
    #[arg(long, env = "SHOTFARM_WORK_DIR")]
    pub work_dir: PathBuf,
    /// Stable node name (default: the hostname).
    #[arg(long)]
    pub name: Option<String>,
    /// Labels, k=v,…
    #[arg(long, default_value = "")]
    pub labels: String,
    /// Concurrent tasks at most (default: four per CPU core; CPU and memory demands decide
    /// what runs together).
    #[arg(long, default_value_t = 0)]
    pub max_tasks: u32,
    /// Print the capability probe as JSON and exit.
    #[arg(long)]
    pub probe: bool,
}

pub fn run(args: AgentArgs) -> CommandResult {
    let mut config = AgentConfig::new(&args.scheduler, args.work_dir, args.name, &args.labels).map_err(CommandError::usage)?;
    config.max_tasks = args.max_tasks;
    block_on(async move {
        if args.probe {
            let media = shotfarm_agent::media::capabilities::probe_capabilities(&Default::default())
                .await
                .map_err(|err| CommandError::from(anyhow::anyhow!(AgentError::Probe(err))))?;
            let report = capability_report(&config, &media);
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            return Ok(());
        }
        let signals = shutdown_on_signals();
        let shutdown = Shutdown { graceful: signals.graceful, abort: signals.abort };
        runtime::run(config, media_executor(), shutdown).await.map_err(|err| match err {
            AgentError::Refused(_) | AgentError::Journal(_) => CommandError::usage(anyhow::anyhow!(err)),
            other => CommandError::from(anyhow::anyhow!(other)),
        })
    })
}
