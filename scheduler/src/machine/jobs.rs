//! A job's life as the state machine sees it: submitted (idempotent per request id),
//! cancelled, finished — the planner grows its tasks in between.

use super::command::{Effect, Outcome, Refusal};
use super::callbacks;
use super::leases::release_lease;
use crate::planner;
use crate::state::model::{Job, JobId, JobPlan, JobSpec, JobState, Millis, TaskState, format_job_id};
use crate::state::{RowKey, State};

/// Submits a job; request ids are unique per owner (`State::job_by_request`).
pub(super) fn submit_job(state: &mut State, request_id: &str, owner: &str, spec: &JobSpec, now_ms: Millis, trace_parent: Option<&str>) -> Outcome {
    if let Some(job) = state.job_by_request(owner, request_id) {
        // A retry (same spec) answers the job it made; another job under a used request id is
        // a client's mistake that would otherwise be silently answered with the wrong job.
        if state.jobs.get(&job).is_some_and(|existing| existing.spec != *spec) {
            return Outcome::Refused(Refusal::RequestIdReused { request_id: request_id.to_owned(), job: format_job_id(job) });
        }
        return Outcome::JobSubmitted { job, created: false };
    }
    state.meta.next_job_id += 1;
    let id = state.meta.next_job_id;
    state.mark(RowKey::Meta);
    // Named by the job and the time it was submitted, so a leftover of another cluster's job
    // with the same number (ids start again in a new cluster) is never taken for this one's.
    let work_url = format!("{}/.shotfarm-work/{}-{now_ms}", spec.output_url.trim_end_matches('/'), format_job_id(id));
    let job = Job {
        id,
        request_id: request_id.to_owned(),
        owner: owner.to_owned(),
        spec: spec.clone(),
        state: JobState::Pending,
        error: None,
        tasks: Vec::new(),
        tasks_done: 0,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        finished_at_ms: None,
        plan: JobPlan {
            locations: shotfarm_proto::pipeline::JobLocations {
                input_url: spec.input_url.clone(),
                output_url: spec.output_url.clone(),
                work_url,
                overwrite: spec.overwrite,
            },
            source: None,
            inspection: None,
            chunks: Vec::new(),
            rungs: Vec::new(),
            decision: None,
        },
        callbacks: Default::default(),
        trace_parent: trace_parent.map(str::to_owned),
    };
    state.insert_job(job);
    state.mark(RowKey::Job(id));
    callbacks::note_state_change(state, id, None, now_ms);
    planner::start_job(state, id, now_ms);
    Outcome::JobSubmitted { job: id, created: true }
}

pub(super) fn cancel_job(state: &mut State, job: JobId, now_ms: Millis, effects: &mut Vec<Effect>) -> Outcome {
    match state.jobs.get(&job) {
        None => Outcome::Refused(Refusal::UnknownJob(format_job_id(job))),
        Some(found) if found.state.is_final() => Outcome::JobCancelled { job },
        Some(_) => {
            finish_job(state, job, JobState::Cancelled, None, now_ms, effects);
            Outcome::JobCancelled { job }
        }
    }
}

/// Ends a job: every unfinished task is cancelled and running attempts are told to stop.
pub(super) fn finish_job(state: &mut State, job_id: JobId, final_state: JobState, error: Option<String>, now_ms: Millis, effects: &mut Vec<Effect>) {
    let Some(job) = state.jobs.get_mut(&job_id) else { return };
    let previous = job.state;
    job.state = final_state;
    job.error = error;
    job.updated_at_ms = now_ms;
    job.finished_at_ms = Some(now_ms);
    let tasks = job.tasks.clone();
    state.mark(RowKey::Job(job_id));
    state.note_finished(job_id, now_ms);
    for task_id in tasks {
        let Some(task) = state.tasks.get(&task_id) else { continue };
        if task.state.is_final() {
            continue;
        }
        if let Some(lease) = task.lease.clone() {
            effects.push(Effect::CancelAttempt {
                node: lease.node,
                task: task_id,
                attempt: lease.attempt,
                reason: format!("job {}", final_state.as_str()),
            });
            release_lease(state, task_id, now_ms, "cancelled");
        }
        state.set_task_state(task_id, TaskState::Cancelled);
    }
    callbacks::note_state_change(state, job_id, Some(previous), now_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::nodes::tests::register;
    use crate::state::RowKey;
    use crate::storage::encode_row;

    /// The bytes of the Meta row as storage writes it.
    fn meta_row_len(state: &State) -> usize {
        encode_row(state, RowKey::Meta).1.map_or(0, |bytes| bytes.len())
    }

    /// Request ids and node names live in the job and node rows: the Meta row, written
    /// whenever a job or task is numbered, does not grow with them, and the indexes are
    /// rebuilt from those rows when the state is loaded.
    #[test]
    fn request_ids_and_node_names_are_indexed_from_the_rows_not_kept_in_meta() {
        let mut state = State::default();
        let spec = JobSpec::for_tests();
        let node = register(&mut state, Vec::new(), 1);
        assert_eq!(submit_job(&mut state, "first", "submitter/ann", &spec, 1, None), Outcome::JobSubmitted { job: 1, created: true });
        let meta_with_one_job = meta_row_len(&state);
        for job in 0..100 {
            submit_job(&mut state, &format!("request-{job}"), "submitter/ann", &spec, 2, None);
        }
        // Only the counters' varints may widen.
        assert!(meta_row_len(&state) <= meta_with_one_job + 4, "{} bytes after 101 jobs, {meta_with_one_job} after one", meta_row_len(&state));
        let loaded = State::from_image(state.to_image());
        assert_eq!(loaded.job_by_request("submitter/ann", "first"), Some(1));
        assert_eq!(loaded.job_by_request("submitter/ann", "request-99"), Some(101));
        assert_eq!(loaded.job_by_request("submitter/bob", "first"), None, "request ids are per owner");
        assert_eq!(loaded.node_by_name("agent"), Some(node));
    }

    #[test]
    fn a_request_id_answers_its_own_spec_and_refuses_another() {
        let mut state = State::default();
        let spec = JobSpec::for_tests();
        assert_eq!(submit_job(&mut state, "r1", "", &spec, 1, None), Outcome::JobSubmitted { job: 1, created: true });
        assert_eq!(submit_job(&mut state, "r1", "", &spec, 2, None), Outcome::JobSubmitted { job: 1, created: false });
        let other = JobSpec { input_url: "file:///other.mp4".to_owned(), ..spec };
        assert_eq!(
            submit_job(&mut state, "r1", "", &other, 3, None),
            Outcome::Refused(Refusal::RequestIdReused { request_id: "r1".to_owned(), job: format_job_id(1) })
        );
        assert_eq!(state.jobs.len(), 1);
        assert_eq!(submit_job(&mut state, "r2", "", &other, 4, None), Outcome::JobSubmitted { job: 2, created: true });
    }

    #[test]
    fn request_ids_are_per_owner() {
        let mut state = State::default();
        let spec = JobSpec::for_tests();
        assert_eq!(submit_job(&mut state, "r1", "submitter/ann", &spec, 1, None), Outcome::JobSubmitted { job: 1, created: true });
        // Bob's r1 is not Ann's: he gets his own job, not hers.
        assert_eq!(submit_job(&mut state, "r1", "submitter/bob", &spec, 2, None), Outcome::JobSubmitted { job: 2, created: true });
        assert_eq!(submit_job(&mut state, "r1", "submitter/ann", &spec, 3, None), Outcome::JobSubmitted { job: 1, created: false });
        assert_eq!(state.jobs[&2].owner, "submitter/bob");
    }
}
