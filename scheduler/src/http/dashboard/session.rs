//! Signing in to the dashboard: a browser cannot send a bearer header by itself, so the page
//! posts the operator's token once (`POST /api/session`) and the replica, having checked it,
//! sets it as a cookie that only HTTP sees (`HttpOnly`), only this site sends (`SameSite=Strict`),
//! only over TLS (`Secure`), gone when the browser closes. `DELETE /api/session` signs out.
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
use shotfarm_security::{Role, token};

use crate::http::HttpContext;
use crate::http::access::refusal;
use crate::service::access::identify;
use crate::service::status::ServiceError;

/// The cookie that holds a signed-in operator's token.
pub const COOKIE: &str = "shotfarm_session";

/// The header every state-changing dashboard request carries (any value).
pub const DASHBOARD_HEADER: &str = "x-shotfarm-dashboard";

/// The token in the session cookie, if the request has one.
pub fn token_of(headers: &HeaderMap) -> Result<Option<&str>, token::TokenError> {
    let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|value| value.to_str().ok());
    for pair in cookies.flat_map(|cookies| cookies.split(';')) {
        if let Some((name, value)) = pair.trim().split_once('=')
            && name == COOKIE
        {
            return if token::well_formed(value) { Ok(Some(value)) } else { Err(token::TokenError::Malformed) };
        }
    }
    Ok(None)
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
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict");
            let mut response = (StatusCode::OK, format!("signed in as {identity}\n")).into_response();
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a token is visible ASCII"));
            response
        }
        Ok(identity) => refusal(StatusCode::FORBIDDEN, format!("the dashboard is for operators; this token is {identity}'s")),
        Err(ServiceError::Unauthenticated(why)) => refusal(StatusCode::UNAUTHORIZED, why),
        Err(other) => refusal(StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the token now: {other}; retry")),
    }
}

/// `DELETE /api/session`: the cookie cleared.
pub async fn sign_out() -> Response {
    let mut response = (StatusCode::OK, "signed out\n").into_response();
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&expired).expect("ASCII"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_token_is_read_from_any_cookie_header_and_a_bad_one_is_refused() {
        let token = format!("sft_{}", "ab".repeat(32));
        let mut headers = HeaderMap::new();
        assert_eq!(token_of(&headers), Ok(None));
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        headers.append(header::COOKIE, HeaderValue::from_str(&format!("a=b; {COOKIE}={token}")).unwrap());
        assert_eq!(token_of(&headers), Ok(Some(token.as_str())));
        let mut forged = HeaderMap::new();
        forged.insert(header::COOKIE, HeaderValue::from_static("shotfarm_session=admin"));
        assert_eq!(token_of(&forged), Err(token::TokenError::Malformed));
    }
}
