//! The cluster id: which group a replica belongs to. Every initial replica derives the same id
//! from the same `--peers` (so replicas given disagreeing lists get different ids); a group
//! rebuilt by `shotfarm cluster recover --force-new-cluster` gets a fresh random one; a joining
//! replica has none (0) until the leader's snapshot brings it. Every Raft batch carries the
//! sender's id, and a replica refuses a batch from another group.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The id of a group bootstrapped with `peers`: the same on every initial replica, never 0.
pub fn derived_from_peers(peers: &BTreeMap<u64, String>) -> u64 {
    let mut hash = Sha256::new();
    hash.update(b"shotfarm cluster id\n");
    for (id, addr) in peers {
        hash.update(format!("{id}={addr}\n").as_bytes());
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first).max(1)
}

/// A new id for a group rebuilt from one replica's data: never 0, never `old`.
pub fn fresh(old: u64) -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 && id != old {
            return id;
        }
    }
}

/// A Raft batch from a replica of another group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "replica {from} belongs to cluster {theirs:016x}, this replica to cluster {ours:016x}: their --peers (or data \
     directories) disagree; start every replica of a group with the same --peers, and add new ones with `shotfarm cluster add`"
)]
pub struct ClusterIdMismatch {
    pub from: u64,
    pub theirs: u64,
    pub ours: u64,
}

/// Whether a batch from `from` carrying `theirs` may reach a replica of cluster `ours`. A
/// replica that is joining (0 on either side: it has not learned the id yet) is heard.
pub fn check(from: u64, theirs: u64, ours: u64) -> Result<(), ClusterIdMismatch> {
    if theirs == 0 || ours == 0 || theirs == ours {
        Ok(())
    } else {
        Err(ClusterIdMismatch { from, theirs, ours })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_peers_give_the_same_id_and_other_peers_another() {
        let three: BTreeMap<u64, String> = (1..=3).map(|id| (id, format!("127.0.0.1:700{id}"))).collect();
        let mut typo = three.clone();
        typo.insert(3, "127.0.0.1:7004".to_owned());
        assert_eq!(derived_from_peers(&three), derived_from_peers(&three.clone()));
        assert_ne!(derived_from_peers(&three), derived_from_peers(&typo));
        assert_ne!(fresh(7), 7);
    }

    #[test]
    fn another_group_is_refused_and_a_joining_replica_heard() {
        assert_eq!(check(2, 5, 5), Ok(()));
        assert_eq!(check(2, 0, 5), Ok(()));
        assert_eq!(check(2, 5, 0), Ok(()));
        let refused = check(2, 6, 5).expect_err("another group");
        assert_eq!(refused, ClusterIdMismatch { from: 2, theirs: 6, ours: 5 });
        assert!(refused.to_string().starts_with("replica 2 belongs to cluster 0000000000000006, this replica to cluster 0000000000000005"), "{refused}");
    }
}
