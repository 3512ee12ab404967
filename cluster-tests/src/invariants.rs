//! Safety invariants over every replica's applied stream, read from the audit trails the
//! replicas write with `shotfarm scheduler --audit DIR` (format: `shotfarm_scheduler::audit`),
//! and "no acknowledged job lost" over a recorded [`History`].
//!
//! ```no_run
//! # async fn example(dir: &std::path::Path, client: &shotfarm_proto::client::LeaderClient, history: &shotfarm_cluster_tests::history::History) -> anyhow::Result<()> {
//! use shotfarm_cluster_tests::invariants;
//! // Start the cluster with `--audit DIR` in its extra arguments; after the run:
//! let report = invariants::check_audit_dir(dir)?;
//! report.assert_clean()?;                       // or look at report.violations
//! let lost = invariants::check_acknowledged_jobs(client, history).await;
//! assert!(lost.is_empty(), "{lost:?}");
//! # Ok(()) }
//! ```
//!
//! What is checked (each violation names the replica and the index):
//! - **one applied history**: every replica, in every run (restarts included), applied the
//!   same entry (term and digest) at each index, and reached the same state hash at each
//!   index where one was recorded (runs' starts, snapshots, every 32nd index);
//! - **each run is whole**: after its start (the state recovered from the store, or a
//!   snapshot) a run applies consecutive indexes, and each rolling hash follows from the
//!   previous one and the entry's digest (a damaged or spliced trail fails here); a restart
//!   never recovers an applied index beyond what the replica had audited (entries after it
//!   are applied again — the lazily persisted applied index — and must digest the same);
//! - **leases**: each `Assign` is the same on every replica that applied it; per task,
//!   attempts strictly increase, the previous attempt's lease ended before the next began,
//!   and exactly one node counts the task as running;
//! - **no over-commit**: after each `Assign`, and in every periodic state record, no node
//!   uses more than its capacity of CPU, memory, task slots, or any GPU's NVENC sessions,
//!   memory or compute, and its usage equals the sum of its live leases.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::GetJobRequest;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_scheduler::audit::{AuditRecord, LeaseFacts, NodeUsage, anchor_chain, next_chain};

use crate::history::History;

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantViolation {
    pub replica: Option<u64>,
    pub index: Option<u64>,
    pub what: String,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.replica, self.index) {
            (Some(replica), Some(index)) => write!(f, "replica {replica}, index {index}: {}", self.what),
            (Some(replica), None) => write!(f, "replica {replica}: {}", self.what),
            (None, Some(index)) => write!(f, "index {index}: {}", self.what),
            (None, None) => write!(f, "{}", self.what),
        }
    }
}

fn violation(replica: Option<u64>, index: Option<u64>, what: String) -> InvariantViolation {
    InvariantViolation { replica, index, what }
}

/// One replica's trail, split into runs (one per start of the process).
#[derive(Debug, Clone)]
pub struct ReplicaTrail {
    pub replica: u64,
    pub path: PathBuf,
    pub runs: Vec<Vec<AuditRecord>>,
    /// Lines that did not parse: (line number, text). A torn last line is tolerated.
    pub bad_lines: Vec<(usize, String)>,
}

/// Parses one trail file.
pub fn read_trail(path: &Path) -> anyhow::Result<ReplicaTrail> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading audit trail {}", path.display()))?;
    let replica = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("replica-")?.strip_suffix(".audit.jsonl")?.parse().ok())
        .with_context(|| format!("{} is not named replica-<id>.audit.jsonl", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut trail = ReplicaTrail { replica, path: path.to_owned(), runs: Vec::new(), bad_lines: Vec::new() };
    for (number, line) in lines.iter().enumerate() {
        match serde_json::from_str::<AuditRecord>(line) {
            Ok(record @ AuditRecord::Open { .. }) => trail.runs.push(vec![record]),
            Ok(record) => match trail.runs.last_mut() {
                Some(run) => run.push(record),
                None => trail.bad_lines.push((number + 1, format!("a record before any start of the replica: {line}"))),
            },
            // A crash can tear the last line of a run (a full buffer written in two parts).
            Err(_) if number + 1 == lines.len() || lines.get(number + 1).is_some_and(|next| next.contains("\"kind\":\"open\"")) => {}
            Err(err) => trail.bad_lines.push((number + 1, format!("{err}: {line}"))),
        }
    }
    Ok(trail)
}

/// Every `replica-<id>.audit.jsonl` under `dir`.
pub fn read_trails(dir: &Path) -> anyhow::Result<Vec<ReplicaTrail>> {
    let mut trails = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading audit directory {}", dir.display()))? {
        let path = entry?.path();
        if path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.ends_with(".audit.jsonl")) {
            trails.push(read_trail(&path)?);
        }
    }
    trails.sort_by_key(|trail| trail.replica);
    Ok(trails)
}

/// What a check looked at, and what it found.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    pub replicas: usize,
    pub runs: usize,
    /// Entry records read (re-applications included).
    pub entries: usize,
    /// Distinct indexes applied by some replica.
    pub indexes: usize,
    pub leases: usize,
    pub state_hashes: usize,
    pub violations: Vec<InvariantViolation>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// An error listing every violation (the first 50), or Ok.
    pub fn assert_clean(&self) -> anyhow::Result<()> {
        if self.is_clean() {
            return Ok(());
        }
        let listed: Vec<String> = self.violations.iter().take(50).map(ToString::to_string).collect();
        anyhow::bail!("{} invariant violations in the audit trails:\n  {}", self.violations.len(), listed.join("\n  "))
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} replicas, {} runs, {} entries applied ({} indexes), {} leases, {} state hashes: {} violations",
            self.replicas,
            self.runs,
            self.entries,
            self.indexes,
            self.leases,
            self.state_hashes,
            self.violations.len()
        )
    }
}

/// Reads every trail under `dir` and checks them together.
pub fn check_audit_dir(dir: &Path) -> anyhow::Result<AuditReport> {
    Ok(check_trails(&read_trails(dir)?))
}

/// The first replica to report a value at an index, to compare the others with.
struct FirstSeen<T> {
    by_index: BTreeMap<u64, (T, u64)>,
}

impl<T: PartialEq + fmt::Debug> FirstSeen<T> {
    fn new() -> Self {
        FirstSeen { by_index: BTreeMap::new() }
    }

    fn agree(&mut self, index: u64, replica: u64, value: T, what: &str, violations: &mut Vec<InvariantViolation>) {
        match self.by_index.get(&index) {
            Some((first, by)) if *first != value => violations.push(violation(
                Some(replica),
                Some(index),
                format!("{what} {value:?} differs from replica {by}'s {first:?}"),
            )),
            Some(_) => {}
            None => {
                self.by_index.insert(index, (value, replica));
            }
        }
    }
}

/// Checks the trails of all replicas of one cluster.
pub fn check_trails(trails: &[ReplicaTrail]) -> AuditReport {
    let mut report = AuditReport { replicas: trails.len(), ..AuditReport::default() };
    let mut violations = Vec::new();
    let mut entries: FirstSeen<(u64, String)> = FirstSeen::new();
    let mut states: FirstSeen<String> = FirstSeen::new();
    let mut leases: BTreeMap<(u64, u64), (LeaseFacts, u64)> = BTreeMap::new();
    for trail in trails {
        let replica = trail.replica;
        for (line, problem) in &trail.bad_lines {
            violations.push(violation(Some(replica), None, format!("{} line {line} is not an audit record: {problem}", trail.path.display())));
        }
        let mut audited_up_to = 0u64;
        for run in &trail.runs {
            report.runs += 1;
            let mut chain = String::new();
            let mut next_index = 0u64;
            for record in run {
                match record {
                    AuditRecord::Open { applied, state_hash, .. } => {
                        if *applied > audited_up_to && audited_up_to > 0 {
                            violations.push(violation(
                                Some(replica),
                                Some(*applied),
                                format!("restarted at applied index {applied}, beyond the {audited_up_to} it had audited before"),
                            ));
                        }
                        states.agree(*applied, replica, state_hash.clone(), "state hash", &mut violations);
                        chain = anchor_chain(*applied, state_hash);
                        next_index = applied + 1;
                    }
                    AuditRecord::Snapshot { index, state_hash, .. } => {
                        states.agree(*index, replica, state_hash.clone(), "state hash", &mut violations);
                        chain = anchor_chain(*index, state_hash);
                        next_index = index + 1;
                        audited_up_to = audited_up_to.max(*index);
                    }
                    AuditRecord::Entry { index, term, digest, chain: recorded } => {
                        report.entries += 1;
                        if *index != next_index {
                            violations.push(violation(Some(replica), Some(*index), format!("applied out of order: expected index {next_index}")));
                        }
                        let expected = next_chain(&chain, digest);
                        if *recorded != expected {
                            violations.push(violation(Some(replica), Some(*index), "the rolling hash does not follow from the previous one and the entry (damaged trail)".to_owned()));
                        }
                        chain = recorded.clone();
                        next_index = index + 1;
                        audited_up_to = audited_up_to.max(*index);
                        entries.agree(*index, replica, (*term, digest.clone()), "entry (term, digest)", &mut violations);
                    }
                    AuditRecord::State { index, state_hash, nodes } => {
                        report.state_hashes += 1;
                        states.agree(*index, replica, state_hash.clone(), "state hash", &mut violations);
                        for node in nodes {
                            check_usage(node, replica, *index, &mut violations);
                        }
                    }
                    AuditRecord::Lease(facts) => match leases.get(&(facts.index, facts.task)) {
                        Some((first, by)) if first != facts => violations.push(violation(
                            Some(replica),
                            Some(facts.index),
                            format!("assignment of task {} differs from replica {by}'s: {facts:?} vs {first:?}", facts.task),
                        )),
                        Some(_) => {}
                        None => {
                            leases.insert((facts.index, facts.task), (facts.clone(), replica));
                        }
                    },
                }
            }
        }
    }
    report.indexes = entries.by_index.len();
    report.leases = leases.len();
    // Leases in log order, across replicas.
    let mut last_attempt: BTreeMap<u64, u32> = BTreeMap::new();
    for ((index, task), (facts, reporter)) in &leases {
        let (index, task, reporter) = (*index, *task, *reporter);
        let replica = Some(reporter);
        if let Some(previous) = last_attempt.insert(task, facts.attempt)
            && facts.attempt <= previous
        {
            violations.push(violation(replica, Some(index), format!("task {task} assigned attempt {} after attempt {previous}", facts.attempt)));
        }
        let ended = if facts.attempt > 1 { Some(facts.attempt - 1) } else { None };
        if facts.last_ended_attempt != ended {
            violations.push(violation(
                replica,
                Some(index),
                format!("task {task} attempt {} began while the last ended attempt was {:?} (a second live lease?)", facts.attempt, facts.last_ended_attempt),
            ));
        }
        if facts.holders != 1 {
            violations.push(violation(replica, Some(index), format!("task {task} is counted as running on {} nodes", facts.holders)));
        }
        check_usage(&facts.usage, reporter, index, &mut violations);
    }
    report.violations = violations;
    report
}

/// No dimension of a node over its capacity, and its usage equal to its leases.
fn check_usage(usage: &NodeUsage, replica: u64, index: u64, violations: &mut Vec<InvariantViolation>) {
    let node = usage.node;
    let mut over = |what: String, (used, capacity): (u64, u64)| {
        if used > capacity {
            violations.push(violation(Some(replica), Some(index), format!("node {node} over-committed: {what} {used} > {capacity}")));
        }
    };
    over("cpu milli".to_owned(), usage.cpu_milli);
    over("memory MB".to_owned(), usage.memory_mb);
    over("tasks".to_owned(), usage.tasks);
    for gpu in &usage.gpus {
        over(format!("GPU {} NVENC sessions", gpu.index), gpu.nvenc_sessions);
        over(format!("GPU {} memory MB", gpu.index), gpu.memory_mb);
        over(format!("GPU {} compute %", gpu.index), gpu.cuda_share);
    }
    let accounted = (usage.cpu_milli.0, usage.memory_mb.0, usage.tasks.0);
    if usage.leased != accounted {
        violations.push(violation(
            Some(replica),
            Some(index),
            format!("node {node} accounts (cpu milli, memory MB, tasks) = {accounted:?} but its live leases sum to {:?}", usage.leased),
        ));
    }
}

/// "No acknowledged job lost": every job a submission was acknowledged with is still known
/// to the leader (a linearizable read). Returns one violation per missing job.
pub async fn check_acknowledged_jobs(client: &LeaderClient, history: &History) -> Vec<InvariantViolation> {
    let mut lost = Vec::new();
    for (request_id, job_id) in history.acknowledged_jobs() {
        let found = client
            .call(|channel| {
                let job_id = job_id.clone();
                async move { Ok(JobServiceClient::new(channel).get_job(GetJobRequest { job_id, include_tasks: false }).await?.into_inner()) }
            })
            .await;
        match found {
            Ok(job) if job.job_id == job_id => {}
            Ok(job) => lost.push(violation(None, None, format!("acknowledged {job_id} (request {request_id:?}) reads back as {}", job.job_id))),
            Err(status) => lost.push(violation(None, None, format!("acknowledged {job_id} (request {request_id:?}) is not on the leader: {status}"))),
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use shotfarm_scheduler::audit::{GpuUsage, trail_path};

    use super::*;

    /// A run from `applied` (with state hash `state`) applying `indexes`, whose entry at
    /// index i has digest `d<i>` (or `overrides`' value).
    fn run(replica: u64, applied: u64, indexes: std::ops::RangeInclusive<u64>, overrides: &[(u64, &str)]) -> Vec<AuditRecord> {
        let state_hash = format!("s{applied}");
        let mut chain = anchor_chain(applied, &state_hash);
        let mut records = vec![AuditRecord::Open { replica, applied, state_hash }];
        for index in indexes {
            let digest = overrides.iter().find(|(at, _)| *at == index).map_or_else(|| format!("d{index}"), |(_, digest)| (*digest).to_owned());
            chain = next_chain(&chain, &digest);
            records.push(AuditRecord::Entry { index, term: 1, digest, chain: chain.clone() });
        }
        records
    }

    fn usage(node: u64, cpu: u64, tasks: u64) -> NodeUsage {
        NodeUsage {
            node,
            cpu_milli: (cpu, 4000),
            memory_mb: (0, 8192),
            tasks: (tasks, 4),
            gpus: vec![GpuUsage { index: 0, nvenc_sessions: (1, 3), memory_mb: (512, 16384), cuda_share: (0, 100) }],
            leased: (cpu, 0, tasks),
        }
    }

    fn lease(index: u64, task: u64, attempt: u32, usage: NodeUsage) -> AuditRecord {
        AuditRecord::Lease(LeaseFacts {
            index,
            task,
            attempt,
            node: usage.node,
            last_ended_attempt: (attempt > 1).then(|| attempt - 1),
            holders: 1,
            usage,
        })
    }

    fn write(dir: &Path, replica: u64, runs: &[Vec<AuditRecord>]) {
        let lines: Vec<String> = runs.iter().flatten().map(|record| serde_json::to_string(record).expect("encodes")).collect();
        std::fs::write(trail_path(dir, replica), lines.join("\n") + "\n").expect("writes");
    }

    #[test]
    fn agreeing_replicas_with_a_crash_and_reapplication_are_clean() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut leader = run(1, 1, 2..=40, &[]);
        leader.insert(5, lease(5, 7, 1, usage(1, 1000, 1)));
        write(dir.path(), 1, &[leader]);
        // Replica 2 crashed after 30; its store had only persisted 25: 26..=40 applied again.
        write(dir.path(), 2, &[run(2, 1, 2..=30, &[]), run(2, 25, 26..=40, &[])]);
        write(dir.path(), 3, &[run(3, 1, 2..=40, &[])]);
        let report = check_audit_dir(dir.path()).expect("reads");
        assert!(report.is_clean(), "{:?}", report.violations);
        assert_eq!((report.replicas, report.runs, report.indexes, report.leases), (3, 4, 39, 1));
        assert_eq!(report.entries, 39 * 2 + 29 + 15);
    }

    #[test]
    fn a_corrupted_entry_on_one_replica_is_flagged_with_its_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), 1, &[run(1, 1, 2..=20, &[])]);
        write(dir.path(), 2, &[run(2, 1, 2..=20, &[(12, "corrupted")])]);
        let report = check_audit_dir(dir.path()).expect("reads");
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        let found = &report.violations[0];
        assert_eq!((found.replica, found.index), (Some(2), Some(12)));
        assert!(found.to_string().contains("differs from replica 1"), "{found}");
    }

    #[test]
    fn a_reapplied_entry_that_digests_differently_is_flagged() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), 1, &[run(1, 1, 2..=30, &[]), run(1, 20, 21..=30, &[(24, "other")])]);
        let report = check_audit_dir(dir.path()).expect("reads");
        assert!(report.violations.iter().any(|found| found.index == Some(24)), "{:?}", report.violations);
    }

    #[test]
    fn a_damaged_line_breaks_the_chain_or_the_parse() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), 1, &[run(1, 1, 2..=20, &[])]);
        let path = trail_path(dir.path(), 1);
        let text = std::fs::read_to_string(&path).expect("reads");
        // Edit an entry's digest in place: its chain no longer follows.
        std::fs::write(&path, text.replacen("\"digest\":\"d9\"", "\"digest\":\"d9x\"", 1)).expect("writes");
        let report = check_audit_dir(dir.path()).expect("reads");
        assert!(report.violations.iter().any(|found| found.index == Some(9) && found.what.contains("rolling hash")), "{:?}", report.violations);
        // Garbage in the middle is flagged; a torn last line is not.
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.insert(4, "{\"kind\":\"entr".to_owned());
        lines.push("{\"kind\":\"entry\",\"ind".to_owned());
        std::fs::write(&path, lines.join("\n")).expect("writes");
        let report = check_audit_dir(dir.path()).expect("reads");
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        assert!(report.violations[0].what.contains("line 5"), "{}", report.violations[0]);
    }

    #[test]
    fn a_restart_beyond_the_audited_index_and_gaps_are_flagged() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), 1, &[run(1, 1, 2..=10, &[]), run(1, 15, 16..=18, &[])]);
        let mut gapped = run(2, 1, 2..=10, &[]);
        gapped.remove(5);
        write(dir.path(), 2, &[gapped]);
        let report = check_audit_dir(dir.path()).expect("reads");
        let flagged: Vec<_> = report.violations.iter().map(|found| (found.replica, found.index)).collect();
        assert!(flagged.contains(&(Some(1), Some(15))), "{:?}", report.violations);
        assert!(flagged.contains(&(Some(2), Some(7))), "{:?}", report.violations);
    }

    #[test]
    fn lease_and_capacity_violations_are_flagged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut records = run(1, 1, 2..=20, &[]);
        records.push(lease(3, 7, 1, usage(1, 1000, 1)));
        // Attempt 1 again: not increasing.
        records.push(lease(6, 7, 1, usage(1, 1000, 1)));
        // Attempt 3 while attempt 1 is the last one that ended.
        let mut second_live = lease(8, 7, 3, usage(1, 1000, 1));
        if let AuditRecord::Lease(facts) = &mut second_live {
            facts.last_ended_attempt = Some(1);
            facts.holders = 2;
        }
        records.push(second_live);
        // Over-committed NVENC sessions and CPU, and usage that disagrees with the leases.
        let mut over = usage(2, 5000, 1);
        over.gpus[0].nvenc_sessions = (4, 3);
        over.leased = (1000, 0, 1);
        records.push(AuditRecord::State { index: 10, state_hash: "x".into(), nodes: vec![over] });
        write(dir.path(), 1, &[records]);
        let whats: Vec<String> = check_audit_dir(dir.path()).expect("reads").violations.iter().map(ToString::to_string).collect();
        for expected in ["attempt 1 after attempt 1", "last ended attempt was Some(1)", "on 2 nodes", "cpu milli 5000 > 4000", "NVENC sessions 4 > 3", "live leases sum"] {
            assert!(whats.iter().any(|what| what.contains(expected)), "{expected} missing from {whats:#?}");
        }
    }
}
