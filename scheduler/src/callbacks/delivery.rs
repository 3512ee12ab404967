//! The leader's callback delivery: every few hundred milliseconds it reads the jobs that owe
//! an event whose time has come, POSTs each job's first pending event (one at a time per
//! job, so a receiver sees a job's events in order), and proposes what happened — taken
//! (2xx) or refused (anything else, or no answer in time). The outcome lives in the
//! replicated state, so the backoff, the attempt count and the events still owed all
//! survive a leader change; the new leader picks up where the old one stopped. An attempt
//! whose answer is lost with its leader is sent again, with the same id and body: delivery
//! is at least once, and a receiver that keeps the ids it handled sees each event once.

use std::collections::HashSet;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::endpoints::CallbackEndpoints;
use super::signature::{EVENT_ID_HEADER, SIGNATURE_HEADER, sign};
use crate::machine::Command;
use crate::replica_node::DriverHandle;
use crate::replica_node::clock::now_ms;
use crate::state::callback_outbox::event_id;
use crate::state::model::{JobId, Millis, format_job_id};

/// How often the leader looks for events due.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Jobs whose events are in flight at once.
const MAX_IN_FLIGHT: usize = 32;
/// A receiver that has not answered by then counts as a refusal.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// So many characters of a refusing receiver's answer are kept as the reason.
const REASON_CHARS: usize = 200;

/// One job's first pending event, due now.
#[derive(Debug, Clone)]
struct DueEvent {
    job: JobId,
    sequence: u32,
    url: String,
    body: String,
}

/// Runs until `shutdown`: delivers while this replica leads, idles otherwise.
pub async fn run(driver: DriverHandle, endpoints: CallbackEndpoints, shutdown: CancellationToken) {
    let client = match client() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(%err, "callback delivery is off: cannot build its HTTP client");
            return;
        }
    };
    let mut in_flight: HashSet<JobId> = HashSet::new();
    let mut attempts: JoinSet<(JobId, Command)> = JoinSet::new();
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = poll.tick() => {}
            Some(finished) = attempts.join_next() => {
                if let Ok((job, command)) = finished {
                    record(&driver, command).await;
                    in_flight.remove(&job);
                }
                continue;
            }
        }
        if !driver.info().is_leader() || in_flight.len() >= MAX_IN_FLIGHT {
            continue;
        }
        let room = MAX_IN_FLIGHT - in_flight.len();
        let busy = in_flight.clone();
        let Ok(due) = driver.local_read(move |state| due_events(state, now_ms(), &busy, room)).await else { continue };
        for event in due {
            in_flight.insert(event.job);
            let (client, endpoints) = (client.clone(), endpoints.clone());
            attempts.spawn(async move { (event.job, attempt(&client, &endpoints, event).await) });
        }
    }
}

/// Builds the one client every attempt shares: no redirects (a receiver gives its final
/// URL), a deadline per attempt, TLS through rustls with ring and the system's roots.
fn client() -> Result<reqwest::Client, reqwest::Error> {
    // The farm's process-wide rustls provider (ring); already installed when an agent
    // with S3 runs in the same process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT / 2)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("shotfarm/", env!("CARGO_PKG_VERSION"), " callbacks"))
        .build()
}

fn due_events(state: &crate::state::State, now: Millis, busy: &HashSet<JobId>, room: usize) -> Vec<DueEvent> {
    state
        .jobs_with_pending_callbacks()
        .filter(|job| !busy.contains(job))
        .filter_map(|id| {
            let job = state.jobs.get(&id)?;
            let event = job.callbacks.pending.first()?;
            (job.callbacks.next_attempt_at_ms <= now).then(|| DueEvent {
                job: id,
                sequence: event.sequence,
                url: job.spec.callback_url.clone(),
                body: event.body.clone(),
            })
        })
        .take(room)
        .collect()
}

/// POSTs one event; the command that records how it went.
async fn attempt(client: &reqwest::Client, endpoints: &CallbackEndpoints, event: DueEvent) -> Command {
    let id = event_id(&format_job_id(event.job), event.sequence);
    let refused = |error: String| Command::CallbackRefused { job: event.job, sequence: event.sequence, error, now_ms: now_ms() };
    let Some(secret) = endpoints.secret_for(&event.url) else {
        return refused(format!("{} is under none of this replica's --callback-endpoint prefixes (was the configuration changed?)", event.url));
    };
    let signature = sign(secret.bytes(), now_ms() / 1000, event.body.as_bytes());
    let sent = client
        .post(&event.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_ID_HEADER, &id)
        .header(SIGNATURE_HEADER, signature)
        .body(event.body.clone())
        .send()
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => {
            tracing::debug!(event = %id, status = %answer.status(), "callback delivered");
            Command::CallbackDelivered { job: event.job, sequence: event.sequence, now_ms: now_ms() }
        }
        Ok(answer) => {
            let status = answer.status();
            let text = answer.text().await.unwrap_or_default();
            let reason: String = text.chars().take(REASON_CHARS).collect();
            let hint = if status.is_redirection() { " (redirects are not followed: give the final URL)" } else { "" };
            tracing::info!(event = %id, %status, "callback refused; retried after a backoff");
            refused(format!("HTTP {status}{hint}: {}", reason.trim()))
        }
        Err(err) => {
            let error = describe(&err);
            tracing::info!(event = %id, %error, "callback not delivered; retried after a backoff");
            refused(error)
        }
    }
}

/// reqwest's error with its causes (the top-level one alone says only "error sending request").
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Proposes what an attempt found. When it cannot commit (leadership lost), the event stays
/// owed in the state, and whoever leads next sends it again.
async fn record(driver: &DriverHandle, command: Command) {
    if let Err(err) = driver.propose_one(command).await {
        tracing::debug!(%err, "callback outcome not recorded; the event stays owed");
    }
}
