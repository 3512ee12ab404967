//! `shotfarm`: the one binary of the farm.
//!
//! `main` only parses flags, installs tracing and hands over to one module per
//! subcommand under [`commands`]; failures become exit codes in [`exit`].
//!
//! | module | what |
//! | --- | --- |
//! | [`commands`] | one module per subcommand; `commands/bench/` one per benchmark |
//! | [`client`] | what the client subcommands share: `--scheduler`, job options, job views |
//! | [`report_ladder`] | a per-title/per-shot job's ladder decision from its `report.json`, a line per rung (`dev`) |
//! | [`report_stages`] | a job's stage times from its `report.json` (`dev`, `bench pipeline`) |
//! | [`task_dag`] | a finished job's task graph: work, span, parallelism, and its replay on N agents (`bench pipeline`) |
//! | [`tls_flags`] | `--ca`, `--cert`, `--key`, `--insecure` of `scheduler` and `agent` |
//! | [`stdout`] | `outln!`: stdout lines; a closed stdout ends the process quietly |
//! | [`runtime`] | the async runtime and the two-stage shutdown on signals |
//! | [`exit`] | failures → exit codes |
//! | [`logging`] | `SHOTFARM_LOG` (what) and `SHOTFARM_LOG_FORMAT` (`text` or `json`: a JSON object a line with its spans' fields); spans over OTLP with `--otlp-endpoint` |

mod client;
mod commands;
mod exit;
mod logging;
mod report_ladder;
mod report_stages;
mod runtime;
mod stdout;
mod task_dag;
mod tls_flags;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc for every thread of the farm's processes: glibc's malloc was 28 % of a scheduler
/// replica's Raft driver thread under `bench scheduler` (fragmentation work in `free`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "shotfarm", version, about = "A GPU-accelerated, Raft-replicated video encoding farm")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Export trace spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318;
    /// /v1/traces is added): a job is one trace from the client's call to each task.
    #[arg(long, global = true, env = "SHOTFARM_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
}

impl Command {
    /// The service name its spans are exported under.
    fn service(&self) -> &'static str {
        match self {
            Command::Scheduler(_) => "shotfarm-scheduler",
            Command::Agent(_) => "shotfarm-agent",
            Command::Dev(_) => "shotfarm-dev",
            _ => "shotfarm",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole farm in one process: turn a source (or a synthesized sample) into a ladder.
    Dev(commands::dev::DevArgs),
    /// Run a node agent.
    Agent(commands::agent::AgentArgs),
    /// Run one scheduler replica.
    Scheduler(commands::scheduler::SchedulerArgs),
    /// Members, roles, leader, term and indexes of the scheduler group; add or remove replicas.
    Cluster(commands::cluster::ClusterArgs),
    /// Submit a job.
    Submit(commands::submit::SubmitArgs),
    /// List jobs.
    Jobs(commands::jobs::JobsArgs),
    /// Show one job and its tasks.
    Status(commands::status::StatusArgs),
    /// Follow a job's progress until it finishes.
    Watch(commands::watch::WatchArgs),
    /// A finished job's renditions and their quality; --html copies its report.html.
    Report(commands::report::ReportArgs),
    /// Cancel a job.
    Cancel(commands::cancel::CancelArgs),
    /// List the farm's nodes.
    Nodes(commands::nodes::NodesArgs),
    /// Stop placing new tasks on a node.
    Cordon(commands::nodes::NodeArgs),
    /// Stop placing new tasks on a node and let its running tasks finish.
    Drain(commands::nodes::NodeArgs),
    /// Let a cordoned or draining node take tasks again.
    Uncordon(commands::nodes::NodeArgs),
    /// VMAF (and PSNR/SSIM) of a distorted clip against its reference.
    Vmaf(commands::vmaf::VmafArgs),
    /// Micro-benchmarks.
    Bench(commands::bench::BenchArgs),
    /// Inspect a source alone: facts, shots, warnings; exit 3 when rejected.
    Inspect(commands::inspect::InspectArgs),
    /// The farm's certificate authority and the certificates of replicas, agents, operators.
    Certs(commands::certs::CertsArgs),
    /// Bearer tokens for submitters and operators without a certificate (operators only).
    Tokens(commands::tokens::TokensArgs),
    /// Named, versioned job recipes (create and delete: operators; list and show: anyone).
    Recipes(commands::recipes::RecipesArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version on stdout with exit 0, and usage errors with exit 2.
            let _ = err.print();
            return if err.use_stderr() { exit::ExitKind::Usage.code() } else { ExitCode::SUCCESS };
        }
    };
    let telemetry = logging::LogFormat::parse(std::env::var("SHOTFARM_LOG_FORMAT").ok().as_deref()).and_then(|format| {
        let otlp = cli.otlp_endpoint.as_deref().map(logging::OtlpEndpoint::parse).transpose()?;
        logging::install(format, otlp.as_ref(), cli.command.service())
    });
    // Held to the end of `main`: dropping it sends the last spans.
    let _telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::ExitKind::Usage.code();
        }
    };
    // The scheduler's crash points (tests only: see `shotfarm_scheduler::failpoints`).
    if let Err(message) = shotfarm_scheduler::failpoints::configure_from_env() {
        eprintln!("error: {message}");
        return exit::ExitKind::Usage.code();
    }
    let outcome = match cli.command {
        Command::Dev(args) => commands::dev::run(args),
        Command::Agent(args) => commands::agent::run(args),
        Command::Scheduler(args) => commands::scheduler::run(args),
        Command::Cluster(args) => commands::cluster::run(args),
        Command::Submit(args) => commands::submit::run(args),
        Command::Jobs(args) => commands::jobs::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Watch(args) => commands::watch::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Cancel(args) => commands::cancel::run(args),
        Command::Nodes(args) => commands::nodes::list(args),
        Command::Cordon(args) => commands::nodes::change(args, commands::nodes::Lifecycle::Cordon),
        Command::Drain(args) => commands::nodes::change(args, commands::nodes::Lifecycle::Drain),
        Command::Uncordon(args) => commands::nodes::change(args, commands::nodes::Lifecycle::Uncordon),
        Command::Vmaf(args) => commands::vmaf::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Certs(args) => commands::certs::run(args),
        Command::Tokens(args) => commands::tokens::run(args),
        Command::Recipes(args) => commands::recipes::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.kind.code()
        }
    }
}
