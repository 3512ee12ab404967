//! `shotfarm agent`: run a node agent.

use std::path::PathBuf;

use shotfarm_agent::runtime::config::{AgentSettings, parse_labels};
use shotfarm_agent::runtime::registration::capability_report;
use shotfarm_agent::runtime::runner::media_executor;
use shotfarm_agent::runtime::{self, AgentError, Shutdown};

use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::tls_flags::TlsFlags;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// TOML config file; flags and SHOTFARM_* variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Scheduler replicas, HOST:PORT[,HOST:PORT…] (SHOTFARM_SCHEDULER).
    #[arg(long = "scheduler")]
    pub scheduler: Option<String>,
    /// Scratch space, the job cache and the result journal (SHOTFARM_WORK_DIR).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Stable node name (default: the hostname; SHOTFARM_NAME).
    #[arg(long)]
    pub name: Option<String>,
    /// Labels, k=v,… (SHOTFARM_LABELS).
    #[arg(long)]
    pub labels: Option<String>,
    /// Concurrent tasks at most (default: four per CPU core; CPU and memory demands decide
    /// what runs together; SHOTFARM_MAX_TASKS).
    #[arg(long)]
    pub max_tasks: Option<u32>,
    /// URL roots this agent reads job inputs from, comma-separated (file:///media/in,…;
    /// SHOTFARM_ALLOW_INPUT). None: every task is refused.
    #[arg(long, value_name = "ROOTS")]
    pub allow_input: Option<String>,
    /// URL roots this agent writes job outputs to, comma-separated (SHOTFARM_ALLOW_OUTPUT).
    /// None: every task is refused.
    #[arg(long, value_name = "ROOTS")]
    pub allow_output: Option<String>,
    /// Serve Prometheus metrics at http(s)://HOST:PORT/metrics (SHOTFARM_METRICS_LISTEN): TLS
    /// with this agent's certificate, for operators' and replicas' client certificates,
    /// unless the farm is --insecure.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// Print the capability probe as JSON and exit.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub tls: TlsFlags,
}

pub fn run(args: AgentArgs) -> CommandResult {
    let file = match &args.config {
        Some(path) => AgentSettings::from_file(path).map_err(CommandError::usage)?,
        None => AgentSettings::default(),
    };
    let env = AgentSettings::from_env(std::env::vars()).map_err(CommandError::usage)?;
    let labels = args
        .labels
        .as_deref()
        .map(parse_labels)
        .transpose()
        .map_err(|err| CommandError::usage(anyhow::anyhow!("--labels: {err}")))?;
    let flags = AgentSettings {
        scheduler: args.scheduler,
        work_dir: args.work_dir,
        name: args.name,
        labels,
        max_tasks: args.max_tasks,
        ca: args.tls.ca,
        cert: args.tls.cert,
        key: args.tls.key,
        insecure: args.tls.insecure.then_some(true),
        allow_input: args.allow_input,
        allow_output: args.allow_output,
        metrics_listen: args.metrics_listen,
    };
    let config = file.merge(env).merge(flags).validate().map_err(CommandError::usage)?;
    block_on(async move {
        if args.probe {
            let media = shotfarm_agent::media::capabilities::probe_capabilities(&Default::default())
                .await
                .map_err(|err| CommandError::from(anyhow::anyhow!(AgentError::Probe(err))))?;
            let report = capability_report(&config, &media);
            outln!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            return Ok(());
        }
        let shutdown = Shutdown::on_signals();
        runtime::run(config, media_executor(), shutdown.clone()).await.map_err(|err| match err {
            AgentError::Refused(_) | AgentError::Journal(_) => CommandError::usage(anyhow::anyhow!(err)),
            other => CommandError::from(anyhow::anyhow!(other)),
        })?;
        if shutdown.abort.is_cancelled() {
            // Running attempts were stopped, not finished: their leases return to the queue.
            return Err(CommandError::from(anyhow::anyhow!("aborted on a second signal; running tasks were stopped and will run again elsewhere")));
        }
        Ok(())
    })
}
