//! Any replica answers any call, on a real 3-replica TLS farm: clients that know only a
//! follower's address submit (a retry through another follower is deduplicated), watch to
//! completion, cancel, create and use tokens, save and read recipes and cordon nodes; the follower relays each call
//! to the leader with the caller's identity. A caller that forges the relayed-identity header
//! is refused, a relayed call is never relayed twice, and a watch through a follower ends
//! with a retryable status when the leader stops answering (a paused process: no connection
//! error, so only the follower's own view of the leader, or keep-alives, can end it). An
//! `--insecure` farm's followers relay too.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::client::channel;
use shotfarm_proto::leader_hint;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::recipe_service_client::RecipeServiceClient;
use shotfarm_proto::v1;
use shotfarm_security::{Credentials, Role};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::{is_state, step};

/// The header a follower names a certificate caller in (`scheduler::service::forward`).
const FORWARDED_CALLER: &str = "x-shotfarm-forwarded-caller";
const FORWARDED_BY: &str = "x-shotfarm-forwarded-by";

fn jobs_at(addr: &str, credentials: &Credentials) -> anyhow::Result<JobServiceClient<shotfarm_proto::client::FarmChannel>> {
    Ok(JobServiceClient::new(channel(addr, credentials)?))
}

fn spec(input: &str) -> Option<v1::JobSpec> {
    Some(v1::JobSpec { input_url: format!("file:///sim/{input}"), output_url: format!("file:///sim/out-{input}"), ..Default::default() })
}

async fn submit_at(addr: &str, credentials: &Credentials, request_id: &str, input: &str) -> anyhow::Result<v1::SubmitJobResponse> {
    let request = v1::SubmitJobRequest { request_id: request_id.to_owned(), spec: spec(input), ..Default::default() };
    Ok(jobs_at(addr, credentials)?.submit_job(request).await?.into_inner())
}

async fn get_at(addr: &str, credentials: &Credentials, job_id: &str) -> Result<v1::Job, tonic::Status> {
    let mut jobs = JobServiceClient::new(channel(addr, credentials)?);
    Ok(jobs.get_job(v1::GetJobRequest { job_id: job_id.to_owned(), include_tasks: false }).await?.into_inner())
}

/// Watches a job through `addr` until the stream ends: every event's job, and how it ended.
async fn watch_at(addr: &str, credentials: &Credentials, job_id: &str) -> anyhow::Result<(Vec<v1::Job>, Result<(), tonic::Status>)> {
    let mut stream = jobs_at(addr, credentials)?.watch_job(v1::WatchJobRequest { job_id: job_id.to_owned() }).await?.into_inner();
    let mut seen = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(event)) => seen.push(event.job.context("an event without its job")?),
            Ok(None) => return Ok((seen, Ok(()))),
            Err(status) => return Ok((seen, Err(status))),
        }
    }
}

/// The followers' addresses, once each knows the leader (until then a follower answers "no
/// leader known yet, retry", as during an election).
async fn followers(cluster: &SchedulerCluster, leader: u64) -> anyhow::Result<Vec<String>> {
    let ids: Vec<u64> = cluster.replicas.keys().copied().filter(|id| *id != leader).collect();
    wait_until(Duration::from_secs(10), "every follower knows the leader", || async {
        for id in &ids {
            if cluster.status(*id).await.is_none_or(|status| status.leader_id != leader) {
                return false;
            }
        }
        true
    })
    .await?;
    Ok(ids.iter().map(|id| cluster.replicas[id].addr.clone()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_answers_every_client_and_operator_call_as_the_leader_would() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader_id, leader) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let (one, other) = match followers(&cluster, leader_id).await?.as_slice() {
        [one, other] => (one.clone(), other.clone()),
        found => anyhow::bail!("expected two followers, found {found:?}"),
    };
    let sue = cluster.credentials(Role::Submitter, "sue")?;
    let operator = cluster.operator();

    step("a submitter's certificate through a follower: submitted as itself; a retry through the other follower is the same job");
    let first = submit_at(&one, &sue, "t25-a", "c2-r1.mp4").await?;
    let retried = submit_at(&other, &sue, "t25-a", "c2-r1.mp4").await?;
    ensure!(first.created && !retried.created && retried.job_id == first.job_id, "{first:?} then {retried:?}");
    ensure!(get_at(&other, &sue, &first.job_id).await?.owner == "submitter/sue", "the job's owner is not the caller the follower relayed");

    step("watched through a follower until it succeeds (agents join after the watch opened)");
    let agents = CancellationToken::new();
    let _stop_agents = agents.clone().drop_guard();
    let watching = tokio::spawn({
        let (one, sue, job_id) = (one.clone(), sue.clone(), first.job_id.clone());
        async move { watch_at(&one, &sue, &job_id).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    swarm::start(SwarmConfig { name_prefix: "t25".into(), chunks: 2, rungs: 1, ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    let (events, ended) = tokio::time::timeout(Duration::from_secs(30), watching).await.context("the relayed watch did not end")???;
    ended.context("the relayed watch ended with an error")?;
    ensure!(events.len() >= 2, "a snapshot and at least one change: {events:?}");
    ensure!(events.last().is_some_and(|job| is_state(job, v1::JobState::Succeeded)), "the watch ended before success: {:?}", events.last());

    step("an operator through a follower: cordon a node, list nodes, create a token");
    let mut admin = AdminServiceClient::new(channel(&other, &operator)?);
    let cordoned = admin.cordon_node(v1::NodeRequest { node: "t25-0".into() }).await?.into_inner();
    ensure!(cordoned.state == v1::NodeState::Cordoned as i32, "{cordoned:?}");
    let listed = admin.list_nodes(v1::ListNodesRequest {}).await?.into_inner().nodes;
    ensure!(listed.iter().any(|node| node.name == "t25-0" && node.state == v1::NodeState::Cordoned as i32), "{listed:?}");
    let token = admin.create_token(v1::CreateTokenRequest { name: "tess".into(), role: "submitter".into() }).await?.into_inner().token;

    step("recipes through a follower: an operator saves one, a submitter reads it, and may not delete it");
    let mut recipes = RecipeServiceClient::new(channel(&other, &operator)?);
    let settings = v1::JobSpec { recipe: Some(v1::LadderRecipe { preset: "veryfast".into(), ..Default::default() }), ..Default::default() };
    let saved = recipes.create_recipe(v1::CreateRecipeRequest { name: "t25-web".into(), settings: Some(settings) }).await?.into_inner();
    ensure!(saved.version == 1, "{saved:?}");
    let mut as_submitter = RecipeServiceClient::new(channel(&one, &sue)?);
    let read = as_submitter.get_recipe(v1::GetRecipeRequest { name: "t25-web".into(), version: 0 }).await?.into_inner();
    ensure!(read.version == 1 && read.settings.as_ref().is_some_and(|kept| kept.recipe.as_ref().is_some_and(|recipe| recipe.preset == "veryfast")), "{read:?}");
    let refused = as_submitter.delete_recipe(v1::DeleteRecipeRequest { name: "t25-web".into() }).await.expect_err("a submitter deleted a recipe");
    ensure!(refused.code() == Code::PermissionDenied, "{refused}");

    step("a bearer token through a follower: submitted as its submitter; cancelled through the other follower");
    let tess = cluster.ca_only_credentials(Some(&token))?;
    let pending = submit_at(&one, &tess, "t25-b", "c2-r1.mp4").await?;
    let cancelled = jobs_at(&other, &tess)?.cancel_job(v1::CancelJobRequest { job_id: pending.job_id.clone() }).await?.into_inner();
    ensure!(cancelled.owner == "submitter/tess" && is_state(&cancelled, v1::JobState::Cancelled), "{cancelled:?}");
    let not_hers = get_at(&one, &tess, &first.job_id).await.expect_err("tess read sue's job through a follower");
    ensure!(not_hers.code() == Code::NotFound, "{not_hers}");

    step("a forged identity header, to the leader and to a follower, is refused");
    for addr in [&leader, &one] {
        for marked in [false, true] {
            let mut request = tonic::Request::new(v1::ListNodesRequest {});
            request.metadata_mut().insert(FORWARDED_CALLER, "shotfarm://operator/harness".parse()?);
            if marked {
                request.metadata_mut().insert(FORWARDED_BY, "1".parse()?);
            }
            let forged = AdminServiceClient::new(channel(addr, &sue)?).list_nodes(request).await.expect_err("a forged caller was believed");
            ensure!(forged.code() == Code::PermissionDenied && forged.message().contains(FORWARDED_CALLER), "{addr} marked {marked}: {forged}");
        }
    }

    step("a call already relayed is not relayed again: a follower answers it with the leader's address");
    let mut marked = tonic::Request::new(v1::ListJobsRequest::default());
    marked.metadata_mut().insert(FORWARDED_BY, "9".parse()?);
    let refused = JobServiceClient::new(channel(&one, &operator)?).list_jobs(marked).await.expect_err("a relayed call was relayed again");
    ensure!(leader_hint::leader_addr(&refused).as_deref() == Some(leader.as_str()), "{refused}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_through_a_follower_ends_retryably_when_the_leader_stops() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader_id, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let follower = followers(&cluster, leader_id).await?.first().cloned().context("no follower")?;
    let operator = cluster.operator();
    let job = submit_at(&follower, &operator, "t25-c", "c2-r1.mp4").await?;

    step("a watch through a follower of a job no agent runs; then the leader is paused");
    let mut stream = jobs_at(&follower, &operator)?.watch_job(v1::WatchJobRequest { job_id: job.job_id.clone() }).await?.into_inner();
    let first = stream.message().await?.and_then(|event| event.job).context("no first event")?;
    ensure!(is_state(&first, v1::JobState::Pending), "{first:?}");
    cluster.pause(leader_id)?;
    let paused = Instant::now();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await.context("the watch hung after the leader stopped")? {
            Ok(Some(_)) => {}
            Ok(None) => anyhow::bail!("the watch ended as if the job were finished"),
            Err(status) => break status,
        }
    };
    step(&format!("the watch ended after {} ms: {ended}", paused.elapsed().as_millis()));
    ensure!(ended.code() == Code::Unavailable, "not retryable: {ended}");

    step("watching again through the same follower reaches the new leader");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut again = loop {
        match jobs_at(&follower, &operator)?.watch_job(v1::WatchJobRequest { job_id: job.job_id.clone() }).await {
            Ok(stream) => break stream.into_inner(),
            Err(status) if Instant::now() < deadline && status.code() == Code::Unavailable => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(status) => return Err(status).context("watching again after the failover"),
        }
    };
    let event = again.message().await?.and_then(|event| event.job).context("no event after the failover")?;
    ensure!(event.job_id == job.job_id && is_state(&event, v1::JobState::Pending), "{event:?}");
    cluster.resume(leader_id)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insecure_farms_follower_relays_too() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &["--insecure"])?;
    let (leader_id, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let (one, other) = match followers(&cluster, leader_id).await?.as_slice() {
        [one, other] => (one.clone(), other.clone()),
        found => anyhow::bail!("expected two followers, found {found:?}"),
    };
    let anyone = Credentials::insecure();
    step("plaintext and anonymous: submitted through one follower, deduplicated and cancelled through the other");
    let first = submit_at(&one, &anyone, "t25-d", "c2-r1.mp4").await?;
    let retried = submit_at(&other, &anyone, "t25-d", "c2-r1.mp4").await?;
    ensure!(first.created && !retried.created && retried.job_id == first.job_id, "{first:?} then {retried:?}");
    let cancelled = jobs_at(&other, &anyone)?.cancel_job(v1::CancelJobRequest { job_id: first.job_id.clone() }).await?.into_inner();
    ensure!(is_state(&cancelled, v1::JobState::Cancelled) && cancelled.owner.is_empty(), "{cancelled:?}");
    Ok(())
}
