//! Which membership changes a leader may propose (etcd's strict reconfiguration check): one
//! change at a time, a new replica always as a learner first (promoted by the leader once it
//! has caught up, so a voter that cannot be reached is never added), and no change that
//! leaves the group without a quorum of voters the leader has heard from recently.

use std::collections::BTreeSet;

/// A change of the group's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// A new replica, as a learner, at its address.
    AddLearner { id: u64, addr: String },
    /// A learner that caught up becomes a voter (the leader's own decision).
    Promote { id: u64 },
    /// A voter or a learner leaves.
    Remove { id: u64 },
}

impl MembershipChange {
    pub fn id(&self) -> u64 {
        match self {
            MembershipChange::AddLearner { id, .. } | MembershipChange::Promote { id } | MembershipChange::Remove { id } => *id,
        }
    }
}

/// The group as the leader sees it when a change is asked for.
#[derive(Debug, Clone)]
pub struct GroupView<'a> {
    pub voters: &'a [u64],
    pub learners: &'a [u64],
    /// A membership change proposed and not applied yet (or a new leader's first entry not
    /// applied yet: until then raft-rs cannot tell).
    pub change_pending: bool,
    /// The voters the leader heard from within an election timeout, itself included.
    pub reachable: &'a BTreeSet<u64>,
}

/// Why a membership change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigurationRefusal {
    #[error("a membership change is in progress; retry once it has applied (see `shotfarm cluster`)")]
    ChangeInProgress,
    #[error("replica {id} is already a {role}; pick an id no member has (see `shotfarm cluster`)")]
    AlreadyMember { id: u64, role: &'static str },
    #[error(
        "replica {learner} is still catching up as a learner; add another replica once the leader has promoted it, \
         or remove it with `shotfarm cluster remove --id {learner}`"
    )]
    LearnerCatchingUp { learner: u64 },
    #[error("replica {0} is not a member (see `shotfarm cluster`)")]
    NotMember(u64),
    #[error("replica {0} is not a learner; only a learner can be promoted")]
    NotALearner(u64),
    #[error("cannot remove replica {0}: it is the last voter (a group needs one)")]
    LastVoter(u64),
    #[error(
        "{change} would leave {reachable} reachable voter(s) of {voters}, short of a quorum of {quorum} \
         (not heard from recently: {unreachable:?}); bring those replicas back, or remove them first"
    )]
    QuorumUnreachable { change: String, reachable: usize, voters: usize, quorum: usize, unreachable: Vec<u64> },
    #[error("raft-rs did not take the change: {0}; retry")]
    NotProposed(String),
}

/// Refuses a change that would break the group (see the module's documentation).
pub fn check(view: &GroupView<'_>, change: &MembershipChange) -> Result<(), ReconfigurationRefusal> {
    if view.change_pending {
        return Err(ReconfigurationRefusal::ChangeInProgress);
    }
    let is_voter = |id: u64| view.voters.contains(&id);
    let is_learner = |id: u64| view.learners.contains(&id);
    match change {
        MembershipChange::AddLearner { id, .. } => {
            if is_voter(*id) || is_learner(*id) {
                return Err(ReconfigurationRefusal::AlreadyMember { id: *id, role: if is_voter(*id) { "voter" } else { "learner" } });
            }
            if let Some(&learner) = view.learners.first() {
                return Err(ReconfigurationRefusal::LearnerCatchingUp { learner });
            }
            Ok(())
        }
        MembershipChange::Promote { id } => {
            if !is_learner(*id) {
                return Err(ReconfigurationRefusal::NotALearner(*id));
            }
            let voters: Vec<u64> = view.voters.iter().copied().chain([*id]).collect();
            quorum_stays_reachable(view, &voters, format!("promoting replica {id}"))
        }
        MembershipChange::Remove { id } if is_learner(*id) => Ok(()),
        MembershipChange::Remove { id } if is_voter(*id) => {
            if view.voters.len() == 1 {
                return Err(ReconfigurationRefusal::LastVoter(*id));
            }
            let voters: Vec<u64> = view.voters.iter().copied().filter(|voter| voter != id).collect();
            quorum_stays_reachable(view, &voters, format!("removing replica {id}"))
        }
        MembershipChange::Remove { id } => Err(ReconfigurationRefusal::NotMember(*id)),
    }
}

/// A majority of `voters` (the configuration after the change) must be reachable.
fn quorum_stays_reachable(view: &GroupView<'_>, voters: &[u64], change: String) -> Result<(), ReconfigurationRefusal> {
    let quorum = voters.len() / 2 + 1;
    let reachable = voters.iter().filter(|voter| view.reachable.contains(voter)).count();
    if reachable >= quorum {
        return Ok(());
    }
    let unreachable = voters.iter().copied().filter(|voter| !view.reachable.contains(voter)).collect();
    Err(ReconfigurationRefusal::QuorumUnreachable { change, reachable, voters: voters.len(), quorum, unreachable })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(voters: &'a [u64], learners: &'a [u64], reachable: &'a BTreeSet<u64>) -> GroupView<'a> {
        GroupView { voters, learners, change_pending: false, reachable }
    }

    fn add(id: u64) -> MembershipChange {
        MembershipChange::AddLearner { id, addr: "127.0.0.1:9".to_owned() }
    }

    #[test]
    fn removing_a_voter_needs_a_reachable_quorum_of_the_voters_left() {
        let reachable: BTreeSet<u64> = [1, 2].into();
        let group = view(&[1, 2, 3], &[], &reachable);
        // 3 is down: removing it leaves {1, 2}, both reachable.
        assert_eq!(check(&group, &MembershipChange::Remove { id: 3 }), Ok(()));
        // Removing 2 leaves {1, 3} with only 1 reachable: no quorum.
        let refused = check(&group, &MembershipChange::Remove { id: 2 }).expect_err("quorum lost");
        assert_eq!(refused, ReconfigurationRefusal::QuorumUnreachable { change: "removing replica 2".to_owned(), reachable: 1, voters: 2, quorum: 2, unreachable: vec![3] });
        assert!(refused.to_string().contains("bring those replicas back, or remove them first"), "{refused}");
    }

    #[test]
    fn the_last_voter_stays_and_a_learner_may_always_go() {
        let reachable: BTreeSet<u64> = [1].into();
        let group = view(&[1], &[2], &reachable);
        assert_eq!(check(&group, &MembershipChange::Remove { id: 1 }), Err(ReconfigurationRefusal::LastVoter(1)));
        assert_eq!(check(&group, &MembershipChange::Remove { id: 2 }), Ok(()));
        assert_eq!(check(&group, &MembershipChange::Remove { id: 9 }), Err(ReconfigurationRefusal::NotMember(9)));
    }

    #[test]
    fn a_replica_joins_as_the_one_learner_and_only_a_reachable_one_is_promoted() {
        let reachable: BTreeSet<u64> = [1].into();
        assert_eq!(check(&view(&[1], &[], &reachable), &add(2)), Ok(()));
        assert_eq!(check(&view(&[1], &[], &reachable), &add(1)), Err(ReconfigurationRefusal::AlreadyMember { id: 1, role: "voter" }));
        assert_eq!(check(&view(&[1], &[2], &reachable), &add(2)), Err(ReconfigurationRefusal::AlreadyMember { id: 2, role: "learner" }));
        assert_eq!(check(&view(&[1], &[2], &reachable), &add(3)), Err(ReconfigurationRefusal::LearnerCatchingUp { learner: 2 }));
        // Promoting an unreachable learner of a one-voter group would need both for a quorum.
        assert!(matches!(check(&view(&[1], &[2], &reachable), &MembershipChange::Promote { id: 2 }), Err(ReconfigurationRefusal::QuorumUnreachable { .. })));
        let both: BTreeSet<u64> = [1, 2].into();
        assert_eq!(check(&view(&[1], &[2], &both), &MembershipChange::Promote { id: 2 }), Ok(()));
        assert_eq!(check(&view(&[1, 2], &[], &both), &MembershipChange::Promote { id: 2 }), Err(ReconfigurationRefusal::NotALearner(2)));
    }

    #[test]
    fn nothing_while_a_change_is_pending() {
        let reachable: BTreeSet<u64> = [1, 2, 3].into();
        let group = GroupView { change_pending: true, ..view(&[1, 2, 3], &[], &reachable) };
        for change in [add(4), MembershipChange::Remove { id: 3 }, MembershipChange::Promote { id: 4 }] {
            assert_eq!(check(&group, &change), Err(ReconfigurationRefusal::ChangeInProgress));
        }
    }
}
