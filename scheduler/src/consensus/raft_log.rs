//! The in-memory view of the replica's Raft log that raft-rs reads through its `Storage`
//! trait. It mirrors what the durable store holds: the replica updates both in the same step,
//! the store first.

use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

#[derive(Debug, Default)]
pub struct RaftLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// The latest snapshot; its index is the last compacted entry.
    snapshot: Snapshot,
    /// Entries after the snapshot, contiguous.
    entries: Vec<Entry>,
    /// A snapshot of the applied state made on demand for a peer (a new replica must get one
    /// whose membership includes it); not a compaction point, never persisted.
    to_send: Option<Snapshot>,
    /// raft-rs asked for a snapshot this log could not give: the replica makes one.
    snapshot_wanted: std::cell::Cell<bool>,
}

impl RaftLog {
    pub fn new(hard_state: HardState, conf_state: ConfState, snapshot: Snapshot, entries: Vec<Entry>) -> RaftLog {
        let mut log = RaftLog { hard_state, conf_state, snapshot, entries: Vec::new(), to_send: None, snapshot_wanted: std::cell::Cell::new(false) };
        let snapshot_index = log.snapshot_index();
        log.entries = entries.into_iter().filter(|entry| entry.index > snapshot_index).collect();
        log
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    pub fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    pub fn set_conf_state(&mut self, conf_state: ConfState) {
        self.conf_state = conf_state;
    }

    /// Appends entries; an entry at an existing index replaces it and everything after it.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        let keep = first.index.saturating_sub(self.snapshot_index() + 1) as usize;
        self.entries.truncate(keep);
        self.entries.extend_from_slice(entries);
    }

    /// A snapshot from the leader replaces the whole log.
    pub fn install_snapshot(&mut self, snapshot: Snapshot) {
        let metadata = snapshot.get_metadata();
        self.conf_state = metadata.get_conf_state().clone();
        if self.hard_state.commit < metadata.index {
            self.hard_state.commit = metadata.index;
        }
        if self.hard_state.term < metadata.term {
            self.hard_state.term = metadata.term;
        }
        self.entries.clear();
        self.snapshot = snapshot;
    }

    /// A snapshot taken locally: entries up to its index are dropped.
    pub fn compact(&mut self, snapshot: Snapshot) {
        let upto = snapshot.get_metadata().index;
        self.entries.retain(|entry| entry.index > upto);
        self.snapshot = snapshot;
    }

    /// Whether raft-rs wants a snapshot that has to be made first; clears the request.
    pub fn take_snapshot_request(&self) -> bool {
        self.snapshot_wanted.replace(false)
    }

    /// Offers a snapshot of the applied state for sending to peers.
    pub fn offer_snapshot(&mut self, snapshot: Snapshot) {
        self.to_send = Some(snapshot);
    }

    pub fn log_len(&self) -> usize {
        self.entries.len()
    }
}

impl Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState { hard_state: self.hard_state.clone(), conf_state: self.conf_state.clone() })
    }

    fn entries(&self, low: u64, high: u64, max_size: impl Into<Option<u64>>, _context: GetEntriesContext) -> raft::Result<Vec<Entry>> {
        let first = self.first_index()?;
        if low < first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index()? + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let offset = first;
        let mut entries = self.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        let snapshot = self.snapshot.get_metadata();
        if index == snapshot.index {
            return Ok(snapshot.term);
        }
        if index < snapshot.index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.entries.get((index - snapshot.index - 1) as usize) {
            Some(entry) => Ok(entry.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.snapshot_index() + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.entries.last().map_or(self.snapshot_index(), |entry| entry.index))
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let newest = match &self.to_send {
            Some(offered) if offered.get_metadata().index >= self.snapshot_index() => offered,
            _ => &self.snapshot,
        };
        let metadata = newest.get_metadata();
        let conf = metadata.get_conf_state();
        let includes_peer = conf.get_voters().contains(&to) || conf.get_learners().contains(&to);
        if metadata.index < request_index || !includes_peer {
            // raft-rs retries later; by then the replica has made a fresh one.
            self.snapshot_wanted.set(true);
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(newest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, ..Default::default() }
    }

    #[test]
    fn append_replaces_a_conflicting_suffix() {
        let mut log = RaftLog::default();
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        log.append(&[entry(2, 2)]);
        assert_eq!(log.last_index().ok(), Some(2));
        assert_eq!(log.term(2).ok(), Some(2));
    }

    #[test]
    fn compaction_keeps_the_snapshot_term() {
        let mut log = RaftLog::default();
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 2)]);
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = 2;
        snapshot.mut_metadata().term = 1;
        log.compact(snapshot);
        assert_eq!(log.first_index().ok(), Some(3));
        assert_eq!(log.term(2).ok(), Some(1));
        assert!(log.term(1).is_err());
        assert!(log.entries(1, 3, None, GetEntriesContext::empty(false)).is_err());
        assert_eq!(log.entries(3, 4, None, GetEntriesContext::empty(false)).map(|entries| entries.len()).ok(), Some(1));
    }
}
