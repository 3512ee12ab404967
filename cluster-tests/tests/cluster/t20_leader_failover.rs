//! The leader is killed with -9: a new one is elected, no acknowledged job is lost, new jobs
//! are accepted, and the old leader catches up when it comes back.

use std::time::{Duration, Instant};

use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};

use crate::support::{client, job, step, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_loses_no_acknowledged_job() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &[])?;
    let (old_leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs(), cluster.operator());
    let mut acknowledged = Vec::new();
    for index in 0..20 {
        acknowledged.push(submit(&client, &format!("t20-{index}"), "in.mp4").await?.job_id);
    }
    step(&format!("kill -9 leader {old_leader}"));
    cluster.kill(old_leader)?;
    let killed = Instant::now();
    let (new_leader, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    assert_ne!(new_leader, old_leader);
    let after = submit(&client, "t20-after", "in.mp4").await?;
    step(&format!("replica {new_leader} leads; a write committed {} ms after the kill", killed.elapsed().as_millis()));
    for job_id in &acknowledged {
        job(&client, job_id).await?;
    }
    step("restart the old leader; it catches up");
    cluster.restart(old_leader)?;
    let old_addr = cluster.replicas[&old_leader].addr.clone();
    let credentials = cluster.operator();
    wait_until(Duration::from_secs(15), "the old leader has applied the new job", || {
        let addr = old_addr.clone();
        let credentials = credentials.clone();
        async move {
            let Ok(channel) = shotfarm_proto::client::channel(&addr, &credentials) else { return false };
            let mut admin = shotfarm_proto::v1::admin_service_client::AdminServiceClient::new(channel);
            let Ok(status) = admin.cluster_status(shotfarm_proto::v1::ClusterStatusRequest {}).await else { return false };
            let status = status.into_inner();
            status.role == "follower" && status.applied_index >= status.commit_index && status.commit_index > 21
        }
    })
    .await?;
    job(&client, &after.job_id).await?;
    Ok(())
}
