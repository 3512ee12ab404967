//! What the leader knows of its agents outside the log — their session streams, when each
//! last heartbeated and which attempts it runs, the live progress of those attempts — behind
//! one handle shared by the driver thread and the services. Each part has its own lock,
//! held only inside these methods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shotfarm_proto::v1;

use super::clock::now_ms;
use super::liveness::{Liveness, LivenessConfig, Verdicts};
use super::sessions::{SessionSender, Sessions};
use super::stream_end::StreamEnd;
use crate::state::State;
use crate::state::model::{Millis, NodeId, TaskId};

/// The shared handle: cloning it shares the same agents.
#[derive(Debug, Clone, Default)]
pub struct Agents {
    inner: Arc<AgentsInner>,
}

#[derive(Debug, Default)]
struct AgentsInner {
    sessions: Mutex<Sessions>,
    liveness: Mutex<Liveness>,
    /// Live progress of running attempts, reported by agents (not replicated).
    progress: Mutex<HashMap<TaskId, v1::TaskProgress>>,
}

/// A poisoned lock only means another thread panicked mid-update of plain maps: go on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Agents {
    /// Attaches a node's session stream (replacing an older one) and counts it as a
    /// heartbeat; returns the session number to detach with.
    pub fn attach(&self, node: NodeId, sender: SessionSender) -> u64 {
        let session = lock(&self.inner.sessions).attach(node, sender);
        self.heard_from(node, &[]);
        session
    }

    /// Removes the node's stream if it is still this session's.
    pub fn detach(&self, node: NodeId, session: u64) {
        lock(&self.inner.sessions).detach(node, session);
    }

    /// A heartbeat (or a registration) from `node`, listing the attempts it runs.
    pub fn heard_from(&self, node: NodeId, running: &[(TaskId, u32)]) {
        lock(&self.inner.liveness).heartbeat(node, running, Instant::now());
    }

    /// When `node` last heartbeated, in the leader's wall-clock milliseconds; 0 if never.
    pub fn last_heartbeat_ms(&self, node: NodeId) -> Millis {
        let seen = lock(&self.inner.liveness).last_heartbeat(node);
        seen.map_or(0, |at| now_ms().saturating_sub(Instant::now().duration_since(at).as_millis() as Millis))
    }

    /// Whether `node`'s agent holds a session with this replica now.
    pub fn is_connected(&self, node: NodeId) -> bool {
        lock(&self.inner.sessions).is_connected(node)
    }

    pub fn record_progress(&self, progress: v1::TaskProgress) {
        lock(&self.inner.progress).insert(progress.task_id, progress);
    }

    pub fn forget_progress(&self, task: TaskId) {
        lock(&self.inner.progress).remove(&task);
    }

    /// The progress of each (task, attempt) that has reported some.
    pub fn progress_of(&self, attempts: impl IntoIterator<Item = (TaskId, u32)>) -> Vec<v1::TaskProgress> {
        let progress = lock(&self.inner.progress);
        attempts.into_iter().filter_map(|(task, attempt)| progress.get(&task).filter(|found| found.attempt == attempt).cloned()).collect()
    }

    /// Sends an assignment, which counts as seen until the agent's heartbeats take over;
    /// false when it could not be delivered now.
    pub fn dispatch(&self, node: NodeId, task: TaskId, attempt: u32, assignment: v1::SchedulerMessage) -> bool {
        lock(&self.inner.liveness).dispatched(task, attempt, Instant::now());
        lock(&self.inner.sessions).send(node, assignment)
    }

    /// Tells the node to stop an attempt; its progress is forgotten.
    pub fn cancel(&self, node: NodeId, task: TaskId, attempt: u32, reason: String) {
        self.forget_progress(task);
        let message = v1::SchedulerMessage {
            body: Some(v1::scheduler_message::Body::Cancel(v1::CancelTask { task: Some(v1::TaskRef { task_id: task, attempt }), reason })),
        };
        lock(&self.inner.sessions).send(node, message);
    }

    /// Ends one node's session with the reason its agent acts on.
    pub fn close(&self, node: NodeId, end: StreamEnd) {
        lock(&self.inner.sessions).close(node, end);
    }

    /// The nodes that gained (`true`) or lost (`false`) their session since the last call.
    pub fn take_connection_changes(&self) -> Vec<(NodeId, bool)> {
        lock(&self.inner.sessions).take_connection_changes()
    }

    /// Ends every session: agents reconnect (to the new leader, or after a restart).
    pub fn close_all(&self, end: StreamEnd) {
        lock(&self.inner.sessions).close_all(end);
    }

    /// This replica became leader: forget what an older term heard and grant a grace period.
    pub fn leadership_gained(&self, grace: Duration) {
        lock(&self.inner.liveness).reset(Instant::now(), grace);
    }

    /// This replica stopped leading: agents go to the new leader, with their progress.
    pub fn leadership_lost(&self) {
        self.close_all(StreamEnd::LeadershipLost);
        lock(&self.inner.progress).clear();
    }

    /// Nodes and leases past their timeouts at `now`, given the replicated state.
    pub fn verdicts(&self, state: &State, config: &LivenessConfig, now: Instant) -> Verdicts {
        lock(&self.inner.liveness).verdicts(state, config, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_reported_for_the_attempt_that_sent_it_only() {
        let agents = Agents::default();
        agents.record_progress(v1::TaskProgress { task_id: 7, attempt: 2, frames_done: 10, frames_total: 20, fps: 1.0 });
        assert_eq!(agents.progress_of([(7, 1)]), Vec::new());
        assert_eq!(agents.progress_of([(7, 2)]).len(), 1);
        agents.forget_progress(7);
        assert_eq!(agents.progress_of([(7, 2)]), Vec::new());
    }
}
