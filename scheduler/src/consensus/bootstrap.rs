//! How a replica's store begins: a new group's first snapshot (the initial membership, the
//! same on every initial replica), and, on a restart, the check that `--peers` still
//! describes the membership the store holds.

use std::collections::BTreeMap;

use raft::prelude::ConfState;

use super::cluster_id;
use super::replica::ReplicaError;
use crate::machine::{self, Command};
use crate::state::State;
use crate::storage::{DurableStore, Recovered, WriteBatch, encode_row, state_snapshot};

/// Index and term of the snapshot every initial replica starts from.
const BOOTSTRAP_INDEX: u64 = 1;

/// Writes the initial membership of a new group and its cluster id — the same on every
/// initial replica — as a snapshot at index 1, term 1. The log then starts at 2, so a
/// replica added later (whose log is empty) is sent this snapshot, initial membership
/// included, instead of entries that never held it.
pub(super) fn bootstrap<S: DurableStore>(peers: &BTreeMap<u64, String>, store: &mut S) -> Result<Recovered, ReplicaError> {
    let mut conf_state = ConfState::default();
    conf_state.set_voters(peers.keys().copied().collect());
    let mut state = State::default();
    machine::apply(&mut state, &Command::SetClusterId { cluster_id: cluster_id::derived_from_peers(peers) });
    for (id, addr) in peers {
        machine::apply(&mut state, &Command::SetMemberAddr { id: *id, addr: addr.clone() });
    }
    let snapshot = state_snapshot(&state, conf_state.clone(), BOOTSTRAP_INDEX, BOOTSTRAP_INDEX);
    let hard_state = raft::prelude::HardState { term: BOOTSTRAP_INDEX, commit: BOOTSTRAP_INDEX, ..Default::default() };
    let rows = state.take_dirty().into_iter().map(|row| encode_row(&state, row)).collect();
    store.write(WriteBatch {
        hard_state: Some(hard_state),
        conf_state: Some(conf_state),
        compact_to: Some(snapshot),
        rows,
        applied: Some(BOOTSTRAP_INDEX),
        ..WriteBatch::default()
    })?;
    Ok(store.load()?)
}

/// A restarted replica's `--peers` must describe the membership it has stored.
pub(super) fn check_membership(id: u64, peers: &BTreeMap<u64, String>, recovered: &Recovered) -> Result<(), ReplicaError> {
    let stored: BTreeMap<u64, String> = recovered
        .conf_state
        .get_voters()
        .iter()
        .map(|voter| (*voter, recovered.state.meta.members.get(voter).cloned().unwrap_or_default()))
        .collect();
    if stored.is_empty() {
        return Ok(());
    }
    let describe = |members: &BTreeMap<u64, String>| {
        members.iter().map(|(id, addr)| format!("{id}={addr}")).collect::<Vec<_>>().join(",")
    };
    let disagrees = stored.len() != peers.len()
        || stored.iter().any(|(voter, addr)| peers.get(voter).is_none_or(|given| !addr.is_empty() && given != addr));
    if disagrees {
        return Err(ReplicaError::Membership(format!(
            "--peers {} disagrees with the membership stored in the data directory ({}) for replica {id}; \
             pass --peers {} (membership changes go through `shotfarm cluster add|remove`), or use a new data directory",
            describe(peers),
            describe(&stored),
            describe(&stored),
        )));
    }
    Ok(())
}
