//! Log compaction: the applied state taken as a snapshot every `snapshot_every` applied
//! entries, and the log before it dropped.

use raft::Storage as _;
use raft::prelude::Snapshot;

use super::replica::Replica;
use crate::storage::{DurableStore, WriteBatch, state_snapshot};

impl<S: DurableStore> Replica<S> {
    /// The applied state with its index, term and membership, as a Raft snapshot.
    pub(super) fn snapshot_of_applied_state(&self) -> Snapshot {
        let store = self.raw.store();
        state_snapshot(&self.state, store.conf_state().clone(), self.applied, store.term(self.applied).unwrap_or(0))
    }

    /// Takes a snapshot of the state at the applied index and drops the log before it, once
    /// enough entries have been applied since the last one.
    pub(super) fn maybe_compact(&mut self, batch: &mut WriteBatch) {
        let store = self.raw.store();
        if self.applied < store.snapshot_index() + self.snapshot_every {
            return;
        }
        if store.term(self.applied).is_err() {
            return;
        }
        let snapshot = self.snapshot_of_applied_state();
        self.metrics.raft.snapshot(snapshot.get_data().len());
        let store = self.raw.store();
        tracing::info!(replica = self.id, index = self.applied, log_entries = store.log_len(), "snapshot taken, log compacted");
        self.raw.mut_store().compact(snapshot.clone());
        batch.compact_to = Some(snapshot);
    }
}
