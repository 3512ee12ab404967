//! A porcupine-style linearizability checker for a recorded [`History`].
//!
//! `check(&history)` partitions the history per key and searches, for each key, an order of
//! its operations that (a) respects real time — an operation that returned before another
//! was invoked comes first — and (b) is accepted by a sequential model of that key. A
//! history is linearizable when every key's is (P-compositionality). It returns the first
//! key without such an order as a [`Violation`] whose `Display` names the key, the
//! operations involved and how far the search got; save the history with
//! [`History::save`] next to it.
//!
//! | key | operations | model (the scheduler's semantics, `scheduler/src/machine/`) |
//! | --- | --- | --- |
//! | `request:<id>` | submit | the first submission takes the request id for one job; every later one answers that job, with `created = false` |
//! | `job:<id>` | submit (that answered this job, or an indeterminate one for the same request id), get, cancel | absent until submitted, then pending → running → succeeded/failed/cancelled, moved forward by agents between any two client calls; never absent again; cancel leaves it final |
//! | `node:<name>` | cordon/drain/uncordon, list nodes (one read per node) | registration, "down" and re-registration (ready) happen at any time; cordoned and draining only through the operator's call; never absent again |
//!
//! Besides the per-key search, one check spans keys: two request ids never answer the
//! same job.
//!
//! Indeterminate operations (timeouts, unknown outcomes) never return: they may be placed
//! anywhere after their invocation, and the model lets them take effect or not. The search
//! is a depth-first search over (linearized set, model state) with memoisation of the pairs
//! already explored, as porcupine does (Lowe's refinement of Wing & Gong).

use std::collections::BTreeMap;
use std::fmt;

use crate::history::{Call, History, NodeState, Operation, Outcome};

mod models;
mod search;
#[cfg(test)]
mod tests;

use self::models::{JobModel, NodeModel, RequestModel};
use self::search::search;

/// A key whose operations have no linearization, or a cross-key contradiction.
#[derive(Debug, Clone)]
pub struct Violation {
    pub key: String,
    pub explanation: String,
    /// The operations of the key, in invocation order.
    pub operations: Vec<Operation>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "not linearizable: key {}: {}", self.key, self.explanation)?;
        writeln!(f, "operations of {} ({}):", self.key, self.operations.len())?;
        for operation in &self.operations {
            writeln!(f, "  {}", describe(operation))?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// One line per operation: `#id [invoke..return] call -> outcome`.
pub fn describe(operation: &Operation) -> String {
    let returned = operation.returned_ns.map_or_else(|| "inf".to_owned(), |ns| format!("{:.3}ms", ns as f64 / 1e6));
    let call = match &operation.call {
        Call::Submit { request_id } => format!("submit({request_id})"),
        Call::Get { job_id } => format!("get({job_id})"),
        Call::Cancel { job_id } => format!("cancel({job_id})"),
        Call::SetNodeState { node, change } => format!("{change:?}({node})").to_lowercase(),
        Call::ListNodes => "list_nodes()".to_owned(),
    };
    let outcome = match &operation.outcome {
        Outcome::Submitted { job_id, created } => format!("{job_id} (created: {created})"),
        Outcome::Job { state } => format!("{state:?}"),
        Outcome::Node { state } => format!("{state:?}"),
        Outcome::Nodes { nodes } => format!("{nodes:?}"),
        Outcome::NotFound => "not found".to_owned(),
        Outcome::Refused { code, message } => format!("refused {code}: {message}"),
        Outcome::Indeterminate { why } => format!("indeterminate ({why})"),
        Outcome::Failed { why } => format!("failed ({why})"),
    };
    format!("#{} [{:.3}ms..{returned}] {call} -> {outcome}", operation.id, operation.invoked_ns as f64 / 1e6)
}

/// Checks the whole history: every key's operations, then the cross-key rule.
pub fn check(history: &History) -> Result<(), Violation> {
    check_unique_jobs(history)?;
    let partitions = partition(history);
    for (key, partition) in &partitions {
        let result = match partition {
            Partition::Request(operations) => search(&RequestModel, key, operations),
            Partition::Job(operations, model) => search(model, key, operations),
            Partition::Node(operations) => search(&NodeModel, key, operations),
        };
        result?;
    }
    Ok(())
}

/// Two request ids must never be answered with the same job.
fn check_unique_jobs(history: &History) -> Result<(), Violation> {
    let mut owners: BTreeMap<&str, (&str, &Operation)> = BTreeMap::new();
    for operation in &history.operations {
        let (Call::Submit { request_id }, Outcome::Submitted { job_id, .. }) = (&operation.call, &operation.outcome) else { continue };
        match owners.get(job_id.as_str()) {
            Some((owner, first)) if owner != request_id => {
                return Err(Violation {
                    key: format!("job:{job_id}"),
                    explanation: format!("request ids {owner:?} and {request_id:?} were both answered with {job_id}"),
                    operations: vec![(*first).clone(), operation.clone()],
                });
            }
            Some(_) => {}
            None => {
                owners.insert(job_id, (request_id, operation));
            }
        }
    }
    Ok(())
}

/// One key's operations (projected: a node list becomes one read per node).
enum Partition {
    Request(Vec<Step>),
    Job(Vec<Step>, JobModel),
    Node(Vec<Step>),
}

/// An operation as one key sees it.
#[derive(Debug, Clone)]
struct Step {
    operation: Operation,
    /// The projection of a multi-key read onto this key.
    observed: Observation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Observation {
    /// The operation's own outcome applies.
    Outcome,
    /// A node list read this node as `Some(state)`, or did not list it.
    NodeListed(Option<NodeState>),
}

fn partition(history: &History) -> BTreeMap<String, Partition> {
    let mut partitions: BTreeMap<String, Partition> = BTreeMap::new();
    // Which job each request id was answered with.
    let mut answered: BTreeMap<&str, &str> = BTreeMap::new();
    for operation in &history.operations {
        if let (Call::Submit { request_id }, Outcome::Submitted { job_id, .. }) = (&operation.call, &operation.outcome) {
            answered.insert(request_id, job_id);
        }
    }
    let mut node_names: Vec<String> = Vec::new();
    for operation in &history.operations {
        match &operation.call {
            Call::SetNodeState { node, .. } => node_names.push(node.clone()),
            Call::ListNodes => {
                if let Outcome::Nodes { nodes } = &operation.outcome {
                    node_names.extend(nodes.iter().map(|(name, _)| name.clone()));
                }
            }
            _ => {}
        }
    }
    node_names.sort();
    node_names.dedup();

    let step = |operation: &Operation| Step { operation: operation.clone(), observed: Observation::Outcome };
    for operation in &history.operations {
        // A read that failed tells nothing; a refused write changed nothing.
        if matches!(operation.outcome, Outcome::Failed { .. }) {
            continue;
        }
        match &operation.call {
            Call::Submit { request_id } => {
                push(&mut partitions, format!("request:{request_id}"), || Partition::Request(Vec::new()), step(operation));
                let job = match &operation.outcome {
                    Outcome::Submitted { job_id, .. } => Some(job_id.as_str()),
                    Outcome::Indeterminate { .. } => answered.get(request_id.as_str()).copied(),
                    _ => None,
                };
                if let Some(job) = job {
                    push(&mut partitions, format!("job:{job}"), || Partition::Job(Vec::new(), JobModel::default()), step(operation));
                }
            }
            Call::Get { job_id } | Call::Cancel { job_id } => {
                push(&mut partitions, format!("job:{job_id}"), || Partition::Job(Vec::new(), JobModel::default()), step(operation));
            }
            Call::SetNodeState { node, .. } => {
                push(&mut partitions, format!("node:{node}"), || Partition::Node(Vec::new()), step(operation));
            }
            Call::ListNodes => {
                let Outcome::Nodes { nodes } = &operation.outcome else { continue };
                for name in &node_names {
                    let listed = nodes.iter().find(|(listed, _)| listed == name).map(|(_, state)| *state);
                    let projected = Step { operation: operation.clone(), observed: Observation::NodeListed(listed) };
                    push(&mut partitions, format!("node:{name}"), || Partition::Node(Vec::new()), projected);
                }
            }
        }
    }
    // A job read with no recorded submission was created outside the history: its creation
    // is then the environment's.
    for partition in partitions.values_mut() {
        if let Partition::Job(steps, model) = partition {
            model.created_outside = !steps.iter().any(|step| matches!(step.operation.call, Call::Submit { .. }));
        }
    }
    partitions
}

fn push(partitions: &mut BTreeMap<String, Partition>, key: String, empty: impl FnOnce() -> Partition, step: Step) {
    match partitions.entry(key).or_insert_with(empty) {
        Partition::Request(steps) | Partition::Job(steps, _) | Partition::Node(steps) => steps.push(step),
    }
}
