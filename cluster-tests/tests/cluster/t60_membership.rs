//! Membership and catch-up: a follower that missed more than a snapshot's worth of log
//! catches up by snapshot; a replica is added through `shotfarm cluster add`, catches up,
//! and is removed again.

use std::time::Duration;

use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_proto::client::channel;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{ClusterStatusRequest, ClusterStatusResponse};
use shotfarm_security::Credentials;

use crate::support::{client, shotfarm_as_operator, step, submit};

async fn status(addr: &str, credentials: &Credentials) -> Option<ClusterStatusResponse> {
    let mut admin = AdminServiceClient::new(channel(addr, credentials).ok()?);
    Some(tokio::time::timeout(Duration::from_secs(1), admin.cluster_status(ClusterStatusRequest {})).await.ok()?.ok()?.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_follower_catches_up_by_snapshot_and_a_replica_is_added_and_removed() -> anyhow::Result<()> {
    let config = tempfile::NamedTempFile::new()?;
    std::fs::write(config.path(), "snapshot_every = 50\n")?;
    let config_path = config.path().to_str().unwrap_or_default().to_owned();
    let mut cluster = SchedulerCluster::start(3, &["--config", &config_path])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let credentials = cluster.operator();
    let client = client(cluster.addrs(), credentials.clone());
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(1);
    step(&format!("kill follower {follower}, then commit 150 jobs so the log is compacted past it"));
    cluster.kill(follower)?;
    for index in 0..150 {
        submit(&client, &format!("t60-{index}"), "in.mp4").await?;
    }
    cluster.restart(follower)?;
    let follower_addr = cluster.replicas[&follower].addr.clone();
    wait_until(Duration::from_secs(20), "the follower caught up by snapshot", || {
        let addr = follower_addr.clone();
        let credentials = credentials.clone();
        async move {
            status(&addr, &credentials).await.is_some_and(|status| status.snapshot_index > 0 && status.applied_index >= 150 && status.applied_index == status.commit_index)
        }
    })
    .await?;

    step("add replica 4 with `shotfarm cluster add`");
    let joiner_addr = cluster.start_joining(4)?;
    let addrs = cluster.addrs_joined();
    shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &addrs, "add", "--id", "4", "--addr", &joiner_addr])?;
    wait_until(Duration::from_secs(20), "replica 4 follows and has caught up", || {
        let addr = joiner_addr.clone();
        let credentials = credentials.clone();
        async move { status(&addr, &credentials).await.is_some_and(|status| status.role == "follower" && status.applied_index >= 150 && status.members.len() == 4) }
    })
    .await?;
    submit(&client, "t60-with-four", "in.mp4").await?;

    step("remove replica 4 again");
    shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &addrs, "remove", "--id", "4"])?;
    // The removal is committed when `remove` returns; a follower applies it with the leader's
    // next message, so the follower asked below may need a heartbeat to list three members.
    let first_addr = cluster.addrs()[0].clone();
    wait_until(Duration::from_secs(10), "the first replica applied the removal", || {
        let addr = first_addr.clone();
        let credentials = credentials.clone();
        async move { status(&addr, &credentials).await.is_some_and(|status| status.members.len() == 3) }
    })
    .await?;
    let json: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &cluster.addrs()[0], "--json"])?)?;
    let members = json["members"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(members, 3, "{json}");
    submit(&client, "t60-after-removal", "in.mp4").await?;
    Ok(())
}
