//! The thread that writes a replica's state into redb, so that the Raft driver never waits on
//! a redb transaction: the driver hands over each batch of applied rows and goes on.
//!
//! - **Coalescing.** Everything waiting when the writer wakes goes into one transaction: a row
//!   written several times is written once, with its latest bytes, and the applied index is
//!   the latest one. Rows and the applied index that covers them still commit together.
//! - **Durability.** A commit is durable when it stores a snapshot taken locally, and at least
//!   once a [`DURABLE_STATE_EVERY`] while writes come (after a quiet second, the last ones are
//!   made durable by an empty commit); the others are not synced. A crash loses a suffix of the
//!   rows with their applied index, as before: the replica applies the committed entries after
//!   it again from the log, which the driver synced before anything it holds was applied.
//! - **Compaction** is the driver's (it owns the log), and waits for the writer:
//!   [`StateWriter::durable_snapshot`] says which snapshot is on disk.
//! - **A snapshot from the leader** and a **flush** (before a read of the store) are
//!   synchronous: the caller waits until everything sent before is committed.
//! - **Failure.** The writer stops at its first error; the next call names it.
//! - **Back-pressure.** At most [`QUEUED_WRITES`] batches wait; a driver that outruns the disk
//!   then waits for it rather than holding the rows in memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft::prelude::{ConfState, Snapshot};
use redb::{Database, Durability};

use super::disk_store::{write_snapshot_install, write_state};
use super::{RowWrite, StoreError};
use crate::state::{RowKey, State};

/// redb makes the writer's commits durable at least this often: it bounds what a crash makes
/// the replica apply again, and lets redb reuse the pages its unsynced commits freed.
pub const DURABLE_STATE_EVERY: Duration = Duration::from_secs(1);
/// Batches that may wait for the writer before the driver waits too.
const QUEUED_WRITES: usize = 256;

/// One batch of applied state: the rows, the applied index that covers them, a membership they
/// changed, and a snapshot taken locally (after which the log may be compacted).
#[derive(Debug, Default)]
pub struct StateWrite {
    pub rows: Vec<RowWrite>,
    pub applied: Option<u64>,
    pub conf_state: Option<ConfState>,
    pub compact_to: Option<Snapshot>,
}

impl StateWrite {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.applied.is_none() && self.conf_state.is_none() && self.compact_to.is_none()
    }
}

enum Command {
    State(StateWrite),
    Install { snapshot: Box<Snapshot>, state: Box<State>, conf_state: Option<ConfState>, done: SyncSender<()> },
    Flush(SyncSender<()>),
}

/// What the writer and its owner share.
#[derive(Default)]
struct Shared {
    /// The writer's first error, which stopped it.
    failure: Mutex<Option<String>>,
    /// The index of the latest snapshot committed durably.
    durable_snapshot: AtomicU64,
}

pub struct StateWriter {
    commands: Option<SyncSender<Command>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl StateWriter {
    /// Starts the writer thread over `db`.
    pub fn start(db: Arc<Database>) -> Result<StateWriter, StoreError> {
        let (commands, received) = sync_channel(QUEUED_WRITES);
        let shared = Arc::new(Shared::default());
        let writer = Writer { db, shared: Arc::clone(&shared), durable_at: Instant::now(), unsynced: false };
        let thread = std::thread::Builder::new().name("state-writer".to_owned()).spawn(move || writer.run(&received)).map_err(StoreError::io)?;
        Ok(StateWriter { commands: Some(commands), thread: Some(thread), shared })
    }

    /// Hands a batch to the writer; waits only while [`QUEUED_WRITES`] batches are waiting.
    pub fn write(&self, write: StateWrite) -> Result<(), StoreError> {
        self.send(Command::State(write))
    }

    /// Installs a snapshot from the leader: every row replaced, durably, after everything
    /// sent before; returns once it is on disk.
    pub fn install(&self, snapshot: Snapshot, state: State, conf_state: Option<ConfState>) -> Result<(), StoreError> {
        let (done, finished) = sync_channel(1);
        self.send(Command::Install { snapshot: Box::new(snapshot), state: Box::new(state), conf_state, done })?;
        finished.recv().map_err(|_| self.failure())
    }

    /// Returns once everything sent before is committed (durably or not), so that a read of
    /// the database sees it.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (done, finished) = sync_channel(1);
        self.send(Command::Flush(done))?;
        finished.recv().map_err(|_| self.failure())
    }

    /// The index of the latest snapshot taken locally that is durable: the log up to it may go.
    pub fn durable_snapshot(&self) -> u64 {
        self.shared.durable_snapshot.load(Ordering::Acquire)
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        match &self.commands {
            Some(commands) => commands.send(command).map_err(|_| self.failure()),
            None => Err(self.failure()),
        }
    }

    /// The error that stopped the writer.
    fn failure(&self) -> StoreError {
        let failure = self.shared.failure.lock().map(|failure| failure.clone()).unwrap_or_default();
        StoreError::Io(format!("the state writer stopped: {}", failure.as_deref().unwrap_or("it is gone")).into())
    }

    /// Closes the queue and waits for the writer to commit what was left, durably.
    pub fn close(&mut self) -> Result<(), StoreError> {
        self.commands.take();
        let Some(thread) = self.thread.take() else { return Ok(()) };
        if thread.join().is_err() {
            return Err(StoreError::Io("the state writer panicked".into()));
        }
        match self.shared.failure.lock().map(|failure| failure.is_some()) {
            Ok(false) => Ok(()),
            _ => Err(self.failure()),
        }
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::warn!(%error, "the state writer did not close cleanly; the next start applies the latest entries again");
        }
    }
}

/// Rows and the rest of the batches waiting, merged: each row's latest bytes, the latest
/// applied index, membership and snapshot.
#[derive(Default)]
struct Pending {
    rows: BTreeMap<RowKey, Option<Vec<u8>>>,
    applied: Option<u64>,
    conf_state: Option<ConfState>,
    compact_to: Option<Snapshot>,
}

impl Pending {
    fn merge(&mut self, write: StateWrite) {
        self.rows.extend(write.rows);
        self.applied = write.applied.or(self.applied);
        self.conf_state = write.conf_state.or(self.conf_state.take());
        self.compact_to = write.compact_to.or(self.compact_to.take());
    }

    fn take(&mut self) -> StateWrite {
        let Pending { rows, applied, conf_state, compact_to } = std::mem::take(self);
        StateWrite { rows: rows.into_iter().collect(), applied, conf_state, compact_to }
    }
}

struct Writer {
    db: Arc<Database>,
    shared: Arc<Shared>,
    /// When a commit was last durable.
    durable_at: Instant,
    /// Whether a commit since then was not.
    unsynced: bool,
}

impl Writer {
    fn run(mut self, commands: &Receiver<Command>) {
        if let Err(error) = self.serve(commands) {
            tracing::error!(%error, "the state writer failed; the replica stops at its next write");
            if let Ok(mut failure) = self.shared.failure.lock() {
                *failure = Some(error.to_string());
            }
        }
    }

    fn serve(&mut self, commands: &Receiver<Command>) -> Result<(), StoreError> {
        let mut pending = Pending::default();
        loop {
            let first = match commands.recv_timeout(DURABLE_STATE_EVERY) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    if self.unsynced {
                        self.commit(&StateWrite::default(), true)?;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut flushed = Vec::new();
            let mut next = Some(first);
            while let Some(command) = next {
                match command {
                    Command::State(write) => pending.merge(write),
                    Command::Flush(done) => flushed.push(done),
                    Command::Install { snapshot, state, conf_state, done } => {
                        self.commit_pending(&mut pending)?;
                        let txn = self.db.begin_write().map_err(StoreError::io)?;
                        write_snapshot_install(&txn, &snapshot, &state, conf_state.as_ref())?;
                        txn.commit().map_err(StoreError::io)?;
                        self.made_durable();
                        let _ = done.send(());
                    }
                }
                next = commands.try_recv().ok();
            }
            self.commit_pending(&mut pending)?;
            for done in flushed {
                let _ = done.send(());
            }
        }
        // Closed: what is left, durably.
        let last = pending.take();
        self.commit(&last, true)
    }

    /// Commits what is pending, durably when it holds a snapshot or a second has passed.
    fn commit_pending(&mut self, pending: &mut Pending) -> Result<(), StoreError> {
        let write = pending.take();
        if write.is_empty() {
            return Ok(());
        }
        let durable = write.compact_to.is_some() || self.durable_at.elapsed() >= DURABLE_STATE_EVERY;
        self.commit(&write, durable)
    }

    fn commit(&mut self, write: &StateWrite, durable: bool) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(StoreError::io)?;
        if !durable {
            txn.set_durability(Durability::None).map_err(StoreError::io)?;
        }
        write_state(&txn, write)?;
        txn.commit().map_err(StoreError::io)?;
        if durable {
            self.made_durable();
            if let Some(snapshot) = &write.compact_to {
                self.shared.durable_snapshot.fetch_max(snapshot.get_metadata().index, Ordering::AcqRel);
            }
        } else {
            self.unsynced = true;
        }
        Ok(())
    }

    fn made_durable(&mut self) {
        self.durable_at = Instant::now();
        self.unsynced = false;
    }
}
