//! Three replicas elect one leader; a job is accepted and queued with no agent connected;
//! a retried submission with the same request id returns the same job.

use std::time::Duration;

use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_proto::v1;

use crate::support::{client, is_state, job, step, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_elect_a_leader_and_queue_a_job_without_agents() -> anyhow::Result<()> {
    step("start 3 replicas");
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    step(&format!("replica {leader} leads"));
    let client = client(cluster.addrs());
    let first = submit(&client, "t10-request", "in.mp4").await?;
    assert!(first.created);
    let again = submit(&client, "t10-request", "in.mp4").await?;
    assert_eq!(again.job_id, first.job_id);
    assert!(!again.created, "a retried request id must not create a second job");
    let found = job(&client, &first.job_id).await?;
    assert!(is_state(&found, v1::JobState::Pending), "{found:?}");
    assert_eq!(found.tasks.len(), 1);
    assert_eq!(found.tasks[0].kind, "inspect");
    assert_eq!(found.tasks[0].state, v1::TaskState::Queued as i32);
    Ok(())
}
