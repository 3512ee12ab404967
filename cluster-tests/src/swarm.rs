//! A swarm of simulated agents in one process: each registers as its own node (optionally
//! with fake GPUs that have NVENC session limits and GPU memory), keeps a session to the
//! leader, heartbeats, and answers every assignment at once with a synthetic output derived
//! from the spec (`shotfarm_scheduler::synthetic`), so real jobs run through the real
//! scheduler with no media work. On a TLS cluster each agent has its own certificate and its
//! own connection, as real agents do (the scheduler binds a node's name to its certificate);
//! on an `--insecure` one, agents share a few connections (`agents_per_connection`), as many
//! agents behind one proxy would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::pipeline::TaskSpec;
use shotfarm_proto::v1::node_service_client::NodeServiceClient;
use shotfarm_proto::v1::{self, agent_message, scheduler_message, task_result};
use shotfarm_scheduler::replica_node::clock::now_ms;
use shotfarm_scheduler::synthetic;

use crate::cluster::SchedulerCluster;
use shotfarm_security::local_farm::LocalFarmCertificates;
use shotfarm_security::{Credentials, Role, TransportSecurity};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct SwarmConfig {
    pub schedulers: Vec<String>,
    pub agents: usize,
    pub cpu_cores: u32,
    pub max_tasks: u32,
    /// Fake GPUs per agent, each with this many NVENC sessions.
    pub gpus: u32,
    pub nvenc_sessions: u32,
    /// Shape of every job's synthetic inspection and ladder.
    pub chunks: u32,
    pub rungs: u32,
    /// How long a simulated task "runs" before its result is sent.
    pub work_time: Duration,
    /// Agents per shared connection (anonymous agents only).
    pub agents_per_connection: usize,
    pub name_prefix: String,
    pub identity: SwarmIdentity,
}

/// Who the simulated agents are to the scheduler.
#[derive(Debug, Clone)]
pub enum SwarmIdentity {
    /// An `--insecure` cluster: agents share connections, anonymously.
    Anonymous,
    /// A TLS cluster: each agent its own `agent/NAME` certificate and connection.
    Certified(Arc<LocalFarmCertificates>),
}

impl SwarmIdentity {
    fn credentials(&self, name: &str) -> anyhow::Result<Credentials> {
        match self {
            SwarmIdentity::Anonymous => Ok(Credentials::insecure()),
            SwarmIdentity::Certified(certificates) => {
                Ok(Credentials::new(TransportSecurity::from_flags(&certificates.files(Role::Agent, name)?, false, true)?, None)?)
            }
        }
    }
}

impl SwarmConfig {
    /// `agents` simulated agents of `cluster`, certified as its TLS requires.
    pub fn for_cluster(cluster: &SchedulerCluster, agents: usize) -> SwarmConfig {
        let identity = cluster.certificates().map_or(SwarmIdentity::Anonymous, SwarmIdentity::Certified);
        SwarmConfig::new(cluster.addrs(), agents, identity)
    }

    pub fn new(schedulers: Vec<String>, agents: usize, identity: SwarmIdentity) -> SwarmConfig {
        SwarmConfig {
            schedulers,
            agents,
            cpu_cores: 16,
            max_tasks: 16,
            gpus: 0,
            nvenc_sessions: 0,
            chunks: 10,
            rungs: 3,
            work_time: Duration::ZERO,
            agents_per_connection: 64,
            name_prefix: "sim".to_owned(),
            identity,
        }
    }
}

/// What the swarm has seen, shared with whoever runs it.
#[derive(Debug, Default)]
pub struct SwarmStats {
    pub assignments: AtomicU64,
    pub results_sent: AtomicU64,
    pub acks_refused: AtomicU64,
    pub sessions_opened: AtomicU64,
    /// Set whenever an assignment arrives; the failover benchmark watches it.
    pub last_assignment: std::sync::Mutex<Option<Instant>>,
    pub connected: AtomicBool,
    /// Every first arrival of an assignment that says when its task became ready.
    pub placement_waits: std::sync::Mutex<Vec<PlacementWait>>,
}

/// How long one task waited from ready (the leader's clock) to its assignment's arrival here
/// (this machine's clock: the same one on loopback).
#[derive(Debug, Clone)]
pub struct PlacementWait {
    pub kind: String,
    /// Arrival, ms since the Unix epoch.
    pub arrived_ms: u64,
    pub waited_ms: u64,
}

impl SwarmStats {
    pub fn last_assignment(&self) -> Option<Instant> {
        *self.last_assignment.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn capabilities(config: &SwarmConfig) -> v1::Capabilities {
    let gpus: Vec<v1::Gpu> = (0..config.gpus)
        .map(|index| v1::Gpu { index, name: "Simulated GPU".to_owned(), memory_bytes: 16 << 30, multiprocessors: 80, nvenc_sessions: config.nvenc_sessions, cuda: true })
        .collect();
    let mut backends = vec!["cpu".to_owned()];
    if config.gpus > 0 {
        backends.push("cuda".to_owned());
        if config.nvenc_sessions > 0 {
            backends.push("nvenc".to_owned());
        }
    }
    v1::Capabilities {
        cpu_cores: config.cpu_cores,
        memory_bytes: u64::from(config.cpu_cores) * (2 << 30),
        gpus,
        backends,
        encoders: ["libx264", "libx265", "libsvtav1", "h264_nvenc", "hevc_nvenc", "av1_nvenc"].map(str::to_owned).to_vec(),
        ffmpeg_version: "simulated".to_owned(),
        agent_version: "swarm".to_owned(),
        max_tasks: config.max_tasks,
    }
}

/// Starts the swarm; it runs until `stop` fires. Fails when an agent's certificate cannot be
/// issued.
pub fn start(config: SwarmConfig, stop: CancellationToken) -> anyhow::Result<Arc<SwarmStats>> {
    let stats = Arc::new(SwarmStats::default());
    let config = Arc::new(config);
    let per_connection = match config.identity {
        SwarmIdentity::Anonymous => config.agents_per_connection.max(1),
        SwarmIdentity::Certified(_) => 1,
    };
    let mut shared: Option<Arc<LeaderClient>> = None;
    for index in 0..config.agents {
        let name = agent_name(&config, index);
        let client = match &shared {
            Some(client) if index % per_connection != 0 => client.clone(),
            _ => Arc::new(LeaderClient::new(config.schedulers.clone(), config.identity.credentials(&name)?)),
        };
        shared = Some(client.clone());
        tokio::spawn(agent(index, config.clone(), client, stats.clone(), stop.clone()));
    }
    Ok(stats)
}

fn agent_name(config: &SwarmConfig, index: usize) -> String {
    format!("{}-{index}", config.name_prefix)
}

async fn agent(index: usize, config: Arc<SwarmConfig>, client: Arc<LeaderClient>, stats: Arc<SwarmStats>, stop: CancellationToken) {
    let request = v1::RegisterRequest { name: agent_name(&config, index), capabilities: Some(capabilities(&config)), labels: Default::default(), held: Vec::new() };
    while !stop.is_cancelled() {
        let registered = client
            .call(|channel| {
                let request = request.clone();
                async move { Ok(NodeServiceClient::new(channel).register(request).await?.into_inner()) }
            })
            .await;
        let Ok(registered) = registered else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // Keep sessions until the scheduler forgets this node (then register again).
        while !stop.is_cancelled() {
            match session(registered.node_id, &config, &client, &stats, &stop, Duration::from_millis(u64::from(registered.heartbeat_interval_ms.max(50)))).await {
                SessionEnd::Reregister => break,
                SessionEnd::Reconnect => tokio::time::sleep(Duration::from_millis(50 + (index as u64 % 50))).await,
                SessionEnd::Stopped => return,
            }
        }
    }
}

enum SessionEnd {
    Reregister,
    Reconnect,
    Stopped,
}

async fn session(node_id: u64, config: &SwarmConfig, client: &LeaderClient, stats: &SwarmStats, stop: &CancellationToken, heartbeat_every: Duration) -> SessionEnd {
    let opened = client
        .call(|channel| async move {
            let (outbound, receiver) = mpsc::channel::<v1::AgentMessage>(1024);
            let _ = outbound.send(v1::AgentMessage { body: Some(agent_message::Body::Hello(v1::Hello { node_id })) }).await;
            let inbound = NodeServiceClient::new(channel).session(ReceiverStream::new(receiver)).await?.into_inner();
            Ok((outbound, inbound))
        })
        .await;
    let (outbound, mut inbound) = match opened {
        Ok(opened) => opened,
        Err(status) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::FailedPrecondition) => return SessionEnd::Reregister,
        Err(_) => return SessionEnd::Reconnect,
    };
    stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    let (results, mut finished) = mpsc::unbounded_channel::<v1::AgentMessage>();
    let mut running: Vec<v1::TaskRef> = Vec::new();
    loop {
        let message = tokio::select! {
            biased;
            () = stop.cancelled() => return SessionEnd::Stopped,
            Some(result) = finished.recv() => {
                if let Some(agent_message::Body::Result(result)) = &result.body {
                    running.retain(|task| Some(task) != result.task.as_ref());
                }
                stats.results_sent.fetch_add(1, Ordering::Relaxed);
                result
            }
            _ = heartbeat.tick() => v1::AgentMessage { body: Some(agent_message::Body::Heartbeat(v1::Heartbeat { running: running.clone(), free_slots: config.max_tasks })) },
            message = inbound.next() => match message {
                Some(Ok(v1::SchedulerMessage { body: Some(scheduler_message::Body::Assignment(assignment)) })) => {
                    stats.assignments.fetch_add(1, Ordering::Relaxed);
                    *stats.last_assignment.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
                    let Some(task) = assignment.task else { continue };
                    if running.contains(&task) {
                        continue;
                    }
                    if assignment.ready_at_ms > 0 {
                        // The leader's clock, read here: one machine.
                        let arrived_ms = now_ms();
                        let wait = PlacementWait { kind: assignment.kind.clone(), arrived_ms, waited_ms: arrived_ms.saturating_sub(assignment.ready_at_ms) };
                        stats.placement_waits.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(wait);
                    }
                    running.push(task);
                    let result = simulated_result(task, &assignment.spec_json, &assignment.backend, config);
                    if config.work_time.is_zero() {
                        let _ = results.send(result);
                    } else {
                        let results = results.clone();
                        let delay = config.work_time;
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = results.send(result);
                        });
                    }
                    continue;
                }
                Some(Ok(v1::SchedulerMessage { body: Some(scheduler_message::Body::Ack(ack)) })) => {
                    if !ack.accepted {
                        stats.acks_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                Some(Ok(_)) => continue,
                Some(Err(status)) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::FailedPrecondition) => return SessionEnd::Reregister,
                Some(Err(_)) | None => return SessionEnd::Reconnect,
            },
        };
        if outbound.send(message).await.is_err() {
            return SessionEnd::Reconnect;
        }
    }
}

/// The job shape a synthetic source asks for: a source named `…/c<chunks>-r<rungs>…`
/// (e.g. `file:///bench/c100-r5.mp4`) gets that many chunks and rungs; any other, the
/// swarm's defaults.
pub fn shape_of(input_url: &str, config: &SwarmConfig) -> (u32, u32) {
    let name = input_url.rsplit('/').next().unwrap_or_default();
    let parsed = name.strip_prefix('c').and_then(|rest| {
        let (chunks, rest) = rest.split_once("-r")?;
        let rungs: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((chunks.parse().ok()?, rungs.parse().ok()?))
    });
    parsed.unwrap_or((config.chunks, config.rungs))
}

fn simulated_result(task: v1::TaskRef, spec_json: &[u8], backend: &str, config: &SwarmConfig) -> v1::AgentMessage {
    let outcome = match serde_json::from_slice::<TaskSpec>(spec_json) {
        Ok(spec) => {
            let (chunks, rungs) = shape_of(&spec.locations().input_url, config);
            let output = synthetic::output_for(&spec, chunks, rungs);
            task_result::Outcome::Succeeded(v1::TaskSucceeded {
                output_json: serde_json::to_vec(&output).unwrap_or_default(),
                backend: backend.to_owned(),
                elapsed_ms: config.work_time.as_millis() as u64,
                cpu_micros: 0,
            })
        }
        Err(err) => task_result::Outcome::Failed(v1::TaskFailed { error: format!("simulated agent cannot read the spec: {err}"), retryable: false }),
    };
    v1::AgentMessage { body: Some(agent_message::Body::Result(v1::TaskResult { task: Some(task), outcome: Some(outcome) })) }
}
