//! The measured task graph of one job, read from its `report.json` (`timings.tasks`): each
//! task's kind, the tasks it waited for, how long its successful attempt ran (wall) and the
//! CPU that attempt used, and the CPU it asks of a node. Checked on the way in: every
//! dependency is a task of the graph and there is no cycle.

use std::collections::BTreeMap;

/// One task as the replay and the measures see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DagTask {
    pub id: u64,
    pub kind: String,
    /// The ids of the tasks it waits for.
    pub deps: Vec<u64>,
    /// Wall time of its successful attempt: lease to result, on the scheduler's clock.
    pub duration_ms: u64,
    /// CPU the agent measured for that attempt; `None` where it was not measured.
    pub cpu_seconds: Option<f64>,
    /// CPU it asks of a node, in millicores (what placement packs).
    pub cpu_milli: u32,
}

/// Tasks in an order where every task comes after its dependencies.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDag {
    tasks: Vec<DagTask>,
    /// Per task, the indices (into `tasks`) of its dependencies.
    dependencies: Vec<Vec<usize>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DagError {
    #[error("report.json has no timings.tasks (a report from before task timings were recorded); rerun the job with this version")]
    NoTasks,
    #[error("task {task} of report.json is malformed: {why}")]
    Malformed { task: String, why: String },
    #[error("task {task} never succeeded (its attempts: {outcomes}); only a finished job's report can be replayed")]
    NeverSucceeded { task: u64, outcomes: String },
    #[error("task {task} depends on task {missing}, which is not in the graph")]
    UnknownDependency { task: u64, missing: u64 },
    #[error("the tasks {0:?} depend on each other in a cycle")]
    Cycle(Vec<u64>),
}

/// The CPU demand assumed for a task whose report does not say (one core).
const UNKNOWN_DEMAND_MILLI: u32 = 1000;

impl TaskDag {
    /// Checks the tasks and orders them so that dependencies come first (ties keep the
    /// given order, which is the job's task-creation order).
    pub fn new(inputs: Vec<DagTask>) -> Result<TaskDag, DagError> {
        let index_of: BTreeMap<u64, usize> = inputs.iter().enumerate().map(|(index, task)| (task.id, index)).collect();
        let mut waiting_on = vec![0usize; inputs.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
        for (index, task) in inputs.iter().enumerate() {
            for dep in &task.deps {
                let &dep_index = index_of.get(dep).ok_or(DagError::UnknownDependency { task: task.id, missing: *dep })?;
                waiting_on[index] += 1;
                dependents[dep_index].push(index);
            }
        }
        let mut order = Vec::with_capacity(inputs.len());
        let mut ready: std::collections::BTreeSet<usize> = (0..inputs.len()).filter(|&index| waiting_on[index] == 0).collect();
        while let Some(index) = ready.pop_first() {
            order.push(index);
            for &dependent in &dependents[index] {
                waiting_on[dependent] -= 1;
                if waiting_on[dependent] == 0 {
                    ready.insert(dependent);
                }
            }
        }
        if order.len() < inputs.len() {
            return Err(DagError::Cycle(inputs.iter().enumerate().filter(|(index, _)| waiting_on[*index] > 0).map(|(_, task)| task.id).collect()));
        }
        let position: BTreeMap<u64, usize> = order.iter().enumerate().map(|(position, &index)| (inputs[index].id, position)).collect();
        let dependencies = order.iter().map(|&index| inputs[index].deps.iter().filter_map(|dep| position.get(dep).copied()).collect()).collect();
        let mut slots: Vec<Option<DagTask>> = inputs.into_iter().map(Some).collect();
        let tasks = order.into_iter().filter_map(|index| slots[index].take()).collect();
        Ok(TaskDag { tasks, dependencies })
    }

    /// The graph of a finished job's `report.json`. The report task is left out: it writes
    /// the report, so it is never in it with a time.
    pub fn from_report(report: &serde_json::Value) -> Result<TaskDag, DagError> {
        let tasks = report["timings"]["tasks"].as_array().filter(|tasks| !tasks.is_empty()).ok_or(DagError::NoTasks)?;
        let inputs = tasks.iter().filter(|task| task["kind"] != "report").map(task_input).collect::<Result<Vec<_>, _>>()?;
        TaskDag::new(inputs)
    }

    pub fn tasks(&self) -> &[DagTask] {
        &self.tasks
    }

    /// The indices (into [`TaskDag::tasks`]) of the tasks the task at `index` waits for.
    pub fn dependencies(&self, index: usize) -> &[usize] {
        self.dependencies.get(index).map(Vec::as_slice).unwrap_or_default()
    }
}

/// One `timings.tasks` entry: its successful attempt's times and CPU.
fn task_input(task: &serde_json::Value) -> Result<DagTask, DagError> {
    let malformed = |why: &str| DagError::Malformed { task: task["task_id"].to_string(), why: why.to_owned() };
    let id = task["task_id"].as_u64().ok_or_else(|| malformed("no task_id"))?;
    let kind = task["kind"].as_str().ok_or_else(|| malformed("no kind"))?.to_owned();
    let deps = task["deps"].as_array().map_or(Ok(Vec::new()), |deps| deps.iter().map(|dep| dep.as_u64().ok_or_else(|| malformed("a dependency is not a task id"))).collect())?;
    let attempts = task["attempts"].as_array().map(Vec::as_slice).unwrap_or_default();
    let succeeded = attempts.iter().find(|attempt| attempt["outcome"] == "succeeded").ok_or_else(|| DagError::NeverSucceeded {
        task: id,
        outcomes: attempts.iter().map(|attempt| attempt["outcome"].as_str().unwrap_or("?")).collect::<Vec<_>>().join(", "),
    })?;
    let (start, end) = (succeeded["started_at_ms"].as_u64(), succeeded["finished_at_ms"].as_u64());
    let (Some(start), Some(end)) = (start, end) else { return Err(malformed("its successful attempt has no start or end")) };
    Ok(DagTask {
        id,
        kind,
        deps,
        duration_ms: end.saturating_sub(start),
        cpu_seconds: succeeded["cpu_seconds"].as_f64(),
        cpu_milli: task["cpu_milli"].as_u64().map_or(UNKNOWN_DEMAND_MILLI, |milli| milli.min(u64::from(u32::MAX)) as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: u64, deps: &[u64]) -> DagTask {
        DagTask { id, kind: "encode".to_owned(), deps: deps.to_vec(), duration_ms: 1, cpu_seconds: None, cpu_milli: 1000 }
    }

    #[test]
    fn tasks_come_after_their_dependencies_and_bad_graphs_are_refused() {
        let dag = TaskDag::new(vec![input(3, &[1, 2]), input(1, &[]), input(2, &[1])]).unwrap();
        assert_eq!(dag.tasks().iter().map(|task| task.id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(dag.dependencies(2), [0, 1]);
        assert_eq!(TaskDag::new(vec![input(1, &[9])]), Err(DagError::UnknownDependency { task: 1, missing: 9 }));
        assert_eq!(TaskDag::new(vec![input(1, &[]), input(2, &[3]), input(3, &[2])]), Err(DagError::Cycle(vec![2, 3])));
    }

    #[test]
    fn a_report_gives_the_successful_attempts_and_leaves_the_report_task_out() {
        let report = serde_json::json!({"timings": {"tasks": [
            {"task_id": 1, "kind": "inspect", "deps": [], "cpu_milli": 1000, "attempts": [
                {"attempt": 1, "node": "a", "started_at_ms": 100, "finished_at_ms": 150, "outcome": "lease expired"},
                {"attempt": 2, "node": "b", "started_at_ms": 200, "finished_at_ms": 1700, "cpu_seconds": 2.5, "outcome": "succeeded"}]},
            {"task_id": 2, "kind": "encode", "deps": [1], "attempts": [
                {"attempt": 1, "node": "a", "started_at_ms": 1700, "finished_at_ms": 4700, "outcome": "succeeded"}]},
            {"task_id": 3, "kind": "report", "deps": [2], "attempts": []}
        ]}});
        let dag = TaskDag::from_report(&report).unwrap();
        let summary: Vec<_> = dag.tasks().iter().map(|task| (task.id, task.duration_ms, task.cpu_seconds, task.cpu_milli)).collect();
        assert_eq!(summary, vec![(1, 1500, Some(2.5), 1000), (2, 3000, None, UNKNOWN_DEMAND_MILLI)]);
        assert_eq!(TaskDag::from_report(&serde_json::json!({"timings": {}})), Err(DagError::NoTasks));
        let unfinished = serde_json::json!({"timings": {"tasks": [{"task_id": 4, "kind": "encode", "attempts": [{"outcome": "node down"}]}]}});
        assert_eq!(TaskDag::from_report(&unfinished), Err(DagError::NeverSucceeded { task: 4, outcomes: "node down".to_owned() }));
    }
}
