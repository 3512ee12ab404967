//! Randomized fault schedules: each a timed sequence, over a few seconds, of kill -9 and
//! restart, pause and resume, isolation, one-link cuts, one-way drops and delays — aimed at
//! the leader or a follower — while clients submit jobs (each retried under its request id
//! until acknowledged) and a swarm of simulated agents runs them. After healing: every
//! acknowledged job is on the leader and finishes within a bound, the jobs equal the
//! acknowledged submissions (none lost, none doubled by a retried request id), the
//! recorded client history is linearizable, and every replica's audit trail keeps the
//! safety invariants ([`invariants`]: one applied history, leases, no over-commit).
//!
//! Seeded: the run's seed and every schedule's seed are printed. `SHOTFARM_FAULT_SEED=S`
//! replays one schedule; `SHOTFARM_SOAK=N` runs N schedules (about 3.5 s each; nextest ends
//! a test after 5 minutes, so long soaks run under `cargo test -p shotfarm-cluster-tests
//! --test cluster t90 -- --nocapture`). Several schedules share one
//! cluster (start-up amortised); a failure keeps that cluster's logs, data directories and
//! the history, and prints where.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::history::Recorder;
use shotfarm_cluster_tests::{invariants, linearizability};
use shotfarm_cluster_tests::proxy::{Direction, LinkProxy};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1;
use shotfarm_security::Credentials;
use tokio_util::sync::CancellationToken;

use crate::support::{all_jobs, client, step};

/// Fault schedules per run, unless `SHOTFARM_SOAK` says otherwise.
const SCHEDULES: usize = 20;
/// Schedules run on one cluster before a fresh one starts.
const SCHEDULES_PER_CLUSTER: usize = 5;
/// Every this many clusters, one has five replicas instead of three (two faults at once
/// then still leave a majority, and elections have more candidates).
const FIVE_REPLICAS_EVERY: usize = 4;
/// Faults begin within this window; the last one has healed by its end.
const FAULT_WINDOW: Duration = Duration::from_secs(3);
const CLIENTS: usize = 3;
/// One client try; then the next try starts at another replica.
const TRY_FOR: Duration = Duration::from_secs(1);
/// A submission not acknowledged this long after healing fails the schedule.
const ACKNOWLEDGE_WITHIN: Duration = Duration::from_secs(30);
/// Every acknowledged job finishes this long after healing (liveness).
const FINISH_WITHIN: Duration = Duration::from_secs(30);
const JOB_INPUT: &str = "file:///sim/c2-r1.mp4";

/// Which replica a fault hits, resolved when it begins.
#[derive(Debug, Clone, Copy)]
enum Target {
    Leader,
    /// The n-th follower (modulo how many there are).
    Follower(usize),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// kill -9; restarted when the fault ends.
    Kill(Target),
    /// SIGSTOP; SIGCONT when the fault ends.
    Pause(Target),
    /// Every link to and from it blackholed, and its front door.
    Isolate(Target),
    /// One directed link blackholed.
    Cut(Target, Target),
    /// One directed link losing the bytes one way.
    DropOneWay(Target, Target, Direction),
    /// Every replica link slowed.
    Delay { fixed_ms: u64, jitter_ms: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Timed {
    start: Duration,
    length: Duration,
    fault: Fault,
}

/// A schedule drawn from `seed`: two to four overlapping faults within [`FAULT_WINDOW`].
fn schedule(seed: u64) -> Vec<Timed> {
    let mut rng = StdRng::seed_from_u64(seed);
    let window = FAULT_WINDOW.as_millis() as u64;
    (0..rng.random_range(2..=4))
        .map(|_| {
            let target = |rng: &mut StdRng| if rng.random_bool(0.5) { Target::Leader } else { Target::Follower(rng.random_range(0..4)) };
            // Two different replicas: leader and a follower either way, or two followers.
            let ends = |rng: &mut StdRng| {
                let follower = rng.random_range(0..4);
                match rng.random_range(0..3) {
                    0 => (Target::Leader, Target::Follower(follower)),
                    1 => (Target::Follower(follower), Target::Leader),
                    _ => (Target::Follower(follower), Target::Follower(follower + 1)),
                }
            };
            let fault = match rng.random_range(0..6) {
                0 => Fault::Kill(target(&mut rng)),
                1 => Fault::Pause(target(&mut rng)),
                2 => Fault::Isolate(target(&mut rng)),
                3 => {
                    let (from, to) = ends(&mut rng);
                    Fault::Cut(from, to)
                }
                4 => {
                    let (from, to) = ends(&mut rng);
                    Fault::DropOneWay(from, to, if rng.random_bool(0.5) { Direction::ToTarget } else { Direction::FromTarget })
                }
                _ => Fault::Delay { fixed_ms: rng.random_range(5..60), jitter_ms: rng.random_range(0..40) },
            };
            let start = rng.random_range(0..window * 5 / 6);
            let length = rng.random_range(300..1500).min(window - start);
            Timed { start: Duration::from_millis(start), length: Duration::from_millis(length), fault }
        })
        .collect()
}

/// A proxy a fault changed, to heal when it ends.
#[derive(Debug, Clone, Copy)]
enum Touched {
    FrontDoor(u64),
    Link(u64, u64),
}

/// What a begun fault left to undo.
#[derive(Debug, Default)]
struct Undo {
    restart: Option<u64>,
    resume: Option<u64>,
    heal: Vec<Touched>,
    /// The leader was hit (killed, paused or isolated) at this instant.
    leader_hit: Option<Instant>,
}

/// Carries faults out on one cluster, remembering which replicas are down.
struct Injector<'a> {
    cluster: &'a mut SchedulerCluster,
    killed: BTreeSet<u64>,
    paused: BTreeSet<u64>,
}

impl Injector<'_> {
    fn up(&self) -> Vec<u64> {
        self.cluster.replicas.keys().copied().filter(|id| !self.killed.contains(id) && !self.paused.contains(id)).collect()
    }

    /// The leader as the replicas that answer report it (a paused or partitioned old leader
    /// may still think it leads: the majority's word wins).
    fn resolve(&self, target: Target, leader: Option<u64>) -> Option<u64> {
        let up = self.up();
        match target {
            Target::Leader => leader.filter(|id| up.contains(id)),
            Target::Follower(n) => {
                let followers: Vec<u64> = up.into_iter().filter(|id| Some(*id) != leader).collect();
                (!followers.is_empty()).then(|| followers[n % followers.len()])
            }
        }
    }

    fn proxy(&self, touched: Touched) -> anyhow::Result<&LinkProxy> {
        let network = self.cluster.network()?;
        match touched {
            Touched::FrontDoor(id) => network.front_door(id),
            Touched::Link(from, to) => network.link(from, to),
        }
    }

    async fn begin(&mut self, fault: Fault) -> anyhow::Result<(String, Undo)> {
        let leader = self.cluster.leader().await.map(|(id, _)| id);
        let mut undo = Undo::default();
        let described = match fault {
            Fault::Kill(target) | Fault::Pause(target) | Fault::Isolate(target) => {
                let Some(id) = self.resolve(target, leader) else { return Ok((format!("{fault:?}: no such replica up, skipped"), undo)) };
                if Some(id) == leader {
                    undo.leader_hit = Some(Instant::now());
                }
                match fault {
                    Fault::Kill(_) => {
                        self.cluster.kill(id)?;
                        self.killed.insert(id);
                        undo.restart = Some(id);
                    }
                    Fault::Pause(_) => {
                        self.cluster.pause(id)?;
                        self.paused.insert(id);
                        undo.resume = Some(id);
                    }
                    _ => {
                        let network = self.cluster.network()?;
                        network.isolate(id);
                        undo.heal.push(Touched::FrontDoor(id));
                        undo.heal.extend(network.links().filter(|(from, to)| *from == id || *to == id).map(|(from, to)| Touched::Link(from, to)));
                    }
                }
                format!("{fault:?} → replica {id}{}", if Some(id) == leader { " (the leader)" } else { "" })
            }
            Fault::Cut(from, to) | Fault::DropOneWay(from, to, _) => {
                let (Some(from), Some(to)) = (self.resolve(from, leader), self.resolve(to, leader)) else {
                    return Ok((format!("{fault:?}: no such replicas up, skipped"), undo));
                };
                if from == to {
                    return Ok((format!("{fault:?}: both ends are replica {from}, skipped"), undo));
                }
                let link = self.cluster.network()?.link(from, to)?;
                match fault {
                    Fault::DropOneWay(_, _, direction) => link.drop_direction(direction),
                    _ => link.blackhole(),
                }
                undo.heal.push(Touched::Link(from, to));
                format!("{fault:?} → link {from}→{to}")
            }
            Fault::Delay { fixed_ms, jitter_ms } => {
                let network = self.cluster.network()?;
                for (from, to) in network.links().collect::<Vec<_>>() {
                    network.link(from, to)?.delay(Duration::from_millis(fixed_ms), Duration::from_millis(jitter_ms));
                    undo.heal.push(Touched::Link(from, to));
                }
                format!("{fault:?} → every replica link")
            }
        };
        Ok((described, undo))
    }

    fn end(&mut self, undo: &Undo) -> anyhow::Result<()> {
        if let Some(id) = undo.restart {
            self.cluster.restart(id)?;
            self.killed.remove(&id);
        }
        if let Some(id) = undo.resume {
            self.cluster.resume(id)?;
            self.paused.remove(&id);
        }
        for touched in &undo.heal {
            self.proxy(*touched)?.heal();
        }
        Ok(())
    }

    /// Everything up and every link healthy.
    fn heal_all(&mut self) -> anyhow::Result<()> {
        for id in std::mem::take(&mut self.paused) {
            self.cluster.resume(id)?;
        }
        for id in std::mem::take(&mut self.killed) {
            self.cluster.restart(id)?;
        }
        self.cluster.network()?.heal();
        Ok(())
    }
}

/// A successful client try: when it was sent and when it was acknowledged.
#[derive(Debug, Clone, Copy)]
struct Acknowledgement {
    sent: Instant,
    acknowledged: Instant,
}

fn leader_client(addrs: &[String], credentials: &Credentials, rotation: usize) -> LeaderClient {
    let mut rotated = addrs.to_vec();
    rotated.rotate_left(rotation % addrs.len().max(1));
    let mut client = LeaderClient::new(rotated, credentials.clone());
    client.patience = TRY_FOR;
    client
}

/// Submits jobs one after another until `stop` fires, each retried under its request id
/// until acknowledged. Each try gives up after [`TRY_FOR`] and the next try starts at the
/// next replica (a `LeaderClient` alone waits on a partitioned replica until HTTP/2
/// keep-alive gives up, about 15 s). Returns (request id, job id) per acknowledged job.
async fn client_loop(
    addrs: Vec<String>,
    credentials: Credentials,
    recorder: Recorder,
    prefix: String,
    stop: CancellationToken,
    acknowledgements: Arc<Mutex<Vec<Acknowledgement>>>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rotation = 0;
    let mut client = leader_client(&addrs, &credentials, rotation);
    let mut acknowledged = Vec::new();
    for index in 0.. {
        if stop.is_cancelled() {
            break;
        }
        let request_id = format!("{prefix}-{index}");
        let first_try = Instant::now();
        let job_id = loop {
            let sent = Instant::now();
            match recorder.submit(&client, &request_id, JOB_INPUT).await {
                Ok(response) => {
                    acknowledgements.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Acknowledgement { sent, acknowledged: Instant::now() });
                    break response.job_id;
                }
                Err(status) => {
                    // Past the faults, a submission must get through in time.
                    if stop.is_cancelled() && first_try.elapsed() > ACKNOWLEDGE_WITHIN {
                        bail!("{request_id} was not acknowledged within {ACKNOWLEDGE_WITHIN:?} after healing: {status}");
                    }
                    rotation += 1;
                    client = leader_client(&addrs, &credentials, rotation);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let _ = recorder.get(&client, &job_id).await;
        acknowledged.push((request_id, job_id));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(acknowledged)
}

/// What one schedule measured.
#[derive(Debug, Default)]
struct Measured {
    /// Leader hit → next acknowledged commit, per hit.
    failovers: Vec<Duration>,
    /// Created → finished, per job.
    completions: Vec<Duration>,
    acknowledged: usize,
}

/// One schedule (no faults for `None`) on a running cluster, with its checks. `expected` is
/// every (request id → job id) acknowledged on this cluster so far; this schedule's are added.
async fn run_schedule(
    cluster: &mut SchedulerCluster,
    label: &str,
    faults: &[Timed],
    recorder: &Recorder,
    expected: &mut BTreeMap<String, String>,
    audit_dir: &std::path::Path,
) -> anyhow::Result<Measured> {
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let addrs = cluster.addrs();
    let credentials = cluster.operator();
    let stop = CancellationToken::new();
    let acknowledgements = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| tokio::spawn(client_loop(addrs.clone(), credentials.clone(), recorder.clone(), format!("{label}-c{index}"), stop.clone(), acknowledgements.clone())))
        .collect();

    let began = Instant::now();
    let mut events: Vec<(Duration, bool, usize)> = faults.iter().enumerate().flat_map(|(index, timed)| [(timed.start, true, index), (timed.start + timed.length, false, index)]).collect();
    events.sort();
    let mut injector = Injector { cluster, killed: BTreeSet::new(), paused: BTreeSet::new() };
    let mut undos: BTreeMap<usize, Undo> = BTreeMap::new();
    let mut leader_hits = Vec::new();
    for (at, begins, index) in events {
        tokio::time::sleep_until((began + at).into()).await;
        if begins {
            let (described, undo) = injector.begin(faults[index].fault).await?;
            step(&format!("{label} +{} ms: fault {index} {described}", began.elapsed().as_millis()));
            leader_hits.extend(undo.leader_hit);
            undos.insert(index, undo);
        } else if let Some(undo) = undos.remove(&index) {
            injector.end(&undo)?;
            step(&format!("{label} +{} ms: fault {index} ends", began.elapsed().as_millis()));
        }
    }
    tokio::time::sleep_until((began + FAULT_WINDOW).into()).await;
    injector.heal_all()?;
    let healed = Instant::now();
    stop.cancel();
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.context("client task")??);
    }
    step(&format!("{label}: healed; {} submissions acknowledged", acknowledged.len()));

    let client = client(addrs, injector.cluster.operator());
    let (leader, _) = injector.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    for (request_id, job_id) in &acknowledged {
        if let Some(earlier) = expected.insert(request_id.clone(), job_id.clone()) {
            ensure!(&earlier == job_id, "request {request_id} answered with two jobs: {earlier} and {job_id}");
        }
    }
    let mine: BTreeSet<&String> = acknowledged.iter().map(|(_, job_id)| job_id).collect();
    let finished = wait_until(FINISH_WITHIN, "every acknowledged job finished", || async {
        all_jobs(&client).await.is_ok_and(|jobs| {
            jobs.iter().filter(|job| mine.contains(&job.job_id)).filter(|job| job.state == v1::JobState::Succeeded as i32).count() == mine.len()
        })
    })
    .await;
    let jobs = all_jobs(&client).await?;
    if finished.is_err() {
        for job in jobs.iter().filter(|job| mine.contains(&job.job_id) && job.state != v1::JobState::Succeeded as i32) {
            eprintln!("[step] {label}: unfinished {} ({}): state {} {}/{} tasks {}", job.job_id, job.request_id, job.state, job.tasks_done, job.tasks_total, job.error);
        }
        finished.with_context(|| format!("liveness: not every job finished within {FINISH_WITHIN:?} of healing (leader {leader})"))?;
    }

    // The jobs are exactly the acknowledged submissions: none lost, none doubled.
    let on_leader: BTreeMap<&str, &str> = jobs.iter().map(|job| (job.request_id.as_str(), job.job_id.as_str())).collect();
    ensure!(on_leader.len() == jobs.len(), "two jobs share a request id: {:?}", jobs.iter().map(|job| (&job.request_id, &job.job_id)).collect::<Vec<_>>());
    ensure!(jobs.len() == expected.len(), "{} jobs on the leader for {} acknowledged submissions", jobs.len(), expected.len());
    for (request_id, job_id) in expected.iter() {
        ensure!(on_leader.get(request_id.as_str()) == Some(&job_id.as_str()), "acknowledged {job_id} (request {request_id}) is not on the leader as such");
    }
    let history = recorder.history();
    if let Err(violation) = linearizability::check(&history) {
        bail!("the client history is not linearizable: {violation}");
    }
    let lost = invariants::check_acknowledged_jobs(&client, &history).await;
    ensure!(lost.is_empty(), "acknowledged jobs lost: {lost:?}");
    // Every replica has applied everything before its trail is compared.
    wait_until(Duration::from_secs(15), "every replica applied the leader's commit index", || async {
        let Some(leading) = injector.cluster.status(leader).await else { return false };
        let mut all = true;
        for id in injector.cluster.replicas.keys() {
            all &= injector.cluster.status(*id).await.is_some_and(|status| status.applied_index >= leading.commit_index);
        }
        all
    })
    .await?;
    let audit = invariants::check_audit_dir(audit_dir)?;
    audit.assert_clean()?;

    let acks = acknowledgements.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let failovers = leader_hits
        .iter()
        .filter_map(|hit| acks.iter().filter(|ack| ack.sent >= *hit).map(|ack| ack.acknowledged.duration_since(*hit)).min())
        .collect();
    let completions = jobs
        .iter()
        .filter(|job| mine.contains(&job.job_id))
        .map(|job| Duration::from_millis(job.finished_at_ms.saturating_sub(job.created_at_ms)))
        .collect();
    step(&format!("{label}: checked {} jobs, {} client operations and the audit ({audit}) in {} ms after healing", expected.len(), history.operations.len(), healed.elapsed().as_millis()));
    Ok(Measured { failovers, completions, acknowledged: acknowledged.len() })
}

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(text.trim().parse().with_context(|| format!("{name}={text:?} is not a number"))?)),
        Err(_) => Ok(None),
    }
}

fn median_and_max(samples: &[Duration]) -> (u128, u128) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (sorted.get(sorted.len() / 2).map_or(0, Duration::as_millis), sorted.last().map_or(0, Duration::as_millis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_fault_schedules_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    let replay = env_number("SHOTFARM_FAULT_SEED")?;
    let count = match replay {
        Some(_) => 1,
        None => env_number("SHOTFARM_SOAK")?.map_or(SCHEDULES, |count| count as usize),
    };
    let run_seed = replay.unwrap_or_else(|| rand::rng().random());
    eprintln!("[step] t90: {count} fault schedules from seed {run_seed} (replay one with SHOTFARM_FAULT_SEED=<its seed>)");
    let seeds: Vec<u64> = match replay {
        Some(seed) => vec![seed],
        None => {
            let mut rng = StdRng::seed_from_u64(run_seed);
            (0..count).map(|_| rng.random()).collect()
        }
    };

    let started = Instant::now();
    let mut under_faults = Measured::default();
    let mut quiet = Measured::default();
    for (batch, seeds) in seeds.chunks(SCHEDULES_PER_CLUSTER).enumerate() {
        let audit = tempfile::Builder::new().prefix("shotfarm-t90-audit-").tempdir()?;
        let audit_dir = audit.path().to_path_buf();
        let replicas = if batch % FIVE_REPLICAS_EVERY == FIVE_REPLICAS_EVERY - 1 { 5 } else { 3 };
        step(&format!("cluster {batch}: {replicas} replicas"));
        let mut cluster = SchedulerCluster::start_with_proxies(replicas, &["--audit", &audit_dir.display().to_string()]).await?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let agents = CancellationToken::new();
        let _stop_agents = agents.clone().drop_guard();
        swarm::start(SwarmConfig { name_prefix: format!("t90-{batch}"), ..SwarmConfig::for_cluster(&cluster, 4) }, agents)?;
        let mut expected = BTreeMap::new();
        // The same workload without faults, once, for the completion-time comparison.
        let mut runs: Vec<(String, Option<u64>)> = seeds.iter().map(|seed| (format!("t90-{seed}"), Some(*seed))).collect();
        if batch == 0 {
            runs.insert(0, ("t90-quiet".to_owned(), None));
        }
        for (label, seed) in runs {
            let faults = seed.map(schedule).unwrap_or_default();
            step(&format!("{label}: {faults:?}"));
            let mut recorder = Recorder::new();
            recorder.timeout = TRY_FOR;
            match run_schedule(&mut cluster, &label, &faults, &recorder, &mut expected, &audit_dir).await {
                Ok(measured) => {
                    let total = if seed.is_some() { &mut under_faults } else { &mut quiet };
                    total.failovers.extend(measured.failovers);
                    total.completions.extend(measured.completions);
                    total.acknowledged += measured.acknowledged;
                }
                Err(err) => {
                    let kept = cluster.keep();
                    if let Some(dir) = &kept {
                        let _ = recorder.history().save(&dir.join(format!("{label}.history.json")));
                    }
                    let audit = audit.keep();
                    let replay = seed.map_or_else(String::new, |seed| format!("; replay with SHOTFARM_FAULT_SEED={seed}"));
                    bail!("{label} failed{replay}; logs, data directories and history kept under {kept:?}, audit trails under {audit:?}: {err:#}");
                }
            }
        }
    }
    let (failover_median, failover_max) = median_and_max(&under_faults.failovers);
    eprintln!(
        "[figure] t90 leader failover (kill/pause/isolate of the leader → next acknowledged commit, {} ms client tries): median {failover_median} ms, max {failover_max} ms over {} hits",
        TRY_FOR.as_millis(),
        under_faults.failovers.len()
    );
    let (faulty_median, faulty_max) = median_and_max(&under_faults.completions);
    let (quiet_median, quiet_max) = median_and_max(&quiet.completions);
    eprintln!(
        "[figure] t90 job completion (submit → finished): under faults median {faulty_median} ms, max {faulty_max} ms ({} jobs); without faults median {quiet_median} ms, max {quiet_max} ms ({} jobs)",
        under_faults.completions.len(),
        quiet.completions.len()
    );
    step(&format!("t90: {count} schedules, {} acknowledged jobs, none lost or doubled, in {} s", under_faults.acknowledged + quiet.acknowledged, started.elapsed().as_secs()));
    Ok(())
}
