//! Operations while real agents run a real job: a node drained mid-job (its running tasks
//! finish there, nothing new is placed on it, it ends drained with nothing running, and its
//! agent leaves cleanly on SIGTERM); the
//! leader killed with -9 mid-job (the agents follow the new leader, the job finishes); a
//! replica added and another removed mid-job. Every job ends frame-exact. Prints the job's
//! completion time with the leader killed against the same job without faults.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_cluster_tests::media::{self, SyntheticSource};
use shotfarm_proto::v1;

use crate::support::{is_state, shotfarm_as_operator, step};

async fn small_source(farm: &Farm, name: &str) -> anyhow::Result<SyntheticSource> {
    media::synthesize(&farm.subdir("sources")?, name, (320, 180), 4.0).await
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_millis() as u64).unwrap_or(0)
}

/// Waits until the job has made some progress (its inspection is done and work is running).
async fn wait_until_under_way(farm: &Farm, job_id: &str) -> anyhow::Result<()> {
    wait_until(Duration::from_secs(60), "the job is under way", || async {
        farm.job(job_id).await.is_ok_and(|job| job.tasks_done >= 2 && job.tasks.iter().any(|task| task.state == v1::TaskState::Running as i32))
    })
    .await
}

async fn finish_frame_exact(farm: &Farm, job_id: &str, out: &std::path::Path, source: &SyntheticSource) -> anyhow::Result<v1::Job> {
    let job = farm.wait_for_job(job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let checked = media::check_outputs(out, source).await?;
    step(&format!("job {job_id}: {} tasks; every rendition has the {} source frames in order; {} files", job.tasks_total, source.frames, checked.files.len()));
    Ok(job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_drained_mid_job_finishes_its_tasks_and_takes_no_new_ones() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &["t65d-1", "t65d-2"])?;
    let outcome = drained_mid_job(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn drained_mid_job(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "drain.mp4").await?;
    let out = farm.subdir("out-drain")?;
    let job_id = farm.submit("t65-drain", source.job_spec(&out)).await?;

    // Drain the node that runs an encode or a score, while it runs it.
    let (drained, running_then) = loop {
        let job = farm.job(&job_id).await?;
        ensure!(!is_state(&job, v1::JobState::Succeeded), "the job finished before a node could be drained mid-task");
        let busy = job.tasks.iter().find(|task| task.state == v1::TaskState::Running as i32 && (task.kind == "encode" || task.kind == "score"));
        if let Some(busy) = busy {
            let nodes = farm.nodes().await?;
            let name = nodes.iter().find(|node| node.node_id == busy.node_id).map(|node| node.name.clone()).context("the busy node is listed")?;
            step(&format!("drain {name} while it runs {} task {}", busy.kind, busy.task_id));
            let node = farm.cordon(&name, true).await?;
            ensure!(node.state == v1::NodeState::Draining as i32, "drain answered {node:?}");
            break (node, now_ms());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let job = finish_frame_exact(farm, &job_id, &out, &source).await?;
    let on_drained: Vec<&v1::TaskSummary> = job.tasks.iter().filter(|task| task.node_id == drained.node_id).collect();
    ensure!(!on_drained.is_empty(), "no task ran on the drained node");
    for task in &on_drained {
        ensure!(task.started_at_ms <= running_then, "task {} started on the drained node after the drain: {task:?}", task.task_id);
        ensure!(task.attempt == 1 && task.state == v1::TaskState::Succeeded as i32, "a task running on the drained node should finish there: {task:?}");
    }
    let moved_on: usize = job.tasks.iter().filter(|task| task.started_at_ms > running_then).count();
    ensure!(moved_on > 0, "every later task should have run on the other node, and there were none");
    wait_until(Duration::from_secs(10), "the drained node has nothing running and stays up", || async {
        farm.node(&drained.name).await.is_ok_and(|node| node.state == v1::NodeState::Draining as i32 && node.running_tasks == 0)
    })
    .await?;
    step(&format!("{} tasks finished on the drained node; {moved_on} later tasks ran elsewhere", on_drained.len()));

    step(&format!("SIGTERM the drained agent {}: with nothing to finish it leaves at once, cleanly", drained.name));
    let exit = farm.agent_mut(&drained.name)?.terminate(Duration::from_secs(10))?;
    ensure!(exit.success(), "the agent exited {exit}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_mid_job_loses_nothing_and_the_agents_follow_the_new_one() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &["t65l-1", "t65l-2"])?;
    let outcome = leader_killed_mid_job(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn leader_killed_mid_job(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "leader.mp4").await?;

    step("the job without faults, for comparison");
    let calm_out = farm.subdir("out-calm")?;
    let calm_started = Instant::now();
    let calm_id = farm.submit("t65-calm", source.job_spec(&calm_out)).await?;
    finish_frame_exact(farm, &calm_id, &calm_out, &source).await?;
    let calm = calm_started.elapsed();

    let out = farm.subdir("out-leader")?;
    let started = Instant::now();
    let job_id = farm.submit("t65-leader", source.job_spec(&out)).await?;
    wait_until_under_way(farm, &job_id).await?;
    let (old_leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(5)).await?;
    let sessions_before: Vec<usize> = farm.agents.iter().map(|agent| agent.log_lines_with(&["session open"]).len()).collect();
    step(&format!("kill -9 leader {old_leader} mid-job"));
    farm.cluster.kill(old_leader)?;
    let (new_leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    ensure!(new_leader != old_leader, "replica {old_leader} was killed but still leads");
    wait_until(Duration::from_secs(20), "every agent opened a session with the new leader", || async {
        farm.agents.iter().zip(&sessions_before).all(|(agent, before)| agent.log_lines_with(&["session open"]).len() > *before)
    })
    .await?;
    let job = finish_frame_exact(farm, &job_id, &out, &source).await?;
    let faulted = started.elapsed();
    eprintln!(
        "[figure] t65 job completion ({} tasks, 2 agents): {:.1} s with the leader killed mid-job, {:.1} s without faults",
        job.tasks_total,
        faulted.as_secs_f64(),
        calm.as_secs_f64()
    );
    let nodes = farm.nodes().await?;
    ensure!(nodes.iter().all(|node| node.state == v1::NodeState::Ready as i32), "every agent should be ready under the new leader: {nodes:?}");

    step(&format!("restart replica {old_leader}; it catches up"));
    farm.cluster.restart(old_leader)?;
    wait_until(Duration::from_secs(20), "the old leader follows and has caught up", || async {
        farm.cluster.status(old_leader).await.is_some_and(|status| status.role == "follower" && status.applied_index == status.commit_index)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_added_and_another_removed_mid_job() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &["t65m-1", "t65m-2"])?;
    let outcome = membership_mid_job(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn membership_mid_job(farm: &mut Farm) -> anyhow::Result<()> {
    let (leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = small_source(farm, "membership.mp4").await?;
    let out = farm.subdir("out-membership")?;
    let job_id = farm.submit("t65-membership", source.job_spec(&out)).await?;
    wait_until_under_way(farm, &job_id).await?;

    step("add replica 4 with `shotfarm cluster add` while the job runs");
    let joiner = farm.cluster.start_joining(4)?;
    let addrs = farm.cluster.addrs_joined();
    shotfarm_as_operator(&farm.cluster, &["cluster", "--scheduler", &addrs, "add", "--id", "4", "--addr", &joiner])?;
    // It joins as a learner; the next change waits until the leader has promoted it.
    wait_until(Duration::from_secs(20), "replica 4 follows with four voters", || async {
        farm.cluster.status(4).await.is_some_and(|status| status.role == "follower" && status.members.iter().filter(|member| member.membership == "voter").count() == 4)
    })
    .await?;

    let removed = (1..=3).find(|id| *id != leader).context("a follower")?;
    step(&format!("remove follower {removed} with `shotfarm cluster remove`, then stop it"));
    shotfarm_as_operator(&farm.cluster, &["cluster", "--scheduler", &addrs, "remove", "--id", &removed.to_string()])?;
    farm.cluster.kill(removed)?;
    let job = finish_frame_exact(farm, &job_id, &out, &source).await?;
    ensure!(job.tasks_done == job.tasks_total, "{job:?}");
    let (now_leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let status = farm.cluster.status(now_leader).await.context("the leader answers")?;
    let mut members: Vec<u64> = status.members.iter().map(|member| member.id).collect();
    members.sort_unstable();
    let mut expected: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|id| *id != removed).collect();
    expected.sort_unstable();
    ensure!(members == expected, "members {members:?}; expected {expected:?}");
    Ok(())
}
