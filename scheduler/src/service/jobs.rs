//! `JobService`: submit, read, watch and cancel jobs, on the leader (a follower relays calls
//! here, `forward::jobs`; a relayed call that reaches a non-leader is answered with the
//! leader's address). Reads are linearizable (ReadIndex). Submitters and operators; a
//! submitter sees, watches and cancels only its own jobs (another's is "no such job").

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use shotfarm_proto::trace_context;
use shotfarm_proto::v1::{self, job_service_server::JobService};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::access::{Caller, Gate};
use super::status::{ServiceError, invalid, unwanted};
use super::job_pages::{self, PageRequest};
use super::{convert, recipes, validate};
use crate::machine::{Command, Outcome, Refusal};
use crate::replica_node::DriverHandle;
use crate::replica_node::clock::now_ms;
use crate::replica_node::stream_end::StreamEnd;
use crate::state::model::{JobSpec, JobState, format_job_id, parse_job_id};

/// The roles `JobService` admits.
pub const JOB_ROLES: &[shotfarm_security::Role] = &[shotfarm_security::Role::Submitter, shotfarm_security::Role::Operator];

pub struct Jobs {
    pub driver: DriverHandle,
    pub gate: Gate,
    /// Where jobs may read and write; anything else is refused here, before it is proposed.
    pub roots: shotfarm_proto::storage::JobRoots,
    /// Where job callbacks may go (`--callback-endpoint`).
    pub callbacks: crate::callbacks::CallbackEndpoints,
    /// Jobs pending or running a submitter may have at once.
    pub submitter_jobs_in_flight: u32,
}

impl Jobs {
    /// `SubmitJob` within its `span`, whose context the job keeps for its tasks.
    async fn submit_job_traced(&self, request: Request<v1::SubmitJobRequest>, span: &tracing::Span) -> Result<Response<v1::SubmitJobResponse>, Status> {
        let caller = self.caller(&request).await?;
        span.record("owner", caller.owner());
        let request = request.into_inner();
        validate::request_id(&request.request_id)?;
        span.record("request_id", &request.request_id);
        let spec = if request.recipe.is_empty() {
            validate::job_spec(request.spec.as_ref(), &self.roots, &self.callbacks)?
        } else {
            // The leader resolves the recipe; the job keeps the resolved spec and its version.
            self.driver.leader_only()?;
            let version = self.pinned_recipe_version(caller.owner(), &request).await?;
            let (resolved, from_recipe) = recipes::resolve(&self.driver, &request.recipe, version, request.spec.as_ref()).await?;
            let spec = validate::job_spec(Some(&resolved), &self.roots, &self.callbacks).map_err(|status| {
                Status::invalid_argument(format!(
                    "recipe {} version {} with this submission's fields over it: {}",
                    from_recipe.name,
                    from_recipe.version,
                    status.message()
                ))
            })?;
            JobSpec { from_recipe: Some(from_recipe), ..spec }
        };
        self.driver.leader_only()?;
        if let Some(owner) = caller.only_owner() {
            self.within_quota(owner, request.request_id.clone()).await?;
        }
        let trace_parent = trace_context::of_span(span);
        let command = Command::SubmitJob { request_id: request.request_id, owner: caller.owner(), spec, now_ms: now_ms(), trace_parent };
        match self.driver.propose_one(command).await? {
            Outcome::JobSubmitted { job, created } => {
                span.record("job_id", format_job_id(job));
                Ok(Response::new(v1::SubmitJobResponse { job_id: format_job_id(job), created }))
            }
            other => Err(unwanted(other)),
        }
    }

    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.gate.admit(request, "JobService", JOB_ROLES).await
    }

    /// Refuses a new job of a submitter that has `submitter_jobs_in_flight` pending or running
    /// (a retry of a submitted request id is always answered). Checked by the leader before it
    /// proposes, so concurrent submissions may pass the quota by the few in flight together.
    async fn within_quota(&self, owner: String, request_id: String) -> Result<(), Status> {
        let limit = self.submitter_jobs_in_flight as usize;
        let (retry, in_flight) = self
            .driver
            .read(move |state| {
                let retry = state.job_by_request(&owner, &request_id).is_some();
                let in_flight = state.jobs.values().filter(|job| job.owner == owner && matches!(job.state, JobState::Pending | JobState::Running)).take(limit).count();
                (retry, in_flight)
            })
            .await?;
        if !retry && in_flight >= limit {
            return Err(ServiceError::OverQuota(format!(
                "{limit} of your jobs are pending or running (scheduler setting submitter_jobs_in_flight); wait for some to finish or cancel them, then submit again"
            ))
            .into());
        }
        Ok(())
    }

    /// The recipe version a submission resolves: the one its request id's job was resolved
    /// with, for a retry naming the same recipe (so that a retry after a newer version was
    /// saved still answers its job), else the version asked for (0: the latest).
    async fn pinned_recipe_version(&self, owner: String, request: &v1::SubmitJobRequest) -> Result<u32, Status> {
        let request_id = request.request_id.clone();
        let earlier = self
            .driver
            .read(move |state| state.job_by_request(&owner, &request_id).and_then(|job| state.jobs.get(&job)).and_then(|job| job.spec.from_recipe.clone()))
            .await?;
        Ok(match earlier {
            Some(from) if from.name == request.recipe && (request.recipe_version == 0 || request.recipe_version == from.version) => from.version,
            _ => request.recipe_version,
        })
    }

    /// The job as `caller` may see it: another submitter's job does not exist for them.
    async fn visible_job(&self, caller: Caller, id: u64, include_tasks: bool) -> Result<Option<v1::Job>, Status> {
        Ok(self
            .driver
            .read(move |state| state.jobs.get(&id).filter(|job| caller.may_see(&job.owner)).map(|job| convert::job(state, job, include_tasks)))
            .await?)
    }
}

fn job_id(text: &str) -> Result<u64, Status> {
    parse_job_id(text).ok_or_else(|| invalid("job_id", format!("{text:?} is not a job id (job-<number>)")))
}

fn state_filter(state: i32) -> Result<Option<JobState>, Status> {
    Ok(match v1::JobState::try_from(state).map_err(|_| invalid("state", format!("{state} is not a job state")))? {
        v1::JobState::Unspecified => None,
        v1::JobState::Pending => Some(JobState::Pending),
        v1::JobState::Running => Some(JobState::Running),
        v1::JobState::Succeeded => Some(JobState::Succeeded),
        v1::JobState::Failed => Some(JobState::Failed),
        v1::JobState::Cancelled => Some(JobState::Cancelled),
    })
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for Jobs {
    async fn submit_job(&self, request: Request<v1::SubmitJobRequest>) -> Result<Response<v1::SubmitJobResponse>, Status> {
        // The job's trace: under the caller's, when its call carried one (followers relay it).
        let span = tracing::info_span!("submit_job", request_id = tracing::field::Empty, owner = tracing::field::Empty, job_id = tracing::field::Empty);
        if let Some(parent) = trace_context::from_metadata(request.metadata()) {
            trace_context::set_parent(&span, &parent);
        }
        self.submit_job_traced(request, &span).instrument(span.clone()).await
    }

    async fn get_job(&self, request: Request<v1::GetJobRequest>) -> Result<Response<v1::Job>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let id = job_id(&request.job_id)?;
        self.driver.leader_only()?;
        let job = self.visible_job(caller, id, request.include_tasks).await?;
        job.map(Response::new).ok_or_else(|| Refusal::UnknownJob(request.job_id).into())
    }

    async fn list_jobs(&self, request: Request<v1::ListJobsRequest>) -> Result<Response<v1::ListJobsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let page = PageRequest::new(state_filter(request.state)?, request.limit, &request.page_token)?.of_owner(caller.only_owner());
        self.driver.leader_only()?;
        let reply = self.driver.read(move |state| job_pages::page(state, page)).await?;
        Ok(Response::new(reply))
    }

    type WatchJobStream = WatchStream;

    async fn watch_job(&self, request: Request<v1::WatchJobRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let id = job_id(&request.job_id)?;
        self.driver.leader_only()?;
        let first = self
            .visible_job(caller, id, true)
            .await?
            .ok_or_else(|| Status::from(Refusal::UnknownJob(request.job_id.clone())))?;
        let (events, receiver) = mpsc::channel(16);
        let driver = self.driver.clone();
        tokio::spawn(async move {
            let mut info = driver.watch_info();
            let mut last = first;
            let mut last_progress = Vec::new();
            if events.send(Ok(v1::JobEvent { job: Some(last.clone()), progress: Vec::new() })).await.is_err() {
                return;
            }
            loop {
                if last.state != v1::JobState::Pending as i32 && last.state != v1::JobState::Running as i32 {
                    return;
                }
                // Wake on every applied change, and at least once a second for progress.
                let changed = tokio::time::timeout(Duration::from_secs(1), info.changed()).await;
                if matches!(changed, Ok(Err(_))) {
                    let _ = events.send(Err(StreamEnd::ShuttingDown.into())).await;
                    return;
                }
                if let Err(not_leader) = driver.leader_only() {
                    let _ = events.send(Err(not_leader.into())).await;
                    return;
                }
                let Ok(Some(job)) = driver.local_read(move |state| state.jobs.get(&id).map(|job| convert::job(state, job, true))).await else {
                    return;
                };
                let progress = running_progress(&driver, &job);
                if job != last || progress != last_progress {
                    last = job;
                    last_progress = progress.clone();
                    if events.send(Ok(v1::JobEvent { job: Some(last.clone()), progress })).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn cancel_job(&self, request: Request<v1::CancelJobRequest>) -> Result<Response<v1::Job>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let id = job_id(&request.job_id)?;
        self.driver.leader_only()?;
        if self.visible_job(caller.clone(), id, false).await?.is_none() {
            return Err(Refusal::UnknownJob(request.job_id).into());
        }
        match self.driver.propose_one(Command::CancelJob { job: id, now_ms: now_ms() }).await? {
            Outcome::JobCancelled { .. } => {}
            other => return Err(unwanted(other)),
        }
        let job = self.visible_job(caller, id, false).await?;
        job.map(Response::new).ok_or_else(|| Refusal::UnknownJob(request.job_id).into())
    }
}

/// Live progress of the job's running tasks, as their agents reported it to the leader.
fn running_progress(driver: &DriverHandle, job: &v1::Job) -> Vec<v1::TaskProgress> {
    let running = job.tasks.iter().filter(|task| task.state == v1::TaskState::Running as i32);
    driver.agents().progress_of(running.map(|task| (task.task_id, task.attempt)))
}
