//! Signing in to the dashboard: a browser cannot send a bearer header by itself, so the page
//! posts the operator's token once (`POST /api/session`) and the replica, having checked it,
//! opens a session ([`super::sessions`]) and sets its id as a cookie that only HTTP sees
//! (`HttpOnly`), only this site sends (`SameSite=Strict`), only over TLS (`Secure`), only to
//! this host (`__Host-`), for 12 hours. `DELETE /api/session` signs out, ending the session.
//! Browsers with an operator's client certificate need no sign-in.
//!
//! Every request that changes something (these two included) must carry the
//! [`DASHBOARD_HEADER`]: a page of another site cannot add it without a CORS preflight, which
//! this listener never grants, so a forged form post is refused whatever cookie or
//! certificate the browser would send with it.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Instant;

use shotfarm_security::{Role, token};

use super::sessions;
use crate::http::HttpContext;
use crate::http::access::{refusal, unidentified};
use crate::service::access::identify;

/// The cookie that holds a signed-in operator's session id.
pub const COOKIE: &str = "__Host-shotfarm_session";

/// The header every state-changing dashboard request carries (any value).
pub const DASHBOARD_HEADER: &str = "x-shotfarm-dashboard";

/// The session id in the request's cookie: `None` without one, `Some(Err)` for a value that
/// cannot be a session id.
pub fn session_of(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|value| value.to_str().ok());
    for pair in cookies.flat_map(|cookies| cookies.split(';')) {
        if let Some((name, value)) = pair.trim().split_once('=')
            && name == COOKIE
        {
            return Some(if sessions::well_formed(value) { Ok(value) } else { Err(()) });
        }
    }
    None
}

/// Middleware: refuses a request other than GET/HEAD without the [`DASHBOARD_HEADER`].
pub async fn require_dashboard_header(request: Request, next: Next) -> Response {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads && !request.headers().contains_key(DASHBOARD_HEADER) {
        return refusal(StatusCode::FORBIDDEN, format!("a request that changes something must carry the {DASHBOARD_HEADER} header (the dashboard's page sends it)"));
    }
    next.run(request).await
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /api/session {"token": "sft_…"}`: the cookie, if the token is a live operator's.
pub async fn sign_in(State(context): State<HttpContext>, Json(sign_in): Json<SignIn>) -> Response {
    if !context.authenticate {
        return (StatusCode::OK, "this farm runs --insecure: there is nothing to sign in to\n").into_response();
    }
    let token = sign_in.token.trim();
    if !token::well_formed(token) {
        return refusal(StatusCode::BAD_REQUEST, token::TokenError::Malformed.to_string());
    }
    match identify(&context.driver, None, Ok(Some(token))).await {
        Ok(identity) if identity.role == Role::Operator => {
            let Some(id) = context.sessions.open(token, Instant::now()) else {
                return refusal(StatusCode::SERVICE_UNAVAILABLE, "this replica holds as many dashboard sessions as it may; retry later, or use another replica".to_owned());
            };
            with_cookie(format!("signed in as {identity}\n"), &id, sessions::LIFETIME.as_secs())
        }
        Ok(identity) => refusal(StatusCode::FORBIDDEN, format!("the dashboard is for operators; this token is {identity}'s")),
        Err(err) => unidentified(err),
    }
}

/// `DELETE /api/session`: the session ended and its cookie cleared.
pub async fn sign_out(State(context): State<HttpContext>, headers: HeaderMap) -> Response {
    if let Some(Ok(id)) = session_of(&headers) {
        context.sessions.close(id);
    }
    with_cookie("signed out\n".to_owned(), "", 0)
}

/// A `200` with `body` that sets the session cookie to `value` for `max_age_s` seconds (0:
/// removes it).
fn with_cookie(body: String, value: &str, max_age_s: u64) -> Response {
    let cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_s}");
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a session id is hex"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_id_is_read_from_any_cookie_header_and_a_bad_one_is_told_apart() {
        let id = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        assert_eq!(session_of(&headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        headers.append(header::COOKIE, HeaderValue::from_str(&format!("a=b; {COOKIE}={id}")).unwrap());
        assert_eq!(session_of(&headers), Some(Ok(id.as_str())));
        let mut forged = HeaderMap::new();
        forged.insert(header::COOKIE, HeaderValue::from_str(&format!("{COOKIE}=admin")).unwrap());
        assert_eq!(session_of(&forged), Some(Err(())));
    }
}
