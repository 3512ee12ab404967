//! The audit trail of a replica's applied stream (`shotfarm scheduler --audit DIR`; off by
//! default): JSON lines in `DIR/replica-<id>.audit.jsonl`, appended by every run of the
//! replica, that the cluster tests' invariant checker reads (`shotfarm_cluster_tests::invariants`).
//!
//! What each record lets the checker verify:
//! - [`AuditRecord::Open`] / [`AuditRecord::Snapshot`]: where a run starts (the state
//!   recovered from the store, or a snapshot installed): its index and state hash. After a
//!   crash the lazily persisted applied index may be older than what was applied before:
//!   the entries after it are applied again and must digest the same.
//! - [`AuditRecord::Entry`], one per applied entry: index, term, a digest of the entry, and a
//!   rolling hash `chain = sha256(previous chain ‖ entry digest)` from the run's anchor
//!   (`sha256(anchor index ‖ state hash)`): replicas that start from the same point have
//!   equal chains at equal indexes, and every replica's entry digests agree per index.
//! - [`AuditRecord::State`], every [`STATE_EVERY`] indexes: the hash of the whole state and
//!   each node's usage and capacity in every dimension, with the sum of its live leases.
//! - [`AuditRecord::Lease`], at each applied `Assign`: the task, attempt, node, the last
//!   attempt that ended before it, how many nodes count the task as running, and the node's
//!   usage and capacity after it.
//!
//! Cost when on: a SHA-256 of each entry, a few hundred bytes per entry written with one
//! `write` per Ready turn (flushed before the store write, so a crash of the process never
//! loses audit lines the store has moved past), and a whole-state hash every
//! [`STATE_EVERY`] indexes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use raft::prelude::Entry;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::state::State;
use crate::state::model::{Node, TaskId};

/// A whole-state record every this many indexes (at multiples of it, on every replica).
pub const STATE_EVERY: u64 = 32;

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditRecord {
    /// A run of the replica starts from the state its store holds at `applied`.
    Open { replica: u64, applied: u64, state_hash: String },
    /// A snapshot from the leader replaced the state at `index`.
    Snapshot { index: u64, term: u64, state_hash: String },
    /// An entry applied.
    Entry { index: u64, term: u64, digest: String, chain: String },
    /// The whole state after applying `index`.
    State { index: u64, state_hash: String, nodes: Vec<NodeUsage> },
    /// An `Assign` applied at `index`.
    Lease(LeaseFacts),
}

/// Facts about one applied assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseFacts {
    pub index: u64,
    pub task: TaskId,
    pub attempt: u32,
    pub node: u64,
    /// The attempt of the task's latest finished lease before this one.
    pub last_ended_attempt: Option<u32>,
    /// Nodes that count the task among their running ones (must be 1).
    pub holders: u32,
    pub usage: NodeUsage,
}

/// A (used, capacity) pair.
pub type Gauge = (u64, u64);

/// A node's usage against its capacity, dimension by dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUsage {
    pub node: u64,
    pub cpu_milli: Gauge,
    pub memory_mb: Gauge,
    pub tasks: Gauge,
    pub gpus: Vec<GpuUsage>,
    /// The sums of the demands of the live leases on this node: (cpu milli, memory MB,
    /// leases). Must equal the usage.
    pub leased: (u64, u64, u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuUsage {
    pub index: u32,
    pub nvenc_sessions: Gauge,
    pub memory_mb: Gauge,
    pub cuda_share: Gauge,
}

/// The file a replica's trail goes to under `dir`.
pub fn trail_path(dir: &Path, replica: u64) -> PathBuf {
    dir.join(format!("replica-{replica}.audit.jsonl"))
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// The digest of one log entry: what every replica must have applied at its index.
pub fn entry_digest(entry: &Entry) -> String {
    let kind = entry.get_entry_type() as i32;
    hex_digest(&[&entry.index.to_le_bytes(), &entry.term.to_le_bytes(), &kind.to_le_bytes(), &entry.data])
}

/// The rolling hash a run starts from at `index` with this state.
pub fn anchor_chain(index: u64, state_hash: &str) -> String {
    hex_digest(&[&index.to_le_bytes(), state_hash.as_bytes()])
}

/// The rolling hash after an entry.
pub fn next_chain(previous: &str, digest: &str) -> String {
    hex_digest(&[previous.as_bytes(), digest.as_bytes()])
}

/// A node's usage and capacity in `state`.
pub fn node_usage(state: &State, node: &Node) -> NodeUsage {
    let (mut cpu, mut memory, mut leases) = (0u64, 0u64, 0u64);
    for task in node.running.iter().filter_map(|id| state.tasks.get(id)) {
        if let Some(lease) = task.lease.as_ref().filter(|lease| lease.node == node.id) {
            cpu += u64::from(lease.demand.cpu_milli);
            memory += u64::from(lease.demand.memory_mb);
            leases += 1;
        }
    }
    NodeUsage {
        node: node.id,
        cpu_milli: (u64::from(node.used_cpu_milli), u64::from(node.cpu_capacity_milli())),
        memory_mb: (u64::from(node.used_memory_mb), u64::from(node.capabilities.memory_mb)),
        tasks: (node.running.len() as u64, u64::from(node.capabilities.max_tasks)),
        gpus: node
            .capabilities
            .gpus
            .iter()
            .enumerate()
            .map(|(position, gpu)| {
                let used = node.gpu_used.get(position).copied().unwrap_or_default();
                GpuUsage {
                    index: gpu.index,
                    nvenc_sessions: (u64::from(used.nvenc_sessions), u64::from(gpu.nvenc_sessions)),
                    memory_mb: (u64::from(used.gpu_memory_mb), u64::from(gpu.memory_mb)),
                    cuda_share: (u64::from(used.cuda_share), 100),
                }
            })
            .collect(),
        leased: (cpu, memory, leases),
    }
}

/// The writer of one replica's trail.
pub struct AuditTrail {
    out: BufWriter<File>,
    chain: String,
}

impl AuditTrail {
    /// Opens (appending) the trail under `dir` and records where this run starts.
    pub fn open(dir: &Path, replica: u64, applied: u64, state: &State) -> std::io::Result<AuditTrail> {
        std::fs::create_dir_all(dir)?;
        let mut file = File::options().create(true).read(true).append(true).open(trail_path(dir, replica))?;
        end_torn_line(&mut file)?;
        let state_hash = state.hash();
        let mut trail = AuditTrail { out: BufWriter::with_capacity(64 << 10, file), chain: anchor_chain(applied, &state_hash) };
        trail.record(&AuditRecord::Open { replica, applied, state_hash })?;
        trail.flush()?;
        Ok(trail)
    }

    fn record(&mut self, record: &AuditRecord) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    /// A snapshot replaced the state: the run continues from it.
    pub fn snapshot(&mut self, index: u64, term: u64, state: &State) -> std::io::Result<()> {
        let state_hash = state.hash();
        self.chain = anchor_chain(index, &state_hash);
        self.record(&AuditRecord::Snapshot { index, term, state_hash })
    }

    /// An entry applied (after its commands changed `state`).
    pub fn entry(&mut self, entry: &Entry, state: &State) -> std::io::Result<()> {
        let digest = entry_digest(entry);
        self.chain = next_chain(&self.chain, &digest);
        self.record(&AuditRecord::Entry { index: entry.index, term: entry.term, digest, chain: self.chain.clone() })?;
        if entry.index.is_multiple_of(STATE_EVERY) {
            let nodes = state.nodes.values().map(|node| node_usage(state, node)).collect();
            self.record(&AuditRecord::State { index: entry.index, state_hash: state.hash(), nodes })?;
        }
        Ok(())
    }

    /// An `Assign` of `task` applied in the entry at `index`.
    pub fn assigned(&mut self, index: u64, task: TaskId, state: &State) -> std::io::Result<()> {
        let Some(found) = state.tasks.get(&task) else { return Ok(()) };
        let Some(lease) = &found.lease else { return Ok(()) };
        let Some(node) = state.nodes.get(&lease.node) else { return Ok(()) };
        let facts = LeaseFacts {
            index,
            task,
            attempt: lease.attempt,
            node: lease.node,
            last_ended_attempt: found.history.last().map(|record| record.attempt),
            holders: state.nodes.values().filter(|node| node.running.contains(&task)).count() as u32,
            usage: node_usage(state, node),
        };
        self.record(&AuditRecord::Lease(facts))
    }

    /// Hands what was recorded to the operating system (no fsync: the trail must survive a
    /// crash of the process, not of the machine).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A crash can leave the previous run's last line torn (a full buffer written in parts):
/// ends it, so that this run's first record starts a line of its own.
fn end_torn_line(file: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json_lines() {
        let record = AuditRecord::Entry { index: 7, term: 2, digest: "ab".into(), chain: "cd".into() };
        let line = serde_json::to_string(&record).expect("encodes");
        assert!(line.starts_with("{\"kind\":\"entry\""), "{line}");
        assert_eq!(serde_json::from_str::<AuditRecord>(&line).expect("decodes"), record);
    }

    #[test]
    fn the_chain_depends_on_every_entry_and_the_anchor() {
        let mut entry = Entry { index: 5, term: 1, data: b"one".to_vec().into(), ..Entry::default() };
        let first = entry_digest(&entry);
        entry.data = b"two".to_vec().into();
        assert_ne!(first, entry_digest(&entry));
        let anchor = anchor_chain(4, "state");
        assert_ne!(next_chain(&anchor, &first), next_chain(&anchor_chain(3, "state"), &first));
    }

    #[test]
    fn a_run_appends_an_open_record_and_entries_to_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = State::default();
        let mut trail = AuditTrail::open(dir.path(), 3, 1, &state).expect("opens");
        let entry = Entry { index: 2, term: 1, ..Entry::default() };
        trail.entry(&entry, &state).expect("records");
        trail.flush().expect("flushes");
        let text = std::fs::read_to_string(trail_path(dir.path(), 3)).expect("reads");
        let records: Vec<AuditRecord> = text.lines().map(|line| serde_json::from_str(line).expect("decodes")).collect();
        assert!(matches!(records[0], AuditRecord::Open { replica: 3, applied: 1, .. }));
        let AuditRecord::Entry { chain, digest, .. } = &records[1] else { panic!("{records:?}") };
        let AuditRecord::Open { state_hash, .. } = &records[0] else { panic!("{records:?}") };
        assert_eq!(*chain, next_chain(&anchor_chain(1, state_hash), digest));
    }

    #[test]
    fn a_run_after_a_crash_starts_on_a_line_of_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(trail_path(dir.path(), 1), "{\"kind\":\"entry\",\"index\":88").expect("writes a torn line");
        AuditTrail::open(dir.path(), 1, 69, &State::default()).expect("opens");
        let text = std::fs::read_to_string(trail_path(dir.path(), 1)).expect("reads");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(matches!(serde_json::from_str(lines[1]).expect("decodes"), AuditRecord::Open { replica: 1, applied: 69, .. }));
    }
}
