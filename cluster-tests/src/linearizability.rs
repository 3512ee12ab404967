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

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::Hash;

use crate::history::{Call, History, JobState, NodeState, Operation, Outcome};

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

/// A sequential specification of one key: the states an operation may lead to from `state`
/// (none: it cannot take place there; several: the model is nondeterministic, e.g. for an
/// indeterminate write, or agents moving a job on).
trait Model {
    type State: Clone + Eq + Hash + fmt::Debug;
    fn init(&self) -> Self::State;
    fn step(&self, state: &Self::State, step: &Step) -> Vec<Self::State>;
}

/// `request:<id>`: `None` while free; `Some(job)` once taken (`Some(None)`: by a submission
/// whose answer was lost).
struct RequestModel;

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
struct JobModel {
    /// No submission of this job was recorded: it may appear on its own.
    created_outside: bool,
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
struct NodeModel;

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

/// A set of operation positions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: usize) -> Bits {
        Bits(vec![0; len.div_ceil(64)])
    }

    fn contains(&self, index: usize) -> bool {
        self.0[index / 64] & (1 << (index % 64)) != 0
    }

    fn insert(&mut self, index: usize) {
        self.0[index / 64] |= 1 << (index % 64);
    }

    fn remove(&mut self, index: usize) {
        self.0[index / 64] &= !(1 << (index % 64));
    }
}

struct Frame<S> {
    /// The operation linearized to reach this frame (none for the root).
    entered_by: Option<usize>,
    state: S,
    candidates: Vec<(usize, S)>,
    next: usize,
}

/// The furthest the search got: how many operations it linearized, in which order (with the
/// state after each), and the state it was stuck in.
struct Deepest<S> {
    linearized: usize,
    path: Vec<(usize, S)>,
    state: S,
}

/// Searches a linearization of one key's operations.
fn search<M: Model>(model: &M, key: &str, steps: &[Step]) -> Result<(), Violation> {
    let count = steps.len();
    if count == 0 {
        return Ok(());
    }
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&index| (steps[index].operation.invoked_ns, steps[index].operation.id));
    let steps: Vec<&Step> = order.iter().map(|&index| &steps[index]).collect();

    // The operations that may come next: not linearized, and invoked before every other
    // pending operation returned.
    let candidates = |linearized: &Bits, state: &M::State| -> Vec<(usize, M::State)> {
        let first_return = (0..count)
            .filter(|index| !linearized.contains(*index))
            .filter_map(|index| steps[index].operation.returned_ns)
            .min()
            .unwrap_or(u64::MAX);
        let mut next = Vec::new();
        for index in (0..count).filter(|index| !linearized.contains(*index)) {
            if steps[index].operation.invoked_ns > first_return {
                break;
            }
            for state in model.step(state, steps[index]) {
                next.push((index, state));
            }
        }
        next
    };

    let mut linearized = Bits::new(count);
    let mut done = 0usize;
    let mut seen: HashSet<(Bits, M::State)> = HashSet::new();
    let root = model.init();
    let mut frames = vec![Frame { entered_by: None, candidates: candidates(&linearized, &root), state: root, next: 0 }];
    // The deepest point reached, for the explanation.
    let mut deepest = Deepest { linearized: 0, path: Vec::new(), state: model.init() };
    while let Some(top) = frames.last_mut() {
        if top.next < top.candidates.len() {
            let (index, state) = top.candidates[top.next].clone();
            top.next += 1;
            linearized.insert(index);
            if !seen.insert((linearized.clone(), state.clone())) {
                linearized.remove(index);
                continue;
            }
            done += 1;
            if done == count {
                return Ok(());
            }
            let next = candidates(&linearized, &state);
            frames.push(Frame { entered_by: Some(index), state, candidates: next, next: 0 });
            continue;
        }
        if done >= deepest.linearized {
            let state = top.state.clone();
            let path = frames.iter().filter_map(|frame| frame.entered_by.map(|index| (index, frame.state.clone()))).collect();
            deepest = Deepest { linearized: done, path, state };
        }
        let Some(frame) = frames.pop() else { break };
        if let Some(index) = frame.entered_by {
            linearized.remove(index);
            done -= 1;
        }
    }

    let Deepest { linearized: reached, path, state } = deepest;
    let mut explanation = format!("no order of its {count} operations fits the model; the longest linearizable prefix has {reached}:\n");
    for (index, after) in &path {
        explanation.push_str(&format!("    {}  => {after:?}\n", describe(&steps[*index].operation)));
    }
    let placed: HashSet<usize> = path.iter().map(|(index, _)| *index).collect();
    let first_return = (0..count).filter(|index| !placed.contains(index)).filter_map(|index| steps[index].operation.returned_ns).min().unwrap_or(u64::MAX);
    explanation.push_str(&format!("  from state {state:?}, none of these could come next:\n"));
    for index in (0..count).filter(|index| !placed.contains(index)) {
        if steps[index].operation.invoked_ns > first_return {
            break;
        }
        let seen = match &steps[index].observed {
            Observation::Outcome => String::new(),
            Observation::NodeListed(listed) => format!(" (this node: {listed:?})"),
        };
        explanation.push_str(&format!("    {}{seen}\n", describe(&steps[index].operation)));
    }
    Err(Violation { key: key.to_owned(), explanation, operations: steps.iter().map(|step| step.operation.clone()).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::NodeChange;

    /// Builds histories by hand: times in milliseconds, `None` = never returned.
    #[derive(Default)]
    struct Builder {
        operations: Vec<Operation>,
    }

    impl Builder {
        fn op(mut self, call: Call, invoked_ms: u64, returned_ms: Option<u64>, outcome: Outcome) -> Builder {
            let id = self.operations.len();
            self.operations.push(Operation { id, call, outcome, invoked_ns: invoked_ms * 1_000_000, returned_ns: returned_ms.map(|ms| ms * 1_000_000) });
            self
        }

        fn submit(self, request: &str, at: (u64, u64), job: &str, created: bool) -> Builder {
            self.op(Call::Submit { request_id: request.into() }, at.0, Some(at.1), Outcome::Submitted { job_id: job.into(), created })
        }

        fn submit_lost(self, request: &str, at: u64) -> Builder {
            self.op(Call::Submit { request_id: request.into() }, at, None, Outcome::Indeterminate { why: "timeout".into() })
        }

        fn get(self, job: &str, at: (u64, u64), seen: Option<JobState>) -> Builder {
            let outcome = seen.map_or(Outcome::NotFound, |state| Outcome::Job { state });
            self.op(Call::Get { job_id: job.into() }, at.0, Some(at.1), outcome)
        }

        fn cancel(self, job: &str, at: (u64, u64), left: JobState) -> Builder {
            self.op(Call::Cancel { job_id: job.into() }, at.0, Some(at.1), Outcome::Job { state: left })
        }

        fn cancel_lost(self, job: &str, at: u64) -> Builder {
            self.op(Call::Cancel { job_id: job.into() }, at, None, Outcome::Indeterminate { why: "unknown".into() })
        }

        fn list(self, at: (u64, u64), nodes: &[(&str, NodeState)]) -> Builder {
            let nodes = nodes.iter().map(|(name, state)| ((*name).to_owned(), *state)).collect();
            self.op(Call::ListNodes, at.0, Some(at.1), Outcome::Nodes { nodes })
        }

        fn node(self, name: &str, change: NodeChange, at: (u64, u64), outcome: Outcome) -> Builder {
            self.op(Call::SetNodeState { node: name.into(), change }, at.0, Some(at.1), outcome)
        }

        fn history(self) -> History {
            History { operations: self.operations }
        }
    }

    use JobState::{Cancelled, Pending, Running, Succeeded};

    #[test]
    fn a_job_submitted_read_and_finished_is_linearizable() {
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .get("job-1", (11, 12), Some(Pending))
            .get("job-1", (13, 14), Some(Running))
            .get("job-1", (15, 16), Some(Succeeded))
            .submit("r1", (17, 18), "job-1", false)
            .cancel("job-1", (19, 20), Succeeded)
            .history();
        assert!(check(&history).is_ok(), "{}", check(&history).unwrap_err());
    }

    #[test]
    fn concurrent_reads_may_see_either_side_of_a_submit() {
        // The get overlaps the submit: not found and found are both fine.
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .get("job-1", (1, 2), None)
            .get("job-1", (3, 9), Some(Running))
            .history();
        assert!(check(&history).is_ok());
    }

    #[test]
    fn one_request_id_answered_with_two_jobs_is_caught() {
        let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r1", (20, 30), "job-2", false).history();
        let violation = check(&history).expect_err("two jobs for one request");
        assert_eq!(violation.key, "request:r1");
        assert!(violation.to_string().contains("submit(r1) -> job-2"), "{violation}");
    }

    #[test]
    fn two_creations_for_one_request_id_are_caught_even_when_concurrent() {
        let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r1", (5, 15), "job-1", true).history();
        assert_eq!(check(&history).expect_err("created twice").key, "request:r1");
    }

    #[test]
    fn two_request_ids_answered_with_one_job_are_caught() {
        let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r2", (20, 30), "job-1", true).history();
        let violation = check(&history).expect_err("one job for two requests");
        assert!(violation.explanation.contains("\"r1\" and \"r2\""), "{violation}");
    }

    #[test]
    fn a_job_not_found_after_its_submission_was_acknowledged_is_caught() {
        let history = Builder::default().submit("r1", (0, 10), "job-1", true).get("job-1", (20, 30), None).history();
        let violation = check(&history).expect_err("lost job");
        assert_eq!(violation.key, "job:job-1");
        assert!(violation.explanation.contains("get(job-1) -> not found"), "{violation}");
    }

    #[test]
    fn a_job_seen_after_a_completed_read_said_not_found_after_the_ack_is_caught() {
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .get("job-1", (12, 14), Some(Pending))
            .get("job-1", (20, 30), None)
            .get("job-1", (40, 50), Some(Running))
            .history();
        assert!(check(&history).is_err());
    }

    #[test]
    fn a_state_going_backwards_is_caught() {
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .get("job-1", (20, 30), Some(Running))
            .get("job-1", (40, 50), Some(Pending))
            .history();
        let violation = check(&history).expect_err("backwards");
        assert!(violation.explanation.contains("-> Pending"), "{violation}");
    }

    #[test]
    fn a_stale_read_after_a_completed_cancel_is_caught() {
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .cancel("job-1", (20, 30), Cancelled)
            .get("job-1", (40, 50), Some(Running))
            .history();
        assert!(check(&history).is_err());
        // The same read overlapping the cancel is fine.
        let overlapping = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .cancel("job-1", (20, 30), Cancelled)
            .get("job-1", (25, 50), Some(Running))
            .history();
        assert!(check(&overlapping).is_ok());
    }

    #[test]
    fn a_cancel_cannot_report_success_over_another_final_state() {
        let history = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .cancel("job-1", (11, 12), Cancelled)
            .cancel("job-1", (20, 30), Succeeded)
            .history();
        assert!(check(&history).is_err());
        // Only a cancel cancels.
        let uncalled = Builder::default().submit("r1", (0, 10), "job-1", true).get("job-1", (11, 12), Some(Cancelled)).history();
        assert!(check(&uncalled).is_err());
    }

    #[test]
    fn an_indeterminate_submission_may_have_taken_effect() {
        // The lost submission created the job: a later one answers it with created=false.
        let took = Builder::default()
            .submit_lost("r1", 0)
            .submit("r1", (50, 60), "job-1", false)
            .get("job-1", (70, 80), Some(Running))
            .history();
        assert!(check(&took).is_ok(), "{}", check(&took).unwrap_err());
        // ... or it did not: the later one created it.
        let did_not = Builder::default().submit_lost("r1", 0).submit("r1", (50, 60), "job-1", true).history();
        assert!(check(&did_not).is_ok());
        // But a job it created can only appear after it was invoked.
        let before = Builder::default().get("job-1", (0, 5), Some(Pending)).submit_lost("r1", 10).submit("r1", (50, 60), "job-1", false).history();
        assert!(check(&before).is_err());
    }

    #[test]
    fn an_indeterminate_cancel_may_or_may_not_have_taken_effect() {
        let took = Builder::default().submit("r1", (0, 10), "job-1", true).cancel_lost("job-1", 20).get("job-1", (30, 40), Some(Cancelled)).history();
        assert!(check(&took).is_ok());
        let did_not = Builder::default().submit("r1", (0, 10), "job-1", true).cancel_lost("job-1", 20).get("job-1", (30, 40), Some(Succeeded)).history();
        assert!(check(&did_not).is_ok());
        // Either way, it cannot take effect before it was invoked.
        let early = Builder::default()
            .submit("r1", (0, 10), "job-1", true)
            .get("job-1", (12, 14), Some(Cancelled))
            .cancel_lost("job-1", 20)
            .history();
        assert!(check(&early).is_err());
    }

    #[test]
    fn node_changes_follow_the_operator() {
        let fine = Builder::default()
            .list((0, 1), &[("a", NodeState::Ready)])
            .node("a", NodeChange::Cordon, (2, 3), Outcome::Node { state: NodeState::Cordoned })
            .list((4, 5), &[("a", NodeState::Cordoned)])
            .list((6, 7), &[("a", NodeState::Down)])
            .node("a", NodeChange::Drain, (8, 9), Outcome::Refused { code: "FailedPrecondition".into(), message: "down".into() })
            .list((10, 11), &[("a", NodeState::Ready)])
            .history();
        assert!(check(&fine).is_ok(), "{}", check(&fine).unwrap_err());
        // Draining without a drain.
        let drained = Builder::default()
            .list((0, 1), &[("a", NodeState::Ready)])
            .node("a", NodeChange::Cordon, (2, 3), Outcome::Node { state: NodeState::Cordoned })
            .list((4, 5), &[("a", NodeState::Draining)])
            .history();
        assert_eq!(check(&drained).expect_err("draining from nowhere").key, "node:a");
        // A registered node disappearing.
        let vanished = Builder::default().list((0, 1), &[("a", NodeState::Ready)]).list((2, 3), &[("b", NodeState::Ready)]).history();
        assert_eq!(check(&vanished).expect_err("vanished").key, "node:a");
    }

    #[test]
    fn a_long_history_with_many_concurrent_reads_checks_quickly() {
        let mut builder = Builder::default().submit("r1", (0, 10), "job-1", true);
        for index in 0..400u64 {
            let state = if index < 200 { Pending } else if index < 300 { Running } else { Succeeded };
            // Overlapping pairs of reads.
            builder = builder.get("job-1", (20 + index * 5, 28 + index * 5), Some(state));
        }
        let started = std::time::Instant::now();
        assert!(check(&builder.history()).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
