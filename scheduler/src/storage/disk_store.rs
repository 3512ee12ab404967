//! The durable store of a replica on disk: the Raft log and hard state in a write-ahead log
//! ([`super::wal`], `DATA_DIR/wal/`), everything else in redb (`DATA_DIR/raft.redb`: the
//! state's rows with the applied index that covers them, the conf state, the latest snapshot,
//! the replica's id).
//!
//! Why two files: a commit waits for the log to be durable on a quorum, and a synced append
//! is an order of magnitude cheaper than a redb transaction. The rows need no sync of their
//! own: they are a function of the log, and a crash that loses some is repaired by applying
//! the committed entries after the applied index again (see `WriteBatch::lazy`). So the rows
//! go to redb on a thread of their own ([`super::state_writer`]), and the driver that calls
//! [`DurableStore::write`] waits only for the log.
//!
//! How the two stay consistent:
//! - An entry is applied only once its append was synced, so the applied index on disk never
//!   runs ahead of the entries on disk. The commit index in the log may (it is written lazily,
//!   while the writer makes its commits durable once a second): load raises it to the applied
//!   index, which only committed entries reach.
//! - Compaction drops log segments only after the writer has made the snapshot that covers
//!   them durable.
//! - A snapshot from the leader is installed in redb first (after every row sent before it),
//!   recording `log_reset_at`, then the log is reset. A crash between the two leaves a log
//!   older than the reset: load finds `log_reset_at` ahead of the log's and discards it, as
//!   the install meant to.
//! - A data directory from before the log had its own file (entries and hard state in redb's
//!   `raft_log` and `raft_meta`) is moved into a new log on first open: written in `wal.tmp/`,
//!   synced, renamed to `wal/`, and only then removed from redb.
//! - A task is three rows (`task_rows`, `task_specs`, `task_outputs`: [`super::task_row`]);
//!   a data directory from before, with whole tasks in `tasks`, has them split in the
//!   transaction that opens the tables.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::state_writer::{StateWrite, StateWriter};
use super::wal::{self, Replayed, Wal};
use super::{DurableStore, ImageFromRows, Recovered, StoreError, WriteBatch, state_rows, task_rows};
use crate::state::model::Task;
use crate::state::{Meta, RowKey, State};

/// Log entries of a data directory from before the write-ahead log; moved into it on open.
const LEGACY_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const RAFT_META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
/// Tasks but their specs and outputs ([`super::task_row::TaskRow`]), which have tables of their own.
const TASK_ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("task_rows");
const TASK_SPECS: TableDefinition<u64, &[u8]> = TableDefinition::new("task_specs");
const TASK_OUTPUTS: TableDefinition<u64, &[u8]> = TableDefinition::new("task_outputs");
/// Whole tasks, specs and outputs included, of a data directory from before they were
/// stored apart; split into the three tables above on open.
const LEGACY_TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
const NODES: TableDefinition<u64, &[u8]> = TableDefinition::new("nodes");
const RECIPES: TableDefinition<u64, &[u8]> = TableDefinition::new("recipes");

/// A table of state rows, and the row key of each of its ids.
type RowTable = (TableDefinition<'static, u64, &'static [u8]>, fn(u64) -> RowKey);
/// Every table of state rows but the meta row's.
const ROW_TABLES: [RowTable; 6] = [
    (JOBS, RowKey::Job),
    (TASK_ROWS, RowKey::Task),
    (TASK_SPECS, RowKey::TaskSpec),
    (TASK_OUTPUTS, RowKey::TaskOutput),
    (NODES, RowKey::Node),
    (RECIPES, RowKey::Recipe),
];

/// The hard state of a data directory from before the write-ahead log.
const LEGACY_HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const SNAPSHOT: &str = "snapshot";
const APPLIED: &str = "applied";
const STATE_META: &str = "state_meta";
/// The index after which the last snapshot installed from a leader emptied the log.
const LOG_RESET_AT: &str = "log_reset_at";
/// The id of the replica that owns the store, recorded when it first opens it.
const REPLICA_ID: &str = "replica_id";

pub struct DiskStore {
    db: Arc<Database>,
    writer: StateWriter,
    wal: Wal,
    wal_dir: PathBuf,
    /// What opening the log replayed, for the first load when nothing was written since
    /// (the replica's start): the log is read once, not twice.
    opened_log: Cell<Option<Replayed>>,
    /// The snapshot index the log was last compacted to.
    compacted_to: u64,
}

impl DiskStore {
    /// Opens (or creates) the store in `dir`: `raft.redb` and the write-ahead log `wal/`
    /// (cutting off a torn tail; moving a legacy log out of redb).
    pub fn open(dir: &Path) -> Result<DiskStore, StoreError> {
        let path = dir.join("raft.redb");
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open { path: path.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(|err| open_error(Box::new(err)))?;
        // redb's lock on its file keeps a second process out of the log too.
        let db = Database::create(&path).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked { path: path.display().to_string() },
            other => open_error(Box::new(other)),
        })?;
        // Create the tables so that a read of a fresh store finds them.
        let txn = db.begin_write().map_err(StoreError::io)?;
        for table in ROW_TABLES.map(|(table, _)| table).into_iter().chain([LEGACY_LOG]) {
            txn.open_table(table).map_err(StoreError::io)?;
        }
        txn.open_table(RAFT_META).map_err(StoreError::io)?;
        split_legacy_tasks(&txn)?;
        txn.commit().map_err(StoreError::io)?;
        let wal_dir = dir.join("wal");
        move_legacy_log(&db, dir, &wal_dir)?;
        let (mut wal, mut replayed) = Wal::open(&wal_dir)?;
        let log_reset_at = read_u64(&db, LOG_RESET_AT, "log reset index")?.unwrap_or(0);
        if log_reset_at > wal.reset_at() {
            tracing::warn!(log_reset_at, wal_reset_at = wal.reset_at(), "a snapshot was installed but the log not reset before a crash; resetting it now");
            wal.reset(log_reset_at)?;
            replayed.entries.clear();
        }
        let db = Arc::new(db);
        let writer = StateWriter::start(Arc::clone(&db))?;
        Ok(DiskStore { db, writer, wal, wal_dir, opened_log: Cell::new(Some(replayed)), compacted_to: 0 })
    }

    /// Opens the store of an existing data directory (refused where there is none).
    pub fn open_existing(dir: &Path) -> Result<DiskStore, StoreError> {
        if !dir.join("raft.redb").is_file() {
            return Err(StoreError::NotADataDir { path: dir.display().to_string() });
        }
        DiskStore::open(dir)
    }

    /// The replica that owns this store, recorded by [`DiskStore::claim`].
    pub fn replica_id(&self) -> Result<Option<u64>, StoreError> {
        read_u64(&self.db, REPLICA_ID, "replica id")
    }

    /// Drops the log up to the latest snapshot the writer has made durable.
    fn compact_to_durable_snapshot(&mut self) -> Result<(), StoreError> {
        let durable = self.writer.durable_snapshot();
        if durable > self.compacted_to {
            self.wal.compact(durable)?;
            self.compacted_to = durable;
        }
        Ok(())
    }

    /// Records that replica `id` owns this store; refuses a store another replica owns.
    pub fn claim(&mut self, id: u64) -> Result<(), StoreError> {
        match self.replica_id()? {
            Some(stored) if stored == id => Ok(()),
            Some(stored) => Err(StoreError::OtherReplica { stored, given: id }),
            None => {
                let txn = self.db.begin_write().map_err(StoreError::io)?;
                txn.open_table(RAFT_META).map_err(StoreError::io)?.insert(REPLICA_ID, id.to_le_bytes().as_slice()).map_err(StoreError::io)?;
                txn.commit().map_err(StoreError::io)
            }
        }
    }
}

/// Adds every row of `table` to `image`, each keyed by `row`.
fn read_rows(image: &mut ImageFromRows, table: &impl ReadableTable<u64, &'static [u8]>, row: fn(u64) -> RowKey) -> Result<(), StoreError> {
    for stored in table.iter().map_err(StoreError::io)? {
        let (key, value) = stored.map_err(StoreError::io)?;
        image.add(row(key.value()), value.value())?;
    }
    Ok(())
}

impl DurableStore for DiskStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        self.writer.flush()?;
        let txn = self.db.begin_read().map_err(StoreError::io)?;
        let meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
        let get = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(meta.get(key).map_err(StoreError::io)?.map(|value| value.value().to_vec()))
        };
        let mut recovered = Recovered::default();
        if let Some(bytes) = get(CONF_STATE)? {
            recovered.conf_state = ConfState::parse_from_bytes(&bytes).map_err(|err| StoreError::corrupt("conf state", err))?;
        }
        if let Some(bytes) = get(SNAPSHOT)? {
            recovered.snapshot = Snapshot::parse_from_bytes(&bytes).map_err(|err| StoreError::corrupt("snapshot", err))?;
        }
        if let Some(bytes) = get(APPLIED)? {
            recovered.applied = u64_of(&bytes, "applied index")?;
        }
        let state_meta: Meta = match get(STATE_META)? {
            Some(bytes) => postcard::from_bytes(&bytes).map_err(|err| StoreError::corrupt("state meta", err))?,
            None => Meta::default(),
        };
        let mut image = ImageFromRows::new(state_meta);
        for (table, row) in ROW_TABLES {
            read_rows(&mut image, &txn.open_table(table).map_err(StoreError::io)?, row)?;
        }
        recovered.state = State::from_image(image.finish()?);
        let log = match self.opened_log.take() {
            Some(replayed) => replayed,
            None => Wal::read(&self.wal_dir)?,
        };
        let (snapshot_index, snapshot_term) = (recovered.snapshot.get_metadata().index, recovered.snapshot.get_metadata().term);
        recovered.hard_state = log.hard_state.unwrap_or_default();
        // A crash between a snapshot's install and the log's hard state after it leaves the
        // hard state behind the snapshot, which is committed by definition; a crash before a
        // lazy hard state was synced, behind the applied index, which only committed entries
        // reach.
        recovered.hard_state.commit = recovered.hard_state.commit.max(snapshot_index).max(recovered.applied);
        if recovered.hard_state.term < snapshot_term {
            recovered.hard_state.term = snapshot_term;
            recovered.hard_state.vote = 0;
        }
        recovered.entries = log.entries.into_iter().filter(|entry| entry.index > snapshot_index).collect();
        if let Some(first) = recovered.entries.first().filter(|first| first.index > snapshot_index + 1) {
            return Err(StoreError::corrupt("write-ahead log", format!("the log resumes at entry {} after a snapshot at {snapshot_index}: the entries between are missing", first.index)));
        }
        Ok(recovered)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.opened_log.take();
        self.compact_to_durable_snapshot()?;
        let WriteBatch { install_snapshot, entries, hard_state, conf_state, rows, applied, compact_to, lazy } = batch;
        let mut conf_state = conf_state;
        if let Some((snapshot, state)) = install_snapshot {
            // redb first, recording the reset; then the log (see the module docs).
            self.wal.sync()?;
            let index = snapshot.get_metadata().index;
            self.writer.install(snapshot, state, conf_state.take())?;
            self.wal.reset(index)?;
        }
        self.wal.append_entries(&entries)?;
        if let Some(hard_state) = &hard_state {
            self.wal.append_hard_state(hard_state)?;
        }
        if !lazy || !entries.is_empty() {
            self.wal.sync()?;
        }
        let state = StateWrite { rows, applied, conf_state, compact_to };
        if state.is_empty() {
            return Ok(());
        }
        self.writer.write(state)
    }
}

impl Drop for DiskStore {
    /// Makes what was written durable on a clean close, so a restart applies nothing again.
    fn drop(&mut self) {
        let closed = self.wal.sync().and_then(|()| self.writer.close());
        if let Err(err) = closed {
            tracing::warn!(%err, "could not make the store durable on close; the next start applies the latest entries again");
        }
    }
}

fn u64_of(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| StoreError::corrupt(what, "not 8 bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The number stored under `key` in `raft_meta` (`what` it is, for an error).
fn read_u64(db: &Database, key: &str, what: &str) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read().map_err(StoreError::io)?;
    let meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
    meta.get(key).map_err(StoreError::io)?.map(|value| u64_of(value.value(), what)).transpose()
}

/// The tables a state write touches, open in one write transaction.
struct StateTables<'txn> {
    meta: redb::Table<'txn, &'static str, &'static [u8]>,
    jobs: redb::Table<'txn, u64, &'static [u8]>,
    task_rows: redb::Table<'txn, u64, &'static [u8]>,
    task_specs: redb::Table<'txn, u64, &'static [u8]>,
    task_outputs: redb::Table<'txn, u64, &'static [u8]>,
    nodes: redb::Table<'txn, u64, &'static [u8]>,
    recipes: redb::Table<'txn, u64, &'static [u8]>,
}

impl<'txn> StateTables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<StateTables<'txn>, StoreError> {
        Ok(StateTables {
            meta: txn.open_table(RAFT_META).map_err(StoreError::io)?,
            jobs: txn.open_table(JOBS).map_err(StoreError::io)?,
            task_rows: txn.open_table(TASK_ROWS).map_err(StoreError::io)?,
            task_specs: txn.open_table(TASK_SPECS).map_err(StoreError::io)?,
            task_outputs: txn.open_table(TASK_OUTPUTS).map_err(StoreError::io)?,
            nodes: txn.open_table(NODES).map_err(StoreError::io)?,
            recipes: txn.open_table(RECIPES).map_err(StoreError::io)?,
        })
    }

    /// The table that holds `row`, and its id there (none for the meta row).
    fn table_of(&mut self, row: RowKey) -> Option<(&mut redb::Table<'txn, u64, &'static [u8]>, u64)> {
        match row {
            RowKey::Meta => None,
            RowKey::Job(id) => Some((&mut self.jobs, id)),
            RowKey::Task(id) => Some((&mut self.task_rows, id)),
            RowKey::TaskSpec(id) => Some((&mut self.task_specs, id)),
            RowKey::TaskOutput(id) => Some((&mut self.task_outputs, id)),
            RowKey::Node(id) => Some((&mut self.nodes, id)),
            RowKey::Recipe(id) => Some((&mut self.recipes, id)),
        }
    }

    /// Writes a row's bytes, or deletes it (`None`); the meta row is never deleted.
    fn put_row(&mut self, row: RowKey, bytes: Option<&[u8]>) -> Result<(), StoreError> {
        let Some((table, id)) = self.table_of(row) else {
            return bytes.map_or(Ok(()), |bytes| self.put_meta(STATE_META, bytes));
        };
        match bytes {
            Some(bytes) => table.insert(id, bytes).map(|_| ()),
            None => table.remove(id).map(|_| ()),
        }
        .map_err(StoreError::io)
    }

    /// Deletes the rows `first` to `last` of one table, every id between them included, in
    /// one scan of the tree.
    fn delete_run(&mut self, first: RowKey, last: RowKey) -> Result<(), StoreError> {
        let Some(last) = self.table_of(last).map(|(_, id)| id) else { return Ok(()) };
        let Some((table, first)) = self.table_of(first) else { return Ok(()) };
        table.retain_in(first..=last, |_, _| false).map_err(StoreError::io)
    }

    fn put_meta(&mut self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key, bytes).map(|_| ()).map_err(StoreError::io)
    }

    /// The membership, applied index and snapshot that go with the rows.
    fn put_raft_meta(&mut self, conf_state: Option<&ConfState>, applied: Option<u64>, snapshot: Option<&Snapshot>) -> Result<(), StoreError> {
        if let Some(conf_state) = conf_state {
            self.put_meta(CONF_STATE, &conf_state.write_to_bytes().map_err(StoreError::io)?)?;
        }
        if let Some(applied) = applied {
            self.put_meta(APPLIED, &applied.to_le_bytes())?;
        }
        if let Some(snapshot) = snapshot {
            self.put_meta(SNAPSHOT, &snapshot.write_to_bytes().map_err(StoreError::io)?)?;
        }
        Ok(())
    }
}

/// A snapshot from the leader: every row replaced by its state's, the snapshot, its index
/// as applied and as where the log was reset, and its membership.
pub(super) fn write_snapshot_install(txn: &WriteTransaction, snapshot: &Snapshot, state: &State, conf_state: Option<&ConfState>) -> Result<(), StoreError> {
    let mut tables = StateTables::open(txn)?;
    for table in [&mut tables.jobs, &mut tables.task_rows, &mut tables.task_specs, &mut tables.task_outputs, &mut tables.nodes, &mut tables.recipes] {
        table.retain(|_, _| false).map_err(StoreError::io)?;
    }
    for (row, bytes) in state_rows(state) {
        tables.put_row(row, Some(&bytes))?;
    }
    tables.put_row(RowKey::Meta, Some(&postcard::to_allocvec(&state.meta).map_err(StoreError::io)?))?;
    let index = snapshot.get_metadata().index;
    tables.put_raft_meta(conf_state, Some(index), Some(snapshot))?;
    tables.put_meta(LOG_RESET_AT, &index.to_le_bytes())
}

/// The rows applied entries changed, the applied index that covers them, a membership they
/// changed, and a snapshot taken locally.
///
/// Deletions of consecutive rows of a table (a finished job's tasks, dropped by retention,
/// were created together) go as one range: redb then removes them in one scan, where a
/// delete each rebuilt the path to its leaf (deletes had been a third of the writer's time
/// under `bench scheduler`).
pub(super) fn write_state(txn: &WriteTransaction, write: &StateWrite) -> Result<(), StoreError> {
    let mut tables = StateTables::open(txn)?;
    // The deletions gathered into a run, first and last.
    let mut run: Option<(RowKey, RowKey)> = None;
    for (row, bytes) in &write.rows {
        if bytes.is_none() && *row != RowKey::Meta {
            match &mut run {
                Some((_, last)) if following(*last) == Some(*row) => *last = *row,
                _ => {
                    if let Some((first, last)) = run.replace((*row, *row)) {
                        tables.delete_run(first, last)?;
                    }
                }
            }
            continue;
        }
        if let Some((first, last)) = run.take() {
            tables.delete_run(first, last)?;
        }
        tables.put_row(*row, bytes.as_deref())?;
    }
    if let Some((first, last)) = run {
        tables.delete_run(first, last)?;
    }
    tables.put_raft_meta(write.conf_state.as_ref(), write.applied, write.compact_to.as_ref())
}

/// The row after `row` in its table (none for the meta row).
fn following(row: RowKey) -> Option<RowKey> {
    match row {
        RowKey::Meta => None,
        RowKey::Job(id) => Some(RowKey::Job(id.checked_add(1)?)),
        RowKey::Task(id) => Some(RowKey::Task(id.checked_add(1)?)),
        RowKey::TaskSpec(id) => Some(RowKey::TaskSpec(id.checked_add(1)?)),
        RowKey::TaskOutput(id) => Some(RowKey::TaskOutput(id.checked_add(1)?)),
        RowKey::Node(id) => Some(RowKey::Node(id.checked_add(1)?)),
        RowKey::Recipe(id) => Some(RowKey::Recipe(id.checked_add(1)?)),
    }
}

/// Moves the log of a data directory from before the write-ahead log out of redb: written
/// in `wal.tmp/`, synced and renamed to `wal/`, then removed from redb (a crash in between
/// finds `wal/` and only removes).
fn move_legacy_log(db: &Database, dir: &Path, wal_dir: &Path) -> Result<(), StoreError> {
    let (entries, hard_state) = {
        let txn = db.begin_read().map_err(StoreError::io)?;
        let log = txn.open_table(LEGACY_LOG).map_err(StoreError::io)?;
        let mut entries = Vec::new();
        for row in log.iter().map_err(StoreError::io)? {
            let (index, bytes) = row.map_err(StoreError::io)?;
            entries.push(Entry::parse_from_bytes(bytes.value()).map_err(|err| StoreError::corrupt(format!("log entry {}", index.value()), err))?);
        }
        let meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
        let hard_state = match meta.get(LEGACY_HARD_STATE).map_err(StoreError::io)? {
            Some(bytes) => Some(HardState::parse_from_bytes(bytes.value()).map_err(|err| StoreError::corrupt("hard state", err))?),
            None => None,
        };
        (entries, hard_state)
    };
    if entries.is_empty() && hard_state.is_none() {
        return Ok(());
    }
    if !wal_dir.exists() {
        let staging = dir.join("wal.tmp");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(StoreError::io)?;
        }
        let (mut wal, _) = Wal::open(&staging)?;
        wal.append_entries(&entries)?;
        if let Some(hard_state) = &hard_state {
            wal.append_hard_state(hard_state)?;
        }
        wal.sync()?;
        drop(wal);
        std::fs::rename(&staging, wal_dir).map_err(StoreError::io)?;
        wal::sync_dir(dir)?;
        tracing::info!(entries = entries.len(), "moved the raft log out of raft.redb into its write-ahead log");
    }
    let txn = db.begin_write().map_err(StoreError::io)?;
    txn.open_table(LEGACY_LOG).map_err(StoreError::io)?.retain(|_, _| false).map_err(StoreError::io)?;
    txn.open_table(RAFT_META).map_err(StoreError::io)?.remove(LEGACY_HARD_STATE).map_err(StoreError::io)?;
    txn.commit().map_err(StoreError::io)
}

/// Splits the whole task rows of a data directory from before tasks were stored apart from
/// their specs and outputs into the three tables, and drops the old table, in `txn`.
fn split_legacy_tasks(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut split = 0usize;
    {
        let legacy = txn.open_table(LEGACY_TASKS).map_err(StoreError::io)?;
        let mut tables = StateTables::open(txn)?;
        for stored in legacy.iter().map_err(StoreError::io)? {
            let (id, bytes) = stored.map_err(StoreError::io)?;
            let task: Task = postcard::from_bytes(bytes.value()).map_err(|err| StoreError::corrupt(format!("task {}", id.value()), err))?;
            for (row, bytes) in task_rows(&task) {
                tables.put_row(row, Some(&bytes))?;
            }
            split += 1;
        }
    }
    txn.delete_table(LEGACY_TASKS).map_err(StoreError::io)?;
    if split > 0 {
        tracing::info!(tasks = split, "stored each task's spec and output apart from its row");
    }
    Ok(())
}

/// Reads a store's state at rest: for tests and for `shotfarm scheduler` diagnostics.
pub fn load_state(dir: &Path) -> Result<(State, u64), StoreError> {
    let recovered = DiskStore::open(dir)?.load()?;
    Ok((recovered.state, recovered.applied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::TaskState;
    use crate::storage::RowWrite;
    use redb::{ReadableTableMetadata, TableHandle};

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![index as u8].into(), ..Default::default() }
    }

    fn logged(store: &DiskStore) -> Vec<(u64, u64)> {
        store.load().expect("loads").entries.iter().map(|entry| (entry.index, entry.term)).collect()
    }

    fn snapshot_at(index: u64, term: u64) -> Snapshot {
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = index;
        snapshot.mut_metadata().term = term;
        snapshot
    }

    #[test]
    fn an_append_replaces_the_log_from_its_first_index_and_compaction_drops_what_the_snapshot_covers() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = DiskStore::open(dir.path()).expect("opens");
        // As a new group begins: a snapshot at 1, the log from 2.
        store.write(WriteBatch { compact_to: Some(snapshot_at(1, 1)), ..WriteBatch::default() }).expect("bootstraps");
        store.write(WriteBatch { entries: (2..=6).map(|index| entry(index, 1)).collect(), ..WriteBatch::default() }).expect("appends");
        store.write(WriteBatch { entries: vec![entry(7, 1)], ..WriteBatch::default() }).expect("appends");
        assert_eq!(logged(&store), [(2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1)]);
        // A new leader's entries from index 4 on replace 4 to 7.
        store.write(WriteBatch { entries: vec![entry(4, 2), entry(5, 2)], ..WriteBatch::default() }).expect("appends");
        assert_eq!(logged(&store), [(2, 1), (3, 1), (4, 2), (5, 2)]);
        store.write(WriteBatch { compact_to: Some(snapshot_at(3, 1)), ..WriteBatch::default() }).expect("compacts");
        assert_eq!(logged(&store), [(4, 2), (5, 2)]);
        assert_eq!(store.load().expect("loads").snapshot.get_metadata().index, 3);
    }

    #[test]
    fn a_reopened_store_gives_back_the_log_the_hard_state_and_the_rows_with_their_applied_index() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut state = State::default();
        state.meta.next_job_id = 7;
        {
            let mut store = DiskStore::open(dir.path()).expect("opens");
            let hard_state = HardState { term: 2, vote: 1, commit: 3, ..Default::default() };
            store.write(WriteBatch { entries: (1..=4).map(|index| entry(index, 2)).collect(), hard_state: Some(hard_state), ..WriteBatch::default() }).expect("appends");
            let rows = vec![crate::storage::encode_row(&state, RowKey::Meta)];
            let conf_state = ConfState { voters: vec![1, 2, 3], ..Default::default() };
            store.write(WriteBatch { rows, applied: Some(3), conf_state: Some(conf_state), lazy: true, ..WriteBatch::default() }).expect("writes rows");
        }
        let store = DiskStore::open(dir.path()).expect("opens again");
        let recovered = store.load().expect("loads");
        assert_eq!(recovered.entries.len(), 4);
        assert_eq!((recovered.hard_state.term, recovered.hard_state.vote, recovered.hard_state.commit), (2, 1, 3));
        assert_eq!(recovered.applied, 3, "a clean close makes the lazy rows durable");
        assert_eq!(recovered.state.meta.next_job_id, 7);
        assert_eq!(recovered.conf_state.voters, [1, 2, 3]);
        assert!(!dir.path().join("wal.tmp").exists());
    }

    #[test]
    fn rows_written_after_the_last_synced_commit_index_raise_it_on_load_and_a_row_written_twice_keeps_its_last_bytes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut state = State::default();
        {
            let mut store = DiskStore::open(dir.path()).expect("opens");
            let hard_state = HardState { term: 1, vote: 1, commit: 2, ..Default::default() };
            store.write(WriteBatch { entries: (1..=5).map(|index| entry(index, 1)).collect(), hard_state: Some(hard_state), ..WriteBatch::default() }).expect("appends");
            // Applied up to 5 while the log's commit index on disk still says 2 (its later
            // hard states were lazy and never synced), in batches the writer may coalesce.
            for (next_job_id, applied) in [(3, 3), (4, 4), (9, 5)] {
                state.meta.next_job_id = next_job_id;
                let rows = vec![crate::storage::encode_row(&state, RowKey::Meta)];
                store.write(WriteBatch { rows, applied: Some(applied), lazy: true, ..WriteBatch::default() }).expect("writes rows");
            }
            let seen = store.load().expect("loads while running");
            assert_eq!((seen.applied, seen.state.meta.next_job_id), (5, 9), "a load sees every write sent before it");
        }
        let recovered = DiskStore::open(dir.path()).expect("opens again").load().expect("loads");
        assert_eq!((recovered.applied, recovered.state.meta.next_job_id), (5, 9));
        assert_eq!(recovered.hard_state.commit, 5, "entries were applied, so they were committed");
        assert_eq!(recovered.entries.len(), 5);
    }

    #[test]
    fn an_installed_snapshot_empties_the_log_and_a_crash_before_the_log_reset_loses_no_more_than_that() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        {
            let mut store = DiskStore::open(dir.path()).expect("opens");
            store.write(WriteBatch { entries: (1..=5).map(|index| entry(index, 1)).collect(), ..WriteBatch::default() }).expect("appends");
            store.write(WriteBatch { install_snapshot: Some((snapshot_at(10, 3), State::default())), entries: vec![entry(11, 3)], ..WriteBatch::default() }).expect("installs");
            assert_eq!(logged(&store), [(11, 3)]);
            let recovered = store.load().expect("loads");
            assert_eq!((recovered.applied, recovered.hard_state.commit, recovered.hard_state.term), (10, 10, 3), "the hard state follows the snapshot");
        }
        // The crash between redb's install and the log's reset: redb says reset at 20, the
        // log still holds the entries before it.
        {
            let store = DiskStore::open(dir.path()).expect("opens");
            let txn = store.db.begin_write().expect("a transaction");
            let mut snapshot_rows = txn.open_table(RAFT_META).expect("meta");
            snapshot_rows.insert(LOG_RESET_AT, 20u64.to_le_bytes().as_slice()).expect("writes");
            snapshot_rows.insert(SNAPSHOT, snapshot_at(20, 4).write_to_bytes().expect("encodes").as_slice()).expect("writes");
            snapshot_rows.insert(APPLIED, 20u64.to_le_bytes().as_slice()).expect("writes");
            drop(snapshot_rows);
            txn.commit().expect("commits");
        }
        let store = DiskStore::open(dir.path()).expect("opens after the crash");
        let recovered = store.load().expect("loads");
        assert!(recovered.entries.is_empty(), "the log before the reset is discarded: {:?}", logged(&store));
        assert_eq!((recovered.applied, recovered.hard_state.commit, recovered.hard_state.term, recovered.hard_state.vote), (20, 20, 4, 0));
    }

    /// A state holding one task, queued with its spec.
    fn state_with_a_task() -> (State, u64) {
        let mut state = State::default();
        let spec_json = Some("{\"kind\":\"inspect\"}".to_owned());
        state.insert_task(crate::state::model::Task { spec_json, ..crate::state::model::Task::for_tests(1, TaskState::Queued) });
        (state, 1)
    }

    /// Writes the rows `state` changed since the last call, applied up to `applied`.
    fn write_changed_rows(store: &mut DiskStore, state: &mut State, applied: u64) {
        let rows = state.take_dirty().into_iter().map(|row| crate::storage::encode_row(state, row)).collect();
        store.write(WriteBatch { rows, applied: Some(applied), lazy: true, ..WriteBatch::default() }).expect("writes rows");
    }

    fn table_len(store: &DiskStore, table: TableDefinition<u64, &[u8]>) -> u64 {
        store.db.begin_read().expect("reads").open_table(table).expect("table").len().expect("counts")
    }

    #[test]
    fn a_task_is_stored_in_three_rows_its_spec_and_output_each_written_once_and_dropped_with_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (mut state, task) = state_with_a_task();
        let mut store = DiskStore::open(dir.path()).expect("opens");
        assert!(state.take_dirty().contains(&RowKey::TaskSpec(task)), "the spec given at creation is written");
        let rows = crate::storage::state_rows(&state).map(|(row, bytes)| (row, Some(bytes))).collect();
        store.write(WriteBatch { rows, applied: Some(1), lazy: true, ..WriteBatch::default() }).expect("writes rows");
        // A state change rewrites the task's row alone; its output is written once.
        state.set_task_state(task, TaskState::Running);
        assert_eq!(state.take_dirty().into_iter().collect::<Vec<_>>(), [RowKey::Task(task)]);
        state.set_task_state(task, TaskState::Succeeded);
        state.set_task_output(task, "{\"kind\":\"inspect\"}".to_owned());
        write_changed_rows(&mut store, &mut state, 2);
        drop(store);
        let mut store = DiskStore::open(dir.path()).expect("opens again");
        let recovered = store.load().expect("loads");
        assert_eq!(recovered.state.tasks, state.tasks, "the task comes back with its spec and output");
        assert_eq!([TASK_ROWS, TASK_SPECS, TASK_OUTPUTS].map(|table| table_len(&store, table)), [1, 1, 1]);
        assert!(state.remove_task(task));
        write_changed_rows(&mut store, &mut state, 3);
        store.load().expect("flushes");
        assert_eq!([TASK_ROWS, TASK_SPECS, TASK_OUTPUTS].map(|table| table_len(&store, table)), [0, 0, 0]);
    }

    #[test]
    fn runs_of_deleted_rows_remove_exactly_those_rows() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = DiskStore::open(dir.path()).expect("opens");
        let spec = |id: u64| (RowKey::TaskSpec(id), Some(format!("spec {id}").into_bytes()));
        let output = |id: u64| (RowKey::TaskOutput(id), Some(format!("output {id}").into_bytes()));
        let rows = (1..=12).map(spec).chain((1..=12).map(output)).collect();
        store.write(WriteBatch { rows, applied: Some(1), lazy: true, ..WriteBatch::default() }).expect("writes");
        // Runs 2..=4 and 6..=8 of specs (5 rewritten between them), 9 alone, 11..=12 of outputs
        // right after the specs' run: rows of the other table or outside a run stay.
        let mut rows: Vec<RowWrite> = [2, 3, 4, 6, 7, 8, 9].into_iter().map(|id| (RowKey::TaskSpec(id), None)).collect();
        rows.push(spec(5));
        rows.extend([11, 12].map(|id| (RowKey::TaskOutput(id), None)));
        rows.sort_by_key(|(row, _)| *row);
        store.write(WriteBatch { rows, applied: Some(2), lazy: true, ..WriteBatch::default() }).expect("writes");
        store.writer.flush().expect("flushes");
        let keys = |table| -> Vec<u64> {
            let txn = store.db.begin_read().expect("reads");
            let table = txn.open_table(table).expect("table");
            table.iter().expect("iterates").map(|row| row.expect("reads").0.value()).collect()
        };
        assert_eq!(keys(TASK_SPECS), [1, 5, 10, 11, 12]);
        assert_eq!(keys(TASK_OUTPUTS), (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn whole_task_rows_of_an_older_data_directory_are_split_on_open() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (mut state, task) = state_with_a_task();
        state.set_task_output(task, "{\"kind\":\"inspect\"}".to_owned());
        {
            let db = Database::create(dir.path().join("raft.redb")).expect("creates");
            let txn = db.begin_write().expect("a transaction");
            {
                let mut legacy = txn.open_table(LEGACY_TASKS).expect("tasks");
                legacy.insert(task, postcard::to_allocvec(&state.tasks[&task]).expect("encodes").as_slice()).expect("writes");
            }
            txn.commit().expect("commits");
        }
        let store = DiskStore::open(dir.path()).expect("opens");
        assert_eq!(store.load().expect("loads").state.tasks, state.tasks);
        assert_eq!([TASK_ROWS, TASK_SPECS, TASK_OUTPUTS].map(|table| table_len(&store, table)), [1, 1, 1]);
        let txn = store.db.begin_read().expect("reads");
        assert!(txn.list_tables().expect("lists").all(|table| table.name() != "tasks"), "the old table is gone");
    }

    #[test]
    fn an_older_data_directory_with_a_garbled_task_row_is_refused_naming_the_task() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        {
            let db = Database::create(dir.path().join("raft.redb")).expect("creates");
            let txn = db.begin_write().expect("a transaction");
            txn.open_table(LEGACY_TASKS).expect("tasks").insert(7, [0xffu8; 3].as_slice()).expect("writes");
            txn.commit().expect("commits");
        }
        match DiskStore::open(dir.path()) {
            Err(StoreError::Corrupt { what, .. }) => assert_eq!(what, "task 7"),
            Err(other) => panic!("expected a corrupt task, got {other}"),
            Ok(_) => panic!("a garbled task row was accepted"),
        }
    }

    #[test]
    fn a_data_directory_with_its_log_in_redb_has_it_moved_into_the_write_ahead_log() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        {
            let db = Database::create(dir.path().join("raft.redb")).expect("creates");
            let txn = db.begin_write().expect("a transaction");
            {
                let mut log = txn.open_table(LEGACY_LOG).expect("log");
                for index in 1..=3 {
                    log.insert(index, entry(index, 1).write_to_bytes().expect("encodes").as_slice()).expect("writes");
                }
                let mut meta = txn.open_table(RAFT_META).expect("meta");
                let hard_state = HardState { term: 1, vote: 2, commit: 2, ..Default::default() };
                meta.insert(LEGACY_HARD_STATE, hard_state.write_to_bytes().expect("encodes").as_slice()).expect("writes");
                meta.insert(REPLICA_ID, 2u64.to_le_bytes().as_slice()).expect("writes");
            }
            txn.commit().expect("commits");
        }
        let store = DiskStore::open(dir.path()).expect("opens");
        assert_eq!(logged(&store), [(1, 1), (2, 1), (3, 1)]);
        let recovered = store.load().expect("loads");
        assert_eq!((recovered.hard_state.vote, recovered.hard_state.commit), (2, 2));
        assert_eq!(store.replica_id().expect("reads"), Some(2));
        let txn = store.db.begin_read().expect("reads");
        assert!(txn.open_table(LEGACY_LOG).expect("log").is_empty().expect("reads"), "redb no longer holds the log");
        assert!(txn.open_table(RAFT_META).expect("meta").get(LEGACY_HARD_STATE).expect("reads").is_none());
        assert!(dir.path().join("wal").is_dir() && !dir.path().join("wal.tmp").exists());
    }
}
