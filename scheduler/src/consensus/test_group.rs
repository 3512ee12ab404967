//! Test support: a group of in-memory replicas driven turn by turn, as the driver drives one.

use std::collections::BTreeMap;

use super::Replica;
use crate::storage::memory_store::MemoryStore;

/// Replicas by id.
pub type Group = BTreeMap<u64, Replica<MemoryStore>>;

/// Ticks every replica, promotes caught-up learners (as the driver does each turn), runs its
/// Ready loop and delivers its messages to the replicas of `group` (messages to any other id
/// are lost), `turns` times.
pub fn run(group: &mut Group, turns: usize) {
    for _ in 0..turns {
        let mut messages = Vec::new();
        for replica in group.values_mut() {
            replica.tick();
            replica.promote_caught_up_learner();
            messages.extend(replica.handle_ready().expect("ready").messages);
        }
        for message in messages {
            if let Some(to) = group.get_mut(&message.to) {
                let _ = to.step(message);
            }
        }
    }
}
