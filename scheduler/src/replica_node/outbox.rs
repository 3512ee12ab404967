//! The proposal outbox: client commands and the leader's own proposals gathered while the
//! driver was busy, proposed as few log entries as the size caps allow, and the callers
//! waiting for each entry to apply.

use std::collections::HashMap;

use super::DriverError;
use super::request::OutcomeReply;
use crate::consensus::{AppliedProposal, Replica};
use crate::state::model::TaskId;
use crate::machine::{Command, Outcome, Proposal};
use crate::storage::DurableStore;

/// Commands in one log entry at most; more are split over several entries.
const MAX_COMMANDS_PER_ENTRY: usize = 4096;
/// Encoded commands in one log entry at most (a caller's batch larger than this goes alone).
/// An append carries whole entries (raft-rs sends at least one however large), so entries
/// must stay far below the largest `RaftService` message (`transport::MAX_PEER_MESSAGE`):
/// 4,096 submits of the largest spec would otherwise make one entry of over 100 MiB that no
/// follower could receive.
const MAX_ENTRY_BYTES: usize = 2 << 20;

/// A proposer waiting for the outcomes of its commands: `count` of them from `offset` on.
struct Caller {
    offset: usize,
    count: usize,
    reply: OutcomeReply,
}

/// An entry proposed by this replica and not applied yet.
struct PendingEntry {
    callers: Vec<Caller>,
    /// Tasks whose Assign is in this entry (placement's own proposals).
    assigns: Vec<TaskId>,
}

#[derive(Default)]
pub struct Outbox {
    /// Commands gathered since the last flush, each batch with its caller (none for the
    /// leader's own proposals).
    gathered: Vec<(Vec<Command>, Option<OutcomeReply>)>,
    /// Tasks whose Assign is among the gathered commands.
    gathered_assigns: Vec<TaskId>,
    last_entry: u64,
    pending: HashMap<u64, PendingEntry>,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.gathered.is_empty()
    }

    /// The commands gathered and not proposed yet, in the order they will be proposed.
    pub fn gathered(&self) -> impl Iterator<Item = &Command> {
        self.gathered.iter().flat_map(|(commands, _)| commands)
    }

    /// A caller's commands, answered with their outcomes once their entry applies.
    pub fn gather(&mut self, commands: Vec<Command>, reply: OutcomeReply) {
        self.gathered.push((commands, Some(reply)));
    }

    /// The leader's own commands (liveness verdicts, placements); `assigns` are the tasks
    /// whose Assign is among them.
    pub fn gather_own(&mut self, commands: Vec<Command>, assigns: Vec<TaskId>) {
        self.gathered.push((commands, None));
        self.gathered_assigns.extend(assigns);
    }

    /// Refuses everything gathered (this replica is not the leader); returns the tasks whose
    /// Assign was dropped.
    pub fn refuse_all(&mut self, error: &DriverError) -> Vec<TaskId> {
        for (_, reply) in self.gathered.drain(..) {
            if let Some(reply) = reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        std::mem::take(&mut self.gathered_assigns)
    }

    /// Proposes everything gathered, as few log entries as the size cap allows; returns the
    /// tasks whose Assign was dropped with a refused proposal.
    pub fn propose_all<S: DurableStore>(&mut self, replica: &mut Replica<S>) -> Vec<TaskId> {
        let gathered = std::mem::take(&mut self.gathered);
        let assigns = std::mem::take(&mut self.gathered_assigns);
        let mut dropped = Vec::new();
        let mut commands = Vec::new();
        let mut callers = Vec::new();
        let mut entry_bytes = 0;
        for (batch, reply) in gathered {
            let batch_bytes: usize = batch.iter().map(encoded_len).sum();
            let full = commands.len() + batch.len() > MAX_COMMANDS_PER_ENTRY || entry_bytes + batch_bytes > MAX_ENTRY_BYTES;
            if !commands.is_empty() && full {
                let entry = PendingEntry { callers: std::mem::take(&mut callers), assigns: Vec::new() };
                dropped.extend(self.propose_entry(replica, std::mem::take(&mut commands), entry));
                entry_bytes = 0;
            }
            entry_bytes += batch_bytes;
            if let Some(reply) = reply {
                callers.push(Caller { offset: commands.len(), count: batch.len(), reply });
            }
            commands.extend(batch);
        }
        // Entries apply in order: when the last one applies, every Assign gathered here has.
        dropped.extend(self.propose_entry(replica, commands, PendingEntry { callers, assigns }));
        dropped
    }

    /// The entries proposed so far (tests).
    #[cfg(test)]
    fn entries_proposed(&self) -> u64 {
        self.last_entry
    }

    /// Proposes one entry; when raft refuses it, fails its callers and returns its assigns.
    fn propose_entry<S: DurableStore>(&mut self, replica: &mut Replica<S>, commands: Vec<Command>, entry: PendingEntry) -> Vec<TaskId> {
        self.last_entry += 1;
        let proposal = Proposal { proposer: replica.id(), batch_id: self.last_entry, commands };
        match replica.propose(&proposal) {
            Ok(()) => {
                self.pending.insert(self.last_entry, entry);
                Vec::new()
            }
            Err(err) => {
                let error = DriverError::Unknown(format!("the proposal was dropped: {err}"));
                for caller in entry.callers {
                    let _ = caller.reply.send(Err(error.clone()));
                }
                entry.assigns
            }
        }
    }

    /// Answers the callers of an entry this replica proposed, now applied; returns the
    /// tasks whose Assign it carried.
    pub fn applied(&mut self, applied: AppliedProposal) -> Vec<TaskId> {
        let Some(entry) = self.pending.remove(&applied.batch_id) else { return Vec::new() };
        for caller in entry.callers {
            let mine = applied.outcomes.get(caller.offset..caller.offset + caller.count).map(<[Outcome]>::to_vec);
            let _ = caller.reply.send(mine.ok_or_else(|| DriverError::Unknown("the entry applied without outcomes".to_owned())));
        }
        entry.assigns
    }

    /// Fails every caller waiting for an entry to apply (leadership lost, shutting down).
    pub fn fail_pending(&mut self, error: &DriverError) {
        for (_, entry) in self.pending.drain() {
            for caller in entry.callers {
                let _ = caller.reply.send(Err(error.clone()));
            }
        }
    }
}

/// A command's size in the log (postcard, as `Replica::propose` encodes it).
fn encoded_len(command: &Command) -> usize {
    postcard::serialize_with_flavor(command, postcard::ser_flavors::Size::default()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::sync::oneshot;

    use super::*;
    use crate::consensus::ReplicaConfig;
    use crate::state::model::JobSpec;
    use crate::storage::memory_store::MemoryStore;

    /// A submit of the largest spec a client may send: 64 labels of 256 bytes.
    fn large_submit(n: usize) -> Command {
        let labels: BTreeMap<String, String> = (0..64).map(|key| (format!("label-{key}"), "v".repeat(256))).collect();
        Command::SubmitJob { request_id: format!("r{n}"), owner: String::new(), spec: JobSpec { labels, ..JobSpec::for_tests() }, now_ms: 1, trace_parent: None }
    }

    #[test]
    fn large_commands_are_split_over_entries_by_bytes() {
        let alone: BTreeMap<u64, String> = [(1, "127.0.0.1:1".to_owned())].into();
        let mut replica = Replica::open(&ReplicaConfig::new(1), &alone, MemoryStore::default()).expect("opens");
        let mut outbox = Outbox::default();
        let per_command = encoded_len(&large_submit(0));
        let count = 4 * MAX_ENTRY_BYTES / per_command;
        for n in 0..count {
            outbox.gather(vec![large_submit(n)], oneshot::channel().0);
        }
        outbox.propose_all(&mut replica);
        assert!(outbox.entries_proposed() >= 4, "{count} commands of {per_command} bytes went into {} entries", outbox.entries_proposed());
        assert!(outbox.entries_proposed() <= 5);
    }
}
