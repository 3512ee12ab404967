//! The checker on hand-made histories: linearizable ones pass, each kind of violation is caught.

use super::*;
use crate::history::{JobState, NodeChange};

/// Builds histories by hand: times in milliseconds, `None` = never returned.
#[derive(Default)]
struct Builder {
    operations: Vec<Operation>,
}

impl Builder {
    fn op(mut self, call: Call, invoked_ms: u64, returned_ms: Option<u64>, outcome: Outcome) -> Builder {
        let id = self.operations.len();
        self.operations.push(Operation { id, call, outcome, invoked_ns: invoked_ms * 1_000_000, returned_ns: returned_ms.map(|ms| ms * 1_000_000) });
        self
    }

    fn submit(self, request: &str, at: (u64, u64), job: &str, created: bool) -> Builder {
        self.op(Call::Submit { request_id: request.into() }, at.0, Some(at.1), Outcome::Submitted { job_id: job.into(), created })
    }

    fn submit_lost(self, request: &str, at: u64) -> Builder {
        self.op(Call::Submit { request_id: request.into() }, at, None, Outcome::Indeterminate { why: "timeout".into() })
    }

    fn get(self, job: &str, at: (u64, u64), seen: Option<JobState>) -> Builder {
        let outcome = seen.map_or(Outcome::NotFound, |state| Outcome::Job { state });
        self.op(Call::Get { job_id: job.into() }, at.0, Some(at.1), outcome)
    }

    fn cancel(self, job: &str, at: (u64, u64), left: JobState) -> Builder {
        self.op(Call::Cancel { job_id: job.into() }, at.0, Some(at.1), Outcome::Job { state: left })
    }

    fn cancel_lost(self, job: &str, at: u64) -> Builder {
        self.op(Call::Cancel { job_id: job.into() }, at, None, Outcome::Indeterminate { why: "unknown".into() })
    }

    fn list(self, at: (u64, u64), nodes: &[(&str, NodeState)]) -> Builder {
        let nodes = nodes.iter().map(|(name, state)| ((*name).to_owned(), *state)).collect();
        self.op(Call::ListNodes, at.0, Some(at.1), Outcome::Nodes { nodes })
    }

    fn node(self, name: &str, change: NodeChange, at: (u64, u64), outcome: Outcome) -> Builder {
        self.op(Call::SetNodeState { node: name.into(), change }, at.0, Some(at.1), outcome)
    }

    fn history(self) -> History {
        History { operations: self.operations }
    }
}

use JobState::{Cancelled, Pending, Running, Succeeded};

#[test]
fn a_job_submitted_read_and_finished_is_linearizable() {
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .get("job-1", (11, 12), Some(Pending))
        .get("job-1", (13, 14), Some(Running))
        .get("job-1", (15, 16), Some(Succeeded))
        .submit("r1", (17, 18), "job-1", false)
        .cancel("job-1", (19, 20), Succeeded)
        .history();
    assert!(check(&history).is_ok(), "{}", check(&history).unwrap_err());
}

#[test]
fn concurrent_reads_may_see_either_side_of_a_submit() {
    // The get overlaps the submit: not found and found are both fine.
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .get("job-1", (1, 2), None)
        .get("job-1", (3, 9), Some(Running))
        .history();
    assert!(check(&history).is_ok());
}

#[test]
fn one_request_id_answered_with_two_jobs_is_caught() {
    let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r1", (20, 30), "job-2", false).history();
    let violation = check(&history).expect_err("two jobs for one request");
    assert_eq!(violation.key, "request:r1");
    assert!(violation.to_string().contains("submit(r1) -> job-2"), "{violation}");
}

#[test]
fn two_creations_for_one_request_id_are_caught_even_when_concurrent() {
    let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r1", (5, 15), "job-1", true).history();
    assert_eq!(check(&history).expect_err("created twice").key, "request:r1");
}

#[test]
fn two_request_ids_answered_with_one_job_are_caught() {
    let history = Builder::default().submit("r1", (0, 10), "job-1", true).submit("r2", (20, 30), "job-1", true).history();
    let violation = check(&history).expect_err("one job for two requests");
    assert!(violation.explanation.contains("\"r1\" and \"r2\""), "{violation}");
}

#[test]
fn a_job_not_found_after_its_submission_was_acknowledged_is_caught() {
    let history = Builder::default().submit("r1", (0, 10), "job-1", true).get("job-1", (20, 30), None).history();
    let violation = check(&history).expect_err("lost job");
    assert_eq!(violation.key, "job:job-1");
    assert!(violation.explanation.contains("get(job-1) -> not found"), "{violation}");
}

#[test]
fn a_job_seen_after_a_completed_read_said_not_found_after_the_ack_is_caught() {
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .get("job-1", (12, 14), Some(Pending))
        .get("job-1", (20, 30), None)
        .get("job-1", (40, 50), Some(Running))
        .history();
    assert!(check(&history).is_err());
}

#[test]
fn a_state_going_backwards_is_caught() {
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .get("job-1", (20, 30), Some(Running))
        .get("job-1", (40, 50), Some(Pending))
        .history();
    let violation = check(&history).expect_err("backwards");
    assert!(violation.explanation.contains("-> Pending"), "{violation}");
}

#[test]
fn a_stale_read_after_a_completed_cancel_is_caught() {
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .cancel("job-1", (20, 30), Cancelled)
        .get("job-1", (40, 50), Some(Running))
        .history();
    assert!(check(&history).is_err());
    // The same read overlapping the cancel is fine.
    let overlapping = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .cancel("job-1", (20, 30), Cancelled)
        .get("job-1", (25, 50), Some(Running))
        .history();
    assert!(check(&overlapping).is_ok());
}

#[test]
fn a_cancel_cannot_report_success_over_another_final_state() {
    let history = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .cancel("job-1", (11, 12), Cancelled)
        .cancel("job-1", (20, 30), Succeeded)
        .history();
    assert!(check(&history).is_err());
    // Only a cancel cancels.
    let uncalled = Builder::default().submit("r1", (0, 10), "job-1", true).get("job-1", (11, 12), Some(Cancelled)).history();
    assert!(check(&uncalled).is_err());
}

#[test]
fn an_indeterminate_submission_may_have_taken_effect() {
    // The lost submission created the job: a later one answers it with created=false.
    let took = Builder::default()
        .submit_lost("r1", 0)
        .submit("r1", (50, 60), "job-1", false)
        .get("job-1", (70, 80), Some(Running))
        .history();
    assert!(check(&took).is_ok(), "{}", check(&took).unwrap_err());
    // ... or it did not: the later one created it.
    let did_not = Builder::default().submit_lost("r1", 0).submit("r1", (50, 60), "job-1", true).history();
    assert!(check(&did_not).is_ok());
    // But a job it created can only appear after it was invoked.
    let before = Builder::default().get("job-1", (0, 5), Some(Pending)).submit_lost("r1", 10).submit("r1", (50, 60), "job-1", false).history();
    assert!(check(&before).is_err());
}

#[test]
fn an_indeterminate_cancel_may_or_may_not_have_taken_effect() {
    let took = Builder::default().submit("r1", (0, 10), "job-1", true).cancel_lost("job-1", 20).get("job-1", (30, 40), Some(Cancelled)).history();
    assert!(check(&took).is_ok());
    let did_not = Builder::default().submit("r1", (0, 10), "job-1", true).cancel_lost("job-1", 20).get("job-1", (30, 40), Some(Succeeded)).history();
    assert!(check(&did_not).is_ok());
    // Either way, it cannot take effect before it was invoked.
    let early = Builder::default()
        .submit("r1", (0, 10), "job-1", true)
        .get("job-1", (12, 14), Some(Cancelled))
        .cancel_lost("job-1", 20)
        .history();
    assert!(check(&early).is_err());
}

#[test]
fn node_changes_follow_the_operator() {
    let fine = Builder::default()
        .list((0, 1), &[("a", NodeState::Ready)])
        .node("a", NodeChange::Cordon, (2, 3), Outcome::Node { state: NodeState::Cordoned })
        .list((4, 5), &[("a", NodeState::Cordoned)])
        .list((6, 7), &[("a", NodeState::Down)])
        .node("a", NodeChange::Drain, (8, 9), Outcome::Refused { code: "FailedPrecondition".into(), message: "down".into() })
        .list((10, 11), &[("a", NodeState::Ready)])
        .history();
    assert!(check(&fine).is_ok(), "{}", check(&fine).unwrap_err());
    // Draining without a drain.
    let drained = Builder::default()
        .list((0, 1), &[("a", NodeState::Ready)])
        .node("a", NodeChange::Cordon, (2, 3), Outcome::Node { state: NodeState::Cordoned })
        .list((4, 5), &[("a", NodeState::Draining)])
        .history();
    assert_eq!(check(&drained).expect_err("draining from nowhere").key, "node:a");
    // A registered node disappearing.
    let vanished = Builder::default().list((0, 1), &[("a", NodeState::Ready)]).list((2, 3), &[("b", NodeState::Ready)]).history();
    assert_eq!(check(&vanished).expect_err("vanished").key, "node:a");
}

#[test]
fn a_long_history_with_many_concurrent_reads_checks_quickly() {
    let mut builder = Builder::default().submit("r1", (0, 10), "job-1", true);
    for index in 0..400u64 {
        let state = if index < 200 { Pending } else if index < 300 { Running } else { Succeeded };
        // Overlapping pairs of reads.
        builder = builder.get("job-1", (20 + index * 5, 28 + index * 5), Some(state));
    }
    let started = std::time::Instant::now();
    assert!(check(&builder.history()).is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}
