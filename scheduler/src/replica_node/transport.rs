//! Replica-to-replica transport: one sender task per peer, each with a bounded queue,
//! batching raft-rs messages into `RaftService.Step` calls over one lazily connected channel;
//! a snapshot goes alone, streamed in pieces (`RaftService.SendSnapshot`, see
//! [`super::snapshot_stream`]), in its place among the other messages.
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
use shotfarm_proto::v1::{RaftBatch, SnapshotHeader};
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use shotfarm_security::TransportSecurity;
use tonic::transport::Channel;

use super::snapshot_stream;

/// Messages waiting for one peer; beyond this, messages are dropped (Raft retransmits).
const PEER_QUEUE: usize = 4096;
/// At most this many messages per RPC.
const MAX_BATCH: usize = 256;
/// Largest `RaftService` message either way: a `Step` batch of at most [`MAX_BATCH_BYTES`]
/// (raft-rs caps an append at 4 MiB of entries, `ReplicaConfig::max_message_bytes`, and an
/// entry holds at most 2 MiB) or a snapshot piece. Snapshots are streamed, so none is bounded
/// by this.
pub const MAX_PEER_MESSAGE: usize = 20 << 20;
/// Encoded messages per `Step` call at most (one larger message travels alone).
const MAX_BATCH_BYTES: usize = 16 << 20;
/// How long a `Step` call may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a snapshot stream may take: this, plus a second per 8 MiB.
const SNAPSHOT_BASE_TIMEOUT: Duration = Duration::from_secs(10);

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
            Ok(endpoint) => RaftServiceClient::new(endpoint.connect_timeout(Duration::from_millis(500)).tcp_nodelay(true).connect_lazy())
                .max_decoding_message_size(MAX_PEER_MESSAGE)
                .max_encoding_message_size(MAX_PEER_MESSAGE),
            Err(err) => {
                tracing::error!(to = self.to, addr = %self.addr, %err, "bad replica address; messages to it are dropped");
                return;
            }
        };
        let mut client: RaftServiceClient<Channel> = client;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // The peer's last refusal (another cluster, say), logged once rather than per call.
        let mut refused: Option<String> = None;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                received = queue.recv_many(&mut batch, MAX_BATCH) => if received == 0 { return },
            }
            for call in calls(batch.drain(..)) {
                let cluster_id = self.cluster_id.load(Ordering::Relaxed);
                let (result, snapshot_to) = match call {
                    Call::Step(messages) => {
                        let mut request = tonic::Request::new(RaftBatch { from: self.from, messages, from_addr: self.from_addr.clone(), cluster_id });
                        request.set_timeout(STEP_TIMEOUT);
                        (within(STEP_TIMEOUT, client.step(request)).await, None)
                    }
                    Call::Snapshot { to, encoded } => {
                        let header = SnapshotHeader { from: self.from, from_addr: self.from_addr.clone(), cluster_id, total_bytes: 0 };
                        let timeout = SNAPSHOT_BASE_TIMEOUT + Duration::from_secs((encoded.len() >> 23) as u64);
                        let mut request = tonic::Request::new(tokio_stream::iter(snapshot_stream::pieces(header, &encoded)));
                        request.set_timeout(timeout);
                        (within(timeout, client.send_snapshot(request)).await, Some(to))
                    }
                    Call::DroppedSnapshot { to } => {
                        let _ = self.reports.send(Delivery::Snapshot { to, delivered: false });
                        continue;
                    }
                };
                match &result {
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
                    Ok(()) => refused = None,
                }
                if let Some(to) = snapshot_to {
                    let _ = self.reports.send(Delivery::Snapshot { to, delivered: result.is_ok() });
                }
            }
        }
    }
}

/// A call's outcome, or `DEADLINE_EXCEEDED` once `limit` passes: the peer enforces the
/// request's `grpc-timeout` too, but a peer that stopped answering (a black-holed link) must
/// not hold this sender, and so every later message to it, forever.
async fn within<T>(limit: Duration, call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<(), tonic::Status> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map(drop),
        Err(_) => Err(tonic::Status::deadline_exceeded(format!("no answer within {limit:?}"))),
    }
}

/// One call to the peer, in the order of the messages it carries.
#[derive(Debug, PartialEq)]
enum Call {
    /// Encoded messages in one `Step` call.
    Step(Vec<Vec<u8>>),
    /// An encoded snapshot message, streamed.
    Snapshot { to: u64, encoded: Vec<u8> },
    /// A snapshot larger than any replica accepts: reported as failed (raft-rs tries again).
    DroppedSnapshot { to: u64 },
}

/// The messages encoded and turned into calls, in order: runs of non-snapshot messages in
/// `Step` calls of at most [`MAX_BATCH_BYTES`] each (a larger message, up to
/// [`MAX_PEER_MESSAGE`], alone; beyond it dropped with an error), each snapshot a call of
/// its own.
fn calls(messages: impl Iterator<Item = Message>) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let Ok(encoded) = message.write_to_bytes() else { continue };
        if message.get_msg_type() == MessageType::MsgSnapshot {
            if encoded.len() as u64 > snapshot_stream::MAX_SNAPSHOT_BYTES {
                tracing::error!(to = message.to, bytes = encoded.len(), limit = snapshot_stream::MAX_SNAPSHOT_BYTES, "a snapshot is larger than a peer accepts; dropped");
                calls.push(Call::DroppedSnapshot { to: message.to });
            } else {
                calls.push(Call::Snapshot { to: message.to, encoded });
            }
            continue;
        }
        if encoded.len() > MAX_PEER_MESSAGE {
            tracing::error!(to = message.to, kind = ?message.get_msg_type(), bytes = encoded.len(), limit = MAX_PEER_MESSAGE, "a raft message is larger than a peer accepts; dropped");
            continue;
        }
        let length = encoded.len();
        match calls.last_mut() {
            Some(Call::Step(batch)) if bytes + length <= MAX_BATCH_BYTES => batch.push(encoded),
            _ => {
                bytes = 0;
                calls.push(Call::Step(vec![encoded]));
            }
        }
        bytes += length;
    }
    calls
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

    fn snapshot_to(to: u64, bytes: usize) -> Message {
        let mut snapshot = Message::default();
        snapshot.set_msg_type(MessageType::MsgSnapshot);
        snapshot.to = to;
        snapshot.mut_snapshot().data = vec![1; bytes].into();
        snapshot
    }

    fn shape(calls: &[Call]) -> Vec<String> {
        calls
            .iter()
            .map(|call| match call {
                Call::Step(messages) => format!("step×{}", messages.len()),
                Call::Snapshot { to, .. } => format!("snapshot→{to}"),
                Call::DroppedSnapshot { to } => format!("dropped→{to}"),
            })
            .collect()
    }

    #[test]
    fn step_calls_stay_under_the_byte_bound_and_keep_every_message_in_order() {
        let messages: Vec<Message> = (0..10).map(|_| append_of(5 << 20)).collect();
        let calls = calls(messages.into_iter());
        assert_eq!(shape(&calls), ["step×3", "step×3", "step×3", "step×1"]);
        assert!(calls.iter().all(|call| matches!(call, Call::Step(batch) if batch.iter().map(Vec::len).sum::<usize>() <= MAX_BATCH_BYTES)));
    }

    #[test]
    fn a_snapshot_is_streamed_alone_in_its_place_whatever_its_size_and_an_oversize_append_is_dropped() {
        let messages = vec![
            append_of(10),
            snapshot_to(3, MAX_PEER_MESSAGE + 1),
            append_of(MAX_PEER_MESSAGE + 1),
            append_of(10),
            append_of(10),
        ];
        let calls = calls(messages.into_iter());
        assert_eq!(shape(&calls), ["step×1", "snapshot→3", "step×2"]);
        let Call::Snapshot { encoded, .. } = &calls[1] else { unreachable!() };
        assert_eq!(Message::parse_from_bytes(encoded).unwrap().get_snapshot().get_data().len(), MAX_PEER_MESSAGE + 1);
    }
}
