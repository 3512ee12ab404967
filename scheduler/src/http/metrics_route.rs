//! `GET /metrics`: the replica's registry (`crate::metrics`) in the OpenMetrics text format,
//! which Prometheus reads. Encoding reads atomics only: no call into the Ready loop.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use shotfarm_security::https::OPENMETRICS_TEXT;

use super::HttpContext;

pub async fn metrics(State(context): State<HttpContext>) -> Response {
    match context.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS_TEXT)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be encoded\n").into_response(),
    }
}
