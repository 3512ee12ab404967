//! Who may use the HTTP listener: what the API's `AdminService` admits — an operator's
//! certificate or bearer token — and the farm's replicas (their certificate), so a replica
//! may scrape its peers. A browser presents the operator's token as the dashboard's session
//! cookie ([`super::dashboard::session`]). A refusal is `401` (nothing presented, an unknown or
//! revoked credential) or `403` (another role), with a body that says what to present.
//!
//! The dashboard then calls the API's services in process with the same credentials
//! ([`Presented`]), which the services check again as they check any caller's.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shotfarm_security::https::PeerCertificate;
use shotfarm_security::{Identity, Role, token};

use super::HttpContext;
use super::dashboard::session;
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
    match caller(&context, certificate.as_deref(), request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// The credentials a request presented (its TLS client certificate, its bearer token or
/// session cookie), for the in-process calls made on its behalf.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    pub certificate: Option<Vec<u8>>,
    pub token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Presented, Infallible> {
        Ok(Presented {
            certificate: parts.extensions.get::<PeerCertificate>().map(|peer| peer.0.clone()),
            token: presented_token(&parts.headers).ok().flatten().map(str::to_owned),
        })
    }
}

/// The caller presenting `certificate` and `headers` if the listener admits it, or the refusal.
async fn caller(context: &HttpContext, certificate: Option<&[u8]>, headers: &HeaderMap) -> Result<Identity, Response> {
    match identify(&context.driver, certificate, presented_token(headers)).await {
        Ok(identity) if ADMITTED.contains(&identity.role) => Ok(identity),
        Ok(identity) => Err(refusal(StatusCode::FORBIDDEN, format!("this listener is for operators and replicas; this caller is {identity}"))),
        Err(ServiceError::Unauthenticated(why)) => Err(refusal(StatusCode::UNAUTHORIZED, why)),
        Err(other) => Err(refusal(StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the credentials now: {other}; retry"))),
    }
}

/// The token presented: the `authorization: Bearer` header's, else the session cookie's.
fn presented_token(headers: &HeaderMap) -> Result<Option<&str>, token::TokenError> {
    match headers.get(header::AUTHORIZATION) {
        Some(value) => token::from_authorization(value.to_str().map_err(|_| token::TokenError::NotBearer)?).map(Some),
        None => session::token_of(headers),
    }
}

pub fn refusal(status: StatusCode, why: String) -> Response {
    let mut response = (status, format!("{why}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}
