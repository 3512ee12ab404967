//! An attempt's lease: granted by `Assign`, ended by a result, an error, an expiry or its
//! node's death. The fencing token is (task, attempt): a command naming any other attempt
//! than the live one is refused, and an attempt that ends without success sends the task
//! back to the queue with attempt + 1 until the retry budget is spent.

use shotfarm_proto::pipeline::{TaskKind, TaskOutput};

use super::command::{Effect, Outcome, Refusal};
use super::jobs::finish_job;
use crate::planner;
use crate::state::model::{AttemptRecord, JobState, Lease, Millis, NodeId, TaskId, TaskState};
use crate::state::{RowKey, State};

/// Attempts that may end in a task error before the job fails.
pub const MAX_TASK_FAILURES: u32 = 3;
/// Attempts that may be lost to dead nodes or expired leases before the job fails.
pub const MAX_ATTEMPTS: u32 = 10;

#[expect(clippy::too_many_arguments, reason = "mirrors the fields of Command::Assign")]
pub(super) fn assign(
    state: &mut State,
    task_id: TaskId,
    attempt: u32,
    node_id: NodeId,
    backend: &str,
    gpu: Option<u32>,
    now_ms: Millis,
    effects: &mut Vec<Effect>,
) -> Outcome {
    let Some(task) = state.tasks.get(&task_id) else { return Outcome::Refused(Refusal::UnknownTask(task_id)) };
    if task.state != TaskState::Queued {
        return Outcome::Refused(Refusal::TaskNotQueued { task: task_id, state: format!("{:?}", task.state).to_lowercase() });
    }
    if task.attempt != attempt {
        return Outcome::Refused(Refusal::StaleAttempt { task: task_id, given: attempt, current: task.attempt });
    }
    let Some(option) = task.options.iter().find(|option| option.backend == backend).cloned() else {
        return Outcome::Refused(Refusal::DoesNotFit { task: task_id, node: node_id, why: format!("task cannot run on backend {backend}") });
    };
    let Some(node) = state.nodes.get(&node_id) else { return Outcome::Refused(Refusal::UnknownNode(node_id)) };
    if !node.accepts_work() {
        return Outcome::Refused(Refusal::NodeNotReady { node: node_id, state: node.state.as_str().to_owned() });
    }
    // Re-check the fit here, so that no stale or buggy placement can over-commit a node.
    if let Err(why) = crate::placement::fits(node, &option, gpu) {
        return Outcome::Refused(Refusal::DoesNotFit { task: task_id, node: node_id, why });
    }
    let demand = option.demand.fitted_to(node.cpu_capacity_milli());
    let job_id = task.job;
    let lease = Lease { node: node_id, attempt, backend: backend.to_owned(), gpu, demand, assigned_at_ms: now_ms };
    if let Some(node) = state.nodes.get_mut(&node_id) {
        node.charge(task_id, &lease);
    }
    state.mark(RowKey::Node(node_id));
    if let Some(task) = state.tasks.get_mut(&task_id) {
        task.lease = Some(lease);
    }
    state.set_task_state(task_id, TaskState::Running);
    if let Some(job) = state.jobs.get_mut(&job_id) {
        let started = job.state == JobState::Pending;
        if started {
            job.state = JobState::Running;
        }
        job.updated_at_ms = now_ms;
        state.mark(RowKey::Job(job_id));
        if started {
            super::callbacks::note_state_change(state, job_id, Some(JobState::Pending), now_ms);
        }
    }
    effects.push(Effect::Dispatch { node: node_id, task: task_id, attempt });
    Outcome::Assigned { task: task_id, attempt }
}

#[expect(clippy::too_many_arguments, reason = "mirrors the fields of Command::CompleteTask")]
pub(super) fn complete_task(
    state: &mut State,
    task_id: TaskId,
    attempt: u32,
    backend: &str,
    output_json: &str,
    cpu_micros: u64,
    now_ms: Millis,
    effects: &mut Vec<Effect>,
) -> Outcome {
    if let Err(refusal) = check_live_attempt(state, task_id, attempt) {
        return Outcome::Refused(refusal);
    }
    let Some(kind) = state.tasks.get(&task_id).map(|task| task.kind) else {
        return Outcome::Refused(Refusal::UnknownTask(task_id));
    };
    let output = match parse_output(kind, output_json) {
        Ok(output) => output,
        Err(why) => {
            // A result that does not parse is the agent's fault: count it as a failed attempt.
            let error = format!("invalid result: {why}");
            if let Some(task) = state.tasks.get_mut(&task_id) {
                task.failures += 1;
            }
            end_attempt(state, task_id, now_ms, error, false, effects);
            return Outcome::Refused(Refusal::BadOutput { task: task_id, why });
        }
    };
    let lease_backend = state.tasks.get(&task_id).and_then(|task| task.lease.as_ref()).map(|lease| lease.backend.clone());
    release_lease(state, task_id, now_ms, "succeeded");
    state.set_task_output(task_id, output_json.to_owned());
    let Some(task) = state.tasks.get_mut(&task_id) else { return Outcome::Refused(Refusal::UnknownTask(task_id)) };
    if let Some(record) = task.history.last_mut() {
        record.cpu_micros = (cpu_micros > 0).then_some(cpu_micros);
        if let Some(lease_backend) = lease_backend
            && lease_backend != backend {
                record.backend = format!("{lease_backend} (ran as {backend})");
            }
    }
    let job_id = task.job;
    state.set_task_state(task_id, TaskState::Succeeded);
    if let Some(job) = state.jobs.get_mut(&job_id) {
        job.tasks_done += 1;
        job.updated_at_ms = now_ms;
    }
    state.mark(RowKey::Job(job_id));
    let output = std::sync::Arc::new(output);
    state.remember_output(task_id, output.clone());
    if let Err(error) = planner::on_task_succeeded(state, task_id, &output, now_ms) {
        finish_job(state, job_id, JobState::Failed, Some(format!("planning failed after task {task_id}: {error}")), now_ms, effects);
    } else if kind == TaskKind::Report {
        finish_job(state, job_id, JobState::Succeeded, None, now_ms, effects);
    }
    Outcome::ResultAccepted { task: task_id }
}

pub(super) fn fail_task(
    state: &mut State,
    task_id: TaskId,
    attempt: u32,
    error: &str,
    retryable: bool,
    now_ms: Millis,
    effects: &mut Vec<Effect>,
) -> Outcome {
    if let Err(refusal) = check_live_attempt(state, task_id, attempt) {
        return Outcome::Refused(refusal);
    }
    if let Some(found) = state.tasks.get_mut(&task_id) {
        found.failures += 1;
    }
    end_attempt(state, task_id, now_ms, error.to_owned(), !retryable, effects);
    Outcome::ResultAccepted { task: task_id }
}

pub(super) fn expire_lease(state: &mut State, task_id: TaskId, attempt: u32, now_ms: Millis, effects: &mut Vec<Effect>) -> Outcome {
    if let Err(refusal) = check_live_attempt(state, task_id, attempt) {
        return Outcome::Refused(refusal);
    }
    if let Some(lease) = state.tasks.get(&task_id).and_then(|found| found.lease.clone()) {
        effects.push(Effect::CancelAttempt { node: lease.node, task: task_id, attempt: lease.attempt, reason: "lease expired".to_owned() });
    }
    end_attempt(state, task_id, now_ms, "lease expired".to_owned(), false, effects);
    Outcome::Applied
}

fn parse_output(kind: TaskKind, output_json: &str) -> Result<TaskOutput, String> {
    let output: TaskOutput = serde_json::from_str(output_json).map_err(|err| err.to_string())?;
    if output.kind() != kind {
        return Err(format!("a {} task reported a {} output", kind.as_str(), output.kind().as_str()));
    }
    Ok(output)
}

fn check_live_attempt(state: &State, task_id: TaskId, attempt: u32) -> Result<(), Refusal> {
    let task = state.tasks.get(&task_id).ok_or(Refusal::UnknownTask(task_id))?;
    if task.state != TaskState::Running {
        return Err(Refusal::TaskNotRunning { task: task_id, state: format!("{:?}", task.state).to_lowercase() });
    }
    match &task.lease {
        Some(lease) if lease.attempt == attempt => Ok(()),
        Some(lease) => Err(Refusal::StaleAttempt { task: task_id, given: attempt, current: lease.attempt }),
        None => Err(Refusal::TaskNotRunning { task: task_id, state: "unleased".to_owned() }),
    }
}

/// Frees the resources of the task's lease and records the attempt in its history.
pub(super) fn release_lease(state: &mut State, task_id: TaskId, now_ms: Millis, outcome: &str) {
    let Some(task) = state.tasks.get_mut(&task_id) else { return };
    let Some(lease) = task.lease.take() else { return };
    task.history.push(AttemptRecord {
        attempt: lease.attempt,
        node: lease.node,
        backend: lease.backend.clone(),
        started_at_ms: lease.assigned_at_ms,
        finished_at_ms: now_ms,
        outcome: outcome.to_owned(),
        cpu_micros: None,
    });
    if let Some(node) = state.nodes.get_mut(&lease.node) {
        node.refund(task_id, &lease);
        state.mark(RowKey::Node(lease.node));
    }
    state.mark(RowKey::Task(task_id));
}

/// Ends the current attempt without success: back to the queue with attempt + 1, or the job
/// fails when the error is final or the retry budget is spent.
pub(super) fn end_attempt(state: &mut State, task_id: TaskId, now_ms: Millis, error: String, is_final: bool, effects: &mut Vec<Effect>) {
    release_lease(state, task_id, now_ms, &error);
    let Some(task) = state.tasks.get_mut(&task_id) else { return };
    task.error = Some(error.clone());
    task.attempt += 1;
    let out_of_budget = task.failures >= MAX_TASK_FAILURES || task.attempt > MAX_ATTEMPTS;
    let (job_id, label, attempts) = (task.job, task.label.clone(), task.attempt - 1);
    if is_final || out_of_budget {
        state.set_task_state(task_id, TaskState::Failed);
        let why = if is_final { String::new() } else { format!(" (after {attempts} attempts)") };
        finish_job(state, job_id, JobState::Failed, Some(format!("task {task_id} ({label}) failed{why}: {error}")), now_ms, effects);
    } else {
        task.queued_at_ms = Some(now_ms);
        state.set_task_state(task_id, TaskState::Queued);
    }
}
