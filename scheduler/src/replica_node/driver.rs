//! The one task that owns the replica: it ticks raft-rs, steps messages in, batches client
//! commands into log entries, runs the Ready loop (persist, send, apply), answers proposers
//! and linearizable readers, and — while leader — places ready tasks, dispatches them, and
//! turns missed heartbeats into `MarkNodeDown` / `ExpireLease` proposals.
//!
//! It runs on its own thread with a single-threaded runtime, because every Ready ends in an
//! fsync: blocking there must not stall the gRPC runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use raft::prelude::Message;
use shotfarm_proto::v1::{self, SchedulerMessage, scheduler_message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::liveness::{Liveness, LivenessConfig};
use super::sessions::Sessions;
use super::transport::{Delivery, Transport};
use crate::consensus::{ReadyOutput, Replica};
use crate::placement::{ClusterView, Decision, place};
use crate::state::model::{Millis, TaskId, format_job_id};
use crate::machine::{Command, Effect, Outcome, Proposal};
use crate::state::State;
use crate::storage::DurableStore;

/// Where the outcomes of one caller's commands go.
type OutcomeReply = oneshot::Sender<Result<Vec<Outcome>, DriverError>>;

/// Commands in one log entry at most; more are split over several entries.
const MAX_COMMANDS_PER_ENTRY: usize = 4096;
/// Requests queued for the driver at most; callers wait beyond that (back-pressure).
const REQUEST_QUEUE: usize = 8192;
/// Ready tasks considered by one placement round at most.
const PLACEMENT_WINDOW: usize = 2048;

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub tick: Duration,
    pub liveness: LivenessConfig,
    /// After becoming leader, nothing is declared dead for this long.
    pub leader_grace: Duration,
    /// Peers dialled at another address than their member address (`--route`).
    pub routes: HashMap<u64, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("not the leader")]
    NotLeader { leader: Option<(u64, String)> },
    #[error("the outcome is unknown: {0}; retry (submissions are idempotent by request id)")]
    Unknown(String),
    #[error("the replica is shutting down")]
    Stopped,
    #[error("the replica stopped on a storage failure: {0}")]
    Fatal(String),
    #[error("{0}")]
    Rejected(String),
}

/// What any caller can know about this replica without asking the driver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaInfo {
    pub id: u64,
    pub role: String,
    pub leader_id: u64,
    pub leader_addr: Option<String>,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    pub first_log_index: u64,
    /// (id, address) of every voter.
    pub members: Vec<(u64, String)>,
    /// The leader's view of each member's matched index.
    pub progress: Vec<(u64, u64)>,
}

impl ReplicaInfo {
    pub fn is_leader(&self) -> bool {
        self.role == "leader"
    }

    pub fn leader_hint(&self) -> Option<(u64, String)> {
        self.leader_addr.clone().filter(|_| self.leader_id != 0).map(|addr| (self.leader_id, addr))
    }
}

type Query = Box<dyn FnOnce(Result<&State, DriverError>) + Send>;

enum Request {
    Propose { commands: Vec<Command>, reply: OutcomeReply },
    /// Linearizable: runs once the applied index reaches the leader's commit index as of now.
    Read(Query),
    /// Runs on the local state as it is (watch streams, status).
    LocalRead(Query),
    /// Messages from a peer, with the address it listens on.
    Step(Vec<Message>, Option<(u64, String)>),
    Membership { id: u64, addr: Option<String>, reply: oneshot::Sender<Result<(), DriverError>> },
}

/// Live progress of running attempts, reported by agents to the leader (not replicated).
#[derive(Debug, Default)]
pub struct ProgressBoard {
    pub by_task: HashMap<TaskId, v1::TaskProgress>,
}

/// The handle every service uses to reach the driver.
#[derive(Clone)]
pub struct DriverHandle {
    requests: mpsc::Sender<Request>,
    info: watch::Receiver<ReplicaInfo>,
    pub liveness: Arc<Mutex<Liveness>>,
    pub sessions: Arc<Sessions>,
    pub progress: Arc<Mutex<ProgressBoard>>,
    pub config: DriverConfig,
}

/// Milliseconds since the epoch: the leader's clock, proposed as data.
pub fn now_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as Millis)
}

impl DriverHandle {
    pub fn info(&self) -> ReplicaInfo {
        self.info.borrow().clone()
    }

    /// A receiver that changes whenever the replica's applied index, role or leader does.
    pub fn watch_info(&self) -> watch::Receiver<ReplicaInfo> {
        self.info.clone()
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

    /// Adds (`addr` = Some) or removes a voter; returns once the change is committed.
    pub async fn change_membership(&self, id: u64, addr: Option<String>) -> Result<(), DriverError> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(Request::Membership { id, addr, reply }).await.map_err(|_| DriverError::Stopped)?;
        answer.await.map_err(|_| DriverError::Stopped)?
    }
}

/// A proposer waiting for the outcomes of its commands: `count` of them from `offset` on.
struct Caller {
    offset: usize,
    count: usize,
    reply: OutcomeReply,
}

struct PendingBatch {
    callers: Vec<Caller>,
    /// Tasks whose Assign is in this batch (placement's own proposals).
    assigns: Vec<TaskId>,
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
    outbox: Vec<(Vec<Command>, Option<OutcomeReply>)>,
    outbox_assigns: Vec<TaskId>,
    next_batch: u64,
    pending: HashMap<u64, PendingBatch>,
    next_read: u64,
    pending_reads: HashMap<u64, Query>,
    ready_reads: Vec<(u64, Query)>,
    pending_membership: Vec<(u64, oneshot::Sender<Result<(), DriverError>>)>,
    /// Placement decisions proposed but not applied yet.
    inflight: HashMap<TaskId, Decision>,
    /// Liveness verdicts proposed recently, so each is proposed once per second at most.
    verdicts_proposed: HashMap<(u8, u64, u32), Instant>,
    was_leader: bool,
    needs_placement: bool,
    liveness: Arc<Mutex<Liveness>>,
    sessions: Arc<Sessions>,
    progress: Arc<Mutex<ProgressBoard>>,
    info: watch::Sender<ReplicaInfo>,
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
    let liveness = Arc::new(Mutex::new(Liveness::default()));
    let sessions = Arc::new(Sessions::default());
    let progress = Arc::new(Mutex::new(ProgressBoard::default()));
    let handle = DriverHandle {
        requests,
        info: info_receiver,
        liveness: liveness.clone(),
        sessions: sessions.clone(),
        progress: progress.clone(),
        config: config.clone(),
    };
    let main_runtime = tokio::runtime::Handle::current();
    let id = replica.id();
    let thread = std::thread::Builder::new().name(format!("raft-{id}")).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|err| DriverError::Fatal(err.to_string()))?;
        let transport = Transport::new(id, advertise, config.routes.clone(), deliveries, shutdown.clone(), main_runtime);
        let driver = Driver {
            replica,
            config,
            transport,
            bootstrap_peers,
            learned_peers: HashMap::new(),
            outbox: Vec::new(),
            outbox_assigns: Vec::new(),
            next_batch: 0,
            pending: HashMap::new(),
            next_read: 0,
            pending_reads: HashMap::new(),
            ready_reads: Vec::new(),
            pending_membership: Vec::new(),
            inflight: HashMap::new(),
            verdicts_proposed: HashMap::new(),
            was_leader: false,
            needs_placement: true,
            liveness,
            sessions,
            progress,
            info,
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
                    self.replica.tick();
                    self.judge_liveness();
                }
                Some(delivery) = deliveries.recv() => self.on_delivery(delivery),
                Some(request) = requests.recv() => {
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
            if let Err(err) = self.turn() {
                break Err(err);
            }
        };
        self.fail_all_waiting(if result.is_ok() { DriverError::Stopped } else { DriverError::Fatal("storage failure".to_owned()) });
        self.sessions.close_all("the scheduler replica is shutting down");
        result
    }

    /// One turn: propose what was gathered, run the Ready loop, place, and publish status.
    fn turn(&mut self) -> Result<(), DriverError> {
        self.flush_outbox();
        self.process_ready()?;
        if self.place() {
            self.flush_outbox();
            self.process_ready()?;
        }
        self.publish_info();
        Ok(())
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Propose { commands, reply } => self.outbox.push((commands, Some(reply))),
            Request::Read(query) => {
                if !self.replica.is_leader() {
                    query(Err(self.not_leader()));
                    return;
                }
                self.next_read += 1;
                self.replica.read_index(self.next_read.to_le_bytes().to_vec());
                self.pending_reads.insert(self.next_read, query);
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
            Request::Membership { id, addr, reply } => {
                if !self.replica.is_leader() {
                    let _ = reply.send(Err(self.not_leader()));
                    return;
                }
                let removing_self = addr.is_none() && id == self.replica.id();
                if removing_self {
                    // A leader hands over before it removes itself.
                    if let Some(other) = self.replica.voters().into_iter().find(|voter| *voter != id) {
                        self.replica.transfer_leader(other);
                    }
                    let _ = reply.send(Err(DriverError::Rejected(
                        "this replica is the leader: leadership is being handed over; retry the removal on the new leader".to_owned(),
                    )));
                    return;
                }
                match self.replica.propose_membership(id, addr.as_deref()) {
                    Ok(()) => self.pending_membership.push((id, reply)),
                    Err(err) => {
                        let _ = reply.send(Err(DriverError::Rejected(format!(
                            "membership change refused: {err} (one change at a time; retry when the previous one is committed)"
                        ))));
                    }
                }
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

    /// Proposes the gathered commands, as few log entries as the size cap allows.
    fn flush_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let outbox = std::mem::take(&mut self.outbox);
        let assigns = std::mem::take(&mut self.outbox_assigns);
        if !self.replica.is_leader() {
            let error = self.not_leader();
            for (_, reply) in outbox {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error.clone()));
                }
            }
            for task in assigns {
                self.inflight.remove(&task);
            }
            return;
        }
        let mut commands = Vec::new();
        let mut callers = Vec::new();
        for (batch, reply) in outbox {
            if !commands.is_empty() && commands.len() + batch.len() > MAX_COMMANDS_PER_ENTRY {
                self.propose_entry(std::mem::take(&mut commands), std::mem::take(&mut callers), Vec::new());
            }
            if let Some(reply) = reply {
                callers.push(Caller { offset: commands.len(), count: batch.len(), reply });
            }
            commands.extend(batch);
        }
        // Entries apply in order: when the last one applies, every Assign gathered here has.
        self.propose_entry(commands, callers, assigns);
    }

    fn propose_entry(&mut self, commands: Vec<Command>, callers: Vec<Caller>, assigns: Vec<TaskId>) {
        self.next_batch += 1;
        let proposal = Proposal { proposer: self.replica.id(), batch_id: self.next_batch, commands };
        match self.replica.propose(&proposal) {
            Ok(()) => {
                self.pending.insert(self.next_batch, PendingBatch { callers, assigns });
            }
            Err(err) => {
                let error = DriverError::Unknown(format!("the proposal was dropped: {err}"));
                for caller in callers {
                    let _ = caller.reply.send(Err(error.clone()));
                }
                for task in assigns {
                    self.inflight.remove(&task);
                }
            }
        }
    }

    fn process_ready(&mut self) -> Result<(), DriverError> {
        loop {
            let output = self.replica.handle_ready().map_err(|err| {
                tracing::error!(%err, "the replica cannot persist its log; stopping");
                DriverError::Fatal(err.to_string())
            })?;
            let idle = output.messages.is_empty() && output.proposals.is_empty() && output.read_states.is_empty() && !output.membership_changed;
            self.on_ready(output);
            self.check_role();
            if idle {
                break;
            }
        }
        let applied = self.replica.applied();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_reads).into_iter().partition(|(index, _)| *index <= applied);
        self.ready_reads = waiting;
        for (_, query) in due {
            query(Ok(self.replica.state()));
        }
        Ok(())
    }

    fn on_ready(&mut self, output: ReadyOutput) {
        for message in output.messages {
            let to = message.to;
            match self.peer_addr(to) {
                Some(addr) => self.transport.send(message, &addr),
                None => tracing::warn!(to, "no address known for replica; message dropped"),
            }
        }
        if !output.proposals.is_empty() {
            self.needs_placement = true;
        }
        for applied in output.proposals {
            if applied.proposer != self.replica.id() {
                continue;
            }
            let Some(batch) = self.pending.remove(&applied.batch_id) else { continue };
            for caller in batch.callers {
                let mine = applied.outcomes.get(caller.offset..caller.offset + caller.count).map(<[Outcome]>::to_vec);
                let _ = caller.reply.send(mine.ok_or_else(|| DriverError::Unknown("the entry applied without outcomes".to_owned())));
            }
            for task in batch.assigns {
                self.inflight.remove(&task);
            }
        }
        let is_leader = self.replica.is_leader();
        for effect in output.effects {
            if is_leader {
                self.carry_out(effect);
            }
        }
        for read in output.read_states {
            let Ok(ctx) = <[u8; 8]>::try_from(read.request_ctx.as_slice()) else { continue };
            if let Some(query) = self.pending_reads.remove(&u64::from_le_bytes(ctx)) {
                self.ready_reads.push((read.index, query));
            }
        }
        if output.membership_changed {
            let voters = self.replica.voters();
            let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_membership).into_iter().partition(|(id, _)| {
                // An add is done when the id is a voter, a removal when it is not.
                voters.contains(id) == self.replica.member_addr(*id).is_some()
            });
            self.pending_membership = waiting;
            for (_, reply) in done {
                let _ = reply.send(Ok(()));
            }
            for id in self.bootstrap_peers.keys().copied().collect::<Vec<_>>() {
                if !voters.contains(&id) && self.replica.member_addr(id).is_none() {
                    self.transport.remove(id);
                }
            }
        }
    }

    /// Sends an assignment or a cancellation to the agent's session.
    fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::Dispatch { node, task, attempt } => {
                let state = self.replica.state();
                let Some(found) = state.tasks.get(&task) else { return };
                let lease = found.lease.as_ref();
                let message = SchedulerMessage {
                    body: Some(scheduler_message::Body::Assignment(v1::Assignment {
                        task: Some(v1::TaskRef { task_id: task, attempt }),
                        job_id: format_job_id(found.job),
                        kind: found.kind.as_str().to_owned(),
                        spec_json: found.spec_json.clone().unwrap_or_default().into_bytes(),
                        backend: lease.map(|lease| lease.backend.clone()).unwrap_or_default(),
                        gpu_index: lease.and_then(|lease| lease.gpu).unwrap_or(0),
                    })),
                };
                self.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).dispatched(task, attempt, Instant::now());
                if !self.sessions.send(node, message) {
                    tracing::debug!(node, task, attempt, "assignment not delivered now; the lease expires unless the agent reports it");
                }
            }
            Effect::CancelAttempt { node, task, attempt, reason } => {
                self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_task.remove(&task);
                let message = SchedulerMessage {
                    body: Some(scheduler_message::Body::Cancel(v1::CancelTask { task: Some(v1::TaskRef { task_id: task, attempt }), reason })),
                };
                self.sessions.send(node, message);
            }
            Effect::NodeDown { node } => self.sessions.close(node, "this node was declared down (no heartbeat in time); register again"),
        }
    }

    fn check_role(&mut self) {
        let is_leader = self.replica.is_leader();
        if is_leader == self.was_leader {
            return;
        }
        self.was_leader = is_leader;
        if is_leader {
            tracing::info!(replica = self.replica.id(), term = self.replica.term(), "became leader");
            self.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).reset(Instant::now(), self.config.leader_grace);
            self.verdicts_proposed.clear();
            self.needs_placement = true;
        } else {
            tracing::info!(replica = self.replica.id(), term = self.replica.term(), leader = self.replica.leader_id(), "stopped leading");
            let error = DriverError::Unknown("leadership changed before the command committed".to_owned());
            self.fail_all_waiting(error);
            self.inflight.clear();
            self.sessions.close_all("this scheduler replica is no longer the leader; reconnect to the new one");
            self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_task.clear();
        }
    }

    fn fail_all_waiting(&mut self, error: DriverError) {
        for (_, batch) in self.pending.drain() {
            for caller in batch.callers {
                let _ = caller.reply.send(Err(error.clone()));
            }
        }
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

    /// Leader only: proposes placements for ready tasks. Returns whether it proposed any.
    fn place(&mut self) -> bool {
        if !self.replica.is_leader() || !self.needs_placement {
            return false;
        }
        self.needs_placement = false;
        let state = self.replica.state();
        if state.queued_len() == 0 || state.nodes.is_empty() {
            return false;
        }
        let mut cluster = ClusterView::from_state(state);
        // Placements already proposed hold their resources until they apply.
        for decision in self.inflight.values() {
            let Some(task) = state.tasks.get(&decision.task) else { continue };
            let Some(option) = task.options.iter().find(|option| option.backend == decision.backend) else { continue };
            if let Some(position) = cluster.nodes.iter().position(|node| node.id == decision.node) {
                cluster.commit(position, task.job, option, decision.gpu);
            }
        }
        let free_slots: usize = cluster.nodes.iter().filter(|node| node.schedulable && node.cpu_free > 0).map(|node| node.slots_free as usize).sum();
        if free_slots == 0 {
            return false;
        }
        // Looking further down the queue than a few times the free slots only costs time:
        // capacity runs out first.
        let window = PLACEMENT_WINDOW.min(free_slots.saturating_mul(4).max(64));
        let tasks: Vec<_> = ClusterView::queued_tasks(state, window + self.inflight.len())
            .into_iter()
            .filter(|task| !self.inflight.contains_key(&task.id))
            .take(window)
            .collect();
        let decisions = place(&mut cluster, &tasks);
        if decisions.is_empty() {
            return false;
        }
        let now = now_ms();
        let mut commands = Vec::with_capacity(decisions.len());
        for decision in decisions {
            commands.push(Command::Assign {
                task: decision.task,
                attempt: decision.attempt,
                node: decision.node,
                backend: decision.backend.clone(),
                gpu: decision.gpu,
                now_ms: now,
            });
            self.outbox_assigns.push(decision.task);
            self.inflight.insert(decision.task, decision);
        }
        self.outbox.push((commands, None));
        true
    }

    /// Leader only: turns missed heartbeats into proposals.
    fn judge_liveness(&mut self) {
        if !self.replica.is_leader() {
            return;
        }
        let now = Instant::now();
        let verdicts = self.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).verdicts(
            self.replica.state(),
            &self.config.liveness,
            now,
        );
        self.verdicts_proposed.retain(|_, at| now.duration_since(*at) < Duration::from_secs(1));
        let now_ms = now_ms();
        let mut commands = Vec::new();
        for node in verdicts.nodes_down {
            if self.verdicts_proposed.insert((0, node, 0), now).is_none() {
                tracing::warn!(node, "no heartbeat within the node timeout; declaring the node down");
                commands.push(Command::MarkNodeDown { node, now_ms });
            }
        }
        for (task, attempt) in verdicts.leases_expired {
            if self.verdicts_proposed.insert((1, task, attempt), now).is_none() {
                tracing::warn!(task, attempt, "lease not renewed in time; returning the task to the queue");
                commands.push(Command::ExpireLease { task, attempt, now_ms });
            }
        }
        if !commands.is_empty() {
            self.outbox.push((commands, None));
        }
    }

    fn publish_info(&mut self) {
        let replica = &self.replica;
        let leader_id = replica.leader_id();
        let members = replica
            .voters()
            .into_iter()
            .map(|id| {
                (id, self.peer_addr(id).unwrap_or_default())
            })
            .collect::<Vec<_>>();
        let info = ReplicaInfo {
            id: replica.id(),
            role: role_name(replica.role()).to_owned(),
            leader_id,
            leader_addr: members.iter().find(|(id, _)| *id == leader_id).map(|(_, addr)| addr.clone()),
            term: replica.term(),
            commit_index: replica.commit_index(),
            applied_index: replica.applied(),
            snapshot_index: replica.snapshot_index(),
            first_log_index: replica.first_log_index(),
            members,
            progress: replica.progress().into_iter().collect(),
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

pub fn role_name(role: raft::StateRole) -> &'static str {
    match role {
        raft::StateRole::Leader => "leader",
        raft::StateRole::Follower => "follower",
        raft::StateRole::Candidate => "candidate",
        raft::StateRole::PreCandidate => "pre-candidate",
    }
}
