//! The handle every service uses to reach the driver: requests over one bounded channel,
//! the published [`ReplicaInfo`], and the leader's [`Agents`].

use raft::prelude::Message;
use tokio::sync::{mpsc, oneshot, watch};

use super::agents::Agents;
use super::request::{Query, Request};
use super::{DriverConfig, DriverError, ReplicaInfo};
use crate::consensus::MembershipChange;
use crate::machine::{Command, Outcome};
use crate::state::State;

#[derive(Clone)]
pub struct DriverHandle {
    requests: mpsc::Sender<Request>,
    info: watch::Receiver<ReplicaInfo>,
    agents: Agents,
    config: DriverConfig,
}

impl DriverHandle {
    pub(super) fn new(requests: mpsc::Sender<Request>, info: watch::Receiver<ReplicaInfo>, agents: Agents, config: DriverConfig) -> DriverHandle {
        DriverHandle { requests, info, agents, config }
    }

    pub fn info(&self) -> ReplicaInfo {
        self.info.borrow().clone()
    }

    /// Whether the certificate with this fingerprint is revoked (as applied here).
    pub fn is_revoked(&self, fingerprint: &str) -> bool {
        self.info.borrow().revoked_certificates.contains(fingerprint)
    }

    /// A receiver that changes whenever the replica's applied index, role or leader does.
    pub fn watch_info(&self) -> watch::Receiver<ReplicaInfo> {
        self.info.clone()
    }

    /// The leader's sessions, heartbeats and progress of its agents.
    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// Ok on the leader; elsewhere `NotLeader` with the leader's address when known.
    pub fn leader_only(&self) -> Result<(), DriverError> {
        let info = self.info.borrow();
        if info.is_leader() { Ok(()) } else { Err(DriverError::NotLeader { leader: info.leader_hint() }) }
    }

    pub async fn propose(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, DriverError> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(Request::Propose { commands, reply }).await.map_err(|_| DriverError::Stopped)?;
        answer.await.map_err(|_| DriverError::Stopped)?
    }

    pub async fn propose_one(&self, command: Command) -> Result<Outcome, DriverError> {
        let mut outcomes = self.propose(vec![command]).await?;
        outcomes.pop().ok_or_else(|| DriverError::Unknown("no outcome came back".to_owned()))
    }

    async fn query<T: Send + 'static>(&self, linearizable: bool, f: impl FnOnce(&State) -> T + Send + 'static) -> Result<T, DriverError> {
        let (reply, answer) = oneshot::channel();
        let query: Query = Box::new(move |state| {
            let _ = reply.send(state.map(f));
        });
        let request = if linearizable { Request::Read(query) } else { Request::LocalRead(query) };
        self.requests.send(request).await.map_err(|_| DriverError::Stopped)?;
        answer.await.map_err(|_| DriverError::Stopped)?
    }

    /// A linearizable read (ReadIndex): sees every write acknowledged before it started.
    pub async fn read<T: Send + 'static>(&self, f: impl FnOnce(&State) -> T + Send + 'static) -> Result<T, DriverError> {
        self.query(true, f).await
    }

    /// A read of this replica's state as applied so far.
    pub async fn local_read<T: Send + 'static>(&self, f: impl FnOnce(&State) -> T + Send + 'static) -> Result<T, DriverError> {
        self.query(false, f).await
    }

    /// Hands raft messages from a peer to the driver; drops them when it is overloaded
    /// (Raft retransmits).
    pub fn step(&self, messages: Vec<Message>, sender: Option<(u64, String)>) -> Result<(), DriverError> {
        match self.requests.try_send(Request::Step(messages, sender)) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(DriverError::Stopped),
        }
    }

    /// Adds a learner or removes a member; returns once the change has applied on the leader.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<(), DriverError> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(Request::Membership { change, reply }).await.map_err(|_| DriverError::Stopped)?;
        answer.await.map_err(|_| DriverError::Stopped)?
    }
}
