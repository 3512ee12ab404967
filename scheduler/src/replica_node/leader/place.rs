//! Placement rounds: the ready tasks at the head of the queue placed on the cluster as it
//! will be once the placements already proposed apply.
//!
//! The leader keeps its indexed model of the cluster from round to round and refreshes only
//! the nodes the state changed since (`State::node_changes`) and those whose proposed
//! placements settled, each with the placements still in flight on it: a round costs the
//! nodes that changed and the decisions it makes, not the size of the farm.

use std::collections::{BTreeSet, HashMap};

use crate::placement::{ClusterView, Decision, IndexedCluster, place_indexed};
use crate::replica_node::clock::now_ms;
use crate::state::model::{NodeId, TaskId};
use crate::machine::Command;
use crate::state::State;

/// Ready tasks considered by one placement round at most.
const PLACEMENT_WINDOW: usize = 2048;

/// The placements proposed and not applied yet, the model of the cluster with them, and
/// whether a new round is due.
pub struct Placer {
    inflight: HashMap<TaskId, Decision>,
    /// The tasks in flight on each node, to commit again when the node is refreshed.
    inflight_on: HashMap<NodeId, BTreeSet<TaskId>>,
    due: bool,
    /// The model, once built; dropped with leadership.
    cluster: Option<IndexedCluster>,
    /// The state's node-change cursor the model has caught up with.
    seen_changes: u64,
    /// Nodes whose placements in flight settled since the last round.
    settled_on: BTreeSet<NodeId>,
}

impl Default for Placer {
    fn default() -> Placer {
        Placer { inflight: HashMap::new(), inflight_on: HashMap::new(), due: true, cluster: None, seen_changes: 0, settled_on: BTreeSet::new() }
    }
}

impl Placer {
    /// Something changed that may let more tasks run: place again on the next turn.
    pub fn mark_due(&mut self) {
        self.due = true;
    }

    /// These placements applied or were dropped: they no longer hold resources here.
    pub fn settled(&mut self, tasks: impl IntoIterator<Item = TaskId>) {
        for task in tasks {
            let Some(decision) = self.inflight.remove(&task) else { continue };
            if let Some(on_node) = self.inflight_on.get_mut(&decision.node) {
                on_node.remove(&task);
                if on_node.is_empty() {
                    self.inflight_on.remove(&decision.node);
                }
            }
            self.settled_on.insert(decision.node);
        }
    }

    /// Leadership lost: nothing proposed here will be answered, and the model is rebuilt
    /// when this replica leads again.
    pub fn forget_all(&mut self) {
        self.inflight.clear();
        self.inflight_on.clear();
        self.settled_on.clear();
        self.cluster = None;
    }

    /// A round when one is due: `Assign` commands for the tasks placed, and those tasks.
    pub fn round(&mut self, state: &State) -> Option<(Vec<Command>, Vec<TaskId>)> {
        if !self.due {
            return None;
        }
        self.due = false;
        if state.queued_len() == 0 || state.nodes.is_empty() {
            return None;
        }
        self.catch_up(state);
        let cluster = self.cluster.as_mut()?;
        let free_slots = cluster.free_slots();
        if free_slots == 0 {
            return None;
        }
        // Looking further down the queue than a few times the free slots only costs time:
        // capacity runs out first.
        let window = PLACEMENT_WINDOW.min(free_slots.saturating_mul(4).max(64));
        let tasks: Vec<_> = ClusterView::queued_tasks(state, window + self.inflight.len())
            .into_iter()
            .filter(|task| !self.inflight.contains_key(&task.id))
            .take(window)
            .collect();
        let decisions = place_indexed(cluster, &tasks);
        if decisions.is_empty() {
            return None;
        }
        let now = now_ms();
        let mut commands = Vec::with_capacity(decisions.len());
        let mut placed = Vec::with_capacity(decisions.len());
        for decision in decisions {
            commands.push(Command::Assign {
                task: decision.task,
                attempt: decision.attempt,
                node: decision.node,
                backend: decision.backend.clone(),
                gpu: decision.gpu,
                now_ms: now,
            });
            placed.push(decision.task);
            self.inflight_on.entry(decision.node).or_default().insert(decision.task);
            self.inflight.insert(decision.task, decision);
        }
        Some((commands, placed))
    }

    /// Brings the model up to the state plus the placements in flight: built whole the
    /// first time (or when the state was replaced), else node by node.
    fn catch_up(&mut self, state: &State) {
        let changes = state.node_changes();
        let rebuild = match &self.cluster {
            None => true,
            // A state loaded anew numbers its changes from zero again.
            Some(cluster) => changes.cursor() < self.seen_changes || cluster.node_count() > state.nodes.len(),
        };
        let stale: BTreeSet<NodeId> = if rebuild {
            self.cluster = Some(IndexedCluster::from_state(state));
            self.settled_on.clear();
            self.inflight_on.keys().copied().collect()
        } else {
            let mut stale = std::mem::take(&mut self.settled_on);
            stale.extend(changes.since(self.seen_changes));
            stale
        };
        self.seen_changes = changes.cursor();
        let Some(cluster) = self.cluster.as_mut() else { return };
        for node in stale {
            if !rebuild {
                cluster.refresh_node(state, node);
            }
            let (Some(position), Some(tasks)) = (cluster.position_of(node), self.inflight_on.get(&node)) else { continue };
            for task_id in tasks {
                let (Some(decision), Some(task)) = (self.inflight.get(task_id), state.tasks.get(task_id)) else { continue };
                let Some(option) = task.options.iter().find(|option| option.backend == decision.backend) else { continue };
                cluster.commit(position, task.job, option, decision.gpu);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shotfarm_proto::pipeline::TaskSpec;

    use super::*;
    use crate::machine::apply;
    use crate::state::model::{JobSpec, NodeCapabilities, NodeState, TaskState};
    use crate::synthetic;

    fn register(state: &mut State, name: &str, cores: u32) {
        let capabilities = NodeCapabilities {
            cpu_cores: cores,
            memory_mb: cores * 2048,
            gpus: Vec::new(),
            backends: ["cpu".to_owned()].into(),
            encoders: ["libx264".to_owned()].into(),
            ffmpeg_version: "test".to_owned(),
            agent_version: "test".to_owned(),
            max_tasks: cores,
        };
        apply(state, &Command::RegisterNode { name: name.to_owned(), capabilities, labels: BTreeMap::new(), held: Vec::new(), now_ms: 1 });
    }

    fn complete(state: &mut State, task: TaskId) {
        let Some(task) = state.tasks.get(&task) else { return };
        let spec: TaskSpec = serde_json::from_str(task.spec_json.as_deref().unwrap_or_default()).expect("a running task has a spec");
        let output = serde_json::to_string(&synthetic::output_for(&spec, 3, 2)).expect("outputs serialise");
        let command = Command::CompleteTask { task: task.id, attempt: task.attempt, backend: "cpu".to_owned(), output_json: output, now_ms: 3, cpu_micros: 1 };
        apply(state, &command);
    }

    /// The model kept from round to round, refreshed node by node, is the one built from the
    /// state whole: through assignments applied and dropped, results, a cordon and a new node.
    #[test]
    fn the_kept_model_matches_one_built_from_the_state() {
        let mut state = State::default();
        register(&mut state, "a", 4);
        register(&mut state, "b", 8);
        for job in 0..3 {
            apply(&mut state, &Command::SubmitJob { request_id: format!("job-{job}"), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 2, trace_parent: None });
        }
        let mut placer = Placer::default();
        for step in 0..40 {
            if step == 10 {
                apply(&mut state, &Command::SetNodeState { node: 1, state: NodeState::Cordoned, now_ms: 3 });
            }
            if step == 20 {
                register(&mut state, "c", 2);
            }
            placer.mark_due();
            if let Some((commands, placed)) = placer.round(&state) {
                // Every other assignment is dropped, as a refused or lost proposal would be.
                for command in commands.iter().step_by(2) {
                    apply(&mut state, command);
                }
                placer.settled(placed);
            }
            let running: Vec<TaskId> = state.tasks.values().filter(|task| task.state == TaskState::Running).map(|task| task.id).collect();
            for task in running.into_iter().step_by(3) {
                complete(&mut state, task);
            }
            placer.catch_up(&state);
            let kept = placer.cluster.as_ref().map(IndexedCluster::view);
            assert_eq!(kept, Some(&ClusterView::from_state(&state)), "step {step}");
        }
        assert!(state.tasks.values().any(|task| task.state == TaskState::Succeeded), "the jobs made progress");
    }
}
