//! Who may use the HTTP listener: what the API's `AdminService` admits — an operator's
//! certificate or bearer token — and the farm's replicas (their certificate), so a replica
//! may scrape its peers. A browser signed in to the dashboard presents its session cookie,
//! which stands for the operator token it signed in with ([`super::dashboard::session`]). A
//! refusal is `401` (nothing presented, an unknown or revoked credential) or `403` (another
//! role), with a body that says what to present.
//!
//! The dashboard then calls the API's services in process with the same credentials
//! ([`Presented`]), which the services check again as they check any caller's.

use std::time::Instant;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shotfarm_security::https::PeerCertificate;
use shotfarm_security::{Role, token};

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
    let presented = match Presented::of(&context, request.extensions(), request.headers()) {
        Ok(presented) => presented,
        Err(refused) => return refused.into_response(),
    };
    match identify(&context.driver, presented.certificate.as_deref(), Ok(presented.token.as_deref())).await {
        Ok(identity) if ADMITTED.contains(&identity.role) => next.run(request).await,
        Ok(identity) => refusal(StatusCode::FORBIDDEN, format!("this listener is for operators and replicas; this caller is {identity}")),
        Err(err) => unidentified(err),
    }
}

/// The answer to credentials `identify` did not accept: `401` with why, or `503` when they
/// could not be checked now.
pub fn unidentified(err: ServiceError) -> Response {
    match err {
        ServiceError::Unauthenticated(why) => refusal(StatusCode::UNAUTHORIZED, why),
        other => refusal(StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the credentials now: {other}; retry")),
    }
}

/// Middleware, on an `--insecure` farm (no authentication): refuses a request whose `Host` is
/// a name other than `localhost`. With no credentials to present, a page of any site could
/// otherwise reach the listener through a DNS name it points at this address (DNS
/// rebinding); an address literal or localhost is what a person on the farm's network types.
pub async fn require_address_host(State(context): State<HttpContext>, request: Request, next: Next) -> Response {
    if context.authenticate || request.headers().get(header::HOST).and_then(|host| host.to_str().ok()).is_some_and(is_address_or_localhost) {
        return next.run(request).await;
    }
    refusal(StatusCode::FORBIDDEN, "an --insecure farm answers only requests to its address or localhost, not to a DNS name; open it by its IP address".to_owned())
}

/// Whether a `Host` header names an IP address or localhost (with or without a port).
fn is_address_or_localhost(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => return bracketed.split_once(']').is_some_and(|(address, _)| address.parse::<std::net::Ipv6Addr>().is_ok()),
        None => host.rsplit_once(':').map_or(host, |(name, port)| if port.bytes().all(|byte| byte.is_ascii_digit()) { name } else { host }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The credentials a request presented — its TLS client certificate, and its bearer token
/// or the token its dashboard session stands for — for the checks and for the in-process
/// calls made on its behalf.
#[derive(Clone, Default)]
pub struct Presented {
    pub certificate: Option<Vec<u8>>,
    pub token: Option<String>,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented").field("certificate", &self.certificate.as_ref().map(Vec::len)).field("token", &self.token.as_ref().map(|_| "…")).finish()
    }
}

impl Presented {
    /// What the request presented, or the refusal of a malformed token or an unknown session.
    fn of(context: &HttpContext, extensions: &Extensions, headers: &HeaderMap) -> Result<Presented, Refused> {
        let certificate = extensions.get::<PeerCertificate>().map(|peer| peer.0.clone());
        let token = match headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let text = value.to_str().map_err(|_| Refused(token::TokenError::NotBearer.to_string()))?;
                Some(token::from_authorization(text).map_err(|err| Refused(err.to_string()))?.to_owned())
            }
            None => match session::session_of(headers) {
                None => None,
                Some(Ok(id)) => Some(context.sessions.token(id, Instant::now()).ok_or_else(|| {
                    Refused("the dashboard session is unknown or over (sessions last 12 hours, end at sign-out and when the replica restarts); sign in again".to_owned())
                })?),
                Some(Err(())) => return Err(Refused("the dashboard session cookie is malformed; sign in again".to_owned())),
            },
        };
        Ok(Presented { certificate, token })
    }
}

/// Credentials refused before they are checked, and why: a malformed token, an unknown
/// session (`401`).
pub struct Refused(String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        refusal(StatusCode::UNAUTHORIZED, self.0)
    }
}

impl FromRequestParts<HttpContext> for Presented {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, context: &HttpContext) -> Result<Presented, Refused> {
        Presented::of(context, &parts.extensions, &parts.headers)
    }
}

pub fn refusal(status: StatusCode, why: String) -> Response {
    let mut response = (status, format!("{why}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_and_localhost_pass_as_hosts() {
        for host in ["127.0.0.1", "127.0.0.1:9464", "10.0.0.1:80", "localhost", "LOCALHOST:9464", "[::1]:9464", "[::1]"] {
            assert!(is_address_or_localhost(host), "{host}");
        }
        for host in ["evil.example.com", "evil.example.com:9464", "127.0.0.1.nip.io", "localhost.evil.com", "[evil]:80", ""] {
            assert!(!is_address_or_localhost(host), "{host}");
        }
    }
}
