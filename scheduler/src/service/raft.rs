//! `RaftService`: raft-rs messages from peer replicas, handed to the driver — in batches
//! (`Step`) or, for a snapshot, streamed in pieces (`SendSnapshot`). Replicas only, each
//! speaking for itself (the sender is the replica id its certificate names), and only once
//! it carries this replica's cluster id.

use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use shotfarm_proto::v1::{self, raft_service_server::RaftService};
use tonic::{Request, Response, Status, Streaming};

use super::access::{Caller, Gate};
use super::status::{ServiceError, invalid};
use crate::consensus::cluster_id;
use crate::replica_node::DriverHandle;
use crate::replica_node::snapshot_stream::Reassembly;

pub struct RaftPeer {
    pub driver: DriverHandle,
    pub gate: Gate,
}

impl RaftPeer {
    /// The sender may speak as `from` (its certificate names it) and belongs to this cluster.
    fn check_sender(&self, caller: &Caller, from: u64, from_addr: &str, their_cluster: u64) -> Result<(), Status> {
        if let Some(certified) = caller.replica_id()
            && certified != from
        {
            return Err(ServiceError::Forbidden(format!("this certificate is replica {certified}'s; it may not send for replica {from}")).into());
        }
        if let Err(mismatch) = cluster_id::check(from, their_cluster, self.driver.info().cluster_id) {
            tracing::error!(from, from_addr, %mismatch, "raft messages from another cluster refused");
            return Err(ServiceError::OtherCluster(mismatch).into());
        }
        Ok(())
    }

    /// `bytes` parsed as a raft message from `from` to this replica (`me`).
    fn parse(bytes: &[u8], from: u64, me: u64) -> Result<Message, Status> {
        let message = Message::parse_from_bytes(bytes).map_err(|err| invalid("messages", format!("not a raft message: {err}")))?;
        if message.from != from || message.to != me {
            return Err(invalid("messages", format!("message from {} to {} in a batch from {from} to replica {me}", message.from, message.to)));
        }
        Ok(message)
    }

    fn hand_over(&self, messages: Vec<Message>, from: u64, from_addr: String) -> Result<Response<v1::RaftAck>, Status> {
        let sender = (!from_addr.is_empty()).then_some((from, from_addr));
        self.driver.step(messages, sender)?;
        Ok(Response::new(v1::RaftAck {}))
    }
}

#[tonic::async_trait]
impl RaftService for RaftPeer {
    async fn step(&self, request: Request<v1::RaftBatch>) -> Result<Response<v1::RaftAck>, Status> {
        let caller = self.gate.admit(&request, "RaftService", &[shotfarm_security::Role::Replica]).await?;
        let batch = request.into_inner();
        self.check_sender(&caller, batch.from, &batch.from_addr, batch.cluster_id)?;
        let me = self.driver.info().id;
        let messages = batch.messages.iter().map(|bytes| Self::parse(bytes, batch.from, me)).collect::<Result<Vec<_>, _>>()?;
        self.hand_over(messages, batch.from, batch.from_addr)
    }

    async fn send_snapshot(&self, request: Request<Streaming<v1::SnapshotPiece>>) -> Result<Response<v1::RaftAck>, Status> {
        let caller = self.gate.admit(&request, "RaftService", &[shotfarm_security::Role::Replica]).await?;
        let mut pieces = request.into_inner();
        let mut reassembly = Reassembly::default();
        let mut checked = false;
        while let Some(piece) = pieces.message().await? {
            if !checked && let Some(header) = &piece.header {
                // Before buffering anything: who sends, for which cluster.
                self.check_sender(&caller, header.from, &header.from_addr, header.cluster_id)?;
                checked = true;
            }
            reassembly.push(piece).map_err(|err| invalid("pieces", err.to_string()))?;
        }
        let (header, bytes) = reassembly.finish().map_err(|err| invalid("pieces", err.to_string()))?;
        let message = Self::parse(&bytes, header.from, self.driver.info().id)?;
        if message.get_msg_type() != MessageType::MsgSnapshot {
            return Err(invalid("pieces", format!("a streamed message must be a snapshot, not {:?}", message.get_msg_type())));
        }
        self.hand_over(vec![message], header.from, header.from_addr)
    }
}
