//! The proposal outbox: client commands and the leader's own proposals gathered while the
//! driver was busy, proposed as few log entries as the size cap allows, and the callers
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
        for (batch, reply) in gathered {
            if !commands.is_empty() && commands.len() + batch.len() > MAX_COMMANDS_PER_ENTRY {
                let entry = PendingEntry { callers: std::mem::take(&mut callers), assigns: Vec::new() };
                dropped.extend(self.propose_entry(replica, std::mem::take(&mut commands), entry));
            }
            if let Some(reply) = reply {
                callers.push(Caller { offset: commands.len(), count: batch.len(), reply });
            }
            commands.extend(batch);
        }
        // Entries apply in order: when the last one applies, every Assign gathered here has.
        dropped.extend(self.propose_entry(replica, commands, PendingEntry { callers, assigns }));
        dropped
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
