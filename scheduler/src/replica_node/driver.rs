//! The Ready loop: the one task that owns the replica. It ticks raft-rs, steps messages in,
//! proposes what the [`Outbox`] gathered, runs the Ready loop (persist, send, apply),
//! answers proposers and linearizable readers, and — while leader — runs the leader's
//! duties ([`super::leader`]).
//!
//! A turn first applies what the peers' acks committed and carries out its effects (an
//! assignment reaches its agent before anything new is written), then runs a placement
//! round that looks ahead at the gathered commands, and proposes those commands with the
//! round's assignments in one entry: a task that a result makes ready is assigned in the
//! same entry. Each Ready's messages go out as soon as they may — a leader's appends before
//! its own fsync, a follower's acks before it applies — so a commit costs one fsync on each
//! side, in parallel.
//!
//! It runs on its own thread with a single-threaded runtime, because a Ready that appends
//! entries ends in an fsync: blocking there must not stall the gRPC runtime. Everything it
//! logs is in a span naming the replica and its current term.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::prelude::Message;
use shotfarm_security::TransportSecurity;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::agents::Agents;
use super::handle::DriverHandle;
use super::info::{MemberInfo, ReplicaInfo};
use super::leader::{LivenessJudge, Placer, carry_out};
use super::liveness::LivenessConfig;
use super::outbox::Outbox;
use super::request::{MembershipReply, Query, Request};
use super::stream_end::StreamEnd;
use super::transport::{Delivery, Transport};
use super::DriverError;
use crate::consensus::{AppliedReady, MembershipChange, Replica, ReplicaError};
use crate::metrics::ReplicaMetrics;
use crate::metrics::raft::RaftPosition;
use crate::storage::DurableStore;

/// Requests queued for the driver at most; callers wait beyond that (back-pressure).
const REQUEST_QUEUE: usize = 8192;
/// How often the state's tasks, jobs and nodes are counted for `/metrics`.
const COUNT_STATE_EVERY: Duration = Duration::from_secs(1);

/// The replica cannot persist its log: it must stop.
fn storage_failed(err: ReplicaError) -> DriverError {
    tracing::error!(%err, "the replica cannot persist its log; stopping");
    DriverError::Fatal(err.to_string())
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub tick: Duration,
    pub liveness: LivenessConfig,
    /// After becoming leader, nothing is declared dead for this long.
    pub leader_grace: Duration,
    /// Peers dialled at another address than their member address (`--route`).
    pub routes: HashMap<u64, String>,
    /// How peers are dialled: TLS presenting this replica's certificate, or `--insecure`.
    pub peer_security: TransportSecurity,
}

struct Driver<S: DurableStore> {
    replica: Replica<S>,
    config: DriverConfig,
    transport: Transport,
    /// Addresses from `--peers`, used until the replicated membership knows better.
    bootstrap_peers: HashMap<u64, String>,
    /// Addresses peers announced with their messages: how a joining replica, which has no
    /// membership yet, answers the leader.
    learned_peers: HashMap<u64, String>,
    outbox: Outbox,
    last_read: u64,
    /// Linearizable reads waiting for the leader to confirm its commit index.
    pending_reads: HashMap<u64, Query>,
    /// Linearizable reads waiting for the applied index to reach theirs.
    ready_reads: Vec<(u64, Query)>,
    pending_membership: Vec<(MembershipChange, MembershipReply)>,
    placer: Placer,
    judge: LivenessJudge,
    was_leader: bool,
    agents: Agents,
    info: watch::Sender<ReplicaInfo>,
    span: TermSpan,
    metrics: Arc<ReplicaMetrics>,
    /// When the state was last counted for the metrics.
    counted_at: Option<Instant>,
}

/// The span the driver thread logs in: which replica, in which term.
struct TermSpan {
    replica: u64,
    term: u64,
    span: tracing::Span,
}

impl TermSpan {
    fn new(replica: u64) -> TermSpan {
        TermSpan { replica, term: 0, span: tracing::info_span!("driver", replica, term = 0u64) }
    }

    /// The span for `term`, a new one when the term changed.
    fn of(&mut self, term: u64) -> tracing::Span {
        if term != self.term {
            self.term = term;
            self.span = tracing::info_span!("driver", replica = self.replica, term);
        }
        self.span.clone()
    }
}

/// Starts the driver thread. The returned join handle ends when `shutdown` fires (Ok) or
/// storage fails (Err: the replica must stop).
pub fn spawn<S: DurableStore>(
    replica: Replica<S>,
    config: DriverConfig,
    advertise: String,
    bootstrap_peers: HashMap<u64, String>,
    shutdown: CancellationToken,
) -> std::io::Result<(DriverHandle, std::thread::JoinHandle<Result<(), DriverError>>)> {
    let (requests, request_receiver) = mpsc::channel(REQUEST_QUEUE);
    let (deliveries, delivery_receiver) = mpsc::unbounded_channel();
    let (info, info_receiver) = watch::channel(ReplicaInfo::default());
    let agents = Agents::default();
    let handle = DriverHandle::new(requests, info_receiver, agents.clone(), config.clone());
    let main_runtime = tokio::runtime::Handle::current();
    let id = replica.id();
    let thread = std::thread::Builder::new().name(format!("raft-{id}")).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|err| DriverError::Fatal(err.to_string()))?;
        let transport = Transport::new(id, advertise, config.routes.clone(), config.peer_security.clone(), deliveries, shutdown.clone(), main_runtime);
        transport.set_cluster_id(replica.cluster_id());
        let driver = Driver {
            metrics: replica.metrics(),
            counted_at: None,
            replica,
            config,
            transport,
            bootstrap_peers,
            learned_peers: HashMap::new(),
            outbox: Outbox::default(),
            last_read: 0,
            pending_reads: HashMap::new(),
            ready_reads: Vec::new(),
            pending_membership: Vec::new(),
            placer: Placer::for_sessions(),
            judge: LivenessJudge::default(),
            was_leader: false,
            agents,
            info,
            span: TermSpan::new(id),
        };
        runtime.block_on(driver.run(request_receiver, delivery_receiver, shutdown))
    })?;
    Ok((handle, thread))
}

impl<S: DurableStore> Driver<S> {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut deliveries: mpsc::UnboundedReceiver<Delivery>,
        shutdown: CancellationToken,
    ) -> Result<(), DriverError> {
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break Ok(()),
                _ = ticker.tick() => {
                    let _span = self.span.of(self.replica.term()).entered();
                    self.replica.tick();
                    self.judge_liveness();
                    self.count_state();
                }
                Some(delivery) = deliveries.recv() => {
                    let _span = self.span.of(self.replica.term()).entered();
                    self.on_delivery(delivery);
                }
                Some(request) = requests.recv() => {
                    let _span = self.span.of(self.replica.term()).entered();
                    self.on_request(request);
                    // Take whatever else is waiting: it all goes into the same log entry.
                    let mut taken = 0;
                    while let Ok(request) = requests.try_recv() {
                        self.on_request(request);
                        taken += 1;
                        if taken >= REQUEST_QUEUE {
                            break;
                        }
                    }
                }
            }
            let _span = self.span.of(self.replica.term()).entered();
            if let Err(err) = self.turn() {
                break Err(err);
            }
        };
        self.fail_all_waiting(if result.is_ok() { DriverError::Stopped } else { DriverError::Fatal("storage failure".to_owned()) });
        self.agents.close_all(StreamEnd::ShuttingDown);
        result
    }

    /// One turn: apply what the peers' acks committed (its effects carried out before
    /// anything new is written), place — the queue and what the gathered results will make
    /// ready — and propose the gathered commands with those assignments in one entry (and a
    /// caught-up learner's promotion), run the Ready loop, and publish status. A replica
    /// alone commits its own entries at once: it places again while what applied makes
    /// more ready.
    fn turn(&mut self) -> Result<(), DriverError> {
        self.process_ready()?;
        loop {
            self.place();
            self.flush_outbox();
            if let Some(learner) = self.replica.promote_caught_up_learner() {
                tracing::info!(learner, "learner caught up; promoting it to voter");
            }
            self.process_ready()?;
            if !(self.replica.is_leader() && self.placer.is_due()) {
                break;
            }
        }
        self.publish_info();
        Ok(())
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Propose { commands, reply } => self.outbox.gather(commands, reply),
            Request::Read(query) => {
                if !self.replica.is_leader() {
                    query(Err(self.not_leader()));
                    return;
                }
                self.last_read += 1;
                self.replica.read_index(self.last_read.to_le_bytes().to_vec());
                self.pending_reads.insert(self.last_read, query);
            }
            Request::LocalRead(query) => query(Ok(self.replica.state())),
            Request::Step(messages, sender) => {
                if let Some((id, addr)) = sender {
                    self.learned_peers.insert(id, addr);
                }
                for message in messages {
                    if let Err(err) = self.replica.step(message) {
                        tracing::debug!(%err, "raft message refused");
                    }
                }
            }
            Request::Membership { change, reply } => self.on_membership(change, reply),
        }
    }

    fn on_membership(&mut self, change: MembershipChange, reply: MembershipReply) {
        if !self.replica.is_leader() {
            let _ = reply.send(Err(self.not_leader()));
            return;
        }
        if let Err(refusal) = self.replica.check_membership_change(&change) {
            let _ = reply.send(Err(DriverError::Rejected(refusal.to_string())));
            return;
        }
        let id = change.id();
        if change == (MembershipChange::Remove { id }) && id == self.replica.id() {
            // A leader hands over before it removes itself.
            if let Some(other) = self.replica.voters().into_iter().find(|voter| *voter != id) {
                self.replica.transfer_leader(other);
            }
            let _ = reply.send(Err(DriverError::Rejected(
                "this replica is the leader: leadership is being handed over; retry the removal on the new leader".to_owned(),
            )));
            return;
        }
        match self.replica.propose_membership(&change) {
            Ok(()) => self.pending_membership.push((change, reply)),
            Err(refusal) => {
                let _ = reply.send(Err(DriverError::Rejected(refusal.to_string())));
            }
        }
    }

    fn on_delivery(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Unreachable(to) => self.replica.report_unreachable(to),
            Delivery::Snapshot { to, delivered } => self.replica.report_snapshot(to, delivered),
        }
    }

    fn not_leader(&self) -> DriverError {
        let leader = self.replica.leader_id();
        let addr = self.peer_addr(leader);
        DriverError::NotLeader { leader: addr.filter(|_| leader != 0).map(|addr| (leader, addr)) }
    }

    /// Where replica `id` listens: the replicated membership, else `--peers`, else what it
    /// announced.
    fn peer_addr(&self, id: u64) -> Option<String> {
        self.replica
            .member_addr(id)
            .map(str::to_owned)
            .or_else(|| self.bootstrap_peers.get(&id).cloned())
            .or_else(|| self.learned_peers.get(&id).cloned())
    }

    /// Proposes the gathered commands; placements whose Assign was dropped are forgotten.
    fn flush_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let dropped = if self.replica.is_leader() { self.outbox.propose_all(&mut self.replica) } else { self.outbox.refuse_all(&self.not_leader()) };
        self.placer.settled(dropped);
    }

    /// Runs the Ready loop until raft-rs has nothing left: each Ready's messages go out as
    /// soon as they may (a leader's before it persists, a follower's acks before it applies),
    /// and what applied is carried out before the next Ready is taken.
    fn process_ready(&mut self) -> Result<(), DriverError> {
        while let Some((taken, messages)) = self.replica.take_ready() {
            self.send(messages);
            let (persisted, messages) = self.replica.persist_ready(taken).map_err(storage_failed)?;
            self.send(messages);
            let output = self.replica.apply_ready(persisted).map_err(storage_failed)?;
            self.on_ready(output);
            self.check_role();
        }
        let applied = self.replica.applied();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_reads).into_iter().partition(|(index, _)| *index <= applied);
        self.ready_reads = waiting;
        for (_, query) in due {
            query(Ok(self.replica.state()));
        }
        Ok(())
    }

    fn send(&mut self, messages: Vec<Message>) {
        for message in messages {
            let to = message.to;
            match self.peer_addr(to) {
                Some(addr) => self.transport.send(message, &addr),
                None => tracing::warn!(to, "no address known for replica; message dropped"),
            }
        }
    }

    fn on_ready(&mut self, output: AppliedReady) {
        if !output.proposals.is_empty() {
            self.placer.mark_due();
        }
        for applied in output.proposals {
            if applied.proposer == self.replica.id() {
                let assigned = self.outbox.applied(applied);
                self.placer.settled(assigned);
            }
        }
        if self.replica.is_leader() {
            for effect in output.effects {
                carry_out(&self.agents, self.replica.state(), effect);
            }
        }
        for read in output.read_states {
            let Ok(ctx) = <[u8; 8]>::try_from(read.request_ctx.as_slice()) else { continue };
            if let Some(query) = self.pending_reads.remove(&u64::from_le_bytes(ctx)) {
                self.ready_reads.push((read.index, query));
            }
        }
        if output.membership_changed {
            self.on_membership_changed();
        }
    }

    /// Answers the membership changes now done and stops sending to removed peers.
    fn on_membership_changed(&mut self) {
        let replica = &self.replica;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_membership).into_iter().partition(|(change, _)| match change {
            MembershipChange::AddLearner { id, .. } | MembershipChange::Promote { id } => replica.is_member(*id),
            MembershipChange::Remove { id } => !replica.is_member(*id),
        });
        self.pending_membership = waiting;
        if !done.is_empty() {
            // Callers answer with the membership they read from the published info.
            self.publish_info();
        }
        for (_, reply) in done {
            let _ = reply.send(Ok(()));
        }
        for id in self.bootstrap_peers.keys().copied().collect::<Vec<_>>() {
            if !self.replica.is_member(id) && self.replica.member_addr(id).is_none() {
                self.transport.remove(id);
            }
        }
    }

    fn check_role(&mut self) {
        let is_leader = self.replica.is_leader();
        if is_leader == self.was_leader {
            return;
        }
        self.was_leader = is_leader;
        if is_leader {
            tracing::info!(term = self.replica.term(), "became leader");
            self.agents.leadership_gained(self.config.leader_grace);
            self.judge.clear();
            self.placer.mark_due();
        } else {
            tracing::info!(term = self.replica.term(), leader = self.replica.leader_id(), "stopped leading");
            self.fail_all_waiting(DriverError::Unknown("leadership changed before the command committed".to_owned()));
            self.placer.forget_all();
            self.agents.leadership_lost();
        }
    }

    fn fail_all_waiting(&mut self, error: DriverError) {
        self.outbox.fail_pending(&error);
        for (_, query) in self.pending_reads.drain() {
            query(Err(error.clone()));
        }
        for (_, query) in self.ready_reads.drain(..) {
            query(Err(error.clone()));
        }
        for (_, reply) in self.pending_membership.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// Leader only: gathers a placement round's assignments after the commands gathered so
    /// far, which the round looks ahead at.
    fn place(&mut self) {
        if !self.replica.is_leader() {
            return;
        }
        for (node, connected) in self.agents.take_connection_changes() {
            self.placer.connection_changed(node, connected);
        }
        let started = Instant::now();
        let round = self.placer.round(self.replica.state(), self.outbox.gathered());
        self.metrics.scheduling.placement_round(started.elapsed());
        if let Some((commands, placed)) = round {
            self.outbox.gather_own(commands, placed);
        }
    }

    /// Leader only: gathers proposals for missed heartbeats.
    fn judge_liveness(&mut self) {
        if !self.replica.is_leader() {
            return;
        }
        let commands = self.judge.judge(&self.agents, self.replica.state(), &self.config.liveness);
        if !commands.is_empty() {
            self.outbox.gather_own(commands, Vec::new());
        }
    }

    /// Counts the state's tasks, jobs and nodes for the metrics, at most every
    /// [`COUNT_STATE_EVERY`] (a scrape reads the last count).
    fn count_state(&mut self) {
        if self.counted_at.is_some_and(|at| at.elapsed() < COUNT_STATE_EVERY) {
            return;
        }
        self.counted_at = Some(Instant::now());
        self.metrics.scheduling.count(self.replica.state());
    }

    fn publish_info(&mut self) {
        let replica = &self.replica;
        let leader_id = replica.leader_id();
        self.metrics.raft.publish(RaftPosition {
            term: replica.term(),
            is_leader: replica.is_leader(),
            leader_id,
            commit_index: replica.commit_index(),
            applied_index: replica.applied(),
        });
        let members: Vec<MemberInfo> = replica
            .members()
            .into_iter()
            .map(|member| MemberInfo { id: member.id, addr: self.peer_addr(member.id).unwrap_or_default(), learner: member.learner, matched: member.matched })
            .collect();
        self.transport.set_cluster_id(replica.cluster_id());
        let revoked = &replica.state().meta.revoked_certificates;
        let published = self.info.borrow().revoked_certificates.clone();
        let revoked_certificates = if published.iter().eq(revoked.keys()) { published } else { Arc::new(revoked.keys().cloned().collect()) };
        let info = ReplicaInfo {
            id: replica.id(),
            role: replica.role().into(),
            leader_id,
            leader_addr: members.iter().find(|member| member.id == leader_id).map(|member| member.addr.clone()),
            term: replica.term(),
            commit_index: replica.commit_index(),
            applied_index: replica.applied(),
            snapshot_index: replica.snapshot_index(),
            first_log_index: replica.first_log_index(),
            members,
            cluster_id: replica.cluster_id(),
            last_index: replica.last_index(),
            revoked_certificates,
        };
        self.info.send_if_modified(|current| {
            if *current == info {
                false
            } else {
                *current = info;
                true
            }
        });
    }
}
