//! The agents' session streams connected to this replica (only the leader accepts them):
//! where the driver sends assignments and cancellations.

use std::collections::HashMap;
use std::sync::Mutex;

use shotfarm_proto::v1::SchedulerMessage;
use tokio::sync::mpsc;
use tonic::Status;

use crate::state::model::NodeId;

pub type SessionSender = mpsc::Sender<Result<SchedulerMessage, Status>>;

/// How many messages may wait for one slow agent before sends fail (the lease then expires
/// and the task is placed again).
pub const SESSION_QUEUE: usize = 1024;

#[derive(Debug, Default)]
pub struct Sessions {
    by_node: Mutex<HashMap<NodeId, (u64, SessionSender)>>,
    next_session: Mutex<u64>,
}

impl Sessions {
    /// Registers a node's stream, replacing an older one; returns its session number.
    pub fn attach(&self, node: NodeId, sender: SessionSender) -> u64 {
        let session = {
            let mut next = self.next_session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *next += 1;
            *next
        };
        self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(node, (session, sender));
        session
    }

    /// Removes the node's stream if it is still this session's.
    pub fn detach(&self, node: NodeId, session: u64) {
        let mut by_node = self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if by_node.get(&node).is_some_and(|(current, _)| *current == session) {
            by_node.remove(&node);
        }
    }

    /// Sends without waiting; false when the node has no session or its queue is full.
    pub fn send(&self, node: NodeId, message: SchedulerMessage) -> bool {
        let sender = self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&node).map(|(_, sender)| sender.clone());
        sender.is_some_and(|sender| sender.try_send(Ok(message)).is_ok())
    }

    /// Ends one node's session with an error the agent acts on.
    pub fn close(&self, node: NodeId, reason: &str) {
        let removed = self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&node);
        if let Some((_, sender)) = removed {
            let _ = sender.try_send(Err(Status::failed_precondition(reason.to_owned())));
        }
    }

    /// Ends every session (this replica stopped leading): agents reconnect to the new leader.
    pub fn close_all(&self, reason: &str) {
        let drained: Vec<SessionSender> =
            self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain().map(|(_, (_, sender))| sender).collect();
        for sender in drained {
            let _ = sender.try_send(Err(Status::unavailable(reason.to_owned())));
        }
    }

    pub fn connected(&self) -> usize {
        self.by_node.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}
