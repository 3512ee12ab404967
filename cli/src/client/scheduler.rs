//! How client subcommands reach the scheduler: the `--scheduler` flag and the caller's
//! credentials (`--ca`, and `--cert`/`--key` or `--token`; or `--insecure`), a
//! leader-following client, and gRPC statuses turned into exit codes.

use std::path::PathBuf;

use shotfarm_proto::client::{LeaderClient, parse_addrs};
use shotfarm_security::{Credentials, TlsFiles, TransportSecurity};
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, GetJobRequest, ListJobsRequest, ListJobsResponse, SubmitJobRequest, SubmitJobResponse};
use tonic::{Code, Status};

use crate::exit::CommandError;

#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerFlag {
    /// Scheduler replicas, HOST:PORT[,HOST:PORT…]; any of them will do.
    #[arg(long = "scheduler", env = "SHOTFARM_SCHEDULER", default_value = "127.0.0.1:7001", global = true)]
    pub scheduler: String,
    /// The farm CA (`shotfarm certs init`): how the scheduler is verified.
    #[arg(long, env = "SHOTFARM_CA", global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Your certificate (`shotfarm certs issue`); or use --token.
    #[arg(long, env = "SHOTFARM_CERT", global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The key of --cert.
    #[arg(long, env = "SHOTFARM_KEY", global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Your bearer token (`shotfarm tokens create`), when you have no certificate.
    #[arg(long, env = "SHOTFARM_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Plaintext and anonymous: only for a farm started with --insecure.
    #[arg(long, env = "SHOTFARM_INSECURE", global = true)]
    pub insecure: bool,
}

impl SchedulerFlag {
    pub fn client(&self) -> Result<LeaderClient, CommandError> {
        let addrs = parse_addrs(&self.scheduler).map_err(|err| CommandError::usage(anyhow::anyhow!("--scheduler: {err}")))?;
        Ok(LeaderClient::new(addrs, self.credentials()?))
    }

    pub fn credentials(&self) -> Result<Credentials, CommandError> {
        let files = TlsFiles { ca: self.ca.clone(), cert: self.cert.clone(), key: self.key.clone() };
        let usage = |err: &dyn std::fmt::Display| CommandError::usage(anyhow::anyhow!("{err}"));
        let transport = TransportSecurity::from_flags(&files, self.insecure, false).map_err(|err| usage(&err))?;
        if self.insecure && self.token.is_some() {
            return Err(usage(&"--token is not sent without TLS: drop --insecure and pass --ca"));
        }
        Credentials::new(transport, self.token.as_deref()).map_err(|err| usage(&err))
    }
}

/// A failed call: the caller's mistake exits 2, anything else 1.
pub fn status_error(status: Status) -> CommandError {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::FailedPrecondition => {
            CommandError::usage(anyhow::anyhow!("{message}"))
        }
        Code::Unauthenticated | Code::PermissionDenied => CommandError::usage(anyhow::anyhow!("{message}")),
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

/// One job, from the leader.
pub async fn get_job(client: &LeaderClient, request: GetJobRequest) -> Result<v1::Job, CommandError> {
    client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(JobServiceClient::new(channel).get_job(request).await?.into_inner()) }
        })
        .await
        .map_err(status_error)
}
