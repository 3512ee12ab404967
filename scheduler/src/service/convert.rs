//! Replicated state → wire messages.

use std::collections::BTreeMap;

use shotfarm_proto::encryption::EncryptionOptions;
use shotfarm_proto::thumbnails::ThumbnailOptions;
use shotfarm_proto::v1;

use crate::replica_node::agents::Agents;
use crate::state::State;
use crate::state::model::{GpuInfo, Job, JobSpec, JobState, Node, NodeCapabilities, NodeState, Task, TaskState, format_job_id};

pub fn job_state(state: JobState) -> v1::JobState {
    match state {
        JobState::Pending => v1::JobState::Pending,
        JobState::Running => v1::JobState::Running,
        JobState::Succeeded => v1::JobState::Succeeded,
        JobState::Failed => v1::JobState::Failed,
        JobState::Cancelled => v1::JobState::Cancelled,
    }
}

fn task_state(state: TaskState) -> v1::TaskState {
    match state {
        TaskState::Blocked => v1::TaskState::Blocked,
        TaskState::Queued => v1::TaskState::Queued,
        TaskState::Running => v1::TaskState::Running,
        TaskState::Succeeded => v1::TaskState::Succeeded,
        TaskState::Failed => v1::TaskState::Failed,
        TaskState::Cancelled => v1::TaskState::Cancelled,
    }
}

pub fn node_state(state: NodeState) -> v1::NodeState {
    match state {
        NodeState::Ready => v1::NodeState::Ready,
        NodeState::Cordoned => v1::NodeState::Cordoned,
        NodeState::Draining => v1::NodeState::Draining,
        NodeState::Down => v1::NodeState::Down,
    }
}

pub fn job_spec(spec: &JobSpec) -> v1::JobSpec {
    v1::JobSpec {
        input_url: spec.input_url.clone(),
        output_url: spec.output_url.clone(),
        priority: spec.priority,
        codecs: spec.codecs.clone(),
        chunk_min_ms: spec.chunk_min_ms,
        chunk_max_ms: spec.chunk_max_ms,
        labels: spec.labels.clone().into_iter().collect(),
        rungs_per_encode: spec.rungs_per_encode,
        quality_scoring: if spec.score_quality { v1::QualityScoring::Full } else { v1::QualityScoring::Off } as i32,
        overwrite: spec.overwrite,
        recipe: Some(spec.recipe.to_wire()),
        thumbnails: Some(ThumbnailOptions::to_wire(spec.thumbnails.as_ref())),
        callback_url: spec.callback_url.clone(),
        encryption: EncryptionOptions::to_wire(spec.encryption.as_ref()),
    }
}

/// How a job's callbacks are going; none when it gave no callback URL.
fn callback_delivery(job: &Job) -> Option<v1::CallbackDelivery> {
    if job.spec.callback_url.is_empty() {
        return None;
    }
    let outbox = &job.callbacks;
    Some(v1::CallbackDelivery {
        url: job.spec.callback_url.clone(),
        events: outbox.events,
        delivered: outbox.delivered,
        given_up: outbox.given_up,
        failed_attempts: outbox.failed_attempts,
        last_error: outbox.last_error.clone().unwrap_or_default(),
        next_attempt_at_ms: outbox.next_attempt_at_ms,
    })
}

fn task_summary(task: &Task) -> v1::TaskSummary {
    let last = task.history.last();
    v1::TaskSummary {
        task_id: task.id,
        kind: task.kind.as_str().to_owned(),
        label: task.label.clone(),
        state: task_state(task.state).into(),
        attempt: task.attempt,
        node_id: task.lease.as_ref().map(|lease| lease.node).or(last.map(|record| record.node)).unwrap_or(0),
        backend: task.lease.as_ref().map(|lease| lease.backend.clone()).or(last.map(|record| record.backend.clone())).unwrap_or_default(),
        error: task.error.clone().unwrap_or_default(),
        started_at_ms: task.lease.as_ref().map(|lease| lease.assigned_at_ms).or(last.map(|record| record.started_at_ms)).unwrap_or(0),
        finished_at_ms: if task.state.is_final() { last.map_or(0, |record| record.finished_at_ms) } else { 0 },
        queued_at_ms: task.queued_at_ms.unwrap_or(0),
    }
}

pub fn job(state: &State, job: &Job, include_tasks: bool) -> v1::Job {
    let (report_url, renditions) = super::job_quality::reported(state, job);
    v1::Job {
        job_id: format_job_id(job.id),
        spec: Some(job_spec(&job.spec)),
        state: job_state(job.state).into(),
        error: job.error.clone().unwrap_or_default(),
        tasks_total: job.tasks.len() as u32,
        tasks_done: job.tasks_done,
        created_at_ms: job.created_at_ms,
        updated_at_ms: job.updated_at_ms,
        finished_at_ms: job.finished_at_ms.unwrap_or(0),
        tasks: if include_tasks { job.tasks.iter().filter_map(|id| state.tasks.get(id)).map(task_summary).collect() } else { Vec::new() },
        request_id: job.request_id.clone(),
        owner: job.owner.clone(),
        renditions,
        report_url,
        recipe: job.spec.from_recipe.as_ref().map(|from| from.name.clone()).unwrap_or_default(),
        recipe_version: job.spec.from_recipe.as_ref().map_or(0, |from| from.version),
        callback: callback_delivery(job),
    }
}

pub fn capabilities(caps: &NodeCapabilities) -> v1::Capabilities {
    v1::Capabilities {
        cpu_cores: caps.cpu_cores,
        memory_bytes: u64::from(caps.memory_mb) << 20,
        gpus: caps
            .gpus
            .iter()
            .map(|gpu| v1::Gpu {
                index: gpu.index,
                name: gpu.name.clone(),
                memory_bytes: u64::from(gpu.memory_mb) << 20,
                multiprocessors: gpu.multiprocessors,
                nvenc_sessions: gpu.nvenc_sessions,
                cuda: gpu.cuda,
            })
            .collect(),
        backends: caps.backends.iter().cloned().collect(),
        encoders: caps.encoders.iter().cloned().collect(),
        ffmpeg_version: caps.ffmpeg_version.clone(),
        agent_version: caps.agent_version.clone(),
        max_tasks: caps.max_tasks,
    }
}

/// Wire capabilities → state, with the checks a peer's input deserves.
pub fn capabilities_from_wire(caps: &v1::Capabilities) -> Result<NodeCapabilities, String> {
    if caps.cpu_cores == 0 || caps.cpu_cores > 4096 {
        return Err(format!("cpu_cores must be 1..=4096, got {}", caps.cpu_cores));
    }
    if caps.memory_bytes < (64 << 20) {
        return Err(format!("memory_bytes must be at least 64 MiB, got {}", caps.memory_bytes));
    }
    if caps.gpus.len() > 64 {
        return Err(format!("at most 64 GPUs per node, got {}", caps.gpus.len()));
    }
    let known = ["cpu", "nvenc", "cuda"];
    if let Some(unknown) = caps.backends.iter().find(|backend| !known.contains(&backend.as_str())) {
        return Err(format!("unknown backend {unknown:?}; known: cpu, nvenc, cuda"));
    }
    Ok(NodeCapabilities {
        cpu_cores: caps.cpu_cores,
        memory_mb: u32::try_from(caps.memory_bytes >> 20).unwrap_or(u32::MAX),
        gpus: caps
            .gpus
            .iter()
            .enumerate()
            .map(|(position, gpu)| GpuInfo {
                index: position as u32,
                name: gpu.name.chars().take(128).collect(),
                memory_mb: u32::try_from(gpu.memory_bytes >> 20).unwrap_or(u32::MAX),
                multiprocessors: gpu.multiprocessors,
                nvenc_sessions: gpu.nvenc_sessions.min(64),
                cuda: gpu.cuda,
            })
            .collect(),
        backends: caps.backends.iter().cloned().collect(),
        encoders: caps.encoders.iter().take(256).map(|encoder| encoder.chars().take(64).collect()).collect(),
        ffmpeg_version: caps.ffmpeg_version.chars().take(256).collect(),
        agent_version: caps.agent_version.chars().take(64).collect(),
        max_tasks: caps.max_tasks.min(1024),
    })
}

/// A node as the services show it, with what the leader knows of its agent outside the log
/// (its last heartbeat, whether it holds a session now).
pub fn node(node: &Node, agents: &Agents) -> v1::Node {
    let share = |used: u32, capacity: u32| if capacity == 0 { 0.0 } else { f64::from(used) / f64::from(capacity) };
    v1::Node {
        node_id: node.id,
        name: node.name.clone(),
        state: node_state(node.state).into(),
        capabilities: Some(capabilities(&node.capabilities)),
        labels: node.labels.clone().into_iter().collect::<BTreeMap<_, _>>().into_iter().collect(),
        running_tasks: node.running.len() as u32,
        cpu_used: share(node.used_cpu_milli, node.cpu_capacity_milli()),
        memory_used: share(node.used_memory_mb, node.capabilities.memory_mb),
        registered_at_ms: node.registered_at_ms,
        last_heartbeat_ms: agents.last_heartbeat_ms(node.id),
        connected: agents.is_connected(node.id),
    }
}
