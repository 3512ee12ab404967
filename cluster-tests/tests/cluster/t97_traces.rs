//! Traces over OTLP on a real secure farm: three replicas and an agent started with
//! `--otlp-endpoint`, a collector on loopback (`otlp_collector`). A job submitted with a
//! client's `traceparent` is one trace: the leader's `submit_job` span is the client span's
//! child and names the job; every task's `attempt` span on the agent is that span's child and
//! names its job and task, and the agent's `task` spans sit under them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::{AgentProcess, Farm};
use shotfarm_cluster_tests::media;
use shotfarm_cluster_tests::otlp_collector::{OtlpCollector, ReceivedSpan};
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, SubmitJobRequest};

use crate::support::step;

const AGENT: &str = "t97-traced";
/// The client's own span, as a traced client would send it.
const CLIENT_TRACE: &str = "5b8efff798038103d269b633813fc60c";
const CLIENT_SPAN: &str = "eee19b7ec3c1b174";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_submission_is_one_trace_from_the_client_through_the_leader_to_every_task() -> anyhow::Result<()> {
    let collector = OtlpCollector::start().await?;
    let endpoint = collector.base_url();
    let mut farm = Farm::start(3, &["--otlp-endpoint", &endpoint], &[])?;
    let outcome = async {
        farm.add_agent(AgentProcess::builder(AGENT, &farm.cluster)?.args(&["--otlp-endpoint", &endpoint]).env("OTEL_BSP_SCHEDULE_DELAY", "200"))?;
        traced_job(&farm, &collector).await
    }
    .await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn traced_job(farm: &Farm, collector: &OtlpCollector) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "traced.mp4", (320, 180), 2.0).await?;
    let spec = source.job_spec(&farm.subdir("out")?);

    step("a job submitted with the client's traceparent runs to the end");
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let submitted = farm
        .cluster
        .client()
        .call(|channel| {
            let mut request = tonic::Request::new(SubmitJobRequest { request_id: "traced".to_owned(), spec: Some(spec.clone()), ..Default::default() });
            request.metadata_mut().insert("traceparent", traceparent.parse().expect("ASCII"));
            async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
        })
        .await?;
    let job = farm.wait_for_job(&submitted.job_id, Duration::from_secs(60)).await?;
    ensure!(job.state == v1::JobState::Succeeded as i32, "{job:?}");

    step("the collector has the leader's submit_job span under the client's, and every task's attempt under that");
    let kinds: BTreeSet<String> = job.tasks.iter().map(|task| task.kind.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans: Vec<ReceivedSpan> = collector.spans().into_iter().filter(|span| span.trace_id == CLIENT_TRACE).collect();
        match judge(&spans, &submitted.job_id, &kinds, job.tasks.len()) {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() > deadline => return Err(why.context(format!("the trace's spans: {spans:#?}"))),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Whether `spans` (one trace's) make the job's whole trace.
fn judge(spans: &[ReceivedSpan], job_id: &str, kinds: &BTreeSet<String>, tasks: usize) -> anyhow::Result<()> {
    let submit = spans.iter().find(|span| span.name == "submit_job").context("no submit_job span yet")?;
    ensure!(submit.service == "shotfarm-scheduler" && submit.parent_span_id == CLIENT_SPAN, "{submit:?}");
    ensure!(submit.attributes.get("job_id").map(String::as_str) == Some(job_id), "{submit:?}");
    let attempts: Vec<&ReceivedSpan> = spans.iter().filter(|span| span.name == "attempt").collect();
    for attempt in &attempts {
        ensure!(attempt.service == "shotfarm-agent" && attempt.parent_span_id == submit.span_id, "{attempt:?}");
        ensure!(attempt.attributes.get("job_id").map(String::as_str) == Some(job_id) && attempt.attributes.contains_key("task_id"), "{attempt:?}");
    }
    let task_ids: BTreeSet<&str> = attempts.iter().filter_map(|attempt| attempt.attributes.get("task_id").map(String::as_str)).collect();
    ensure!(task_ids.len() == tasks, "attempt spans of {} tasks of {tasks}", task_ids.len());
    let traced_kinds: BTreeSet<String> = attempts.iter().filter_map(|attempt| attempt.attributes.get("kind").cloned()).collect();
    ensure!(traced_kinds == *kinds, "kinds traced {traced_kinds:?}, the job's {kinds:?}");
    let attempt_ids: BTreeSet<&str> = attempts.iter().map(|attempt| attempt.span_id.as_str()).collect();
    let task_spans = spans.iter().filter(|span| span.name == "task" && attempt_ids.contains(span.parent_span_id.as_str())).count();
    ensure!(task_spans == tasks, "{task_spans} task spans under the attempts, of {tasks}");
    Ok(())
}
