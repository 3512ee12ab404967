//! `/metrics` on a real secure farm (one TLS replica with `--http-listen`, as the harness starts
//! every replica, and one real agent with
//! `--metrics-listen`): both parse as OpenMetrics with the documented types; a job moves the
//! counters (results by kind, the applied index, the agent's task durations and store bytes);
//! a scrape without credentials, or with a role that may not scrape, is refused. The agent logs
//! with `SHOTFARM_LOG_FORMAT=json`, and so does the replica once restarted with it: every such
//! line is a JSON object whose spans carry the identities (node, job, task; replica, term).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::{AgentProcess, Farm};
use shotfarm_cluster_tests::cluster::HARNESS_OPERATOR;
use shotfarm_cluster_tests::ports::free_ports;
use shotfarm_cluster_tests::media;
use shotfarm_cluster_tests::openmetrics::{self, Exposition, MetricType};
use shotfarm_cluster_tests::scrape::Scraper;
use shotfarm_proto::v1;
use shotfarm_security::Role;

use crate::support::{is_state, shotfarm_as_operator, step};

const AGENT: &str = "t97-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_secure_farm_parse_move_with_a_job_and_refuse_strangers() -> anyhow::Result<()> {
    let agent_http: SocketAddr = format!("127.0.0.1:{}", free_ports(1)?[0]).parse()?;
    let mut farm = Farm::start(1, &[], &[])?;
    let outcome = async {
        let replica_http: SocketAddr = farm.cluster.replicas.get(&1).context("replica 1")?.http.parse()?;
        farm.add_agent(AgentProcess::builder(AGENT, &farm.cluster)?.args(&["--metrics-listen", &agent_http.to_string()]).env("SHOTFARM_LOG_FORMAT", "json"))?;
        scrape_a_running_farm(&farm, replica_http, agent_http).await?;
        logs_in_json(&mut farm).await
    }
    .await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn scrape(scraper: &Scraper, addr: SocketAddr) -> anyhow::Result<Exposition> {
    let answer = scraper.get(addr, "/metrics").await?;
    ensure!(answer.status == 200, "/metrics of {addr} answered {}: {}", answer.status, answer.body);
    ensure!(answer.header("content-type").is_some_and(|kind| kind.starts_with("application/openmetrics-text")), "{:?}", answer.headers);
    openmetrics::parse(&answer.body).with_context(|| format!("/metrics of {addr}:\n{}", answer.body))
}

/// Scrapes until `done` holds of what it read (the replica counts its state once a second).
async fn scrape_until(scraper: &Scraper, addr: SocketAddr, what: &str, done: impl Fn(&Exposition) -> bool) -> anyhow::Result<Exposition> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(scraper, addr).await?;
        if done(&now) {
            return Ok(now);
        }
        ensure!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scrape_a_running_farm(farm: &Farm, replica_http: SocketAddr, agent_http: SocketAddr) -> anyhow::Result<()> {
    let (_, leader) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let certificates = farm.cluster.certificates().context("a secure farm")?;
    let operator = Scraper::tls(&certificates.files(Role::Operator, HARNESS_OPERATOR)?, None)?;

    step("a replica's and an agent's /metrics parse, with the documented types");
    let before = scrape(&operator, replica_http).await?;
    for (family, metric_type) in [
        ("shotfarm_raft_term", MetricType::Gauge),
        ("shotfarm_raft_is_leader", MetricType::Gauge),
        ("shotfarm_raft_leader_changes", MetricType::Counter),
        ("shotfarm_raft_applied_index", MetricType::Gauge),
        ("shotfarm_raft_apply_lag_entries", MetricType::Gauge),
        ("shotfarm_raft_proposal_batch_commands", MetricType::Histogram),
        ("shotfarm_raft_log_fsync_seconds", MetricType::Histogram),
        ("shotfarm_scheduler_placement_round_seconds", MetricType::Histogram),
        ("shotfarm_scheduler_lease_expiries", MetricType::Counter),
    ] {
        ensure!(before.metric_type(family)? == metric_type, "{family} is a {:?}", before.metric_type(family)?);
    }
    ensure!(before.value("shotfarm_raft_is_leader", "shotfarm_raft_is_leader", &[])? == 1.0, "the only replica leads");
    ensure!(before.value("shotfarm_raft_term", "shotfarm_raft_term", &[])? >= 1.0, "a term");
    ensure!(before.value("shotfarm_raft_leader_changes", "shotfarm_raft_leader_changes_total", &[])? >= 1.0, "one leader seen");
    let applied_before = before.value("shotfarm_raft_applied_index", "shotfarm_raft_applied_index", &[])?;
    let agent_before = scrape(&operator, agent_http).await?;
    ensure!(agent_before.value("shotfarm_agent_slots", "shotfarm_agent_slots", &[])? >= 1.0, "slots advertised");
    ensure!(agent_before.value("shotfarm_agent_slots_busy", "shotfarm_agent_slots_busy", &[])? == 0.0, "idle");
    scrape_until(&operator, replica_http, "the replica counts the registered node", |now| {
        now.value("shotfarm_scheduler_nodes", "shotfarm_scheduler_nodes", &[("state", "ready")]).is_ok_and(|ready| ready == 1.0)
    })
    .await?;

    step("strangers are refused: no credentials (401), a submitter (403); an operator token is admitted");
    let anonymous = Scraper::tls(&certificates.ca_only(), None)?;
    for addr in [replica_http, agent_http] {
        let answer = anonymous.get(addr, "/metrics").await?;
        ensure!(answer.status == 401 && answer.body.contains("certificate"), "{addr} answered {} to no credentials: {}", answer.status, answer.body);
        ensure!(!answer.body.contains("shotfarm_"), "a refusal shows no metrics");
        let submitter = Scraper::tls(&certificates.files(Role::Submitter, "t97-submitter")?, None)?;
        let answer = submitter.get(addr, "/metrics").await?;
        ensure!(answer.status == 403 && answer.body.contains("submitter/t97-submitter"), "{addr} answered {} to a submitter: {}", answer.status, answer.body);
    }
    ensure!(Scraper::plaintext().get(replica_http, "/metrics").await.is_err(), "plaintext HTTP to a TLS listener gets no answer");
    let token = shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &leader, "create", "--name", "t97-prometheus", "--role", "operator"])?;
    scrape(&Scraper::tls(&certificates.ca_only(), Some(&token))?, replica_http).await.context("an operator token scrapes a replica")?;
    let answer = Scraper::tls(&certificates.ca_only(), Some("sft_0000"))?.get(replica_http, "/metrics").await?;
    ensure!(answer.status == 401 && answer.body.contains("not a shotfarm token"), "a malformed token: {} {}", answer.status, answer.body);

    step("a job moves the counters");
    let source = media::synthesize(&farm.subdir("sources")?, "metrics.mp4", (160, 96), 2.0).await?;
    let job_id = farm.submit("t97-job", source.job_spec(&farm.subdir("out")?)).await?;
    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let after = scrape_until(&operator, replica_http, "the replica counts the finished job", |now| {
        now.value("shotfarm_scheduler_jobs", "shotfarm_scheduler_jobs", &[("state", "succeeded")]).is_ok_and(|jobs| jobs == 1.0)
    })
    .await?;
    // Labelled families appear with their first sample.
    for (family, metric_type) in [("shotfarm_scheduler_tasks", MetricType::Gauge), ("shotfarm_scheduler_task_results", MetricType::Counter), ("shotfarm_scheduler_jobs", MetricType::Gauge)] {
        ensure!(after.metric_type(family)? == metric_type, "{family} is a {:?}", after.metric_type(family)?);
    }
    ensure!(after.value("shotfarm_raft_applied_index", "shotfarm_raft_applied_index", &[])? > applied_before, "the applied index grew");
    for kind in ["inspect", "encode", "package", "report"] {
        let results = after.value("shotfarm_scheduler_task_results", "shotfarm_scheduler_task_results_total", &[("kind", kind), ("outcome", "succeeded")])?;
        ensure!(results >= 1.0, "{kind}: {results} results");
    }
    let encodes = after.value("shotfarm_scheduler_task_results", "shotfarm_scheduler_task_results_total", &[("kind", "encode"), ("outcome", "succeeded")])?;
    ensure!(after.value("shotfarm_scheduler_tasks", "shotfarm_scheduler_tasks", &[("state", "running")])? == 0.0, "nothing runs after the job");
    ensure!(after.value("shotfarm_raft_log_fsync_seconds", "shotfarm_raft_log_fsync_seconds_count", &[])? > 0.0, "fsyncs observed");
    ensure!(after.value("shotfarm_raft_proposal_batch_commands", "shotfarm_raft_proposal_batch_commands_count", &[])? > 0.0, "proposals observed");
    ensure!(after.value("shotfarm_scheduler_placement_round_seconds", "shotfarm_scheduler_placement_round_seconds_count", &[])? > 0.0, "placements observed");

    let agent_after = scrape(&operator, agent_http).await?;
    ensure!(agent_after.metric_type("shotfarm_agent_task_duration_seconds")? == MetricType::Histogram, "a histogram");
    let timed = agent_after.value("shotfarm_agent_task_duration_seconds", "shotfarm_agent_task_duration_seconds_count", &[("kind", "encode"), ("backend", "cpu"), ("outcome", "succeeded")])?;
    ensure!(timed == encodes, "the agent timed {timed} encodes, the replica accepted {encodes}");
    let seconds = agent_after.value("shotfarm_agent_task_duration_seconds", "shotfarm_agent_task_duration_seconds_sum", &[("kind", "encode")])?;
    ensure!(seconds > 0.0, "encodes took {seconds} s");
    for counter in ["shotfarm_agent_store_read_bytes", "shotfarm_agent_store_written_bytes"] {
        let bytes = agent_after.value(counter, &format!("{counter}_total"), &[])?;
        ensure!(bytes > 0.0, "{counter}: {bytes}");
    }
    ensure!(agent_after.value("shotfarm_agent_slots_busy", "shotfarm_agent_slots_busy", &[])? == 0.0, "idle again");
    Ok(())
}

/// The JSON log lines of `text` (those that start with `{`), each parsed; an error for one
/// that does not parse.
fn json_lines(text: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    text.lines().filter(|line| line.starts_with('{')).map(|line| serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))).collect()
}

/// The fields of the spans a JSON log line was in, merged (innermost last).
fn span_fields(line: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    line["spans"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_object).flat_map(|span| span.clone()).collect()
}

async fn logs_in_json(farm: &mut Farm) -> anyhow::Result<()> {
    step("the agent's JSON log: every line parses, and an attempt's events carry node_id, job_id and task_id");
    let agent_log = farm.agent(AGENT)?.log_text();
    ensure!(agent_log.lines().all(|line| line.is_empty() || line.starts_with('{')), "a line of the agent's log is not JSON:\n{agent_log}");
    let lines = json_lines(&agent_log)?;
    let started = lines.iter().find(|line| line["fields"]["message"] == "task started").context("no `task started` line")?;
    let fields = span_fields(started);
    for key in ["node_id", "job_id", "task_id", "name"] {
        ensure!(fields.contains_key(key), "`task started` has no span field {key}: {started}");
    }
    ensure!(started["level"] == "INFO" && started["timestamp"].is_string(), "{started}");

    step("a replica restarted with SHOTFARM_LOG_FORMAT=json logs JSON lines whose driver span carries replica and term");
    farm.cluster.kill(1)?;
    farm.cluster.restart_with_env(1, &[("SHOTFARM_LOG_FORMAT", "json")])?;
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let replica_log = std::fs::read_to_string(farm.cluster.root().context("the cluster's directory")?.join("replica-1.log"))?;
    let lines = json_lines(&replica_log)?;
    let leading = lines.iter().find(|line| line["fields"]["message"] == "became leader").context("no JSON `became leader` line")?;
    let fields = span_fields(leading);
    ensure!(fields.get("replica") == Some(&serde_json::json!(1)) && fields.get("term").is_some_and(serde_json::Value::is_u64), "{leading}");
    Ok(())
}
