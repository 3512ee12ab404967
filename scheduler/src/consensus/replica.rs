//! One replica's consensus core, with no I/O of its own beyond its durable store: raft-rs's
//! `RawNode`, the state machine, and the Ready loop that ties them together. The async
//! driver (and the simulation) call `tick`, `step`, `propose` and `handle_ready`, and carry
//! out what comes back: messages to send, outcomes to answer, effects to perform.
//!
//! A Ready is handled in three steps, which the driver runs one by one so that nothing waits
//! on what it does not need ([`Replica::handle_ready`] runs them back to back): take it
//! (a leader's appends go out at once, so followers write while the leader does), persist it
//! (a follower's acks go out as soon as the entries are durable, before anything applies),
//! apply what committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeType, Entry, EntryType, Message};
use raft::{RawNode, ReadState, StateRole, Storage as _};

use super::bootstrap::{bootstrap, check_membership};
use super::logger::raft_logger;
use super::peer_message::{self, LocalView, PeerMessageRefusal};
use super::raft_log::RaftLog;
use crate::audit::AuditTrail;
use crate::failpoints::{self, crash_point};
use crate::machine::{self, Command, Effect, Outcome, Proposal};
use crate::metrics::ReplicaMetrics;
use crate::state::State;
use crate::storage::{DurableStore, Recovered, StoreError, WriteBatch, decode_state, encode_row};

/// Timing and size knobs of one replica.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    pub id: u64,
    /// Ticks without a leader before an election (randomised up to twice this by raft-rs).
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    /// Take a snapshot and compact the log after this many applied entries.
    pub snapshot_every: u64,
    /// Largest append message, in bytes.
    pub max_message_bytes: u64,
}

impl ReplicaConfig {
    pub fn new(id: u64) -> ReplicaConfig {
        ReplicaConfig { id, election_ticks: 10, heartbeat_ticks: 2, snapshot_every: 10_000, max_message_bytes: 4 << 20 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("{0}")]
    Membership(String),
}

/// Why a peer's message was not stepped.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("refused: {0}")]
    Refused(#[from] PeerMessageRefusal),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
}

/// One applied log entry that carried a proposal.
#[derive(Debug, Clone)]
pub struct AppliedProposal {
    pub index: u64,
    pub proposer: u64,
    pub batch_id: u64,
    pub outcomes: Vec<Outcome>,
}

/// What applying a Ready's committed entries produced.
#[derive(Debug, Default)]
pub struct AppliedReady {
    pub proposals: Vec<AppliedProposal>,
    pub effects: Vec<Effect>,
    pub read_states: Vec<ReadState>,
    /// A membership change applied (or a snapshot replaced the membership).
    pub membership_changed: bool,
}

/// What one whole turn of the Ready loop produced ([`Replica::handle_ready`]).
#[derive(Debug, Default)]
pub struct ReadyOutput {
    /// Every message to send, in order.
    pub messages: Vec<Message>,
    pub applied: AppliedReady,
}

/// A Ready taken from raft-rs, its leader's messages handed out: to persist next.
pub struct TakenReady {
    ready: raft::Ready,
}

/// A Ready persisted and advanced: the committed entries and reads it leaves to apply.
pub struct PersistedReady {
    committed: Vec<Entry>,
    read_states: Vec<ReadState>,
    /// A snapshot was installed.
    membership_changed: bool,
}

pub struct Replica<S: DurableStore> {
    pub(super) id: u64,
    pub(super) raw: RawNode<RaftLog>,
    pub(super) store: S,
    pub(super) state: State,
    pub(super) applied: u64,
    pub(super) snapshot_every: u64,
    /// The audit trail of the applied stream, when asked for (`--audit`).
    audit: Option<AuditTrail>,
    pub(super) metrics: Arc<ReplicaMetrics>,
    /// Reads asked of a leader that has not committed an entry of its term yet: raft-rs drops
    /// those silently (the caller would wait forever), so they wait here until it has.
    deferred_reads: Vec<Vec<u8>>,
    /// Ticks since the replica opened.
    pub(super) ticks: u64,
    /// When (in ticks) each peer's last accepted message arrived: whom the leader can reach.
    pub(super) heard_at: BTreeMap<u64, u64>,
    /// Heard from within this many ticks: reachable.
    pub(super) election_ticks: u64,
}

impl<S: DurableStore> Replica<S> {
    /// Starts a replica from its store. A fresh store is bootstrapped with `peers` as the
    /// initial voters (every initial replica must be given the same list), unless `peers`
    /// is empty: then the replica waits to be added to an existing group. A store that
    /// already holds a membership must agree with `peers`.
    pub fn open(config: &ReplicaConfig, peers: &BTreeMap<u64, String>, mut store: S) -> Result<Replica<S>, ReplicaError> {
        let mut recovered = store.load()?;
        let fresh = recovered.conf_state.get_voters().is_empty() && recovered.hard_state.term == 0 && recovered.entries.is_empty();
        if fresh && !peers.is_empty() {
            if !peers.contains_key(&config.id) {
                return Err(ReplicaError::Membership(format!(
                    "replica id {} is not in the peer list ({}); add it to --peers",
                    config.id,
                    peers.keys().map(u64::to_string).collect::<Vec<_>>().join(",")
                )));
            }
            recovered = bootstrap(peers, &mut store)?;
        } else if !fresh && !peers.is_empty() {
            check_membership(config.id, peers, &recovered)?;
        }
        let Recovered { hard_state, conf_state, snapshot, entries, state, applied } = recovered;
        let log = RaftLog::new(hard_state, conf_state, snapshot, entries);
        let raft_config = raft::Config {
            id: config.id,
            election_tick: config.election_ticks,
            heartbeat_tick: config.heartbeat_ticks,
            applied,
            max_size_per_msg: config.max_message_bytes,
            max_inflight_msgs: 256,
            pre_vote: true,
            check_quorum: true,
            read_only_option: raft::ReadOnlyOption::Safe,
            ..Default::default()
        };
        raft_config.validate()?;
        let mut raw = RawNode::new(&raft_config, log, &raft_logger(config.id))?;
        // A lone voter has no one to hear from: it campaigns now rather than after an
        // election timeout (a one-replica `shotfarm dev` farm is ready half a second sooner).
        if raw.raft.prs().is_singleton() && raw.raft.prs().conf().voters().contains(config.id) {
            raw.campaign()?;
        }
        Ok(Replica {
            id: config.id,
            raw,
            store,
            state,
            applied,
            snapshot_every: config.snapshot_every,
            audit: None,
            metrics: Arc::default(),
            deferred_reads: Vec::new(),
            ticks: 0,
            heard_at: BTreeMap::new(),
            election_ticks: config.election_ticks as u64,
        })
    }

    /// The replica's metrics, which its Ready loop updates.
    pub fn metrics(&self) -> Arc<ReplicaMetrics> {
        self.metrics.clone()
    }

    /// Starts writing the audit trail of the applied stream under `dir` (see [`crate::audit`]).
    pub fn enable_audit(&mut self, dir: &std::path::Path) -> Result<(), ReplicaError> {
        self.audit = Some(AuditTrail::open(dir, self.id, self.applied, &self.state).map_err(audit_failed)?);
        Ok(())
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    pub fn role(&self) -> StateRole {
        self.raw.raft.state
    }

    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// The leader this replica knows of (0 when none).
    pub fn leader_id(&self) -> u64 {
        self.raw.raft.leader_id
    }

    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    pub fn snapshot_index(&self) -> u64 {
        self.raw.store().snapshot_index()
    }

    pub fn first_log_index(&self) -> u64 {
        self.raw.store().first_index().unwrap_or(0)
    }

    /// The address of a replica: the replicated membership.
    pub fn member_addr(&self, id: u64) -> Option<&str> {
        self.state.meta.members.get(&id).map(String::as_str)
    }

    pub fn tick(&mut self) -> bool {
        self.ticks += 1;
        self.raw.tick()
    }

    /// Steps a peer's message, once it passes [`peer_message::check`] against this replica's
    /// log and membership (a message raft-rs would panic on, or that no peer sends, is refused).
    pub fn step(&mut self, message: Message) -> Result<(), StepError> {
        let conf_state = self.raw.store().conf_state();
        let local = LocalView {
            id: self.id,
            last_index: self.raw.raft.raft_log.last_index(),
            voters: conf_state.get_voters(),
            learners: conf_state.get_learners(),
        };
        peer_message::check(&message, &local)?;
        // Only members count as heard (a joining replica hears anyone: no map of strangers).
        if self.is_member(message.from) {
            self.heard_at.insert(message.from, self.ticks);
        }
        Ok(self.raw.step(message)?)
    }

    /// Proposes a batch of commands as one log entry.
    pub fn propose(&mut self, proposal: &Proposal) -> Result<(), ReplicaError> {
        let data = postcard::to_allocvec(proposal)
            .map_err(|err| ReplicaError::Raft(raft::Error::ConfChangeError(format!("cannot encode proposal: {err}"))))?;
        self.raw.propose(Vec::new(), data)?;
        self.metrics.raft.proposed(proposal.commands.len());
        Ok(())
    }

    /// Tells raft-rs whether a snapshot sent to `to` arrived; a failed one is sent again.
    pub fn report_snapshot(&mut self, to: u64, delivered: bool) {
        let status = if delivered { raft::SnapshotStatus::Finish } else { raft::SnapshotStatus::Failure };
        self.raw.report_snapshot(to, status);
    }

    /// Tells raft-rs that `to` could not be reached, so it probes instead of streaming.
    pub fn report_unreachable(&mut self, to: u64) {
        self.raw.report_unreachable(to);
    }

    /// Starts a linearizable read; its `ReadState` comes back from `handle_ready` with `ctx`.
    /// A new leader's reads wait until it has committed an entry of its term.
    pub fn read_index(&mut self, ctx: Vec<u8>) {
        if self.is_leader() && !self.raw.raft.commit_to_current_term() {
            self.deferred_reads.push(ctx);
            return;
        }
        self.raw.read_index(ctx);
    }

    /// Starts the deferred reads once this leader has committed in its term; forgets them
    /// when it is no longer the leader (their callers are failed then).
    fn start_deferred_reads(&mut self) {
        if self.deferred_reads.is_empty() {
            return;
        }
        if !self.is_leader() {
            self.deferred_reads.clear();
        } else if self.raw.raft.commit_to_current_term() {
            for ctx in std::mem::take(&mut self.deferred_reads) {
                self.raw.read_index(ctx);
            }
        }
    }

    /// Hands leadership to another voter (used when a leader is asked to remove itself).
    pub fn transfer_leader(&mut self, to: u64) {
        self.raw.transfer_leader(to);
    }

    /// One turn of the Ready loop, its three steps run back to back ([`Replica::take_ready`],
    /// [`Replica::persist_ready`], [`Replica::apply_ready`]): every message to send, in order,
    /// and what applied. For callers that send nothing while the log is written (tests, the
    /// simulation, recovery); the driver runs the steps itself.
    pub fn handle_ready(&mut self) -> Result<ReadyOutput, ReplicaError> {
        let Some((taken, mut messages)) = self.take_ready() else { return Ok(ReadyOutput::default()) };
        let (persisted, sent_after_persisting) = self.persist_ready(taken)?;
        messages.extend(sent_after_persisting);
        let applied = self.apply_ready(persisted)?;
        Ok(ReadyOutput { messages, applied })
    }

    /// The first step of a Ready, `None` when raft-rs has nothing to do: the messages a leader
    /// may send before it persists (the Raft thesis, 10.2.1) — sent at once, followers write
    /// the entries while the leader does. No other call may reach raft-rs until the Ready is
    /// persisted.
    pub fn take_ready(&mut self) -> Option<(TakenReady, Vec<Message>)> {
        self.start_deferred_reads();
        if !self.raw.has_ready() {
            return None;
        }
        let mut ready = self.raw.ready();
        let messages = ready.take_messages();
        Some((TakenReady { ready }, messages))
    }

    /// The second step: a received snapshot, the new entries and the hard state written — one
    /// fsync where raft-rs needs them durable (entries, a snapshot, a term or vote), a lazy
    /// write otherwise (only the commit index moved: it is learnt again after a crash). Returns
    /// the messages that may go once they are written (a follower's acks and votes, a leader's
    /// commit broadcast), and what committed, to apply next: acks do not wait for the apply.
    pub fn persist_ready(&mut self, taken: TakenReady) -> Result<(PersistedReady, Vec<Message>), ReplicaError> {
        let mut ready = taken.ready;
        let mut batch = WriteBatch { lazy: !ready.must_sync(), ..WriteBatch::default() };
        let mut membership_changed = false;
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            let state = decode_state(snapshot.get_data())?;
            self.metrics.raft.snapshot(snapshot.get_data().len());
            self.state = state;
            self.applied = snapshot.get_metadata().index;
            self.raw.mut_store().install_snapshot(snapshot.clone());
            if let Some(audit) = &mut self.audit {
                audit.snapshot(self.applied, snapshot.get_metadata().term, &self.state).map_err(audit_failed)?;
            }
            crash_point(failpoints::DURING_SNAPSHOT_INSTALL);
            batch.conf_state = Some(snapshot.get_metadata().get_conf_state().clone());
            batch.install_snapshot = Some((snapshot, self.state.clone()));
            membership_changed = true;
        }
        let entries = ready.take_entries();
        if !entries.is_empty() {
            self.raw.mut_store().append(&entries);
            batch.entries = entries;
        }
        if let Some(hard_state) = ready.hs() {
            self.raw.mut_store().set_hard_state(hard_state.clone());
            batch.hard_state = Some(hard_state.clone());
        }
        self.persist(batch)?;
        let mut messages = ready.take_persisted_messages();
        let mut committed = ready.take_committed_entries();
        let read_states = ready.take_read_states();
        // The Ready's committed entries count as applied from here: they are, before anything
        // else reaches raft-rs (no joint consensus, whose auto-leave reads the applied index).
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit);
        }
        messages.extend(light.take_messages());
        committed.extend(light.take_committed_entries());
        Ok((PersistedReady { committed, read_states, membership_changed }, messages))
    }

    /// The last step: applies what committed and writes the rows it changed with the applied
    /// index (lazily: see `WriteBatch::lazy`), compacting the log when due. Returns the
    /// outcomes, effects and reads for the driver.
    pub fn apply_ready(&mut self, persisted: PersistedReady) -> Result<AppliedReady, ReplicaError> {
        let PersistedReady { committed, read_states, membership_changed } = persisted;
        let mut output = AppliedReady { read_states, membership_changed, ..AppliedReady::default() };
        let mut batch = WriteBatch { lazy: true, ..WriteBatch::default() };
        if !committed.is_empty() {
            self.apply_entries(committed, &mut batch, &mut output)?;
            // The applied index goes with a commit index at least as high.
            batch.hard_state = Some(self.raw.store().hard_state().clone());
        }
        self.maybe_compact(&mut batch);
        self.persist(batch)?;
        self.raw.advance_apply();
        if self.raw.store().take_snapshot_request() {
            let snapshot = self.snapshot_of_applied_state();
            self.raw.mut_store().offer_snapshot(snapshot);
        }
        Ok(output)
    }

    /// Writes a batch: the audit lines of what it covers first, so that a crash never leaves
    /// the store ahead of the trail; the log-append crash points around it.
    fn persist(&mut self, batch: WriteBatch) -> Result<(), ReplicaError> {
        if let Some(audit) = &mut self.audit {
            audit.flush().map_err(audit_failed)?;
        }
        let appends = !batch.entries.is_empty();
        if appends {
            crash_point(failpoints::BEFORE_LOG_APPEND);
        }
        if !batch.is_empty()
            && let Some(err) = failpoints::injected_storage_error(failpoints::STORE_WRITE_FAILS)
        {
            return Err(StoreError::io(err).into());
        }
        let (fsynced, started) = (!batch.lazy && !batch.is_empty(), Instant::now());
        self.store.write(batch)?;
        if fsynced {
            self.metrics.raft.fsynced(started.elapsed());
        }
        if appends {
            crash_point(failpoints::AFTER_LOG_APPEND);
            if self.is_leader() {
                crash_point(failpoints::LEADER_AFTER_LOG_APPEND);
            }
        }
        Ok(())
    }

    fn apply_entries(&mut self, entries: Vec<Entry>, batch: &mut WriteBatch, output: &mut AppliedReady) -> Result<(), ReplicaError> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal if entry.data.is_empty() => {}
                EntryType::EntryNormal => match postcard::from_bytes::<Proposal>(&entry.data) {
                    Ok(proposal) => {
                        let mut outcomes = Vec::with_capacity(proposal.commands.len());
                        for command in &proposal.commands {
                            let (outcome, effects) = machine::apply(&mut self.state, command);
                            self.metrics.scheduling.applied(command, &outcome, &self.state);
                            if let (Some(audit), Outcome::Assigned { task, .. }) = (&mut self.audit, &outcome) {
                                audit.assigned(entry.index, *task, &self.state).map_err(audit_failed)?;
                            }
                            outcomes.push(outcome);
                            output.effects.extend(effects);
                        }
                        output.proposals.push(AppliedProposal {
                            index: entry.index,
                            proposer: proposal.proposer,
                            batch_id: proposal.batch_id,
                            outcomes,
                        });
                    }
                    // Every replica skips the same undecodable entry alike.
                    Err(err) => tracing::error!(index = entry.index, %err, "skipping an undecodable log entry"),
                },
                EntryType::EntryConfChange => {
                    let change = ConfChange::parse_from_bytes(&entry.data)
                        .map_err(|err| ReplicaError::Membership(format!("undecodable membership change at {}: {err}", entry.index)))?;
                    let conf_state = self.raw.apply_conf_change(&change)?;
                    // A promotion carries no address: the member keeps the one it joined with.
                    let command = match change.get_change_type() {
                        ConfChangeType::RemoveNode => Some(Command::RemoveMember { id: change.node_id }),
                        _ if change.context.is_empty() => None,
                        _ => Some(Command::SetMemberAddr { id: change.node_id, addr: String::from_utf8_lossy(&change.context).into_owned() }),
                    };
                    if let Some(command) = command {
                        machine::apply(&mut self.state, &command);
                    }
                    self.raw.mut_store().set_conf_state(conf_state.clone());
                    batch.conf_state = Some(conf_state);
                    output.membership_changed = true;
                }
                EntryType::EntryConfChangeV2 => {
                    return Err(ReplicaError::Membership("joint-consensus membership changes are not used".to_owned()));
                }
            }
            self.applied = entry.index;
            if let Some(audit) = &mut self.audit {
                audit.entry(&entry, &self.state).map_err(audit_failed)?;
            }
        }
        crash_point(failpoints::AFTER_APPLY_BEFORE_PERSIST);
        batch.rows.extend(self.state.take_dirty().into_iter().map(|row| encode_row(&self.state, row)));
        batch.applied = Some(self.applied);
        Ok(())
    }

}

/// The audit trail could not be written: the replica stops, as on a storage failure.
fn audit_failed(err: std::io::Error) -> ReplicaError {
    ReplicaError::Store(StoreError::io(std::io::Error::other(format!("audit trail: {err}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory_store::MemoryStore;

    #[test]
    fn a_lone_voter_leads_at_once_and_one_of_three_waits_for_an_election() {
        let alone: BTreeMap<u64, String> = [(1, "127.0.0.1:1".to_owned())].into();
        let replica = Replica::open(&ReplicaConfig::new(1), &alone, MemoryStore::default()).expect("opens");
        assert!(replica.is_leader());
        let three: BTreeMap<u64, String> = (1..=3).map(|id| (id, format!("127.0.0.1:{id}"))).collect();
        let replica = Replica::open(&ReplicaConfig::new(1), &three, MemoryStore::default()).expect("opens");
        assert_eq!(replica.role(), StateRole::Follower);
    }

    #[test]
    fn a_read_asked_of_a_new_leader_before_its_first_commit_is_answered_after_it() {
        let peers: BTreeMap<u64, String> = [(1, "127.0.0.1:1".to_owned())].into();
        let mut replica = Replica::open(&ReplicaConfig::new(1), &peers, MemoryStore::default()).expect("opens");
        let mut ticks = 0;
        while !replica.is_leader() {
            replica.tick();
            ticks += 1;
            assert!(ticks < 100, "a single replica should elect itself");
        }
        // Leader now, with the entry of its term not committed yet: raft-rs itself would drop
        // this read, and its caller would wait forever.
        assert!(!replica.raw.raft.commit_to_current_term());
        replica.read_index(b"r1".to_vec());
        let mut answered = Vec::new();
        for _ in 0..10 {
            answered.extend(replica.handle_ready().expect("ready").applied.read_states.into_iter().map(|read| read.request_ctx));
        }
        assert_eq!(answered, vec![b"r1".to_vec()]);
        assert!(replica.raw.raft.commit_to_current_term());
    }
}
