//! `NodeService`: agents register, then keep one session stream to the leader carrying
//! heartbeats, progress and results one way, assignments, acks and cancellations the other.
//! Agents only, each as the node its certificate names: no one registers as, or takes over
//! the session of, another node.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use shotfarm_proto::v1::{self, agent_message, node_service_server::NodeService, scheduler_message, task_result};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::access::{Caller, Gate};
use super::convert;
use super::status::{ServiceError, invalid, unwanted};
use crate::machine::{Command, Outcome};
use crate::replica_node::DriverHandle;
use crate::replica_node::assignment::assignment;
use crate::replica_node::clock::now_ms;
use crate::replica_node::sessions::{SESSION_QUEUE, SessionSender};
use crate::state::model::{NodeId, NodeState};

/// Largest task output accepted (results travel through the log).
const MAX_OUTPUT_BYTES: usize = 4 << 20;
/// Most unacknowledged results a registering agent may say it holds.
const MAX_HELD_RESULTS: usize = 4096;

pub struct Nodes {
    pub driver: DriverHandle,
    pub gate: Gate,
    pub heartbeat_interval_ms: u32,
}

impl Nodes {
    async fn agent<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.gate.admit(request, "NodeService", &[shotfarm_security::Role::Agent]).await
    }
}

/// Refuses an agent acting for a node its certificate does not name.
fn own_node(caller: &Caller, name: &str) -> Result<(), Status> {
    match caller.node_name() {
        Some(allowed) if allowed != name => Err(ServiceError::Forbidden(format!(
            "this certificate is for node {allowed:?}; it may not act as node {name:?} (each agent needs its own certificate)"
        ))
        .into()),
        _ => Ok(()),
    }
}

fn node_name(name: &str) -> Result<(), Status> {
    if !shotfarm_security::identity::valid_name(name) {
        return Err(invalid("name", format!("{name:?}: node names are 1..=128 characters of letters, digits and - _ . : @")));
    }
    Ok(())
}

type SessionStream = Pin<Box<dyn Stream<Item = Result<v1::SchedulerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl NodeService for Nodes {
    async fn register(&self, request: Request<v1::RegisterRequest>) -> Result<Response<v1::RegisterResponse>, Status> {
        let caller = self.agent(&request).await?;
        let request = request.into_inner();
        node_name(&request.name)?;
        own_node(&caller, &request.name)?;
        let capabilities = request.capabilities.as_ref().ok_or_else(|| invalid("capabilities", "are missing"))?;
        let capabilities = convert::capabilities_from_wire(capabilities).map_err(|why| invalid("capabilities", why))?;
        if request.labels.len() > 64 {
            return Err(invalid("labels", "at most 64"));
        }
        if request.held.len() > MAX_HELD_RESULTS {
            return Err(invalid("held", format!("{} attempts; at most {MAX_HELD_RESULTS}", request.held.len())));
        }
        let held: Vec<(u64, u32)> = request.held.iter().map(|task| (task.task_id, task.attempt)).collect();
        self.driver.leader_only()?;
        let command = Command::RegisterNode {
            name: request.name,
            capabilities,
            labels: request.labels.into_iter().collect(),
            held: held.clone(),
            now_ms: now_ms(),
        };
        let node = match self.driver.propose_one(command).await? {
            Outcome::NodeRegistered { node } => node,
            other => return Err(unwanted(other)),
        };
        self.driver.agents().heard_from(node, &held);
        Ok(Response::new(v1::RegisterResponse {
            node_id: node,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            node_timeout_ms: self.driver.config().liveness.node_timeout.as_millis() as u32,
        }))
    }

    type SessionStream = SessionStream;

    async fn session(&self, request: Request<Streaming<v1::AgentMessage>>) -> Result<Response<Self::SessionStream>, Status> {
        let caller = self.agent(&request).await?;
        self.driver.leader_only()?;
        let mut inbound = request.into_inner();
        let node = match inbound.next().await {
            Some(Ok(v1::AgentMessage { body: Some(agent_message::Body::Hello(hello)) })) => hello.node_id,
            Some(Ok(_)) => return Err(ServiceError::SessionWithoutHello.into()),
            Some(Err(status)) => return Err(status),
            None => return Err(ServiceError::SessionEndedBeforeHello.into()),
        };
        // The node must exist and be alive; a node declared down registers again.
        let (known, leases) = self
            .driver
            .local_read(move |state| {
                let node_state = state.nodes.get(&node).map(|found| (found.state, found.name.clone()));
                let leases: Vec<v1::SchedulerMessage> = state
                    .nodes
                    .get(&node)
                    .into_iter()
                    .flat_map(|found| found.running.iter())
                    .filter_map(|task_id| state.tasks.get(task_id))
                    .filter_map(|task| task.lease.as_ref().map(|lease| assignment(state, task, lease.attempt)))
                    .collect();
                (node_state, leases)
            })
            .await?;
        let (node_state, name) = known.ok_or(ServiceError::NodeNotRegistered(node))?;
        own_node(&caller, &name)?;
        if node_state == NodeState::Down {
            return Err(ServiceError::NodeDeclaredDown(node).into());
        }
        let (outbound, receiver) = mpsc::channel(SESSION_QUEUE);
        // What this node holds already goes first: after a leader change the agent may have
        // missed assignments; it ignores the ones it runs.
        for assignment in leases {
            let _ = outbound.try_send(Ok(assignment));
        }
        let session = self.driver.agents().attach(node, outbound.clone());
        tracing::info!(node, "agent session started");
        let driver = self.driver.clone();
        tokio::spawn(async move {
            while let Some(message) = inbound.next().await {
                let Ok(message) = message else { break };
                match message.body {
                    Some(agent_message::Body::Heartbeat(heartbeat)) => {
                        let running: Vec<(u64, u32)> = heartbeat.running.iter().map(|task| (task.task_id, task.attempt)).collect();
                        driver.agents().heard_from(node, &running);
                    }
                    Some(agent_message::Body::Progress(progress)) => {
                        let Some(task) = progress.task else { continue };
                        driver.agents().record_progress(v1::TaskProgress {
                            task_id: task.task_id,
                            attempt: task.attempt,
                            frames_done: progress.frames_done,
                            frames_total: progress.frames_total,
                            fps: if progress.fps.is_finite() { progress.fps } else { 0.0 },
                        });
                    }
                    Some(agent_message::Body::Result(result)) => {
                        tokio::spawn(report_result(driver.clone(), node, result, outbound.clone()));
                    }
                    Some(agent_message::Body::Hello(_)) | None => {}
                }
            }
            driver.agents().detach(node, session);
            tracing::info!(node, "agent session ended");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver).map(|message| message.map_err(Status::from)))))
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
                    Ok(output_json) => Command::CompleteTask { task: task.task_id, attempt: task.attempt, backend: success.backend, output_json, now_ms: now, cpu_micros: success.cpu_micros },
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
        Ok(other) => (false, ServiceError::from_outcome(other).to_string()),
        // Outcome unknown: no ack; the agent re-reports after reconnecting.
        Err(err) => {
            tracing::debug!(node, task = task.task_id, %err, "result not committed");
            return;
        }
    };
    driver.agents().forget_progress(task.task_id);
    let ack = v1::SchedulerMessage { body: Some(scheduler_message::Body::Ack(v1::ResultAck { task: Some(task), accepted, reason })) };
    let _ = outbound.send(Ok(ack)).await;
}
