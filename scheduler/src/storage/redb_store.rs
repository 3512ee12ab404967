//! The durable store on redb: ACID transactions, fsync on commit, a stable file format.

use std::path::Path;

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{DurableStore, Recovered, StoreError, WriteBatch};
use crate::state::{Meta, RowKey, State, StateImage};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const RAFT_META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
const NODES: TableDefinition<u64, &[u8]> = TableDefinition::new("nodes");
const RECIPES: TableDefinition<u64, &[u8]> = TableDefinition::new("recipes");

const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const SNAPSHOT: &str = "snapshot";
const APPLIED: &str = "applied";
const STATE_META: &str = "state_meta";
/// The id of the replica that owns the store, recorded when it first opens it.
const REPLICA_ID: &str = "replica_id";

pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens (or creates) `dir/raft.redb`.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        let path = dir.join("raft.redb");
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open { path: path.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(|err| open_error(Box::new(err)))?;
        let db = Database::create(&path).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked { path: path.display().to_string() },
            other => open_error(Box::new(other)),
        })?;
        // Create the tables so that a read of a fresh store finds them.
        let txn = db.begin_write().map_err(StoreError::io)?;
        for table in [LOG, JOBS, TASKS, NODES, RECIPES] {
            txn.open_table(table).map_err(StoreError::io)?;
        }
        txn.open_table(RAFT_META).map_err(StoreError::io)?;
        txn.commit().map_err(StoreError::io)?;
        Ok(RedbStore { db })
    }

    /// Opens the store of an existing data directory (refused where there is none).
    pub fn open_existing(dir: &Path) -> Result<RedbStore, StoreError> {
        if !dir.join("raft.redb").is_file() {
            return Err(StoreError::NotADataDir { path: dir.display().to_string() });
        }
        RedbStore::open(dir)
    }

    /// The replica that owns this store, recorded by [`RedbStore::claim`].
    pub fn replica_id(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::io)?;
        let meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
        let Some(bytes) = meta.get(REPLICA_ID).map_err(StoreError::io)? else { return Ok(None) };
        let bytes: [u8; 8] = bytes.value().try_into().map_err(|_| corrupt("replica id", "not 8 bytes"))?;
        Ok(Some(u64::from_le_bytes(bytes)))
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

fn corrupt(what: &str, why: impl ToString) -> StoreError {
    StoreError::Corrupt { what: what.to_owned(), why: why.to_string() }
}

fn decode_rows<T: serde::de::DeserializeOwned>(table: &impl ReadableTable<u64, &'static [u8]>, what: &str) -> Result<Vec<T>, StoreError> {
    let mut rows = Vec::new();
    for row in table.iter().map_err(StoreError::io)? {
        let (key, value) = row.map_err(StoreError::io)?;
        rows.push(postcard::from_bytes(value.value()).map_err(|err| corrupt(&format!("{what} {}", key.value()), err))?);
    }
    Ok(rows)
}

impl DurableStore for RedbStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::io)?;
        let meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
        let get = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(meta.get(key).map_err(StoreError::io)?.map(|value| value.value().to_vec()))
        };
        let mut recovered = Recovered::default();
        if let Some(bytes) = get(HARD_STATE)? {
            recovered.hard_state = HardState::parse_from_bytes(&bytes).map_err(|err| corrupt("hard state", err))?;
        }
        if let Some(bytes) = get(CONF_STATE)? {
            recovered.conf_state = ConfState::parse_from_bytes(&bytes).map_err(|err| corrupt("conf state", err))?;
        }
        if let Some(bytes) = get(SNAPSHOT)? {
            recovered.snapshot = Snapshot::parse_from_bytes(&bytes).map_err(|err| corrupt("snapshot", err))?;
        }
        if let Some(bytes) = get(APPLIED)? {
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| corrupt("applied index", "not 8 bytes"))?;
            recovered.applied = u64::from_le_bytes(bytes);
        }
        let state_meta: Meta = match get(STATE_META)? {
            Some(bytes) => postcard::from_bytes(&bytes).map_err(|err| corrupt("state meta", err))?,
            None => Meta::default(),
        };
        let log = txn.open_table(LOG).map_err(StoreError::io)?;
        for row in log.iter().map_err(StoreError::io)? {
            let (index, bytes) = row.map_err(StoreError::io)?;
            let entry = Entry::parse_from_bytes(bytes.value()).map_err(|err| corrupt(&format!("log entry {}", index.value()), err))?;
            recovered.entries.push(entry);
        }
        let image = StateImage {
            meta: state_meta,
            jobs: decode_rows(&txn.open_table(JOBS).map_err(StoreError::io)?, "job")?,
            tasks: decode_rows(&txn.open_table(TASKS).map_err(StoreError::io)?, "task")?,
            nodes: decode_rows(&txn.open_table(NODES).map_err(StoreError::io)?, "node")?,
            recipes: decode_rows(&txn.open_table(RECIPES).map_err(StoreError::io)?, "recipe")?,
        };
        recovered.state = State::from_image(image);
        Ok(recovered)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(StoreError::io)?;
        if batch.lazy && batch.entries.is_empty() && batch.install_snapshot.is_none() {
            txn.set_durability(redb::Durability::None).map_err(StoreError::io)?;
        }
        {
            let mut meta = txn.open_table(RAFT_META).map_err(StoreError::io)?;
            let mut log = txn.open_table(LOG).map_err(StoreError::io)?;
            let mut jobs = txn.open_table(JOBS).map_err(StoreError::io)?;
            let mut tasks = txn.open_table(TASKS).map_err(StoreError::io)?;
            let mut nodes = txn.open_table(NODES).map_err(StoreError::io)?;
            let mut recipes = txn.open_table(RECIPES).map_err(StoreError::io)?;
            let encode = |message: &dyn protobuf::Message| message.write_to_bytes().map_err(StoreError::io);

            if let Some((snapshot, state)) = &batch.install_snapshot {
                log.retain(|_, _| false).map_err(StoreError::io)?;
                jobs.retain(|_, _| false).map_err(StoreError::io)?;
                tasks.retain(|_, _| false).map_err(StoreError::io)?;
                nodes.retain(|_, _| false).map_err(StoreError::io)?;
                recipes.retain(|_, _| false).map_err(StoreError::io)?;
                for (id, job) in &state.jobs {
                    jobs.insert(id, postcard::to_allocvec(job).map_err(StoreError::io)?.as_slice()).map_err(StoreError::io)?;
                }
                for (id, task) in &state.tasks {
                    tasks.insert(id, postcard::to_allocvec(task).map_err(StoreError::io)?.as_slice()).map_err(StoreError::io)?;
                }
                for (id, node) in &state.nodes {
                    nodes.insert(id, postcard::to_allocvec(node).map_err(StoreError::io)?.as_slice()).map_err(StoreError::io)?;
                }
                for (id, recipe) in &state.recipes {
                    recipes.insert(id, postcard::to_allocvec(recipe).map_err(StoreError::io)?.as_slice()).map_err(StoreError::io)?;
                }
                meta.insert(STATE_META, postcard::to_allocvec(&state.meta).map_err(StoreError::io)?.as_slice()).map_err(StoreError::io)?;
                meta.insert(SNAPSHOT, encode(snapshot)?.as_slice()).map_err(StoreError::io)?;
                meta.insert(APPLIED, snapshot.get_metadata().index.to_le_bytes().as_slice()).map_err(StoreError::io)?;
            }
            if let Some(first) = batch.entries.first() {
                // Everything from the first new index on is replaced; only that range is
                // visited (usually empty), not the whole log before it.
                log.retain_in(first.index.., |_, _| false).map_err(StoreError::io)?;
                for entry in &batch.entries {
                    log.insert(entry.index, encode(entry)?.as_slice()).map_err(StoreError::io)?;
                }
            }
            if let Some(hard_state) = &batch.hard_state {
                meta.insert(HARD_STATE, encode(hard_state)?.as_slice()).map_err(StoreError::io)?;
            }
            if let Some(conf_state) = &batch.conf_state {
                meta.insert(CONF_STATE, encode(conf_state)?.as_slice()).map_err(StoreError::io)?;
            }
            for (row, bytes) in &batch.rows {
                let (table, id) = match row {
                    RowKey::Meta => {
                        if let Some(bytes) = bytes {
                            meta.insert(STATE_META, bytes.as_slice()).map_err(StoreError::io)?;
                        }
                        continue;
                    }
                    RowKey::Job(id) => (&mut jobs, *id),
                    RowKey::Task(id) => (&mut tasks, *id),
                    RowKey::Node(id) => (&mut nodes, *id),
                    RowKey::Recipe(id) => (&mut recipes, *id),
                };
                match bytes {
                    Some(bytes) => table.insert(id, bytes.as_slice()).map(|_| ()),
                    None => table.remove(id).map(|_| ()),
                }
                .map_err(StoreError::io)?;
            }
            if let Some(applied) = batch.applied {
                meta.insert(APPLIED, applied.to_le_bytes().as_slice()).map_err(StoreError::io)?;
            }
            if let Some(snapshot) = &batch.compact_to {
                log.retain_in(..=snapshot.get_metadata().index, |_, _| false).map_err(StoreError::io)?;
                meta.insert(SNAPSHOT, encode(snapshot)?.as_slice()).map_err(StoreError::io)?;
            }
        }
        // redb's default durability fsyncs on commit; a lazy commit is made durable by the
        // next durable one, in order.
        txn.commit().map_err(StoreError::io)
    }
}

/// Reads a store's state at rest: for tests and for `shotfarm scheduler` diagnostics.
pub fn load_state(dir: &Path) -> Result<(State, u64), StoreError> {
    let recovered = RedbStore::open(dir)?.load()?;
    Ok((recovered.state, recovered.applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![index as u8].into(), ..Default::default() }
    }

    fn logged(store: &RedbStore) -> Vec<(u64, u64)> {
        store.load().expect("loads").entries.iter().map(|entry| (entry.index, entry.term)).collect()
    }

    #[test]
    fn an_append_replaces_the_log_from_its_first_index_and_compaction_drops_what_the_snapshot_covers() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = RedbStore::open(dir.path()).expect("opens");
        store.write(WriteBatch { entries: (2..=6).map(|index| entry(index, 1)).collect(), ..WriteBatch::default() }).expect("appends");
        store.write(WriteBatch { entries: vec![entry(7, 1)], ..WriteBatch::default() }).expect("appends");
        assert_eq!(logged(&store), [(2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1)]);
        // A new leader's entries from index 4 on replace 4 to 7.
        store.write(WriteBatch { entries: vec![entry(4, 2), entry(5, 2)], ..WriteBatch::default() }).expect("appends");
        assert_eq!(logged(&store), [(2, 1), (3, 1), (4, 2), (5, 2)]);
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = 3;
        snapshot.mut_metadata().term = 1;
        store.write(WriteBatch { compact_to: Some(snapshot), ..WriteBatch::default() }).expect("compacts");
        assert_eq!(logged(&store), [(4, 2), (5, 2)]);
        assert_eq!(store.load().expect("loads").snapshot.get_metadata().index, 3);
    }
}
