//! Nodes as the state machine sees them: registered by name (a known name keeps its id),
//! cordoned, drained or made ready again by operators, declared down by the leader. A node
//! that registers again has restarted, so its leases go back to the queue, except those of
//! the finished attempts whose results it still holds.

use std::collections::BTreeMap;

use super::command::{Effect, Outcome, Refusal};
use super::leases::end_attempt;
use crate::state::model::{GpuUsage, Millis, Node, NodeCapabilities, NodeId, NodeState, TaskId};
use crate::state::{RowKey, State};

pub(super) fn register_node(
    state: &mut State,
    name: &str,
    capabilities: &NodeCapabilities,
    labels: &BTreeMap<String, String>,
    held: &[(TaskId, u32)],
    now_ms: Millis,
    effects: &mut Vec<Effect>,
) -> Outcome {
    let id = match state.node_by_name(name) {
        Some(id) => id,
        None => {
            state.meta.next_node_id += 1;
            state.mark(RowKey::Meta);
            state.meta.next_node_id
        }
    };
    // A re-registering node has restarted: whatever it ran is gone, except the attempts it
    // finished and still holds results for, which it reports next.
    let kept = release_restarted_node_leases(state, id, held, now_ms, effects);
    let mut node = Node {
        id,
        name: name.to_owned(),
        state: NodeState::Ready,
        gpu_used: vec![GpuUsage::default(); capabilities.gpus.len()],
        capabilities: capabilities.clone(),
        labels: labels.clone(),
        used_cpu_milli: 0,
        used_memory_mb: 0,
        running: Default::default(),
        registered_at_ms: now_ms,
    };
    for task_id in kept {
        if let Some(lease) = state.tasks.get(&task_id).and_then(|task| task.lease.as_ref()) {
            node.charge(task_id, lease);
        }
    }
    state.insert_node(node);
    state.mark(RowKey::Node(id));
    Outcome::NodeRegistered { node: id }
}

/// Cordon, drain or uncordon; `Down` is reached only through [`mark_node_down`], and a down
/// node comes back only by registering again.
pub(super) fn set_node_state(state: &mut State, node: NodeId, wanted: NodeState) -> Outcome {
    match state.nodes.get_mut(&node) {
        None => Outcome::Refused(Refusal::UnknownNode(node)),
        Some(_) if wanted == NodeState::Down => {
            Outcome::Refused(Refusal::Invalid("a node is marked down only by missed heartbeats".to_owned()))
        }
        Some(found) if found.state == NodeState::Down => Outcome::Refused(Refusal::NodeNotReady {
            node,
            state: "down; it comes back by registering again".to_owned(),
        }),
        Some(found) => {
            found.state = wanted;
            state.mark(RowKey::Node(node));
            Outcome::NodeUpdated { node }
        }
    }
}

/// The leader saw no heartbeat for too long: every lease on the node goes back to the queue
/// and its session is closed.
pub(super) fn mark_node_down(state: &mut State, node: NodeId, now_ms: Millis, effects: &mut Vec<Effect>) -> Outcome {
    let Some(found) = state.nodes.get_mut(&node) else { return Outcome::Refused(Refusal::UnknownNode(node)) };
    found.state = NodeState::Down;
    state.mark(RowKey::Node(node));
    release_node_leases(state, node, now_ms, "node down", effects);
    effects.push(Effect::NodeDown { node });
    Outcome::Applied
}

/// Returns the leases of a node that registered again (it restarted), except those of the
/// attempts in `held` (finished; their results come next): returns the tasks kept, whose
/// usage the re-registered node carries on.
fn release_restarted_node_leases(state: &mut State, node_id: NodeId, held: &[(TaskId, u32)], now_ms: Millis, effects: &mut Vec<Effect>) -> Vec<TaskId> {
    let Some(running) = state.nodes.get(&node_id).map(|node| node.running.clone()) else { return Vec::new() };
    let mut kept = Vec::new();
    for task_id in running {
        let attempt = state.tasks.get(&task_id).and_then(|task| task.lease.as_ref()).map(|lease| lease.attempt);
        if attempt.is_some_and(|attempt| held.contains(&(task_id, attempt))) {
            kept.push(task_id);
        } else {
            end_attempt(state, task_id, now_ms, "node restarted".to_owned(), false, effects);
        }
    }
    kept
}

/// Returns every lease held by a node (it died or restarted): each task is re-queued with
/// attempt + 1.
fn release_node_leases(state: &mut State, node_id: NodeId, now_ms: Millis, why: &str, effects: &mut Vec<Effect>) {
    let Some(running) = state.nodes.get(&node_id).map(|node| node.running.clone()) else { return };
    for task_id in running {
        end_attempt(state, task_id, now_ms, why.to_owned(), false, effects);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use shotfarm_proto::pipeline::TaskSpec;

    use super::*;
    use crate::machine::{Command, apply};
    use crate::state::model::{JobSpec, TaskState};
    use crate::synthetic;

    /// Registers a node named `agent` (the other machine modules' tests use it too).
    pub(in crate::machine) fn register(state: &mut State, held: Vec<(TaskId, u32)>, now_ms: Millis) -> NodeId {
        let capabilities = NodeCapabilities {
            cpu_cores: 4,
            memory_mb: 8192,
            gpus: Vec::new(),
            backends: ["cpu".to_owned()].into(),
            encoders: ["libx264".to_owned()].into(),
            ffmpeg_version: String::new(),
            agent_version: String::new(),
            max_tasks: 4,
        };
        let (outcome, _) = apply(state, &Command::RegisterNode { name: "agent".to_owned(), capabilities, labels: BTreeMap::new(), held, now_ms });
        let Outcome::NodeRegistered { node } = outcome else { panic!("not registered: {outcome:?}") };
        node
    }

    /// Submits a job and leases its first task (inspect) to `node` as attempt 1.
    fn leased_inspect(state: &mut State, request_id: &str, node: NodeId) -> TaskId {
        let (outcome, _) = apply(state, &Command::SubmitJob { request_id: request_id.to_owned(), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 2, trace_parent: None });
        let Outcome::JobSubmitted { job, .. } = outcome else { panic!("not submitted: {outcome:?}") };
        let task = state.jobs[&job].tasks[0];
        let (outcome, _) = apply(state, &Command::Assign { task, attempt: 1, node, backend: "cpu".to_owned(), gpu: None, now_ms: 3 });
        assert_eq!(outcome, Outcome::Assigned { task, attempt: 1 });
        task
    }

    #[test]
    fn a_restarted_node_keeps_the_leases_of_the_results_it_holds_and_loses_the_rest() {
        let mut state = State::default();
        let node = register(&mut state, Vec::new(), 1);
        let finished = leased_inspect(&mut state, "r1", node);
        let lost = leased_inspect(&mut state, "r2", node);
        let one_inspect = state.nodes[&node].used_cpu_milli / 2;

        // The agent restarts; its journal holds the result of `finished` (attempt 1). Attempts it
        // does not hold a lease for are ignored.
        let again = register(&mut state, vec![(finished, 1), (lost, 7), (999, 1)], 4);
        assert_eq!(again, node, "the name keeps its node id");
        assert_eq!(state.tasks[&finished].state, TaskState::Running);
        assert_eq!(state.tasks[&finished].lease.as_ref().map(|lease| (lease.node, lease.attempt)), Some((node, 1)));
        assert_eq!((state.tasks[&lost].state, state.tasks[&lost].attempt), (TaskState::Queued, 2), "what it ran is gone");
        assert_eq!(state.tasks[&lost].history.last().map(|record| record.outcome.as_str()), Some("node restarted"));
        assert_eq!(state.nodes[&node].running, [finished].into());
        assert_eq!(state.nodes[&node].used_cpu_milli, one_inspect, "the kept lease is still counted");

        // The journaled result is accepted, and the node's usage returns to nothing.
        let spec: TaskSpec = serde_json::from_str(state.tasks[&finished].spec_json.as_deref().expect("spec")).expect("spec parses");
        let output_json = serde_json::to_string(&synthetic::output_for(&spec, 2, 1)).expect("output encodes");
        let (outcome, _) = apply(&mut state, &Command::CompleteTask { task: finished, attempt: 1, backend: "cpu".to_owned(), output_json, now_ms: 5, cpu_micros: 1_250_000 });
        assert_eq!(outcome, Outcome::ResultAccepted { task: finished });
        assert_eq!(state.tasks[&finished].state, TaskState::Succeeded);
        let record = state.tasks[&finished].history.last().map(|record| (record.started_at_ms, record.finished_at_ms, record.cpu_micros));
        assert_eq!(record, Some((3, 5, Some(1_250_000))), "the attempt keeps its lease and result times and the agent's CPU");
        assert_eq!(state.tasks[&lost].history.last().and_then(|record| record.cpu_micros), None, "a lost attempt has no CPU figure");
        assert_eq!((state.nodes[&node].used_cpu_milli, state.nodes[&node].used_memory_mb), (0, 0));
        assert!(state.nodes[&node].running.is_empty());
    }
}
