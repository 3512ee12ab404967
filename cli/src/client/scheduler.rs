//! How client subcommands reach the scheduler: the `--scheduler` flag, a leader-following
//! client, and gRPC statuses turned into exit codes.

use shotfarm_proto::client::{LeaderClient, parse_addrs};
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{ListJobsRequest, ListJobsResponse, SubmitJobRequest, SubmitJobResponse};
use tonic::{Code, Status};

use crate::exit::CommandError;

#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerFlag {
    /// Scheduler replicas, HOST:PORT[,HOST:PORT…]; any of them will do.
    #[arg(long = "scheduler", env = "SHOTFARM_SCHEDULER", default_value = "127.0.0.1:7001", global = true)]
    pub scheduler: String,
}

impl SchedulerFlag {
    pub fn client(&self) -> Result<LeaderClient, CommandError> {
        let addrs = parse_addrs(&self.scheduler).map_err(|err| CommandError::usage(anyhow::anyhow!("--scheduler: {err}")))?;
        Ok(LeaderClient::new(addrs))
    }
}

/// A failed call: the caller's mistake exits 2, anything else 1.
pub fn status_error(status: Status) -> CommandError {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::FailedPrecondition => {
            CommandError::usage(anyhow::anyhow!("{message}"))
        }
        Code::Unavailable => CommandError::from(anyhow::anyhow!(
            "{message} (no scheduler replica answered as leader; check --scheduler and that the replicas run)"
        )),
        _ => CommandError::from(anyhow::anyhow!("{message}")),
    }
}

/// Submits a job through the leader.
pub async fn submit_job(client: &LeaderClient, request: SubmitJobRequest) -> Result<SubmitJobResponse, CommandError> {
    client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
        })
        .await
        .map_err(status_error)
}

/// One page of jobs, from the leader.
pub async fn list_jobs(client: &LeaderClient, request: ListJobsRequest) -> Result<ListJobsResponse, CommandError> {
    client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(JobServiceClient::new(channel).list_jobs(request).await?.into_inner()) }
        })
        .await
        .map_err(status_error)
}
