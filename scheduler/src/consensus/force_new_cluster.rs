//! Disaster recovery (etcd's `--force-new-cluster`): when a group has lost its quorum for
//! good, one surviving replica's store is rewritten, offline, into a one-replica group of its
//! own. Everything it knows to be committed is applied first and kept (jobs, nodes, request
//! ids); entries past its commit index are dropped, as etcd drops them (no quorum ever
//! acknowledged them to this replica). The group gets a fresh cluster id, so a lost replica
//! that comes back with its old store is refused at first contact instead of rejoining.

use raft::Storage as _;
use raft::prelude::{ConfState, HardState};

use super::cluster_id;
use super::replica::{Replica, ReplicaError};
use crate::machine::{self, Command};
use crate::storage::{DurableStore, WriteBatch, state_snapshot};

/// What the rewrite kept and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCluster {
    /// The one voter left: this replica, at its member address.
    pub id: u64,
    pub addr: String,
    /// The state kept is the one applied up to here.
    pub index: u64,
    pub term: u64,
    pub old_cluster_id: u64,
    pub cluster_id: u64,
    /// Members (voters and learners) no longer in the group.
    pub removed: Vec<u64>,
    pub jobs: usize,
    pub nodes: usize,
}

/// Ready turns to apply the committed entries at most (each applies what raft-rs hands over).
const MAX_CATCH_UP_TURNS: usize = 10_000;

impl<S: DurableStore> Replica<S> {
    /// Rewrites this replica's store into a one-replica group (see the module's documentation).
    /// The replica is consumed: start it again from the store to serve.
    pub fn force_new_cluster(mut self) -> Result<NewCluster, ReplicaError> {
        let mut turns = 0;
        while self.applied() < self.commit_index() {
            self.handle_ready()?;
            turns += 1;
            if turns > MAX_CATCH_UP_TURNS {
                return Err(ReplicaError::Membership(format!(
                    "cannot apply the committed log: applied index {} short of commit index {}",
                    self.applied(),
                    self.commit_index()
                )));
            }
        }
        let index = self.applied();
        let term = self.raw.store().term(index)?;
        let id = self.id;
        let Some(addr) = self.member_addr(id).map(str::to_owned) else {
            return Err(ReplicaError::Membership(format!("replica {id} has no address in the membership it stored; it never joined a group")));
        };
        let removed: Vec<u64> = self.members().into_iter().map(|member| member.id).filter(|member| *member != id).collect();
        let mut state = self.state.clone();
        let old_cluster_id = state.meta.cluster_id;
        let new_cluster_id = cluster_id::fresh(old_cluster_id);
        machine::apply(&mut state, &Command::SetClusterId { cluster_id: new_cluster_id });
        let stale: Vec<u64> = state.meta.members.keys().copied().filter(|member| *member != id).collect();
        for member in stale {
            machine::apply(&mut state, &Command::RemoveMember { id: member });
        }
        let mut conf_state = ConfState::default();
        conf_state.set_voters(vec![id]);
        let snapshot = state_snapshot(&state, conf_state.clone(), index, term);
        let hard_state = HardState { term: self.term().max(term), vote: 0, commit: index, ..Default::default() };
        let (jobs, nodes) = (state.jobs.len(), state.nodes.len());
        self.store.write(WriteBatch {
            install_snapshot: Some((snapshot, state)),
            hard_state: Some(hard_state),
            conf_state: Some(conf_state),
            applied: Some(index),
            ..WriteBatch::default()
        })?;
        Ok(NewCluster { id, addr, index, term, old_cluster_id, cluster_id: new_cluster_id, removed, jobs, nodes })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::consensus::{MembershipChange, ReplicaConfig};
    use crate::machine::{Outcome, Proposal};
    use crate::state::model::JobSpec;
    use crate::storage::memory_store::MemoryStore;

    fn settle(replica: &mut Replica<MemoryStore>) {
        for _ in 0..20 {
            replica.tick();
            replica.handle_ready().expect("ready");
        }
    }

    #[test]
    fn a_replica_rebuilt_alone_keeps_its_jobs_and_leads_a_group_of_its_own() {
        let peers: BTreeMap<u64, String> = [(1, "127.0.0.1:7001".to_owned())].into();
        let store = MemoryStore::default();
        let mut replica = Replica::open(&ReplicaConfig::new(1), &peers, store.clone()).expect("opens");
        settle(&mut replica);
        let submit = Command::SubmitJob { request_id: "r1".to_owned(), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 1, trace_parent: None };
        replica.propose(&Proposal { proposer: 1, batch_id: 1, commands: vec![submit] }).expect("proposes");
        settle(&mut replica);
        replica.propose_membership(&MembershipChange::AddLearner { id: 2, addr: "127.0.0.1:7002".to_owned() }).expect("a learner joins");
        settle(&mut replica);
        assert_eq!(replica.learners(), vec![2]);
        let old_cluster_id = replica.cluster_id();

        let rebuilt = replica.force_new_cluster().expect("rewritten");
        assert_eq!((rebuilt.id, rebuilt.addr.as_str(), rebuilt.removed.as_slice(), rebuilt.jobs), (1, "127.0.0.1:7001", &[2][..], 1));
        assert_eq!(rebuilt.old_cluster_id, old_cluster_id);
        assert_ne!(rebuilt.cluster_id, old_cluster_id);

        let mut reopened = Replica::open(&ReplicaConfig::new(1), &BTreeMap::new(), store).expect("reopens");
        settle(&mut reopened);
        assert!(reopened.is_leader());
        assert_eq!((reopened.voters(), reopened.learners()), (vec![1], Vec::new()));
        assert_eq!(reopened.cluster_id(), rebuilt.cluster_id);
        assert_eq!(reopened.state().jobs.len(), 1);
        assert_eq!(reopened.state().meta.members.keys().copied().collect::<Vec<_>>(), vec![1]);
        let again = Command::SubmitJob { request_id: "r2".to_owned(), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 2, trace_parent: None };
        reopened.propose(&Proposal { proposer: 1, batch_id: 2, commands: vec![again] }).expect("proposes");
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            outcomes.extend(reopened.handle_ready().expect("ready").applied.proposals.into_iter().flat_map(|applied| applied.outcomes));
        }
        assert!(matches!(outcomes.as_slice(), [Outcome::JobSubmitted { created: true, .. }]), "{outcomes:?}");
        assert_eq!(reopened.state().jobs.len(), 2);
    }
}
