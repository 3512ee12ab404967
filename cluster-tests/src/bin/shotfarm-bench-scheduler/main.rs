//! `shotfarm-bench-scheduler` (run as `shotfarm bench scheduler`): real replicas on loopback
//! and a swarm of simulated agents. Prints committed task assignments per second (saturated),
//! ready-to-assigned latency at half that load, and leader failover time (kill -9 the leader
//! process, time until the next assignment reaches an agent) over several trials, and the
//! leader's `/metrics` scrape latency during the saturation phase and after it, and the
//! dashboard's `/api/overview` from the leader and a follower with every agent connected.
//!
//! It lives beside the multi-process harness it drives, so the shipped `shotfarm` binary
//! links none of it. The replicas are the `shotfarm` binary that `SHOTFARM_BIN` names (set by
//! `shotfarm bench scheduler`), else the one beside this executable.
//!
//! `--in-process` measures the leader's placement and the state machine alone, at several
//! farm sizes, with no replicas or agents.
//!
//! | module | what |
//! | --- | --- |
//! | [`in_process`] | placement and apply cost per assignment at 100 to 10,000 nodes, memory per node and task |
//! | [`scrape_latency`] | a replica's `/metrics` or dashboard overview read back to back on a kept-alive connection |
//! | [`dashboard_render`] | the dashboard's first render in headless Chromium, every agent connected (`--dashboard-render`) |
//! | [`counting_allocator`] | the global allocator here: the system's, counting bytes allocated |

mod counting_allocator;
mod dashboard_render;
mod in_process;
mod scrape_latency;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::swarm::{self, PlacementWait, SwarmConfig, SwarmStats};
use shotfarm_scheduler::replica_node::clock::now_ms;
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, ListJobsRequest, ListNodesRequest, SubmitJobRequest};
use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use scrape_latency::Page;

#[derive(Debug, Parser)]
#[command(name = "shotfarm bench scheduler", bin_name = "shotfarm bench scheduler", about = "Committed assignments/s, ready→assigned latency and leader failover of real replicas")]
struct BenchSchedulerArgs {
    #[arg(long, default_value_t = 3)]
    pub replicas: u64,
    #[arg(long, default_value_t = 1000)]
    pub agents: usize,
    /// Tasks to run in the saturation phase (jobs of 100 chunks × 5 rungs: 614 tasks each).
    #[arg(long, default_value_t = 200_000)]
    pub tasks: u64,
    /// `/metrics` scrapes of the leader during the saturation phase at most (0: none).
    #[arg(long, default_value_t = 200)]
    pub scrapes: usize,
    /// Leader kill trials.
    #[arg(long, default_value_t = 5)]
    pub failovers: u32,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 5)]
    pub latency_seconds: u64,
    /// The latency phase's load, as a share of the saturated rate measured before it.
    #[arg(long, default_value_t = 0.5, value_parser = load_share)]
    pub latency_load: f64,
    #[arg(long)]
    pub json: bool,
    /// Replicas and agents without TLS and authentication (to measure what they cost).
    #[arg(long)]
    pub insecure: bool,
    /// With --insecure, one connection per simulated agent (as with TLS, where each agent has
    /// its own certificate) instead of 64 agents per connection: the like-for-like baseline.
    #[arg(long)]
    pub connection_per_agent: bool,
    /// Measure placement and apply in-process (no replicas, no agents) at each of
    /// `--farm-sizes` nodes with `--queued` tasks waiting.
    #[arg(long)]
    pub in_process: bool,
    /// In-process: farm sizes, in nodes.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub farm_sizes: Vec<usize>,
    /// In-process: tasks queued before the farm is filled.
    #[arg(long, default_value_t = 1_000_000)]
    pub queued: u64,
    /// In-process: placement rounds measured once the farm is full.
    #[arg(long, default_value_t = 200)]
    pub rounds: usize,
    /// In-process: results each of those rounds looks ahead at (the slots it places), applied
    /// with its assignments.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Also time the dashboard's first render in headless Chromium (this many page loads;
    /// 0: none). Needs node, Chromium and player-tests/node_modules (scripts/ensure-browser).
    #[arg(long, default_value_t = 0)]
    pub dashboard_render: usize,
}

#[global_allocator]
static ALLOCATOR: counting_allocator::CountingAllocator = counting_allocator::CountingAllocator;

const CHUNKS: u32 = 100;
const RUNGS: u32 = 5;
/// Inspect, ladder, package and report; an encode per chunk and rung; a score per chunk (its
/// rungs, one codec, scored together); an assemble and a validate per rung.
const TASKS_PER_BIG_JOB: u64 = 4 + (CHUNKS as u64) * (RUNGS as u64) + CHUNKS as u64 + 2 * (RUNGS as u64);
/// A one-chunk, one-rung job: 8 tasks in a chain-like DAG.
const TASKS_PER_SMALL_JOB: u64 = 8;

async fn submit(client: &LeaderClient, request_id: String, input: &str) -> anyhow::Result<String> {
    let request = SubmitJobRequest {
        request_id,
        spec: Some(v1::JobSpec { input_url: format!("file:///bench/{input}"), output_url: "file:///bench/out".to_owned(), ..Default::default() }),
        ..Default::default()
    };
    let response = client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
        })
        .await
        ?;
    Ok(response.job_id)
}

async fn count_finished(client: &LeaderClient) -> anyhow::Result<usize> {
    let jobs = client
        .call(|channel| async move {
            Ok(JobServiceClient::new(channel).list_jobs(ListJobsRequest { state: v1::JobState::Succeeded as i32, limit: 1000, ..Default::default() }).await?.into_inner())
        })
        .await
        ?;
    Ok(jobs.jobs.len())
}

/// Saturation: every job submitted at once; assignments per second between the first and
/// the last assignment.
async fn saturate(client: &LeaderClient, stats: &SwarmStats, tasks: u64, log: bool) -> anyhow::Result<f64> {
    let jobs = tasks.div_ceil(TASKS_PER_BIG_JOB).max(1);
    let before = stats.assignments.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut submissions = tokio::task::JoinSet::new();
    for job in 0..jobs {
        let (client_addrs, credentials) = (client.addrs().to_vec(), client.credentials().clone());
        submissions.spawn(async move {
            let client = LeaderClient::new(client_addrs, credentials);
            submit(&client, format!("bench-big-{job}"), &format!("c{CHUNKS}-r{RUNGS}.mp4")).await
        });
    }
    while let Some(submitted) = submissions.join_next().await {
        submitted.context("a submission task panicked")??;
    }
    let expected = before + jobs * TASKS_PER_BIG_JOB;
    let mut last_report = Instant::now();
    loop {
        let done = stats.assignments.load(Ordering::Relaxed);
        if done >= expected && count_finished(client).await? as u64 >= jobs.min(1000) {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("saturation phase did not finish in 600 s ({done} of {expected} assignments)");
        }
        if log && last_report.elapsed() > Duration::from_secs(2) {
            eprintln!("  saturation: {} / {} assignments, {:.0}/s", done - before, expected - before, (done - before) as f64 / start.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok((stats.assignments.load(Ordering::Relaxed) - before) as f64 / elapsed)
}

/// The latency phase's first seconds, at its load, are not measured: the farm is still
/// clearing what the saturation phase left (finished jobs compacted, their rows written),
/// which held tasks up to 110 ms for the first 1.4 s after it.
const LATENCY_WARM_UP: Duration = Duration::from_secs(2);

/// Small jobs submitted at a steady `tasks_per_sec`; after a warm-up, every task's wait from
/// becoming ready (leader's clock) to its assignment reaching the agent (agent's clock; one
/// machine), as the assignment reports it. Returns the sorted waits, and per task kind.
async fn latency(client: &LeaderClient, stats: &SwarmStats, tasks_per_sec: f64, seconds: u64) -> anyhow::Result<(Vec<f64>, BTreeMap<String, Vec<f64>>)> {
    let jobs_per_sec = (tasks_per_sec / TASKS_PER_SMALL_JOB as f64).max(1.0);
    let interval = Duration::from_secs_f64(1.0 / jobs_per_sec);
    let measured_from = Instant::now() + LATENCY_WARM_UP;
    let deadline = measured_from + Duration::from_secs(seconds);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut submissions = tokio::task::JoinSet::new();
    let mut index = 0u64;
    // One client, as a pipeline's submitter keeps its connection: a TLS handshake per job
    // would load the machine being measured.
    let submitter = std::sync::Arc::new(LeaderClient::new(client.addrs().to_vec(), client.credentials().clone()));
    let started_ms = now_ms() + LATENCY_WARM_UP.as_millis() as u64;
    let mut measured_jobs = 0;
    while Instant::now() < deadline {
        ticker.tick().await;
        index += 1;
        if Instant::now() >= measured_from {
            measured_jobs += 1;
        }
        let submitter = submitter.clone();
        submissions.spawn(async move { submit(&submitter, format!("bench-small-{index}"), "c1-r1.mp4").await });
    }
    while let Some(submitted) = submissions.join_next().await {
        submitted.context("a submission task panicked")??;
    }
    let expected = measured_jobs * TASKS_PER_SMALL_JOB as usize;
    let all_waits = || stats.placement_waits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let in_phase = |wait: &&PlacementWait| wait.arrived_ms >= started_ms;
    wait_until(Duration::from_secs(30), "every task of the latency phase is assigned", || async { all_waits().iter().filter(in_phase).count() >= expected }).await?;
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut waits = Vec::new();
    for wait in all_waits().iter().filter(in_phase) {
        by_kind.entry(wait.kind.clone()).or_default().push(wait.waited_ms as f64);
        waits.push(wait.waited_ms as f64);
    }
    waits.sort_by(f64::total_cmp);
    for samples in by_kind.values_mut() {
        samples.sort_by(f64::total_cmp);
    }
    Ok((waits, by_kind))
}

/// Kills the leader with a trickle of work queued; time until an assignment arrives again.
async fn failover(cluster: &mut SchedulerCluster, client: &LeaderClient, stats: &SwarmStats, trial: u32) -> anyhow::Result<f64> {
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    // Work that keeps arriving through the failover.
    let stop = CancellationToken::new();
    let trickle = {
        let (addrs, credentials) = (client.addrs().to_vec(), client.credentials().clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let client = LeaderClient::new(addrs, credentials);
            let mut index = 0;
            while !stop.is_cancelled() {
                index += 1;
                let _ = submit(&client, format!("bench-failover-{trial}-{index}"), "c1-r1.mp4").await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.kill(leader)?;
    let killed_at = Instant::now();
    let outcome = wait_until(Duration::from_secs(20), "an assignment arrives after the leader was killed", || async {
        stats.last_assignment().is_some_and(|at| at > killed_at)
    })
    .await;
    let took = killed_at.elapsed();
    stop.cancel();
    let _ = trickle.await;
    outcome?;
    let elapsed = stats.last_assignment().map_or(took, |at| at.duration_since(killed_at));
    cluster.restart(leader)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(elapsed.as_secs_f64() * 1000.0)
}

fn main() -> ExitCode {
    let args = BenchSchedulerArgs::parse();
    if args.in_process {
        let plan = in_process::InProcessPlan { queued: args.queued, rounds: args.rounds, batch: args.batch, seed: 20 };
        return match in_process::run(&args.farm_sizes, plan, args.json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.replicas == 0 || args.agents == 0 {
        eprintln!("error: --replicas and --agents must be at least 1");
        return ExitCode::from(2);
    }
    if args.insecure && args.dashboard_render > 0 {
        eprintln!("error: --dashboard-render measures the page as an operator signs in to it, on a TLS farm; leave out --insecure");
        return ExitCode::from(2);
    }
    let outcome = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(anyhow::Error::from).and_then(|runtime| runtime.block_on(run(args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchSchedulerArgs) -> anyhow::Result<()> {
    let log = !args.json;
    let mut cluster = SchedulerCluster::start(args.replicas, if args.insecure { &["--insecure"] } else { &[] })?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = cluster.client();
    let stop = CancellationToken::new();
    let mut swarm_config = SwarmConfig { max_tasks: 8, cpu_cores: 8, ..SwarmConfig::for_cluster(&cluster, args.agents) };
    if args.connection_per_agent {
        swarm_config.agents_per_connection = 1;
    }
    let stats = swarm::start(swarm_config, stop.clone())?;
    let agents = args.agents;
    wait_until(Duration::from_secs(60), "every simulated agent registered", || async {
        let listed = client.call(|channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner()) }).await;
        listed.is_ok_and(|nodes| nodes.nodes.len() >= agents) && stats.sessions_opened.load(Ordering::Relaxed) as usize >= agents
    })
    .await
    ?;
    if log {
        eprintln!("{} replicas, {} simulated agents registered; saturating with {} tasks", args.replicas, args.agents, args.tasks);
    }
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let leader_http = cluster.replicas.get(&leader).context("the leader's replica")?.http.parse()?;
    let stop_scraping = CancellationToken::new();
    let scraper = scrape_latency::scraper_for(&cluster)?;
    let scrapes = tokio::spawn(scrape_latency::measure(scraper.clone(), leader_http, Page::Metrics, args.scrapes, stop_scraping.clone()));
    let throughput = saturate(&client, &stats, args.tasks, log).await;
    stop_scraping.cancel();
    let scrapes = scrapes.await.context("the scrape task panicked")??;
    let throughput = throughput?;
    if log {
        eprintln!("  {throughput:.0} assignments/s; latency phase at {:.0} % load for {} s after {} s of warm-up", args.latency_load * 100.0, args.latency_seconds, LATENCY_WARM_UP.as_secs());
    }
    let (latencies, latencies_by_kind) = latency(&client, &stats, throughput * args.latency_load, args.latency_seconds).await?;
    // The same scrapes once the work is done and only the agents' heartbeats and sessions go on.
    let idle_scrapes = scrape_latency::measure(scraper.clone(), leader_http, Page::Metrics, args.scrapes.min(100), CancellationToken::new()).await?;
    // The dashboard's overview from a follower (relayed to the leader, as most browsers will
    // meet it) and from the leader, with every agent connected.
    let overview = Page::DashboardOverview { nodes: args.agents };
    let follower_http = cluster.replicas.values().find(|replica| replica.id != leader).map_or(Ok(leader_http), |replica| replica.http.parse())?;
    let overviews_leader = scrape_latency::measure(scraper.clone(), leader_http, overview, args.scrapes.min(50), CancellationToken::new()).await?;
    let overviews_follower = scrape_latency::measure(scraper, follower_http, overview, args.scrapes.min(50), CancellationToken::new()).await?;
    let first_renders = if args.dashboard_render > 0 { dashboard_render::measure(&client, follower_http, args.agents, args.dashboard_render).await? } else { Vec::new() };
    let mut failovers = Vec::new();
    if args.replicas >= 3 {
        for trial in 0..args.failovers {
            let took = failover(&mut cluster, &client, &stats, trial).await?;
            if log {
                eprintln!("  failover trial {}: {took:.0} ms", trial + 1);
            }
            failovers.push(took);
        }
    }
    stop.cancel();
    failovers.sort_by(f64::total_cmp);
    let summary = serde_json::json!({
        "replicas": args.replicas,
        "agents": args.agents,
        "tasks": args.tasks,
        "assignments_per_sec": throughput.round(),
        "latency_samples": latencies.len(),
        "latency_p50_ms": percentile(&latencies, 0.5),
        "latency_p99_ms": percentile(&latencies, 0.99),
        "latency_load": args.latency_load,
        "latency_by_kind": latencies_by_kind.iter().map(|(kind, samples)| (kind.clone(), serde_json::json!({"samples": samples.len(), "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)}))).collect::<serde_json::Map<_, _>>(),
        "failover_trials_ms": failovers.iter().map(|ms| ms.round()).collect::<Vec<_>>(),
        "failover_ms_median": percentile(&failovers, 0.5).round(),
        "failover_ms_max": failovers.last().copied().unwrap_or(f64::NAN).round(),
        "results_refused": stats.acks_refused.load(Ordering::Relaxed),
        "scrapes": scrapes.samples_ms.len(),
        "scrape_p50_ms": percentile(&scrapes.samples_ms, 0.5),
        "scrape_p99_ms": percentile(&scrapes.samples_ms, 0.99),
        "scrape_max_ms": scrapes.samples_ms.last().copied().unwrap_or(f64::NAN),
        "scrape_bytes": scrapes.body_bytes,
        "scrape_idle_p50_ms": percentile(&idle_scrapes.samples_ms, 0.5),
        "scrape_idle_p99_ms": percentile(&idle_scrapes.samples_ms, 0.99),
        "overview_leader_p50_ms": percentile(&overviews_leader.samples_ms, 0.5),
        "overview_leader_p99_ms": percentile(&overviews_leader.samples_ms, 0.99),
        "overview_follower_p50_ms": percentile(&overviews_follower.samples_ms, 0.5),
        "overview_follower_p99_ms": percentile(&overviews_follower.samples_ms, 0.99),
        "overview_bytes": overviews_leader.body_bytes,
        "dashboard_first_render_ms": first_renders,
    });
    if args.json {
        println!("{summary}");
    } else {
        println!("assignments/s committed (saturated):   {:.0}", throughput);
        println!(
            "ready→assigned at {:.0} % load, p50/p99: {:.1} ms / {:.1} ms ({} tasks)",
            args.latency_load * 100.0,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.len()
        );
        for (kind, samples) in &latencies_by_kind {
            println!("  {kind:<10} p50/p99: {:.1} ms / {:.1} ms ({} tasks)", percentile(samples, 0.5), percentile(samples, 0.99), samples.len());
        }
        println!("leader kill -9 → next assignment:      median {:.0} ms, max {:.0} ms ({} trials)", percentile(&failovers, 0.5), failovers.last().copied().unwrap_or(f64::NAN), failovers.len());
        println!(
            "leader /metrics scrape while saturated, p50/p99/max: {:.2} ms / {:.2} ms / {:.2} ms ({} scrapes of {} bytes)",
            percentile(&scrapes.samples_ms, 0.5),
            percentile(&scrapes.samples_ms, 0.99),
            scrapes.samples_ms.last().copied().unwrap_or(f64::NAN),
            scrapes.samples_ms.len(),
            scrapes.body_bytes
        );
        println!(
            "leader /metrics scrape, work done, agents connected, p50/p99: {:.2} ms / {:.2} ms ({} scrapes)",
            percentile(&idle_scrapes.samples_ms, 0.5),
            percentile(&idle_scrapes.samples_ms, 0.99),
            idle_scrapes.samples_ms.len()
        );
        for (replica, overviews) in [("leader", &overviews_leader), ("follower", &overviews_follower)] {
            println!(
                "dashboard /api/overview from the {replica}, agents connected, p50/p99: {:.2} ms / {:.2} ms ({} reads of {} bytes)",
                percentile(&overviews.samples_ms, 0.5),
                percentile(&overviews.samples_ms, 0.99),
                overviews.samples_ms.len(),
                overviews.body_bytes
            );
        }
        if !first_renders.is_empty() {
            println!(
                "dashboard first render in Chromium from the follower, every node shown, median/max: {:.0} ms / {:.0} ms ({} loads)",
                percentile(&first_renders, 0.5),
                first_renders.last().copied().unwrap_or(f64::NAN),
                first_renders.len()
            );
        }
    }
    Ok(())
}

/// A share of the saturated rate: above 0, at most 1.
fn load_share(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("{value} is not a share of the saturated rate; give a number above 0 and at most 1 (0.5: half load)")),
    }
}

/// The sample at `fraction` (0..=1) of the sorted `sorted`, nearest rank; NaN for none.
fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_small_samples() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&sorted, 0.5), 3.0);
        assert_eq!(percentile(&sorted, 0.99), 5.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
