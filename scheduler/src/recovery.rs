//! `shotfarm cluster recover --data-dir DIR --force-new-cluster`: offline disaster recovery on
//! a stopped replica's data directory (see [`crate::consensus::force_new_cluster`]). The
//! directory must exist, hold a scheduler store, and not be in use: redb's lock on the store
//! tells a running replica apart.

use std::collections::BTreeMap;
use std::path::Path;

use crate::consensus::force_new_cluster::NewCluster;
use crate::consensus::{Replica, ReplicaConfig};
use crate::storage::StoreError;
use crate::storage::disk_store::DiskStore;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The directory given cannot be recovered as it is: the operator must fix the command.
    #[error("{0}")]
    Usage(String),
    #[error("recovery failed: {0}")]
    Failed(String),
}

impl From<StoreError> for RecoveryError {
    fn from(error: StoreError) -> RecoveryError {
        match error {
            StoreError::Locked { .. } | StoreError::NotADataDir { .. } | StoreError::Open { .. } => RecoveryError::Usage(error.to_string()),
            other => RecoveryError::Failed(other.to_string()),
        }
    }
}

/// Rewrites the stopped replica's store in `dir` into a one-replica group of its own.
pub fn force_new_cluster(dir: &Path) -> Result<NewCluster, RecoveryError> {
    if !dir.is_dir() {
        return Err(RecoveryError::Usage(format!("data directory {} does not exist; give the --data-dir of a stopped replica", dir.display())));
    }
    let store = DiskStore::open_existing(dir)?;
    let Some(id) = store.replica_id()? else {
        return Err(RecoveryError::Usage(format!(
            "{} records no replica id (no replica has run on it with this version); start the replica on it once, stop it, and recover again",
            dir.display()
        )));
    };
    let replica = Replica::open(&ReplicaConfig::new(id), &BTreeMap::new(), store).map_err(|err| RecoveryError::Failed(err.to_string()))?;
    replica.force_new_cluster().map_err(|err| RecoveryError::Failed(err.to_string()))
}
