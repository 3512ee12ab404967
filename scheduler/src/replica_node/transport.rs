//! Replica-to-replica transport: one sender task per peer, each with a bounded queue,
//! batching raft-rs messages into `RaftService.Step` calls over one lazily connected channel.
//! A failed send is reported back to the driver (unreachable, snapshot failed) so raft-rs
//! probes and retries. A peer with a route (`--route`) is dialled at the route's address (a
//! proxy or NAT in between) rather than its member address. Peers are dialled with TLS,
//! presenting this replica's certificate (the peer admits only replicas), unless `--insecure`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use shotfarm_proto::v1::RaftBatch;
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use shotfarm_security::TransportSecurity;
use tonic::transport::Channel;

/// Messages waiting for one peer; beyond this, messages are dropped (Raft retransmits).
const PEER_QUEUE: usize = 4096;
/// At most this many messages per RPC.
const MAX_BATCH: usize = 256;
/// Largest `RaftService` message either way. raft-rs caps an append at 4 MiB of entries
/// (`ReplicaConfig::max_message_bytes`), so only a snapshot comes near it: the state's
/// snapshot is bounded by the retention of finished jobs' detail (`machine::retention`).
pub const MAX_PEER_MESSAGE: usize = 64 << 20;
/// Encoded messages per RPC at most (one larger message travels alone).
const MAX_BATCH_BYTES: usize = 16 << 20;

/// What the transport tells the driver about failed deliveries.
#[derive(Debug)]
pub enum Delivery {
    Unreachable(u64),
    Snapshot { to: u64, delivered: bool },
}

struct Peer {
    addr: String,
    queue: mpsc::Sender<Message>,
}

pub struct Transport {
    from: u64,
    /// This replica's own address, sent with every batch.
    advertise: String,
    /// The group's id, sent with every batch (0 until a joining replica learns it).
    cluster_id: Arc<AtomicU64>,
    /// Dial these peers here instead of at their member address.
    routes: HashMap<u64, String>,
    security: TransportSecurity,
    peers: HashMap<u64, Peer>,
    reports: mpsc::UnboundedSender<Delivery>,
    shutdown: CancellationToken,
    runtime: tokio::runtime::Handle,
}

impl Transport {
    pub fn new(
        from: u64,
        advertise: String,
        routes: HashMap<u64, String>,
        security: TransportSecurity,
        reports: mpsc::UnboundedSender<Delivery>,
        shutdown: CancellationToken,
        runtime: tokio::runtime::Handle,
    ) -> Transport {
        Transport { from, advertise, cluster_id: Arc::default(), routes, security, peers: HashMap::new(), reports, shutdown, runtime }
    }

    /// The cluster id every batch carries from now on.
    pub fn set_cluster_id(&self, cluster_id: u64) {
        self.cluster_id.store(cluster_id, Ordering::Relaxed);
    }

    /// Queues a message for `addr` (the replica's address from the replicated membership),
    /// or for the peer's route where it has one.
    pub fn send(&mut self, message: Message, addr: &str) {
        let to = message.to;
        let addr = self.routes.get(&to).map_or(addr, String::as_str);
        let stale = self.peers.get(&to).is_some_and(|peer| peer.addr != addr || peer.queue.is_closed());
        if stale {
            self.peers.remove(&to);
        }
        let peer = self.peers.entry(to).or_insert_with(|| {
            let (queue, receiver) = mpsc::channel(PEER_QUEUE);
            let task = PeerSender {
                from: self.from,
                from_addr: self.advertise.clone(),
                cluster_id: self.cluster_id.clone(),
                to,
                addr: addr.to_owned(),
                security: self.security.clone(),
                reports: self.reports.clone(),
            };
            self.runtime.spawn(task.run(receiver, self.shutdown.clone()));
            Peer { addr: addr.to_owned(), queue }
        });
        let is_snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
        if peer.queue.try_send(message).is_err() {
            let _ = self.reports.send(if is_snapshot { Delivery::Snapshot { to, delivered: false } } else { Delivery::Unreachable(to) });
        }
    }

    /// Forgets a removed replica.
    pub fn remove(&mut self, id: u64) {
        self.peers.remove(&id);
    }
}

struct PeerSender {
    from: u64,
    from_addr: String,
    cluster_id: Arc<AtomicU64>,
    to: u64,
    addr: String,
    security: TransportSecurity,
    reports: mpsc::UnboundedSender<Delivery>,
}

impl PeerSender {
    async fn run(self, mut queue: mpsc::Receiver<Message>, shutdown: CancellationToken) {
        let client = match self.security.endpoint(&self.addr) {
            Ok(endpoint) => RaftServiceClient::new(
                endpoint.connect_timeout(Duration::from_millis(500)).timeout(Duration::from_secs(10)).tcp_nodelay(true).connect_lazy(),
            )
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE),
            Err(err) => {
                tracing::error!(to = self.to, addr = %self.addr, %err, "bad replica address; messages to it are dropped");
                return;
            }
        };
        let mut client: RaftServiceClient<Channel> = client;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // The peer's last refusal (another cluster, say), logged once rather than per batch.
        let mut refused: Option<String> = None;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                received = queue.recv_many(&mut batch, MAX_BATCH) => if received == 0 { return },
            }
            let (rpcs, dropped_snapshots) = byte_bounded_batches(batch.drain(..));
            for to in dropped_snapshots {
                let _ = self.reports.send(Delivery::Snapshot { to, delivered: false });
            }
            for Rpc { messages, snapshots } in rpcs {
                let cluster_id = self.cluster_id.load(Ordering::Relaxed);
                let result = client.step(RaftBatch { from: self.from, messages, from_addr: self.from_addr.clone(), cluster_id }).await;
                let delivered = result.is_ok();
                match result {
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        if refused.as_deref() != Some(status.message()) {
                            tracing::error!(to = self.to, addr = %self.addr, why = status.message(), "the peer refuses this replica's raft messages");
                            refused = Some(status.message().to_owned());
                        }
                        let _ = self.reports.send(Delivery::Unreachable(self.to));
                    }
                    Err(status) => {
                        tracing::debug!(to = self.to, addr = %self.addr, %status, "raft send failed");
                        let _ = self.reports.send(Delivery::Unreachable(self.to));
                    }
                    Ok(_) => refused = None,
                }
                for to in snapshots {
                    let _ = self.reports.send(Delivery::Snapshot { to, delivered });
                }
            }
        }
    }
}

/// One `RaftService.Step` call's messages, encoded, and the peers whose snapshot it carries.
#[derive(Debug, Default)]
struct Rpc {
    messages: Vec<Vec<u8>>,
    snapshots: Vec<u64>,
}

/// The messages encoded and split into RPCs of at most [`MAX_BATCH_BYTES`] each, with the
/// snapshots each RPC carries (to report their delivery); then the peers whose snapshot was
/// too large for any RPC. Such a message is dropped with an error (raft-rs tries again).
fn byte_bounded_batches(messages: impl Iterator<Item = Message>) -> (Vec<Rpc>, Vec<u64>) {
    let mut batches: Vec<Rpc> = Vec::new();
    let mut dropped_snapshots = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let Ok(encoded) = message.write_to_bytes() else { continue };
        if encoded.len() > MAX_PEER_MESSAGE {
            tracing::error!(to = message.to, kind = ?message.get_msg_type(), bytes = encoded.len(), limit = MAX_PEER_MESSAGE, "a raft message is larger than a peer accepts; dropped");
            if message.get_msg_type() == MessageType::MsgSnapshot {
                dropped_snapshots.push(message.to);
            }
            continue;
        }
        if batches.is_empty() || bytes + encoded.len() > MAX_BATCH_BYTES {
            batches.push(Rpc::default());
            bytes = 0;
        }
        bytes += encoded.len();
        if let Some(rpc) = batches.last_mut() {
            if message.get_msg_type() == MessageType::MsgSnapshot {
                rpc.snapshots.push(message.to);
            }
            rpc.messages.push(encoded);
        }
    }
    (batches, dropped_snapshots)
}

#[cfg(test)]
mod tests {
    use raft::prelude::Entry;

    use super::*;

    fn append_of(bytes: usize) -> Message {
        let mut message = Message::default();
        message.set_msg_type(MessageType::MsgAppend);
        message.to = 2;
        message.entries = vec![Entry { data: vec![7; bytes].into(), ..Default::default() }].into();
        message
    }

    #[test]
    fn rpcs_stay_under_the_byte_bound_and_keep_every_message_in_order() {
        let messages: Vec<Message> = (0..10).map(|_| append_of(5 << 20)).collect();
        let (batches, dropped) = byte_bounded_batches(messages.into_iter());
        assert!(dropped.is_empty());
        assert_eq!(batches.iter().map(|rpc| rpc.messages.len()).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        assert!(batches.iter().all(|rpc| rpc.messages.iter().map(Vec::len).sum::<usize>() <= MAX_BATCH_BYTES));
    }

    #[test]
    fn a_message_over_the_peer_limit_is_dropped_and_a_snapshot_is_reported_with_its_rpc() {
        let snapshot_to = |to: u64, bytes: usize| {
            let mut snapshot = Message::default();
            snapshot.set_msg_type(MessageType::MsgSnapshot);
            snapshot.to = to;
            snapshot.mut_snapshot().data = vec![1; bytes].into();
            snapshot
        };
        let messages = vec![append_of(MAX_PEER_MESSAGE + 1), snapshot_to(3, 10), snapshot_to(4, MAX_PEER_MESSAGE + 1)];
        let (batches, dropped) = byte_bounded_batches(messages.into_iter());
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].messages.len(), 1);
        assert_eq!(batches[0].snapshots, vec![3]);
        assert_eq!(dropped, vec![4], "an undeliverable snapshot is reported as failed");
    }
}
