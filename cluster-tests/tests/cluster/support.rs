//! Client calls shared by the scenarios, with each step narrated in the test log.

use std::time::Duration;

use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, GetJobRequest, ListJobsRequest, ListNodesRequest, SubmitJobRequest};

pub fn step(text: &str) {
    eprintln!("[step] {text}");
}

pub fn client(addrs: Vec<String>) -> LeaderClient {
    let mut client = LeaderClient::new(addrs);
    client.patience = Duration::from_secs(20);
    client
}

pub async fn submit(client: &LeaderClient, request_id: &str, input: &str) -> anyhow::Result<v1::SubmitJobResponse> {
    let request = SubmitJobRequest {
        request_id: request_id.to_owned(),
        spec: Some(v1::JobSpec { input_url: format!("file:///sim/{input}"), output_url: "file:///sim/out".to_owned(), ..Default::default() }),
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
