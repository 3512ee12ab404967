//! The replay: the measured task graph run again, in simulation, on a farm of N identical
//! agents, with the scheduler's greedy rule (see `README.md` beside this file). Each task
//! keeps its measured wall duration; time advances from one task's end to the next.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::graph::TaskDag;

/// Where and when the replay ran one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub agent: usize,
    pub start_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// When the last task ended (ms from the first one's start).
    pub makespan_ms: u64,
    /// Per task, in the graph's order.
    pub placements: Vec<Placement>,
}

/// One simulated agent.
#[derive(Debug, Clone, Copy)]
struct AgentLoad {
    free_milli: u32,
    running: u32,
}

/// Replays `dag` on `agents` agents of `capacity_milli` CPU each. A task's demand is fitted
/// to the capacity (as `Demand::fitted_to` does: an agent with fewer cores than a task asks
/// for gives it all of them), so every task fits an idle agent.
pub fn replay(dag: &TaskDag, agents: usize, capacity_milli: u32) -> Replay {
    let tasks = dag.tasks();
    let agents = agents.max(1);
    let capacity_milli = capacity_milli.max(1);
    let demand = |index: usize| tasks[index].cpu_milli.clamp(1, capacity_milli);
    let mut waiting_on: Vec<usize> = (0..tasks.len()).map(|index| dag.dependencies(index).len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for index in 0..tasks.len() {
        for &dep in dag.dependencies(index) {
            dependents[dep].push(index);
        }
    }
    let mut loads = vec![AgentLoad { free_milli: capacity_milli, running: 0 }; agents];
    // The queue in the scheduler's order for one job: by task id (creation order), whenever
    // a task became ready.
    let mut queue: BTreeSet<(u64, usize)> = (0..tasks.len()).filter(|&index| waiting_on[index] == 0).map(|index| (tasks[index].id, index)).collect();
    let mut running: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut placements = vec![Placement { agent: 0, start_ms: 0 }; tasks.len()];
    let mut now = 0u64;
    let mut makespan = 0u64;
    loop {
        place_ready(&mut queue, &mut loads, capacity_milli, &demand, |index, agent| {
            placements[index] = Placement { agent, start_ms: now };
            let end = now + tasks[index].duration_ms;
            makespan = makespan.max(end);
            running.push(Reverse((end, index, agent)));
        });
        let Some(&Reverse((end, _, _))) = running.peek() else { break };
        now = end;
        while let Some(&Reverse((end, index, agent))) = running.peek() {
            if end != now {
                break;
            }
            running.pop();
            loads[agent].free_milli += demand(index);
            loads[agent].running -= 1;
            for &dependent in &dependents[index] {
                waiting_on[dependent] -= 1;
                if waiting_on[dependent] == 0 {
                    queue.insert((tasks[dependent].id, dependent));
                }
            }
        }
    }
    Replay { makespan_ms: makespan, placements }
}

/// Places queued tasks in queue order while any fits (a task that fits nowhere waits and the
/// ones behind it are still tried, as the scheduler's placement round does). Each goes to
/// the agent with the lowest score: 2 per task it already runs (spreading one job's tasks)
/// plus the fraction of its CPU left free after placing (best fit); ties to the lowest index.
fn place_ready(
    queue: &mut BTreeSet<(u64, usize)>,
    loads: &mut [AgentLoad],
    capacity_milli: u32,
    demand: &impl Fn(usize) -> u32,
    mut start: impl FnMut(usize, usize),
) {
    let mut most_free = loads.iter().map(|load| load.free_milli).max().unwrap_or(0);
    let mut placed = Vec::new();
    for &(id, index) in queue.iter() {
        let need = demand(index);
        if need > most_free {
            continue;
        }
        let score = |load: &AgentLoad| 2.0 * f64::from(load.running) + f64::from(load.free_milli - need) / f64::from(capacity_milli);
        let best = loads
            .iter()
            .enumerate()
            .filter(|(_, load)| load.free_milli >= need)
            .min_by(|(_, left), (_, right)| score(left).total_cmp(&score(right)))
            .map(|(agent, _)| agent);
        if let Some(agent) = best {
            loads[agent].free_milli -= need;
            loads[agent].running += 1;
            most_free = loads.iter().map(|load| load.free_milli).max().unwrap_or(0);
            placed.push((id, index));
            start(index, agent);
        }
        if most_free == 0 {
            break;
        }
    }
    for entry in placed {
        queue.remove(&entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_dag::graph::DagTask;

    /// A task taking a whole agent (1000 of 1000 millicores) for `seconds`.
    fn whole(id: u64, deps: &[u64], seconds: u64) -> DagTask {
        DagTask { id, kind: "encode".to_owned(), deps: deps.to_vec(), duration_ms: seconds * 1000, cpu_seconds: None, cpu_milli: 1000 }
    }

    fn makespan_seconds(tasks: Vec<DagTask>, agents: usize) -> f64 {
        replay(&TaskDag::new(tasks).unwrap(), agents, 1000).makespan_ms as f64 / 1000.0
    }

    #[test]
    fn a_chain_takes_its_length_on_any_farm() {
        let chain = || vec![whole(1, &[], 1), whole(2, &[1], 2), whole(3, &[2], 3)];
        for agents in [1, 2, 16] {
            assert_eq!(makespan_seconds(chain(), agents), 6.0, "{agents} agents");
        }
    }

    #[test]
    fn a_fork_join_is_optimal() {
        // 1 s, then four 2 s tasks side by side, then 1 s: OPT is 1 + 2·⌈4/N⌉ + 1.
        let fork_join = || vec![whole(1, &[], 1), whole(2, &[1], 2), whole(3, &[1], 2), whole(4, &[1], 2), whole(5, &[1], 2), whole(6, &[2, 3, 4, 5], 1)];
        assert_eq!(makespan_seconds(fork_join(), 1), 10.0);
        assert_eq!(makespan_seconds(fork_join(), 2), 6.0);
        assert_eq!(makespan_seconds(fork_join(), 4), 4.0);
        assert_eq!(makespan_seconds(fork_join(), 64), 4.0);
    }

    #[test]
    fn equal_independent_tasks_fill_the_agents_evenly() {
        let tasks = || (1..=8).map(|id| whole(id, &[], 1)).collect::<Vec<_>>();
        assert_eq!(makespan_seconds(tasks(), 4), 2.0, "⌈8/4⌉ rounds of 1 s");
        assert_eq!(makespan_seconds(tasks(), 3), 3.0, "⌈8/3⌉ rounds");
        let replayed = replay(&TaskDag::new(tasks()).unwrap(), 4, 1000);
        let mut per_agent = [0; 4];
        for placement in &replayed.placements {
            per_agent[placement.agent] += 1;
        }
        assert_eq!(per_agent, [2, 2, 2, 2]);
    }

    #[test]
    fn queue_order_can_miss_the_optimum_within_grahams_bound() {
        // Two 1 s tasks queued before a 2 s one on 2 agents: list scheduling starts the short
        // ones together and ends at 3 s; OPT runs the long one beside both short ones (2 s).
        // Graham: list makespan ≤ (2 − 1/N)·OPT = 1.5 · 2 s.
        let makespan = makespan_seconds(vec![whole(1, &[], 1), whole(2, &[], 1), whole(3, &[], 2)], 2);
        assert_eq!(makespan, 3.0);
        assert!(makespan <= (2.0 - 1.0 / 2.0) * 2.0);
    }

    #[test]
    fn tasks_asking_part_of_an_agent_share_it_and_spread_first() {
        // Half-agent tasks: two run side by side on one agent; with two agents they spread.
        let half = |id: u64| DagTask { cpu_milli: 500, ..whole(id, &[], 1) };
        let four = || (1..=4).map(half).collect::<Vec<_>>();
        assert_eq!(makespan_seconds(four(), 1), 2.0);
        let two = replay(&TaskDag::new(vec![half(1), half(2)]).unwrap(), 2, 1000);
        assert_eq!(two.placements.iter().map(|placement| placement.agent).collect::<Vec<_>>(), vec![0, 1], "spread over the agents");
        // A task asking more than an agent has gets the whole agent.
        let big = DagTask { cpu_milli: 4000, ..whole(1, &[], 3) };
        assert_eq!(makespan_seconds(vec![big, half(2)], 1), 4.0, "the half task waits for the whole-agent one");
    }

    #[test]
    fn the_queue_is_served_in_task_order_not_ready_order() {
        // Task 2 (a score, created before encode 3) becomes ready when encode 1 ends and still
        // goes before encode 3, which was ready from the start: the scheduler's queue is by id.
        let replayed = replay(&TaskDag::new(vec![whole(1, &[], 2), whole(2, &[1], 1), whole(3, &[], 2)]).unwrap(), 1, 1000);
        assert_eq!(replayed.placements.iter().map(|placement| placement.start_ms).collect::<Vec<_>>(), vec![0, 2000, 3000]);
    }

    #[test]
    fn a_task_that_does_not_fit_lets_the_ones_behind_it_start() {
        // Agent of 1000: a 600 task runs; the next 600 waits, the 400 behind it starts now.
        let part = |id: u64, milli: u32, seconds: u64| DagTask { cpu_milli: milli, ..whole(id, &[], seconds) };
        let replayed = replay(&TaskDag::new(vec![part(1, 600, 2), part(2, 600, 2), part(3, 400, 1)]).unwrap(), 1, 1000);
        assert_eq!(replayed.placements.iter().map(|placement| placement.start_ms).collect::<Vec<_>>(), vec![0, 2000, 0]);
        assert_eq!(replayed.makespan_ms, 4000);
    }
}
