//! Client calls shared by the scenarios, with each step narrated in the test log.

use std::process::Command;
use std::time::Duration;

use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary};

use shotfarm_proto::client::LeaderClient;
use shotfarm_security::{Credentials, Role};
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_proto::v1::{self, AddReplicaRequest, GetJobRequest, ListJobsRequest, ListNodesRequest, RemoveReplicaRequest, SubmitJobRequest};

/// `shotfarm ARGS` as the harness's operator (its certificate); stdout on success.
pub fn shotfarm_as_operator(cluster: &SchedulerCluster, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(shotfarm_binary()?).args(args).args(cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?).output()?;
    anyhow::ensure!(output.status.success(), "shotfarm {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub fn step(text: &str) {
    eprintln!("[step] {text}");
}

/// A leader-following client as the given identity (the harness's operator, mostly).
pub fn client(addrs: Vec<String>, credentials: Credentials) -> LeaderClient {
    let mut client = LeaderClient::new(addrs, credentials);
    client.patience = Duration::from_secs(20);
    client
}

pub async fn submit(client: &LeaderClient, request_id: &str, input: &str) -> anyhow::Result<v1::SubmitJobResponse> {
    let request = SubmitJobRequest {
        request_id: request_id.to_owned(),
        spec: Some(v1::JobSpec { input_url: format!("file:///sim/{input}"), output_url: "file:///sim/out".to_owned(), ..Default::default() }),
        ..Default::default()
    };
    Ok(client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
        })
        .await?)
}

pub async fn job(client: &LeaderClient, job_id: &str) -> anyhow::Result<v1::Job> {
    Ok(client
        .call(|channel| {
            let job_id = job_id.to_owned();
            async move { Ok(JobServiceClient::new(channel).get_job(GetJobRequest { job_id, include_tasks: true }).await?.into_inner()) }
        })
        .await?)
}

/// Every job the leader knows, newest first, page after page.
pub async fn all_jobs(client: &LeaderClient) -> anyhow::Result<Vec<v1::Job>> {
    let mut jobs = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListJobsRequest { limit: 1000, page_token: page_token.clone(), ..Default::default() };
        let page = client
            .call(|channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).list_jobs(request).await?.into_inner()) }
            })
            .await?;
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() {
            return Ok(jobs);
        }
        page_token = page.next_page_token;
    }
}

pub async fn nodes(client: &LeaderClient) -> anyhow::Result<Vec<v1::Node>> {
    Ok(client
        .call(|channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner()) })
        .await?
        .nodes)
}

pub fn is_state(job: &v1::Job, state: v1::JobState) -> bool {
    job.state == state as i32
}

/// Submits a job and waits until it succeeded (agents must be running).
pub async fn finish(client: &LeaderClient, request_id: &str, input: &str) -> anyhow::Result<v1::Job> {
    let submitted = submit(client, request_id, input).await?;
    wait_until(Duration::from_secs(20), &format!("{} succeeded", submitted.job_id), || async {
        job(client, &submitted.job_id).await.is_ok_and(|found| is_state(&found, v1::JobState::Succeeded))
    })
    .await?;
    job(client, &submitted.job_id).await
}

/// `AddReplica` through the leader, as any client may call it; the status when refused.
pub async fn add_replica(client: &LeaderClient, id: u64, addr: &str) -> Result<v1::MembershipResponse, tonic::Status> {
    let request = AddReplicaRequest { id, addr: addr.to_owned() };
    client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(AdminServiceClient::new(channel).add_replica(request).await?.into_inner()) }
        })
        .await
}

/// `RemoveReplica` through the leader; the status when refused.
pub async fn remove_replica(client: &LeaderClient, id: u64) -> Result<v1::MembershipResponse, tonic::Status> {
    client
        .call(|channel| async move { Ok(AdminServiceClient::new(channel).remove_replica(RemoveReplicaRequest { id }).await?.into_inner()) })
        .await
}
