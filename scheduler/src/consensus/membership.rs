//! A replica's membership: who votes, who learns, how far each has replicated, whom the
//! leader heard from recently, and the changes it proposes — each one through
//! [`reconfiguration::check`] first. A new replica joins as a learner; the leader promotes
//! it once its matched index is within [`PROMOTION_LAG`] of the leader's last index.

use std::collections::BTreeSet;

use raft::prelude::{ConfChange, ConfChangeType};

use super::reconfiguration::{self, GroupView, MembershipChange, ReconfigurationRefusal};
use super::replica::Replica;
use crate::storage::DurableStore;

/// A learner this close to the leader's last index has caught up (etcd promotes a learner
/// at 90 % of the leader's index; a fixed number of entries is stricter on a long log).
pub const PROMOTION_LAG: u64 = 64;

/// One member as the leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberProgress {
    pub id: u64,
    pub learner: bool,
    /// The leader's view of its replicated log position (0 on followers).
    pub matched: u64,
}

impl<S: DurableStore> Replica<S> {
    pub fn voters(&self) -> Vec<u64> {
        self.raw.store().conf_state().get_voters().to_vec()
    }

    pub fn learners(&self) -> Vec<u64> {
        self.raw.store().conf_state().get_learners().to_vec()
    }

    /// Whether `id` is a voter or a learner.
    pub fn is_member(&self, id: u64) -> bool {
        let conf_state = self.raw.store().conf_state();
        conf_state.get_voters().contains(&id) || conf_state.get_learners().contains(&id)
    }

    /// Every member, voters first, with the leader's view of its progress.
    pub fn members(&self) -> Vec<MemberProgress> {
        let matched = |id: u64| if self.is_leader() { self.raw.raft.prs().get(id).map_or(0, |progress| progress.matched) } else { 0 };
        let conf_state = self.raw.store().conf_state();
        let voters = conf_state.get_voters().iter().map(|id| MemberProgress { id: *id, learner: false, matched: matched(*id) });
        let learners = conf_state.get_learners().iter().map(|id| MemberProgress { id: *id, learner: true, matched: matched(*id) });
        voters.chain(learners).collect()
    }

    /// The last index of this replica's log.
    pub fn last_index(&self) -> u64 {
        self.raw.raft.raft_log.last_index()
    }

    /// The group's id (0 while joining).
    pub fn cluster_id(&self) -> u64 {
        self.state.meta.cluster_id
    }

    /// The members this replica heard from within an election timeout, itself included.
    fn reachable(&self) -> BTreeSet<u64> {
        let recent = |heard: u64| self.ticks.saturating_sub(heard) <= self.election_ticks;
        self.heard_at.iter().filter(|(_, heard)| recent(**heard)).map(|(id, _)| *id).chain([self.id]).collect()
    }

    /// Refuses a change that would break the group (see [`reconfiguration`]).
    pub fn check_membership_change(&self, change: &MembershipChange) -> Result<(), ReconfigurationRefusal> {
        let conf_state = self.raw.store().conf_state();
        let reachable = self.reachable();
        let view = GroupView {
            voters: conf_state.get_voters(),
            learners: conf_state.get_learners(),
            change_pending: self.raw.raft.has_pending_conf(),
            reachable: &reachable,
        };
        reconfiguration::check(&view, change)
    }

    /// Proposes a change once [`Replica::check_membership_change`] allows it.
    pub fn propose_membership(&mut self, change: &MembershipChange) -> Result<(), ReconfigurationRefusal> {
        self.check_membership_change(change)?;
        let mut conf_change = ConfChange { node_id: change.id(), ..Default::default() };
        match change {
            MembershipChange::AddLearner { addr, .. } => {
                conf_change.set_change_type(ConfChangeType::AddLearnerNode);
                conf_change.context = addr.as_bytes().to_vec().into();
            }
            MembershipChange::Promote { .. } => conf_change.set_change_type(ConfChangeType::AddNode),
            MembershipChange::Remove { .. } => conf_change.set_change_type(ConfChangeType::RemoveNode),
        }
        self.raw.propose_conf_change(Vec::new(), conf_change).map_err(|err| ReconfigurationRefusal::NotProposed(err.to_string()))
    }

    /// Leader only: proposes promoting the first learner that has caught up (matched within
    /// [`PROMOTION_LAG`] of the last index, heard from recently). Returns whom.
    pub fn promote_caught_up_learner(&mut self) -> Option<u64> {
        if !self.is_leader() || self.raw.store().conf_state().get_learners().is_empty() {
            return None;
        }
        let last_index = self.last_index();
        let caught_up = self.members().into_iter().find(|member| member.learner && member.matched > 0 && member.matched + PROMOTION_LAG >= last_index)?;
        let promote = MembershipChange::Promote { id: caught_up.id };
        match self.propose_membership(&promote) {
            Ok(()) => Some(caught_up.id),
            Err(refusal) => {
                tracing::debug!(learner = caught_up.id, %refusal, "learner not promoted yet");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::consensus::ReplicaConfig;
    use crate::consensus::test_group::{Group, run};
    use crate::machine::{Command, Proposal};
    use crate::storage::memory_store::MemoryStore;

    fn leader_of_one() -> Group {
        let peers: BTreeMap<u64, String> = [(1, "127.0.0.1:7001".to_owned())].into();
        let mut group = Group::new();
        group.insert(1, Replica::open(&ReplicaConfig::new(1), &peers, MemoryStore::default()).expect("opens"));
        run(&mut group, 5);
        group
    }

    fn submit(group: &mut Group, batch_id: u64) {
        let command = Command::SetMemberAddr { id: 99, addr: format!("entry {batch_id}") };
        group.get_mut(&1).expect("leader").propose(&Proposal { proposer: 1, batch_id, commands: vec![command] }).expect("proposes");
    }

    #[test]
    fn a_new_replica_learns_first_and_votes_once_it_has_caught_up() {
        let mut group = leader_of_one();
        for batch in 0..10 {
            submit(&mut group, batch);
        }
        run(&mut group, 3);
        group.insert(2, Replica::open(&ReplicaConfig::new(2), &BTreeMap::new(), MemoryStore::default()).expect("joins"));
        let leader = group.get_mut(&1).expect("leader");
        leader.propose_membership(&MembershipChange::AddLearner { id: 2, addr: "127.0.0.1:7002".to_owned() }).expect("adds a learner");
        let refused = leader.propose_membership(&MembershipChange::Remove { id: 2 }).expect_err("one change at a time");
        assert_eq!(refused, ReconfigurationRefusal::ChangeInProgress);
        run(&mut group, 40);
        let leader = &group[&1];
        assert_eq!((leader.voters(), leader.learners()), (vec![1, 2], Vec::new()), "the caught-up learner is a voter");
        assert_eq!(group[&2].voters(), vec![1, 2]);
        assert_eq!(group[&2].cluster_id(), leader.cluster_id(), "the joiner learned the cluster id");
        assert_eq!(group[&2].state().meta.members.get(&2).map(String::as_str), Some("127.0.0.1:7002"), "promotion keeps the address");
    }

    #[test]
    fn a_learner_that_never_answers_stays_one_and_the_group_goes_on() {
        let mut group = leader_of_one();
        // A typo: no replica listens at the address, so replica 5 never answers.
        let leader = group.get_mut(&1).expect("leader");
        leader.propose_membership(&MembershipChange::AddLearner { id: 5, addr: "127.0.0.1:7999".to_owned() }).expect("adds a learner");
        run(&mut group, 40);
        let leader = group.get_mut(&1).expect("leader");
        assert!(leader.is_leader());
        assert_eq!((leader.voters(), leader.learners()), (vec![1], vec![5]));
        assert_eq!(
            leader.propose_membership(&MembershipChange::AddLearner { id: 6, addr: "127.0.0.1:7006".to_owned() }),
            Err(ReconfigurationRefusal::LearnerCatchingUp { learner: 5 })
        );
        let committed = leader.commit_index();
        submit(&mut group, 1);
        run(&mut group, 3);
        assert!(group[&1].commit_index() > committed, "the lone voter still commits");
        let leader = group.get_mut(&1).expect("leader");
        leader.propose_membership(&MembershipChange::Remove { id: 5 }).expect("the learner can be removed");
        run(&mut group, 3);
        assert_eq!((group[&1].voters(), group[&1].learners()), (vec![1], Vec::new()));
        assert!(!group[&1].is_member(5));
    }
}
