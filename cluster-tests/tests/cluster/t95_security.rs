//! Attacks on a running farm, each refused without harm. First: forged `RaftService`
//! messages, sent straight to every replica of a real cluster, claiming to come from a member
//! or from an outsider, with fields raft-rs panics on (a heartbeat committing past the log, an
//! append whose entries do not follow its index, an acknowledgement of entries the leader never
//! had, a read without its context) or that would steer it (a proposal, a term-0 append). The
//! group keeps its leader, every replica keeps running, and a job submitted afterwards is
//! acknowledged. Then: admin calls that tried to brick the cluster (a voter removed, voters of
//! unreachable addresses added) are refused or harmless.

use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Entry, Message, MessageType};
use shotfarm_cluster_tests::cluster::{SchedulerCluster, free_ports};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::v1::RaftBatch;
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;
use shotfarm_security::Role;

use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::{add_replica, client, finish, remove_replica, step, submit};

fn forged(kind: MessageType, from: u64, to: u64, shape: impl FnOnce(&mut Message)) -> Message {
    let mut message = Message::default();
    message.set_msg_type(kind);
    (message.from, message.to, message.term) = (from, to, 1_000);
    shape(&mut message);
    message
}

/// The messages an attacker sends to replica `to`, claiming to be replica `from`.
fn attack(from: u64, to: u64) -> Vec<Message> {
    let entry = |index| Entry { index, term: 1_000, ..Default::default() };
    vec![
        forged(MessageType::MsgHeartbeat, from, to, |m| m.commit = 1_000_000_000_000),
        forged(MessageType::MsgAppend, from, to, |m| {
            m.index = 1_000;
            m.entries = vec![entry(3), entry(4)].into();
        }),
        forged(MessageType::MsgAppendResponse, from, to, |m| m.index = 1_000_000_000),
        forged(MessageType::MsgReadIndexResp, from, to, |_| {}),
        forged(MessageType::MsgPropose, from, to, |m| m.entries = vec![entry(0)].into()),
        forged(MessageType::MsgAppend, from, to, |m| {
            m.term = 0;
            m.commit = 1_000_000;
        }),
        forged(MessageType::MsgRequestVote, from, to, |m| m.term = u64::MAX),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_raft_messages_crash_no_replica() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs(), cluster.operator());
    submit(&client, "t95-before", "in.mp4").await?;
    step("forged raft messages to every replica, as a member and as an outsider");
    for (&to, replica) in &cluster.replicas {
        let member = if to == 1 { 2 } else { 1 };
        for claimed in [member, 77] {
            // A member's own certificate (an insider sending out-of-range fields), and an
            // operator's claiming to be an outsider replica (refused before any check).
            let credentials = if claimed == member { cluster.credentials(Role::Replica, &member.to_string())? } else { cluster.operator() };
            let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&replica.addr, &credentials)?);
            for message in attack(claimed, to) {
                let bytes = message.write_to_bytes()?;
                // Refused or dropped: either way the replica must stay up.
                let _ = raft.step(RaftBatch { from: claimed, messages: vec![bytes], ..RaftBatch::default() }).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in cluster.replicas.keys().copied().collect::<Vec<_>>() {
        assert_eq!(cluster.exit_status(id)?, None, "replica {id} stopped after forged messages");
    }
    let (leader_after, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    assert_eq!(leader_after, leader, "forged messages moved the leadership");
    submit(&client, "t95-after", "in.mp4").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_that_bricked_the_cluster_are_refused_or_harmless() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    // An operator's typos (anonymous callers are refused outright: t95_authentication).
    let client = client(cluster.addrs(), cluster.operator());
    let agents = CancellationToken::new();
    swarm::start(SwarmConfig { chunks: 2, rungs: 1, ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(1);
    step(&format!("RemoveReplica {follower}, then AddReplica of two unreachable addresses, as once bricked the cluster"));
    remove_replica(&client, follower).await?;
    let unreachable = free_ports(2)?;
    let first = add_replica(&client, 4, &format!("127.0.0.1:{}", unreachable[0])).await?;
    assert!(first.members.iter().any(|member| member.id == 4 && member.membership == "learner"), "{first:?}");
    let second = add_replica(&client, 5, &format!("127.0.0.1:{}", unreachable[1])).await.expect_err("a second learner while one catches up");
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    assert!(second.message().contains("replica 4 is still catching up as a learner"), "{second:?}");
    let garbage = add_replica(&client, 6, "attacker.example.com").await.expect_err("no port");
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    let own = remove_replica(&client, leader).await.expect_err("a leader hands over before it can be removed");
    assert_eq!(own.code(), Code::FailedPrecondition, "{own:?}");
    assert!(own.message().contains("leadership is being handed over"), "{own:?}");

    step("the cluster keeps a leader (perhaps the other voter now) and finishes a job");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (leader_after, _) = cluster.wait_for_leader(Duration::from_secs(5)).await?;
    assert_ne!(leader_after, follower, "the removed replica cannot lead");
    let status = cluster.status(leader_after).await.ok_or_else(|| anyhow::anyhow!("the leader does not answer"))?;
    let voters: Vec<u64> = status.members.iter().filter(|member| member.membership == "voter").map(|member| member.id).collect();
    assert_eq!(voters.len(), 2, "the unreachable learner was never promoted: {status:?}");
    finish(&client, "t95-after-admin-attack", "c2-r1.mp4").await?;
    agents.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raft_batch_from_another_cluster_is_refused_naming_both_ids() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(1, &[])?;
    cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let ours = cluster.status(1).await.ok_or_else(|| anyhow::anyhow!("replica 1 does not answer"))?.cluster_id;
    let replica_two = cluster.credentials(Role::Replica, "2")?;
    let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&cluster.replicas[&1].addr, &replica_two)?);
    let heartbeat = forged(MessageType::MsgHeartbeat, 2, 1, |_| {}).write_to_bytes()?;
    let theirs = ours ^ 1;
    let refused = raft.step(RaftBatch { from: 2, messages: vec![heartbeat], cluster_id: theirs, ..RaftBatch::default() }).await.expect_err("another cluster");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let names_both = format!("belongs to cluster {theirs:016x}, this replica to cluster {ours:016x}");
    assert!(refused.message().contains(&names_both), "{refused:?}");
    submit(&client(cluster.addrs(), cluster.operator()), "t95-after-other-cluster", "in.mp4").await?;
    Ok(())
}
