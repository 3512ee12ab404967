//! The agents' session streams connected to this replica (only the leader accepts them):
//! where the driver sends assignments and cancellations.

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
}

impl Sessions {
    /// Registers a node's stream, replacing an older one; returns its session number.
    pub fn attach(&mut self, node: NodeId, sender: SessionSender) -> u64 {
        self.next_session += 1;
        self.by_node.insert(node, (self.next_session, sender));
        self.next_session
    }

    /// Removes the node's stream if it is still this session's.
    pub fn detach(&mut self, node: NodeId, session: u64) {
        if self.by_node.get(&node).is_some_and(|(current, _)| *current == session) {
            self.by_node.remove(&node);
        }
    }

    /// Sends without waiting; false when the node has no session or its queue is full.
    pub fn send(&self, node: NodeId, message: SchedulerMessage) -> bool {
        self.by_node.get(&node).is_some_and(|(_, sender)| sender.try_send(Ok(message)).is_ok())
    }

    /// Ends one node's session with the reason the agent acts on.
    pub fn close(&mut self, node: NodeId, end: StreamEnd) {
        if let Some((_, sender)) = self.by_node.remove(&node) {
            let _ = sender.try_send(Err(end));
        }
    }

    /// Ends every session (this replica stopped leading or stops): agents reconnect.
    pub fn close_all(&mut self, end: StreamEnd) {
        for (_, (_, sender)) in self.by_node.drain() {
            let _ = sender.try_send(Err(end));
        }
    }
}
