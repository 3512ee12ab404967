//! The agent runtime: probe, register, keep a session to the leader, run what it assigns.
//!
//! | module | what |
//! | --- | --- |
//! | [`config`] | the agent's settings: TOML file < `SHOTFARM_*` < flags, validated |
//! | [`gpu_probe`] | GPUs through cudarc's dynamically loaded driver API |
//! | [`registration`] | the capability report sent when registering |
//! | [`session`] | one session stream: heartbeats, assignments, progress, results, acks |
//! | [`cpu_charged_future`] | an attempt's future whose polls, blocking work and ffmpeg children are charged to its CPU ledger |
//! | [`runner`] | runs attempts within the advertised slots; the [`runner::Executor`] seam |
//! | [`journal`] | finished results kept (sled) until the scheduler acknowledges them |
//! | [`shutdown`] | the two-stage [`Shutdown`]: the first signal stops taking work and lets running attempts finish and report; the second cancels them |

pub mod config;
pub mod cpu_charged_future;
pub mod gpu_probe;
pub mod journal;
pub mod registration;
pub mod runner;
pub mod session;
pub mod shutdown;

use std::sync::Arc;
use std::time::Duration;

use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::{self, node_service_client::NodeServiceClient};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::config::AgentConfig;
use self::journal::Journal;
use self::registration::{CapabilityReport, capability_report};
use self::runner::{Executor, Runner};
use self::session::{Connection, SessionEnd, backoff};
pub use self::shutdown::Shutdown;
use crate::media::capabilities::{CapabilityError, probe_capabilities};
use crate::metrics::{AgentMetrics, listener};
use shotfarm_security::https::{HttpsError, HttpsListener};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot probe this machine's media tools: {0} (install ffmpeg: apt-get install ffmpeg)")]
    Probe(#[from] CapabilityError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("the scheduler refused this agent: {0}")]
    Refused(String),
    #[error("--metrics-listen: {0}")]
    Metrics(#[from] HttpsError),
}

/// Registers (retrying until a leader answers or shutdown); returns the node id and the
/// heartbeat interval the scheduler asks for.
async fn register(client: &LeaderClient, request: &v1::RegisterRequest, shutdown: &Shutdown) -> Result<Option<(u64, Duration)>, AgentError> {
    let mut attempt = 0;
    loop {
        if shutdown.graceful.is_cancelled() {
            return Ok(None);
        }
        let result = client
            .call(|channel| {
                let request = request.clone();
                async move { Ok(NodeServiceClient::new(channel).register(request).await?.into_inner()) }
            })
            .await;
        match result {
            Ok(response) => {
                let interval = Duration::from_millis(u64::from(response.heartbeat_interval_ms.clamp(50, 10_000)));
                return Ok(Some((response.node_id, interval)));
            }
            // A refusal that no retry can change (a bad setting, a request too large, no
            // permission) ends the agent with its message rather than a retry loop.
            Err(status) if is_permanent(status.code()) => return Err(AgentError::Refused(status.message().to_owned())),
            Err(status) => {
                tracing::warn!(%status, attempt, "registration failed; retrying");
                attempt += 1;
                tokio::select! {
                    () = tokio::time::sleep(backoff(attempt)) => {}
                    () = shutdown.graceful.cancelled() => return Ok(None),
                }
            }
        }
    }
}

/// Statuses that the same registration would meet again however often it retried.
fn is_permanent(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(code, Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated | Code::Unimplemented | Code::OutOfRange)
}

/// What the agent registers with: its capabilities, and the finished attempts whose results
/// its journal still holds, so that the scheduler keeps their leases for the results to come.
fn registration(config: &AgentConfig, report: &CapabilityReport, journal: &Journal) -> v1::RegisterRequest {
    let held = journal.pending().iter().map(|finished| v1::TaskRef { task_id: finished.task_id, attempt: finished.attempt }).collect();
    v1::RegisterRequest { name: config.name.clone(), capabilities: Some(report.to_wire()), labels: config.labels.clone().into_iter().collect(), held }
}

/// Runs the agent until shutdown, inside an `agent` span that carries the node's name and,
/// once registered, its id (so every event of the node, its attempts' included, says which).
pub async fn run(config: AgentConfig, executor: Executor, shutdown: Shutdown) -> Result<(), AgentError> {
    let span = tracing::info_span!("agent", name = %config.name, node_id = tracing::field::Empty);
    serve(config, executor, shutdown).instrument(span).await
}

async fn serve(config: AgentConfig, executor: Executor, shutdown: Shutdown) -> Result<(), AgentError> {
    let media = Arc::new(probe_capabilities(&CancellationToken::new()).await?);
    let report = capability_report(&config, &media);
    tracing::info!(name = %config.name, cpu_cores = report.cpu_cores, gpus = report.gpus.len(), gpu_unavailable = ?report.gpu_unavailable, backends = ?report.backends, "capabilities probed");
    let journal = Arc::new(Journal::open(&config.work_dir.join("journal"))?);
    let _ = std::fs::remove_dir_all(config.work_dir.join("tasks"));
    let (finished_sender, mut finished) = mpsc::unbounded_channel();
    let (progress_sender, mut progress) = mpsc::channel(1024);
    let slots = report.max_tasks;
    let metrics = Arc::new(AgentMetrics::default());
    metrics.set_slots(slots);
    let stop_metrics = CancellationToken::new();
    let _stop_metrics_on_return = stop_metrics.clone().drop_guard();
    if let Some(addr) = config.metrics_listen {
        let listener = HttpsListener::bind(addr, &config.credentials.transport).await?;
        tracing::info!(metrics_listen = %addr, "serving /metrics over HTTP");
        tokio::spawn(listener::serve(listener, metrics.clone(), config.credentials.transport.clone(), stop_metrics));
    }
    config.roots.warn_if_empty();
    let roots = Arc::new(config.roots.clone());
    let runner = Runner::new(config.work_dir.clone(), roots, slots, journal.clone(), executor, media.clone(), finished_sender, progress_sender, shutdown.abort.clone(), metrics);
    let client = LeaderClient::new(config.schedulers.clone(), config.credentials.clone());
    let mut registered = None;
    let mut failures = 0u32;
    loop {
        let (node_id, heartbeat_interval) = match registered {
            Some(registered) => registered,
            None => match register(&client, &registration(&config, &report, &journal), &shutdown).await? {
                Some(found) => {
                    tracing::Span::current().record("node_id", found.0);
                    tracing::info!(node_id = found.0, "registered");
                    registered = Some(found);
                    found
                }
                None if runner.is_idle() => return Ok(()),
                None => {
                    // Shutting down with work in flight: let it finish before leaving.
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                        () = shutdown.abort.cancelled() => return Ok(()),
                    }
                }
            },
        };
        let mut connection = Connection {
            client: &client,
            node_id,
            heartbeat_interval,
            runner: &runner,
            journal: &journal,
            finished: &mut finished,
            progress: &mut progress,
            shutdown: &shutdown,
        };
        match connection.run().await? {
            SessionEnd::Stopped => return Ok(()),
            SessionEnd::Reregister => {
                // Declared down (or unknown): every lease this node held has ended.
                if !runner.is_idle() {
                    tracing::warn!("the scheduler ended this node's leases; cancelling the attempts still running");
                    runner.cancel_all();
                }
                registered = None;
                failures = 0;
            }
            SessionEnd::Reconnect => {
                failures += 1;
                tokio::select! {
                    () = tokio::time::sleep(backoff(failures)) => {}
                    () = shutdown.abort.cancelled() => return Ok(()),
                }
            }
        }
    }
}
