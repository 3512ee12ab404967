//! A recorded history of client operations against the scheduler, for the linearizability
//! checker ([`crate::linearizability`]) and the "no acknowledged job lost" invariant
//! ([`crate::invariants`]).
//!
//! [`Recorder`] is cheap to clone and thread-safe: hand a clone to every client task. Its
//! methods make the real gRPC call through a [`LeaderClient`] and record the call's invoke
//! and return instants and its outcome:
//!
//! ```no_run
//! # async fn example(client: &shotfarm_proto::client::LeaderClient) {
//! use shotfarm_cluster_tests::history::{NodeChange, Recorder};
//! let recorder = Recorder::new();
//! let submitted = recorder.submit(client, "request-1", "file:///sim/c2-r1.mp4").await;
//! if let Ok(response) = submitted {
//!     let _ = recorder.get(client, &response.job_id).await;
//!     let _ = recorder.cancel(client, &response.job_id).await;
//! }
//! let _ = recorder.set_node_state(client, "sim-0", NodeChange::Cordon).await;
//! let _ = recorder.list_nodes(client).await;
//! let history = recorder.history();
//! if let Err(violation) = shotfarm_cluster_tests::linearizability::check(&history) {
//!     let _ = history.save(std::path::Path::new("/tmp/history.json"));
//!     panic!("{violation}");
//! }
//! # }
//! ```
//!
//! How outcomes are classified (the checker relies on it):
//! - a write (submit, cancel, cordon/drain/uncordon) that answered is definite;
//! - a write that failed with a refusal (`NOT_FOUND`, `FAILED_PRECONDITION`, …) had no effect,
//!   unless an earlier attempt of the same call (the client retries across replicas) failed
//!   in a way that may have committed: then, and for every `UNAVAILABLE`/`UNKNOWN` failure
//!   or timeout, the write is **indeterminate** — it may or may not have taken effect, and
//!   its return instant is infinity;
//! - a read that failed says nothing and is recorded as [`Outcome::Failed`] (the checker
//!   skips it).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::leader_hint;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, CancelJobRequest, GetJobRequest, ListNodesRequest, NodeRequest, SubmitJobRequest};
use tonic::{Code, Status};

/// Job and node states as clients see them: the scheduler's own.
pub use shotfarm_scheduler::state::model::{JobState, NodeState};

/// A job state from the wire.
pub fn job_state(state: i32) -> Option<JobState> {
    match v1::JobState::try_from(state).ok()? {
        v1::JobState::Pending => Some(JobState::Pending),
        v1::JobState::Running => Some(JobState::Running),
        v1::JobState::Succeeded => Some(JobState::Succeeded),
        v1::JobState::Failed => Some(JobState::Failed),
        v1::JobState::Cancelled => Some(JobState::Cancelled),
        v1::JobState::Unspecified => None,
    }
}

/// A node state from the wire.
pub fn node_state(state: i32) -> Option<NodeState> {
    match v1::NodeState::try_from(state).ok()? {
        v1::NodeState::Ready => Some(NodeState::Ready),
        v1::NodeState::Cordoned => Some(NodeState::Cordoned),
        v1::NodeState::Draining => Some(NodeState::Draining),
        v1::NodeState::Down => Some(NodeState::Down),
        v1::NodeState::Unspecified => None,
    }
}

/// An operator's change of a node's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeChange {
    Cordon,
    Drain,
    Uncordon,
}

impl NodeChange {
    /// The state the change sets.
    pub fn target(self) -> NodeState {
        match self {
            NodeChange::Cordon => NodeState::Cordoned,
            NodeChange::Drain => NodeState::Draining,
            NodeChange::Uncordon => NodeState::Ready,
        }
    }
}

/// What a client asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    Submit { request_id: String },
    Get { job_id: String },
    Cancel { job_id: String },
    SetNodeState { node: String, change: NodeChange },
    ListNodes,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Submitted { job_id: String, created: bool },
    /// A job read (get, or the job as a cancel left it).
    Job { state: JobState },
    /// A node as a cordon/drain/uncordon left it.
    Node { state: NodeState },
    Nodes { nodes: Vec<(String, NodeState)> },
    NotFound,
    /// A definite refusal: the call had no effect.
    Refused { code: String, message: String },
    /// A write whose effect is unknown (timeout, lost leadership, broken connection).
    Indeterminate { why: String },
    /// A read that failed: it tells nothing.
    Failed { why: String },
}

/// One recorded operation. Times are nanoseconds since the recorder started; `returned` is
/// `None` (infinity) for indeterminate writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub id: usize,
    pub call: Call,
    pub outcome: Outcome,
    pub invoked_ns: u64,
    pub returned_ns: Option<u64>,
}

/// The operations recorded so far, in invocation order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    pub operations: Vec<Operation>,
}

impl History {
    /// Submissions that were acknowledged: (request id, job id).
    pub fn acknowledged_jobs(&self) -> Vec<(String, String)> {
        self.operations
            .iter()
            .filter_map(|operation| match (&operation.call, &operation.outcome) {
                (Call::Submit { request_id }, Outcome::Submitted { job_id, .. }) => Some((request_id.clone(), job_id.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|err| format!("{{\"error\": \"cannot encode the history: {err}\"}}"))
    }

    /// Writes the history as JSON (kept next to the logs when a check fails).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }
}

#[derive(Debug)]
struct Shared {
    start: Instant,
    operations: Mutex<Vec<Operation>>,
}

/// Records client operations; clones share one history.
#[derive(Debug, Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
    /// A call that has not answered after this long is recorded as timed out.
    pub timeout: Duration,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// Whether a failed attempt may have committed the write it carried. "Not the leader" is
/// answered before anything is proposed; refusals come from `apply`, which changed nothing.
fn may_have_committed(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded | Code::Internal | Code::Aborted)
        && !leader_hint::is_not_leader(status)
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { shared: Arc::new(Shared { start: Instant::now(), operations: Mutex::new(Vec::new()) }), timeout: Duration::from_secs(30) }
    }

    /// A copy of everything recorded so far.
    pub fn history(&self) -> History {
        let mut operations = self.shared.operations.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        operations.sort_by_key(|operation| (operation.invoked_ns, operation.id));
        History { operations }
    }

    fn now_ns(&self) -> u64 {
        self.shared.start.elapsed().as_nanos() as u64
    }

    fn record(&self, call: Call, invoked_ns: u64, outcome: Outcome) {
        let returned_ns = match outcome {
            Outcome::Indeterminate { .. } => None,
            _ => Some(self.now_ns()),
        };
        let mut operations = self.shared.operations.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = operations.len();
        operations.push(Operation { id, call, outcome, invoked_ns, returned_ns });
    }

    /// A call that gives up after `self.timeout`.
    async fn timed<T>(&self, call: impl std::future::Future<Output = Result<T, Status>>) -> Result<T, Status> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded(format!("no answer within {:?}", self.timeout))))
    }

    /// Runs a write through the leader-following client, noting whether an attempt before the
    /// last may have committed.
    async fn write<T, F, Fut>(&self, client: &LeaderClient, f: F) -> (Result<T, Status>, bool)
    where
        F: Fn(shotfarm_proto::client::FarmChannel) -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        let ambiguous = AtomicBool::new(false);
        let (noted, f) = (&ambiguous, &f);
        let attempt = move |channel| async move {
            let answer = f(channel).await;
            if let Err(status) = &answer
                && may_have_committed(status)
            {
                noted.store(true, Ordering::Relaxed);
            }
            answer
        };
        let answer = self.timed(client.call(attempt)).await;
        (answer, ambiguous.load(Ordering::Relaxed))
    }

    /// The outcome of a failed write.
    fn failed_write(status: &Status, earlier_ambiguous: bool) -> Outcome {
        if may_have_committed(status) || earlier_ambiguous {
            Outcome::Indeterminate { why: format!("{:?}: {}", status.code(), status.message()) }
        } else if status.code() == Code::NotFound {
            Outcome::NotFound
        } else {
            Outcome::Refused { code: format!("{:?}", status.code()), message: status.message().to_owned() }
        }
    }

    /// Submits a job reading `input_url` (the swarm shapes it from the name, e.g.
    /// `file:///sim/c4-r2.mp4`) under `request_id`.
    pub async fn submit(&self, client: &LeaderClient, request_id: &str, input_url: &str) -> Result<v1::SubmitJobResponse, Status> {
        let spec = v1::JobSpec { input_url: input_url.to_owned(), output_url: "file:///sim/out".to_owned(), ..Default::default() };
        self.submit_spec(client, request_id, spec).await
    }

    /// Submits a job with a full spec.
    pub async fn submit_spec(&self, client: &LeaderClient, request_id: &str, spec: v1::JobSpec) -> Result<v1::SubmitJobResponse, Status> {
        let call = Call::Submit { request_id: request_id.to_owned() };
        let request = SubmitJobRequest { request_id: request_id.to_owned(), spec: Some(spec), ..Default::default() };
        let invoked = self.now_ns();
        let (answer, ambiguous) = self
            .write(client, |channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
            })
            .await;
        let outcome = match &answer {
            Ok(response) => Outcome::Submitted { job_id: response.job_id.clone(), created: response.created },
            Err(status) => Recorder::failed_write(status, ambiguous),
        };
        self.record(call, invoked, outcome);
        answer
    }

    /// Reads a job (linearizable on the leader).
    pub async fn get(&self, client: &LeaderClient, job_id: &str) -> Result<v1::Job, Status> {
        let call = Call::Get { job_id: job_id.to_owned() };
        let invoked = self.now_ns();
        let request = GetJobRequest { job_id: job_id.to_owned(), include_tasks: true };
        let answer = self
            .timed(client.call(|channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).get_job(request).await?.into_inner()) }
            }))
            .await;
        let outcome = match &answer {
            Ok(job) => match job_state(job.state) {
                Some(state) => Outcome::Job { state },
                None => Outcome::Failed { why: format!("job state {} is not a state", job.state) },
            },
            Err(status) if status.code() == Code::NotFound => Outcome::NotFound,
            Err(status) => Outcome::Failed { why: format!("{:?}: {}", status.code(), status.message()) },
        };
        self.record(call, invoked, outcome);
        answer
    }

    /// Cancels a job; answers the job as the cancel left it.
    pub async fn cancel(&self, client: &LeaderClient, job_id: &str) -> Result<v1::Job, Status> {
        let call = Call::Cancel { job_id: job_id.to_owned() };
        let invoked = self.now_ns();
        let (answer, ambiguous) = self
            .write(client, |channel| {
                let job_id = job_id.to_owned();
                async move { Ok(JobServiceClient::new(channel).cancel_job(CancelJobRequest { job_id }).await?.into_inner()) }
            })
            .await;
        let outcome = match &answer {
            Ok(job) => match job_state(job.state) {
                Some(state) => Outcome::Job { state },
                None => Outcome::Indeterminate { why: format!("job state {} is not a state", job.state) },
            },
            Err(status) => Recorder::failed_write(status, ambiguous),
        };
        self.record(call, invoked, outcome);
        answer
    }

    /// Cordons, drains or uncordons a node (by name).
    pub async fn set_node_state(&self, client: &LeaderClient, node: &str, change: NodeChange) -> Result<v1::Node, Status> {
        let call = Call::SetNodeState { node: node.to_owned(), change };
        let invoked = self.now_ns();
        let (answer, ambiguous) = self
            .write(client, |channel| {
                let request = NodeRequest { node: node.to_owned() };
                async move {
                    let mut admin = AdminServiceClient::new(channel);
                    let node = match change {
                        NodeChange::Cordon => admin.cordon_node(request).await?,
                        NodeChange::Drain => admin.drain_node(request).await?,
                        NodeChange::Uncordon => admin.uncordon_node(request).await?,
                    };
                    Ok(node.into_inner())
                }
            })
            .await;
        let outcome = match &answer {
            Ok(found) => match node_state(found.state) {
                Some(state) => Outcome::Node { state },
                None => Outcome::Indeterminate { why: format!("node state {} is not a state", found.state) },
            },
            Err(status) => Recorder::failed_write(status, ambiguous),
        };
        self.record(call, invoked, outcome);
        answer
    }

    /// Lists the nodes (a read of every node at once).
    pub async fn list_nodes(&self, client: &LeaderClient) -> Result<Vec<v1::Node>, Status> {
        let invoked = self.now_ns();
        let answer = self
            .timed(client.call(|channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner().nodes) }))
            .await;
        let outcome = match &answer {
            Ok(nodes) => Outcome::Nodes {
                nodes: nodes.iter().filter_map(|node| Some((node.name.clone(), node_state(node.state)?))).collect(),
            },
            Err(status) => Outcome::Failed { why: format!("{:?}: {}", status.code(), status.message()) },
        };
        self.record(Call::ListNodes, invoked, outcome);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_the_leader_never_committed_but_unknown_may_have() {
        assert!(!may_have_committed(&leader_hint::not_leader(Some((2, "127.0.0.1:1")))));
        assert!(!may_have_committed(&leader_hint::not_leader(None)));
        assert!(may_have_committed(&Status::unavailable("the outcome is unknown: leadership changed")));
        assert!(!may_have_committed(&Status::failed_precondition("node 3 is down")));
    }

    #[test]
    fn failed_writes_are_indeterminate_unless_refused_outright() {
        assert_eq!(Recorder::failed_write(&Status::not_found("no job job-9"), false), Outcome::NotFound);
        assert!(matches!(Recorder::failed_write(&Status::not_found("no job job-9"), true), Outcome::Indeterminate { .. }));
        assert!(matches!(Recorder::failed_write(&Status::deadline_exceeded("slow"), false), Outcome::Indeterminate { .. }));
        assert!(matches!(Recorder::failed_write(&Status::failed_precondition("down"), false), Outcome::Refused { .. }));
    }

    #[test]
    fn indeterminate_operations_never_return_and_acknowledged_jobs_are_listed() {
        let recorder = Recorder::new();
        recorder.record(Call::Submit { request_id: "a".into() }, 0, Outcome::Submitted { job_id: "job-1".into(), created: true });
        recorder.record(Call::Submit { request_id: "b".into() }, 1, Outcome::Indeterminate { why: "timeout".into() });
        let history = recorder.history();
        assert_eq!(history.operations[1].returned_ns, None);
        assert!(history.operations[0].returned_ns.is_some());
        assert_eq!(history.acknowledged_jobs(), vec![("a".to_owned(), "job-1".to_owned())]);
        assert!(history.to_json().contains("\"indeterminate\""));
    }
}
