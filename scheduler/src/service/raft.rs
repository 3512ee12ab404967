//! `RaftService`: raft-rs messages from peer replicas, handed to the driver. Replicas only,
//! each speaking for itself (a batch's sender is the replica id its certificate names), and
//! only once their batch carries this replica's cluster id.

use protobuf::Message as _;
use raft::prelude::Message;
use shotfarm_proto::v1::{self, raft_service_server::RaftService};
use tonic::{Request, Response, Status};

use super::access::Gate;
use super::status::{ServiceError, invalid};
use crate::consensus::cluster_id;
use crate::replica_node::DriverHandle;

pub struct RaftPeer {
    pub driver: DriverHandle,
    pub gate: Gate,
}

#[tonic::async_trait]
impl RaftService for RaftPeer {
    async fn step(&self, request: Request<v1::RaftBatch>) -> Result<Response<v1::RaftAck>, Status> {
        let caller = self.gate.admit(&request, "RaftService", &[shotfarm_security::Role::Replica]).await?;
        let batch = request.into_inner();
        if let Some(certified) = caller.replica_id()
            && certified != batch.from
        {
            return Err(ServiceError::Forbidden(format!("this certificate is replica {certified}'s; it may not send for replica {}", batch.from)).into());
        }
        let info = self.driver.info();
        let me = info.id;
        if let Err(mismatch) = cluster_id::check(batch.from, batch.cluster_id, info.cluster_id) {
            tracing::error!(from = batch.from, from_addr = %batch.from_addr, %mismatch, "raft messages from another cluster refused");
            return Err(ServiceError::OtherCluster(mismatch).into());
        }
        let mut messages = Vec::with_capacity(batch.messages.len());
        for bytes in &batch.messages {
            let message = Message::parse_from_bytes(bytes).map_err(|err| invalid("messages", format!("not a raft message: {err}")))?;
            if message.from != batch.from || message.to != me {
                return Err(invalid("messages", format!("message from {} to {} in a batch from {} to replica {me}", message.from, message.to, batch.from)));
            }
            messages.push(message);
        }
        let sender = (!batch.from_addr.is_empty()).then(|| (batch.from, batch.from_addr.clone()));
        self.driver.step(messages, sender)?;
        Ok(Response::new(v1::RaftAck {}))
    }
}
