//! W3C trace context (`traceparent`) across the farm, so that a job is one trace: a client's
//! call carries its `traceparent` in gRPC metadata (followers relay it); the leader's
//! `submit_job` span takes it as parent and the job keeps that span's context; each task
//! assignment carries it to the agent, whose attempt span takes it as parent. Spans become
//! OpenTelemetry spans only in a process that exports them (`--otlp-endpoint`); elsewhere
//! these functions find no context and do nothing.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::MetadataMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (and metadata key) of W3C trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The `traceparent` a request carries, if it is a well-formed one.
pub fn from_metadata(metadata: &MetadataMap) -> Option<String> {
    let value = metadata.get(TRACEPARENT)?.to_str().ok()?;
    parse(value).map(|_| value.to_owned())
}

/// `span`'s parent set to the context `traceparent` names (nothing when it names none).
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    if let Some(context) = parse(traceparent) {
        // Fails only when the span is not an OpenTelemetry span (no exporter): nothing to do.
        let _ = span.set_parent(context);
    }
}

/// `span`'s own context as a `traceparent`, when it is a sampled OpenTelemetry span.
pub fn of_span(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

fn parse(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn only_a_well_formed_traceparent_is_taken_from_metadata() {
        let mut metadata = MetadataMap::new();
        assert_eq!(from_metadata(&metadata), None);
        metadata.insert(TRACEPARENT, GOOD.parse().unwrap());
        assert_eq!(from_metadata(&metadata).as_deref(), Some(GOOD));
        for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"] {
            metadata.insert(TRACEPARENT, bad.parse().unwrap());
            assert_eq!(from_metadata(&metadata), None, "{bad}");
        }
    }

    #[test]
    fn without_an_exporter_spans_carry_no_context_and_parents_are_ignored() {
        let span = tracing::info_span!("no exporter");
        set_parent(&span, GOOD);
        assert_eq!(of_span(&span), None);
    }

    #[test]
    fn a_span_under_an_exporting_subscriber_takes_its_parent_and_passes_it_on() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("child");
            set_parent(&span, GOOD);
            let own = of_span(&span).expect("a sampled span");
            // The same trace, a span of its own, sampled.
            assert!(own.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && own.ends_with("-01"), "{own}");
            assert!(!own.contains("00f067aa0ba902b7"), "{own}");
        });
    }
}
