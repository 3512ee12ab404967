//! The task-graph figures `bench pipeline` prints for a finished job: work (CPU-s of all
//! tasks), span (the critical path with the measured wall times), parallelism, the share of
//! the span before the first encode can start, and the wall time farms of N identical agents
//! would need (the replay of `crate::task_dag`), beside the measured wall times.

use std::path::Path;

use crate::task_dag::{self, DagMeasures, TaskDag};

/// The farm sizes the replay models.
pub const MODELLED_AGENTS: [usize; 5] = [1, 4, 16, 64, 256];

#[derive(Debug, Clone, PartialEq)]
pub struct TaskGraphFigures {
    pub tasks: usize,
    pub measures: DagMeasures,
    /// The CPU of one modelled agent, millicores.
    pub agent_capacity_milli: u32,
    /// (agents, modelled wall seconds) for [`MODELLED_AGENTS`].
    pub modelled: Vec<(usize, f64)>,
}

impl TaskGraphFigures {
    /// The figures of the job whose `report.json` is at `report`, each modelled agent having
    /// `agent_capacity_milli` of CPU.
    pub fn from_report(report: &Path, agent_capacity_milli: u32) -> Result<TaskGraphFigures, String> {
        let text = std::fs::read_to_string(report).map_err(|error| format!("reading {}: {error}", report.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|error| format!("{} is not JSON: {error}", report.display()))?;
        let dag = TaskDag::from_report(&value).map_err(|error| format!("{}: {error}", report.display()))?;
        Ok(TaskGraphFigures::of(&dag, agent_capacity_milli))
    }

    pub fn of(dag: &TaskDag, agent_capacity_milli: u32) -> TaskGraphFigures {
        let modelled = MODELLED_AGENTS.iter().map(|&agents| (agents, task_dag::replay(dag, agents, agent_capacity_milli).makespan_ms as f64 / 1000.0)).collect();
        TaskGraphFigures { tasks: dag.tasks().len(), measures: task_dag::measure(dag), agent_capacity_milli, modelled }
    }

    /// The printout's lines; `measured` is (agents, wall seconds) of the real runs.
    pub fn lines(&self, measured: &[(u32, f64)]) -> Vec<String> {
        let m = &self.measures;
        let unmeasured = if m.tasks_without_cpu > 0 { format!(" ({} tasks without a CPU figure left out)", m.tasks_without_cpu) } else { String::new() };
        let share = m.share_before_first_encode().map_or("no encode".to_owned(), |share| format!("{:.1} %", 100.0 * share));
        vec![
            format!(
                "    task graph: {} tasks; work {:.1} CPU-s{unmeasured}; span {:.1} s (wall times on the critical path); parallelism {:.1}; {share} of the span before the first encode",
                self.tasks, m.work_cpu_seconds, m.span_seconds, m.parallelism
            ),
            format!(
                "    modelled wall on N agents of {:.1} cores (list-scheduling replay, measured wall time per task): {}",
                f64::from(self.agent_capacity_milli) / 1000.0,
                self.modelled.iter().map(|(agents, seconds)| format!("{agents}: {seconds:.1} s")).collect::<Vec<_>>().join(", ")
            ),
            format!("    measured wall here: {}", measured.iter().map(|(agents, seconds)| format!("{agents} agent(s) {seconds:.1} s")).collect::<Vec<_>>().join(", ")),
        ]
    }

    pub fn to_json(&self, measured: &[(u32, f64)]) -> serde_json::Value {
        let m = &self.measures;
        serde_json::json!({
            "tasks": self.tasks,
            "work_cpu_seconds": m.work_cpu_seconds,
            "tasks_without_cpu": m.tasks_without_cpu,
            "work_wall_seconds": m.work_wall_seconds,
            "span_seconds": m.span_seconds,
            "parallelism": m.parallelism,
            "first_encode_start_seconds": m.first_encode_start_seconds,
            "share_of_span_before_first_encode": m.share_before_first_encode(),
            "critical_path": m.critical_path,
            "agent_capacity_milli": self.agent_capacity_milli,
            "modelled_wall_seconds": self.modelled.iter().map(|(agents, seconds)| (agents.to_string(), serde_json::json!(seconds))).collect::<serde_json::Map<_, _>>(),
            "measured_wall_seconds": measured.iter().map(|(agents, seconds)| (agents.to_string(), serde_json::json!(seconds))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_the_figures_and_their_printout() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let attempt = |start: u64, end: u64, cpu: f64| serde_json::json!([{"attempt": 1, "node": "dev-agent-0", "started_at_ms": start, "finished_at_ms": end, "cpu_seconds": cpu, "outcome": "succeeded"}]);
        let tasks = serde_json::json!([
            {"task_id": 1, "kind": "inspect", "deps": [], "cpu_milli": 1000, "attempts": attempt(0, 1000, 1.0)},
            {"task_id": 2, "kind": "encode", "deps": [1], "cpu_milli": 2000, "attempts": attempt(1000, 5000, 7.0)},
            {"task_id": 3, "kind": "encode", "deps": [1], "cpu_milli": 2000, "attempts": attempt(5000, 9000, 8.0)},
            {"task_id": 4, "kind": "report", "deps": [2, 3], "attempts": []},
        ]);
        std::fs::write(&report, serde_json::json!({"timings": {"tasks": tasks}}).to_string()).unwrap();
        let figures = TaskGraphFigures::from_report(&report, 2000).unwrap();
        assert_eq!((figures.tasks, figures.measures.work_cpu_seconds, figures.measures.span_seconds), (3, 16.0, 5.0));
        assert_eq!(figures.modelled, vec![(1, 9.0), (4, 5.0), (16, 5.0), (64, 5.0), (256, 5.0)]);
        let lines = figures.lines(&[(1, 9.5), (2, 9.9)]);
        assert!(lines[0].contains("work 16.0 CPU-s; span 5.0 s") && lines[0].contains("parallelism 3.2; 20.0 % of the span"), "{}", lines[0]);
        assert!(lines[1].ends_with("1: 9.0 s, 4: 5.0 s, 16: 5.0 s, 64: 5.0 s, 256: 5.0 s"), "{}", lines[1]);
        assert_eq!(figures.to_json(&[(1, 9.5)])["measured_wall_seconds"]["1"], 9.5);
        std::fs::write(&report, r#"{"timings":{"stages":{}}}"#).unwrap();
        assert!(TaskGraphFigures::from_report(&report, 2000).unwrap_err().contains("no timings.tasks"));
    }
}
