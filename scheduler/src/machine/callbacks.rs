//! Callback events as the state machine sees them: one is made on each state change of a
//! job that gave a callback URL (submitted: pending; first placement: running; its end), its
//! body fixed at that moment; the leader's delivery reports back whether the receiver took
//! the first pending event or refused it (`Command::CallbackDelivered` / `CallbackRefused`).

use serde::Serialize;
use shotfarm_proto::pipeline::ReportedRendition;

use super::command::{Outcome, Refusal};
use crate::state::callback_outbox::{CALLBACK_ATTEMPTS, CallbackEvent, CallbackOutbox, event_id};
use crate::state::model::{JobId, JobState, Millis, format_job_id};
use crate::state::{RowKey, State};

/// A refusal's reason is kept to this many bytes (a receiver's error page can be long).
const MAX_ERROR_BYTES: usize = 512;

/// The JSON document a receiver gets. Its fields only grow; a receiver ignores those it
/// does not know.
#[derive(Debug, Serialize)]
struct EventBody<'a> {
    event_id: &'a str,
    job_id: &'a str,
    /// 1, 2, 3… per job: a receiver that has seen `sequence` n has seen every event before it.
    sequence: u32,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_state: Option<&'static str>,
    /// When the change was applied (the leader's clock, ms since the epoch).
    at_ms: Millis,
    request_id: &'a str,
    labels: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipe: Option<String>,
    output_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// On success: report.json's location and every rendition with its quality.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    renditions: Vec<ReportedRendition>,
}

/// Records `job`'s change from `previous` (none: just submitted) to its current state as its
/// next callback event, if it has a callback URL.
pub(super) fn note_state_change(state: &mut State, job_id: JobId, previous: Option<JobState>, now_ms: Millis) {
    let Some(job) = state.jobs.get(&job_id) else { return };
    if job.spec.callback_url.is_empty() {
        return;
    }
    let report = if job.state == JobState::Succeeded { state.job_report(job) } else { None };
    let job_name = format_job_id(job_id);
    let sequence = job.callbacks.events + 1;
    let id = event_id(&job_name, sequence);
    let body = EventBody {
        event_id: &id,
        job_id: &job_name,
        sequence,
        state: job.state.as_str(),
        previous_state: previous.map(JobState::as_str),
        at_ms: now_ms,
        request_id: &job.request_id,
        labels: &job.spec.labels,
        recipe: job.spec.from_recipe.as_ref().map(|from| format!("{}@{}", from.name, from.version)),
        output_url: &job.spec.output_url,
        error: job.error.as_deref(),
        report_url: report.as_ref().map(|report| report.url.clone()),
        renditions: report.map(|report| report.renditions).unwrap_or_default(),
    };
    let body = serde_json::to_string(&body).unwrap_or_else(|err| format!("{{\"event_id\":\"{id}\",\"error\":\"cannot encode the event: {err}\"}}"));
    let Some(job) = state.jobs.get_mut(&job_id) else { return };
    job.callbacks.events = sequence;
    job.callbacks.pending.push(CallbackEvent { sequence, body });
    state.mark(RowKey::Job(job_id));
    state.note_callbacks(job_id);
}

/// The receiver took event `sequence`: the next one may go.
pub(super) fn callback_delivered(state: &mut State, job_id: JobId, sequence: u32) -> Outcome {
    settle(state, job_id, sequence, |outbox| {
        outbox.pending.remove(0);
        outbox.delivered += 1;
        outbox.last_error = None;
    })
}

/// The receiver refused event `sequence` (or could not be reached): try again after the
/// backoff, or give it up after [`CALLBACK_ATTEMPTS`] refusals.
pub(super) fn callback_refused(state: &mut State, job_id: JobId, sequence: u32, error: &str, now_ms: Millis) -> Outcome {
    let mut error = error.to_owned();
    if error.len() > MAX_ERROR_BYTES {
        // (`floor_char_boundary` is newer than the workspace's rust-version.)
        let end = (0..=MAX_ERROR_BYTES).rev().find(|end| error.is_char_boundary(*end)).unwrap_or(0);
        error.truncate(end);
    }
    settle(state, job_id, sequence, |outbox| {
        outbox.failed_attempts += 1;
        if outbox.failed_attempts >= CALLBACK_ATTEMPTS {
            outbox.pending.remove(0);
            outbox.given_up += 1;
            outbox.last_error = Some(format!("gave up event {sequence} after {CALLBACK_ATTEMPTS} attempts: {error}"));
            return;
        }
        outbox.next_attempt_at_ms = now_ms + CallbackOutbox::backoff_ms(outbox.failed_attempts);
        outbox.last_error = Some(error);
    })
}

/// Applies `change` to the outbox when `sequence` is its first pending event; a report about
/// any other event (a duplicate, or a former leader's late one) changes nothing.
fn settle(state: &mut State, job_id: JobId, sequence: u32, change: impl FnOnce(&mut CallbackOutbox)) -> Outcome {
    let Some(job) = state.jobs.get_mut(&job_id) else { return Outcome::Refused(Refusal::UnknownJob(format_job_id(job_id))) };
    let outbox = &mut job.callbacks;
    if outbox.pending.first().map(|event| event.sequence) != Some(sequence) {
        return Outcome::Refused(Refusal::Invalid(format!("event {sequence} of {} is not the next one owed", format_job_id(job_id))));
    }
    let before = outbox.pending.len();
    change(outbox);
    if outbox.pending.len() < before {
        // The next event goes at once, with a fresh count.
        outbox.failed_attempts = 0;
        outbox.next_attempt_at_ms = 0;
    }
    state.mark(RowKey::Job(job_id));
    state.note_callbacks(job_id);
    Outcome::Applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Command, apply};
    use crate::state::model::JobSpec;

    fn submitted(state: &mut State, callback_url: &str) -> JobId {
        let spec = JobSpec { callback_url: callback_url.to_owned(), ..JobSpec::for_tests() };
        let command = Command::SubmitJob { request_id: "r".to_owned(), owner: String::new(), spec, now_ms: 10, trace_parent: None };
        let (Outcome::JobSubmitted { job, .. }, _) = apply(state, &command) else { panic!("not submitted") };
        job
    }

    fn bodies(state: &State, job: JobId) -> Vec<serde_json::Value> {
        state.jobs[&job].callbacks.pending.iter().map(|event| serde_json::from_str(&event.body).expect("json")).collect()
    }

    #[test]
    fn a_job_without_a_callback_url_makes_no_events() {
        let mut state = State::default();
        let job = submitted(&mut state, "");
        apply(&mut state, &Command::CancelJob { job, now_ms: 20 });
        assert_eq!(state.jobs[&job].callbacks, CallbackOutbox::default());
        assert_eq!(state.jobs_with_pending_callbacks().count(), 0);
    }

    #[test]
    fn each_state_change_is_an_event_in_order_and_the_index_follows_the_outbox() {
        let mut state = State::default();
        let job = submitted(&mut state, "http://127.0.0.1:9/hook");
        apply(&mut state, &Command::CancelJob { job, now_ms: 20 });
        let events = bodies(&state, job);
        assert_eq!(events.len(), 2);
        assert_eq!((events[0]["event_id"].as_str(), events[0]["state"].as_str(), events[0]["sequence"].as_u64()), (Some("job-1.1"), Some("pending"), Some(1)));
        assert_eq!((events[1]["state"].as_str(), events[1]["previous_state"].as_str(), events[1]["at_ms"].as_u64()), (Some("cancelled"), Some("pending"), Some(20)));
        assert_eq!(state.jobs_with_pending_callbacks().collect::<Vec<_>>(), vec![job]);

        // Only the first pending event can be settled; a late report of another changes nothing.
        assert!(matches!(apply(&mut state, &Command::CallbackDelivered { job, sequence: 2, now_ms: 30 }).0, Outcome::Refused(_)));
        assert_eq!(apply(&mut state, &Command::CallbackDelivered { job, sequence: 1, now_ms: 30 }).0, Outcome::Applied);
        assert!(matches!(apply(&mut state, &Command::CallbackDelivered { job, sequence: 1, now_ms: 31 }).0, Outcome::Refused(_)));
        assert_eq!(apply(&mut state, &Command::CallbackDelivered { job, sequence: 2, now_ms: 32 }).0, Outcome::Applied);
        let outbox = &state.jobs[&job].callbacks;
        assert_eq!((outbox.events, outbox.delivered, outbox.pending.len()), (2, 2, 0));
        assert_eq!(state.jobs_with_pending_callbacks().count(), 0);
        // The index is derived: a state rebuilt from its rows has the same one.
        let reloaded = State::from_image(state.to_image());
        assert_eq!(reloaded.jobs_with_pending_callbacks().count(), 0);
    }

    #[test]
    fn a_refused_event_backs_off_and_is_given_up_after_the_last_attempt() {
        let mut state = State::default();
        let job = submitted(&mut state, "http://127.0.0.1:9/hook");
        apply(&mut state, &Command::CallbackRefused { job, sequence: 1, error: "HTTP 503".to_owned(), now_ms: 1_000 });
        let outbox = &state.jobs[&job].callbacks;
        assert_eq!((outbox.failed_attempts, outbox.next_attempt_at_ms, outbox.last_error.as_deref()), (1, 2_000, Some("HTTP 503")));
        let reloaded = State::from_image(state.to_image());
        assert_eq!(reloaded.jobs_with_pending_callbacks().collect::<Vec<_>>(), vec![job], "a reloaded replica still owes it");
        for attempt in 2..=CALLBACK_ATTEMPTS {
            apply(&mut state, &Command::CallbackRefused { job, sequence: 1, error: "x".repeat(4096), now_ms: u64::from(attempt) * 1_000 });
        }
        let outbox = &state.jobs[&job].callbacks;
        assert_eq!((outbox.given_up, outbox.pending.len(), outbox.failed_attempts), (1, 0, 0));
        assert!(outbox.last_error.as_deref().is_some_and(|error| error.starts_with("gave up event 1") && error.len() < MAX_ERROR_BYTES + 100));
        assert_eq!(state.jobs_with_pending_callbacks().count(), 0);
    }
}
