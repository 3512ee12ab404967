//! The replicated state: what every replica holds. It changes only through the transition
//! one floor up (`machine::apply`); this floor knows nothing of commands.
//!
//! | module | what |
//! | --- | --- |
//! | [`model`] | jobs, tasks, nodes, leases, and a node's accounting of the leases it holds |
//! | [`saved_recipes`] | named, versioned job recipes; a deleted name keeps its version counter |
//! | [`node_changes`] | which nodes changed since a reader last looked (for the leader's placement model) |
//! | [`task_counts`] | how many tasks of each kind are in each state (for `/metrics`) |
//! | [`parsed_outputs`] | succeeded tasks' outputs parsed once, for the specs of their dependents |
//! | [`job_report`] | a job's report (location, renditions, quality) as its report task answered |
//! | [`callback_outbox`] | a job's callback events until delivered, and the retry backoff |
//!
//! Besides the entities, [`State`] keeps indexes that are not replicated data but are
//! derived from it deterministically: the queue of ready tasks, the finished jobs that
//! still hold their tasks' detail (oldest first), each task's dependents, the task counts,
//! the jobs owing callback events, and the jobs by request id and nodes by name, all rebuilt
//! on load; the set of rows
//! changed since the last persist, which storage drains to write exactly those rows, and
//! the numbered node changes the leader's placement reads.

pub mod callback_outbox;
pub mod job_report;
pub mod model;
pub mod node_changes;
pub mod parsed_outputs;
pub mod saved_recipes;
pub mod task_counts;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use node_changes::NodeChanges;
use parsed_outputs::ParsedOutputs;
use saved_recipes::{RecipeId, SavedRecipe};
use task_counts::TaskCounts;
use shotfarm_proto::pipeline::{TaskKind, TaskOutput};
use model::{AccessToken, RevokedCertificate, Job, JobId, Millis, Node, NodeId, Task, TaskId, TaskState};

/// Counters and small maps stored as one row, written whenever one of them changes (a job
/// or task numbered): what grows with the farm's history — request ids, node names — is kept
/// in the rows of the jobs and nodes and indexed from them ([`State::job_by_request`],
/// [`State::node_by_name`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub next_job_id: JobId,
    pub next_task_id: TaskId,
    pub next_node_id: NodeId,
    /// Replica id → gRPC address.
    pub members: BTreeMap<u64, String>,
    /// Bearer tokens by name (`shotfarm tokens`), stored as fingerprints only.
    pub tokens: BTreeMap<String, AccessToken>,
    /// The group's id, fixed at bootstrap: every Raft message carries it, so replicas of
    /// another group (disagreeing `--peers`) are refused at first contact. 0 while joining.
    pub cluster_id: u64,
    /// Revoked certificates by SHA-256 fingerprint (`shotfarm certs revoke`).
    pub revoked_certificates: BTreeMap<String, RevokedCertificate>,
    /// Saved recipe name → its row (deleted names included: they keep their version counter).
    #[serde(default)]
    pub recipe_names: BTreeMap<String, RecipeId>,
    #[serde(default)]
    pub next_recipe_id: RecipeId,
}

/// A row of the state, as storage addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowKey {
    Meta,
    Job(JobId),
    /// A task but its spec and output, rewritten at each change of its state.
    Task(TaskId),
    Node(NodeId),
    Recipe(RecipeId),
    /// A task's spec, written once it is known (`storage::task_row` says why apart).
    TaskSpec(TaskId),
    /// A succeeded task's output, written once.
    TaskOutput(TaskId),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub meta: Meta,
    pub jobs: BTreeMap<JobId, Job>,
    pub tasks: BTreeMap<TaskId, Task>,
    pub nodes: BTreeMap<NodeId, Node>,
    pub recipes: BTreeMap<RecipeId, SavedRecipe>,
    /// Derived: queued tasks ordered by (job priority descending, task id).
    queue: BTreeSet<(i64, TaskId)>,
    /// Derived: finished jobs whose task rows are still held, by (finish time, job id).
    finished_with_detail: BTreeSet<(Millis, JobId)>,
    /// Derived: rows changed since the last [`State::take_dirty`].
    dirty: BTreeSet<RowKey>,
    /// Derived: node rows changed, numbered (empty on load).
    node_changes: NodeChanges,
    /// Derived: each task's dependents (tasks name their dependencies; this is the reverse),
    /// so a result releases its dependents without scanning its job's every task.
    dependents: BTreeMap<TaskId, Vec<TaskId>>,
    /// Derived: tasks by kind and state.
    task_counts: TaskCounts,
    /// Derived: jobs with an undelivered callback event.
    callbacks_pending: BTreeSet<JobId>,
    /// Derived: each job by its request key ([`request_key`]), for idempotent submission.
    jobs_by_request: BTreeMap<String, JobId>,
    /// Derived: each node by its name.
    nodes_by_name: BTreeMap<String, NodeId>,
    /// Derived: succeeded tasks' outputs, parsed (empty on load; a miss parses the row's JSON).
    parsed_outputs: ParsedOutputs,
}

/// Request ids are unique per owner: one user's id never answers another user's job.
fn request_key(owner: &str, request_id: &str) -> String {
    if owner.is_empty() { request_id.to_owned() } else { format!("{owner} {request_id}") }
}

/// The persisted form of the whole state (snapshots).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateImage {
    pub meta: Meta,
    pub jobs: Vec<Job>,
    pub tasks: Vec<Task>,
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub recipes: Vec<SavedRecipe>,
}

impl State {
    /// Rebuilds the state (and its derived indexes) from persisted rows.
    pub fn from_image(image: StateImage) -> State {
        let mut state = State {
            meta: image.meta,
            jobs: image.jobs.into_iter().map(|job| (job.id, job)).collect(),
            tasks: image.tasks.into_iter().map(|task| (task.id, task)).collect(),
            nodes: image.nodes.into_iter().map(|node| (node.id, node)).collect(),
            recipes: image.recipes.into_iter().map(|recipe| (recipe.id, recipe)).collect(),
            queue: BTreeSet::new(),
            finished_with_detail: BTreeSet::new(),
            dirty: BTreeSet::new(),
            node_changes: NodeChanges::default(),
            dependents: BTreeMap::new(),
            task_counts: TaskCounts::default(),
            callbacks_pending: BTreeSet::new(),
            jobs_by_request: BTreeMap::new(),
            nodes_by_name: BTreeMap::new(),
            parsed_outputs: ParsedOutputs::default(),
        };
        state.jobs_by_request = state.jobs.values().map(|job| (request_key(&job.owner, &job.request_id), job.id)).collect();
        state.nodes_by_name = state.nodes.values().map(|node| (node.name.clone(), node.id)).collect();
        for task in state.tasks.values() {
            state.task_counts.add(task.kind, task.state);
            for dep in &task.deps {
                state.dependents.entry(*dep).or_default().push(task.id);
            }
        }
        let finished: Vec<(Millis, JobId)> = state
            .jobs
            .values()
            .filter(|job| job.state.is_final() && job.tasks.iter().any(|task| state.tasks.contains_key(task)))
            .map(|job| (job.finished_at_ms.unwrap_or(0), job.id))
            .collect();
        state.finished_with_detail.extend(finished);
        let queued: Vec<(i64, TaskId)> = state
            .tasks
            .values()
            .filter(|task| task.state == TaskState::Queued)
            .map(|task| (state.queue_rank(task.job), task.id))
            .collect();
        state.queue.extend(queued);
        let owing: Vec<JobId> = state.jobs.values().filter(|job| !job.callbacks.pending.is_empty()).map(|job| job.id).collect();
        state.callbacks_pending.extend(owing);
        state
    }

    pub fn to_image(&self) -> StateImage {
        StateImage {
            meta: self.meta.clone(),
            jobs: self.jobs.values().cloned().collect(),
            tasks: self.tasks.values().cloned().collect(),
            nodes: self.nodes.values().cloned().collect(),
            recipes: self.recipes.values().cloned().collect(),
        }
    }

    /// Adds a job row, indexed by its request key.
    pub(crate) fn insert_job(&mut self, job: Job) {
        self.jobs_by_request.insert(request_key(&job.owner, &job.request_id), job.id);
        self.jobs.insert(job.id, job);
    }

    /// The job `owner` submitted under `request_id`.
    pub fn job_by_request(&self, owner: &str, request_id: &str) -> Option<JobId> {
        self.jobs_by_request.get(&request_key(owner, request_id)).copied()
    }

    /// Adds or replaces a node row, indexed by its name.
    pub(crate) fn insert_node(&mut self, node: Node) {
        self.nodes_by_name.insert(node.name.clone(), node.id);
        self.nodes.insert(node.id, node);
    }

    /// The node registered as `name`.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes_by_name.get(name).copied()
    }

    /// Adds a task, and it to its dependencies' dependents; its rows are marked for storage.
    pub(crate) fn insert_task(&mut self, task: Task) {
        for dep in &task.deps {
            self.dependents.entry(*dep).or_default().push(task.id);
        }
        self.task_counts.add(task.kind, task.state);
        self.dirty.insert(RowKey::Task(task.id));
        if task.spec_json.is_some() {
            self.dirty.insert(RowKey::TaskSpec(task.id));
        }
        if task.output_json.is_some() {
            self.dirty.insert(RowKey::TaskOutput(task.id));
        }
        if let Some(replaced) = self.tasks.insert(task.id, task) {
            self.task_counts.remove(replaced.kind, replaced.state);
        }
    }

    /// Sets a task's spec, its row marked for storage.
    pub(crate) fn set_task_spec(&mut self, id: TaskId, spec_json: String) {
        if let Some(task) = self.tasks.get_mut(&id) {
            task.spec_json = Some(spec_json);
            self.dirty.insert(RowKey::TaskSpec(id));
        }
    }

    /// Sets a succeeded task's output, its row marked for storage.
    pub(crate) fn set_task_output(&mut self, id: TaskId, output_json: String) {
        if let Some(task) = self.tasks.get_mut(&id) {
            task.output_json = Some(output_json);
            self.dirty.insert(RowKey::TaskOutput(id));
        }
    }

    /// Drops a task and its place in the dependents index, its rows marked for deletion;
    /// false when it was not there.
    pub(crate) fn remove_task(&mut self, id: TaskId) -> bool {
        self.dependents.remove(&id);
        self.parsed_outputs.forget(id);
        let Some(task) = self.tasks.remove(&id) else { return false };
        self.dirty.extend([RowKey::Task(id), RowKey::TaskSpec(id), RowKey::TaskOutput(id)]);
        self.task_counts.remove(task.kind, task.state);
        for dep in &task.deps {
            if let Some(dependents) = self.dependents.get_mut(dep) {
                dependents.retain(|dependent| *dependent != id);
                if dependents.is_empty() {
                    self.dependents.remove(dep);
                }
            }
        }
        true
    }

    /// Remembers the output `task` succeeded with (its row holds the same as JSON).
    pub(crate) fn remember_output(&mut self, task: TaskId, output: Arc<TaskOutput>) {
        self.parsed_outputs.remember(task, output);
    }

    /// A succeeded task's output, parsed once.
    pub fn output_of(&self, task: &Task) -> Result<Arc<TaskOutput>, String> {
        self.parsed_outputs.of(task)
    }

    /// The tasks that name `task` among their dependencies, by id.
    pub fn dependents_of(&self, task: TaskId) -> &[TaskId] {
        self.dependents.get(&task).map_or(&[], Vec::as_slice)
    }

    /// Queued tasks, highest priority first, then oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &Task> {
        self.queue.iter().filter_map(|(_, id)| self.tasks.get(id))
    }

    /// How many tasks of `kind` are in `state`.
    pub fn task_count(&self, kind: TaskKind, state: TaskState) -> u64 {
        self.task_counts.get(kind, state)
    }

    /// Whether the derived task counts agree with a scan of every task (tests).
    #[cfg(test)]
    pub(crate) fn task_counts_agree(&self) -> bool {
        let states = [TaskState::Blocked, TaskState::Queued, TaskState::Running, TaskState::Succeeded, TaskState::Failed, TaskState::Cancelled];
        TaskKind::ALL.into_iter().all(|kind| {
            states.into_iter().all(|state| {
                let scanned = self.tasks.values().filter(|task| task.kind == kind && task.state == state).count() as u64;
                self.task_count(kind, state) == scanned
            })
        })
    }

    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Records that `job` finished at `at`: it holds its tasks' detail until compacted.
    pub(crate) fn note_finished(&mut self, job: JobId, at: Millis) {
        self.finished_with_detail.insert((at, job));
    }

    /// How many finished jobs still hold their tasks' detail.
    pub fn finished_with_detail(&self) -> usize {
        self.finished_with_detail.len()
    }

    /// The finished job that has held its detail longest, no longer counted as holding it.
    pub(crate) fn take_oldest_finished_with_detail(&mut self) -> Option<JobId> {
        self.finished_with_detail.pop_first().map(|(_, job)| job)
    }

    /// The rows changed since the last call, for storage to write.
    pub fn take_dirty(&mut self) -> BTreeSet<RowKey> {
        std::mem::take(&mut self.dirty)
    }

    /// A digest of the replicated content (not the derived indexes): equal states at equal
    /// applied index must have equal hashes on every replica.
    pub fn hash(&self) -> String {
        let image = self.to_image();
        let bytes = postcard::to_allocvec(&image).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    pub fn mark(&mut self, row: RowKey) {
        if let RowKey::Node(node) = row {
            self.node_changes.record(node);
        }
        self.dirty.insert(row);
    }

    /// The nodes changed since a reader's cursor (every node change is marked).
    pub fn node_changes(&self) -> &NodeChanges {
        &self.node_changes
    }

    fn queue_rank(&self, job: JobId) -> i64 {
        // Higher priority sorts first.
        -i64::from(self.jobs.get(&job).map_or(0, |job| job.spec.priority))
    }

    /// Moves a task into or out of the queue index as its state changes.
    pub(crate) fn set_task_state(&mut self, task_id: TaskId, new_state: TaskState) {
        let Some(task) = self.tasks.get(&task_id) else { return };
        let rank = self.queue_rank(task.job);
        let old_state = task.state;
        if old_state == TaskState::Queued {
            self.queue.remove(&(rank, task_id));
        }
        if new_state == TaskState::Queued {
            self.queue.insert((rank, task_id));
        }
        if let Some(task) = self.tasks.get_mut(&task_id) {
            self.task_counts.remove(task.kind, old_state);
            self.task_counts.add(task.kind, new_state);
            task.state = new_state;
        }
        self.dirty.insert(RowKey::Task(task_id));
    }
}
