//! Real agents under faults, on real media: an agent killed with -9 mid-encode (its tasks go
//! to another agent once its node is declared down, and the outputs are frame-exact with no
//! leftover of the lost attempt); an agent frozen past its lease and thawed (its late result
//! is refused, the newer attempt's output is the one used, and it comes back and takes work);
//! an agent restarted on its work dir after finishing work the scheduler never acknowledged
//! (its journal reports it, nothing runs twice). Prints the agent-death-to-task-re-placed time.

use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_cluster_tests::media::{self, SyntheticSource};
use shotfarm_proto::v1;

use crate::held_task::{freeze_a_running_task, task};
use crate::support::{is_state, step};

/// A few seconds of 320x180: about six chunks, one rung; seconds of work on two cores.
async fn small_source(farm: &Farm, name: &str, seconds: f64) -> anyhow::Result<SyntheticSource> {
    media::synthesize(&farm.subdir("sources")?, name, (320, 180), seconds).await
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

    let held = freeze_a_running_task(farm, &job_id, "encode").await?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_frozen_past_its_lease_has_its_late_result_refused_and_takes_work_again() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &["t35b-1", "t35b-2"])?;
    let outcome = frozen_past_lease(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn frozen_past_lease(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "freeze.mp4", 4.0).await?;
    let out = farm.subdir("out-freeze")?;
    step(&format!("submit a {}-frame job to two real agents", source.frames));
    let job_id = farm.submit("t35-freeze", source.job_spec(&out)).await?;

    let held = freeze_a_running_task(farm, &job_id, "encode").await?;
    let other = farm.agents.iter().map(|agent| agent.name.clone()).find(|name| *name != held.agent).context("a second agent")?;
    step(&format!("SIGSTOP agent {} while it holds encode task {}; the task runs again on {other}", held.agent, held.task_id));
    wait_until(Duration::from_secs(30), "the newer attempt succeeded on the other agent", || async {
        farm.job(&job_id).await.is_ok_and(|job| {
            job.tasks.iter().any(|found| found.task_id == held.task_id && found.attempt >= 2 && found.state == v1::TaskState::Succeeded as i32)
        })
    })
    .await?;
    // Past the lease timeout (4 s) as well as the node timeout, whatever came first.
    let frozen_for = Duration::from_millis(4500).saturating_sub(held.frozen_at.elapsed());
    tokio::time::sleep(frozen_for).await;

    step(&format!("SIGCONT agent {}: it finishes its stale attempt; the result must be refused", held.agent));
    farm.agent(&held.agent)?.resume()?;
    let refused = format!("task_id={} attempt=1", held.task_id);
    wait_until(Duration::from_secs(30), "the thawed agent's late result is refused", || async {
        !farm.agent(&held.agent).is_ok_and(|agent| agent.log_lines_with(&["result refused", &refused]).is_empty())
    })
    .await?;
    wait_until(Duration::from_secs(30), "the thawed agent registers again and is ready", || async {
        farm.node(&held.agent).await.is_ok_and(|node| node.state == v1::NodeState::Ready as i32)
    })
    .await?;
    let agent_log = farm.agent(&held.agent)?.log_lines_with(&["registering again"]);
    ensure!(!agent_log.is_empty(), "the thawed agent should have been told to register again");

    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let moved = task(&job, held.task_id)?;
    ensure!(moved.attempt >= 2 && moved.node_id != held.node_id, "the newer attempt on the other node should be the task's: {moved:?}");
    let checked = media::check_outputs(&out, &source).await?;
    let attempts = checked.encode_attempts();
    let stale = attempts.iter().find(|(_, attempt, node, _)| *attempt == 1 && *node == held.agent).context("report.json lists the stale attempt")?;
    ensure!(stale.3 != "succeeded", "the stale attempt must not count as succeeded: {attempts:?}");
    let chunk = stale.0;
    let used: Vec<_> = attempts.iter().filter(|(index, _, _, outcome)| *index == chunk && outcome == "succeeded").collect();
    ensure!(used.len() == 1 && used[0].1 == u64::from(moved.attempt) && used[0].2 == other, "chunk {chunk}'s output must be the newer attempt's: {attempts:?}");

    step(&format!("cordon {other}: a second job runs entirely on the thawed agent {}", held.agent));
    farm.cordon(&other, false).await?;
    let second_source = small_source(farm, "after-thaw.mp4", 2.0).await?;
    let second_out = farm.subdir("out-after-thaw")?;
    let second_id = farm.submit("t35-after-thaw", second_source.job_spec(&second_out)).await?;
    let second = farm.wait_for_job(&second_id, Duration::from_secs(90)).await?;
    ensure!(is_state(&second, v1::JobState::Succeeded), "job {second_id} ended {}: {}", second.state, second.error);
    ensure!(second.tasks.iter().all(|found| found.node_id == held.node_id), "every task should have run on the thawed agent: {:?}", second.tasks);
    media::check_outputs(&second_out, &second_source).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_restarted_on_its_work_dir_reports_unacknowledged_results_from_its_journal() -> anyhow::Result<()> {
    // Long timeouts: the restarted agent must be back before its node is judged, so that the
    // journaled results still match live leases.
    let config = tempfile::NamedTempFile::new()?;
    std::fs::write(config.path(), "node_timeout_ms = 6000\nlease_timeout_ms = 12000\n")?;
    let config_path = config.path().to_str().context("temp path")?.to_owned();
    let mut farm = Farm::start(3, &["--config", &config_path], &["t35c-1"])?;
    let outcome = journal_after_restart(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

/// Task ids the agent's log says finished (succeeded or failed), from `offset` on.
fn finished_in_log(log: &str, offset: usize) -> Vec<u64> {
    log.get(offset..)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("shotfarm_agent::runtime::runner") && (line.contains("task succeeded") || line.contains("task failed")))
        .filter_map(|line| line.split("task_id=").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

async fn journal_after_restart(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "journal.mp4", 4.0).await?;
    let out = farm.subdir("out-journal")?;
    step(&format!("submit a {}-frame job to one real agent", source.frames));
    let job_id = farm.submit("t35-journal", source.job_spec(&out)).await?;
    let held = freeze_a_running_task(farm, &job_id, "encode").await?;

    step(&format!("kill -9 every replica while agent {} holds encode task {}; let it finish", held.agent, held.task_id));
    let replicas: Vec<u64> = farm.cluster.replicas.keys().copied().collect();
    for id in &replicas {
        farm.cluster.kill(*id)?;
    }
    let offset = farm.agent(&held.agent)?.log_text().len();
    farm.agent(&held.agent)?.resume()?;
    wait_until(Duration::from_secs(30), "the agent finished the encode with no scheduler to tell", || async {
        farm.agent(&held.agent).is_ok_and(|agent| finished_in_log(&agent.log_text(), offset).contains(&held.task_id))
    })
    .await?;
    // The result is journaled right after the line that says it finished.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unacknowledged = finished_in_log(&farm.agent(&held.agent)?.log_text(), offset);

    step(&format!("kill -9 the agent with unacknowledged results {unacknowledged:?}; restart the replicas, then the agent on its work dir"));
    farm.agent_mut(&held.agent)?.kill()?;
    for id in &replicas {
        farm.cluster.restart(*id)?;
    }
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let restarted_at = farm.agent(&held.agent)?.log_text().len();
    farm.agent_mut(&held.agent)?.restart()?;

    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let log = farm.agent(&held.agent)?.log_text();
    let after_restart = log.get(restarted_at..).unwrap_or_default();
    for task_id in &unacknowledged {
        let found = task(&job, *task_id)?;
        ensure!(found.attempt == 1 && found.state == v1::TaskState::Succeeded as i32, "task {task_id} should have succeeded with its journaled attempt 1: {found:?}");
        let reported = format!("reporting a journaled result task_id={task_id} attempt=1");
        ensure!(after_restart.contains(&reported), "the restarted agent's log lacks {reported:?}");
        let runs = log.lines().filter(|line| line.contains("task started") && line.contains(&format!("task_id={task_id} attempt="))).count();
        ensure!(runs == 1, "task {task_id} ran {runs} times");
    }
    let checked = media::check_outputs(&out, &source).await?;
    step(&format!("{} results came back from the journal; {} frames frame-exact in {} files", unacknowledged.len(), source.frames, checked.files.len()));
    Ok(())
}
