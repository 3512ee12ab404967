//! Attacks on a running farm, each refused without harm. First: forged `RaftService`
//! messages, sent straight to every replica of a real cluster, claiming to come from a member
//! or from an outsider, with fields raft-rs panics on (a heartbeat committing past the log, an
//! append whose entries do not follow its index, an acknowledgement of entries the leader never
//! had, a read without its context) or that would steer it (a proposal, a term-0 append). The
//! group keeps its leader, every replica keeps running, and a job submitted afterwards is
//! acknowledged.

use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Entry, Message, MessageType};
use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_proto::v1::RaftBatch;
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;

use crate::support::{client, step, submit};

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
    let client = client(cluster.addrs());
    submit(&client, "t95-before", "in.mp4").await?;
    step("forged raft messages to every replica, as a member and as an outsider");
    for (&to, replica) in &cluster.replicas {
        let member = if to == 1 { 2 } else { 1 };
        for claimed in [member, 77] {
            let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&replica.addr)?);
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
