//! What an agent tells Prometheus (`--metrics-listen`): one registry per agent, owned here,
//! with typed handles that the runner updates, and the HTTP route that serves it.
//!
//! | module | what |
//! | --- | --- |
//! | [`process_counters`] | counters of the whole process, counted where the work happens: ffmpeg/ffprobe failures, bytes read from and written to media stores |
//! | [`listener`] | `GET /metrics` over the farm's TLS, for operators' and replicas' certificates |

pub mod listener;
pub mod process_counters;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shotfarm_proto::pipeline::TaskKind;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TaskLabels {
    kind: &'static str,
    backend: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// How an attempt ended, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
        }
    }
}

fn task_histogram() -> Histogram {
    // 10 ms .. ~45 min.
    Histogram::new(exponential_buckets(0.01, 2.0, 19))
}

/// Every metric of one agent, names prefixed `shotfarm_agent_`.
#[derive(Debug)]
pub struct AgentMetrics {
    registry: Registry,
    slots_total: Gauge,
    slots_busy: Gauge,
    task_duration: Family<TaskLabels, Histogram, fn() -> Histogram>,
    frames_per_second: Family<KindLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for AgentMetrics {
    fn default() -> AgentMetrics {
        let mut registry = Registry::with_prefix("shotfarm_agent");
        let (slots_total, slots_busy) = (Gauge::default(), Gauge::default());
        let task_duration = Family::<TaskLabels, Histogram, fn() -> Histogram>::new_with_constructor(task_histogram);
        let frames_per_second = Family::default();
        registry.register("slots", "Task slots this agent advertises", slots_total.clone());
        registry.register("slots_busy", "Task slots running an attempt now", slots_busy.clone());
        registry.register("task_duration_seconds", "Attempts' run time (slot taken to result) by task kind, backend and outcome", task_duration.clone());
        registry.register(
            "task_frames_per_second",
            "The frame rate the last attempt of each kind reported (tasks that report frames only)",
            frames_per_second.clone(),
        );
        process_counters::register(&mut registry);
        AgentMetrics { registry, slots_total, slots_busy, task_duration, frames_per_second }
    }
}

impl AgentMetrics {
    pub fn set_slots(&self, slots: u32) {
        self.slots_total.set(i64::from(slots));
    }

    /// An attempt took a slot; the returned guard gives it back when dropped.
    pub fn slot_taken(&self) -> BusySlot {
        self.slots_busy.inc();
        BusySlot(self.slots_busy.clone())
    }

    pub fn attempt_finished(&self, kind: TaskKind, backend: &str, outcome: AttemptOutcome, took: Duration) {
        let labels = TaskLabels { kind: kind.as_str(), backend: backend.to_owned(), outcome: outcome.as_str() };
        self.task_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn frames_per_second(&self, kind: TaskKind, fps: f64) {
        if fps.is_finite() && fps > 0.0 {
            self.frames_per_second.get_or_create(&KindLabel { kind: kind.as_str() }).set(fps);
        }
    }

    /// The OpenMetrics text of every metric, as Prometheus scrapes it.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8 << 10);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// A slot in use, counted in `slots_busy` until dropped.
#[derive(Debug)]
pub struct BusySlot(Gauge);

impl Drop for BusySlot {
    fn drop(&mut self) {
        self.0.dec();
    }
}
