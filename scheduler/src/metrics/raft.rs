//! The consensus core's metrics: where this replica stands (term, leadership, indexes) and
//! what its Ready loop costs (proposal batches, log fsyncs, snapshots).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Where a replica stands after a turn of its Ready loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftPosition {
    pub term: u64,
    pub is_leader: bool,
    /// 0 while no leader is known.
    pub leader_id: u64,
    pub commit_index: u64,
    pub applied_index: u64,
}

#[derive(Debug)]
pub struct RaftMetrics {
    term: Gauge,
    is_leader: Gauge,
    leader_changes: Counter,
    commit_index: Gauge,
    applied_index: Gauge,
    apply_lag: Gauge,
    proposal_batch: Histogram,
    log_fsync: Histogram,
    snapshot_bytes: Gauge,
    /// The leader last published, to count changes.
    last_leader: AtomicU64,
}

/// Gauges hold i64; indexes and terms stay far below its end.
fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl RaftMetrics {
    pub fn register(registry: &mut Registry) -> RaftMetrics {
        let metrics = RaftMetrics {
            term: Gauge::default(),
            is_leader: Gauge::default(),
            leader_changes: Counter::default(),
            commit_index: Gauge::default(),
            applied_index: Gauge::default(),
            apply_lag: Gauge::default(),
            // 1 .. 4,096 commands (the outbox's limit an entry).
            proposal_batch: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            // 50 µs .. ~1.6 s.
            log_fsync: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            snapshot_bytes: Gauge::default(),
            last_leader: AtomicU64::new(0),
        };
        registry.register("term", "The Raft term this replica is in", metrics.term.clone());
        registry.register("is_leader", "1 while this replica leads the group, else 0", metrics.is_leader.clone());
        registry.register("leader_changes", "Times this replica saw another leader (or the first one) take over", metrics.leader_changes.clone());
        registry.register("commit_index", "The highest log index this replica knows committed", metrics.commit_index.clone());
        registry.register("applied_index", "The highest log index applied to this replica's state", metrics.applied_index.clone());
        registry.register("apply_lag_entries", "Committed entries not yet applied (commit index - applied index)", metrics.apply_lag.clone());
        registry.register("proposal_batch_commands", "Commands in each log entry this replica proposed", metrics.proposal_batch.clone());
        registry.register("log_fsync_seconds", "Durable writes of the log (entries and hard state, fsynced)", metrics.log_fsync.clone());
        registry.register("snapshot_bytes", "Size of the last snapshot this replica took or installed", metrics.snapshot_bytes.clone());
        metrics
    }

    /// After every turn of the Ready loop.
    pub fn publish(&self, position: RaftPosition) {
        self.term.set(gauge_value(position.term));
        self.is_leader.set(i64::from(position.is_leader));
        self.commit_index.set(gauge_value(position.commit_index));
        self.applied_index.set(gauge_value(position.applied_index));
        self.apply_lag.set(gauge_value(position.commit_index.saturating_sub(position.applied_index)));
        if position.leader_id != 0 && self.last_leader.swap(position.leader_id, Ordering::Relaxed) != position.leader_id {
            self.leader_changes.inc();
        }
    }

    pub fn proposed(&self, commands: usize) {
        self.proposal_batch.observe(commands as f64);
    }

    pub fn fsynced(&self, took: Duration) {
        self.log_fsync.observe(took.as_secs_f64());
    }

    pub fn snapshot(&self, bytes: usize) {
        self.snapshot_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
