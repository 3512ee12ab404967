//! Catching a task of a job running on a real agent and freezing that agent (SIGSTOP), for
//! the scenarios that then kill, thaw or outwait it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_proto::v1;

use crate::support::is_state;

/// The task `task_id` of `job`.
pub fn task(job: &v1::Job, task_id: u64) -> anyhow::Result<&v1::TaskSummary> {
    job.tasks.iter().find(|task| task.task_id == task_id).with_context(|| format!("job {} has no task {task_id}", job.job_id))
}

/// A task that runs (attempt 1) and the agent holding it, frozen so that it cannot finish:
/// found by watching the job, freezing the holder, and checking the task still runs.
pub struct HeldTask {
    pub task_id: u64,
    pub agent: String,
    pub node_id: u64,
    /// When the agent went silent.
    pub frozen_at: Instant,
}

pub async fn freeze_a_running_task(farm: &Farm, job_id: &str, kind: &str) -> anyhow::Result<HeldTask> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let job = farm.job(job_id).await?;
        let running = job.tasks.iter().find(|task| task.kind == kind && task.state == v1::TaskState::Running as i32 && task.attempt == 1);
        let Some(running) = running else {
            ensure!(!is_state(&job, v1::JobState::Succeeded), "the job finished before a {kind} task could be caught running");
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let nodes = farm.nodes().await?;
        let agent = nodes.iter().find(|node| node.node_id == running.node_id).map(|node| node.name.clone()).with_context(|| format!("the {kind} task's node is not listed"))?;
        farm.agent(&agent)?.pause()?;
        let frozen_at = Instant::now();
        // A result sent just before the freeze lands within this pause.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let still = farm.job(job_id).await?;
        if task(&still, running.task_id)?.state == v1::TaskState::Running as i32 && task(&still, running.task_id)?.attempt == 1 {
            return Ok(HeldTask { task_id: running.task_id, agent, node_id: running.node_id, frozen_at });
        }
        farm.agent(&agent)?.resume()?;
    }
    bail!("no {kind} task of {job_id} could be caught running within 60 s")
}

