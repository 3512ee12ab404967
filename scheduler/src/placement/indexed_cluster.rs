//! A [`ClusterView`] with what makes a placement decision cheap at farm scale: the
//! free-capacity index, the cluster's totals, and where each node sits. It is kept up to
//! date decision by decision ([`IndexedCluster::commit`]; [`IndexedCluster::refund`] gives a
//! lease that is about to end back for one round) and node by node
//! ([`IndexedCluster::refresh_node`]), so the leader keeps one across rounds and pays only
//! for the nodes that changed.

use std::collections::HashMap;

use super::free_capacity::{Candidate, FreeCapacityIndex};
use super::view::{ClusterView, JobUsage, NodeView, add_usage, take_back_usage};
use crate::state::State;
use crate::state::model::{BackendOption, Demand, JobId, NodeId};

#[derive(Debug, Clone, PartialEq)]
pub struct IndexedCluster {
    view: ClusterView,
    index: FreeCapacityIndex,
    position_of: HashMap<NodeId, usize>,
    /// Total CPU (millicores) and memory (MB) of every node.
    totals: (u64, u64),
    /// What each node's tasks add to the view's `job_usage`, by position, so a refreshed
    /// node's old share can be taken back.
    usage_at: Vec<JobUsage>,
}

impl IndexedCluster {
    /// Indexes a view. Its `job_usage` is taken as it is; nodes refreshed later replace only
    /// what they added since.
    pub fn new(view: ClusterView) -> IndexedCluster {
        let index = FreeCapacityIndex::new(&view.nodes);
        let position_of = view.nodes.iter().enumerate().map(|(position, node)| (node.id, position)).collect();
        let totals = view.totals();
        let usage_at = vec![JobUsage::new(); view.nodes.len()];
        IndexedCluster { view, index, position_of, totals, usage_at }
    }

    /// The model of the whole cluster in `state`, indexed.
    pub fn from_state(state: &State) -> IndexedCluster {
        let mut cluster = IndexedCluster::new(ClusterView::default());
        for node in state.nodes.keys() {
            cluster.refresh_node(state, *node);
        }
        cluster
    }

    pub fn view(&self) -> &ClusterView {
        &self.view
    }

    pub fn into_view(self) -> ClusterView {
        self.view
    }

    pub fn totals(&self) -> (u64, u64) {
        self.totals
    }

    /// Whether any node is ready with a free slot.
    pub fn has_open_node(&self) -> bool {
        self.index.has_open_node()
    }

    /// Free slots on ready nodes with CPU free.
    pub fn free_slots(&self) -> usize {
        self.index.free_slots()
    }

    pub fn position_of(&self, node: NodeId) -> Option<usize> {
        self.position_of.get(&node).copied()
    }

    pub fn node_count(&self) -> usize {
        self.view.nodes.len()
    }

    /// The best (node position, GPU, score) for one option, as scanning every node would pick.
    pub(crate) fn best(&self, option: &BackendOption, job: JobId) -> Option<Candidate> {
        self.index.best(&self.view.nodes, option, job)
    }

    /// Takes `option`'s demand from the node at `position` for the next decision.
    pub fn commit(&mut self, position: usize, job: JobId, option: &BackendOption, gpu: Option<u32>) {
        let Some(node) = self.view.nodes.get(position) else { return };
        self.charge(position, job, option.demand.fitted_to(node.cpu_capacity), gpu);
    }

    /// Takes a task's `demand` (fitted to the node) from the node at `position`.
    pub fn charge(&mut self, position: usize, job: JobId, demand: Demand, gpu: Option<u32>) {
        self.view.charge(position, job, demand, gpu);
        if let Some(usage) = self.usage_at.get_mut(position) {
            let used = usage.entry(job).or_default();
            used.0 += u64::from(demand.cpu_milli);
            used.1 += u64::from(demand.memory_mb);
        }
        if let Some(node) = self.view.nodes.get(position) {
            self.index.node_changed(position, node);
        }
    }

    /// Gives a running task's `demand` back to the node at `position`: the inverse of
    /// [`IndexedCluster::charge`].
    pub fn refund(&mut self, position: usize, job: JobId, demand: Demand, gpu: Option<u32>) {
        self.view.refund(position, job, demand, gpu);
        if let Some(usage) = self.usage_at.get_mut(position) {
            take_back_usage(usage, job, (u64::from(demand.cpu_milli), u64::from(demand.memory_mb)));
        }
        if let Some(node) = self.view.nodes.get(position) {
            self.index.node_changed(position, node);
        }
    }

    /// Takes no more work on the node at `position` until it is refreshed (its agent has no
    /// session with the leader, so an assignment could not reach it).
    pub fn hold_back(&mut self, position: usize) {
        let Some(node) = self.view.nodes.get_mut(position) else { return };
        node.schedulable = false;
        self.index.node_changed(position, node);
    }

    /// Reads the node `id` again from `state` (new, or changed): its capacity, state, usage
    /// and running tasks, dropping whatever was committed on it here.
    pub fn refresh_node(&mut self, state: &State, id: NodeId) {
        let Some(node) = state.nodes.get(&id) else { return };
        let (fresh, usage) = NodeView::from_state_node(state, node);
        let position = match self.position_of.get(&id).copied() {
            Some(position) if position < self.view.nodes.len() && position < self.usage_at.len() => {
                let old = std::mem::replace(&mut self.view.nodes[position], fresh);
                self.totals.0 = self.totals.0.saturating_sub(u64::from(old.cpu_capacity));
                self.totals.1 = self.totals.1.saturating_sub(u64::from(old.memory_capacity_mb));
                let old_usage = std::mem::replace(&mut self.usage_at[position], usage);
                take_back(&mut self.view.job_usage, &old_usage);
                position
            }
            _ => {
                self.view.nodes.push(fresh);
                self.usage_at.push(usage);
                let position = self.view.nodes.len() - 1;
                self.position_of.insert(id, position);
                position
            }
        };
        add_usage(&mut self.view.job_usage, &self.usage_at[position]);
        let node = &self.view.nodes[position];
        self.totals.0 += u64::from(node.cpu_capacity);
        self.totals.1 += u64::from(node.memory_capacity_mb);
        self.index.node_changed(position, node);
    }
}

/// Takes `usage` back from `total`, job by job, dropping jobs that use nothing.
fn take_back(total: &mut JobUsage, usage: &JobUsage) {
    for (job, used) in usage {
        take_back_usage(total, *job, *used);
    }
}
