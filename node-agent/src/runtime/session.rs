//! The connection to the scheduler: register, keep one session stream to the leader
//! (following leader hints, reconnecting with jittered backoff), heartbeat, start assigned
//! attempts, forward progress, report results (journaled first) and drop them once acked.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::node_service_client::NodeServiceClient;
use shotfarm_proto::v1::{self, agent_message, scheduler_message, task_result};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use super::journal::{FinishedAttempt, FinishedOutcome, Journal};
use super::runner::Runner;
use super::{AgentError, Shutdown};

/// Why a session ended.
pub enum SessionEnd {
    /// Shutdown finished (graceful: nothing left to run or report; or abort).
    Stopped,
    /// The scheduler forgot or buried this node: register again.
    Reregister,
    /// The stream broke (leader change, network): reconnect.
    Reconnect,
}

pub struct Connection<'a> {
    pub client: &'a LeaderClient,
    pub node_id: u64,
    pub heartbeat_interval: Duration,
    pub runner: &'a Runner,
    pub journal: &'a Journal,
    pub finished: &'a mut mpsc::UnboundedReceiver<FinishedAttempt>,
    pub progress: &'a mut mpsc::Receiver<v1::Progress>,
    pub shutdown: &'a Shutdown,
}

/// A delay before reconnecting: exponential with jitter, so a farm of agents does not
/// stampede a new leader.
pub fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(5)).min(3000);
    Duration::from_millis(base / 2 + rand::rng().random_range(0..=base / 2))
}

fn result_message(finished: &FinishedAttempt) -> v1::AgentMessage {
    let outcome = match &finished.outcome {
        FinishedOutcome::Succeeded { output_json, backend, elapsed_ms, cpu_micros } => task_result::Outcome::Succeeded(v1::TaskSucceeded {
            output_json: output_json.clone().into_bytes(),
            backend: backend.clone(),
            elapsed_ms: *elapsed_ms,
            cpu_micros: *cpu_micros,
        }),
        FinishedOutcome::Failed { error, retryable } => {
            task_result::Outcome::Failed(v1::TaskFailed { error: error.clone(), retryable: *retryable })
        }
    };
    v1::AgentMessage {
        body: Some(agent_message::Body::Result(v1::TaskResult {
            task: Some(v1::TaskRef { task_id: finished.task_id, attempt: finished.attempt }),
            outcome: Some(outcome),
        })),
    }
}

impl Connection<'_> {
    /// Runs one session until it ends.
    pub async fn run(&mut self) -> Result<SessionEnd, AgentError> {
        let node_id = self.node_id;
        let opened = self
            .client
            .call(|channel| async move {
                let (outbound, receiver) = mpsc::channel::<v1::AgentMessage>(1024);
                let hello = v1::AgentMessage { body: Some(agent_message::Body::Hello(v1::Hello { node_id })) };
                outbound.send(hello).await.map_err(|_| tonic::Status::internal("session queue closed"))?;
                let inbound = NodeServiceClient::new(channel)
                    .max_decoding_message_size(16 << 20)
                    .session(ReceiverStream::new(receiver))
                    .await?
                    .into_inner();
                Ok((outbound, inbound))
            })
            .await;
        let (outbound, mut inbound) = match opened {
            Ok(opened) => opened,
            Err(status) if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => {
                tracing::warn!(%status, "the scheduler does not know this node as alive; registering again");
                return Ok(SessionEnd::Reregister);
            }
            Err(status) => {
                tracing::warn!(%status, "cannot open a session");
                return Ok(SessionEnd::Reconnect);
            }
        };
        tracing::info!(node_id, "session open");
        // Results finished while disconnected (or before a restart) go first.
        for pending in self.journal.pending() {
            tracing::info!(task_id = pending.task_id, attempt = pending.attempt, "reporting a journaled result");
            if outbound.send(result_message(&pending)).await.is_err() {
                return Ok(SessionEnd::Reconnect);
            }
        }
        let mut heartbeat = tokio::time::interval(self.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining = self.shutdown.graceful.is_cancelled();
        loop {
            if draining && self.runner.is_idle() && self.journal.pending().is_empty() {
                return Ok(SessionEnd::Stopped);
            }
            let send = tokio::select! {
                biased;
                () = self.shutdown.abort.cancelled() => return Ok(SessionEnd::Stopped),
                () = self.shutdown.graceful.cancelled(), if !draining => {
                    tracing::warn!("draining: no new tasks; finishing the running ones");
                    draining = true;
                    None
                }
                Some(finished) = self.finished.recv() => Some(result_message(&finished)),
                Some(progress) = self.progress.recv() => Some(v1::AgentMessage { body: Some(agent_message::Body::Progress(progress)) }),
                _ = heartbeat.tick() => Some(v1::AgentMessage {
                    body: Some(agent_message::Body::Heartbeat(v1::Heartbeat {
                        running: self.runner.running(),
                        free_slots: if draining { 0 } else { self.runner.free_slots() },
                    })),
                }),
                message = inbound.next() => match message {
                    Some(Ok(message)) => self.on_scheduler_message(message, draining),
                    Some(Err(status)) if status.code() == Code::FailedPrecondition || status.code() == Code::NotFound => {
                        tracing::warn!(%status, "session ended by the scheduler; registering again");
                        return Ok(SessionEnd::Reregister);
                    }
                    Some(Err(status)) => {
                        tracing::warn!(%status, "session lost");
                        return Ok(SessionEnd::Reconnect);
                    }
                    None => return Ok(SessionEnd::Reconnect),
                },
            };
            if let Some(message) = send
                && outbound.send(message).await.is_err() {
                    return Ok(SessionEnd::Reconnect);
                }
        }
    }

    /// Returns a message to send back, if any.
    fn on_scheduler_message(&mut self, message: v1::SchedulerMessage, draining: bool) -> Option<v1::AgentMessage> {
        match message.body? {
            scheduler_message::Body::Assignment(assignment) => {
                if draining {
                    // Hand it straight back so that it is placed elsewhere.
                    let task = assignment.task?;
                    let refused = FinishedAttempt {
                        task_id: task.task_id,
                        attempt: task.attempt,
                        outcome: FinishedOutcome::Failed { error: "the agent is shutting down".to_owned(), retryable: true },
                    };
                    return Some(result_message(&refused));
                }
                self.runner.start(assignment);
                None
            }
            scheduler_message::Body::Ack(ack) => {
                let task = ack.task?;
                if !ack.accepted {
                    tracing::warn!(task_id = task.task_id, attempt = task.attempt, reason = %ack.reason, "result refused");
                }
                if let Err(err) = self.journal.acknowledge(task.task_id, task.attempt) {
                    tracing::warn!(%err, "cannot drop an acknowledged result from the journal");
                }
                None
            }
            scheduler_message::Body::Cancel(cancel) => {
                let task = cancel.task?;
                tracing::info!(task_id = task.task_id, attempt = task.attempt, reason = %cancel.reason, "cancel requested");
                self.runner.cancel(task.task_id, task.attempt);
                None
            }
        }
    }
}
