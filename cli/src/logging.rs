//! How the process logs and traces. Logs go to stderr (stdout stays for `--json` output):
//! `SHOTFARM_LOG` picks what (a `tracing` filter, `warn` unless set), `SHOTFARM_LOG_FORMAT`
//! how — `text` (the default) or `json`: one JSON object a line with the event's fields, its
//! span, and every span it is in with their fields (`replica`/`term` of the Raft driver,
//! `node_id` of an agent, `job_id`/`task_id` of an attempt), for log shippers.
//!
//! With `--otlp-endpoint URL` (`SHOTFARM_OTLP_ENDPOINT`) the farm's spans at `info` and above
//! — the leader's `submit_job`, each agent's `attempt` and `task`, the Raft driver's — are
//! also exported as OpenTelemetry spans over OTLP/HTTP (protobuf) to `URL/v1/traces`, in
//! batches (`OTEL_BSP_*` tune them), whatever `SHOTFARM_LOG` says; a job is one trace
//! (`shotfarm_proto::trace_context`). The last batch is sent when the process ends.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The spans exported: those of every target under this prefix (the `shotfarm` binary and
/// every `shotfarm_*` crate), at `info` and above.
const TRACED_TARGETS: &str = "shotfarm";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// From `SHOTFARM_LOG_FORMAT`'s value (unset: text).
    pub fn parse(value: Option<&str>) -> Result<LogFormat, String> {
        match value.map(str::trim) {
            None | Some("" | "text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!("SHOTFARM_LOG_FORMAT={other:?} is not a log format: use text (the default) or json")),
        }
    }
}

/// Where spans go: the traces URL of an OTLP/HTTP collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    traces_url: String,
}

impl OtlpEndpoint {
    /// From the collector's base URL (`http://collector:4318`); `/v1/traces` is added.
    pub fn parse(base: &str) -> Result<OtlpEndpoint, String> {
        let url = url::Url::parse(base.trim()).map_err(|err| format!("--otlp-endpoint {base:?} is not a URL ({err}); give the collector's, e.g. http://127.0.0.1:4318"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("--otlp-endpoint {base:?}: give an http:// or https:// URL with a host (OTLP over HTTP, e.g. http://127.0.0.1:4318)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("--otlp-endpoint {base:?}: give the collector's base URL without a query or fragment"));
        }
        Ok(OtlpEndpoint { traces_url: format!("{}/v1/traces", url.as_str().trim_end_matches('/')) })
    }
}

/// Keeps the span exporter while the process runs; sends what it holds when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("warning: the last spans were not exported: {err}");
        }
    }
}

/// Installs the process's subscriber: logs, and spans exported as `service` to `otlp` when
/// given.
pub fn install(format: LogFormat, otlp: Option<&OtlpEndpoint>, service: &'static str) -> Result<Telemetry, String> {
    let filter = EnvFilter::try_from_env("SHOTFARM_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(true).with_filter(filter).boxed(),
    };
    let provider = match otlp {
        None => None,
        Some(endpoint) => {
            // The exporter's HTTP client takes TLS from the process's crypto provider: ring,
            // as every TLS connection of the farm.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let exporter = SpanExporter::builder()
                .with_http()
                .with_endpoint(&endpoint.traces_url)
                .build()
                .map_err(|err| format!("--otlp-endpoint {}: {err}", endpoint.traces_url))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service).build())
                    .build(),
            )
        }
    };
    let spans = provider.as_ref().map(|provider| {
        let traced = Targets::new().with_target(TRACED_TARGETS, Level::INFO);
        tracing_opentelemetry::layer().with_tracer(provider.tracer("shotfarm")).with_filter(traced)
    });
    tracing_subscriber::registry().with(logs).with(spans).init();
    Ok(Telemetry { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_text_or_json_and_anything_else_says_so() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("json")), Ok(LogFormat::Json));
        let refusal = LogFormat::parse(Some("JSONL")).expect_err("not a format");
        assert!(refusal.contains("use text (the default) or json"), "{refusal}");
    }

    #[test]
    fn an_otlp_endpoint_is_a_collectors_http_base_url() {
        assert_eq!(OtlpEndpoint::parse("http://127.0.0.1:4318").map(|endpoint| endpoint.traces_url), Ok("http://127.0.0.1:4318/v1/traces".to_owned()));
        assert_eq!(OtlpEndpoint::parse("https://otel.example.com/base/").map(|endpoint| endpoint.traces_url), Ok("https://otel.example.com/base/v1/traces".to_owned()));
        for bad in ["127.0.0.1:4318", "grpc://collector:4317", "http://collector:4318/?token=x", "not a url"] {
            assert!(OtlpEndpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
