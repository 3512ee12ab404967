//! The nodes that can take a task now, indexed so that the best fit is found without looking
//! at every node of the farm.
//!
//! Nodes are grouped by *shape*: the same CPU and memory capacity and the same backends and
//! encoders, so one option's backend and encoder are checked once per shape and its demand
//! (fitted to the shape's cores) is the same for every node of it. Within a shape, the open
//! nodes (ready, with a free slot) are kept by free CPU, then free memory, then position.
//! The node-level part of the score — the CPU and memory left over after placing — only
//! grows along that order, and the whole score (plus GPU leftovers and the spreading
//! penalty, both never negative) is never below it. So the search starts at the first node
//! with enough CPU and memory and stops as soon as the node-level part alone is worse than
//! the best score found: it picks exactly what scanning every node would, with ties going to
//! the lower position as before.
//!
//! Nodes as good as the best so far at the node level, with as much memory free and a higher
//! position, cannot win even a tie: the search jumps past them in one lookup, so a farm of
//! identical idle nodes costs no more than a busy one.
//!
//! Cost per decision: a range lookup per shape and per distinct free-CPU (and free-memory)
//! value up to the winner's, plus the nodes looked at before the search stops — those of
//! the same job (their spreading penalty keeps the search going), and GPU nodes whose GPUs
//! are full.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{GpuView, NodeView};
use super::{check_fit, score};
use crate::state::model::{BackendOption, JobId};

/// What makes nodes interchangeable for the filters that do not depend on free capacity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ShapeKey {
    cpu_capacity: u32,
    memory_capacity_mb: u32,
    backends: BTreeSet<String>,
    encoders: BTreeSet<String>,
}

impl ShapeKey {
    fn of(node: &NodeView) -> ShapeKey {
        ShapeKey {
            cpu_capacity: node.cpu_capacity,
            memory_capacity_mb: node.memory_capacity_mb,
            backends: node.backends.clone(),
            encoders: node.encoders.clone(),
        }
    }

    fn matches(&self, node: &NodeView) -> bool {
        self.cpu_capacity == node.cpu_capacity
            && self.memory_capacity_mb == node.memory_capacity_mb
            && self.backends == node.backends
            && self.encoders == node.encoders
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Shape {
    key: ShapeKey,
    /// Open nodes by free CPU, then (free memory, position).
    open: BTreeMap<u32, BTreeSet<(u32, usize)>>,
}

/// Where an open node sits in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    cpu_free: u32,
    memory_free: u32,
    /// Free slots counted in [`FreeCapacityIndex::free_slots`] (0 when no CPU is free).
    slots: u32,
}

/// The best (node position, GPU, score) found so far.
pub(crate) type Candidate = (usize, Option<u32>, f64);

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FreeCapacityIndex {
    shapes: Vec<Shape>,
    shape_of_key: BTreeMap<ShapeKey, usize>,
    /// Per node position: its shape, and its entry while it is open.
    shape_at: Vec<Option<usize>>,
    entry_at: Vec<Option<Entry>>,
    open_nodes: usize,
    free_slots: usize,
}

impl FreeCapacityIndex {
    /// Indexes every node of `nodes`, by position.
    pub(crate) fn new(nodes: &[NodeView]) -> FreeCapacityIndex {
        let mut index = FreeCapacityIndex::default();
        for (position, node) in nodes.iter().enumerate() {
            index.node_changed(position, node);
        }
        index
    }

    /// Whether any node is ready with a free slot.
    pub(crate) fn has_open_node(&self) -> bool {
        self.open_nodes > 0
    }

    /// Free slots on ready nodes that have CPU free.
    pub(crate) fn free_slots(&self) -> usize {
        self.free_slots
    }

    /// The node at `position` is now `node` (new, or its capacity, state or usage changed).
    pub(crate) fn node_changed(&mut self, position: usize, node: &NodeView) {
        if self.shape_at.len() <= position {
            self.shape_at.resize(position + 1, None);
            self.entry_at.resize(position + 1, None);
        }
        self.close(position);
        let shape = match self.shape_at[position] {
            Some(shape) if self.shapes.get(shape).is_some_and(|known| known.key.matches(node)) => shape,
            _ => self.shape_for(node),
        };
        self.shape_at[position] = Some(shape);
        if !node.schedulable || node.slots_free == 0 {
            return;
        }
        let entry = Entry {
            cpu_free: node.cpu_free,
            memory_free: node.memory_free_mb,
            slots: if node.cpu_free > 0 { node.slots_free } else { 0 },
        };
        if let Some(known) = self.shapes.get_mut(shape) {
            known.open.entry(entry.cpu_free).or_default().insert((entry.memory_free, position));
        }
        self.entry_at[position] = Some(entry);
        self.open_nodes += 1;
        self.free_slots += entry.slots as usize;
    }

    fn shape_for(&mut self, node: &NodeView) -> usize {
        let key = ShapeKey::of(node);
        if let Some(shape) = self.shape_of_key.get(&key) {
            return *shape;
        }
        self.shapes.push(Shape { key: key.clone(), open: BTreeMap::new() });
        self.shape_of_key.insert(key, self.shapes.len() - 1);
        self.shapes.len() - 1
    }

    /// Takes the node at `position` out of the open nodes, if it is there.
    fn close(&mut self, position: usize) {
        let Some(entry) = self.entry_at.get_mut(position).and_then(Option::take) else { return };
        self.open_nodes -= 1;
        self.free_slots -= entry.slots as usize;
        let Some(shape) = self.shape_at.get(position).copied().flatten().and_then(|shape| self.shapes.get_mut(shape)) else { return };
        if let Some(by_memory) = shape.open.get_mut(&entry.cpu_free) {
            by_memory.remove(&(entry.memory_free, position));
            if by_memory.is_empty() {
                shape.open.remove(&entry.cpu_free);
            }
        }
    }

    /// The best (node, GPU) for one option among `nodes` (indexed here by position): the
    /// lowest score, ties to the lower position, then to the earlier GPU.
    pub(crate) fn best(&self, nodes: &[NodeView], option: &BackendOption, job: JobId) -> Option<Candidate> {
        let mut best: Option<Candidate> = None;
        let worse_than_best = |lower_bound: f64, best: &Option<Candidate>| best.is_some_and(|(_, _, score)| lower_bound > score);
        for shape in &self.shapes {
            if shape.open.is_empty() || !shape.key.backends.contains(&option.backend) {
                continue;
            }
            if let Some(encoder) = &option.encoder
                && !shape.key.encoders.contains(encoder) {
                    continue;
                }
            let demand = option.demand.fitted_to(shape.key.cpu_capacity);
            for (&cpu_free, by_memory) in shape.open.range(demand.cpu_milli..) {
                let cpu_left = leftover(cpu_free, demand.cpu_milli, shape.key.cpu_capacity);
                if worse_than_best(cpu_left, &best) {
                    break;
                }
                let mut from = (demand.memory_mb, 0);
                while let Some(&(memory_free, position)) = by_memory.range(from..).next() {
                    // The same sum, in the same order, as the first two terms of `score`.
                    let node_left = cpu_left + leftover(memory_free, demand.memory_mb, shape.key.memory_capacity_mb);
                    if worse_than_best(node_left, &best) {
                        break;
                    }
                    if best.is_some_and(|(best_position, _, score)| node_left == score && position > best_position) {
                        // The nodes after it with as much memory free come later in position
                        // too: none can beat the best, not even on a tie. On to more memory.
                        let Some(more) = memory_free.checked_add(1) else { break };
                        from = (more, 0);
                        continue;
                    }
                    if let Some(node) = nodes.get(position) {
                        consider(node, position, option, job, &mut best);
                    }
                    from = (memory_free, position + 1);
                }
            }
        }
        best
    }
}

/// Scores every GPU of the node (or the node alone, for work without a GPU) that passes the
/// filters, keeping the better candidate: the lower score, on a tie the lower position,
/// then the earlier GPU (the first one scored).
pub(super) fn consider(node: &NodeView, position: usize, option: &BackendOption, job: JobId, best: &mut Option<Candidate>) {
    let gpus: Vec<Option<&GpuView>> = if option.demand.needs_gpu() { node.gpus.iter().map(Some).collect() } else { vec![None] };
    for gpu in gpus {
        let gpu_index = gpu.map(|gpu| gpu.index);
        if check_fit(node, option, gpu_index).is_err() {
            continue;
        }
        let candidate_score = score(node, option, gpu, job);
        let better = best.as_ref().is_none_or(|(best_position, _, best_score)| {
            candidate_score < *best_score || (candidate_score == *best_score && position < *best_position)
        });
        if better {
            *best = Some((position, gpu_index, candidate_score));
        }
    }
}

/// The fraction of a dimension left over after taking `take` of `free` (0 for a dimension
/// the node does not have); `score` sums these.
pub(crate) fn leftover(free: u32, take: u32, capacity: u32) -> f64 {
    if capacity == 0 { 0.0 } else { f64::from(free.saturating_sub(take)) / f64::from(capacity) }
}
