//! The sequential specifications of the scheduler's keys: `request:<id>`, `job:<id>`,
//! `node:<name>` (see the table in the parent module).

use std::fmt;
use std::hash::Hash;

use super::{Observation, Step};
use crate::history::{Call, JobState, NodeState, Outcome};

/// A sequential specification of one key: the states an operation may lead to from `state`
/// (none: it cannot take place there; several: the model is nondeterministic, e.g. for an
/// indeterminate write, or agents moving a job on).
pub(super) trait Model {
    type State: Clone + Eq + Hash + fmt::Debug;
    fn init(&self) -> Self::State;
    fn step(&self, state: &Self::State, step: &Step) -> Vec<Self::State>;
}

/// `request:<id>`: `None` while free; `Some(job)` once taken (`Some(None)`: by a submission
/// whose answer was lost).
pub(super) struct RequestModel;

impl Model for RequestModel {
    type State = Option<Option<String>>;

    fn init(&self) -> Self::State {
        None
    }

    fn step(&self, state: &Self::State, step: &Step) -> Vec<Self::State> {
        match (&step.operation.outcome, state) {
            (Outcome::Submitted { job_id, created: true }, None) => vec![Some(Some(job_id.clone()))],
            (Outcome::Submitted { created: true, .. }, Some(_)) => Vec::new(),
            // `created: false` on a free id: an earlier attempt of the same call created it.
            (Outcome::Submitted { job_id, created: false }, None | Some(None)) => vec![Some(Some(job_id.clone()))],
            (Outcome::Submitted { job_id, created: false }, Some(Some(taken))) => {
                if taken == job_id { vec![state.clone()] } else { Vec::new() }
            }
            (Outcome::Indeterminate { .. }, None) => vec![None, Some(None)],
            _ => vec![state.clone()],
        }
    }
}

/// `job:<id>`: `None` while absent.
#[derive(Default)]
pub(super) struct JobModel {
    /// No submission of this job was recorded: it may appear on its own.
    pub(super) created_outside: bool,
}

/// Whether agents (and the scheduler) can move a job from `from` to `to` between calls:
/// forward, never back, and never to cancelled (only a client's cancel does that).
fn job_reaches(from: JobState, to: JobState) -> bool {
    from == to
        || (to != JobState::Cancelled && ((from == JobState::Pending && to != JobState::Pending) || (from == JobState::Running && to.is_final())))
}

impl Model for JobModel {
    type State = Option<JobState>;

    fn init(&self) -> Self::State {
        None
    }

    fn step(&self, state: &Self::State, step: &Step) -> Vec<Self::State> {
        // Where the environment may have taken the job before this operation.
        let present_from = |state: &Self::State, wanted: JobState| match state {
            Some(current) => job_reaches(*current, wanted),
            None => self.created_outside,
        };
        match (&step.operation.call, &step.operation.outcome) {
            (Call::Submit { .. }, Outcome::Submitted { .. }) => vec![Some(state.unwrap_or(JobState::Pending))],
            (Call::Submit { .. }, Outcome::Indeterminate { .. }) => match state {
                None => vec![None, Some(JobState::Pending)],
                Some(_) => vec![*state],
            },
            (Call::Get { .. } | Call::Cancel { .. }, Outcome::NotFound) => {
                if state.is_none() { vec![None] } else { Vec::new() }
            }
            (Call::Get { .. }, Outcome::Job { state: seen }) => {
                if present_from(state, *seen) { vec![Some(*seen)] } else { Vec::new() }
            }
            // A cancel leaves the job final: cancelled, or the final state agents reached first.
            (Call::Cancel { .. }, Outcome::Job { state: left }) => {
                let cancels = *left == JobState::Cancelled
                    && match state {
                        Some(current) => !current.is_final(),
                        None => self.created_outside,
                    };
                if left.is_final() && (cancels || present_from(state, *left)) { vec![Some(*left)] } else { Vec::new() }
            }
            (Call::Cancel { .. }, Outcome::Indeterminate { .. }) => match state {
                Some(current) if !current.is_final() => vec![*state, Some(JobState::Cancelled)],
                _ => vec![*state],
            },
            _ => vec![*state],
        }
    }
}

/// `node:<name>`: `None` until registered.
pub(super) struct NodeModel;

impl NodeModel {
    /// States the environment (registration, missed heartbeats, re-registration) can take
    /// the node to from `state`.
    fn environment(state: &Option<NodeState>) -> Vec<Option<NodeState>> {
        match state {
            None => vec![None, Some(NodeState::Ready), Some(NodeState::Down)],
            Some(NodeState::Ready | NodeState::Down) => vec![Some(NodeState::Ready), Some(NodeState::Down)],
            Some(other) => vec![Some(*other), Some(NodeState::Ready), Some(NodeState::Down)],
        }
    }
}

impl Model for NodeModel {
    type State = Option<NodeState>;

    fn init(&self) -> Self::State {
        None
    }

    fn step(&self, state: &Self::State, step: &Step) -> Vec<Self::State> {
        let reachable = NodeModel::environment(state);
        if let Observation::NodeListed(listed) = &step.observed {
            return if reachable.contains(listed) { vec![*listed] } else { Vec::new() };
        }
        let Call::SetNodeState { change, .. } = &step.operation.call else { return vec![*state] };
        let target = Some(change.target());
        // The change applies to a registered node that is not down.
        let settable = reachable.iter().any(|reached| reached.is_some_and(|node| node != NodeState::Down));
        match &step.operation.outcome {
            // The answer is a read after the change: the environment may have moved on.
            Outcome::Node { state: seen } => {
                if settable && NodeModel::environment(&target).contains(&Some(*seen)) { vec![Some(*seen)] } else { Vec::new() }
            }
            Outcome::NotFound => {
                if state.is_none() { vec![None] } else { Vec::new() }
            }
            // Refused: the node was down.
            Outcome::Refused { .. } => {
                if reachable.contains(&Some(NodeState::Down)) { vec![Some(NodeState::Down)] } else { Vec::new() }
            }
            Outcome::Indeterminate { .. } => {
                let mut next = vec![*state];
                if settable {
                    next.push(target);
                }
                next
            }
            _ => vec![*state],
        }
    }
}
