//! Heartbeats, kept out of the log: the leader remembers in memory when it last heard from
//! each node and which attempts each node says it is running, and proposes only the changes
//! that follow (a node down, a lease expired). A new leader starts everyone with a grace
//! period, since it has heard nothing yet.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::state::State;
use crate::state::model::{NodeId, NodeState, TaskId, TaskState};

#[derive(Debug, Clone, Copy)]
pub struct LivenessConfig {
    /// A node silent this long is declared down.
    pub node_timeout: Duration,
    /// A running attempt that no heartbeat lists for this long loses its lease.
    pub lease_timeout: Duration,
}

#[derive(Debug, Default)]
pub struct Liveness {
    node_seen: HashMap<NodeId, Instant>,
    /// (task, attempt) → last time a heartbeat listed it (or it was dispatched).
    lease_seen: HashMap<(TaskId, u32), Instant>,
    /// Nothing is declared dead before this instant (set when this replica becomes leader).
    grace_until: Option<Instant>,
}

/// What the leader should propose now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdicts {
    pub nodes_down: Vec<NodeId>,
    pub leases_expired: Vec<(TaskId, u32)>,
}

impl Liveness {
    /// Forget everything and grant a grace period: called when this replica becomes leader.
    pub fn reset(&mut self, now: Instant, grace: Duration) {
        self.node_seen.clear();
        self.lease_seen.clear();
        self.grace_until = Some(now + grace);
    }

    pub fn heartbeat(&mut self, node: NodeId, running: &[(TaskId, u32)], now: Instant) {
        self.node_seen.insert(node, now);
        for key in running {
            self.lease_seen.insert(*key, now);
        }
    }

    /// A fresh assignment counts as seen until the agent's heartbeats take over.
    pub fn dispatched(&mut self, task: TaskId, attempt: u32, now: Instant) {
        self.lease_seen.insert((task, attempt), now);
    }

    pub fn last_heartbeat(&self, node: NodeId) -> Option<Instant> {
        self.node_seen.get(&node).copied()
    }

    /// Nodes and leases past their timeouts, given the replicated state.
    pub fn verdicts(&mut self, state: &State, config: &LivenessConfig, now: Instant) -> Verdicts {
        let mut verdicts = Verdicts::default();
        let Some(grace_until) = self.grace_until else { return verdicts };
        if now < grace_until {
            return verdicts;
        }
        let expired = |seen: Option<&Instant>, timeout: Duration| {
            let since = seen.copied().unwrap_or(grace_until).max(grace_until);
            now.duration_since(since) > timeout
        };
        for node in state.nodes.values() {
            if node.state != NodeState::Down && expired(self.node_seen.get(&node.id), config.node_timeout) {
                verdicts.nodes_down.push(node.id);
            }
        }
        for node in state.nodes.values().filter(|node| node.state != NodeState::Down) {
            for task in node.running.iter().filter_map(|id| state.tasks.get(id)) {
                let Some(lease) = task.lease.as_ref().filter(|_| task.state == TaskState::Running) else { continue };
                if expired(self.lease_seen.get(&(task.id, lease.attempt)), config.lease_timeout) {
                    verdicts.leases_expired.push((task.id, lease.attempt));
                }
            }
        }
        // Forget attempts that no longer run.
        self.lease_seen.retain(|(task, attempt), _| {
            state.tasks.get(task).and_then(|task| task.lease.as_ref()).is_some_and(|lease| lease.attempt == *attempt)
        });
        verdicts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Command, apply};
    use crate::state::model::NodeCapabilities;

    fn state_with_node() -> State {
        let mut state = State::default();
        apply(&mut state, &Command::RegisterNode {
            name: "a".into(),
            capabilities: NodeCapabilities {
                cpu_cores: 2,
                memory_mb: 1024,
                gpus: vec![],
                backends: ["cpu".to_owned()].into(),
                encoders: Default::default(),
                ffmpeg_version: String::new(),
                agent_version: String::new(),
                max_tasks: 2,
            },
            labels: Default::default(),
            held: Vec::new(),
            now_ms: 0,
        });
        state
    }

    #[test]
    fn a_new_leader_declares_nothing_dead_during_its_grace_period() {
        let state = state_with_node();
        let config = LivenessConfig { node_timeout: Duration::from_secs(2), lease_timeout: Duration::from_secs(4) };
        let start = Instant::now();
        let mut liveness = Liveness::default();
        liveness.reset(start, Duration::from_secs(2));
        assert_eq!(liveness.verdicts(&state, &config, start + Duration::from_secs(1)), Verdicts::default());
        // Silent past grace + timeout: down.
        let verdicts = liveness.verdicts(&state, &config, start + Duration::from_millis(4100));
        assert_eq!(verdicts.nodes_down, vec![1]);
    }

    #[test]
    fn heartbeats_keep_a_node_alive() {
        let state = state_with_node();
        let config = LivenessConfig { node_timeout: Duration::from_secs(2), lease_timeout: Duration::from_secs(4) };
        let start = Instant::now();
        let mut liveness = Liveness::default();
        liveness.reset(start, Duration::ZERO);
        liveness.heartbeat(1, &[], start + Duration::from_secs(3));
        assert!(liveness.verdicts(&state, &config, start + Duration::from_secs(4)).nodes_down.is_empty());
    }

    #[test]
    fn a_follower_never_judges() {
        let state = state_with_node();
        let config = LivenessConfig { node_timeout: Duration::ZERO, lease_timeout: Duration::ZERO };
        let mut liveness = Liveness::default();
        assert_eq!(liveness.verdicts(&state, &config, Instant::now() + Duration::from_secs(60)), Verdicts::default());
    }
}
