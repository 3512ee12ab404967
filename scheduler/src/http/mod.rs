//! The replica's HTTP listener (`--http-listen`): the routes an operator (or Prometheus)
//! reaches over HTTP, behind the API's authentication. The listener itself — TLS with the
//! replica's certificate, or plaintext on an `--insecure` farm — is
//! `shotfarm_security::https`.
//!
//! | module | what |
//! | --- | --- |
//! | [`access`] | who may use the listener: operators and replicas (certificate), operators (bearer token or the dashboard's cookie) |
//! | [`metrics_route`] | `GET /metrics`: the replica's registry in the OpenMetrics text format |
//! | [`dashboard`] | `/`: the web dashboard, and its JSON API under `/api/` |

pub mod access;
pub mod dashboard;
pub mod metrics_route;

use std::sync::Arc;

use axum::Router;
use tokio::sync::Semaphore;
use shotfarm_proto::storage::StorageRoots;
use axum::routing::get;

use self::dashboard::sessions::Sessions;
use crate::metrics::ReplicaMetrics;
use crate::replica_node::DriverHandle;
use crate::service::forward::admin::AdminFront;
use crate::service::forward::jobs::JobsFront;

/// What the routes read.
#[derive(Clone)]
pub struct HttpContext {
    pub driver: DriverHandle,
    pub metrics: Arc<ReplicaMetrics>,
    /// The API's services as gRPC callers reach them (answered here or by the leader).
    pub admin: Arc<AdminFront>,
    pub jobs: Arc<JobsFront>,
    /// The replica's output roots: where it may read a job's report page from.
    pub output_roots: StorageRoots,
    /// The dashboard's sign-in sessions on this replica.
    pub sessions: Arc<Sessions>,
    /// The dashboard's live event streams open at once (`dashboard::api::MAX_EVENT_STREAMS`).
    pub event_streams: Arc<Semaphore>,
    /// False on an `--insecure` farm: every request is admitted.
    pub authenticate: bool,
}

/// Every route of the listener: the page and signing in open, the rest behind
/// [`access::require_operator`]; anything but a read needs the dashboard's header; an
/// `--insecure` farm answers only its address or localhost ([`access::require_address_host`]).
pub fn router(context: HttpContext) -> Router {
    let admitted = Router::new()
        .route("/metrics", get(metrics_route::metrics))
        .merge(dashboard::api_routes())
        .route_layer(axum::middleware::from_fn_with_state(context.clone(), access::require_operator));
    Router::new()
        .merge(admitted)
        .merge(dashboard::public_routes())
        .layer(axum::middleware::from_fn(dashboard::session::require_dashboard_header))
        .layer(axum::middleware::from_fn_with_state(context.clone(), access::require_address_host))
        .with_state(context)
}
