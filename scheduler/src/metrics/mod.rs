//! What a replica tells Prometheus: one registry per replica, owned here, and typed handles
//! that the seams of the Ready loop update (no registry code elsewhere). `/metrics` encodes
//! the registry as it is (`crate::http`), so a scrape costs no round trip to the driver.
//!
//! | module | what |
//! | --- | --- |
//! | [`raft`] | term, leadership, indexes and lag, proposal batches, log fsyncs, snapshots |
//! | [`scheduling`] | the applied state counted (tasks, jobs, nodes by state), results and lease expiries as they apply, placement rounds |

pub mod raft;
pub mod scheduling;

use prometheus_client::registry::Registry;

use self::raft::RaftMetrics;
use self::scheduling::SchedulingMetrics;

/// Every metric of one replica, names prefixed `shotfarm_`.
#[derive(Debug)]
pub struct ReplicaMetrics {
    registry: Registry,
    pub raft: RaftMetrics,
    pub scheduling: SchedulingMetrics,
}

impl Default for ReplicaMetrics {
    fn default() -> ReplicaMetrics {
        let mut registry = Registry::with_prefix("shotfarm");
        let raft = RaftMetrics::register(registry.sub_registry_with_prefix("raft"));
        let scheduling = SchedulingMetrics::register(registry.sub_registry_with_prefix("scheduler"));
        ReplicaMetrics { registry, raft, scheduling }
    }
}

impl ReplicaMetrics {
    /// The OpenMetrics text of every metric, as Prometheus scrapes it.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(16 << 10);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
