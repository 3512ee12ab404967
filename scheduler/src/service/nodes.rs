//! `NodeService`: agents register, then keep one session stream to the leader carrying
//! heartbeats, progress and results one way, assignments, acks and cancellations the other.

use std::pin::Pin;
use std::time::Instant;

use futures::{Stream, StreamExt};
use shotfarm_proto::v1::{self, agent_message, node_service_server::NodeService, scheduler_message, task_result};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::status::{from_driver, from_refusal, invalid};
use crate::machine::{Command, Outcome};
use crate::replica_node::driver::now_ms;
use crate::replica_node::sessions::{SESSION_QUEUE, SessionSender};
use crate::replica_node::{DriverError, DriverHandle};
use crate::state::model::{NodeId, NodeState, format_job_id};

/// Largest task output accepted (results travel through the log).
const MAX_OUTPUT_BYTES: usize = 4 << 20;
/// Most unacknowledged results a registering agent may say it holds.
const MAX_HELD_RESULTS: usize = 4096;

pub struct Nodes {
    pub driver: DriverHandle,
    pub heartbeat_interval_ms: u32,
}

fn leader_only(driver: &DriverHandle) -> Result<(), Status> {
    let info = driver.info();
    if info.is_leader() { Ok(()) } else { Err(from_driver(DriverError::NotLeader { leader: info.leader_hint() })) }
}

fn node_name(name: &str) -> Result<(), Status> {
    if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c)) {
        return Err(invalid("name", format!("{name:?}: node names are 1..=128 characters of letters, digits and - _ . : @")));
    }
    Ok(())
}

type SessionStream = Pin<Box<dyn Stream<Item = Result<v1::SchedulerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl NodeService for Nodes {
    async fn register(&self, request: Request<v1::RegisterRequest>) -> Result<Response<v1::RegisterResponse>, Status> {
        let request = request.into_inner();
        node_name(&request.name)?;
        let capabilities = request.capabilities.as_ref().ok_or_else(|| invalid("capabilities", "are missing"))?;
        let capabilities = convert::capabilities_from_wire(capabilities).map_err(|why| invalid("capabilities", why))?;
        if request.labels.len() > 64 {
            return Err(invalid("labels", "at most 64"));
        }
        if request.held.len() > MAX_HELD_RESULTS {
            return Err(invalid("held", format!("{} attempts; at most {MAX_HELD_RESULTS}", request.held.len())));
        }
        let held: Vec<(u64, u32)> = request.held.iter().map(|task| (task.task_id, task.attempt)).collect();
        leader_only(&self.driver)?;
        let command = Command::RegisterNode {
            name: request.name,
            capabilities,
            labels: request.labels.into_iter().collect(),
            held: held.clone(),
            now_ms: now_ms(),
        };
        let node = match self.driver.propose_one(command).await.map_err(from_driver)? {
            Outcome::NodeRegistered { node } => node,
            Outcome::Refused(refusal) => return Err(from_refusal(refusal)),
            other => return Err(Status::internal(format!("unexpected outcome {other:?}"))),
        };
        self.driver.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).heartbeat(node, &held, Instant::now());
        Ok(Response::new(v1::RegisterResponse {
            node_id: node,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            node_timeout_ms: self.driver.config.liveness.node_timeout.as_millis() as u32,
        }))
    }

    type SessionStream = SessionStream;

    async fn session(&self, request: Request<Streaming<v1::AgentMessage>>) -> Result<Response<Self::SessionStream>, Status> {
        leader_only(&self.driver)?;
        let mut inbound = request.into_inner();
        let node = match inbound.next().await {
            Some(Ok(v1::AgentMessage { body: Some(agent_message::Body::Hello(hello)) })) => hello.node_id,
            Some(Ok(_)) => return Err(Status::invalid_argument("the first session message must be hello")),
            Some(Err(status)) => return Err(status),
            None => return Err(Status::invalid_argument("the session ended before hello")),
        };
        // The node must exist and be alive; a node declared down registers again.
        let (known, leases) = self
            .driver
            .local_read(move |state| {
                let node_state = state.nodes.get(&node).map(|found| found.state);
                let leases: Vec<v1::SchedulerMessage> = state
                    .nodes
                    .get(&node)
                    .into_iter()
                    .flat_map(|found| found.running.iter())
                    .filter_map(|task_id| state.tasks.get(task_id))
                    .filter_map(|task| {
                        let lease = task.lease.as_ref()?;
                        Some(v1::SchedulerMessage {
                            body: Some(scheduler_message::Body::Assignment(v1::Assignment {
                                task: Some(v1::TaskRef { task_id: task.id, attempt: lease.attempt }),
                                job_id: format_job_id(task.job),
                                kind: task.kind.as_str().to_owned(),
                                spec_json: task.spec_json.clone().unwrap_or_default().into_bytes(),
                                backend: lease.backend.clone(),
                                gpu_index: lease.gpu.unwrap_or(0),
                            })),
                        })
                    })
                    .collect();
                (node_state, leases)
            })
            .await
            .map_err(from_driver)?;
        match known {
            None => return Err(Status::not_found(format!("no node {node}; register first"))),
            Some(NodeState::Down) => {
                return Err(Status::failed_precondition(format!("node {node} was declared down; register again")));
            }
            Some(_) => {}
        }
        let (outbound, receiver) = mpsc::channel(SESSION_QUEUE);
        // What this node holds already goes first: after a leader change the agent may have
        // missed assignments; it ignores the ones it runs.
        for assignment in leases {
            let _ = outbound.try_send(Ok(assignment));
        }
        let session = self.driver.sessions.attach(node, outbound.clone());
        self.driver.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).heartbeat(node, &[], Instant::now());
        tracing::info!(node, "agent session started");
        let driver = self.driver.clone();
        tokio::spawn(async move {
            while let Some(message) = inbound.next().await {
                let Ok(message) = message else { break };
                match message.body {
                    Some(agent_message::Body::Heartbeat(heartbeat)) => {
                        let running: Vec<(u64, u32)> = heartbeat.running.iter().map(|task| (task.task_id, task.attempt)).collect();
                        driver.liveness.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).heartbeat(node, &running, Instant::now());
                    }
                    Some(agent_message::Body::Progress(progress)) => {
                        let Some(task) = progress.task else { continue };
                        let entry = v1::TaskProgress {
                            task_id: task.task_id,
                            attempt: task.attempt,
                            frames_done: progress.frames_done,
                            frames_total: progress.frames_total,
                            fps: if progress.fps.is_finite() { progress.fps } else { 0.0 },
                        };
                        driver.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_task.insert(task.task_id, entry);
                    }
                    Some(agent_message::Body::Result(result)) => {
                        tokio::spawn(report_result(driver.clone(), node, result, outbound.clone()));
                    }
                    Some(agent_message::Body::Hello(_)) | None => {}
                }
            }
            driver.sessions.detach(node, session);
            tracing::info!(node, "agent session ended");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// Proposes a task result and acks it to the agent.
async fn report_result(driver: DriverHandle, node: NodeId, result: v1::TaskResult, outbound: SessionSender) {
    let Some(task) = result.task else { return };
    let now = now_ms();
    let command = match result.outcome {
        Some(task_result::Outcome::Succeeded(success)) => {
            if success.output_json.len() > MAX_OUTPUT_BYTES {
                Command::FailTask {
                    task: task.task_id,
                    attempt: task.attempt,
                    error: format!("the task output is {} bytes; at most {MAX_OUTPUT_BYTES}", success.output_json.len()),
                    retryable: false,
                    now_ms: now,
                }
            } else {
                match String::from_utf8(success.output_json) {
                    Ok(output_json) => Command::CompleteTask { task: task.task_id, attempt: task.attempt, backend: success.backend, output_json, now_ms: now },
                    Err(_) => Command::FailTask { task: task.task_id, attempt: task.attempt, error: "the task output is not UTF-8".to_owned(), retryable: true, now_ms: now },
                }
            }
        }
        Some(task_result::Outcome::Failed(failure)) => Command::FailTask {
            task: task.task_id,
            attempt: task.attempt,
            error: failure.error.chars().take(8192).collect(),
            retryable: failure.retryable,
            now_ms: now,
        },
        None => return,
    };
    let (accepted, reason) = match driver.propose_one(command).await {
        Ok(Outcome::ResultAccepted { .. }) => (true, String::new()),
        Ok(Outcome::Refused(refusal)) => (false, refusal.to_string()),
        Ok(other) => (false, format!("unexpected outcome {other:?}")),
        // Outcome unknown: no ack; the agent re-reports after reconnecting.
        Err(err) => {
            tracing::debug!(node, task = task.task_id, %err, "result not committed");
            return;
        }
    };
    driver.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_task.remove(&task.task_id);
    let ack = v1::SchedulerMessage { body: Some(scheduler_message::Body::Ack(v1::ResultAck { task: Some(task), accepted, reason })) };
    let _ = outbound.send(Ok(ack)).await;
}
