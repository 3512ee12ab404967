//! Simulated agents run jobs to completion; when an agent dies mid-task its node is declared
//! down within the timeout and its tasks are placed again.

use std::time::{Duration, Instant};

use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::v1;
use tokio_util::sync::CancellationToken;

use crate::support::{client, is_state, job, nodes, step, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_finish_jobs_and_a_dead_agent_is_replaced() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &[])?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs(), cluster.operator());

    step("two simulated agents run a 4-chunk, 2-rung job to completion");
    let healthy = CancellationToken::new();
    swarm::start(SwarmConfig { name_prefix: "healthy".into(), ..SwarmConfig::for_cluster(&cluster, 2) }, healthy.clone())?;
    let finished = submit(&client, "t30-a", "c4-r2.mp4").await?;
    wait_until(Duration::from_secs(20), "the job succeeded", || async {
        job(&client, &finished.job_id).await.is_ok_and(|found| is_state(&found, v1::JobState::Succeeded))
    })
    .await?;
    let done = job(&client, &finished.job_id).await?;
    assert_eq!(done.tasks_done, done.tasks_total);
    // inspect, ladder, package, report; an encode per chunk and rung; a score per chunk (both rungs); assemble and validate per rung.
    assert_eq!(done.tasks_total, 4 + 4 * 2 + 4 + 2 * 2);
    healthy.cancel();

    step("a slow agent takes a job, then dies; its node goes down and the work moves");
    let doomed = CancellationToken::new();
    swarm::start(SwarmConfig { name_prefix: "doomed".into(), work_time: Duration::from_secs(3600), ..SwarmConfig::for_cluster(&cluster, 1) }, doomed.clone())?;
    let stuck = submit(&client, "t30-b", "c2-r1.mp4").await?;
    // The healthy agents left a moment ago and their nodes are not declared down yet: the
    // leader places only on nodes whose agent holds a session, so the doomed one takes it.
    wait_until(Duration::from_secs(20), "the doomed agent holds the inspect task", || async {
        let (Ok(found), Ok(all)) = (job(&client, &stuck.job_id).await, nodes(&client).await) else { return false };
        let doomed_node = all.iter().find(|node| node.name == "doomed-0").map(|node| node.node_id);
        found.tasks.iter().any(|task| task.state == v1::TaskState::Running as i32 && Some(task.node_id) == doomed_node)
    })
    .await?;
    let first = &job(&client, &stuck.job_id).await?.tasks[0];
    assert_eq!(first.attempt, 1, "the first placement went to a connected agent: {first:?}");
    doomed.cancel();
    let died = Instant::now();
    // Its stream closed: the leader shows its agent away at once, before the node timeout.
    wait_until(Duration::from_secs(2), "the doomed node shows its agent away", || async {
        nodes(&client).await.is_ok_and(|all| all.iter().any(|node| node.name == "doomed-0" && !node.connected))
    })
    .await?;
    let healthy_nodes: Vec<bool> = nodes(&client).await?.iter().filter(|node| node.name.starts_with("healthy")).map(|node| node.connected).collect();
    assert_eq!(healthy_nodes, [false, false], "the healthy agents left in the first step");
    wait_until(Duration::from_secs(10), "the dead node is declared down", || async {
        nodes(&client).await.is_ok_and(|all| all.iter().any(|node| node.name == "doomed-0" && node.state == v1::NodeState::Down as i32))
    })
    .await?;
    let detected = died.elapsed();
    step(&format!("dead agent detected after {} ms", detected.as_millis()));
    assert!(detected < Duration::from_secs(4), "detection took {detected:?}");
    let rescue = CancellationToken::new();
    swarm::start(SwarmConfig { name_prefix: "rescue".into(), ..SwarmConfig::for_cluster(&cluster, 1) }, rescue.clone())?;
    wait_until(Duration::from_secs(20), "the job finished on the rescue agent", || async {
        job(&client, &stuck.job_id).await.is_ok_and(|found| is_state(&found, v1::JobState::Succeeded))
    })
    .await?;
    let rescued = job(&client, &stuck.job_id).await?;
    let inspect = &rescued.tasks[0];
    assert_eq!(inspect.attempt, 2, "the inspect task ran again with the next attempt: {inspect:?}");
    rescue.cancel();
    Ok(())
}
