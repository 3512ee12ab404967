//! The [`DurableStore`] contract in memory, for the deterministic simulation. Clones share
//! their contents, so a simulated crash drops the replica but keeps what it had written —
//! durably, as the disk store does: the log (entries, hard state) at each durable write; the
//! rest (rows, applied index, membership, snapshot) only with a snapshot taken or installed
//! and every [`STATE_DURABLE_EVERY_WRITES`] writes, where the disk store's redb commits
//! durably once a second. A crash loses the rest, and the replica applies again what it lost.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use raft::prelude::{ConfState, Entry, HardState, Snapshot};

use super::{DurableStore, ImageFromRows, Recovered, StoreError, WriteBatch, state_rows};
use crate::state::{Meta, RowKey, State};

/// The state part becomes durable every this many writes (and with every snapshot).
pub const STATE_DURABLE_EVERY_WRITES: u64 = 16;

#[derive(Debug, Default, Clone)]
struct Contents {
    hard_state: HardState,
    conf_state: ConfState,
    snapshot: Snapshot,
    log: BTreeMap<u64, Entry>,
    applied: u64,
    meta: Meta,
    rows: BTreeMap<RowKey, Vec<u8>>,
    writes: u64,
}

#[derive(Debug, Default)]
struct Disk {
    /// What survives a crash.
    durable: Contents,
    /// What the running replica has written, lazy batches included.
    working: Contents,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    disk: Arc<Mutex<Disk>>,
}

impl MemoryStore {
    /// How many batches were written (each would be one fsync on disk).
    pub fn writes(&self) -> u64 {
        self.disk.lock().map(|disk| disk.working.writes).unwrap_or(0)
    }
}

impl DurableStore for MemoryStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        let mut disk = self.disk.lock().map_err(|_| StoreError::corrupt("memory store", "poisoned"))?;
        // A (re)start sees only what was durable: lazy writes since are lost.
        disk.working = disk.durable.clone();
        let contents = &disk.durable;
        let mut image = ImageFromRows::new(contents.meta.clone());
        for (row, bytes) in &contents.rows {
            image.add(*row, bytes)?;
        }
        Ok(Recovered {
            hard_state: contents.hard_state.clone(),
            conf_state: contents.conf_state.clone(),
            snapshot: contents.snapshot.clone(),
            entries: contents.log.values().cloned().collect(),
            state: State::from_image(image.finish()?),
            applied: contents.applied,
        })
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut disk = self.disk.lock().map_err(|_| StoreError::corrupt("memory store", "poisoned"))?;
        let lazy = batch.lazy && batch.entries.is_empty() && batch.install_snapshot.is_none();
        let snapshots = batch.install_snapshot.is_some() || batch.compact_to.is_some();
        let contents = &mut disk.working;
        contents.writes += 1;
        if let Some((snapshot, state)) = batch.install_snapshot {
            contents.log.clear();
            contents.rows.clear();
            contents.rows.extend(state_rows(&state));
            contents.meta = state.meta.clone();
            contents.applied = snapshot.get_metadata().index;
            contents.snapshot = snapshot;
        }
        if let Some(first) = batch.entries.first() {
            let first_index = first.index;
            contents.log.retain(|index, _| *index < first_index);
            for entry in batch.entries {
                contents.log.insert(entry.index, entry);
            }
        }
        if let Some(hard_state) = batch.hard_state {
            contents.hard_state = hard_state;
        }
        if let Some(conf_state) = batch.conf_state {
            contents.conf_state = conf_state;
        }
        for (row, bytes) in batch.rows {
            match (row, bytes) {
                (RowKey::Meta, Some(bytes)) => {
                    contents.meta = postcard::from_bytes(&bytes).map_err(|err| StoreError::corrupt("meta", err))?;
                }
                (RowKey::Meta, None) => {}
                (row, Some(bytes)) => {
                    contents.rows.insert(row, bytes);
                }
                (row, None) => {
                    contents.rows.remove(&row);
                }
            }
        }
        if let Some(applied) = batch.applied {
            contents.applied = applied;
        }
        if let Some(snapshot) = batch.compact_to {
            let upto = snapshot.get_metadata().index;
            contents.log.retain(|index, _| *index > upto);
            contents.snapshot = snapshot;
        }
        if snapshots || disk.working.writes % STATE_DURABLE_EVERY_WRITES == 0 {
            // As the disk store syncs its log before each durable redb commit.
            disk.durable = disk.working.clone();
        } else if !lazy {
            disk.durable.hard_state = disk.working.hard_state.clone();
            disk.durable.log = disk.working.log.clone();
        }
        Ok(())
    }
}
