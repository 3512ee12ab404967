//! What a peer's Raft message must hold before it reaches raft-rs.
//!
//! raft-rs trusts its peers: a heartbeat whose `commit` lies past this replica's last index,
//! an append whose entries do not follow its `index`, an append response acknowledging entries
//! the leader never had, or a read-index message without its one entry make it panic (and a
//! panic in the Ready loop stops the replica). It also obeys messages no peer of ours ever
//! sends: proposals (a log entry of the sender's choosing), term-0 messages (raft-rs takes them
//! for local ones and skips its term checks), leadership transfers. [`check`] refuses all of
//! these, and every message from a replica that is not a member, against the replica's own log
//! and membership; what passes is what raft-rs's own peers send.
//!
//! This is a check of shape and range, not of identity: a message that claims to come from a
//! member is believed (the transport's job is to prove who sent it).

use raft::prelude::{Message, MessageType};

/// Terms and indexes past this are refused: far beyond any real log (2^62 entries), and far
/// enough from `u64::MAX` that raft-rs's `+ 1`s cannot overflow.
pub const MAX_TERM_OR_INDEX: u64 = 1 << 62;

/// What the check knows of the receiving replica.
#[derive(Debug, Clone)]
pub struct LocalView<'a> {
    pub id: u64,
    /// The replica's last log index.
    pub last_index: u64,
    /// Voters and learners of the applied membership (both empty while joining: a replica
    /// started with `--join` hears first from a leader it does not know yet).
    pub voters: &'a [u64],
    pub learners: &'a [u64],
}

impl LocalView<'_> {
    fn joining(&self) -> bool {
        self.voters.is_empty() && self.learners.is_empty()
    }

    fn is_member(&self, id: u64) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerMessageRefusal {
    #[error("{kind:?} is not a message replicas send each other")]
    NotPeerTraffic { kind: MessageType },
    #[error("message from {from}, which is not a member (members: {members:?})")]
    NotAMember { from: u64, members: Vec<u64> },
    #[error("message from {from} to {to} at replica {id}")]
    Misaddressed { from: u64, to: u64, id: u64 },
    #[error("{kind:?} with term 0 (only a forwarded read-index request carries none)")]
    NoTerm { kind: MessageType },
    #[error("{field} {value} is out of range (at most {limit})")]
    OutOfRange { field: &'static str, value: u64, limit: u64 },
    #[error("append entries do not follow index {index}: entry {position} has index {found}")]
    EntriesNotContiguous { index: u64, position: usize, found: u64 },
    #[error("{kind:?} carries {entries} entries; it carries exactly one (the read's context)")]
    ReadWithoutContext { kind: MessageType, entries: usize },
}

/// Refuses a message raft-rs must not see (see the module's documentation).
pub fn check(message: &Message, local: &LocalView<'_>) -> Result<(), PeerMessageRefusal> {
    let kind = message.get_msg_type();
    if !is_peer_traffic(kind) {
        return Err(PeerMessageRefusal::NotPeerTraffic { kind });
    }
    if message.from == 0 || message.from == local.id || message.to != local.id {
        return Err(PeerMessageRefusal::Misaddressed { from: message.from, to: message.to, id: local.id });
    }
    if !local.joining() && !local.is_member(message.from) {
        let members = local.voters.iter().chain(local.learners).copied().collect();
        return Err(PeerMessageRefusal::NotAMember { from: message.from, members });
    }
    if message.term == 0 && kind != MessageType::MsgReadIndex {
        return Err(PeerMessageRefusal::NoTerm { kind });
    }
    within("term", message.term, MAX_TERM_OR_INDEX)?;
    within("log_term", message.log_term, message.term.max(1))?;
    within("index", message.index, MAX_TERM_OR_INDEX)?;
    within("commit", message.commit, MAX_TERM_OR_INDEX)?;
    within("reject_hint", message.reject_hint, MAX_TERM_OR_INDEX)?;
    match kind {
        MessageType::MsgAppend => check_entries(message),
        // A leader sends min(the follower's match, its commit): never past the follower's log.
        MessageType::MsgHeartbeat => within("heartbeat commit", message.commit, local.last_index),
        // A follower acknowledges (or rejects) entries this replica sent it.
        MessageType::MsgAppendResponse => within("acknowledged index", message.index, local.last_index),
        MessageType::MsgReadIndex | MessageType::MsgReadIndexResp if message.entries.len() != 1 => {
            Err(PeerMessageRefusal::ReadWithoutContext { kind, entries: message.entries.len() })
        }
        MessageType::MsgSnapshot => {
            let metadata = message.get_snapshot().get_metadata();
            within("snapshot index", metadata.index, MAX_TERM_OR_INDEX)?;
            within("snapshot term", metadata.term, message.term)
        }
        _ => Ok(()),
    }
}

/// The message types raft-rs replicas exchange, as this farm drives raft-rs: proposals,
/// leadership transfers and membership changes start at the leader, never at a peer.
fn is_peer_traffic(kind: MessageType) -> bool {
    use MessageType::*;
    matches!(
        kind,
        MsgAppend
            | MsgAppendResponse
            | MsgRequestVote
            | MsgRequestVoteResponse
            | MsgRequestPreVote
            | MsgRequestPreVoteResponse
            | MsgSnapshot
            | MsgHeartbeat
            | MsgHeartbeatResponse
            | MsgTimeoutNow
            | MsgReadIndex
            | MsgReadIndexResp
    )
}

/// An append's entries follow its `index` one by one, from terms no later than its own.
fn check_entries(message: &Message) -> Result<(), PeerMessageRefusal> {
    for (position, entry) in message.entries.iter().enumerate() {
        let expected = message.index.saturating_add(1).saturating_add(position as u64);
        if entry.index != expected {
            return Err(PeerMessageRefusal::EntriesNotContiguous { index: message.index, position, found: entry.index });
        }
        within("entry term", entry.term, message.term)?;
    }
    within("last entry index", message.index.saturating_add(message.entries.len() as u64), MAX_TERM_OR_INDEX)
}

fn within(field: &'static str, value: u64, limit: u64) -> Result<(), PeerMessageRefusal> {
    if value > limit {
        return Err(PeerMessageRefusal::OutOfRange { field, value, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use protobuf::ProtobufEnum as _;
    use raft::prelude::Entry;

    use super::*;

    const MEMBERS: &[u64] = &[1, 2, 3];

    fn local() -> LocalView<'static> {
        LocalView { id: 1, last_index: 100, voters: MEMBERS, learners: &[] }
    }

    fn message(kind: MessageType, term: u64) -> Message {
        let mut message = Message::default();
        message.set_msg_type(kind);
        message.from = 2;
        message.to = 1;
        message.term = term;
        message
    }

    fn entries(first: u64, count: u64, term: u64) -> Vec<Entry> {
        (first..first + count).map(|index| Entry { index, term, ..Default::default() }).collect()
    }

    #[test]
    fn what_raft_rs_peers_send_passes() {
        let mut append = message(MessageType::MsgAppend, 5);
        (append.index, append.log_term, append.commit) = (100, 4, 100);
        append.entries = entries(101, 3, 5).into();
        let mut heartbeat = message(MessageType::MsgHeartbeat, 5);
        heartbeat.commit = 100;
        let mut response = message(MessageType::MsgAppendResponse, 5);
        response.index = 100;
        let mut read = message(MessageType::MsgReadIndex, 0);
        read.entries = entries(0, 1, 0).into();
        let vote = message(MessageType::MsgRequestPreVote, 6);
        for message in [append, heartbeat, response, read, vote] {
            assert_eq!(check(&message, &local()), Ok(()), "{message:?}");
        }
        // A joining replica hears from a leader it does not know yet.
        let mut from_learner = message(MessageType::MsgHeartbeatResponse, 5);
        from_learner.from = 4;
        assert_eq!(check(&from_learner, &LocalView { learners: &[4], ..local() }), Ok(()));
        let joining = LocalView { voters: &[], ..local() };
        assert_eq!(check(&message(MessageType::MsgSnapshot, 3), &joining), Ok(()));
    }

    #[test]
    fn what_would_panic_raft_rs_or_steer_it_is_refused() {
        let mut heartbeat = message(MessageType::MsgHeartbeat, 5);
        heartbeat.commit = 1_000_000_000_000;
        assert!(matches!(check(&heartbeat, &local()), Err(PeerMessageRefusal::OutOfRange { field: "heartbeat commit", .. })));

        let mut gap = message(MessageType::MsgAppend, 5);
        gap.index = 100;
        gap.entries = entries(5, 2, 5).into();
        assert!(matches!(check(&gap, &local()), Err(PeerMessageRefusal::EntriesNotContiguous { found: 5, .. })));

        let mut future_entry = message(MessageType::MsgAppend, 5);
        future_entry.index = 100;
        future_entry.entries = entries(101, 1, 9).into();
        assert!(matches!(check(&future_entry, &local()), Err(PeerMessageRefusal::OutOfRange { field: "entry term", .. })));

        let mut ack = message(MessageType::MsgAppendResponse, 5);
        ack.index = 101;
        assert!(matches!(check(&ack, &local()), Err(PeerMessageRefusal::OutOfRange { field: "acknowledged index", .. })));

        let read = message(MessageType::MsgReadIndexResp, 5);
        assert!(matches!(check(&read, &local()), Err(PeerMessageRefusal::ReadWithoutContext { entries: 0, .. })));

        let huge = message(MessageType::MsgRequestVote, u64::MAX);
        assert!(matches!(check(&huge, &local()), Err(PeerMessageRefusal::OutOfRange { field: "term", .. })));

        for kind in [MessageType::MsgPropose, MessageType::MsgHup, MessageType::MsgTransferLeader, MessageType::MsgUnreachable] {
            assert_eq!(check(&message(kind, 5), &local()), Err(PeerMessageRefusal::NotPeerTraffic { kind }));
        }
        assert_eq!(check(&message(MessageType::MsgAppend, 0), &local()), Err(PeerMessageRefusal::NoTerm { kind: MessageType::MsgAppend }));

        let mut outsider = message(MessageType::MsgHeartbeat, 5);
        outsider.from = 9;
        assert!(matches!(check(&outsider, &local()), Err(PeerMessageRefusal::NotAMember { from: 9, .. })));
        let mut to_other = message(MessageType::MsgHeartbeat, 5);
        to_other.to = 3;
        assert!(matches!(check(&to_other, &local()), Err(PeerMessageRefusal::Misaddressed { .. })));
    }

    proptest! {
        /// Whatever the fields, the check answers (no overflow, no panic), and an accepted
        /// heartbeat or append response never points past the local log.
        #[test]
        fn any_message_gets_an_answer(
            kind in 0i32..20,
            from in 0u64..5,
            term in any::<u64>(),
            index in any::<u64>(),
            commit in any::<u64>(),
            first in any::<u64>(),
            count in 0usize..4,
        ) {
            let mut message = message(MessageType::from_i32(kind).unwrap_or(MessageType::MsgHeartbeat), term);
            (message.from, message.index, message.commit) = (from, index, commit);
            message.entries = (0..count as u64).map(|offset| Entry { index: first.wrapping_add(offset), term, ..Default::default() }).collect::<Vec<_>>().into();
            if check(&message, &local()).is_ok() {
                match message.get_msg_type() {
                    MessageType::MsgHeartbeat => prop_assert!(message.commit <= 100),
                    MessageType::MsgAppendResponse => prop_assert!(message.index <= 100),
                    _ => {}
                }
                prop_assert!(message.term <= MAX_TERM_OR_INDEX);
            }
        }
    }
}
