//! The replicated entities: jobs, tasks, nodes and their leases. Plain data; all changes go
//! through `machine::apply`, the floor above.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{Artifact, Chunk, JobLocations, Rung, SourceSummary, TaskKind};
use shotfarm_proto::analysis::LadderDecision;
use shotfarm_proto::recipe::LadderRecipe;

pub type JobId = u64;
pub type TaskId = u64;
pub type NodeId = u64;
/// Milliseconds since the Unix epoch, as proposed by the leader (never read in `apply`).
pub type Millis = u64;

/// The roles a bearer token can carry; replicas and agents need certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenRole {
    Operator,
    Submitter,
}

impl TokenRole {
    /// The role a caller with such a token has (its name is the role's: `operator`, `submitter`).
    pub fn role(self) -> shotfarm_security::Role {
        match self {
            TokenRole::Operator => shotfarm_security::Role::Operator,
            TokenRole::Submitter => shotfarm_security::Role::Submitter,
        }
    }
}

/// A bearer token, as the farm keeps it: never the token, only its SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub role: TokenRole,
    pub fingerprint: String,
    pub created_at_ms: Millis,
}

/// A certificate the farm refuses from now on (`shotfarm certs revoke`), by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedCertificate {
    /// `ROLE/NAME`, when the certificate itself was given; empty for a bare fingerprint.
    pub identity: String,
    pub revoked_at_ms: Millis,
}

/// How a job is known outside: `job-<n>`.
pub fn format_job_id(id: JobId) -> String {
    format!("job-{id}")
}

/// Parses `job-<n>` (or a bare number).
pub fn parse_job_id(text: &str) -> Option<JobId> {
    text.strip_prefix("job-").unwrap_or(text).parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// What a client asked for, validated before it is proposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub input_url: String,
    pub output_url: String,
    pub priority: i32,
    /// Codec names as in `shotfarm_proto::pipeline::Codec::as_str`.
    pub codecs: Vec<String>,
    pub chunk_min_ms: u32,
    pub chunk_max_ms: u32,
    pub labels: BTreeMap<String, String>,
    /// Rungs of one chunk per encode task (1: one task per chunk and rung).
    pub rungs_per_encode: u32,
    /// Whether every chunk of every rung gets a score task.
    pub score_quality: bool,
    /// Replace the outputs already at `output_url` (`JobSpec.overwrite`); rows written
    /// before the field existed read as `false`.
    #[serde(default)]
    pub overwrite: bool,
    /// How the ladder is made (checked: `LadderRecipe::from_wire`).
    #[serde(default)]
    pub recipe: LadderRecipe,
    /// Thumbnails and poster (checked: `ThumbnailOptions::from_wire`); rows written before
    /// the field existed read as none, as those jobs were packaged.
    #[serde(default)]
    pub thumbnails: Option<shotfarm_proto::thumbnails::ThumbnailOptions>,
    /// The saved recipe this spec was resolved from (its settings under the submission's).
    #[serde(default)]
    pub from_recipe: Option<super::saved_recipes::RecipeRef>,
    /// Where the job's state changes are POSTed (checked against the farm's callback
    /// endpoints at submission); empty: no callbacks.
    #[serde(default)]
    pub callback_url: String,
    /// Content encryption: scheme and key file URL (checked against the input roots).
    #[serde(default)]
    pub encryption: Option<shotfarm_proto::encryption::EncryptionOptions>,
}

impl JobSpec {
    /// A default H.264 job from `file:///in.mp4` to `file:///out`, for tests and the
    /// in-process scheduler benchmark.
    pub fn for_tests() -> JobSpec {
        JobSpec {
            input_url: "file:///in.mp4".to_owned(),
            output_url: "file:///out".to_owned(),
            priority: 0,
            codecs: vec!["h264".to_owned()],
            chunk_min_ms: 0,
            chunk_max_ms: 0,
            labels: BTreeMap::new(),
            rungs_per_encode: 1,
            score_quality: true,
            overwrite: false,
            recipe: LadderRecipe::default(),
            thumbnails: None,
            from_recipe: None,
            callback_url: String::new(),
            encryption: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub request_id: String,
    /// Who submitted it (`submitter/bob`, `operator/alice`); empty on an `--insecure` farm.
    /// Submitters see and cancel only their own jobs.
    pub owner: String,
    pub spec: JobSpec,
    pub state: JobState,
    pub error: Option<String>,
    /// Every task of the job, in creation order.
    pub tasks: Vec<TaskId>,
    pub tasks_done: u32,
    pub created_at_ms: Millis,
    pub updated_at_ms: Millis,
    pub finished_at_ms: Option<Millis>,
    /// What the planner learned so far: grows as inspection and ladder results arrive.
    pub plan: JobPlan,
    /// The job's callback events not yet delivered, and the count of those that were.
    #[serde(default)]
    pub callbacks: super::callback_outbox::CallbackOutbox,
    /// The W3C trace context its tasks' spans take as parent (the leader's `submit_job`
    /// span), when the submission was traced.
    pub trace_parent: Option<String>,
}

/// The facts the planner builds task specs from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    pub locations: JobLocations,
    pub source: Option<SourceSummary>,
    /// The committed inspection artifact, named in the specs of the stages that read it.
    pub inspection: Option<Artifact>,
    pub chunks: Vec<Chunk>,
    pub rungs: Vec<Rung>,
    /// Per-title and per-shot: how the ladder task chose the rungs (and, per shot, each
    /// chunk's setting), read by the encode specs.
    #[serde(default)]
    pub decision: Option<LadderDecision>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// Waiting for the tasks it depends on.
    Blocked,
    /// Ready to be placed.
    Queued,
    /// Leased to a node.
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskState {
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled)
    }
}

/// Where a task can run: the first option is preferred (GPU backends come first where the
/// work is faster there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendOption {
    /// `cpu`, `nvenc` or `cuda`.
    pub backend: String,
    /// An ffmpeg encoder the node must offer for this option, if any (e.g. `libx264`).
    pub encoder: Option<String>,
    pub demand: Demand,
}

/// A resource vector. Node-level dimensions (CPU, memory) and GPU-level ones (NVENC sessions,
/// GPU memory, CUDA share) are packed separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    pub cpu_milli: u32,
    pub memory_mb: u32,
    pub nvenc_sessions: u32,
    pub gpu_memory_mb: u32,
    /// Percent of one GPU's compute.
    pub cuda_share: u32,
}

impl Demand {
    /// The demand on a node with `cpu_capacity_milli`: a CPU demand is "up to", so a node with
    /// fewer cores than a task asks for gives it all of them (a one-core agent still encodes).
    pub fn fitted_to(self, cpu_capacity_milli: u32) -> Demand {
        Demand { cpu_milli: self.cpu_milli.min(cpu_capacity_milli), ..self }
    }

    pub fn needs_gpu(&self) -> bool {
        self.nvenc_sessions > 0 || self.gpu_memory_mb > 0 || self.cuda_share > 0
    }
}

/// The current holder of a task: the fencing token is (task id, `attempt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub node: NodeId,
    pub attempt: u32,
    pub backend: String,
    pub gpu: Option<u32>,
    pub demand: Demand,
    pub assigned_at_ms: Millis,
}

/// One finished attempt, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub node: NodeId,
    pub backend: String,
    pub started_at_ms: Millis,
    pub finished_at_ms: Millis,
    /// `succeeded`, or why it ended: the error, `lease expired`, `node down`, `cancelled`.
    pub outcome: String,
    /// The CPU the agent measured for a successful attempt (its ffmpeg children and its own
    /// threads working for it); `None` when it failed or the agent did not measure it.
    #[serde(default)]
    pub cpu_micros: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub job: JobId,
    pub kind: TaskKind,
    pub label: String,
    pub state: TaskState,
    /// The chunk (index into the plan's chunks) and rung (index into its rungs) this task
    /// works on, where that applies; an encode task covers `rung_count` consecutive rungs from
    /// `rung` (the job's `rungs_per_encode`), every other task one.
    pub chunk: Option<u32>,
    pub rung: Option<u32>,
    pub rung_count: u32,
    /// Tasks that must succeed first.
    pub deps: Vec<TaskId>,
    /// The spec as JSON (`shotfarm_proto::pipeline::TaskSpec`); filled in by the planner when
    /// the task becomes ready, since it may need its dependencies' outputs.
    pub spec_json: Option<String>,
    pub options: Vec<BackendOption>,
    /// The attempt number of the current or next lease; starts at 1.
    pub attempt: u32,
    /// Attempts that ended in a task error (not a lost node or lease).
    pub failures: u32,
    pub lease: Option<Lease>,
    /// The successful attempt's output JSON (`shotfarm_proto::pipeline::TaskOutput`).
    pub output_json: Option<String>,
    pub error: Option<String>,
    pub history: Vec<AttemptRecord>,
    pub queued_at_ms: Option<Millis>,
}

impl Task {
    /// A new task of `job`: blocked, on its first attempt, working on the whole job.
    pub fn new(id: TaskId, job: JobId, kind: TaskKind, label: String, deps: Vec<TaskId>, spec_json: Option<String>, options: Vec<BackendOption>) -> Task {
        Task {
            id,
            job,
            kind,
            label,
            state: TaskState::Blocked,
            chunk: None,
            rung: None,
            rung_count: 0,
            deps,
            spec_json,
            options,
            attempt: 1,
            failures: 0,
            lease: None,
            output_json: None,
            error: None,
            history: Vec::new(),
            queued_at_ms: None,
        }
    }

    /// Job 1's task `id`: an inspect task in `state`, with no spec or output yet.
    #[cfg(test)]
    pub(crate) fn for_tests(id: TaskId, state: TaskState) -> Task {
        Task { state, ..Task::new(id, 1, TaskKind::Inspect, "inspect source".to_owned(), Vec::new(), None, Vec::new()) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Ready,
    /// Takes no new tasks; running ones finish.
    Cordoned,
    /// Takes no new tasks; running ones finish, then the node is empty and may be removed.
    Draining,
    /// Declared dead by the leader; its leases were returned. Re-registering revives it.
    Down,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Ready => "ready",
            NodeState::Cordoned => "cordoned",
            NodeState::Draining => "draining",
            NodeState::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    pub index: u32,
    pub name: String,
    pub memory_mb: u32,
    pub multiprocessors: u32,
    pub nvenc_sessions: u32,
    pub cuda: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCapabilities {
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub gpus: Vec<GpuInfo>,
    pub backends: BTreeSet<String>,
    pub encoders: BTreeSet<String>,
    pub ffmpeg_version: String,
    pub agent_version: String,
    /// Concurrent tasks at most.
    pub max_tasks: u32,
}

/// GPU-level usage of one GPU of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuUsage {
    pub nvenc_sessions: u32,
    pub gpu_memory_mb: u32,
    pub cuda_share: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    pub state: NodeState,
    pub capabilities: NodeCapabilities,
    pub labels: BTreeMap<String, String>,
    /// Node-level usage: CPU and memory.
    pub used_cpu_milli: u32,
    pub used_memory_mb: u32,
    /// One entry per GPU in `capabilities.gpus`.
    pub gpu_used: Vec<GpuUsage>,
    pub running: BTreeSet<TaskId>,
    pub registered_at_ms: Millis,
}

impl Node {
    pub fn cpu_capacity_milli(&self) -> u32 {
        self.capabilities.cpu_cores.saturating_mul(1000)
    }

    pub fn accepts_work(&self) -> bool {
        self.state == NodeState::Ready
    }

    /// Counts a lease of `task` on this node: its demand as used (CPU and memory here, the
    /// GPU-level dimensions on the lease's GPU) and the task as running.
    pub fn charge(&mut self, task: TaskId, lease: &Lease) {
        self.count_demand(lease, u32::saturating_add);
        self.running.insert(task);
    }

    /// Undoes [`Node::charge`] when the lease ends.
    pub fn refund(&mut self, task: TaskId, lease: &Lease) {
        self.count_demand(lease, u32::saturating_sub);
        self.running.remove(&task);
    }

    /// Applies `step` (add or subtract) to every dimension of the lease's demand.
    ///
    /// The arithmetic saturates, one way for both directions, rather than being checked or
    /// wrapping: `apply` runs each entry on every replica and may neither fail halfway
    /// (there is no refusal for a refund) nor panic (every replica would stop at the same
    /// entry, and again on each restart as it re-applies it), and a wrapped counter would
    /// show an over-counted node as empty. Nothing reaches the bounds in a sound state —
    /// `Assign` re-checks the fit before it charges, and a refund takes back exactly its
    /// lease's charge — so saturation only bounds a bug, which the cluster tests' audit
    /// (usage equals the sum of live leases) reports.
    fn count_demand(&mut self, lease: &Lease, step: fn(u32, u32) -> u32) {
        let demand = &lease.demand;
        self.used_cpu_milli = step(self.used_cpu_milli, demand.cpu_milli);
        self.used_memory_mb = step(self.used_memory_mb, demand.memory_mb);
        if let Some(usage) = lease.gpu.and_then(|gpu| self.gpu_used.get_mut(gpu as usize)) {
            usage.nvenc_sessions = step(usage.nvenc_sessions, demand.nvenc_sessions);
            usage.gpu_memory_mb = step(usage.gpu_memory_mb, demand.gpu_memory_mb);
            usage.cuda_share = step(usage.cuda_share, demand.cuda_share);
        }
    }
}
