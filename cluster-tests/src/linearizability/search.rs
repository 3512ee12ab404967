//! The depth-first search for a linearization of one key's operations, memoising the
//! (linearized set, model state) pairs already explored.

use std::collections::HashSet;

use super::models::Model;
use super::{Observation, Step, Violation, describe};

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
pub(super) fn search<M: Model>(model: &M, key: &str, steps: &[Step]) -> Result<(), Violation> {
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
