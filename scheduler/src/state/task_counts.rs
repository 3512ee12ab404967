//! Derived: how many tasks of each kind are in each state, kept as tasks are inserted, change
//! state and are removed (`State::insert_task`, `set_task_state`, `remove_task`), so that
//! `/metrics` reads the counts without scanning every task.

use shotfarm_proto::pipeline::TaskKind;

use super::model::TaskState;

const STATES: usize = 6;

fn state_index(state: TaskState) -> usize {
    match state {
        TaskState::Blocked => 0,
        TaskState::Queued => 1,
        TaskState::Running => 2,
        TaskState::Succeeded => 3,
        TaskState::Failed => 4,
        TaskState::Cancelled => 5,
    }
}

fn kind_index(kind: TaskKind) -> usize {
    kind.pipeline_position()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCounts {
    counts: [[u64; STATES]; TaskKind::ALL.len()],
}

impl TaskCounts {
    pub fn get(&self, kind: TaskKind, state: TaskState) -> u64 {
        self.counts[kind_index(kind)][state_index(state)]
    }

    pub(super) fn add(&mut self, kind: TaskKind, state: TaskState) {
        self.counts[kind_index(kind)][state_index(state)] += 1;
    }

    pub(super) fn remove(&mut self, kind: TaskKind, state: TaskState) {
        let count = &mut self.counts[kind_index(kind)][state_index(state)];
        *count = count.saturating_sub(1);
    }
}
