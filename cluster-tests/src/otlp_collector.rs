//! An OpenTelemetry collector as the farm's processes meet one: an OTLP/HTTP server on
//! 127.0.0.1 that takes `POST /v1/traces` (protobuf `ExportTraceServiceRequest`), answers as
//! the protocol says, and keeps every span with the service that sent it, for the test to
//! judge. It stops when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::loopback_http;

/// One span as it arrived.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the resource that sent it.
    pub service: String,
    pub name: String,
    /// Hex, as in a `traceparent`.
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// String, integer and boolean attributes, as text.
    pub attributes: BTreeMap<String, String>,
}

pub struct OtlpCollector {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    stop: CancellationToken,
}

impl OtlpCollector {
    /// Listens on a free loopback port.
    pub async fn start() -> anyhow::Result<OtlpCollector> {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let shared = spans.clone();
        let addr = loopback_http::serve(move |request| receive(request, shared.clone()), stop.clone()).await?;
        Ok(OtlpCollector { addr, spans, stop })
    }

    /// `http://127.0.0.1:PORT`: what `--otlp-endpoint` takes.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|spans| spans.clone()).unwrap_or_default()
    }
}

impl Drop for OtlpCollector {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(request: Request<Incoming>, spans: Arc<Mutex<Vec<ReceivedSpan>>>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let wanted = request.method() == hyper::Method::POST && request.uri().path() == "/v1/traces";
    let protobuf = request.headers().get(hyper::header::CONTENT_TYPE).is_some_and(|kind| kind.as_bytes() == b"application/x-protobuf");
    let body = request.into_body().collect().await?.to_bytes();
    if !wanted {
        return Ok(answer(StatusCode::NOT_FOUND, Bytes::new()));
    }
    if !protobuf {
        return Ok(answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, Bytes::new()));
    }
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return Ok(answer(StatusCode::BAD_REQUEST, Bytes::new()));
    };
    let received = export.resource_spans.into_iter().flat_map(|resource_spans| {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| resource.attributes.iter().find(|attribute| attribute.key == "service.name"))
            .and_then(|attribute| attribute.value.as_ref().and_then(|value| value.value.as_ref()).map(text))
            .unwrap_or_default();
        resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans).map(move |span| ReceivedSpan {
            service: service.clone(),
            name: span.name,
            trace_id: hex::encode(&span.trace_id),
            span_id: hex::encode(&span.span_id),
            parent_span_id: hex::encode(&span.parent_span_id),
            attributes: span
                .attributes
                .into_iter()
                .filter_map(|attribute| Some((attribute.key, text(attribute.value?.value.as_ref()?))))
                .collect(),
        })
    });
    if let Ok(mut spans) = spans.lock() {
        spans.extend(received);
    }
    Ok(answer(StatusCode::OK, Bytes::from(ExportTraceServiceResponse::default().encode_to_vec())))
}

fn text(value: &Value) -> String {
    match value {
        Value::StringValue(text) => text.clone(),
        Value::IntValue(number) => number.to_string(),
        Value::BoolValue(flag) => flag.to_string(),
        Value::DoubleValue(number) => number.to_string(),
        other => format!("{other:?}"),
    }
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-protobuf"));
    response
}
