//! Durable storage of one replica: the Raft log, hard state, conf state, the latest snapshot,
//! and the state machine's rows with the applied index that covers them.
//!
//! | module | what |
//! | --- | --- |
//! | [`disk_store`] | the real store: the log in [`wal`], the rows, snapshot and membership in redb, each write one synced append where it must be durable |
//! | [`state_writer`] | the disk store's thread that commits applied rows to redb, coalesced, off the Raft driver's thread |
//! | [`task_row`] | a task as its row stores it: without its spec and output, which have rows of their own |
//! | [`wal`] | the Raft log's write-ahead log: entries and hard states in segment files, checksummed, torn tails cut off |
//! | [`memory_store`] | the same contract in memory, for the deterministic simulation: its contents survive a simulated crash |
//!
//! The contract: when [`DurableStore::write`] returns, the log entries, a snapshot installed
//! and a hard state with a new term or vote are durable; a crash may lose the rest of the
//! newest writes — lazy hard states, applied rows — but only as a suffix, rows together with
//! the applied index that covers them, so the replica applies the committed entries after
//! that index again. [`DurableStore::load`] gives back what the writes left. sled is not used
//! here: its `flush` never calls fdatasync (spacejam/sled#1452).

pub mod disk_store;
pub mod memory_store;
pub mod state_writer;
pub mod task_row;
pub mod wal;

use std::collections::BTreeMap;

use raft::prelude::{ConfState, Entry, HardState, Snapshot};

use crate::state::model::{Task, TaskId};
use crate::state::{Meta, RowKey, State, StateImage};
use task_row::TaskRow;

/// Everything a replica needs to restart.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub hard_state: HardState,
    pub conf_state: ConfState,
    /// The latest snapshot (metadata and the state image it holds); empty when none yet.
    pub snapshot: Snapshot,
    /// Log entries after the snapshot, in order.
    pub entries: Vec<Entry>,
    pub state: State,
    pub applied: u64,
}

/// A row as stored: the encoded entity, or `None` to delete it.
pub type RowWrite = (RowKey, Option<Vec<u8>>);

/// One atomic write. Fields are applied in order: snapshot install, entry append, hard and
/// conf state, applied rows, compaction.
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// A snapshot received from the leader: replaces the state's rows and the whole log.
    pub install_snapshot: Option<(Snapshot, State)>,
    /// Entries to append; an entry at an index already present replaces it and every later one.
    pub entries: Vec<Entry>,
    pub hard_state: Option<HardState>,
    pub conf_state: Option<ConfState>,
    /// State rows changed by applying entries up to `applied`.
    pub rows: Vec<RowWrite>,
    pub applied: Option<u64>,
    /// A snapshot taken locally: store it and drop log entries up to its index.
    pub compact_to: Option<Snapshot>,
    /// Whether the write must be on disk when `write` returns. Log entries, snapshots and a
    /// hard state with a new term or vote always are. A batch of applied rows, or of a hard
    /// state whose commit index alone moved, may be lazy: a crash then loses a suffix of lazy
    /// batches as a whole, the state falls back to an older applied index (never above the
    /// commit index written with it), and Raft learns the commit index again and applies the
    /// committed entries after it again from the (durable) log.
    pub lazy: bool,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.install_snapshot.is_none()
            && self.entries.is_empty()
            && self.hard_state.is_none()
            && self.conf_state.is_none()
            && self.rows.is_empty()
            && self.applied.is_none()
            && self.compact_to.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the data directory {path}: {source}")]
    Open { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("the store {path} is locked by a running scheduler replica; stop it first, or use another data directory")]
    Locked { path: String },
    #[error("{path} is not a scheduler data directory (it holds no raft.redb); give the --data-dir a replica ran on")]
    NotADataDir { path: String },
    #[error("the data directory belongs to replica {stored}, not {given}; pass --id {stored}, or use a new data directory")]
    OtherReplica { stored: u64, given: u64 },
    #[error("storage I/O failed: {0}")]
    Io(Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is corrupt ({what}): {why}")]
    Corrupt { what: String, why: String },
}

impl StoreError {
    pub(crate) fn io(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Io(Box::new(error))
    }

    /// `what` holds data that cannot be what was written, for `why`.
    pub(crate) fn corrupt(what: impl Into<String>, why: impl ToString) -> StoreError {
        StoreError::Corrupt { what: what.into(), why: why.to_string() }
    }
}

pub trait DurableStore: Send + 'static {
    fn load(&self) -> Result<Recovered, StoreError>;
    /// Writes the batch atomically; durable on return unless `batch.lazy`, and a lazy batch
    /// becomes durable with the next durable one.
    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError>;
}

/// The stored bytes of a state row.
pub fn encode_row(state: &State, row: RowKey) -> RowWrite {
    let bytes = match row {
        RowKey::Meta => postcard::to_allocvec(&state.meta).ok(),
        RowKey::Job(id) => state.jobs.get(&id).and_then(|job| postcard::to_allocvec(job).ok()),
        RowKey::Task(id) | RowKey::TaskSpec(id) | RowKey::TaskOutput(id) => state.tasks.get(&id).and_then(|task| task_row_bytes(task, row)),
        RowKey::Node(id) => state.nodes.get(&id).and_then(|node| postcard::to_allocvec(node).ok()),
        RowKey::Recipe(id) => state.recipes.get(&id).and_then(|recipe| postcard::to_allocvec(recipe).ok()),
    };
    (row, bytes)
}

/// The stored bytes of one of `task`'s rows: the task without its spec and output, its
/// spec, or its output (none where it has none, and for rows of other kinds).
fn task_row_bytes(task: &Task, row: RowKey) -> Option<Vec<u8>> {
    match row {
        RowKey::Task(_) => postcard::to_allocvec(&TaskRow::of(task)).ok(),
        RowKey::TaskSpec(_) => task.spec_json.clone().map(String::into_bytes),
        RowKey::TaskOutput(_) => task.output_json.clone().map(String::into_bytes),
        RowKey::Meta | RowKey::Job(_) | RowKey::Node(_) | RowKey::Recipe(_) => None,
    }
}

/// Every stored row of `task`, encoded: its row, and its spec and output where it has them.
pub fn task_rows(task: &Task) -> impl Iterator<Item = (RowKey, Vec<u8>)> + '_ {
    [RowKey::Task(task.id), RowKey::TaskSpec(task.id), RowKey::TaskOutput(task.id)]
        .into_iter()
        .filter_map(move |row| Some((row, task_row_bytes(task, row)?)))
}

/// Every row of `state` but its meta, encoded: what a snapshot install writes.
pub fn state_rows(state: &State) -> impl Iterator<Item = (RowKey, Vec<u8>)> + '_ {
    let jobs = state.jobs.keys().map(|&id| RowKey::Job(id));
    let nodes = state.nodes.keys().map(|&id| RowKey::Node(id));
    let recipes = state.recipes.keys().map(|&id| RowKey::Recipe(id));
    let others = jobs.chain(nodes).chain(recipes).filter_map(|row| match encode_row(state, row) {
        (row, Some(bytes)) => Some((row, bytes)),
        (_, None) => None,
    });
    others.chain(state.tasks.values().flat_map(task_rows))
}

/// A state image rebuilt from its stored rows (in any order): each task joined with its
/// spec and output rows.
pub struct ImageFromRows {
    image: StateImage,
    tasks: Vec<TaskRow<'static>>,
    specs: BTreeMap<TaskId, String>,
    outputs: BTreeMap<TaskId, String>,
}

impl ImageFromRows {
    pub fn new(meta: Meta) -> ImageFromRows {
        let image = StateImage { meta, jobs: Vec::new(), tasks: Vec::new(), nodes: Vec::new(), recipes: Vec::new() };
        ImageFromRows { image, tasks: Vec::new(), specs: BTreeMap::new(), outputs: BTreeMap::new() }
    }

    /// Adds a stored row (the meta row is given to [`ImageFromRows::new`] instead).
    pub fn add(&mut self, row: RowKey, bytes: &[u8]) -> Result<(), StoreError> {
        let corrupt = |err: &dyn std::fmt::Display| StoreError::corrupt(format!("{row:?}"), err);
        match row {
            RowKey::Meta => return Err(StoreError::corrupt("state rows", "the meta row is read apart")),
            RowKey::Job(_) => self.image.jobs.push(postcard::from_bytes(bytes).map_err(|err| corrupt(&err))?),
            RowKey::Task(_) => self.tasks.push(postcard::from_bytes(bytes).map_err(|err| corrupt(&err))?),
            RowKey::Node(_) => self.image.nodes.push(postcard::from_bytes(bytes).map_err(|err| corrupt(&err))?),
            RowKey::Recipe(_) => self.image.recipes.push(postcard::from_bytes(bytes).map_err(|err| corrupt(&err))?),
            RowKey::TaskSpec(id) => {
                self.specs.insert(id, String::from_utf8(bytes.to_vec()).map_err(|err| corrupt(&err))?);
            }
            RowKey::TaskOutput(id) => {
                self.outputs.insert(id, String::from_utf8(bytes.to_vec()).map_err(|err| corrupt(&err))?);
            }
        }
        Ok(())
    }

    /// The image; a spec or output without its task is corrupt (they are written and dropped
    /// with it, in one transaction).
    pub fn finish(mut self) -> Result<StateImage, StoreError> {
        for row in self.tasks {
            let id = row.id();
            let (spec, output) = (self.specs.remove(&id), self.outputs.remove(&id));
            self.image.tasks.push(row.into_task(spec, output));
        }
        if let Some(id) = self.specs.keys().chain(self.outputs.keys()).next() {
            return Err(StoreError::corrupt(format!("task {id}"), "its spec or output is stored without the task's row"));
        }
        Ok(self.image)
    }
}

/// The snapshot data format: the postcard encoding of the state image.
pub fn encode_state(state: &State) -> Vec<u8> {
    postcard::to_allocvec(&state.to_image()).unwrap_or_default()
}

/// A Raft snapshot of `state`, applied up to `index` (of `term`), with its membership.
pub fn state_snapshot(state: &State, conf_state: ConfState, index: u64, term: u64) -> Snapshot {
    let mut snapshot = Snapshot::default();
    snapshot.set_data(encode_state(state).into());
    let metadata = snapshot.mut_metadata();
    metadata.set_conf_state(conf_state);
    metadata.index = index;
    metadata.term = term;
    snapshot
}

pub fn decode_state(bytes: &[u8]) -> Result<State, StoreError> {
    if bytes.is_empty() {
        return Ok(State::default());
    }
    postcard::from_bytes(bytes)
        .map(State::from_image)
        .map_err(|err| StoreError::Corrupt { what: "snapshot".to_owned(), why: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::TaskState;

    fn corrupt_why(result: Result<StateImage, StoreError>) -> String {
        match result {
            Err(StoreError::Corrupt { what, why }) => format!("{what}: {why}"),
            other => panic!("expected a corrupt store, got {other:?}"),
        }
    }

    #[test]
    fn stored_rows_that_cannot_be_what_was_written_are_refused_as_corrupt() {
        let task = Task { spec_json: Some("{}".to_owned()), ..Task::for_tests(3, TaskState::Queued) };
        let row = postcard::to_allocvec(&TaskRow::of(&task)).expect("encodes");
        // A spec or an output whose task row is missing.
        for orphan in [RowKey::TaskSpec(4), RowKey::TaskOutput(4)] {
            let mut image = ImageFromRows::new(Meta::default());
            image.add(RowKey::Task(3), &row).expect("adds");
            image.add(orphan, b"{}").expect("adds");
            assert!(corrupt_why(image.finish()).starts_with("task 4:"));
        }
        // A spec that is not UTF-8, and a task row cut short.
        let mut image = ImageFromRows::new(Meta::default());
        assert!(matches!(image.add(RowKey::TaskSpec(3), &[0xff, 0xfe]), Err(StoreError::Corrupt { .. })));
        assert!(matches!(image.add(RowKey::Task(3), &row[..row.len() / 2]), Err(StoreError::Corrupt { .. })));
        // The meta row is not a row of the image.
        assert!(matches!(image.add(RowKey::Meta, &[]), Err(StoreError::Corrupt { .. })));
        // A whole task comes back joined to its spec.
        let mut image = ImageFromRows::new(Meta::default());
        for (row, bytes) in task_rows(&task) {
            image.add(row, &bytes).expect("adds");
        }
        assert_eq!(image.finish().expect("an image").tasks, [task]);
    }
}
