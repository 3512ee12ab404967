//! Who may use the HTTP listener: what the API's `AdminService` admits — an operator's
//! certificate or bearer token — and the farm's replicas (their certificate), so a replica
//! may scrape its peers. A refusal is `401` (nothing presented, an unknown or revoked
//! credential) or `403` (another role), with a body that says what to present.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shotfarm_security::https::PeerCertificate;
use shotfarm_security::{Role, token};

use super::HttpContext;
use crate::service::access::identify;
use crate::service::status::ServiceError;

/// The roles the listener admits.
const ADMITTED: [Role; 2] = [Role::Operator, Role::Replica];

/// Middleware: passes the request on when its caller may use the listener.
pub async fn require_operator(State(context): State<HttpContext>, request: Request, next: Next) -> Response {
    if !context.authenticate {
        return next.run(request).await;
    }
    let certificate = request.extensions().get::<PeerCertificate>().map(|peer| peer.0.clone());
    let bearer = bearer_token(request.headers());
    match identify(&context.driver, certificate.as_deref(), bearer).await {
        Ok(identity) if ADMITTED.contains(&identity.role) => next.run(request).await,
        Ok(identity) => refusal(StatusCode::FORBIDDEN, format!("this listener is for operators and replicas; this caller is {identity}")),
        Err(ServiceError::Unauthenticated(why)) => refusal(StatusCode::UNAUTHORIZED, why),
        Err(other) => refusal(StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the credentials now: {other}; retry")),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, token::TokenError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => token::from_authorization(value.to_str().map_err(|_| token::TokenError::NotBearer)?).map(Some),
    }
}

fn refusal(status: StatusCode, why: String) -> Response {
    let mut response = (status, format!("{why}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}
