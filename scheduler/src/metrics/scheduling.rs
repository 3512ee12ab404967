//! The scheduler's metrics, from this replica's applied state: every replica exports the same
//! counts (a follower's lag behind the leader is the only difference), so any replica can be
//! scraped. Results and lease expiries are counted as their commands apply; the tasks, jobs
//! and nodes by state are counted from the state now and then ([`SchedulingMetrics::count`]).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shotfarm_proto::pipeline::TaskKind;

use crate::machine::{Command, Outcome};
use crate::state::State;
use crate::state::model::{JobState, NodeState, TaskState};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindAndState {
    kind: &'static str,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindAndOutcome {
    kind: &'static str,
    outcome: &'static str,
}

/// The task states counted: those of unfinished tasks (finished ones are in the results).
const OPEN_TASK_STATES: [(TaskState, &str); 3] = [(TaskState::Blocked, "blocked"), (TaskState::Queued, "queued"), (TaskState::Running, "running")];
const JOB_STATES: [JobState; 5] = [JobState::Pending, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled];
const NODE_STATES: [NodeState; 4] = [NodeState::Ready, NodeState::Cordoned, NodeState::Draining, NodeState::Down];

#[derive(Debug)]
pub struct SchedulingMetrics {
    tasks: Family<KindAndState, Gauge>,
    jobs: Family<StateLabel, Gauge>,
    nodes: Family<StateLabel, Gauge>,
    task_results: Family<KindAndOutcome, Counter>,
    lease_expiries: Counter,
    placement_round: Histogram,
}

impl SchedulingMetrics {
    pub fn register(registry: &mut Registry) -> SchedulingMetrics {
        let metrics = SchedulingMetrics {
            tasks: Family::default(),
            jobs: Family::default(),
            nodes: Family::default(),
            task_results: Family::default(),
            lease_expiries: Counter::default(),
            // 10 µs .. ~0.3 s.
            placement_round: Histogram::new(exponential_buckets(0.000_01, 2.0, 15)),
        };
        registry.register("tasks", "Unfinished tasks by kind and state (blocked on dependencies, queued, running)", metrics.tasks.clone());
        registry.register("jobs", "Jobs by state, finished ones included (their outcomes)", metrics.jobs.clone());
        registry.register("nodes", "Nodes by state", metrics.nodes.clone());
        registry.register("task_results", "Task attempts' results accepted, by kind and outcome (succeeded, failed)", metrics.task_results.clone());
        registry.register("lease_expiries", "Leases that expired (the attempt went back to the queue)", metrics.lease_expiries.clone());
        registry.register("placement_round_seconds", "Time the leader spent placing queued tasks in one round", metrics.placement_round.clone());
        metrics
    }

    /// After `command` applied with `outcome` (the state is the one after it).
    pub fn applied(&self, command: &Command, outcome: &Outcome, state: &State) {
        let result = match (command, outcome) {
            (Command::CompleteTask { task, .. }, Outcome::ResultAccepted { .. }) => Some((task, "succeeded")),
            (Command::FailTask { task, .. }, Outcome::ResultAccepted { .. }) => Some((task, "failed")),
            (Command::ExpireLease { .. }, Outcome::Applied) => {
                self.lease_expiries.inc();
                None
            }
            _ => None,
        };
        if let Some((task, outcome)) = result
            && let Some(task) = state.tasks.get(task)
        {
            self.task_results.get_or_create(&KindAndOutcome { kind: task.kind.as_str(), outcome }).inc();
        }
    }

    /// Counts the state's unfinished tasks (from its derived counts), jobs and nodes by
    /// state. Every combination is set, zeros included, so a count that drops to zero says so.
    pub fn count(&self, state: &State) {
        for kind in TaskKind::ALL {
            for (task_state, label) in OPEN_TASK_STATES {
                let count = i64::try_from(state.task_count(kind, task_state)).unwrap_or(i64::MAX);
                self.tasks.get_or_create(&KindAndState { kind: kind.as_str(), state: label }).set(count);
            }
        }
        for job_state in JOB_STATES {
            let count = state.jobs.values().filter(|job| job.state == job_state).count();
            self.jobs.get_or_create(&StateLabel { state: job_state.as_str() }).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        for node_state in NODE_STATES {
            let count = state.nodes.values().filter(|node| node.state == node_state).count();
            self.nodes.get_or_create(&StateLabel { state: node_state.as_str() }).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    pub fn placement_round(&self, took: Duration) {
        self.placement_round.observe(took.as_secs_f64());
    }
}
