//! `AdminService` on every replica: `ClusterStatus` answered by the replica asked (it is
//! that replica's view); every other call by the leader, relayed from a follower.

use shotfarm_proto::v1::{self, admin_service_client::AdminServiceClient, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::front::{Front, front_service};
use crate::service::admin::Admin;

pub struct AdminFront {
    pub local: Admin,
    pub front: Front,
}

front_service!(AdminService, AdminFront, AdminServiceClient, [
    add_replica(v1::AddReplicaRequest) -> v1::MembershipResponse,
    remove_replica(v1::RemoveReplicaRequest) -> v1::MembershipResponse,
    list_nodes(v1::ListNodesRequest) -> v1::ListNodesResponse,
    cordon_node(v1::NodeRequest) -> v1::Node,
    drain_node(v1::NodeRequest) -> v1::Node,
    uncordon_node(v1::NodeRequest) -> v1::Node,
    create_token(v1::CreateTokenRequest) -> v1::CreateTokenResponse,
    list_tokens(v1::ListTokensRequest) -> v1::ListTokensResponse,
    revoke_token(v1::RevokeTokenRequest) -> v1::RevokeTokenResponse,
    revoke_certificate(v1::RevokeCertificateRequest) -> v1::RevokedCertificate,
    list_revoked_certificates(v1::ListRevokedCertificatesRequest) -> v1::ListRevokedCertificatesResponse,
]
    /// This replica's own view of the cluster: never relayed.
    async fn cluster_status(&self, request: Request<v1::ClusterStatusRequest>) -> Result<Response<v1::ClusterStatusResponse>, Status> {
        self.local.cluster_status(request).await
    }
);
