//! Bounded memory for finished jobs. The newest [`FINISHED_JOBS_WITH_DETAIL`] finished jobs
//! keep every task (state, attempts, specs, outputs: what `shotfarm status` and `watch`
//! show); an older one keeps its summary — spec, state, error, times, task counts — and its
//! tasks' rows are dropped, as is the plan's chunk list. Its report stays where the job
//! wrote it (`report.json` in its output). So the state, every snapshot and every replica's
//! memory grow with the number of jobs by a summary each, not by their tasks.
//!
//! Decided inside `apply`, after each command, from replicated data only (the finish times
//! the leader proposed, job ids), so every replica compacts the same jobs at the same entry.

use crate::state::model::JobId;
use crate::state::{RowKey, State};

/// Finished jobs that keep their tasks' detail; older finished jobs are compacted.
pub const FINISHED_JOBS_WITH_DETAIL: usize = 50;

/// Compacts the finished jobs beyond the newest [`FINISHED_JOBS_WITH_DETAIL`].
pub(super) fn compact_finished_jobs(state: &mut State) {
    while state.finished_with_detail() > FINISHED_JOBS_WITH_DETAIL {
        let Some(job) = state.take_oldest_finished_with_detail() else { return };
        compact_job(state, job);
    }
}

/// Drops a finished job's task rows and chunk list; its summary stays.
fn compact_job(state: &mut State, job_id: JobId) {
    let Some(job) = state.jobs.get_mut(&job_id) else { return };
    job.plan.chunks = Vec::new();
    let tasks = job.tasks.clone();
    state.mark(RowKey::Job(job_id));
    for task in tasks {
        state.remove_task(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Command, Outcome, apply};
    use crate::state::model::{JobSpec, JobState};
    use crate::storage::encode_state;

    fn submit_and_cancel(state: &mut State, n: u64) {
        let submitted = Command::SubmitJob { request_id: format!("r{n}"), owner: String::new(), spec: JobSpec::for_tests(), now_ms: n, trace_parent: None };
        let (Outcome::JobSubmitted { job, .. }, _) = apply(state, &submitted) else { panic!("not submitted") };
        apply(state, &Command::CancelJob { job, now_ms: n });
    }

    #[test]
    fn thousands_of_finished_jobs_keep_the_task_rows_of_the_newest_only() {
        let mut state = State::default();
        for n in 1..=3000 {
            submit_and_cancel(&mut state, n);
        }
        assert_eq!(state.jobs.len(), 3000, "every job keeps its summary");
        assert_eq!(state.tasks.len(), FINISHED_JOBS_WITH_DETAIL, "one inspect task per job, newest jobs only");
        assert_eq!(state.finished_with_detail(), FINISHED_JOBS_WITH_DETAIL);
        let oldest = state.jobs[&1].clone();
        assert_eq!((oldest.state, oldest.tasks.len()), (JobState::Cancelled, 1), "a compacted job still counts its tasks");
        assert!(state.tasks.contains_key(&state.jobs[&3000].tasks[0]));
        assert!(!state.tasks.contains_key(&oldest.tasks[0]));
        let dirty = state.take_dirty();
        assert!(dirty.contains(&RowKey::Task(oldest.tasks[0])), "a compacted task's row is deleted from storage");
    }

    #[test]
    fn the_detail_index_is_rebuilt_on_load_and_compaction_continues_from_it() {
        let mut state = State::default();
        for n in 1..=150 {
            submit_and_cancel(&mut state, n);
        }
        let mut loaded = State::from_image(state.to_image());
        assert_eq!(loaded.finished_with_detail(), FINISHED_JOBS_WITH_DETAIL);
        submit_and_cancel(&mut state, 151);
        submit_and_cancel(&mut loaded, 151);
        assert_eq!(loaded.hash(), state.hash(), "a replica that restarted compacts the same jobs");
        assert!(state.task_counts_agree() && loaded.task_counts_agree(), "task counts follow compaction and are rebuilt on load");
    }

    /// How large a snapshot of 10,000 finished jobs of 200 tasks each is (their summaries
    /// count the tasks by id): a snapshot streams to a lagging follower in pieces
    /// (`replica_node::snapshot_stream`), and this one stays a small stream.
    #[test]
    fn a_snapshot_of_ten_thousand_finished_jobs_stays_small() {
        let mut state = State::default();
        for n in 1..=10_000 {
            submit_and_cancel(&mut state, n);
        }
        let next_task = state.meta.next_task_id;
        for (n, job) in state.jobs.values_mut().enumerate() {
            job.tasks.extend((0..199).map(|k| next_task + 1 + (n as u64) * 199 + k));
        }
        let bytes = encode_state(&state).len();
        eprintln!("snapshot of 10000 finished jobs of 200 tasks: {bytes} bytes");
        assert!(bytes < 16 << 20, "{bytes} bytes");
    }
}
