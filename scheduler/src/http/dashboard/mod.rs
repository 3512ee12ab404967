//! The web dashboard on the replica's HTTP listener: one page (`/`, with its script and
//! style, built into the binary; nothing from the network) that shows the cluster, the nodes
//! and the jobs, live, with buttons for an operator's node and job actions, over the JSON API
//! in [`api`]. It is the API's own services and authentication behind it: an operator's client
//! certificate, or an operator token given once at sign-in ([`session`]).
//!
//! | module | what |
//! | --- | --- |
//! | [`api`] | the JSON API and its server-sent events |
//! | [`report_page`] | a finished job's report.html, read from a `file://` output under the replica's roots |
//! | [`session`] | signing in with a token (a session cookie), and the header that guards every change |
//! | [`sessions`] | the sign-in sessions: random ids for operator tokens, 12 hours, in memory |
//! | [`view`] | the JSON the page reads, made from the API's messages |
//! | `assets/` | the page, its script and its style |

pub mod api;
pub mod report_page;
pub mod session;
pub mod sessions;
pub mod view;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::HttpContext;

/// The page may load only what this listener serves, run no inline script, and not be framed.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The routes anyone may reach: the page and its assets (no data), and signing in and out.
pub fn public_routes() -> Router<HttpContext> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", include_str!("assets/index.html"))))
        .route("/dashboard.js", get(|| asset("text/javascript; charset=utf-8", include_str!("assets/dashboard.js"))))
        .route("/dashboard.css", get(|| asset("text/css; charset=utf-8", include_str!("assets/dashboard.css"))))
        .route("/api/session", post(session::sign_in).delete(session::sign_out))
}

/// The routes behind the listener's authentication: the API.
pub fn api_routes() -> Router<HttpContext> {
    Router::new()
        .route("/api/overview", get(api::overview))
        .route("/api/events", get(api::overview_events))
        .route("/api/jobs/{id}", get(api::job))
        .route("/api/jobs/{id}/events", get(api::job_events))
        .route("/api/jobs/{id}/cancel", post(api::cancel_job))
        .route("/api/jobs/{id}/report.html", get(report_page::report_page))
        .route("/api/nodes/{node}/{action}", post(api::node_action))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}
