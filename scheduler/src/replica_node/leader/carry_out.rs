//! Carrying out effects: the only way applied commands reach the agents.

use crate::replica_node::agents::Agents;
use crate::replica_node::assignment::assignment;
use crate::replica_node::stream_end::StreamEnd;
use crate::machine::Effect;
use crate::state::State;

/// Sends an assignment or a cancellation to the agent's session, or ends a dead node's.
pub fn carry_out(agents: &Agents, state: &State, effect: Effect) {
    match effect {
        Effect::Dispatch { node, task, attempt } => {
            let Some(found) = state.tasks.get(&task) else { return };
            if !agents.dispatch(node, task, attempt, assignment(state, found, attempt)) {
                tracing::debug!(node, task, attempt, "assignment not delivered now; the lease expires unless the agent reports it");
            }
        }
        Effect::CancelAttempt { node, task, attempt, reason } => agents.cancel(node, task, attempt, reason),
        Effect::NodeDown { node } => agents.close(node, StreamEnd::NodeDown),
    }
}
