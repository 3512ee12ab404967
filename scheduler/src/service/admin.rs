//! `AdminService`: cluster status and membership, node lifecycle, bearer tokens. Operators only.

use shotfarm_proto::v1::{self, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::access::{Caller, Gate};
use super::{certificates, convert, tokens};
use super::status::{ServiceError, invalid, unwanted};
use crate::consensus::MembershipChange;
use crate::consensus::member_addr::check_member_addr;
use crate::machine::{Command, Outcome, Refusal};
use crate::replica_node::clock::now_ms;
use crate::replica_node::{DriverHandle, ReplicaInfo, Role};
use crate::state::model::NodeState;
use crate::state::State;

/// The roles `AdminService` admits.
pub const ADMIN_ROLES: &[shotfarm_security::Role] = &[shotfarm_security::Role::Operator];

pub struct Admin {
    pub driver: DriverHandle,
    pub gate: Gate,
}

fn members(info: &ReplicaInfo) -> Vec<v1::Member> {
    info.members
        .iter()
        .map(|member| v1::Member {
            id: member.id,
            addr: member.addr.clone(),
            role: member_role(info, member.id).map_or("unknown", Role::as_str).to_owned(),
            matched_index: member.matched,
            membership: if member.learner { "learner" } else { "voter" }.to_owned(),
        })
        .collect()
}

/// A member's role as this replica knows it: its own, the leader's, and — on the leader —
/// every other member's; `None` where a follower cannot tell.
fn member_role(info: &ReplicaInfo, id: u64) -> Option<Role> {
    if id == info.id {
        Some(info.role)
    } else if id == info.leader_id {
        Some(Role::Leader)
    } else if info.is_leader() {
        Some(Role::Follower)
    } else {
        None
    }
}

/// A node named by id ("7") or by name.
fn resolve_node(state: &State, node: &str) -> Option<u64> {
    node.parse::<u64>().ok().filter(|id| state.nodes.contains_key(id)).or_else(|| state.node_by_name(node))
}

impl Admin {
    async fn operator<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.gate.admit(request, "AdminService", ADMIN_ROLES).await
    }

    async fn set_node_state(&self, request: v1::NodeRequest, wanted: NodeState) -> Result<Response<v1::Node>, Status> {
        if request.node.is_empty() {
            return Err(invalid("node", "is empty; give a node id or name (see `shotfarm nodes`)"));
        }
        self.driver.leader_only()?;
        let name = request.node.clone();
        let id = self
            .driver
            .read(move |state| resolve_node(state, &name))
            .await?
            .ok_or(ServiceError::NoNodeNamed(request.node))?;
        match self.driver.propose_one(Command::SetNodeState { node: id, state: wanted, now_ms: now_ms() }).await? {
            Outcome::NodeUpdated { .. } => {}
            other => return Err(unwanted(other)),
        }
        let agents = self.driver.agents().clone();
        let node = self.driver.read(move |state| state.nodes.get(&id).map(|node| convert::node(node, &agents))).await?;
        node.map(Response::new).ok_or_else(|| Refusal::UnknownNode(id).into())
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn cluster_status(&self, request: Request<v1::ClusterStatusRequest>) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        self.operator(&request).await?;
        let info = self.driver.info();
        Ok(Response::new(v1::ClusterStatusResponse {
            id: info.id,
            role: info.role.as_str().to_owned(),
            leader_id: info.leader_id,
            leader_addr: info.leader_addr.clone().unwrap_or_default(),
            term: info.term,
            commit_index: info.commit_index,
            applied_index: info.applied_index,
            members: members(&info),
            snapshot_index: info.snapshot_index,
            first_log_index: info.first_log_index,
            cluster_id: info.cluster_id,
            last_index: info.last_index,
        }))
    }

    async fn add_replica(&self, request: Request<v1::AddReplicaRequest>) -> Result<Response<v1::MembershipResponse>, Status> {
        self.operator(&request).await?;
        let request = request.into_inner();
        if request.id == 0 {
            return Err(invalid("id", "replica ids start at 1"));
        }
        check_member_addr(&request.addr).map_err(|why| invalid("addr", why))?;
        if self.driver.info().members.iter().any(|member| member.id == request.id) {
            return Err(ServiceError::AlreadyMember(request.id).into());
        }
        self.driver.change_membership(MembershipChange::AddLearner { id: request.id, addr: request.addr }).await?;
        Ok(Response::new(v1::MembershipResponse { members: members(&self.driver.info()) }))
    }

    async fn remove_replica(&self, request: Request<v1::RemoveReplicaRequest>) -> Result<Response<v1::MembershipResponse>, Status> {
        self.operator(&request).await?;
        let request = request.into_inner();
        if !self.driver.info().members.iter().any(|member| member.id == request.id) {
            return Err(ServiceError::NotMember(request.id).into());
        }
        self.driver.change_membership(MembershipChange::Remove { id: request.id }).await?;
        Ok(Response::new(v1::MembershipResponse { members: members(&self.driver.info()) }))
    }

    async fn list_nodes(&self, request: Request<v1::ListNodesRequest>) -> Result<Response<v1::ListNodesResponse>, Status> {
        self.operator(&request).await?;
        self.driver.leader_only()?;
        let agents = self.driver.agents().clone();
        let nodes = self.driver.read(move |state| state.nodes.values().map(|node| convert::node(node, &agents)).collect()).await?;
        Ok(Response::new(v1::ListNodesResponse { nodes }))
    }

    async fn cordon_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.operator(&request).await?;
        self.set_node_state(request.into_inner(), NodeState::Cordoned).await
    }

    async fn drain_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.operator(&request).await?;
        self.set_node_state(request.into_inner(), NodeState::Draining).await
    }

    async fn uncordon_node(&self, request: Request<v1::NodeRequest>) -> Result<Response<v1::Node>, Status> {
        self.operator(&request).await?;
        self.set_node_state(request.into_inner(), NodeState::Ready).await
    }

    async fn create_token(&self, request: Request<v1::CreateTokenRequest>) -> Result<Response<v1::CreateTokenResponse>, Status> {
        self.operator(&request).await?;
        tokens::create(&self.driver, request.into_inner()).await.map(Response::new)
    }

    async fn list_tokens(&self, request: Request<v1::ListTokensRequest>) -> Result<Response<v1::ListTokensResponse>, Status> {
        self.operator(&request).await?;
        tokens::list(&self.driver).await.map(Response::new)
    }

    async fn revoke_token(&self, request: Request<v1::RevokeTokenRequest>) -> Result<Response<v1::RevokeTokenResponse>, Status> {
        self.operator(&request).await?;
        tokens::revoke(&self.driver, request.into_inner()).await.map(Response::new)
    }

    async fn revoke_certificate(&self, request: Request<v1::RevokeCertificateRequest>) -> Result<Response<v1::RevokedCertificate>, Status> {
        self.operator(&request).await?;
        certificates::revoke(&self.driver, request.into_inner()).await.map(Response::new)
    }

    async fn list_revoked_certificates(&self, request: Request<v1::ListRevokedCertificatesRequest>) -> Result<Response<v1::ListRevokedCertificatesResponse>, Status> {
        self.operator(&request).await?;
        certificates::list(&self.driver).await.map(Response::new)
    }
}
