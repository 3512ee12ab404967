//! The requests the handle sends to the driver over its bounded channel, and where their
//! answers go.

use raft::prelude::Message;
use tokio::sync::oneshot;

use super::DriverError;
use crate::consensus::MembershipChange;
use crate::machine::{Command, Outcome};
use crate::state::State;

/// Where the outcomes of one caller's commands go.
pub type OutcomeReply = oneshot::Sender<Result<Vec<Outcome>, DriverError>>;

/// Where the answer to a membership change goes.
pub type MembershipReply = oneshot::Sender<Result<(), DriverError>>;

/// A read of the state, run on the driver thread.
pub type Query = Box<dyn FnOnce(Result<&State, DriverError>) + Send>;

pub enum Request {
    Propose { commands: Vec<Command>, reply: OutcomeReply },
    /// Linearizable: runs once the applied index reaches the leader's commit index as of now.
    Read(Query),
    /// Runs on the local state as it is (watch streams, status).
    LocalRead(Query),
    /// Messages from a peer, with the address it listens on.
    Step(Vec<Message>, Option<(u64, String)>),
    Membership { change: MembershipChange, reply: MembershipReply },
}
