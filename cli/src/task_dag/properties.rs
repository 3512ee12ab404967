//! Properties of the replay that hold for every graph (proptest over random DAGs): the
//! bounds no schedule can beat, the one list scheduling cannot exceed, and Graham's bound
//! where every task takes a whole agent (identical machines, `P|prec|Cmax`).

use proptest::prelude::*;

use super::critical_path::span_ms;
use super::graph::{TaskDag, DagTask};
use super::list_schedule::replay;

const CAPACITY: u32 = 2000;

/// Up to 40 tasks; task i depends on some of the tasks before it; durations 1..5000 ms; CPU
/// demands from 100 to 3000 millicores (more than an agent has included).
fn graphs(whole_agent: bool) -> impl Strategy<Value = TaskDag> {
    proptest::collection::vec((1u64..5000, 100u32..3000, proptest::collection::vec(any::<proptest::sample::Index>(), 0..4)), 1..40).prop_map(move |specs| {
        let tasks = specs
            .iter()
            .enumerate()
            .map(|(index, (duration_ms, cpu_milli, deps))| {
                let mut deps: Vec<u64> = if index == 0 { Vec::new() } else { deps.iter().map(|dep| dep.index(index) as u64).collect() };
                deps.sort_unstable();
                deps.dedup();
                DagTask { id: index as u64, kind: "encode".to_owned(), deps, duration_ms: *duration_ms, cpu_seconds: None, cpu_milli: if whole_agent { CAPACITY } else { *cpu_milli } }
            })
            .collect();
        TaskDag::new(tasks).expect("edges only point backwards")
    })
}

/// CPU-time area: Σ duration × (demand fitted to an agent) / capacity, in agent-ms.
fn area_ms(dag: &TaskDag) -> f64 {
    dag.tasks().iter().map(|task| task.duration_ms as f64 * f64::from(task.cpu_milli.min(CAPACITY)) / f64::from(CAPACITY)).sum()
}

proptest! {
    #[test]
    fn no_replay_beats_the_span_or_the_area_and_none_exceeds_the_serial_sum(dag in graphs(false), agents in 1usize..300) {
        let replayed = replay(&dag, agents, CAPACITY);
        let serial: u64 = dag.tasks().iter().map(|task| task.duration_ms).sum();
        prop_assert!(replayed.makespan_ms >= span_ms(&dag));
        prop_assert!(replayed.makespan_ms as f64 >= area_ms(&dag) / agents as f64 - 1e-6);
        prop_assert!(replayed.makespan_ms <= serial, "an idle farm with a ready task starts it");
        for index in 0..dag.tasks().len() {
            for &dep in dag.dependencies(index) {
                prop_assert!(replayed.placements[index].start_ms >= replayed.placements[dep].start_ms + dag.tasks()[dep].duration_ms);
            }
        }
    }

    #[test]
    fn whole_agent_tasks_stay_within_grahams_bound(dag in graphs(true), agents in 1usize..64) {
        // Graham (1966): a list schedule ends by work/N + (1 − 1/N)·span ≤ (2 − 1/N)·OPT.
        let replayed = replay(&dag, agents, CAPACITY);
        let work: u64 = dag.tasks().iter().map(|task| task.duration_ms).sum();
        let n = agents as f64;
        let bound = work as f64 / n + (1.0 - 1.0 / n) * span_ms(&dag) as f64;
        prop_assert!(replayed.makespan_ms as f64 <= bound + 1e-6, "{} > {bound}", replayed.makespan_ms);
        if agents == 1 {
            prop_assert_eq!(replayed.makespan_ms, work, "one agent runs one whole-agent task at a time, never idle");
        }
    }
}
