//! The agents' session streams connected to this replica (only the leader accepts them):
//! where the driver sends assignments and cancellations, and which nodes have one — the
//! leader places work only on those (`Placer::connection_changed`).

use std::collections::HashMap;

use shotfarm_proto::v1::SchedulerMessage;
use tokio::sync::mpsc;

use super::stream_end::StreamEnd;
use crate::state::model::NodeId;

/// Where a session's messages go; an error ends the stream and says why.
pub type SessionSender = mpsc::Sender<Result<SchedulerMessage, StreamEnd>>;

/// How many messages may wait for one slow agent before sends fail (the lease then expires
/// and the task is placed again).
pub const SESSION_QUEUE: usize = 1024;

#[derive(Debug, Default)]
pub struct Sessions {
    by_node: HashMap<NodeId, (u64, SessionSender)>,
    next_session: u64,
    /// Nodes that gained (`true`) or lost (`false`) their session since the driver last took
    /// them, in order.
    connection_changes: Vec<(NodeId, bool)>,
}

impl Sessions {
    /// Registers a node's stream, replacing an older one; returns its session number.
    pub fn attach(&mut self, node: NodeId, sender: SessionSender) -> u64 {
        self.next_session += 1;
        if self.by_node.insert(node, (self.next_session, sender)).is_none() {
            self.connection_changes.push((node, true));
        }
        self.next_session
    }

    /// Removes the node's stream if it is still this session's.
    pub fn detach(&mut self, node: NodeId, session: u64) {
        if self.by_node.get(&node).is_some_and(|(current, _)| *current == session) {
            self.by_node.remove(&node);
            self.connection_changes.push((node, false));
        }
    }

    pub fn is_connected(&self, node: NodeId) -> bool {
        self.by_node.contains_key(&node)
    }

    /// Sends without waiting; false when the node has no session or its queue is full.
    pub fn send(&self, node: NodeId, message: SchedulerMessage) -> bool {
        self.by_node.get(&node).is_some_and(|(_, sender)| sender.try_send(Ok(message)).is_ok())
    }

    /// Ends one node's session with the reason the agent acts on.
    pub fn close(&mut self, node: NodeId, end: StreamEnd) {
        if let Some((_, sender)) = self.by_node.remove(&node) {
            let _ = sender.try_send(Err(end));
            self.connection_changes.push((node, false));
        }
    }

    /// Ends every session (this replica stopped leading or stops): agents reconnect.
    pub fn close_all(&mut self, end: StreamEnd) {
        for (node, (_, sender)) in self.by_node.drain() {
            let _ = sender.try_send(Err(end));
            self.connection_changes.push((node, false));
        }
    }

    /// The nodes that gained (`true`) or lost (`false`) their session since the last call.
    pub fn take_connection_changes(&mut self) -> Vec<(NodeId, bool)> {
        std::mem::take(&mut self.connection_changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_connected_while_one_of_its_sessions_is_attached() {
        let mut sessions = Sessions::default();
        let (first, _first_receiver) = mpsc::channel(1);
        let (second, _second_receiver) = mpsc::channel(1);
        let old = sessions.attach(7, first);
        let new = sessions.attach(7, second);
        assert_eq!(sessions.take_connection_changes(), vec![(7, true)], "a reconnect replaces the session; the node stays connected");
        sessions.detach(7, old);
        assert_eq!(sessions.take_connection_changes(), Vec::new(), "the replaced session's end is not the node's");
        sessions.detach(7, new);
        assert_eq!(sessions.take_connection_changes(), vec![(7, false)]);
        let (third, _third_receiver) = mpsc::channel(1);
        sessions.attach(8, third);
        sessions.close_all(StreamEnd::LeadershipLost);
        assert_eq!(sessions.take_connection_changes(), vec![(8, true), (8, false)]);
    }
}
