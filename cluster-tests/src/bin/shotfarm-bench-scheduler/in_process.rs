//! `--in-process`: the leader's placement rounds (`Placer`) and the real state machine
//! (`apply`) at farm scale, with no network, Raft or storage: what one assignment costs the
//! leader as the farm grows.
//!
//! Per farm size: register the nodes, queue the work (jobs of 1,000 one-rung chunks driven
//! through inspection and ladder with synthetic results, until the queue holds `--queued`
//! tasks), fill the farm, then run rounds as a busy leader does: one placement round looks
//! ahead at `--batch` results and places the slots they free, then the results and the
//! round's `Assign`s apply in that order, as the one entry that carries them does. Memory is
//! the bytes the counting allocator holds (requested sizes, not RSS) before and after.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shotfarm_proto::pipeline::{TaskKind, TaskSpec};
use shotfarm_scheduler::machine::{Command, Outcome, apply};
use shotfarm_scheduler::replica_node::leader::Placer;
use shotfarm_scheduler::metrics::ReplicaMetrics;
use shotfarm_scheduler::state::State;
use shotfarm_scheduler::state::model::{JobId, JobSpec, NodeCapabilities, NodeId, TaskId, TaskState};
use shotfarm_scheduler::synthetic;

use crate::counting_allocator::allocated_bytes;

/// Chunks per bench job: one encode each (one rung, no scoring).
const CHUNKS_PER_JOB: u32 = 1000;

#[derive(Debug, Clone, Copy)]
pub struct InProcessPlan {
    pub queued: u64,
    pub rounds: usize,
    pub batch: usize,
    pub seed: u64,
}

/// What one farm size measured. Times in microseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FarmFigures {
    pub nodes: usize,
    pub tasks: usize,
    pub queued: usize,
    pub state_bytes_per_node: f64,
    pub state_bytes_per_task: f64,
    pub placer_bytes_per_node: f64,
    pub fill_assignments: usize,
    pub fill_placement_us_per_assignment: f64,
    pub steady_assignments: usize,
    pub placement_us_per_assignment_p50: f64,
    pub placement_us_per_assignment_p99: f64,
    pub placement_us_per_assignment_mean: f64,
    pub apply_assign_us_p50: f64,
    pub apply_assign_us_p99: f64,
    pub apply_result_us_p50: f64,
    pub apply_result_us_p99: f64,
    /// `/metrics`: counting the state's tasks, jobs and nodes (the driver does it once a
    /// second), and encoding the registry (every scrape).
    pub metrics_count_us: f64,
    pub metrics_encode_us: f64,
}

fn capabilities() -> NodeCapabilities {
    NodeCapabilities {
        cpu_cores: 8,
        memory_mb: 16_384,
        gpus: Vec::new(),
        backends: ["cpu".to_owned()].into(),
        encoders: ["libx264", "libx265", "libsvtav1"].map(str::to_owned).into(),
        ffmpeg_version: "simulated".to_owned(),
        agent_version: "bench".to_owned(),
        max_tasks: 8,
    }
}

fn job_spec() -> JobSpec {
    JobSpec { input_url: "file:///bench/in.mp4".to_owned(), output_url: "file:///bench/out".to_owned(), score_quality: false, ..JobSpec::for_tests() }
}

/// The synthetic result of a running task, as a simulated agent would send it.
fn result_of(state: &State, task: TaskId) -> anyhow::Result<Command> {
    let task = state.tasks.get(&task).with_context(|| format!("task {task} is gone"))?;
    let spec: TaskSpec = serde_json::from_str(task.spec_json.as_deref().unwrap_or_default()).with_context(|| format!("task {} has no valid spec", task.id))?;
    let output = synthetic::output_for(&spec, CHUNKS_PER_JOB, 1);
    Ok(Command::CompleteTask { task: task.id, attempt: task.attempt, backend: "cpu".to_owned(), output_json: serde_json::to_string(&output)?, now_ms: 0, cpu_micros: 1 })
}

fn must_apply(state: &mut State, command: &Command) -> anyhow::Result<Outcome> {
    let (outcome, _) = apply(state, command);
    // Storage drains the changed rows at every persist; nothing persists here.
    state.take_dirty();
    if let Outcome::Refused(refusal) = &outcome {
        bail!("the state machine refused a bench command: {refusal}");
    }
    Ok(outcome)
}

/// Submits one job and runs its inspection and ladder on `node`, leaving its encodes queued.
fn queue_job(state: &mut State, index: u64, node: NodeId) -> anyhow::Result<()> {
    let submitted = must_apply(state, &Command::SubmitJob { request_id: format!("bench-{index}"), owner: String::new(), spec: job_spec(), now_ms: 0, trace_parent: None })?;
    let Outcome::JobSubmitted { job, .. } = submitted else { bail!("submitting a bench job answered {submitted:?}") };
    while let Some(task) = first_queued(state, job, &[TaskKind::Inspect, TaskKind::Ladder]) {
        must_apply(state, &Command::Assign { task, attempt: 1, node, backend: "cpu".to_owned(), gpu: None, now_ms: 0 })?;
        let result = result_of(state, task)?;
        must_apply(state, &result)?;
    }
    Ok(())
}

fn first_queued(state: &State, job: JobId, kinds: &[TaskKind]) -> Option<TaskId> {
    let job = state.jobs.get(&job)?;
    job.tasks.iter().copied().find(|id| state.tasks.get(id).is_some_and(|task| task.state == TaskState::Queued && kinds.contains(&task.kind)))
}

/// Apply times, in microseconds, of each kind of command.
#[derive(Default)]
struct ApplyTimes {
    assign_us: Vec<f64>,
    result_us: Vec<f64>,
}

/// One placement round looking ahead at `results`, then its entry applied: the results,
/// then the round's assignments. Returns (round time, tasks placed).
fn place_and_assign(state: &mut State, placer: &mut Placer, results: &[Command], times: &mut ApplyTimes) -> anyhow::Result<(f64, Vec<TaskId>)> {
    placer.mark_due();
    let started = Instant::now();
    let round = placer.round(state, results);
    let round_us = started.elapsed().as_secs_f64() * 1e6;
    for result in results {
        let started = Instant::now();
        must_apply(state, result)?;
        times.result_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let Some((commands, placed)) = round else { return Ok((round_us, Vec::new())) };
    for command in &commands {
        let started = Instant::now();
        must_apply(state, command)?;
        times.assign_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    placer.settled(placed.iter().copied());
    Ok((round_us, placed))
}

pub fn measure(nodes: usize, plan: InProcessPlan, log: bool) -> anyhow::Result<FarmFigures> {
    let mut state = State::default();
    let before_nodes = allocated_bytes();
    for index in 0..nodes {
        must_apply(&mut state, &Command::RegisterNode { name: format!("node-{index}"), capabilities: capabilities(), labels: BTreeMap::new(), held: Vec::new(), now_ms: 0 })?;
    }
    let state_bytes_per_node = allocated_bytes().saturating_sub(before_nodes) as f64 / nodes as f64;
    let first_node = *state.nodes.keys().next().context("no node registered")?;
    let before_tasks = allocated_bytes();
    let mut jobs = 0;
    while (state.queued_len() as u64) < plan.queued {
        queue_job(&mut state, jobs, first_node)?;
        jobs += 1;
    }
    let state_bytes_per_task = allocated_bytes().saturating_sub(before_tasks) as f64 / state.tasks.len().max(1) as f64;
    let (tasks, queued) = (state.tasks.len(), state.queued_len());
    if log {
        eprintln!("  {nodes} nodes: {tasks} tasks in {jobs} jobs, {queued} queued; filling the farm");
    }

    let mut placer = Placer::default();
    let mut running: Vec<TaskId> = Vec::new();
    let mut fill_times = ApplyTimes::default();
    let before_placer = allocated_bytes();
    let (mut fill_us, first_placed) = place_and_assign(&mut state, &mut placer, &[], &mut fill_times)?;
    let placer_bytes_per_node = allocated_bytes().saturating_sub(before_placer) as f64 / nodes as f64;
    running.extend(first_placed);
    loop {
        let (round_us, placed) = place_and_assign(&mut state, &mut placer, &[], &mut fill_times)?;
        fill_us += round_us;
        if placed.is_empty() {
            break;
        }
        running.extend(placed);
    }
    let fill_assignments = running.len();
    let steady_need = plan.rounds.saturating_mul(plan.batch);
    if state.queued_len() < steady_need {
        bail!(
            "filling {nodes} nodes left {} tasks queued, fewer than the {steady_need} the rounds place (--rounds x --batch): \
             queue more with --queued (at least {} here)",
            state.queued_len(),
            fill_assignments + steady_need
        );
    }

    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut per_assignment_us = Vec::new();
    let mut steady = ApplyTimes::default();
    let mut steady_assignments = 0;
    for _ in 0..plan.rounds {
        let mut results = Vec::new();
        for _ in 0..plan.batch.min(running.len()) {
            let task = running.swap_remove(rng.random_range(0..running.len()));
            results.push(result_of(&state, task)?);
        }
        let (round_us, placed) = place_and_assign(&mut state, &mut placer, &results, &mut steady)?;
        if !placed.is_empty() {
            per_assignment_us.push(round_us / placed.len() as f64);
            steady_assignments += placed.len();
        }
        running.extend(placed);
    }
    per_assignment_us.sort_by(f64::total_cmp);
    let ApplyTimes { assign_us: mut steady_assign_us, mut result_us } = steady;
    steady_assign_us.sort_by(f64::total_cmp);
    result_us.sort_by(f64::total_cmp);
    let mean = per_assignment_us.iter().sum::<f64>() / per_assignment_us.len().max(1) as f64;
    let (metrics_count_us, metrics_encode_us) = metrics_cost(&state)?;
    Ok(FarmFigures {
        nodes,
        tasks,
        queued,
        state_bytes_per_node,
        state_bytes_per_task,
        placer_bytes_per_node,
        fill_assignments,
        fill_placement_us_per_assignment: fill_us / fill_assignments.max(1) as f64,
        steady_assignments,
        placement_us_per_assignment_p50: crate::percentile(&per_assignment_us, 0.5),
        placement_us_per_assignment_p99: crate::percentile(&per_assignment_us, 0.99),
        placement_us_per_assignment_mean: mean,
        apply_assign_us_p50: crate::percentile(&steady_assign_us, 0.5),
        apply_assign_us_p99: crate::percentile(&steady_assign_us, 0.99),
        apply_result_us_p50: crate::percentile(&result_us, 0.5),
        apply_result_us_p99: crate::percentile(&result_us, 0.99),
        metrics_count_us,
        metrics_encode_us,
    })
}

/// The mean time to count `state` for the metrics and to encode the registry, over a few
/// tries.
fn metrics_cost(state: &State) -> anyhow::Result<(f64, f64)> {
    const TRIES: u32 = 5;
    let metrics = ReplicaMetrics::default();
    let started = Instant::now();
    for _ in 0..TRIES {
        metrics.scheduling.count(state);
    }
    let count_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(TRIES);
    let started = Instant::now();
    for _ in 0..TRIES {
        metrics.encode()?;
    }
    Ok((count_us, started.elapsed().as_secs_f64() * 1e6 / f64::from(TRIES)))
}

/// Runs every farm size and prints the figures and the 10,000-vs-100-node ratio (the largest
/// size against the smallest).
pub fn run(sizes: &[usize], plan: InProcessPlan, json: bool) -> anyhow::Result<()> {
    if sizes.is_empty() || sizes.contains(&0) {
        bail!("--farm-sizes needs at least one size, each at least 1 node (e.g. 100,1000,10000)");
    }
    if plan.batch == 0 || plan.rounds == 0 {
        bail!("--batch and --rounds must be at least 1");
    }
    let mut figures = Vec::new();
    for &nodes in sizes {
        let farm = measure(nodes, plan, !json)?;
        if !json {
            print_farm(&farm);
        }
        figures.push(farm);
    }
    let (smallest, largest) = (figures.iter().min_by_key(|farm| farm.nodes), figures.iter().max_by_key(|farm| farm.nodes));
    let ratio = match (smallest, largest) {
        (Some(small), Some(large)) => large.placement_us_per_assignment_p50 / small.placement_us_per_assignment_p50,
        _ => f64::NAN,
    };
    if json {
        println!("{}", serde_json::json!({ "farms": figures, "placement_ratio_largest_vs_smallest": ratio }));
    } else if let (Some(small), Some(large)) = (smallest, largest) {
        println!("placement per assignment (steady p50), {} nodes vs {}: {ratio:.2}x (goal <= 4x)", large.nodes, small.nodes);
    }
    Ok(())
}

fn print_farm(farm: &FarmFigures) {
    println!("{} nodes, {} tasks ({} queued):", farm.nodes, farm.tasks, farm.queued);
    println!("  memory (allocated bytes): state {:.0} B/node, {:.0} B/task; placer keeps {:.0} B/node", farm.state_bytes_per_node, farm.state_bytes_per_task, farm.placer_bytes_per_node);
    println!("  fill: {} assignments, placement {:.2} us/assignment", farm.fill_assignments, farm.fill_placement_us_per_assignment);
    println!(
        "  steady ({} assignments): placement per assignment p50 {:.2} us, p99 {:.2} us, mean {:.2} us",
        farm.steady_assignments, farm.placement_us_per_assignment_p50, farm.placement_us_per_assignment_p99, farm.placement_us_per_assignment_mean
    );
    println!(
        "  apply: Assign p50 {:.2} us, p99 {:.2} us; CompleteTask p50 {:.2} us, p99 {:.2} us",
        farm.apply_assign_us_p50, farm.apply_assign_us_p99, farm.apply_result_us_p50, farm.apply_result_us_p99
    );
    println!("  /metrics: counting the state {:.0} us (once a second), encoding the registry {:.0} us (each scrape)", farm.metrics_count_us, farm.metrics_encode_us);
}
