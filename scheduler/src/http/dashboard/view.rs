//! What the dashboard's JSON says: the API's messages as the page reads them (states as
//! words, times in milliseconds since the epoch, the stage a job is in).

use serde::Serialize;
use shotfarm_proto::pipeline::{QualityStats, TaskKind};
use shotfarm_proto::state_names::{job_state, node_state, task_state};
use shotfarm_proto::v1;

/// The dashboard's front page: this replica's view of the cluster, every node, the newest jobs.
#[derive(Debug, Serialize, PartialEq)]
pub struct Overview {
    pub cluster: ClusterView,
    pub nodes: Vec<NodeView>,
    pub jobs: Vec<JobRow>,
    /// Why the nodes and jobs could not be read (no leader, say); empty when they were.
    pub unavailable: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ClusterView {
    /// The replica answering.
    pub id: u64,
    pub role: String,
    pub leader_id: u64,
    pub leader_addr: String,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub members: Vec<MemberView>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct MemberView {
    pub id: u64,
    pub addr: String,
    pub role: String,
    pub membership: String,
    pub matched_index: u64,
}

/// A node as the page shows it. Its heartbeat time is left out: it changes every second, so
/// every event would redraw the page for it; a node whose heartbeats stop is shown `down`.
#[derive(Debug, Serialize, PartialEq)]
pub struct NodeView {
    pub id: u64,
    pub name: String,
    pub state: &'static str,
    /// Its agent holds a session with the leader (only then is it given work).
    pub connected: bool,
    pub running_tasks: u32,
    pub max_tasks: u32,
    /// Shares of the node's CPU cores and memory its running tasks hold (0–1).
    pub cpu_used: f64,
    pub memory_used: f64,
    pub cpu_cores: u32,
    pub memory_bytes: u64,
    pub gpus: Vec<GpuView>,
    pub backends: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct GpuView {
    pub name: String,
    pub memory_bytes: u64,
    pub nvenc_sessions: u32,
    pub cuda: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct JobRow {
    pub id: String,
    pub state: &'static str,
    pub owner: String,
    pub input_url: String,
    pub output_url: String,
    pub tasks_done: u32,
    pub tasks_total: u32,
    pub created_at_ms: u64,
    pub finished_at_ms: u64,
    pub error: String,
}

/// A job's page: its row, its stage, every task, the quality of each rendition, the report.
#[derive(Debug, Serialize, PartialEq)]
pub struct JobDetail {
    #[serde(flatten)]
    pub row: JobRow,
    /// The kinds of task running now (else queued), in pipeline order: "encode, score".
    pub stage: String,
    pub recipe: String,
    pub report_url: String,
    pub tasks: Vec<TaskView>,
    pub renditions: Vec<RenditionView>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct TaskView {
    pub id: u64,
    pub kind: String,
    pub label: String,
    pub state: &'static str,
    pub attempt: u32,
    pub node_id: u64,
    pub backend: String,
    pub error: String,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct RenditionView {
    pub name: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub peak_bitrate_kbps: u32,
    pub scored: bool,
    #[serde(flatten)]
    pub quality: QualityStats,
}

impl ClusterView {
    pub fn from_status(status: v1::ClusterStatusResponse) -> ClusterView {
        ClusterView {
            id: status.id,
            role: status.role,
            leader_id: status.leader_id,
            leader_addr: status.leader_addr,
            term: status.term,
            commit_index: status.commit_index,
            applied_index: status.applied_index,
            members: status
                .members
                .into_iter()
                .map(|member| MemberView { id: member.id, addr: member.addr, role: member.role, membership: member.membership, matched_index: member.matched_index })
                .collect(),
        }
    }
}

impl NodeView {
    pub fn from_node(node: v1::Node) -> NodeView {
        let capabilities = node.capabilities.unwrap_or_default();
        NodeView {
            id: node.node_id,
            name: node.name,
            state: node_state(node.state),
            connected: node.connected,
            running_tasks: node.running_tasks,
            max_tasks: capabilities.max_tasks,
            cpu_used: node.cpu_used,
            memory_used: node.memory_used,
            cpu_cores: capabilities.cpu_cores,
            memory_bytes: capabilities.memory_bytes,
            gpus: capabilities
                .gpus
                .into_iter()
                .map(|gpu| GpuView { name: gpu.name, memory_bytes: gpu.memory_bytes, nvenc_sessions: gpu.nvenc_sessions, cuda: gpu.cuda })
                .collect(),
            backends: capabilities.backends,
        }
    }
}

impl JobRow {
    pub fn from_job(job: &v1::Job) -> JobRow {
        let spec = job.spec.clone().unwrap_or_default();
        JobRow {
            id: job.job_id.clone(),
            state: job_state(job.state),
            owner: job.owner.clone(),
            input_url: spec.input_url,
            output_url: spec.output_url,
            tasks_done: job.tasks_done,
            tasks_total: job.tasks_total,
            created_at_ms: job.created_at_ms,
            finished_at_ms: job.finished_at_ms,
            error: job.error.clone(),
        }
    }
}

impl JobDetail {
    pub fn from_job(job: v1::Job) -> JobDetail {
        let row = JobRow::from_job(&job);
        let recipe = if job.recipe.is_empty() { String::new() } else { format!("{}@{}", job.recipe, job.recipe_version) };
        JobDetail {
            row,
            stage: stage(&job.tasks),
            recipe,
            report_url: job.report_url,
            tasks: job
                .tasks
                .into_iter()
                .map(|task| TaskView {
                    id: task.task_id,
                    state: task_state(task.state),
                    kind: task.kind,
                    label: task.label,
                    attempt: task.attempt,
                    node_id: task.node_id,
                    backend: task.backend,
                    error: task.error,
                    started_at_ms: task.started_at_ms,
                    finished_at_ms: task.finished_at_ms,
                })
                .collect(),
            renditions: job
                .renditions
                .into_iter()
                .map(|rendition| RenditionView {
                    name: rendition.name,
                    codec: rendition.codec,
                    width: rendition.width,
                    height: rendition.height,
                    bitrate_kbps: rendition.bitrate_kbps,
                    peak_bitrate_kbps: rendition.peak_bitrate_kbps,
                    scored: rendition.scored,
                    quality: QualityStats {
                        vmaf_mean: rendition.vmaf_mean,
                        vmaf_harmonic_mean: rendition.vmaf_harmonic_mean,
                        vmaf_min: rendition.vmaf_min,
                        vmaf_p1: rendition.vmaf_p1,
                        psnr_y: rendition.psnr_y,
                        ssim: rendition.ssim,
                    },
                })
                .collect(),
        }
    }
}

/// The kinds of the tasks running (else of those queued), in pipeline order; empty when
/// none runs or waits (or the listing carried no tasks).
fn stage(tasks: &[v1::TaskSummary]) -> String {
    let kinds_in = |state: v1::TaskState| -> Vec<&str> {
        let mut kinds: Vec<&str> = tasks.iter().filter(|task| task.state() == state).map(|task| task.kind.as_str()).collect();
        // In pipeline order (`TaskKind::ALL`), a kind this build does not know last.
        kinds.sort_by_key(|kind| TaskKind::parse(kind).map_or(usize::MAX, TaskKind::pipeline_position));
        kinds.dedup();
        kinds
    };
    let running = kinds_in(v1::TaskState::Running);
    if running.is_empty() { kinds_in(v1::TaskState::Queued).join(", ") } else { running.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: &str, state: v1::TaskState) -> v1::TaskSummary {
        v1::TaskSummary { kind: kind.into(), state: state.into(), ..Default::default() }
    }

    #[test]
    fn a_jobs_stage_is_what_runs_else_what_waits_in_pipeline_order() {
        let tasks = [task("score", v1::TaskState::Running), task("encode", v1::TaskState::Running), task("encode", v1::TaskState::Running), task("package", v1::TaskState::Blocked)];
        assert_eq!(stage(&tasks), "encode, score");
        assert_eq!(stage(&[task("validate", v1::TaskState::Queued), task("inspect", v1::TaskState::Succeeded)]), "validate");
        assert_eq!(stage(&[task("inspect", v1::TaskState::Succeeded)]), "");
    }
}
