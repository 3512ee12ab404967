//! Judging liveness: the verdicts of the agents' heartbeats, turned into proposals.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::replica_node::agents::Agents;
use crate::replica_node::clock::now_ms;
use crate::replica_node::liveness::LivenessConfig;
use crate::state::model::{NodeId, TaskId};
use crate::machine::Command;
use crate::state::State;

/// How long a verdict, once proposed, is not proposed again.
const REPROPOSE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Verdict {
    NodeDown(NodeId),
    LeaseExpired(TaskId, u32),
}

/// Remembers the verdicts proposed recently, so that each is proposed once a second at most.
#[derive(Default)]
pub struct LivenessJudge {
    proposed: HashMap<Verdict, Instant>,
}

impl LivenessJudge {
    /// A new term: judge afresh.
    pub fn clear(&mut self) {
        self.proposed.clear();
    }

    /// `MarkNodeDown` and `ExpireLease` for what missed its heartbeats and was not proposed
    /// in the last second.
    pub fn judge(&mut self, agents: &Agents, state: &State, config: &LivenessConfig) -> Vec<Command> {
        let now = Instant::now();
        let verdicts = agents.verdicts(state, config, now);
        self.proposed.retain(|_, at| now.duration_since(*at) < REPROPOSE_AFTER);
        let now_ms = now_ms();
        let mut commands = Vec::new();
        for node in verdicts.nodes_down {
            if self.proposed.insert(Verdict::NodeDown(node), now).is_none() {
                tracing::warn!(node, "no heartbeat within the node timeout; declaring the node down");
                commands.push(Command::MarkNodeDown { node, now_ms });
            }
        }
        for (task, attempt) in verdicts.leases_expired {
            if self.proposed.insert(Verdict::LeaseExpired(task, attempt), now).is_none() {
                tracing::warn!(task, attempt, "lease not renewed in time; returning the task to the queue");
                commands.push(Command::ExpireLease { task, attempt, now_ms });
            }
        }
        commands
    }
}
