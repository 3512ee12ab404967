//! The abstract model placement works on: free and total capacity per node and per GPU, and
//! the ready tasks with their backend options. Built from the replicated state, or directly
//! by tests.

use std::collections::{BTreeMap, BTreeSet};

use crate::state::State;
use crate::state::model::{BackendOption, Demand, JobId, Node, NodeId, Task, TaskId};

#[derive(Debug, Clone, PartialEq)]
pub struct GpuView {
    pub index: u32,
    pub cuda: bool,
    pub nvenc_capacity: u32,
    pub nvenc_free: u32,
    pub memory_capacity_mb: u32,
    pub memory_free_mb: u32,
    /// Percent of the GPU's compute still free.
    pub cuda_free: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub id: NodeId,
    /// Ready (not cordoned, draining or down).
    pub schedulable: bool,
    pub backends: BTreeSet<String>,
    pub encoders: BTreeSet<String>,
    pub cpu_capacity: u32,
    pub cpu_free: u32,
    pub memory_capacity_mb: u32,
    pub memory_free_mb: u32,
    pub slots_capacity: u32,
    pub slots_free: u32,
    pub gpus: Vec<GpuView>,
    /// Running tasks per job, for spreading.
    pub tasks_per_job: BTreeMap<JobId, u32>,
}

/// CPU (millicores) and memory (MB) in use per job.
pub type JobUsage = BTreeMap<JobId, (u64, u64)>;

/// Adds `usage` to `total`, job by job.
pub(crate) fn add_usage(total: &mut JobUsage, usage: &JobUsage) {
    for (job, (cpu, memory)) in usage {
        let used = total.entry(*job).or_default();
        used.0 += cpu;
        used.1 += memory;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: TaskId,
    pub attempt: u32,
    pub job: JobId,
    pub priority: i32,
    pub options: Vec<BackendOption>,
}

impl TaskView {
    /// A task of `state` as placement sees it, its next attempt and its job's priority.
    pub fn of(state: &State, task: &Task) -> TaskView {
        TaskView {
            id: task.id,
            attempt: task.attempt,
            job: task.job,
            priority: state.jobs.get(&task.job).map_or(0, |job| job.spec.priority),
            options: task.options.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    pub nodes: Vec<NodeView>,
    /// CPU and memory in use per job, for dominant-resource fairness.
    pub job_usage: JobUsage,
}

impl NodeView {
    /// The node's free capacity; tasks-per-job is left empty (see [`ClusterView::from_state`]).
    pub fn from_node(node: &Node) -> NodeView {
        let caps = &node.capabilities;
        let slots_capacity = if caps.max_tasks == 0 { caps.cpu_cores.max(1) } else { caps.max_tasks };
        NodeView {
            id: node.id,
            schedulable: node.accepts_work(),
            backends: caps.backends.clone(),
            encoders: caps.encoders.clone(),
            cpu_capacity: node.cpu_capacity_milli(),
            cpu_free: node.cpu_capacity_milli().saturating_sub(node.used_cpu_milli),
            memory_capacity_mb: caps.memory_mb,
            memory_free_mb: caps.memory_mb.saturating_sub(node.used_memory_mb),
            slots_capacity,
            slots_free: slots_capacity.saturating_sub(node.running.len() as u32),
            gpus: caps
                .gpus
                .iter()
                .enumerate()
                .map(|(position, gpu)| {
                    let used = node.gpu_used.get(position).copied().unwrap_or_default();
                    GpuView {
                        index: position as u32,
                        cuda: gpu.cuda,
                        nvenc_capacity: gpu.nvenc_sessions,
                        nvenc_free: gpu.nvenc_sessions.saturating_sub(used.nvenc_sessions),
                        memory_capacity_mb: gpu.memory_mb,
                        memory_free_mb: gpu.memory_mb.saturating_sub(used.gpu_memory_mb),
                        cuda_free: 100u32.saturating_sub(used.cuda_share),
                    }
                })
                .collect(),
            tasks_per_job: BTreeMap::new(),
        }
    }

    /// A node of `state` with its running tasks counted per job, and what they use per job.
    pub fn from_state_node(state: &State, node: &Node) -> (NodeView, JobUsage) {
        let mut view = NodeView::from_node(node);
        let mut usage = JobUsage::new();
        for task in node.running.iter().filter_map(|id| state.tasks.get(id)) {
            *view.tasks_per_job.entry(task.job).or_default() += 1;
            if let Some(lease) = &task.lease {
                let used = usage.entry(task.job).or_default();
                used.0 += u64::from(lease.demand.cpu_milli);
                used.1 += u64::from(lease.demand.memory_mb);
            }
        }
        (view, usage)
    }
}

impl ClusterView {
    /// The model of the whole cluster: every node, and what every job is using.
    pub fn from_state(state: &State) -> ClusterView {
        let mut job_usage = JobUsage::new();
        let nodes = state
            .nodes
            .values()
            .map(|node| {
                let (view, usage) = NodeView::from_state_node(state, node);
                add_usage(&mut job_usage, &usage);
                view
            })
            .collect();
        ClusterView { nodes, job_usage }
    }

    /// The ready tasks of the state, in queue order (priority, then age).
    pub fn queued_tasks(state: &State, limit: usize) -> Vec<TaskView> {
        state.queued().take(limit).map(|task| TaskView::of(state, task)).collect()
    }

    /// Total CPU (millicores) and memory (MB) of the cluster.
    pub fn totals(&self) -> (u64, u64) {
        self.nodes.iter().fold((0u64, 0u64), |(cpu, memory), node| {
            (cpu + u64::from(node.cpu_capacity), memory + u64::from(node.memory_capacity_mb))
        })
    }

    /// A job's dominant share (the larger of its CPU and memory shares of the cluster, given
    /// its [`ClusterView::totals`]), in millionths so that it orders exactly.
    pub fn dominant_share_millionths(&self, job: JobId, (cpu_total, memory_total): (u64, u64)) -> u64 {
        let (cpu, memory) = self.job_usage.get(&job).copied().unwrap_or_default();
        let share = |used: u64, total: u64| used.saturating_mul(1_000_000).checked_div(total).unwrap_or(0);
        share(cpu, cpu_total).max(share(memory, memory_total))
    }

    /// Takes `option`'s demand from the node at `position` (and its GPU), for the next decision.
    pub fn commit(&mut self, position: usize, job: JobId, option: &BackendOption, gpu: Option<u32>) {
        let Some(node) = self.nodes.get(position) else { return };
        self.charge(position, job, option.demand.fitted_to(node.cpu_capacity), gpu);
    }

    /// Takes a task's `demand` (fitted to the node) from the node at `position` and its GPU.
    pub fn charge(&mut self, position: usize, job: JobId, demand: Demand, gpu: Option<u32>) {
        let Some(node) = self.nodes.get_mut(position) else { return };
        node.cpu_free = node.cpu_free.saturating_sub(demand.cpu_milli);
        node.memory_free_mb = node.memory_free_mb.saturating_sub(demand.memory_mb);
        node.slots_free = node.slots_free.saturating_sub(1);
        *node.tasks_per_job.entry(job).or_default() += 1;
        if let Some(gpu) = gpu.and_then(|index| node.gpus.iter_mut().find(|candidate| candidate.index == index)) {
            gpu.nvenc_free = gpu.nvenc_free.saturating_sub(demand.nvenc_sessions);
            gpu.memory_free_mb = gpu.memory_free_mb.saturating_sub(demand.gpu_memory_mb);
            gpu.cuda_free = gpu.cuda_free.saturating_sub(demand.cuda_share);
        }
        let usage = self.job_usage.entry(job).or_default();
        usage.0 += u64::from(demand.cpu_milli);
        usage.1 += u64::from(demand.memory_mb);
    }

    /// Gives a running task's `demand` back to the node at `position` and its GPU: the
    /// inverse of [`ClusterView::charge`], never beyond the node's capacity.
    pub fn refund(&mut self, position: usize, job: JobId, demand: Demand, gpu: Option<u32>) {
        let Some(node) = self.nodes.get_mut(position) else { return };
        node.cpu_free = node.cpu_free.saturating_add(demand.cpu_milli).min(node.cpu_capacity);
        node.memory_free_mb = node.memory_free_mb.saturating_add(demand.memory_mb).min(node.memory_capacity_mb);
        node.slots_free = node.slots_free.saturating_add(1).min(node.slots_capacity);
        if let Some(count) = node.tasks_per_job.get_mut(&job) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                node.tasks_per_job.remove(&job);
            }
        }
        if let Some(gpu) = gpu.and_then(|index| node.gpus.iter_mut().find(|candidate| candidate.index == index)) {
            gpu.nvenc_free = gpu.nvenc_free.saturating_add(demand.nvenc_sessions).min(gpu.nvenc_capacity);
            gpu.memory_free_mb = gpu.memory_free_mb.saturating_add(demand.gpu_memory_mb).min(gpu.memory_capacity_mb);
            gpu.cuda_free = gpu.cuda_free.saturating_add(demand.cuda_share).min(100);
        }
        take_back_usage(&mut self.job_usage, job, (u64::from(demand.cpu_milli), u64::from(demand.memory_mb)));
    }
}

/// Takes `(cpu, memory)` of `job`'s usage back from `total`, dropping the job once it uses
/// nothing.
pub(crate) fn take_back_usage(total: &mut JobUsage, job: JobId, (cpu, memory): (u64, u64)) {
    if let Some(used) = total.get_mut(&job) {
        used.0 = used.0.saturating_sub(cpu);
        used.1 = used.1.saturating_sub(memory);
        if *used == (0, 0) {
            total.remove(&job);
        }
    }
}
