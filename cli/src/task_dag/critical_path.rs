//! Work, span and parallelism of a measured task graph. Span is the longest path through
//! the graph with each task's wall duration (what no number of agents shortens); work is the
//! CPU the tasks used (CPU-s), so parallelism = work / span says how many cores' worth of
//! work the job offers per second of its critical path.

use super::graph::TaskDag;

#[derive(Debug, Clone, PartialEq)]
pub struct DagMeasures {
    /// Σ CPU seconds of the tasks with a measured CPU time.
    pub work_cpu_seconds: f64,
    /// Σ wall seconds of every task (what one agent running one task at a time would take).
    pub work_wall_seconds: f64,
    /// Tasks without a CPU figure (left out of `work_cpu_seconds`).
    pub tasks_without_cpu: usize,
    /// The longest path with wall durations, seconds.
    pub span_seconds: f64,
    /// `work_cpu_seconds / span_seconds`.
    pub parallelism: f64,
    /// The earliest an encode can start (the longest path to any encode task), seconds;
    /// `None` without encodes.
    pub first_encode_start_seconds: Option<f64>,
    /// The task ids of one longest path, first to last.
    pub critical_path: Vec<u64>,
}

impl DagMeasures {
    /// `first_encode_start_seconds / span_seconds`: the share of the span before encoding can begin.
    pub fn share_before_first_encode(&self) -> Option<f64> {
        self.first_encode_start_seconds.map(|start| if self.span_seconds > 0.0 { start / self.span_seconds } else { 0.0 })
    }
}

/// The earliest each task can start with unlimited agents (ms): the latest finish of its
/// dependencies.
pub fn earliest_starts_ms(dag: &TaskDag) -> Vec<u64> {
    let tasks = dag.tasks();
    let mut starts = vec![0u64; tasks.len()];
    for index in 0..tasks.len() {
        starts[index] = dag.dependencies(index).iter().map(|&dep| starts[dep] + tasks[dep].duration_ms).max().unwrap_or(0);
    }
    starts
}

/// The longest path through the graph (ms).
pub fn span_ms(dag: &TaskDag) -> u64 {
    let starts = earliest_starts_ms(dag);
    dag.tasks().iter().zip(&starts).map(|(task, start)| start + task.duration_ms).max().unwrap_or(0)
}

pub fn measure(dag: &TaskDag) -> DagMeasures {
    let tasks = dag.tasks();
    let starts = earliest_starts_ms(dag);
    let finishes: Vec<u64> = tasks.iter().zip(&starts).map(|(task, start)| start + task.duration_ms).collect();
    let span = span_ms(dag);
    let work_cpu_seconds: f64 = tasks.iter().filter_map(|task| task.cpu_seconds).sum();
    let span_seconds = span as f64 / 1000.0;
    DagMeasures {
        work_cpu_seconds,
        work_wall_seconds: tasks.iter().map(|task| task.duration_ms).sum::<u64>() as f64 / 1000.0,
        tasks_without_cpu: tasks.iter().filter(|task| task.cpu_seconds.is_none()).count(),
        span_seconds,
        parallelism: if span > 0 { work_cpu_seconds / span_seconds } else { 0.0 },
        first_encode_start_seconds: tasks.iter().zip(&starts).filter(|(task, _)| task.kind == "encode").map(|(_, start)| *start).min().map(|start| start as f64 / 1000.0),
        critical_path: critical_path(dag, &finishes),
    }
}

/// Walks back from the last task to finish through the dependency that finished last.
fn critical_path(dag: &TaskDag, finishes: &[u64]) -> Vec<u64> {
    let tasks = dag.tasks();
    let mut path = Vec::new();
    let mut current = (0..tasks.len()).max_by_key(|&index| (finishes[index], std::cmp::Reverse(index)));
    while let Some(index) = current {
        path.push(tasks[index].id);
        current = dag.dependencies(index).iter().copied().max_by_key(|&dep| (finishes[dep], std::cmp::Reverse(dep)));
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_dag::graph::DagTask;

    fn task(id: u64, kind: &str, deps: &[u64], duration_ms: u64, cpu_seconds: f64) -> DagTask {
        DagTask { id, kind: kind.to_owned(), deps: deps.to_vec(), duration_ms, cpu_seconds: Some(cpu_seconds), cpu_milli: 1000 }
    }

    #[test]
    fn span_follows_the_longest_path_and_work_sums_cpu() {
        // inspect 2 s → encodes of 3 s and 5 s → assemble 1 s after both; validate 4 s after the short encode only.
        let dag = TaskDag::new(vec![
            task(1, "inspect", &[], 2000, 2.5),
            task(2, "encode", &[1], 3000, 5.0),
            task(3, "encode", &[1], 5000, 9.0),
            task(4, "assemble", &[2, 3], 1000, 0.5),
            task(5, "validate", &[2], 4000, 3.0),
        ])
        .unwrap();
        let measures = measure(&dag);
        assert_eq!(span_ms(&dag), 9000, "2 + 3 + 4 beats 2 + 5 + 1");
        assert_eq!(measures.critical_path, vec![1, 2, 5]);
        assert_eq!((measures.work_cpu_seconds, measures.work_wall_seconds, measures.span_seconds), (20.0, 15.0, 9.0));
        assert!((measures.parallelism - 20.0 / 9.0).abs() < 1e-12);
        assert_eq!(measures.first_encode_start_seconds, Some(2.0));
        assert!((measures.share_before_first_encode().unwrap() - 2.0 / 9.0).abs() < 1e-12);
    }
}
