//! `GET /metrics` of an agent (`--metrics-listen`), on the farm's TLS
//! (`shotfarm_security::https`) or plaintext on an `--insecure` farm. An agent holds no copy of
//! the farm's token table, so on a secure farm only a client certificate from the farm CA of
//! an operator or a replica is admitted (`401` without one, `403` for another role); an
//! operator with a token scrapes the replicas instead.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shotfarm_security::https::{HttpsListener, OPENMETRICS_TEXT, PeerCertificate};
use shotfarm_security::{Identity, Role, TransportSecurity};
use tokio_util::sync::CancellationToken;

use super::AgentMetrics;

#[derive(Clone)]
struct ListenerContext {
    metrics: Arc<AgentMetrics>,
    /// False on an `--insecure` farm: every request is admitted.
    authenticate: bool,
}

/// Serves the agent's metrics on `listener` until `shutdown` fires.
pub async fn serve(listener: HttpsListener, metrics: Arc<AgentMetrics>, security: TransportSecurity, shutdown: CancellationToken) {
    let context = ListenerContext { metrics, authenticate: matches!(security, TransportSecurity::Tls(_)) };
    let router = Router::new()
        .route("/metrics", get(encode))
        .route_layer(axum::middleware::from_fn_with_state(context.clone(), require_certificate))
        .with_state(context);
    listener.serve(router, shutdown).await;
}

async fn encode(State(context): State<ListenerContext>) -> Response {
    match context.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS_TEXT)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be encoded\n").into_response(),
    }
}

async fn require_certificate(State(context): State<ListenerContext>, request: Request, next: Next) -> Response {
    if !context.authenticate {
        return next.run(request).await;
    }
    let identity = request.extensions().get::<PeerCertificate>().map(|peer| Identity::from_certificate(&peer.0));
    match identity {
        Some(Ok(identity)) if matches!(identity.role, Role::Operator | Role::Replica) => next.run(request).await,
        Some(Ok(identity)) => {
            (StatusCode::FORBIDDEN, format!("an agent's metrics are for operators and replicas; this caller is {identity}\n")).into_response()
        }
        Some(Err(err)) => (StatusCode::UNAUTHORIZED, format!("the client certificate: {err}\n")).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            "an agent's metrics need a client certificate from the farm CA of an operator or a replica \
             (`shotfarm certs issue --role operator`); bearer tokens are checked by the replicas only\n",
        )
            .into_response(),
    }
}
