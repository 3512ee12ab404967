//! Placement tests: exact decisions on small clusters, and properties on random ones.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::state::model::Demand;

fn cpu_option(cpu_milli: u32, memory_mb: u32) -> BackendOption {
    BackendOption {
        backend: "cpu".into(),
        encoder: None,
        demand: Demand { cpu_milli, memory_mb, ..Demand::default() },
    }
}

fn nvenc_option() -> BackendOption {
    BackendOption {
        backend: "nvenc".into(),
        encoder: None,
        demand: Demand { cpu_milli: 500, memory_mb: 512, nvenc_sessions: 1, gpu_memory_mb: 256, cuda_share: 0 },
    }
}

fn node(id: NodeId, cores: u32, gpus: Vec<GpuView>) -> NodeView {
    let mut backends: BTreeSet<String> = ["cpu".to_owned()].into();
    if gpus.iter().any(|gpu| gpu.nvenc_capacity > 0) {
        backends.insert("nvenc".into());
    }
    NodeView {
        id,
        schedulable: true,
        backends,
        encoders: BTreeSet::new(),
        cpu_capacity: cores * 1000,
        cpu_free: cores * 1000,
        memory_capacity_mb: cores * 2048,
        memory_free_mb: cores * 2048,
        slots_capacity: cores,
        slots_free: cores,
        gpus,
        tasks_per_job: BTreeMap::new(),
    }
}

fn gpu(index: u32, nvenc: u32) -> GpuView {
    GpuView {
        index,
        cuda: true,
        nvenc_capacity: nvenc,
        nvenc_free: nvenc,
        memory_capacity_mb: 16_384,
        memory_free_mb: 16_384,
        cuda_free: 100,
    }
}

fn task(id: TaskId, job: JobId, priority: i32, options: Vec<BackendOption>) -> TaskView {
    TaskView { id, attempt: 1, job, priority, options }
}

#[test]
fn prefers_the_gpu_backend_when_a_gpu_has_a_free_session() {
    let mut cluster = ClusterView { nodes: vec![node(1, 8, vec![]), node(2, 8, vec![gpu(0, 1)])], ..Default::default() };
    let tasks = vec![task(1, 1, 0, vec![nvenc_option(), cpu_option(2000, 1024)]), task(2, 1, 0, vec![nvenc_option(), cpu_option(2000, 1024)])];
    let decisions = place(&mut cluster, &tasks);
    assert_eq!(decisions[0], Decision { task: 1, attempt: 1, node: 2, backend: "nvenc".into(), gpu: Some(0) });
    // The only NVENC session is taken: the second task falls back to a CPU.
    assert_eq!(decisions[1].backend, "cpu");
}

#[test]
fn a_node_smaller_than_a_cpu_demand_gives_the_task_all_its_cores() {
    // A two-core encode on one-core nodes: each node runs one, whole, and is then full.
    let mut cluster = ClusterView { nodes: vec![node(1, 1, vec![]), node(2, 1, vec![])], ..Default::default() };
    let tasks: Vec<TaskView> = (1..=3).map(|id| task(id, 1, 0, vec![cpu_option(2000, 512)])).collect();
    let decisions = place(&mut cluster, &tasks);
    assert_eq!(decisions.iter().map(|decision| decision.node).collect::<BTreeSet<_>>(), [1, 2].into());
    assert!(cluster.nodes.iter().all(|node| node.cpu_free == 0), "{:?}", cluster.nodes.iter().map(|node| node.cpu_free).collect::<Vec<_>>());
    // On a bigger node the demand is what it says.
    let mut cluster = ClusterView { nodes: vec![node(1, 4, vec![])], ..Default::default() };
    place(&mut cluster, &[task(1, 1, 0, vec![cpu_option(2000, 512)])]);
    assert_eq!(cluster.nodes[0].cpu_free, 2000);
}

#[test]
fn never_places_on_a_node_that_is_not_ready() {
    let mut cordoned = node(1, 64, vec![]);
    cordoned.schedulable = false;
    let mut cluster = ClusterView { nodes: vec![cordoned, node(2, 1, vec![])], ..Default::default() };
    let tasks: Vec<TaskView> = (1..=3).map(|id| task(id, 1, 0, vec![cpu_option(1000, 100)])).collect();
    let decisions = place(&mut cluster, &tasks);
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].node, 2);
}

#[test]
fn higher_priority_jobs_go_first() {
    let mut cluster = ClusterView { nodes: vec![node(1, 1, vec![])], ..Default::default() };
    let tasks = vec![task(1, 1, 0, vec![cpu_option(1000, 100)]), task(2, 2, 10, vec![cpu_option(1000, 100)])];
    let decisions = place(&mut cluster, &tasks);
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].task, 2);
}

#[test]
fn equal_priority_jobs_share_by_dominant_resource() {
    let mut cluster = ClusterView { nodes: vec![node(1, 4, vec![])], ..Default::default() };
    // Job 1 queued first with four tasks, job 2 with two: they alternate.
    let mut tasks: Vec<TaskView> = (1..=4).map(|id| task(id, 1, 0, vec![cpu_option(1000, 100)])).collect();
    tasks.extend((5..=6).map(|id| task(id, 2, 0, vec![cpu_option(1000, 100)])));
    let decisions = place(&mut cluster, &tasks);
    let jobs: Vec<JobId> = decisions.iter().map(|decision| tasks.iter().find(|t| t.id == decision.task).map_or(0, |t| t.job)).collect();
    assert_eq!(jobs, vec![1, 2, 1, 2]);
}

#[test]
fn spreads_one_jobs_chunks_across_equal_nodes() {
    let mut cluster = ClusterView { nodes: vec![node(1, 4, vec![]), node(2, 4, vec![])], ..Default::default() };
    let tasks: Vec<TaskView> = (1..=2).map(|id| task(id, 1, 0, vec![cpu_option(1000, 100)])).collect();
    let decisions = place(&mut cluster, &tasks);
    let nodes: BTreeSet<NodeId> = decisions.iter().map(|decision| decision.node).collect();
    assert_eq!(nodes.len(), 2, "{decisions:?}");
}

#[test]
fn best_fit_fills_the_tighter_node_for_another_job() {
    let mut half_full = node(1, 4, vec![]);
    half_full.cpu_free = 1000;
    half_full.slots_free = 1;
    let mut cluster = ClusterView { nodes: vec![node(2, 4, vec![]), half_full], ..Default::default() };
    let decisions = place(&mut cluster, &[task(1, 9, 0, vec![cpu_option(1000, 100)])]);
    assert_eq!(decisions[0].node, 1);
}

#[test]
fn fit_errors_name_the_short_dimension() {
    let mut view = node(1, 2, vec![]);
    view.cpu_free = 500;
    let option = cpu_option(1000, 10);
    let error = check_fit(&view, &option, None).expect_err("does not fit").describe(&option);
    assert!(error.contains("millicores"), "{error}");
    let option = nvenc_option();
    let error = check_fit(&view, &option, Some(0)).expect_err("no nvenc backend").describe(&option);
    assert!(error.contains("nvenc"), "{error}");
}

fn arb_node(id: NodeId) -> impl Strategy<Value = NodeView> {
    (1u32..=16, any::<bool>(), prop::collection::vec(0u32..=3, 0..=2)).prop_map(move |(cores, schedulable, gpus)| {
        let mut view = node(id, cores, gpus.iter().enumerate().map(|(index, nvenc)| gpu(index as u32, *nvenc)).collect());
        view.schedulable = schedulable;
        view
    })
}

fn arb_task(id: TaskId) -> impl Strategy<Value = TaskView> {
    (1u64..=4, -2i32..=2, 100u32..=4000, 64u32..=4096, any::<bool>()).prop_map(move |(job, priority, cpu, memory, gpu_first)| {
        let mut options = vec![cpu_option(cpu, memory)];
        if gpu_first {
            options.insert(0, nvenc_option());
        }
        task(id, job, priority, options)
    })
}

fn arb_cluster() -> impl Strategy<Value = (Vec<NodeView>, Vec<TaskView>)> {
    let nodes = (1usize..=6).prop_flat_map(|count| (1..=count as u64).map(arb_node).collect::<Vec<_>>());
    let tasks = (0usize..=40).prop_flat_map(|count| (1..=count as u64).map(arb_task).collect::<Vec<_>>());
    (nodes, tasks)
}

proptest! {
    #[test]
    fn no_node_is_over_committed_in_any_dimension((nodes, tasks) in arb_cluster()) {
        let mut cluster = ClusterView { nodes: nodes.clone(), ..Default::default() };
        let decisions = place(&mut cluster, &tasks);
        let mut placed = BTreeSet::new();
        for node in &nodes {
            let mine: Vec<&Decision> = decisions.iter().filter(|decision| decision.node == node.id).collect();
            prop_assert!(node.schedulable || mine.is_empty());
            prop_assert!(mine.len() as u32 <= node.slots_free);
            let option_of = |decision: &Decision| {
                tasks.iter().find(|task| task.id == decision.task)
                    .and_then(|task| task.options.iter().find(|option| option.backend == decision.backend))
                    .cloned()
                    .expect("decision names a task option")
            };
            let cpu: u32 = mine.iter().map(|decision| option_of(decision).demand.fitted_to(node.cpu_capacity).cpu_milli).sum();
            let memory: u32 = mine.iter().map(|decision| option_of(decision).demand.memory_mb).sum();
            prop_assert!(cpu <= node.cpu_free && memory <= node.memory_free_mb);
            for gpu in &node.gpus {
                let on_gpu: Vec<BackendOption> = mine.iter().filter(|decision| decision.gpu == Some(gpu.index)).map(|decision| option_of(decision)).collect();
                prop_assert!(on_gpu.iter().map(|option| option.demand.nvenc_sessions).sum::<u32>() <= gpu.nvenc_free);
                prop_assert!(on_gpu.iter().map(|option| option.demand.gpu_memory_mb).sum::<u32>() <= gpu.memory_free_mb);
            }
            for decision in mine {
                prop_assert!(placed.insert(decision.task), "task {} placed twice", decision.task);
            }
        }
    }

    #[test]
    fn every_feasible_task_is_eventually_placed((nodes, tasks) in arb_cluster()) {
        // A task is feasible when one of its options fits some ready node while it is empty.
        let feasible: BTreeSet<TaskId> = tasks.iter()
            .filter(|task| task.options.iter().any(|option| nodes.iter().any(|node| {
                node.gpus.iter().map(|gpu| Some(gpu.index)).chain([None]).any(|gpu| check_fit(node, option, gpu).is_ok())
            })))
            .map(|task| task.id)
            .collect();
        // Rounds: place on the empty cluster; every placed task then finishes.
        let mut waiting = tasks.clone();
        let mut placed = BTreeSet::new();
        for _round in 0..=tasks.len() {
            let mut cluster = ClusterView { nodes: nodes.clone(), ..Default::default() };
            let decisions = place(&mut cluster, &waiting);
            if decisions.is_empty() {
                break;
            }
            for decision in decisions {
                placed.insert(decision.task);
            }
            waiting.retain(|task| !placed.contains(&task.id));
        }
        prop_assert_eq!(&placed, &feasible);
    }
}

/// The straightforward rule the index must agree with: every node in position order, each
/// scored by the same `consider` the index uses, so only the index's pruning is under test.
fn best_by_scan(cluster: &ClusterView, option: &BackendOption, job: JobId) -> Option<(usize, Option<u32>, f64)> {
    let mut best = None;
    for (position, node) in cluster.nodes.iter().enumerate() {
        free_capacity::consider(node, position, option, job, &mut best);
    }
    best
}

/// A node of one of three shapes, partly busy, with some of three jobs' tasks on it.
fn arb_busy_node(id: NodeId) -> impl Strategy<Value = NodeView> {
    let shape = prop::sample::select(vec![2u32, 4, 8]);
    (shape, 0u32..=32, 0u32..=64, 0u32..=8, prop::collection::vec((0u32..=3, 0u32..=3), 0..=2), prop::collection::btree_map(1u64..=3, 1u32..=2, 0..=2), prop::bool::weighted(0.9))
        .prop_map(move |(cores, cpu_quarters, memory_steps, slots, gpus, tasks_per_job, schedulable)| {
            let gpus = gpus
                .iter()
                .enumerate()
                .map(|(index, (nvenc, used))| GpuView { nvenc_free: nvenc.saturating_sub(*used), ..gpu(index as u32, *nvenc) })
                .collect();
            let mut view = node(id, cores, gpus);
            view.cpu_free = view.cpu_capacity.saturating_sub(cpu_quarters * 250);
            view.memory_free_mb = view.memory_capacity_mb.saturating_sub(memory_steps * 256);
            view.slots_free = slots.min(view.slots_capacity);
            view.tasks_per_job = tasks_per_job;
            view.schedulable = schedulable;
            view
        })
}

fn arb_option() -> impl Strategy<Value = BackendOption> {
    prop_oneof![
        (prop::sample::select(vec![0u32, 250, 500, 1000, 2000, 4000]), prop::sample::select(vec![0u32, 256, 512, 1024, 2048])).prop_map(|(cpu, memory)| cpu_option(cpu, memory)),
        Just(nvenc_option()),
    ]
}

proptest! {
    #[test]
    fn the_index_picks_what_scanning_every_node_picks(
        nodes in (1usize..=30).prop_flat_map(|count| (1..=count as u64).map(arb_busy_node).collect::<Vec<_>>()),
        asks in prop::collection::vec((arb_option(), 1u64..=3), 1..=30),
    ) {
        let mut cluster = IndexedCluster::new(ClusterView { nodes, ..Default::default() });
        for (option, job) in &asks {
            let indexed = cluster.best(option, *job);
            prop_assert_eq!(indexed, best_by_scan(cluster.view(), option, *job));
            // Place it, so the next ask sees the index after a commit.
            if let Some((position, gpu, _)) = indexed {
                cluster.commit(position, *job, option, gpu);
            }
        }
    }
}
