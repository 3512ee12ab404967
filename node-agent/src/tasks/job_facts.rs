//! The scheduler's replicated facts about a job (`TaskSpec::Report::job_facts`, built by the
//! planner's `job_facts`): every task with its kind, chunk, rung and finished attempts. Read
//! leniently (unknown fields ignored, missing ones defaulted): it is a report's input, and a
//! newer scheduler may say more.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::TaskError;
use crate::media::report::{AttemptTiming, RecipeReport, TaskTiming};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JobFacts {
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub input_url: Option<String>,
    #[serde(default)]
    pub output_url: Option<String>,
    #[serde(default)]
    pub created_at_ms: Option<u64>,
    #[serde(default)]
    pub tasks: Vec<TaskFacts>,
    /// The saved recipe the job was submitted with, if any.
    #[serde(default)]
    pub recipe: Option<RecipeReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TaskFacts {
    #[serde(default)]
    pub task_id: u64,
    pub kind: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub chunk: Option<u32>,
    /// The names of the rungs it works on: one, several for an encode task that shares a
    /// chunk's decode, none for job-wide tasks.
    #[serde(default)]
    pub rungs: Vec<String>,
    #[serde(default)]
    pub queued_at_ms: Option<u64>,
    /// The tasks it waited for.
    #[serde(default)]
    pub deps: Vec<u64>,
    /// The CPU it asks of a node on the CPU backend (millicores).
    #[serde(default)]
    pub cpu_milli: Option<u32>,
    #[serde(default)]
    pub attempts: Vec<AttemptFacts>,
}

/// One finished attempt.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AttemptFacts {
    pub attempt: u32,
    /// The node's name.
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub backend: String,
    #[serde(default)]
    pub started_at_ms: u64,
    #[serde(default)]
    pub finished_at_ms: u64,
    /// `succeeded`, or why it ended.
    #[serde(default)]
    pub outcome: String,
    /// The CPU the agent measured for a successful attempt.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
}

/// The outcome the scheduler records for the attempt whose output it kept.
pub const SUCCEEDED: &str = "succeeded";

impl AttemptFacts {
    pub fn seconds(&self) -> f64 {
        self.finished_at_ms.saturating_sub(self.started_at_ms) as f64 / 1000.0
    }
}

impl JobFacts {
    pub fn parse(json: &str) -> Result<Self, TaskError> {
        serde_json::from_str(json).map_err(|error| TaskError::final_error(format!("the report's job facts are not readable: {error}; the scheduler and agent versions disagree")))
    }

    /// The tasks of one kind (`encode`, `validate`…).
    pub fn tasks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a TaskFacts> + 'a {
        self.tasks.iter().filter(move |task| task.kind == kind)
    }

    /// The attempt whose output the scheduler committed, for the task of `kind` (and `rung`).
    pub fn succeeded_attempt(&self, kind: &str, rung: Option<&str>) -> Option<u32> {
        self.tasks_of(kind)
            .filter(|task| rung.is_none_or(|rung| task.rungs.iter().any(|name| name == rung)))
            .flat_map(|task| task.attempts.iter())
            .filter(|attempt| attempt.outcome == SUCCEEDED)
            .map(|attempt| attempt.attempt)
            .max()
    }

    /// Wall-clock seconds per task kind: first attempt start to last attempt end.
    pub fn stage_seconds(&self) -> BTreeMap<String, f64> {
        let mut spans: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for task in &self.tasks {
            for attempt in &task.attempts {
                let span = spans.entry(task.kind.clone()).or_insert((attempt.started_at_ms, attempt.finished_at_ms));
                span.0 = span.0.min(attempt.started_at_ms);
                span.1 = span.1.max(attempt.finished_at_ms);
            }
        }
        spans.into_iter().map(|(kind, (start, end))| (kind, end.saturating_sub(start) as f64 / 1000.0)).collect()
    }

    /// Every task with its dependencies and attempts, for `report.json`'s `timings.tasks`.
    pub fn task_timings(&self) -> Vec<TaskTiming> {
        self.tasks
            .iter()
            .map(|task| TaskTiming {
                task_id: task.task_id,
                kind: task.kind.clone(),
                deps: task.deps.clone(),
                cpu_milli: task.cpu_milli,
                attempts: task
                    .attempts
                    .iter()
                    .map(|attempt| AttemptTiming {
                        attempt: attempt.attempt,
                        node: attempt.node.clone(),
                        started_at_ms: attempt.started_at_ms,
                        finished_at_ms: attempt.finished_at_ms,
                        cpu_seconds: attempt.cpu_seconds,
                        outcome: attempt.outcome.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Seconds from the job's creation (or its first attempt) to the last finished attempt.
    pub fn total_seconds(&self) -> f64 {
        let attempts = self.tasks.iter().flat_map(|task| task.attempts.iter());
        let (first_start, last_end) = attempts.fold((None::<u64>, 0u64), |(first, last), attempt| {
            (Some(first.map_or(attempt.started_at_ms, |first| first.min(attempt.started_at_ms))), last.max(attempt.finished_at_ms))
        });
        let Some(first_start) = self.created_at_ms.or(first_start) else { return 0.0 };
        last_end.saturating_sub(first_start) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: &str = r#"{
        "job_id": "job-7", "request_id": "r", "input_url": "file:///in.mp4", "output_url": "file:///out",
        "labels": {}, "created_at_ms": 1000,
        "tasks": [
            {"task_id": 1, "kind": "inspect", "label": "inspect source", "chunk": null, "rungs": [], "queued_at_ms": 1000,
             "attempts": [{"attempt": 1, "node": "a", "backend": "cpu", "started_at_ms": 1100, "finished_at_ms": 2100, "outcome": "succeeded"}]},
            {"task_id": 5, "kind": "validate", "label": "validate h264_240p", "chunk": null, "rungs": ["h264_240p"], "queued_at_ms": 3000, "deps": [1], "cpu_milli": 250,
             "attempts": [{"attempt": 1, "node": "a", "backend": "cpu", "started_at_ms": 3000, "finished_at_ms": 3500, "outcome": "lease expired", "cpu_seconds": null},
                          {"attempt": 2, "node": "b", "backend": "cpu", "started_at_ms": 3600, "finished_at_ms": 4600, "outcome": "succeeded", "cpu_seconds": 1.75}]}
        ]
    }"#;

    #[test]
    fn facts_give_committed_attempts_and_timings() {
        let facts = JobFacts::parse(FACTS).unwrap();
        assert_eq!(facts.job_id.as_deref(), Some("job-7"));
        assert_eq!(facts.succeeded_attempt("validate", Some("h264_240p")), Some(2));
        assert_eq!(facts.succeeded_attempt("validate", Some("h264_720p")), None);
        assert_eq!(facts.succeeded_attempt("inspect", None), Some(1));
        let stages = facts.stage_seconds();
        assert_eq!(stages["inspect"], 1.0);
        assert_eq!(stages["validate"], 1.6);
        assert_eq!(facts.total_seconds(), 3.6);
        assert!(JobFacts::parse("[1]").unwrap_err().is_final());
    }

    #[test]
    fn task_timings_keep_dependencies_nodes_and_cpu_and_older_facts_read_without_them() {
        let timings = JobFacts::parse(FACTS).unwrap().task_timings();
        assert_eq!(timings.iter().map(|task| (task.task_id, task.deps.clone())).collect::<Vec<_>>(), vec![(1, vec![]), (5, vec![1])]);
        assert_eq!((timings[0].cpu_milli, timings[1].cpu_milli), (None, Some(250)));
        let validate = &timings[1].attempts;
        assert_eq!(validate.iter().map(|attempt| (attempt.node.as_str(), attempt.cpu_seconds)).collect::<Vec<_>>(), vec![("a", None), ("b", Some(1.75))]);
        assert_eq!((validate[1].started_at_ms, validate[1].finished_at_ms, validate[1].outcome.as_str()), (3600, 4600, "succeeded"));
        assert_eq!(timings[0].attempts[0].cpu_seconds, None, "facts from before CPU was measured");
    }
}
