//! The whole cluster is killed and restarted: every job comes back from disk.

use std::time::Duration;

use shotfarm_cluster_tests::cluster::SchedulerCluster;

use crate::support::{client, job, step, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restart_keeps_every_job() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &["--config", "/dev/null"])?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs(), cluster.operator());
    let mut jobs = Vec::new();
    for index in 0..10 {
        jobs.push(submit(&client, &format!("t40-{index}"), "in.mp4").await?.job_id);
    }
    step("kill -9 every replica, then start them all again");
    for id in 1..=3 {
        cluster.kill(id)?;
    }
    for id in 1..=3 {
        cluster.restart(id)?;
    }
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    for job_id in &jobs {
        let found = job(&client, job_id).await?;
        assert_eq!(&found.job_id, job_id);
    }
    let again = submit(&client, "t40-0", "in.mp4").await?;
    assert!(!again.created, "request ids survive a restart");
    assert_eq!(&again.job_id, &jobs[0]);
    Ok(())
}
