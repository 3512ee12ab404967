//! A seeded, in-process simulation of three replicas: the real `Replica` (raft-rs and the
//! state machine) over an in-memory network that drops, delays, reorders and partitions, with
//! crash-restart from the durable (in-memory) store. Invariants are checked after every step;
//! a failure prints the seed (`SHOTFARM_SIM_SEED=<seed>` replays it).

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use raft::prelude::{Message, MessageType};
use shotfarm_proto::pipeline::TaskSpec;
use shotfarm_scheduler::consensus::{Replica, ReplicaConfig};
use shotfarm_scheduler::machine::{Command, Outcome, Proposal};
use shotfarm_scheduler::replica_node::leader::Placer;
use shotfarm_scheduler::state::model::{JobId, JobSpec, NodeCapabilities, TaskState};
use shotfarm_scheduler::storage::memory_store::MemoryStore;
use shotfarm_scheduler::synthetic;

const REPLICAS: u64 = 3;

struct InFlight {
    deliver_at: u64,
    message: Message,
}

struct Sim {
    rng: StdRng,
    seed: u64,
    now: u64,
    stores: BTreeMap<u64, MemoryStore>,
    replicas: BTreeMap<u64, Replica<MemoryStore>>,
    network: Vec<InFlight>,
    /// Replicas cut off from everyone else.
    isolated: BTreeSet<u64>,
    drop_percent: u32,
    next_batch: u64,
    /// (proposer, batch id) → request ids of the SubmitJob commands in it.
    pending_submits: BTreeMap<(u64, u64), Vec<String>>,
    /// Request id → job id, for every submission whose outcome reached its proposer.
    acknowledged: BTreeMap<String, JobId>,
    /// term → leader seen in it.
    leaders: BTreeMap<u64, u64>,
    /// log index → (proposer, batch id) of the proposal applied there, by whichever replica applied it first.
    applied_at: BTreeMap<u64, (u64, u64)>,
    /// applied index → state hash, by whichever replica reached it first (checked every few steps).
    hashes: BTreeMap<u64, String>,
}

fn peers() -> BTreeMap<u64, String> {
    (1..=REPLICAS).map(|id| (id, format!("127.0.0.1:{}", 7000 + id))).collect()
}

fn config(id: u64) -> ReplicaConfig {
    ReplicaConfig { snapshot_every: 40, ..ReplicaConfig::new(id) }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut sim = Sim {
            rng: StdRng::seed_from_u64(seed),
            seed,
            now: 0,
            stores: BTreeMap::new(),
            replicas: BTreeMap::new(),
            network: Vec::new(),
            isolated: BTreeSet::new(),
            drop_percent: 5,
            next_batch: 0,
            pending_submits: BTreeMap::new(),
            acknowledged: BTreeMap::new(),
            leaders: BTreeMap::new(),
            applied_at: BTreeMap::new(),
            hashes: BTreeMap::new(),
        };
        for id in 1..=REPLICAS {
            sim.stores.insert(id, MemoryStore::default());
            sim.start(id);
        }
        sim
    }

    fn start(&mut self, id: u64) {
        let store = self.stores[&id].clone();
        let replica = Replica::open(&config(id), &peers(), store).unwrap_or_else(|err| panic!("seed {}: restart of {id} failed: {err}", self.seed));
        self.replicas.insert(id, replica);
    }

    fn crash(&mut self, id: u64) {
        self.replicas.remove(&id);
    }

    fn leader(&self) -> Option<u64> {
        self.replicas.values().filter(|replica| replica.is_leader()).max_by_key(|replica| replica.term()).map(Replica::id)
    }

    fn connected(&self, from: u64, to: u64) -> bool {
        !(self.isolated.contains(&from) || self.isolated.contains(&to))
    }

    fn propose(&mut self, id: u64, commands: Vec<Command>) {
        let Some(replica) = self.replicas.get_mut(&id) else { return };
        self.next_batch += 1;
        let submits: Vec<String> = commands
            .iter()
            .filter_map(|command| match command {
                Command::SubmitJob { request_id, .. } => Some(request_id.clone()),
                _ => None,
            })
            .collect();
        let proposal = Proposal { proposer: id, batch_id: self.next_batch, commands };
        if replica.propose(&proposal).is_ok() && !submits.is_empty() {
            self.pending_submits.insert((id, self.next_batch), submits);
        }
    }

    /// Runs every replica's Ready loop and puts its messages on the network.
    fn process_ready(&mut self) {
        let ids: Vec<u64> = self.replicas.keys().copied().collect();
        for id in ids {
            let Some(replica) = self.replicas.get_mut(&id) else { continue };
            let output = replica.handle_ready().unwrap_or_else(|err| panic!("seed {}: ready of {id}: {err}", self.seed));
            for applied in output.applied.proposals {
                let key = (applied.proposer, applied.batch_id);
                let first = *self.applied_at.entry(applied.index).or_insert(key);
                assert_eq!(first, key, "seed {}: replica {id} applied a different entry at index {}", self.seed, applied.index);
                if applied.proposer == id
                    && let Some(requests) = self.pending_submits.remove(&key) {
                        let jobs = applied.outcomes.iter().filter_map(|outcome| match outcome {
                            Outcome::JobSubmitted { job, .. } => Some(*job),
                            _ => None,
                        });
                        for (request, job) in requests.into_iter().zip(jobs) {
                            self.acknowledged.insert(request, job);
                        }
                    }
            }
            for message in output.messages {
                if self.rng.random_range(0..100) < self.drop_percent || !self.connected(message.from, message.to) {
                    // As the real transport does: a lost snapshot is reported, so the leader retries it.
                    if message.get_msg_type() == MessageType::MsgSnapshot
                        && let Some(sender) = self.replicas.get_mut(&id) {
                            sender.report_snapshot(message.to, false);
                        }
                    continue;
                }
                let deliver_at = self.now + self.rng.random_range(0..3);
                self.network.push(InFlight { deliver_at, message });
            }
        }
    }

    fn deliver(&mut self) {
        // Deliver due messages in a shuffled order: the network reorders.
        let (mut due, later): (Vec<InFlight>, Vec<InFlight>) = self.network.drain(..).partition(|flight| flight.deliver_at <= self.now);
        self.network = later;
        for position in (1..due.len()).rev() {
            let other = self.rng.random_range(0..=position);
            due.swap(position, other);
        }
        for flight in due {
            let (from, to) = (flight.message.from, flight.message.to);
            let is_snapshot = flight.message.get_msg_type() == MessageType::MsgSnapshot;
            let delivered = match self.replicas.get_mut(&to) {
                Some(replica) => replica.step(flight.message).is_ok(),
                None => false,
            };
            if is_snapshot
                && let Some(sender) = self.replicas.get_mut(&from) {
                    sender.report_snapshot(to, delivered);
                }
        }
    }

    /// The leader schedules: registers nodes, submits jobs, assigns and completes tasks.
    fn drive_work(&mut self) {
        let Some(leader) = self.leader() else { return };
        let mut commands = Vec::new();
        let state = self.replicas[&leader].state();
        if state.nodes.len() < 3 && self.rng.random_bool(0.3) {
            let name = format!("node-{}", state.nodes.len() + 1);
            commands.push(Command::RegisterNode {
                name,
                capabilities: NodeCapabilities {
                    cpu_cores: 4,
                    memory_mb: 8192,
                    gpus: Vec::new(),
                    backends: ["cpu".to_owned()].into(),
                    encoders: ["libx264".to_owned()].into(),
                    ffmpeg_version: "sim".to_owned(),
                    agent_version: "sim".to_owned(),
                    max_tasks: 4,
                },
                labels: BTreeMap::new(),
                held: Vec::new(),
                now_ms: self.now,
            });
        }
        if self.rng.random_bool(0.15) {
            // Sometimes a retry of an earlier request id: it must not create a second job.
            let request = if self.rng.random_bool(0.2) && !self.acknowledged.is_empty() {
                let pick = self.rng.random_range(0..self.acknowledged.len());
                self.acknowledged.keys().nth(pick).cloned().unwrap_or_default()
            } else {
                format!("req-{}-{}", self.seed, self.now)
            };
            commands.push(Command::SubmitJob {
                request_id: request,
                owner: String::new(),
                spec: JobSpec {
                    input_url: "file:///sim/in.mp4".to_owned(),
                    output_url: "file:///sim/out".to_owned(),
                    priority: self.rng.random_range(-1..=1),
                    codecs: vec!["h264".to_owned()],
                    chunk_min_ms: 0,
                    chunk_max_ms: 0,
                    labels: BTreeMap::new(),
                    // Both task shapes: one rung per encode or several, with and without scoring.
                    rungs_per_encode: self.rng.random_range(1..=3),
                    score_quality: self.rng.random_bool(0.8),
                    overwrite: false,
                    recipe: Default::default(),
                    thumbnails: None,
                    from_recipe: None,
                    // Half the jobs owe callback events, delivered or refused below.
                    callback_url: if self.rng.random_bool(0.5) { "http://127.0.0.1:9/hook".to_owned() } else { String::new() },
                    encryption: None,
                },
                now_ms: self.now,
                trace_parent: None,
            });
        }
        for task in state.tasks.values().filter(|task| task.state == TaskState::Running) {
            let Some(lease) = &task.lease else { continue };
            let roll = self.rng.random_range(0..100);
            if roll < 30 {
                let spec: TaskSpec = serde_json::from_str(task.spec_json.as_deref().unwrap_or_default())
                    .unwrap_or_else(|err| panic!("seed {}: task {} has a bad spec: {err}", self.seed, task.id));
                let output = synthetic::output_for(&spec, 2, 2);
                commands.push(Command::CompleteTask {
                    task: task.id,
                    attempt: lease.attempt,
                    backend: lease.backend.clone(),
                    output_json: serde_json::to_string(&output).unwrap_or_default(),
                    now_ms: self.now,
                    cpu_micros: 1000,
                });
            } else if roll < 33 {
                commands.push(Command::ExpireLease { task: task.id, attempt: lease.attempt, now_ms: self.now });
            } else if roll < 35 {
                // A late result from an earlier attempt must be refused.
                commands.push(Command::FailTask { task: task.id, attempt: lease.attempt.saturating_sub(1), error: "stale".to_owned(), retryable: true, now_ms: self.now });
            }
        }
        // The leader's round, looking ahead at the results: their assignments go last into the
        // same entry (the slots those results free, the tasks they release).
        if let Some((assigns, _)) = Placer::default().round(state, &commands) {
            commands.extend(assigns);
        }
        let owing: Vec<(JobId, u32)> =
            state.jobs_with_pending_callbacks().filter_map(|job| Some((job, state.jobs.get(&job)?.callbacks.pending.first()?.sequence))).collect();
        for (job, sequence) in owing {
            match self.rng.random_range(0..100) {
                0..40 => commands.push(Command::CallbackDelivered { job, sequence, now_ms: self.now }),
                40..50 => commands.push(Command::CallbackRefused { job, sequence, error: "HTTP 503".to_owned(), now_ms: self.now }),
                // A former leader's late report of an event already settled: refused.
                50..53 => commands.push(Command::CallbackDelivered { job, sequence: sequence.saturating_sub(1), now_ms: self.now }),
                _ => {}
            }
        }
        if !commands.is_empty() {
            self.propose(leader, commands);
        }
    }

    fn faults(&mut self) {
        let roll = self.rng.random_range(0..1000);
        let victim = self.rng.random_range(1..=REPLICAS);
        match roll {
            0..=4 if self.replicas.len() as u64 == REPLICAS => self.crash(victim),
            5..=24 if !self.replicas.contains_key(&victim) => self.start(victim),
            25..=29 if self.isolated.is_empty() => {
                self.isolated.insert(victim);
            }
            30..=49 => self.isolated.clear(),
            _ => {}
        }
    }

    fn check_invariants(&mut self, step: u64) {
        let seed = self.seed;
        for replica in self.replicas.values() {
            if replica.is_leader() {
                let leader = *self.leaders.entry(replica.term()).or_insert(replica.id());
                assert_eq!(leader, replica.id(), "seed {seed}: two leaders in term {}", replica.term());
            }
            let state = replica.state();
            for node in state.nodes.values() {
                let capacity = node.capabilities.cpu_cores * 1000;
                assert!(node.used_cpu_milli <= capacity, "seed {seed}: node {} over-committed", node.id);
                assert!(node.running.len() as u32 <= node.capabilities.max_tasks, "seed {seed}: node {} over its slots", node.id);
                let leased: u32 = node.running.iter().filter_map(|task| state.tasks.get(task)?.lease.as_ref()).map(|lease| lease.demand.cpu_milli).sum();
                assert_eq!(leased, node.used_cpu_milli, "seed {seed}: node {} usage disagrees with its leases", node.id);
            }
            for task in state.tasks.values() {
                match (&task.lease, task.state) {
                    (Some(lease), TaskState::Running) => {
                        assert_eq!(lease.attempt, task.attempt, "seed {seed}: task {} lease of an old attempt", task.id);
                        let holders = state.nodes.values().filter(|node| node.running.contains(&task.id)).count();
                        assert_eq!(holders, 1, "seed {seed}: task {} has {holders} live leases", task.id);
                    }
                    (None, TaskState::Running) => panic!("seed {seed}: running task {} without a lease", task.id),
                    (Some(_), state) => panic!("seed {seed}: {state:?} task {} still holds a lease", task.id),
                    (None, _) => {}
                }
            }
            // The owed-callbacks index (derived, rebuilt on restart) follows the outboxes, and
            // every event made is delivered, given up or still owed, in order.
            let owing: BTreeSet<JobId> = state.jobs.values().filter(|job| !job.callbacks.pending.is_empty()).map(|job| job.id).collect();
            assert_eq!(state.jobs_with_pending_callbacks().collect::<BTreeSet<_>>(), owing, "seed {seed}: the pending-callbacks index disagrees");
            for job in state.jobs.values() {
                let outbox = &job.callbacks;
                let owed: Vec<u32> = outbox.pending.iter().map(|event| event.sequence).collect();
                let settled = outbox.delivered + outbox.given_up;
                assert_eq!(owed, (settled + 1..=outbox.events).collect::<Vec<_>>(), "seed {seed}: job {} owes events {owed:?} after {settled} settled", job.id);
            }
            for (request, job) in &self.acknowledged {
                // An acknowledged job is on every replica that has applied past it.
                if let Some(found) = state.job_by_request("", request) {
                    assert_eq!(found, *job, "seed {seed}: request {request} maps to two jobs");
                }
            }
        }
        if step.is_multiple_of(25) {
            for replica in self.replicas.values() {
                let hash = replica.state().hash();
                let first = self.hashes.entry(replica.applied()).or_insert_with(|| hash.clone());
                assert_eq!(*first, hash, "seed {seed}: state hashes differ at applied index {}", replica.applied());
            }
        }
    }

    fn run(&mut self, steps: u64) {
        for step in 0..steps {
            self.now += 1;
            let ids: Vec<u64> = self.replicas.keys().copied().collect();
            for id in ids {
                if let Some(replica) = self.replicas.get_mut(&id) {
                    replica.tick();
                }
            }
            self.deliver();
            self.faults();
            self.drive_work();
            self.process_ready();
            self.check_invariants(step);
        }
    }

    /// Heals every fault and runs until every replica has applied the same index.
    fn heal_and_settle(&mut self) {
        self.isolated.clear();
        self.drop_percent = 0;
        for id in 1..=REPLICAS {
            if !self.replicas.contains_key(&id) {
                self.start(id);
            }
        }
        for _ in 0..600 {
            self.now += 1;
            for replica in self.replicas.values_mut() {
                replica.tick();
            }
            self.deliver();
            self.process_ready();
            let applied: BTreeSet<u64> = self.replicas.values().map(Replica::applied).collect();
            if applied.len() == 1 && self.leader().is_some() && self.network.is_empty() {
                break;
            }
        }
        let seed = self.seed;
        let hashes: BTreeSet<String> = self.replicas.values().map(|replica| replica.state().hash()).collect();
        let applied: Vec<(u64, u64, u64)> = self.replicas.values().map(|replica| (replica.id(), replica.applied(), replica.commit_index())).collect();
        assert_eq!(hashes.len(), 1, "seed {seed}: replicas disagree after settling; (id, applied, commit): {applied:?}");
        for replica in self.replicas.values() {
            for (request, job) in &self.acknowledged {
                assert_eq!(replica.state().job_by_request("", request), Some(*job), "seed {seed}: acknowledged job {job} lost on replica {}", replica.id());
            }
        }
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("SHOTFARM_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("SHOTFARM_SIM_SEED must be a number")],
        Err(_) => (1..=12).collect(),
    }
}

#[test]
fn three_replicas_keep_their_promises_under_faults() {
    for seed in seeds() {
        let mut sim = Sim::new(seed);
        sim.run(1500);
        sim.heal_and_settle();
        let jobs = sim.replicas.values().next().map_or(0, |replica| replica.state().jobs.len());
        assert!(jobs > 0 && !sim.acknowledged.is_empty(), "seed {seed}: the simulation made no progress");
        eprintln!("seed {seed}: {} acknowledged jobs, {jobs} jobs, applied {}", sim.acknowledged.len(), sim.replicas[&1].applied());
    }
}

#[test]
fn jobs_complete_when_the_network_is_healthy() {
    let mut sim = Sim::new(99);
    sim.drop_percent = 0;
    for _ in 0..400 {
        sim.now += 1;
        for replica in sim.replicas.values_mut() {
            replica.tick();
        }
        sim.deliver();
        sim.drive_work();
        sim.process_ready();
        sim.check_invariants(1);
    }
    let state = sim.replicas[&1].state();
    let finished = state.jobs.values().filter(|job| job.state.is_final()).count();
    assert!(finished > 0, "no job finished in a healthy cluster: {:?}", state.jobs.values().map(|job| job.state).collect::<Vec<_>>());
}
