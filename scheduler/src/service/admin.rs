//! `AdminService`: cluster status and membership, node lifecycle.

use std::time::Instant;

use shotfarm_proto::v1::{self, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::convert;
use super::status::{from_driver, from_refusal, invalid};
use crate::machine::{Command, Outcome, Refusal};
use crate::replica_node::driver::now_ms;
use crate::replica_node::{DriverError, DriverHandle, ReplicaInfo};
use crate::state::model::NodeState;
use crate::state::State;

pub struct Admin {
    pub driver: DriverHandle,
}

fn members(info: &ReplicaInfo) -> Vec<v1::Member> {
    info.members
        .iter()
        .map(|(id, addr)| v1::Member {
            id: *id,
            addr: addr.clone(),
            role: if *id == info.id {
                info.role.clone()
            } else if *id == info.leader_id {
                "leader".to_owned()
            } else if info.is_leader() {
                "follower".to_owned()
            } else {
                "unknown".to_owned()
            },
            matched_index: info.progress.iter().find(|(member, _)| member == id).map_or(0, |(_, matched)| *matched),
        })
        .collect()
}

fn leader_only(driver: &DriverHandle) -> Result<(), Status> {
    let info = driver.info();
    if info.is_leader() { Ok(()) } else { Err(from_driver(DriverError::NotLeader { leader: info.leader_hint() })) }
}

/// A node named by id ("7") or by name.
fn resolve_node(state: &State, node: &str) -> Option<u64> {
    node.parse::<u64>().ok().filter(|id| state.nodes.contains_key(id)).or_else(|| state.meta.node_names.get(node).copied())
}

impl Admin {
    async fn set_node_state(&self, request: v1::NodeRequest, wanted: NodeState) -> Result<Response<v1::Node>, Status> {
        if request.node.is_empty() {
            return Err(invalid("node", "is empty; give a node id or name (see `shotfarm nodes`)"));
        }
        leader_only(&self.driver)?;
        let name = request.node.clone();
        let id = self
            .driver
            .read(move |state| resolve_node(state, &name))
            .await
            .map_err(from_driver)?
            .ok_or_else(|| Status::not_found(format!("no node {:?}; see `shotfarm nodes`", request.node)))?;
        match self.driver.propose_one(Command::SetNodeState { node: id, state: wanted, now_ms: now_ms() }).await.map_err(from_driver)? {
            Outcome::NodeUpdated { .. } => {}
            Outcome::Refused(refusal) => return Err(from_refusal(refusal)),
            other => return Err(Status::internal(format!("unexpected outcome {other:?}"))),
        }
        let node = self.driver.read(move |state| state.nodes.get(&id).map(|node| convert::node(node, 0))).await.map_err(from_driver)?;
        node.map(Response::new).ok_or_else(|| from_refusal(Refusal::UnknownNode(id)))
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn cluster_status(&self, _request: Request<v1::ClusterStatusRequest>) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        let info = self.driver.info();
        Ok(Response::new(v1::ClusterStatusResponse {
            id: info.id,
            role: info.role.clone(),
            leader_id: info.leader_id,
            leader_addr: info.leader_addr.clone().unwrap_or_default(),
            term: info.term,
            commit_index: info.commit_index,
            applied_index: info.applied_index,
            members: members(&info),
            snapshot_index: info.snapshot_index,
            first_log_index: info.first_log_index,
        }))
    }

    async fn add_replica(&self, request: Request<v1::AddReplicaRequest>) -> Result<Response<v1::MembershipResponse>, Status> {
        let request = request.into_inner();
        if request.id == 0 {
            return Err(invalid("id", "replica ids start at 1"));
        }
        if request.addr.parse::<std::net::SocketAddr>().is_err() && !request.addr.contains(':') {
            return Err(invalid("addr", format!("{:?} is not HOST:PORT", request.addr)));
        }
        if self.driver.info().members.iter().any(|(id, _)| *id == request.id) {
            return Err(Status::already_exists(format!("replica {} is already a member", request.id)));
        }
        self.driver.change_membership(request.id, Some(request.addr)).await.map_err(from_driver)?;
        Ok(Response::new(v1::MembershipResponse { members: members(&self.driver.info()) }))
    }

    async fn remove_replica(&self, request: Request<v1::RemoveReplicaRequest>) -> Result<Response<v1::MembershipResponse>, Status> {
        let request = request.into_inner();
        let info = self.driver.info();
        if !info.members.iter().any(|(id, _)| *id == request.id) {
            return Err(Status::not_found(format!("replica {} is not a member", request.id)));
        }
        if info.members.len() == 1 {
            return Err(Status::failed_precondition("cannot remove the last replica"));
        }
        self.driver.change_membership(request.id, None).await.map_err(from_driver)?;
        Ok(Response::new(v1::MembershipResponse { members: members(&self.driver.info()) }))
    }

    async fn list_nodes(&self, _request: Request<v1::ListNodesRequest>) -> Result<Response<v1::ListNodesResponse>, Status> {
        leader_only(&self.driver)?;
        let liveness = self.driver.liveness.clone();
        let nodes = self
            .driver
            .read(move |state| {
                let liveness = liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                let now_ms = now_ms();
                state
                    .nodes
                    .values()
                    .map(|node| {
                        let seen = liveness.last_heartbeat(node.id).map_or(0, |at| now_ms.saturating_sub(now.duration_since(at).as_millis() as u64));
                        convert::node(node, seen)
                    })
                    .collect()
            })
            .await
            .map_err(from_driver)?;
        Ok(Response::new(v1::ListNodesResponse { nodes }))
    }

    async fn cordon_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.set_node_state(request.into_inner(), NodeState::Cordoned).await
    }

    async fn drain_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.set_node_state(request.into_inner(), NodeState::Draining).await
    }

    async fn uncordon_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.set_node_state(request.into_inner(), NodeState::Ready).await
    }
}
