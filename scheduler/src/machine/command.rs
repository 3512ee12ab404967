//! The commands the replicated log carries, and what applying one answers.
//!
//! Every field a command needs is in the command: `now_ms` is the leader's clock at proposal
//! time, so `apply` never reads a clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::model::{JobId, JobSpec, Millis, NodeCapabilities, NodeId, NodeState, TaskId, TokenRole};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Submits a job for `owner`; request ids are unique per owner.
    /// `trace_parent`: the W3C trace context of the leader's `submit_job` span, which every
    /// task assignment of the job carries (`shotfarm_proto::trace_context`); none untraced.
    SubmitJob { request_id: String, owner: String, spec: JobSpec, now_ms: Millis, trace_parent: Option<String> },
    CancelJob { job: JobId, now_ms: Millis },
    /// Registers a node by name; a known name keeps its id and comes back `Ready`. Its leases
    /// are returned (it restarted), except those of the `held` (task, attempt)s: finished work
    /// whose results it is about to report.
    RegisterNode { name: String, capabilities: NodeCapabilities, labels: BTreeMap<String, String>, held: Vec<(TaskId, u32)>, now_ms: Millis },
    /// Cordon, drain or uncordon (`Ready`); `Down` is only reached through `MarkNodeDown`.
    SetNodeState { node: NodeId, state: NodeState, now_ms: Millis },
    /// The leader saw no heartbeat for too long: every lease on the node is returned.
    MarkNodeDown { node: NodeId, now_ms: Millis },
    Assign { task: TaskId, attempt: u32, node: NodeId, backend: String, gpu: Option<u32>, now_ms: Millis },
    /// `cpu_micros`: the CPU the agent measured for the attempt (0: not measured).
    CompleteTask {
        task: TaskId,
        attempt: u32,
        backend: String,
        output_json: String,
        now_ms: Millis,
        #[serde(default)]
        cpu_micros: u64,
    },
    FailTask { task: TaskId, attempt: u32, error: String, retryable: bool, now_ms: Millis },
    /// The lease was not renewed in time: the task goes back to the queue with attempt + 1.
    ExpireLease { task: TaskId, attempt: u32, now_ms: Millis },
    /// A replica's address, recorded when it joins (from the conf change's context).
    SetMemberAddr { id: u64, addr: String },
    RemoveMember { id: u64 },
    /// Keeps a new bearer token's fingerprint under `name`.
    CreateToken { name: String, role: TokenRole, fingerprint: String, now_ms: Millis },
    RevokeToken { name: String },
    /// Refuses a certificate from now on; an agent's (`identity` = `agent/NAME`) node is
    /// declared down, which ends its session and returns its leases.
    RevokeCertificate { fingerprint: String, identity: String, now_ms: Millis },
    /// Saves `settings` (a checked, protobuf-encoded `v1::JobSpec`) as the next version of
    /// the recipe `name`.
    SaveRecipe { name: String, settings: Vec<u8>, created_by: String, now_ms: Millis },
    /// Drops a recipe's versions; its name keeps its version counter.
    DeleteRecipe { name: String },
    /// The receiver of `job`'s callbacks took event `sequence` (its first pending one).
    CallbackDelivered { job: JobId, sequence: u32, now_ms: Millis },
    /// The receiver refused event `sequence` or could not be reached: retried after a
    /// backoff, given up after the last attempt.
    CallbackRefused { job: JobId, sequence: u32, error: String, now_ms: Millis },
    /// The group's id: set when it is bootstrapped (or rebuilt by `cluster recover`), never
    /// proposed.
    SetClusterId { cluster_id: u64 },
}

impl Command {
    /// The (task, attempt) whose lease this command ends if that attempt is still the live
    /// one when it applies: a result, a failure or an expiry.
    pub fn ended_attempt(&self) -> Option<(TaskId, u32)> {
        match self {
            Command::CompleteTask { task, attempt, .. } | Command::FailTask { task, attempt, .. } | Command::ExpireLease { task, attempt, .. } => {
                Some((*task, *attempt))
            }
            _ => None,
        }
    }
}

/// Why a command changed nothing. Deterministic: every replica refuses alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    #[error("no job {0}")]
    UnknownJob(String),
    #[error("no task {0}")]
    UnknownTask(TaskId),
    #[error("no node {0}")]
    UnknownNode(NodeId),
    #[error("stale attempt {given} of task {task}: the current attempt is {current}")]
    StaleAttempt { task: TaskId, given: u32, current: u32 },
    #[error("task {task} is not running (it is {state})")]
    TaskNotRunning { task: TaskId, state: String },
    #[error("task {task} is not queued (it is {state})")]
    TaskNotQueued { task: TaskId, state: String },
    #[error("node {node} is {state} and takes no new tasks")]
    NodeNotReady { node: NodeId, state: String },
    #[error("task {task} does not fit on node {node}: {why}")]
    DoesNotFit { task: TaskId, node: NodeId, why: String },
    #[error("result of task {task} is not valid: {why}")]
    BadOutput { task: TaskId, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error("a token named {0:?} exists; revoke it first or pick another name")]
    TokenExists(String),
    #[error("no token named {0:?}; `shotfarm tokens list` shows them")]
    UnknownToken(String),
    #[error("no recipe {0:?}; `shotfarm recipes list` shows them")]
    UnknownRecipe(String),
    #[error("recipe {name:?} has no version {version}; `shotfarm recipes show {name}` shows its latest")]
    UnknownRecipeVersion { name: String, version: u32 },
    #[error("{0}")]
    RecipeLimit(String),
    #[error("request id {request_id:?} already submitted {job} with another spec; submit with a new request id (the same spec under it answers {job})")]
    RequestIdReused { request_id: String, job: String },
}

/// What applying a command answers to whoever proposed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    JobSubmitted { job: JobId, created: bool },
    JobCancelled { job: JobId },
    NodeRegistered { node: NodeId },
    NodeUpdated { node: NodeId },
    Assigned { task: TaskId, attempt: u32 },
    ResultAccepted { task: TaskId },
    RecipeSaved { version: u32 },
    /// `versions`: how many the name had.
    RecipeDeleted { versions: u32 },
    /// A bookkeeping command (lease expiry, node down, membership) took effect.
    Applied,
    Refused(Refusal),
}

/// What the leader must do outside the state machine after a command applied: the only
/// channel from `apply` to the world, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Send this assignment to the node's session.
    Dispatch { node: NodeId, task: TaskId, attempt: u32 },
    /// Tell the node to stop this attempt.
    CancelAttempt { node: NodeId, task: TaskId, attempt: u32, reason: String },
    /// The node was declared down: end its session, so that it registers again.
    NodeDown { node: NodeId },
}

/// A batch of commands in one log entry, with who proposed it so that the proposer can
/// answer its callers once the entry applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub proposer: u64,
    pub batch_id: u64,
    pub commands: Vec<Command>,
}
