//! Real agents under faults, on real media: an agent killed with -9 mid-encode (its tasks go
//! to another agent once its node is declared down, and the outputs are frame-exact with no
//! leftover of the lost attempt); an agent frozen past its lease and thawed (its late result
//! is refused, the newer attempt's output is the one used, and it comes back and takes work);
//! an agent restarted on its work dir after finishing work the scheduler never acknowledged
//! (its journal reports it, nothing runs twice). Prints the agent-death-to-task-re-placed time.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_cluster_tests::media::{self, SyntheticSource};
use shotfarm_proto::v1;

use crate::support::{is_state, step};

/// A few seconds of 320x180: about six chunks, one rung; seconds of work on two cores.
async fn small_source(farm: &Farm, name: &str, seconds: f64) -> anyhow::Result<SyntheticSource> {
    media::synthesize(&farm.subdir("sources")?, name, (320, 180), seconds).await
}

fn task(job: &v1::Job, task_id: u64) -> anyhow::Result<&v1::TaskSummary> {
    job.tasks.iter().find(|task| task.task_id == task_id).with_context(|| format!("job {} has no task {task_id}", job.job_id))
}

/// An encode task that runs (attempt 1) and the agent holding it, frozen so that it cannot
/// finish: found by watching the job, freezing the holder, and checking the task still runs.
struct HeldEncode {
    task_id: u64,
    agent: String,
    node_id: u64,
    /// When the agent went silent.
    frozen_at: Instant,
}

async fn freeze_a_running_encode(farm: &Farm, job_id: &str) -> anyhow::Result<HeldEncode> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let job = farm.job(job_id).await?;
        let running = job.tasks.iter().find(|task| task.kind == "encode" && task.state == v1::TaskState::Running as i32 && task.attempt == 1);
        let Some(running) = running else {
            ensure!(!is_state(&job, v1::JobState::Succeeded), "the job finished before an encode could be caught running");
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let nodes = farm.nodes().await?;
        let agent = nodes.iter().find(|node| node.node_id == running.node_id).map(|node| node.name.clone()).context("the encode's node is not listed")?;
        farm.agent(&agent)?.pause()?;
        let frozen_at = Instant::now();
        // A result sent just before the freeze lands within this pause.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let still = farm.job(job_id).await?;
        if task(&still, running.task_id)?.state == v1::TaskState::Running as i32 && task(&still, running.task_id)?.attempt == 1 {
            return Ok(HeldEncode { task_id: running.task_id, agent, node_id: running.node_id, frozen_at });
        }
        farm.agent(&agent)?.resume()?;
    }
    bail!("no encode of {job_id} could be caught running within 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_encode_loses_its_task_to_another_and_the_outputs_are_frame_exact() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &["t35a-1", "t35a-2"])?;
    let outcome = killed_mid_encode(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn killed_mid_encode(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "kill.mp4", 4.0).await?;
    let out = farm.subdir("out-kill")?;
    step(&format!("submit a {}-frame job with short chunks to two real agents", source.frames));
    let job_id = farm.submit("t35-kill", source.job_spec(&out)).await?;

    let held = freeze_a_running_encode(farm, &job_id).await?;
    step(&format!("kill -9 agent {} (and its ffmpeg) while it holds encode task {}", held.agent, held.task_id));
    farm.agent_mut(&held.agent)?.kill()?;
    wait_until(Duration::from_secs(20), "the lost encode runs again elsewhere", || async {
        farm.job(&job_id).await.is_ok_and(|job| {
            job.tasks.iter().any(|found| found.task_id == held.task_id && found.attempt >= 2 && found.state >= v1::TaskState::Running as i32)
        })
    })
    .await?;
    // The agent fell silent when it was frozen, a moment before the kill.
    let replaced = held.frozen_at.elapsed();
    eprintln!("[figure] t35 agent death (silent, then kill -9) → its encode task placed on another agent: {} ms (node timeout 2 s)", replaced.as_millis());
    ensure!(replaced >= Duration::from_millis(1500), "the task moved after {replaced:?}, before the node timeout could have passed");
    ensure!(replaced < Duration::from_secs(10), "the task took {replaced:?} to move");

    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let moved = task(&job, held.task_id)?;
    ensure!(moved.attempt == 2 && moved.node_id != held.node_id, "the lost encode should have succeeded as attempt 2 on the other node: {moved:?}");
    let victim = farm.node(&held.agent).await?;
    ensure!(victim.state == v1::NodeState::Down as i32, "the killed agent's node should be down: {victim:?}");

    step("the outputs: manifests, every rendition frame-exact and in order, only the expected files");
    let checked = media::check_outputs(&out, &source).await?;
    let attempts = checked.encode_attempts();
    let lost: Vec<_> = attempts.iter().filter(|(_, attempt, node, _)| *attempt == 1 && *node == held.agent).collect();
    ensure!(attempts.iter().any(|(_, attempt, node, outcome)| *attempt == 2 && *node != held.agent && outcome == "succeeded"), "report.json: {attempts:?}");
    ensure!(!lost.is_empty() && lost.iter().all(|(_, _, _, outcome)| outcome != "succeeded"), "report.json should list the lost attempt: {attempts:?}");
    step(&format!("{} renditions of {} frames, {} files, encode attempts {attempts:?}", checked.renditions.len(), source.frames, checked.files.len()));
    Ok(())
}
