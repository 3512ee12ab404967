//! Placement rounds: the ready tasks at the head of the queue placed on the cluster as it
//! will be once the placements already proposed apply.

use std::collections::HashMap;

use crate::placement::{ClusterView, Decision, place};
use crate::replica_node::clock::now_ms;
use crate::state::model::TaskId;
use crate::machine::Command;
use crate::state::State;

/// Ready tasks considered by one placement round at most.
const PLACEMENT_WINDOW: usize = 2048;

/// The placements proposed and not applied yet, and whether a new round is due.
pub struct Placer {
    inflight: HashMap<TaskId, Decision>,
    due: bool,
}

impl Default for Placer {
    fn default() -> Placer {
        Placer { inflight: HashMap::new(), due: true }
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
            self.inflight.remove(&task);
        }
    }

    /// Leadership lost: nothing proposed here will be answered.
    pub fn forget_all(&mut self) {
        self.inflight.clear();
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
        let mut cluster = ClusterView::from_state(state);
        // Placements already proposed hold their resources until they apply.
        for decision in self.inflight.values() {
            let Some(task) = state.tasks.get(&decision.task) else { continue };
            let Some(option) = task.options.iter().find(|option| option.backend == decision.backend) else { continue };
            if let Some(position) = cluster.nodes.iter().position(|node| node.id == decision.node) {
                cluster.commit(position, task.job, option, decision.gpu);
            }
        }
        let free_slots: usize = cluster.nodes.iter().filter(|node| node.schedulable && node.cpu_free > 0).map(|node| node.slots_free as usize).sum();
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
        let decisions = place(&mut cluster, &tasks);
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
            self.inflight.insert(decision.task, decision);
        }
        Some((commands, placed))
    }
}
