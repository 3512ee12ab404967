//! Counters of the whole agent process, counted where the work happens (the tool runner, the
//! media store) rather than threaded through every task: ffmpeg and ffprobe runs that failed,
//! and the bytes read from and written to media stores. Every agent registry of the process
//! shows them (one agent per process outside `shotfarm dev`).

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ToolLabel {
    tool: &'static str,
}

static TOOL_FAILURES: LazyLock<Family<ToolLabel, Counter>> = LazyLock::new(Family::default);
static STORE_READ_BYTES: LazyLock<Counter> = LazyLock::new(Counter::default);
static STORE_WRITTEN_BYTES: LazyLock<Counter> = LazyLock::new(Counter::default);

pub(super) fn register(registry: &mut Registry) {
    registry.register("ffmpeg_failures", "ffmpeg and ffprobe runs that exited with an error (not cancelled), by tool", TOOL_FAILURES.clone());
    registry.register("store_read_bytes", "Bytes read from media stores (inputs, artifacts of earlier tasks)", STORE_READ_BYTES.clone());
    registry.register("store_written_bytes", "Bytes written to media stores (artifacts, renditions, reports)", STORE_WRITTEN_BYTES.clone());
}

/// `tool` (`ffmpeg`, `ffprobe`) exited with an error.
pub fn tool_failed(tool: &'static str) {
    TOOL_FAILURES.get_or_create(&ToolLabel { tool }).inc();
}

pub fn store_read(bytes: u64) {
    STORE_READ_BYTES.inc_by(bytes);
}

pub fn store_written(bytes: u64) {
    STORE_WRITTEN_BYTES.inc_by(bytes);
}
