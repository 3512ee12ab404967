//! `shotfarm scheduler`: run one scheduler replica.

use std::path::PathBuf;

use shotfarm_agent::runtime::Shutdown;
use shotfarm_scheduler::config::SchedulerSettings;
use shotfarm_scheduler::server::{self, ServerError};

use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::tls_flags::TlsFlags;

#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    /// TOML config file; flags and SHOTFARM_* variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// This replica's id (1, 2, …), as in --peers.
    #[arg(long)]
    pub id: Option<u64>,
    /// Address to serve gRPC on, HOST:PORT.
    #[arg(long)]
    pub listen: Option<String>,
    /// Address to serve HTTP on (`/metrics` for operators and Prometheus), HOST:PORT: TLS
    /// with this replica's certificate unless the farm is --insecure.
    #[arg(long, value_name = "HOST:PORT")]
    pub http_listen: Option<String>,
    /// The initial members: ID=HOST:PORT,… (the same list on every replica).
    #[arg(long)]
    pub peers: Option<String>,
    /// Reach replica ID through this address (a proxy or NAT) instead of its address in
    /// --peers: ID=HOST:PORT, repeated or comma-separated. Only this replica's own dialling
    /// changes; clients and agents are still told the member address.
    #[arg(long = "route", value_name = "ID=HOST:PORT")]
    pub routes: Vec<String>,
    /// Where this replica keeps its log and state.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Start with no members and wait to be added by `shotfarm cluster add`.
    #[arg(long)]
    pub join: bool,
    /// Append the audit trail of the applied stream (indexes, hashes, leases) to
    /// DIR/replica-<id>.audit.jsonl, for the cluster tests' invariant checks.
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsFlags,
    /// URL roots jobs may read from, comma-separated (file:///media/in,s3://bucket/in;
    /// SHOTFARM_ALLOW_INPUT). None: every job is refused at submission.
    #[arg(long, value_name = "ROOTS")]
    pub allow_input: Option<String>,
    /// URL roots jobs may write to, comma-separated (SHOTFARM_ALLOW_OUTPUT). None: every job
    /// is refused at submission.
    #[arg(long, value_name = "ROOTS")]
    pub allow_output: Option<String>,
    /// Where job callbacks may go, and the secret that signs them: URL_PREFIX=SECRET_FILE
    /// (at least 16 bytes), repeated or comma-separated (SHOTFARM_CALLBACK_ENDPOINTS). Give
    /// every replica the same. None: jobs with a callback URL are refused.
    #[arg(long = "callback-endpoint", value_name = "URL_PREFIX=SECRET_FILE")]
    pub callback_endpoints: Vec<String>,
}

pub fn run(args: SchedulerArgs) -> CommandResult {
    let file = match &args.config {
        Some(path) => SchedulerSettings::from_file(path).map_err(CommandError::usage)?,
        None => SchedulerSettings::default(),
    };
    let env = SchedulerSettings::from_env(std::env::vars()).map_err(CommandError::usage)?;
    let flags = SchedulerSettings {
        id: args.id,
        listen: args.listen,
        http_listen: args.http_listen,
        peers: args.peers,
        routes: (!args.routes.is_empty()).then(|| args.routes.join(",")),
        data_dir: args.data_dir,
        join: args.join.then_some(true),
        audit: args.audit,
        ca: args.tls.ca,
        cert: args.tls.cert,
        key: args.tls.key,
        insecure: args.tls.insecure.then_some(true),
        allow_input: args.allow_input,
        allow_output: args.allow_output,
        callback_endpoints: (!args.callback_endpoints.is_empty()).then(|| args.callback_endpoints.join(",")),
        ..SchedulerSettings::default()
    };
    let config = file.merge(env).merge(flags).validate().map_err(CommandError::usage)?;
    block_on(async move {
        let shutdown = Shutdown::on_signals();
        server::run(config, shutdown.graceful).await.map_err(|err| match err {
            ServerError::Config(message) => CommandError::usage(anyhow::anyhow!(message)),
            storage @ ServerError::Storage(_) => CommandError::storage_failed(storage),
            other => CommandError::from(anyhow::anyhow!(other)),
        })
    })
}
