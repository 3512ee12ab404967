//! The agent's local journal of finished work (sled): a result is written here before it is
//! reported, and removed once the scheduler acknowledges it, so that results finished while
//! the scheduler was unreachable — or just before the agent restarted — are reported again.
//! The journal is rebuildable: losing its tail only costs a re-run of that task (sled's
//! flush is not an fsync, which is acceptable here, unlike for the Raft log).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A finished attempt waiting for the scheduler's ack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedAttempt {
    pub task_id: u64,
    pub attempt: u32,
    pub outcome: FinishedOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FinishedOutcome {
    Succeeded {
        output_json: String,
        backend: String,
        elapsed_ms: u64,
        /// CPU the attempt used (`runtime::cpu_charged_future`); 0 in entries from before it was measured.
        #[serde(default)]
        cpu_micros: u64,
    },
    Failed { error: String, retryable: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the agent journal at {path}: {source} (is another agent using this --work-dir?)")]
    Open { path: String, source: sled::Error },
    #[error("agent journal: {0}")]
    Io(#[from] sled::Error),
    #[error("agent journal entry is corrupt: {0}")]
    Corrupt(String),
}

pub struct Journal {
    tree: sled::Db,
}

fn key(task_id: u64, attempt: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&task_id.to_be_bytes());
    key[8..].copy_from_slice(&attempt.to_be_bytes());
    key
}

impl Journal {
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        let tree = sled::open(dir).map_err(|source| JournalError::Open { path: dir.display().to_string(), source })?;
        Ok(Journal { tree })
    }

    pub fn record(&self, finished: &FinishedAttempt) -> Result<(), JournalError> {
        let bytes = serde_json::to_vec(finished).map_err(|err| JournalError::Corrupt(err.to_string()))?;
        self.tree.insert(key(finished.task_id, finished.attempt), bytes)?;
        self.tree.flush()?;
        Ok(())
    }

    pub fn acknowledge(&self, task_id: u64, attempt: u32) -> Result<(), JournalError> {
        self.tree.remove(key(task_id, attempt))?;
        Ok(())
    }

    /// Every result not acknowledged yet, in task order; unreadable entries are dropped
    /// (their tasks simply run again).
    pub fn pending(&self) -> Vec<FinishedAttempt> {
        self.tree
            .iter()
            .filter_map(|entry| {
                let (_, value) = entry.ok()?;
                match serde_json::from_slice(&value) {
                    Ok(finished) => Some(finished),
                    Err(err) => {
                        tracing::warn!(%err, "dropping an unreadable journal entry");
                        None
                    }
                }
            })
            .collect()
    }

    pub fn contains(&self, task_id: u64, attempt: u32) -> bool {
        self.tree.contains_key(key(task_id, attempt)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_survive_a_reopen_until_acknowledged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let finished = FinishedAttempt {
            task_id: 7,
            attempt: 2,
            outcome: FinishedOutcome::Failed { error: "x".into(), retryable: true },
        };
        {
            let journal = Journal::open(dir.path()).expect("opens");
            journal.record(&finished).expect("records");
        }
        let journal = Journal::open(dir.path()).expect("reopens");
        assert_eq!(journal.pending(), vec![finished]);
        assert!(journal.contains(7, 2));
        journal.acknowledge(7, 2).expect("acks");
        assert!(journal.pending().is_empty());
    }
}
