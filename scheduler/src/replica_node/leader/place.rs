//! Placement rounds: the ready tasks at the head of the queue, and those the commands about
//! to be proposed will make ready, placed on the cluster as it will be once the placements
//! already proposed apply.
//!
//! A round runs just before the driver proposes what it gathered, and looks ahead at those
//! commands (`LookAhead`): the leases their results end free capacity for this round, and
//! the blocked tasks their successes release (`planner::released_by`) are placed with the
//! queue. The `Assign`s go last into the entry that carries the results, so a task released
//! by a result is assigned in the entry that makes it ready, and a freed slot is taken again
//! in the entry that frees it: one commit per hop where there were two. `apply` checks each
//! `Assign` as it checks any, after the commands before it in the entry: a look-ahead that
//! does not come true (a result refused, a job failed meanwhile) is refused alike on every
//! replica, and the task is placed by a later round. Tasks a result creates (the plan's next
//! stages) are not known before it applies; the round after it places them, in the next entry.
//!
//! The leader keeps its indexed model of the cluster from round to round and refreshes only
//! the nodes the state changed since (`State::node_changes`), those whose proposed
//! placements settled and those whose agent connected or left, each with the placements still
//! in flight on it: a round costs the nodes that changed and the decisions it makes, not the
//! size of the farm.
//!
//! The leader's placer ([`Placer::for_sessions`]) places only on nodes whose agent holds a
//! session with it: an agent that left (its stream closed) gets nothing more while it waits
//! to be declared down, where an assignment would wait out a lease timeout before moving on.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::machine::Command;
use crate::placement::{Decision, IndexedCluster, TaskView, place_indexed};
use crate::planner;
use crate::replica_node::clock::now_ms;
use crate::state::State;
use crate::state::model::{Demand, JobId, NodeId, TaskId, TaskState};

/// Ready tasks considered by one placement round at most.
const PLACEMENT_WINDOW: usize = 2048;

/// The placements proposed and not applied yet, the model of the cluster with them, and
/// whether a new round is due.
pub struct Placer {
    inflight: HashMap<TaskId, Decision>,
    /// The tasks in flight on each node, to commit again when the node is refreshed.
    inflight_on: HashMap<NodeId, BTreeSet<TaskId>>,
    due: bool,
    /// The model, once built; dropped with leadership.
    cluster: Option<IndexedCluster>,
    /// The state's node-change cursor the model has caught up with.
    seen_changes: u64,
    /// Nodes whose placements in flight settled, or whose agent connected or left, since the
    /// last round: read afresh by the next.
    settled_on: BTreeSet<NodeId>,
    reach: Reach,
}

/// Which nodes the state lets take work that a round may place on.
enum Reach {
    /// All of them: the caller delivers assignments itself (simulations, benchmarks).
    Every,
    /// Those whose agent holds a session with this leader.
    Connected(HashSet<NodeId>),
}

impl Reach {
    /// Takes `node` out of the model's choices when its agent is not connected (the model
    /// reads only what the state says of it).
    fn hold_back_if_away(&self, cluster: &mut IndexedCluster, node: NodeId) {
        let away = match self {
            Reach::Every => false,
            Reach::Connected(nodes) => !nodes.contains(&node),
        };
        if let Some(position) = cluster.position_of(node).filter(|_| away) {
            cluster.hold_back(position);
        }
    }
}

impl Default for Placer {
    /// A placer that takes every node the state lets take work as reachable.
    fn default() -> Placer {
        Placer {
            inflight: HashMap::new(),
            inflight_on: HashMap::new(),
            due: true,
            cluster: None,
            seen_changes: 0,
            settled_on: BTreeSet::new(),
            reach: Reach::Every,
        }
    }
}

/// A live lease that a command about to be proposed ends.
struct EndingLease {
    node: NodeId,
    job: JobId,
    demand: Demand,
    gpu: Option<u32>,
}

/// What the commands about to be proposed will do for placement once they apply, as far as
/// the applied state tells: the live leases they end, and the blocked tasks their successes
/// release.
struct LookAhead {
    ending: Vec<EndingLease>,
    released: Vec<TaskView>,
}

impl LookAhead {
    fn of<'a>(state: &State, upcoming: impl IntoIterator<Item = &'a Command>) -> LookAhead {
        let mut ended = BTreeSet::new();
        let mut succeeding = BTreeSet::new();
        let mut ending = Vec::new();
        for command in upcoming {
            let Some((task_id, attempt)) = command.ended_attempt() else { continue };
            let Some(task) = state.tasks.get(&task_id).filter(|task| task.state == TaskState::Running) else { continue };
            let Some(lease) = task.lease.as_ref().filter(|lease| lease.attempt == attempt) else { continue };
            // The first command for an attempt is the one that ends it.
            if !ended.insert(task_id) {
                continue;
            }
            ending.push(EndingLease { node: lease.node, job: task.job, demand: lease.demand, gpu: lease.gpu });
            if matches!(command, Command::CompleteTask { .. }) {
                succeeding.insert(task_id);
            }
        }
        let released = planner::released_by(state, &succeeding).iter().filter_map(|id| state.tasks.get(id)).map(|task| TaskView::of(state, task)).collect();
        LookAhead { ending, released }
    }

    fn is_empty(&self) -> bool {
        self.ending.is_empty() && self.released.is_empty()
    }

    /// Gives the ending leases' capacity back in the model (nodes it does not know are skipped).
    fn refund_ending(&self, cluster: &mut IndexedCluster) {
        for lease in &self.ending {
            if let Some(position) = cluster.position_of(lease.node) {
                cluster.refund(position, lease.job, lease.demand, lease.gpu);
            }
        }
    }

    /// Takes the ending leases' capacity again: undoes [`LookAhead::refund_ending`].
    fn charge_ending(&self, cluster: &mut IndexedCluster) {
        for lease in &self.ending {
            if let Some(position) = cluster.position_of(lease.node) {
                cluster.charge(position, lease.job, lease.demand, lease.gpu);
            }
        }
    }
}

impl Placer {
    /// The leader's placer: it places on a node only once told its agent connected
    /// ([`Placer::connection_changed`]).
    pub fn for_sessions() -> Placer {
        Placer { reach: Reach::Connected(HashSet::new()), ..Placer::default() }
    }

    /// `node`'s agent opened (`true`) or lost (`false`) its session with this leader.
    pub fn connection_changed(&mut self, node: NodeId, connected: bool) {
        let Reach::Connected(nodes) = &mut self.reach else { return };
        let changed = if connected { nodes.insert(node) } else { nodes.remove(&node) };
        if changed {
            self.settled_on.insert(node);
            self.due |= connected;
        }
    }

    /// Something changed that may let more tasks run: place again on the next turn.
    pub fn mark_due(&mut self) {
        self.due = true;
    }

    /// Whether a round is due (something applied since the last one).
    pub fn is_due(&self) -> bool {
        self.due
    }

    /// These placements applied or were dropped: they no longer hold resources here.
    pub fn settled(&mut self, tasks: impl IntoIterator<Item = TaskId>) {
        for task in tasks {
            let Some(decision) = self.inflight.remove(&task) else { continue };
            if let Some(on_node) = self.inflight_on.get_mut(&decision.node) {
                on_node.remove(&task);
                if on_node.is_empty() {
                    self.inflight_on.remove(&decision.node);
                }
            }
            self.settled_on.insert(decision.node);
        }
    }

    /// Leadership lost: nothing proposed here will be answered, and the model is rebuilt
    /// when this replica leads again (agents connect to a new leader afresh).
    pub fn forget_all(&mut self) {
        self.inflight.clear();
        self.inflight_on.clear();
        self.settled_on.clear();
        self.cluster = None;
        if let Reach::Connected(nodes) = &mut self.reach {
            nodes.clear();
        }
    }

    /// A round, when one is due or `upcoming` (the commands about to be proposed, in order)
    /// ends a lease: `Assign` commands for the tasks placed, to be proposed after `upcoming`,
    /// and those tasks.
    pub fn round<'a>(&mut self, state: &State, upcoming: impl IntoIterator<Item = &'a Command>) -> Option<(Vec<Command>, Vec<TaskId>)> {
        let mut ahead = LookAhead::of(state, upcoming);
        if !self.due && ahead.is_empty() {
            return None;
        }
        self.due = false;
        if state.nodes.is_empty() || (state.queued_len() == 0 && ahead.released.is_empty()) {
            return None;
        }
        self.catch_up(state);
        let cluster = self.cluster.as_mut()?;
        // The capacity the upcoming commands free is this round's to spend. What it leaves is
        // taken again: until they apply (and their nodes are read afresh), the model counts
        // those leases as the applied state does.
        ahead.refund_ending(cluster);
        let decisions = Self::decide(cluster, state, &self.inflight, std::mem::take(&mut ahead.released));
        ahead.charge_ending(cluster);
        if decisions.is_empty() {
            return None;
        }
        let now = now_ms();
        let mut commands = Vec::with_capacity(decisions.len());
        let mut placed = Vec::with_capacity(decisions.len());
        for decision in decisions {
            commands.push(Command::Assign {
                task: decision.task,
                attempt: decision.attempt,
                node: decision.node,
                backend: decision.backend.clone(),
                gpu: decision.gpu,
                now_ms: now,
            });
            placed.push(decision.task);
            self.inflight_on.entry(decision.node).or_default().insert(decision.task);
            self.inflight.insert(decision.task, decision);
        }
        Some((commands, placed))
    }

    /// Places the queue's head and the `released` tasks, none of them in flight already, in
    /// queue order (priority, then age).
    fn decide(cluster: &mut IndexedCluster, state: &State, inflight: &HashMap<TaskId, Decision>, released: Vec<TaskView>) -> Vec<Decision> {
        let free_slots = cluster.free_slots();
        if free_slots == 0 {
            return Vec::new();
        }
        // Looking further down the queue than a few times the free slots only costs time:
        // capacity runs out first.
        let window = PLACEMENT_WINDOW.min(free_slots.saturating_mul(4).max(64));
        let mut tasks: Vec<TaskView> =
            state.queued().filter(|task| !inflight.contains_key(&task.id)).take(window).map(|task| TaskView::of(state, task)).collect();
        tasks.extend(released.into_iter().filter(|task| !inflight.contains_key(&task.id)));
        tasks.sort_by_key(|task| (-i64::from(task.priority), task.id));
        place_indexed(cluster, &tasks)
    }

    /// Brings the model up to the state plus the placements in flight: built whole the
    /// first time (or when the state was replaced), else node by node.
    fn catch_up(&mut self, state: &State) {
        let changes = state.node_changes();
        let rebuild = match &self.cluster {
            None => true,
            // A state loaded anew numbers its changes from zero again.
            Some(cluster) => changes.cursor() < self.seen_changes || cluster.node_count() > state.nodes.len(),
        };
        let stale: BTreeSet<NodeId> = if rebuild {
            let mut cluster = IndexedCluster::from_state(state);
            for node in state.nodes.keys() {
                self.reach.hold_back_if_away(&mut cluster, *node);
            }
            self.cluster = Some(cluster);
            self.settled_on.clear();
            self.inflight_on.keys().copied().collect()
        } else {
            let mut stale = std::mem::take(&mut self.settled_on);
            stale.extend(changes.since(self.seen_changes));
            stale
        };
        self.seen_changes = changes.cursor();
        let Some(cluster) = self.cluster.as_mut() else { return };
        for node in stale {
            if !rebuild {
                cluster.refresh_node(state, node);
                self.reach.hold_back_if_away(cluster, node);
            }
            let (Some(position), Some(tasks)) = (cluster.position_of(node), self.inflight_on.get(&node)) else { continue };
            for task_id in tasks {
                let (Some(decision), Some(task)) = (self.inflight.get(task_id), state.tasks.get(task_id)) else { continue };
                let Some(option) = task.options.iter().find(|option| option.backend == decision.backend) else { continue };
                cluster.commit(position, task.job, option, decision.gpu);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shotfarm_proto::pipeline::{TaskKind, TaskSpec};

    use super::*;
    use crate::consensus::test_group::{Group, run};
    use crate::consensus::{Replica, ReplicaConfig};
    use crate::machine::{Outcome, Proposal, Refusal, apply};
    use crate::placement::ClusterView;
    use crate::state::model::{JobSpec, JobState, NodeCapabilities, NodeState};
    use crate::storage::memory_store::MemoryStore;
    use crate::synthetic;

    /// When the results below say they were reported.
    const RESULT_AT: u64 = 3;

    fn register(state: &mut State, name: &str, cores: u32) {
        apply(state, &register_node(name, cores));
    }

    fn register_node(name: &str, cores: u32) -> Command {
        let capabilities = NodeCapabilities {
            cpu_cores: cores,
            memory_mb: cores * 2048,
            gpus: Vec::new(),
            backends: ["cpu".to_owned()].into(),
            encoders: ["libx264".to_owned()].into(),
            ffmpeg_version: "test".to_owned(),
            agent_version: "test".to_owned(),
            max_tasks: cores,
        };
        Command::RegisterNode { name: name.to_owned(), capabilities, labels: BTreeMap::new(), held: Vec::new(), now_ms: 1 }
    }

    /// A job whose chunks are each encoded at every rung by one task, so that an encode's
    /// result alone releases its chunk's score.
    fn submit(request_id: &str) -> Command {
        let spec = JobSpec { rungs_per_encode: 8, ..JobSpec::for_tests() };
        Command::SubmitJob { request_id: request_id.to_owned(), owner: String::new(), spec, now_ms: 2, trace_parent: None }
    }

    /// The successful result of a running task's attempt, as its agent would report it.
    fn result_of(state: &State, task: TaskId) -> Command {
        let task = &state.tasks[&task];
        let spec: TaskSpec = serde_json::from_str(task.spec_json.as_deref().unwrap_or_default()).expect("a running task has a spec");
        let output = serde_json::to_string(&synthetic::output_for(&spec, 3, 2)).expect("outputs serialise");
        Command::CompleteTask { task: task.id, attempt: task.attempt, backend: "cpu".to_owned(), output_json: output, now_ms: RESULT_AT, cpu_micros: 1 }
    }

    fn complete(state: &mut State, task: TaskId) {
        let result = result_of(state, task);
        apply(state, &result);
    }

    /// Applies `commands` in order, as one log entry does; the outcomes.
    fn apply_entry(state: &mut State, commands: impl IntoIterator<Item = Command>) -> Vec<Outcome> {
        commands.into_iter().map(|command| apply(state, &command).0).collect()
    }

    fn running(state: &State, kind: TaskKind) -> Vec<TaskId> {
        state.tasks.values().filter(|task| task.kind == kind && task.state == TaskState::Running).map(|task| task.id).collect()
    }

    /// Nodes of `cores` each and one job, run (placing as the leader does, the results of
    /// its first stages applied) until its encodes are placed as far as the farm allows.
    fn encoding(nodes: &[u32]) -> (State, Placer) {
        let mut state = State::default();
        for (index, cores) in nodes.iter().enumerate() {
            register(&mut state, &format!("node-{index}"), *cores);
        }
        apply(&mut state, &submit("job"));
        let mut placer = Placer::default();
        while running(&state, TaskKind::Encode).is_empty() {
            placer.mark_due();
            let (assigns, placed) = placer.round(&state, std::iter::empty()).expect("the first stages are placed");
            apply_entry(&mut state, assigns);
            placer.settled(placed);
            for task in running(&state, TaskKind::Inspect).into_iter().chain(running(&state, TaskKind::Ladder)) {
                complete(&mut state, task);
            }
        }
        (state, placer)
    }

    #[test]
    fn a_task_a_result_releases_is_assigned_in_the_entry_that_makes_it_ready() {
        let (mut state, mut placer) = encoding(&[16, 16]);
        let encode = running(&state, TaskKind::Encode)[0];
        let score = *state.dependents_of(encode).iter().find(|id| state.tasks[id].kind == TaskKind::Score).expect("a score waits on the encode");
        assert_eq!(state.tasks[&score].state, TaskState::Blocked);
        let result = result_of(&state, encode);
        let (assigns, placed) = placer.round(&state, [&result]).expect("the round looks ahead at the result");
        assert!(placed.contains(&score), "the score the result releases is placed with it: {placed:?}");
        let outcomes = apply_entry(&mut state, std::iter::once(result).chain(assigns));
        assert!(outcomes.iter().all(|outcome| !matches!(outcome, Outcome::Refused(_))), "{outcomes:?}");
        placer.settled(placed);
        let score = &state.tasks[&score];
        assert_eq!(score.state, TaskState::Running, "assigned in the entry that made it ready");
        assert_eq!(score.queued_at_ms, Some(RESULT_AT), "ready when the result applied");
    }

    #[test]
    fn a_slot_a_result_frees_is_taken_again_in_the_same_entry() {
        // One encode fills the node: the others wait in the queue.
        let (mut state, mut placer) = encoding(&[2]);
        let encode = running(&state, TaskKind::Encode)[0];
        assert!(state.queued_len() > 0, "encodes wait");
        placer.mark_due();
        assert!(placer.round(&state, std::iter::empty()).is_none(), "the farm is full");
        let result = result_of(&state, encode);
        let (assigns, placed) = placer.round(&state, [&result]).expect("the result frees the node");
        let [next] = placed[..] else { panic!("one task takes the freed slot: {placed:?}") };
        let outcomes = apply_entry(&mut state, std::iter::once(result).chain(assigns));
        assert_eq!(outcomes, vec![Outcome::ResultAccepted { task: encode }, Outcome::Assigned { task: next, attempt: 1 }]);
        placer.settled(placed);
        assert_eq!(state.nodes[&1].running.iter().copied().collect::<Vec<_>>(), vec![next]);
    }

    #[test]
    fn a_look_ahead_that_does_not_come_true_is_refused_and_placed_by_a_later_round() {
        let (mut state, mut placer) = encoding(&[16, 16]);
        let encode = running(&state, TaskKind::Encode)[0];
        let score = *state.dependents_of(encode).iter().find(|id| state.tasks[id].kind == TaskKind::Score).expect("a score waits on the encode");
        // An output that does not parse: the attempt ends without success.
        let garbled = Command::CompleteTask { task: encode, attempt: 1, backend: "cpu".to_owned(), output_json: "{".to_owned(), now_ms: RESULT_AT, cpu_micros: 1 };
        let (assigns, placed) = placer.round(&state, [&garbled]).expect("the round looks ahead at the result");
        assert!(placed.contains(&score));
        let outcomes = apply_entry(&mut state, std::iter::once(garbled).chain(assigns));
        assert!(matches!(outcomes[0], Outcome::Refused(Refusal::BadOutput { .. })), "{outcomes:?}");
        assert!(outcomes.contains(&Outcome::Refused(Refusal::TaskNotQueued { task: score, state: "blocked".to_owned() })), "{outcomes:?}");
        placer.settled(placed);
        assert_eq!(state.tasks[&score].state, TaskState::Blocked);
        assert_eq!((state.tasks[&encode].state, state.tasks[&encode].attempt), (TaskState::Queued, 2), "the encode runs again");
        placer.mark_due();
        let (_, placed) = placer.round(&state, std::iter::empty()).expect("the retry is placed");
        assert!(placed.contains(&encode));
    }

    /// The nodes the leader's rounds place on: a node's assignments wait for its agent's
    /// session, and an agent that left gets nothing more, whatever the state says of its node.
    #[test]
    fn the_leaders_rounds_place_only_on_nodes_whose_agent_is_connected() {
        let mut state = State::default();
        register(&mut state, "a", 4);
        register(&mut state, "b", 4);
        let (a, b) = (1, 2);
        apply(&mut state, &submit("job"));
        let mut placer = Placer::for_sessions();
        assert_eq!(placer.round(&state, std::iter::empty()), None, "no agent is connected");

        placer.connection_changed(b, true);
        let (assigns, placed) = placer.round(&state, std::iter::empty()).expect("b's agent connected");
        assert!(assigns.iter().all(|assign| matches!(assign, Command::Assign { node, .. } if *node == b)), "{assigns:?}");
        apply_entry(&mut state, assigns);
        placer.settled(placed);
        let inspect = running(&state, TaskKind::Inspect);
        complete(&mut state, inspect[0]);

        placer.connection_changed(a, true);
        placer.connection_changed(b, false);
        placer.mark_due();
        let (assigns, placed) = placer.round(&state, std::iter::empty()).expect("a's agent connected");
        assert!(assigns.iter().all(|assign| matches!(assign, Command::Assign { node, .. } if *node == a)), "b's agent left: {assigns:?}");
        apply_entry(&mut state, assigns);
        placer.settled(placed);

        // Leadership lost: a new term starts with no agent connected.
        placer.forget_all();
        for task in running(&state, TaskKind::Ladder) {
            complete(&mut state, task);
        }
        placer.mark_due();
        assert_eq!(placer.round(&state, std::iter::empty()), None, "agents connect to a new leader afresh");
    }

    /// The model kept from round to round, refreshed node by node, is the one built from the
    /// state whole: through assignments applied and dropped, results (looked ahead at and
    /// not), a cordon and a new node.
    #[test]
    fn the_kept_model_matches_one_built_from_the_state() {
        let mut state = State::default();
        register(&mut state, "a", 4);
        register(&mut state, "b", 8);
        for job in 0..3 {
            apply(&mut state, &submit(&format!("job-{job}")));
        }
        let mut placer = Placer::default();
        for step in 0..40 {
            if step == 10 {
                apply(&mut state, &Command::SetNodeState { node: 1, state: NodeState::Cordoned, now_ms: 3 });
            }
            if step == 20 {
                register(&mut state, "c", 2);
            }
            let all_running: Vec<TaskId> = state.tasks.values().filter(|task| task.state == TaskState::Running).map(|task| task.id).collect();
            // Every third running task reports; on odd steps the round looks ahead at the results.
            let results: Vec<Command> = all_running.iter().step_by(3).map(|task| result_of(&state, *task)).collect();
            placer.mark_due();
            let ahead = if step % 2 == 1 { results.as_slice() } else { &[] };
            let round = placer.round(&state, ahead);
            apply_entry(&mut state, results);
            if let Some((commands, placed)) = round {
                // Every other assignment is dropped, as a refused or lost proposal would be.
                apply_entry(&mut state, commands.into_iter().step_by(2));
                placer.settled(placed);
            }
            placer.catch_up(&state);
            let kept = placer.cluster.as_ref().map(IndexedCluster::view);
            assert_eq!(kept, Some(&ClusterView::from_state(&state)), "step {step}");
        }
        assert!(state.tasks.values().any(|task| task.state == TaskState::Succeeded), "the jobs made progress");
    }

    /// Three replicas run two jobs to the end, the leader proposing each turn's results with
    /// the assignments its round looks ahead to, in one entry: every follower applies the
    /// same entries to the same state, and the tasks were assigned in the entries that made
    /// them ready.
    #[test]
    fn followers_applying_the_same_log_reach_the_same_assignments() {
        let peers: BTreeMap<u64, String> = (1..=3).map(|id| (id, format!("127.0.0.1:{}", 7000 + id))).collect();
        let mut group: Group = (1..=3).map(|id| (id, Replica::open(&ReplicaConfig::new(id), &peers, MemoryStore::default()).expect("opens"))).collect();
        let leader_of = |group: &Group| group.values().find(|replica| replica.is_leader()).map(Replica::id);
        let mut turns = 0;
        while leader_of(&group).is_none() {
            run(&mut group, 1);
            turns += 1;
            assert!(turns < 200, "no leader elected");
        }
        let leader = leader_of(&group).expect("a leader");
        let mut placer = Placer::default();
        let mut batch_id = 0;
        // Proposes one entry and runs the group until every replica has applied it.
        let mut propose = |group: &mut Group, commands: Vec<Command>| {
            batch_id += 1;
            let replica = group.get_mut(&leader).expect("the leader");
            replica.propose(&Proposal { proposer: leader, batch_id, commands }).expect("proposes");
            let mut turns = 0;
            while group.values().any(|replica| replica.applied() < group[&leader].last_index()) {
                run(group, 1);
                turns += 1;
                assert!(turns < 100, "the entry did not apply everywhere");
            }
        };
        propose(&mut group, vec![register_node("a", 8), register_node("b", 8), submit("one"), submit("two")]);
        let mut assigned_when_ready = 0;
        for _ in 0..200 {
            let state = group[&leader].state();
            if state.jobs.values().all(|job| job.state.is_final()) {
                break;
            }
            let results: Vec<Command> = state.tasks.values().filter(|task| task.state == TaskState::Running).map(|task| result_of(state, task.id)).collect();
            let blocked: BTreeSet<TaskId> = state.tasks.values().filter(|task| task.state == TaskState::Blocked).map(|task| task.id).collect();
            placer.mark_due();
            let (assigns, placed) = placer.round(state, &results).unwrap_or_default();
            assigned_when_ready += placed.iter().filter(|task| blocked.contains(task)).count();
            propose(&mut group, results.into_iter().chain(assigns).collect());
            placer.settled(placed);
        }
        let state = group[&leader].state();
        assert_eq!(state.jobs.len(), 2);
        assert!(state.jobs.values().all(|job| job.state == JobState::Succeeded), "both jobs ran to the end");
        assert!(assigned_when_ready > 0, "some tasks were assigned in the entry that made them ready");
        for replica in group.values() {
            assert_eq!(replica.applied(), group[&leader].applied(), "replica {} caught up", replica.id());
            assert_eq!(replica.state().hash(), state.hash(), "replica {} reached the leader's state", replica.id());
            let leases = |state: &State| state.tasks.values().map(|task| (task.id, task.history.iter().map(|attempt| attempt.node).collect::<Vec<_>>())).collect::<Vec<_>>();
            assert_eq!(leases(replica.state()), leases(state), "replica {} saw the same assignments", replica.id());
        }
    }
}
