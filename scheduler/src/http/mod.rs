//! The replica's HTTP listener (`--http-listen`): the routes an operator (or Prometheus)
//! reaches over HTTP, behind the API's authentication. The listener itself — TLS with the
//! replica's certificate, or plaintext on an `--insecure` farm — is
//! `shotfarm_security::https`; the dashboard will add its routes here.
//!
//! | module | what |
//! | --- | --- |
//! | [`access`] | who may use the listener: operators and replicas (certificate), operators (bearer token) |
//! | [`metrics_route`] | `GET /metrics`: the replica's registry in the OpenMetrics text format |

pub mod access;
pub mod metrics_route;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::metrics::ReplicaMetrics;
use crate::replica_node::DriverHandle;

/// What the routes read.
#[derive(Clone)]
pub struct HttpContext {
    pub driver: DriverHandle,
    pub metrics: Arc<ReplicaMetrics>,
    /// False on an `--insecure` farm: every request is admitted.
    pub authenticate: bool,
}

/// Every route of the listener, each behind [`access::require_operator`].
pub fn router(context: HttpContext) -> Router {
    Router::new()
        .route("/metrics", get(metrics_route::metrics))
        .route_layer(axum::middleware::from_fn_with_state(context.clone(), access::require_operator))
        .with_state(context)
}
