//! Placement: which ready task goes on which node (and GPU), as a pure function over an
//! abstract model of the cluster. See `README.md` beside this file for the algorithm.
//!
//! | item | what |
//! | --- | --- |
//! | [`ClusterView`] / [`NodeView`] / [`TaskView`] | the abstract model, built from the state by [`ClusterView::from_state`] (`view`) |
//! | [`IndexedCluster`] | a view with its free-capacity index and totals, kept up to date node by node (`indexed_cluster`) |
//! | `free_capacity` | open nodes by shape and free capacity: the best fit without scanning every node |
//! | [`place`] / [`place_indexed`] | the algorithm: filters, best fit, spreading, fairness |
//! | [`fits`] / [`Shortfall`] | the hard filter, also re-checked by `apply` so nothing can over-commit a node |

mod free_capacity;
mod indexed_cluster;
mod view;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use indexed_cluster::IndexedCluster;
pub use view::{ClusterView, GpuView, JobUsage, NodeView, TaskView};

use free_capacity::leftover;

use crate::state::model::{BackendOption, JobId, Node, NodeId, TaskId};

/// One placement decision, proposed to the log as `Command::Assign`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub task: TaskId,
    pub attempt: u32,
    pub node: NodeId,
    pub backend: String,
    pub gpu: Option<u32>,
}

/// Which dimension is short when an option does not fit. Cheap to produce: placement asks
/// millions of times; the text is only built for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    NotSchedulable,
    NoSlot,
    NoBackend,
    NoEncoder,
    Cpu { need: u32, free: u32 },
    Memory { need: u32, free: u32 },
    GpuForCpuWork,
    NoGpu,
    Nvenc { gpu: u32, need: u32, free: u32 },
    GpuMemory { gpu: u32, need: u32, free: u32 },
    NoCuda { gpu: u32 },
    CudaShare { gpu: u32, need: u32, free: u32 },
}

impl Shortfall {
    pub fn describe(self, option: &BackendOption) -> String {
        match self {
            Shortfall::NotSchedulable => "node takes no new tasks".to_owned(),
            Shortfall::NoSlot => "no free task slot".to_owned(),
            Shortfall::NoBackend => format!("node has no {} backend", option.backend),
            Shortfall::NoEncoder => format!("node has no {} encoder", option.encoder.as_deref().unwrap_or("?")),
            Shortfall::Cpu { need, free } => format!("needs {need} millicores, {free} free"),
            Shortfall::Memory { need, free } => format!("needs {need} MB of memory, {free} free"),
            Shortfall::GpuForCpuWork => "a GPU was chosen for work that needs none".to_owned(),
            Shortfall::NoGpu => "GPU work needs one of the node's GPUs".to_owned(),
            Shortfall::Nvenc { gpu, need, free } => format!("GPU {gpu} has {free} free NVENC sessions, needs {need}"),
            Shortfall::GpuMemory { gpu, need, free } => format!("GPU {gpu} has {free} MB free, needs {need}"),
            Shortfall::NoCuda { gpu } => format!("GPU {gpu} cannot run our CUDA kernels"),
            Shortfall::CudaShare { gpu, need, free } => format!("GPU {gpu} has {free}% compute free, needs {need}%"),
        }
    }
}

/// Whether `option` fits on `node` (on GPU `gpu` for GPU work) right now. The error says
/// which dimension is short.
pub fn fits(node: &Node, option: &BackendOption, gpu: Option<u32>) -> Result<(), String> {
    check_fit(&NodeView::from_node(node), option, gpu).map_err(|shortfall| shortfall.describe(option))
}

pub(crate) fn check_fit(node: &NodeView, option: &BackendOption, gpu: Option<u32>) -> Result<(), Shortfall> {
    if !node.schedulable {
        return Err(Shortfall::NotSchedulable);
    }
    if node.slots_free == 0 {
        return Err(Shortfall::NoSlot);
    }
    if !node.backends.contains(&option.backend) {
        return Err(Shortfall::NoBackend);
    }
    if let Some(encoder) = &option.encoder
        && !node.encoders.contains(encoder) {
            return Err(Shortfall::NoEncoder);
        }
    let demand = option.demand.fitted_to(node.cpu_capacity);
    if demand.cpu_milli > node.cpu_free {
        return Err(Shortfall::Cpu { need: demand.cpu_milli, free: node.cpu_free });
    }
    if demand.memory_mb > node.memory_free_mb {
        return Err(Shortfall::Memory { need: demand.memory_mb, free: node.memory_free_mb });
    }
    if !demand.needs_gpu() {
        return match gpu {
            None => Ok(()),
            Some(_) => Err(Shortfall::GpuForCpuWork),
        };
    }
    let Some(gpu) = gpu.and_then(|index| node.gpus.iter().find(|candidate| candidate.index == index)) else {
        return Err(Shortfall::NoGpu);
    };
    if demand.nvenc_sessions > gpu.nvenc_free {
        return Err(Shortfall::Nvenc { gpu: gpu.index, need: demand.nvenc_sessions, free: gpu.nvenc_free });
    }
    if demand.gpu_memory_mb > gpu.memory_free_mb {
        return Err(Shortfall::GpuMemory { gpu: gpu.index, need: demand.gpu_memory_mb, free: gpu.memory_free_mb });
    }
    if demand.cuda_share > 0 && !gpu.cuda {
        return Err(Shortfall::NoCuda { gpu: gpu.index });
    }
    if demand.cuda_share > gpu.cuda_free {
        return Err(Shortfall::CudaShare { gpu: gpu.index, need: demand.cuda_share, free: gpu.cuda_free });
    }
    Ok(())
}

/// Score added per task of the same job already on a node.
const SPREAD_PENALTY: f64 = 2.0;

/// How good a fit is: lower is better. Best fit (least capacity left over, normalised per
/// dimension) plus a penalty for each chunk of the same job already on the node, so that one
/// job's chunks spread over the farm while the farm still packs tightly.
fn score(node: &NodeView, option: &BackendOption, gpu: Option<&GpuView>, job: JobId) -> f64 {
    let demand = option.demand.fitted_to(node.cpu_capacity);
    // `free_capacity` bounds the score below by these first two terms, summed alike.
    let mut left_over = leftover(node.cpu_free, demand.cpu_milli, node.cpu_capacity)
        + leftover(node.memory_free_mb, demand.memory_mb, node.memory_capacity_mb);
    if let Some(gpu) = gpu {
        left_over += leftover(gpu.memory_free_mb, demand.gpu_memory_mb, gpu.memory_capacity_mb)
            + leftover(gpu.nvenc_free, demand.nvenc_sessions, gpu.nvenc_capacity)
            + leftover(gpu.cuda_free, demand.cuda_share, 100);
    }
    // Each dimension's leftover is at most 1, and one task moves the CPU and memory terms by
    // at most 1 each: a penalty of 2 per task of the same job makes spreading win over
    // packing within a job, while packing still decides between jobs.
    let same_job = f64::from(node.tasks_per_job.get(&job).copied().unwrap_or(0));
    left_over + SPREAD_PENALTY * same_job
}

/// Places as many of `tasks` as fit, in fairness order: higher priority first; among equal
/// priorities, the job with the smallest dominant-resource share goes next, one task at a
/// time; within a job, tasks keep their order. The first backend option any node can take
/// wins (options list GPU backends first). `cluster` is updated as tasks are placed.
pub fn place(cluster: &mut ClusterView, tasks: &[TaskView]) -> Vec<Decision> {
    let mut indexed = IndexedCluster::new(std::mem::take(cluster));
    let decisions = place_indexed(&mut indexed, tasks);
    *cluster = indexed.into_view();
    decisions
}

/// [`place`] on an indexed cluster, which the leader keeps from round to round: each
/// decision costs about the logarithm of the farm's size, not a scan of it.
pub fn place_indexed(cluster: &mut IndexedCluster, tasks: &[TaskView]) -> Vec<Decision> {
    let mut decisions = Vec::new();
    if !cluster.has_open_node() {
        return decisions;
    }
    let mut per_job: BTreeMap<JobId, VecDeque<&TaskView>> = BTreeMap::new();
    let mut priority: BTreeMap<JobId, i32> = BTreeMap::new();
    for task in tasks {
        per_job.entry(task.job).or_default().push_back(task);
        priority.insert(task.job, task.priority);
    }
    // Order key: (higher priority first, smaller dominant share first, job id).
    let totals = cluster.totals();
    let key = |cluster: &IndexedCluster, job: JobId| (-i64::from(priority[&job]), cluster.view().dominant_share_millionths(job, totals), job);
    let mut turn: BTreeSet<(i64, u64, JobId)> = per_job.keys().map(|job| key(cluster, *job)).collect();
    // Capacity only shrinks during a round: once a set of options fits nowhere, every task
    // with the same options is skipped without searching again.
    let mut fits_nowhere: Vec<&[BackendOption]> = Vec::new();
    while let Some(next) = turn.pop_first() {
        let job = next.2;
        let Some(task) = per_job.get_mut(&job).and_then(VecDeque::pop_front) else { continue };
        let chosen = if fits_nowhere.contains(&task.options.as_slice()) {
            None
        } else {
            let found = task.options.iter().find_map(|option| cluster.best(option, job).map(|(position, gpu, _)| (option, position, gpu)));
            if found.is_none() {
                fits_nowhere.push(&task.options);
            }
            found
        };
        if let Some((option, position, gpu)) = chosen {
            cluster.commit(position, job, option, gpu);
            decisions.push(Decision {
                task: task.id,
                attempt: task.attempt,
                node: cluster.view().nodes[position].id,
                backend: option.backend.clone(),
                gpu,
            });
            if !cluster.has_open_node() {
                break;
            }
        }
        if per_job.get(&job).is_some_and(|queue| !queue.is_empty()) {
            turn.insert(key(cluster, job));
        }
    }
    decisions
}
