//! One service's front door on a replica: a call is answered here or relayed to the leader,
//! the caller admitted first either way (by the local service, or here before relaying).

use std::future::Future;
use std::time::Duration;

use shotfarm_proto::client::FarmChannel;
use shotfarm_security::Role;
use tonic::{Request, Response, Status};

use super::deadline::UNARY_BOUND;
use super::leader_link::{LeaderLink, Route};
use super::relayed_request::{leader_answer, relayed_request};
use crate::replica_node::DriverError;
use crate::service::access::Gate;
use crate::service::status::RELAY_REFUSED;

pub struct Front {
    pub link: LeaderLink,
    pub gate: Gate,
    /// The service's name and the roles it admits, as the local service admits them.
    pub service: &'static str,
    pub roles: &'static [Role],
}

impl Front {
    /// A unary call: `here` answers it on this replica, `at_leader` sends it to the leader.
    pub async fn unary<Req, Resp, Here, AtLeader>(
        &self,
        request: Request<Req>,
        here: impl FnOnce(Request<Req>) -> Here,
        at_leader: impl FnOnce(FarmChannel, Request<Req>) -> AtLeader,
    ) -> Result<Response<Resp>, Status>
    where
        Here: Future<Output = Result<Response<Resp>, Status>>,
        AtLeader: Future<Output = Result<Response<Resp>, Status>>,
    {
        match self.link.route(request.metadata())? {
            Route::Here => here(request).await,
            Route::Leader { leader_id, leader_addr, channel } => {
                let (request, deadline) = self.admit_and_relay(request, Some(UNARY_BOUND)).await?;
                match leader_answer(leader_id, deadline, at_leader(channel, request)).await {
                    // The leader no longer counts this replica a member (it was removed and
                    // runs on): the caller is told where the leader is, as before relaying.
                    Err(status) if status.metadata().contains_key(RELAY_REFUSED) => Err(DriverError::NotLeader { leader: Some((leader_id, leader_addr)) }.into()),
                    answer => answer,
                }
            }
        }
    }

    /// The caller admitted here (authenticated, its role and request rate checked, as the
    /// local service would), and the request as relayed to the leader with its deadline.
    pub async fn admit_and_relay<Req>(&self, request: Request<Req>, bound: Option<Duration>) -> Result<(Request<Req>, Option<Duration>), Status> {
        let caller = self.gate.admit(&request, self.service, self.roles).await?;
        relayed_request(request, &caller, self.link.driver().info().id, bound)
    }
}

/// A front service's impl of `$service` for `$front` (a struct with `local` and `front`):
/// each listed unary method answered by `local` here or by the leader through `$client`;
/// the items after them as written. (The impl is generated whole so that `async_trait` sees
/// the methods.)
macro_rules! front_service {
    ($service:path, $front:ty, $client:ident, [$( $method:ident($request:ty) -> $response:ty ),* $(,)?] $($rest:tt)*) => {
        #[tonic::async_trait]
        impl $service for $front {
            $(
                async fn $method(&self, request: tonic::Request<$request>) -> Result<tonic::Response<$response>, tonic::Status> {
                    self.front.unary(request, |request| self.local.$method(request), |channel, request| async move { $client::new(channel).$method(request).await }).await
                }
            )*
            $($rest)*
        }
    };
}
pub(crate) use front_service;
