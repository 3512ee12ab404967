//! Membership and catch-up: a follower that missed more than a snapshot's worth of log
//! catches up by snapshot; a replica is added through `shotfarm cluster add` as a learner, is
//! promoted once it has caught up, and is removed again. The strict reconfiguration check: a
//! typo in `cluster add` leaves a one-replica cluster working, a removal that would leave no
//! reachable quorum is refused. Disaster recovery: a 3-replica cluster loses two replicas for
//! good and `cluster recover --force-new-cluster` brings the third back alone, jobs kept.
//! Replicas started with disagreeing `--peers` refuse each other at first contact.

use std::process::Command;
use std::time::Duration;

use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary, wait_until};
use shotfarm_cluster_tests::ports::free_ports;
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::client::channel;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{ClusterStatusRequest, ClusterStatusResponse};
use shotfarm_security::{Credentials, Role};
use tokio_util::sync::CancellationToken;

use crate::support::{client, finish, job, shotfarm_as_operator, step, submit};

async fn status(addr: &str, credentials: &Credentials) -> Option<ClusterStatusResponse> {
    let mut admin = AdminServiceClient::new(channel(addr, credentials).ok()?);
    Some(tokio::time::timeout(Duration::from_secs(1), admin.cluster_status(ClusterStatusRequest {})).await.ok()?.ok()?.into_inner())
}

/// Runs a command (as the harness's operator) that must be refused with exit 2.
fn refused(cluster: &SchedulerCluster, args: &[&str], expected: &str) -> anyhow::Result<()> {
    let output = Command::new(shotfarm_binary()?).args(args).args(cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.code() == Some(2), "shotfarm {args:?} exited {:?}, not 2: {stderr}", output.status.code());
    anyhow::ensure!(stderr.contains(expected), "shotfarm {args:?} said {stderr:?}, not {expected:?}");
    Ok(())
}

/// Each member's membership ("voter" or "learner"), as `shotfarm cluster --json` reports it.
fn memberships(cluster: &SchedulerCluster, scheduler: &str) -> anyhow::Result<Vec<(u64, String)>> {
    let json: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(cluster, &["cluster", "--scheduler", scheduler, "--json"])?)?;
    let members = json["members"].as_array().cloned().unwrap_or_default();
    Ok(members.iter().map(|member| (member["id"].as_u64().unwrap_or(0), member["membership"].as_str().unwrap_or("").to_owned())).collect())
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
    wait_until(Duration::from_secs(20), "replica 4 follows, has caught up and was promoted to voter", || {
        let addr = joiner_addr.clone();
        let credentials = credentials.clone();
        async move {
            status(&addr, &credentials).await.is_some_and(|status| {
                status.role == "follower" && status.applied_index >= 150 && status.members.iter().filter(|member| member.membership == "voter").count() == 4
            })
        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_in_cluster_add_cannot_brick_a_one_replica_cluster() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(1, &[])?;
    cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let scheduler = cluster.addrs_joined();
    let client = client(cluster.addrs(), cluster.operator());
    step("add replica 2 at an address nobody listens on: it joins as a learner and the lone voter goes on");
    let nobody = format!("127.0.0.1:{}", free_ports(1)?[0]);
    let added = shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &scheduler, "add", "--id", "2", "--addr", &nobody])?;
    assert!(added.contains(&format!("2 {nobody} learner")), "{added}");
    submit(&client, "t60-typo-after", "in.mp4").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(memberships(&cluster, &scheduler)?, vec![(1, "voter".to_owned()), (2, "learner".to_owned())], "a learner that never answered is never promoted");

    step("refused: another add while the learner catches up, an id already present, a bad address, removing the last voter");
    refused(&cluster, &["cluster", "--scheduler", &scheduler, "add", "--id", "3", "--addr", "127.0.0.1:9"], "still catching up as a learner")?;
    refused(&cluster, &["cluster", "--scheduler", &scheduler, "add", "--id", "1", "--addr", "127.0.0.1:9"], "already a member")?;
    refused(&cluster, &["cluster", "--scheduler", &scheduler, "add", "--id", "3", "--addr", "127.0.0.1"], "has no port")?;
    refused(&cluster, &["cluster", "--scheduler", &scheduler, "remove", "--id", "1"], "it is the last voter")?;

    step("remove the learner; a real replica joins as learner and becomes a voter");
    shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &scheduler, "remove", "--id", "2"])?;
    assert_eq!(memberships(&cluster, &scheduler)?, vec![(1, "voter".to_owned())]);
    let joiner = cluster.start_joining(3)?;
    shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &scheduler, "add", "--id", "3", "--addr", &joiner])?;
    wait_until(Duration::from_secs(10), "replica 3 was promoted to voter", || async {
        cluster.status(1).await.is_some_and(|status| status.members.iter().any(|member| member.id == 3 && member.membership == "voter"))
    })
    .await?;
    let leader_status = cluster.status(1).await.ok_or_else(|| anyhow::anyhow!("replica 1 does not answer"))?;
    let joiner_status = cluster.status(3).await.ok_or_else(|| anyhow::anyhow!("replica 3 does not answer"))?;
    assert_eq!(joiner_status.cluster_id, leader_status.cluster_id, "the joiner learned the cluster id from the leader");
    submit(&client, "t60-typo-two-voters", "in.mp4").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_that_leaves_no_reachable_quorum_is_refused() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let scheduler = cluster.addrs_joined();
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (dead, alive) = (followers[0], followers[1]);
    step(&format!("replica {dead} dies; removing {alive} would leave {{{leader}, {dead}}} with one reachable voter"));
    cluster.kill(dead)?;
    // Past an election timeout (10 ticks of 50 ms, slower on a busy machine), the leader no
    // longer counts it reachable.
    tokio::time::sleep(Duration::from_secs(2)).await;
    refused(&cluster, &["cluster", "--scheduler", &scheduler, "remove", "--id", &alive.to_string()], "short of a quorum of 2")?;
    step(&format!("removing the dead replica {dead} is allowed, and the group goes on"));
    shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &scheduler, "remove", "--id", &dead.to_string()])?;
    submit(&client(cluster.addrs(), cluster.operator()), "t60-strict-after", "in.mp4").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_lost_two_of_three_replicas_for_good_is_recovered_from_the_third() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &[])?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let agents = CancellationToken::new();
    swarm::start(SwarmConfig { chunks: 2, rungs: 1, ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    let before = finish(&client(cluster.addrs(), cluster.operator()), "t60-recover-before", "c2-r1.mp4").await?;
    agents.cancel();
    let queued = submit(&client(cluster.addrs(), cluster.operator()), "t60-recover-queued", "c2-r1.mp4").await?;

    step("replicas 1 and 2 are lost for good; replica 3 is stopped");
    for lost in [1, 2] {
        cluster.kill(lost)?;
        std::fs::remove_dir_all(&cluster.replicas[&lost].data_dir)?;
    }
    let survivor = cluster.replicas[&3].data_dir.to_str().unwrap_or_default().to_owned();
    refused(&cluster, &["cluster", "recover", "--data-dir", &survivor, "--force-new-cluster"], "locked by a running scheduler replica")?;
    cluster.kill(3)?;
    refused(&cluster, &["cluster", "recover", "--data-dir", &survivor], "pass --force-new-cluster")?;
    let missing = cluster.replicas[&1].data_dir.to_str().unwrap_or_default().to_owned();
    refused(&cluster, &["cluster", "recover", "--data-dir", &missing, "--force-new-cluster"], "does not exist")?;
    let not_a_data_dir = tempfile::tempdir()?;
    refused(&cluster, &["cluster", "recover", "--data-dir", not_a_data_dir.path().to_str().unwrap_or_default(), "--force-new-cluster"], "not a scheduler data directory")?;

    step("recover replica 3 as a group of its own and start it with itself as its only peer");
    let said = shotfarm_as_operator(&cluster, &["cluster", "recover", "--data-dir", &survivor, "--force-new-cluster"])?;
    assert!(said.contains("replica 3") && said.contains("the only voter"), "{said}");
    let own_peers = format!("3={}", cluster.replicas[&3].addr);
    if let Some(replica) = cluster.replicas.get_mut(&3) {
        replica.peers = Some(own_peers);
    }
    cluster.restart(3)?;
    wait_until(Duration::from_secs(10), "replica 3 elected itself", || async { cluster.status(3).await.is_some_and(|status| status.role == "leader") }).await?;
    let alone = vec![cluster.replicas[&3].addr.clone()];
    let client = client(alone.clone(), cluster.operator());
    assert_eq!(job(&client, &before.job_id).await?.state, before.state, "the finished job is still there");
    let agents = CancellationToken::new();
    swarm::start(SwarmConfig { chunks: 2, rungs: 1, name_prefix: "after".into(), schedulers: alone, ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    finish(&client, "t60-recover-after", "c2-r1.mp4").await?;
    wait_until(Duration::from_secs(20), "the job queued before the loss finished too", || async {
        job(&client, &queued.job_id).await.is_ok_and(|found| found.tasks_total > 0 && found.tasks_done == found.tasks_total)
    })
    .await?;
    agents.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_given_disagreeing_peers_refuse_each_other_at_first_contact() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(1, &[])?;
    cluster.wait_for_leader(Duration::from_secs(10)).await?;
    step("replica 2 starts with --peers 1,2 while replica 1 was started alone");
    let leader_addr = cluster.replicas[&1].addr.clone();
    cluster.start_with_peers(2, |own| format!("1={leader_addr},2={own}"))?;
    let log = cluster.replicas[&2].log.clone();
    wait_until(Duration::from_secs(20), "replica 2 logs the refusal naming both cluster ids", || {
        let log = log.clone();
        async move { std::fs::read_to_string(&log).is_ok_and(|text| text.contains("this replica to cluster") && text.contains("refuses this replica's raft messages")) }
    })
    .await
    .map_err(|err| err.context(format!("replica 2's log ends:\n{}\nreplica 1's log ends:\n{}", cluster.log_tail(2, 30), cluster.log_tail(1, 30))))?;
    let one = cluster.status(1).await.ok_or_else(|| anyhow::anyhow!("replica 1 does not answer"))?;
    let two = cluster.status(2).await.ok_or_else(|| anyhow::anyhow!("replica 2 does not answer"))?;
    assert_ne!(one.cluster_id, two.cluster_id);
    assert_eq!(one.role, "leader");
    assert_ne!(two.role, "leader", "replica 2 never leads: {two:?}");
    let json: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(&cluster, &["cluster", "--scheduler", &cluster.addrs_joined(), "--json"])?)?;
    assert_eq!(json["other_clusters"], serde_json::json!([2]), "{json}");

    step("no split: one job-1, on replica 1's cluster");
    let submitted = submit(&client(cluster.addrs(), cluster.operator()), "t60-split", "in.mp4").await?;
    assert_eq!(submitted.job_id, "job-1");
    let two = cluster.status(2).await.ok_or_else(|| anyhow::anyhow!("replica 2 does not answer"))?;
    assert_eq!((two.role.as_str() != "leader", two.applied_index), (true, 1), "replica 2 applied nothing past its bootstrap: {two:?}");
    Ok(())
}
