//! `apply(state, command)`: the only way the replicated state changes.
//!
//! Deterministic: the same state and command give the same new state, outcome and effects
//! on every replica. No clock (time is `now_ms` in the command), no randomness, no I/O, and
//! iteration only over ordered maps.

use shotfarm_proto::pipeline::{TaskKind, TaskOutput};

use super::command::{Command, Effect, Outcome, Refusal};
use super::model::{
    AttemptRecord, GpuUsage, Job, JobId, JobPlan, JobSpec, JobState, Lease, Millis, Node, NodeId, NodeState, TaskId,
    TaskState, format_job_id,
};
use super::{RowKey, State};
use crate::planner;

/// Attempts that may end in a task error before the job fails.
pub const MAX_TASK_FAILURES: u32 = 3;
/// Attempts that may be lost to dead nodes or expired leases before the job fails.
pub const MAX_ATTEMPTS: u32 = 10;

/// Applies one command. Returns its outcome for the proposer and the effects the leader must
/// carry out (dispatching assignments, cancelling attempts).
pub fn apply(state: &mut State, command: &Command) -> (Outcome, Vec<Effect>) {
    let mut effects = Vec::new();
    let outcome = match command {
        Command::SubmitJob { request_id, spec, now_ms } => submit_job(state, request_id, spec, *now_ms),
        Command::CancelJob { job, now_ms } => cancel_job(state, *job, *now_ms, &mut effects),
        Command::RegisterNode { name, capabilities, labels, held, now_ms } => {
            let id = match state.meta.node_names.get(name) {
                Some(id) => *id,
                None => {
                    state.meta.next_node_id += 1;
                    let id = state.meta.next_node_id;
                    state.meta.node_names.insert(name.clone(), id);
                    state.mark(RowKey::Meta);
                    id
                }
            };
            // A re-registering node has restarted: whatever it ran is gone, except the attempts it
            // finished and still holds results for, which it reports next.
            let kept = release_restarted_node_leases(state, id, held, *now_ms, &mut effects);
            let mut node = Node {
                id,
                name: name.clone(),
                state: NodeState::Ready,
                gpu_used: vec![GpuUsage::default(); capabilities.gpus.len()],
                capabilities: capabilities.clone(),
                labels: labels.clone(),
                used_cpu_milli: 0,
                used_memory_mb: 0,
                running: Default::default(),
                registered_at_ms: *now_ms,
            };
            for task_id in kept {
                let Some(lease) = state.tasks.get(&task_id).and_then(|task| task.lease.as_ref()) else { continue };
                node.used_cpu_milli += lease.demand.cpu_milli;
                node.used_memory_mb += lease.demand.memory_mb;
                if let Some(usage) = lease.gpu.and_then(|gpu| node.gpu_used.get_mut(gpu as usize)) {
                    usage.nvenc_sessions = usage.nvenc_sessions.saturating_add(lease.demand.nvenc_sessions);
                    usage.gpu_memory_mb = usage.gpu_memory_mb.saturating_add(lease.demand.gpu_memory_mb);
                    usage.cuda_share = usage.cuda_share.saturating_add(lease.demand.cuda_share);
                }
                node.running.insert(task_id);
            }
            state.nodes.insert(id, node);
            state.mark(RowKey::Node(id));
            Outcome::NodeRegistered { node: id }
        }
        Command::SetNodeState { node, state: wanted, .. } => match state.nodes.get_mut(node) {
            None => Outcome::Refused(Refusal::UnknownNode(*node)),
            Some(_) if *wanted == NodeState::Down => {
                Outcome::Refused(Refusal::Invalid("a node is marked down only by missed heartbeats".to_owned()))
            }
            Some(found) if found.state == NodeState::Down => Outcome::Refused(Refusal::NodeNotReady {
                node: *node,
                state: "down; it comes back by registering again".to_owned(),
            }),
            Some(found) => {
                found.state = *wanted;
                state.mark(RowKey::Node(*node));
                Outcome::NodeUpdated { node: *node }
            }
        },
        Command::MarkNodeDown { node, now_ms } => match state.nodes.get_mut(node) {
            None => Outcome::Refused(Refusal::UnknownNode(*node)),
            Some(found) => {
                found.state = NodeState::Down;
                state.mark(RowKey::Node(*node));
                release_node_leases(state, *node, *now_ms, "node down", &mut effects);
                effects.push(Effect::NodeDown { node: *node });
                Outcome::Applied
            }
        },
        Command::Assign { task, attempt, node, backend, gpu, now_ms } => {
            assign(state, *task, *attempt, *node, backend, *gpu, *now_ms, &mut effects)
        }
        Command::CompleteTask { task, attempt, backend, output_json, now_ms } => {
            complete_task(state, *task, *attempt, backend, output_json, *now_ms, &mut effects)
        }
        Command::FailTask { task, attempt, error, retryable, now_ms } => {
            match check_live_attempt(state, *task, *attempt) {
                Err(refusal) => Outcome::Refused(refusal),
                Ok(()) => {
                    if let Some(found) = state.tasks.get_mut(task) {
                        found.failures += 1;
                    }
                    end_attempt(state, *task, *now_ms, error.clone(), !retryable, &mut effects);
                    Outcome::ResultAccepted { task: *task }
                }
            }
        }
        Command::ExpireLease { task, attempt, now_ms } => match check_live_attempt(state, *task, *attempt) {
            Err(refusal) => Outcome::Refused(refusal),
            Ok(()) => {
                if let Some(lease) = state.tasks.get(task).and_then(|found| found.lease.clone()) {
                    effects.push(Effect::CancelAttempt {
                        node: lease.node,
                        task: *task,
                        attempt: lease.attempt,
                        reason: "lease expired".to_owned(),
                    });
                }
                end_attempt(state, *task, *now_ms, "lease expired".to_owned(), false, &mut effects);
                Outcome::Applied
            }
        },
        Command::SetMemberAddr { id, addr } => {
            state.meta.members.insert(*id, addr.clone());
            state.mark(RowKey::Meta);
            Outcome::Applied
        }
        Command::RemoveMember { id } => {
            state.meta.members.remove(id);
            state.mark(RowKey::Meta);
            Outcome::Applied
        }
    };
    (outcome, effects)
}

fn submit_job(state: &mut State, request_id: &str, spec: &JobSpec, now_ms: Millis) -> Outcome {
    if let Some(job) = state.meta.requests.get(request_id) {
        return Outcome::JobSubmitted { job: *job, created: false };
    }
    state.meta.next_job_id += 1;
    let id = state.meta.next_job_id;
    state.meta.requests.insert(request_id.to_owned(), id);
    state.mark(RowKey::Meta);
    let work_url = format!("{}/.shotfarm-work/{}", spec.output_url.trim_end_matches('/'), format_job_id(id));
    let job = Job {
        id,
        request_id: request_id.to_owned(),
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
            },
            source: None,
            inspection: None,
            chunks: Vec::new(),
            rungs: Vec::new(),
        },
    };
    state.jobs.insert(id, job);
    state.mark(RowKey::Job(id));
    planner::start_job(state, id, now_ms);
    Outcome::JobSubmitted { job: id, created: true }
}

fn cancel_job(state: &mut State, job: JobId, now_ms: Millis, effects: &mut Vec<Effect>) -> Outcome {
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
fn finish_job(state: &mut State, job_id: JobId, final_state: JobState, error: Option<String>, now_ms: Millis, effects: &mut Vec<Effect>) {
    let Some(job) = state.jobs.get_mut(&job_id) else { return };
    job.state = final_state;
    job.error = error;
    job.updated_at_ms = now_ms;
    job.finished_at_ms = Some(now_ms);
    let tasks = job.tasks.clone();
    state.mark(RowKey::Job(job_id));
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

#[expect(clippy::too_many_arguments, reason = "mirrors the fields of Command::Assign")]
fn assign(
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
    if let Some(node) = state.nodes.get_mut(&node_id) {
        node.used_cpu_milli += demand.cpu_milli;
        node.used_memory_mb += demand.memory_mb;
        if let Some(usage) = gpu.and_then(|gpu| node.gpu_used.get_mut(gpu as usize)) {
            usage.nvenc_sessions += demand.nvenc_sessions;
            usage.gpu_memory_mb += demand.gpu_memory_mb;
            usage.cuda_share += demand.cuda_share;
        }
        node.running.insert(task_id);
    }
    state.mark(RowKey::Node(node_id));
    if let Some(task) = state.tasks.get_mut(&task_id) {
        task.lease = Some(Lease { node: node_id, attempt, backend: backend.to_owned(), gpu, demand, assigned_at_ms: now_ms });
    }
    state.set_task_state(task_id, TaskState::Running);
    if let Some(job) = state.jobs.get_mut(&job_id) {
        if job.state == JobState::Pending {
            job.state = JobState::Running;
        }
        job.updated_at_ms = now_ms;
        state.mark(RowKey::Job(job_id));
    }
    effects.push(Effect::Dispatch { node: node_id, task: task_id, attempt });
    Outcome::Assigned { task: task_id, attempt }
}

fn complete_task(
    state: &mut State,
    task_id: TaskId,
    attempt: u32,
    backend: &str,
    output_json: &str,
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
    let Some(task) = state.tasks.get_mut(&task_id) else { return Outcome::Refused(Refusal::UnknownTask(task_id)) };
    task.output_json = Some(output_json.to_owned());
    if let (Some(record), Some(lease_backend)) = (task.history.last_mut(), lease_backend)
        && lease_backend != backend {
            record.backend = format!("{lease_backend} (ran as {backend})");
        }
    let job_id = task.job;
    state.set_task_state(task_id, TaskState::Succeeded);
    if let Some(job) = state.jobs.get_mut(&job_id) {
        job.tasks_done += 1;
        job.updated_at_ms = now_ms;
    }
    state.mark(RowKey::Job(job_id));
    if let Err(error) = planner::on_task_succeeded(state, task_id, &output, now_ms) {
        finish_job(state, job_id, JobState::Failed, Some(format!("planning failed after task {task_id}: {error}")), now_ms, effects);
    } else if kind == TaskKind::Report {
        finish_job(state, job_id, JobState::Succeeded, None, now_ms, effects);
    }
    Outcome::ResultAccepted { task: task_id }
}

fn parse_output(kind: TaskKind, output_json: &str) -> Result<TaskOutput, String> {
    let output: TaskOutput = serde_json::from_str(output_json).map_err(|err| err.to_string())?;
    if output.kind() != kind {
        return Err(format!("a {} task reported a {} output", kind.as_str(), output.kind().as_str()));
    }
    Ok(output)
}

/// Frees the resources of the task's lease and records the attempt in its history.
fn release_lease(state: &mut State, task_id: TaskId, now_ms: Millis, outcome: &str) {
    let Some(task) = state.tasks.get_mut(&task_id) else { return };
    let Some(lease) = task.lease.take() else { return };
    task.history.push(AttemptRecord {
        attempt: lease.attempt,
        node: lease.node,
        backend: lease.backend.clone(),
        started_at_ms: lease.assigned_at_ms,
        finished_at_ms: now_ms,
        outcome: outcome.to_owned(),
    });
    if let Some(node) = state.nodes.get_mut(&lease.node) {
        node.used_cpu_milli = node.used_cpu_milli.saturating_sub(lease.demand.cpu_milli);
        node.used_memory_mb = node.used_memory_mb.saturating_sub(lease.demand.memory_mb);
        if let Some(usage) = lease.gpu.and_then(|gpu| node.gpu_used.get_mut(gpu as usize)) {
            usage.nvenc_sessions = usage.nvenc_sessions.saturating_sub(lease.demand.nvenc_sessions);
            usage.gpu_memory_mb = usage.gpu_memory_mb.saturating_sub(lease.demand.gpu_memory_mb);
            usage.cuda_share = usage.cuda_share.saturating_sub(lease.demand.cuda_share);
        }
        node.running.remove(&task_id);
        state.mark(RowKey::Node(lease.node));
    }
    state.mark(RowKey::Task(task_id));
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

/// Ends the current attempt without success: back to the queue with attempt + 1, or the job
/// fails when the error is final or the retry budget is spent.
fn end_attempt(state: &mut State, task_id: TaskId, now_ms: Millis, error: String, is_final: bool, effects: &mut Vec<Effect>) {
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

/// Returns every lease held by a node (it died or restarted): each task is re-queued with
/// attempt + 1.
fn release_node_leases(state: &mut State, node_id: NodeId, now_ms: Millis, why: &str, effects: &mut Vec<Effect>) {
    let Some(running) = state.nodes.get(&node_id).map(|node| node.running.clone()) else { return };
    for task_id in running {
        end_attempt(state, task_id, now_ms, why.to_owned(), false, effects);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shotfarm_proto::pipeline::TaskSpec;

    use super::*;
    use crate::state::model::{JobSpec, NodeCapabilities};
    use crate::synthetic;

    fn register(state: &mut State, held: Vec<(TaskId, u32)>, now_ms: Millis) -> NodeId {
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
        let (outcome, _) = apply(state, &Command::SubmitJob { request_id: request_id.to_owned(), spec: JobSpec::for_tests(), now_ms: 2 });
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
        let (outcome, _) = apply(&mut state, &Command::CompleteTask { task: finished, attempt: 1, backend: "cpu".to_owned(), output_json, now_ms: 5 });
        assert_eq!(outcome, Outcome::ResultAccepted { task: finished });
        assert_eq!(state.tasks[&finished].state, TaskState::Succeeded);
        assert_eq!((state.nodes[&node].used_cpu_milli, state.nodes[&node].used_memory_mb), (0, 0));
        assert!(state.nodes[&node].running.is_empty());
    }
}
