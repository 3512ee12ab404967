//! The web dashboard of a real 3-replica TLS farm with a real agent, used in headless Chromium
//! (`player-tests/dashboard.mjs`) through a FOLLOWER's HTTP listener, as an operator would:
//! asked to sign in; a submitter's token refused; signed in with an operator's token (made
//! with `shotfarm tokens create`); the cluster, the node and the job shown; the job followed
//! on its page to the end without a reload, its renditions' VMAF the API's, its report.html
//! served from the job's output; the node drained
//! with its button (the leader's state says so, and only the live updates redraw the row);
//! a state-changing request without the dashboard's header refused. Over plain HTTPS, the
//! JSON API answers an operator's certificate and refuses a caller with no credentials or a
//! submitter's certificate; revoking the operator's token ends its open event stream.
//!
//! `shotfarm dev --dashboard` serves its one job there, and stops on Ctrl-C.
//!
//! The browser test needs Chromium and `player-tests/node_modules` (`scripts/ensure-browser`); without them
//! the test skips with the reason, or fails under `CI` or `REQUIRE_BROWSER=1`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, Replica, shotfarm_binary};
use shotfarm_cluster_tests::ports::free_ports;
use shotfarm_cluster_tests::media;
use shotfarm_cluster_tests::scrape::Scraper;
use shotfarm_proto::v1;
use shotfarm_security::{Role, TlsFiles};

use crate::browser::{browser_available, player_tests_dir};
use crate::support::{shotfarm_as_operator, step};

const AGENT: &str = "t98-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_follows_a_job_and_drains_a_node_in_the_dashboard_of_a_follower() -> anyhow::Result<()> {
    if !browser_available("the dashboard test") {
        return Ok(());
    }
    let mut farm = Farm::start(3, &[], &[AGENT])?;
    let outcome = use_the_dashboard(&farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_api_of_a_follower_admits_operators_only_and_a_revoked_token_ends_its_stream() -> anyhow::Result<()> {
    let mut farm = Farm::start(3, &[], &[AGENT])?;
    let outcome = use_the_api(&farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

/// The leader's id and a follower: the replica whose dashboard the tests use.
async fn follower_of(farm: &Farm) -> anyhow::Result<(u64, &Replica)> {
    let (leader_id, _) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let follower = farm.cluster.replicas.values().find(|replica| replica.id != leader_id).context("no follower")?;
    Ok((leader_id, follower))
}

async fn use_the_api(farm: &Farm) -> anyhow::Result<()> {
    let (leader_id, follower) = follower_of(farm).await?;
    let http: SocketAddr = follower.http.parse()?;
    let operator_token = shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &follower.addr, "create", "--name", "dash", "--role", "operator"])?;

    step("the JSON API answers an operator's certificate and refuses strangers and submitters");
    let certificates = farm.cluster.certificates().context("a secure farm")?;
    let operator = Scraper::tls(&certificates.files(Role::Operator, HARNESS_OPERATOR)?, None)?;
    let answer = operator.get(http, "/api/overview").await?;
    ensure!(answer.status == 200, "{} {}", answer.status, answer.body);
    let overview: serde_json::Value = serde_json::from_str(&answer.body)?;
    ensure!(overview["cluster"]["id"] == follower.id && overview["cluster"]["role"] == "follower" && overview["cluster"]["leader_id"] == leader_id, "{overview}");
    ensure!(overview["nodes"][0]["name"] == AGENT && overview["nodes"][0]["state"] == "ready" && overview["nodes"][0]["connected"] == true, "relayed from the leader: {overview}");
    let mut stranger_files = certificates.files(Role::Operator, HARNESS_OPERATOR)?;
    (stranger_files.cert, stranger_files.key) = (None, None);
    let stranger = Scraper::tls(&stranger_files, None)?.get(http, "/api/overview").await?;
    ensure!(stranger.status == 401, "{} {}", stranger.status, stranger.body);
    let submitter = Scraper::tls(&certificates.files(Role::Submitter, "dash-cert")?, None)?.get(http, "/api/overview").await?;
    ensure!(submitter.status == 403 && submitter.body.contains("operators"), "{} {}", submitter.status, submitter.body);
    let page = Scraper::tls(&stranger_files, None)?.get(http, "/").await?;
    ensure!(page.status == 200 && page.header("content-security-policy").is_some_and(|policy| policy.contains("script-src 'self'")), "{page:?}");

    step("revoking the dashboard's token ends its open event stream, saying why, and refuses it after");
    let by_token = Scraper::tls(&stranger_files, Some(&operator_token))?;
    let mut events = by_token.connect(http).await?;
    let opened = tokio::spawn(async move { events.get_stream("/api/events", Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &follower.addr, "revoke", "--name", "dash"])?;
    let streamed = opened.await??;
    ensure!(streamed.status == 200 && streamed.header("content-type") == Some("text/event-stream"), "{streamed:?}");
    ensure!(streamed.body.contains("event: state") && streamed.body.contains("event: unavailable"), "{}", streamed.body);
    ensure!(streamed.body.ends_with("\r\n0\r\n\r\n") && streamed.body.contains("revoked"), "the stream did not end saying why: {}", streamed.body);
    let refused = by_token.get(http, "/api/overview").await?;
    ensure!(refused.status == 401, "{} {}", refused.status, refused.body);
    Ok(())
}

async fn use_the_dashboard(farm: &Farm) -> anyhow::Result<()> {
    let (_, follower) = follower_of(farm).await?;
    let http: SocketAddr = follower.http.parse()?;
    let operator_token = shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &follower.addr, "create", "--name", "dash", "--role", "operator"])?;
    let submitter_token = shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &follower.addr, "create", "--name", "dash-submitter", "--role", "submitter"])?;

    step("a job waits on a cordoned node while an operator opens the dashboard of a follower, uncordons it, follows the job, then drains the node");
    farm.cordon(AGENT, false).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "dash.mp4", (320, 180), 4.0).await?;
    let job_id = farm.submit("dashboard-job", source.job_spec(&farm.subdir("out")?)).await?;
    let seen = run_dashboard_script(&format!("https://{http}/"), &operator_token, &submitter_token, &job_id, AGENT)?;
    let context = format!("the browser saw: {seen}");
    ensure!(seen["consoleErrors"].as_array().is_some_and(Vec::is_empty) && seen["foreignRequests"].as_array().is_some_and(Vec::is_empty), "{context}");
    ensure!(seen["firstLookMessage"].as_str().is_some_and(|message| message.contains("bearer token")), "{context}");
    ensure!(seen["refusedMessage"].as_str().is_some_and(|message| message.contains("for operators")), "{context}");
    ensure!(seen["replica"].as_str().is_some_and(|replica| replica.starts_with(&format!("replica {} · follower", follower.id))), "{context}");
    ensure!(seen["members"] == 3 && seen["nodes"][0]["name"] == AGENT && seen["nodes"][0]["connected"] == "true", "{context}");
    // Over TLS the browser and the replica agree on HTTP/2: the page's event streams share
    // one connection rather than each holding one of the six a browser keeps per host.
    ensure!(seen["protocols"] == serde_json::json!(["h2"]), "{context}");
    ensure!(seen["jobs"].as_array().is_some_and(|jobs| jobs.iter().any(|job| job["id"] == job_id.as_str())), "{context}");
    // Seen live: the job was still waiting or running when its page opened, then succeeded.
    let states = seen["jobStates"].as_array().context("jobStates")?;
    ensure!(states.len() >= 2 && states.last() == Some(&"succeeded".into()) && states[0] != "succeeded", "{context}");
    ensure!(seen["jobs"][0]["state"] == "pending" && seen["nodes"][0]["state"] == "cordoned", "before the uncordon: {context}");
    ensure!(seen["tasks"].as_array().is_some_and(|tasks| !tasks.is_empty() && tasks.iter().all(|state| state == "succeeded")), "{context}");
    // The page loaded once and every later view came without a reload.
    ensure!(seen["loads"] == 1 && seen["stillLoaded"] == true, "{context}");
    // The only refusals before the hostile requests: the first look before signing in, the
    // submitter's sign-in, the forged change.
    let refused: Vec<&str> = seen["refusedRequests"].as_array().context("refusedRequests")?.iter().filter_map(|line| line.as_str()).collect();
    let forged = format!("403 POST /api/nodes/{AGENT}/uncordon");
    let hostile = seen["hostile"].as_array().context("hostile")?;
    ensure!(refused.len() == 3 + hostile.len() && refused[..3] == ["401 GET /api/overview", "403 POST /api/session", forged.as_str()], "{context}");
    // Each malformed or hostile request: its 4xx and what its message must say.
    let expected = [
        (400, "cordon, drain or uncordon"),
        (404, "no-such-node"),
        (400, "job"),
        (404, "job-99999"),
        (404, "job-99999"),
        (400, "not a shotfarm token"),
        (400, "JSON"),
    ];
    ensure!(hostile.len() == expected.len(), "{context}");
    for (answer, (status, says)) in hostile.iter().zip(expected) {
        ensure!(answer["status"] == status && answer["body"].as_str().is_some_and(|body| body.contains(says)), "expected {status} saying {says:?}: {answer}");
    }

    step("the page's VMAF is the API's; the leader has the node draining; the forged change was refused");
    let job = farm.job(&job_id).await?;
    let shown = seen["renditions"].as_array().context("renditions")?;
    ensure!(shown.len() == job.renditions.len() && !shown.is_empty(), "{context}");
    for (shown, rendition) in shown.iter().zip(&job.renditions) {
        ensure!(shown["name"] == rendition.name.as_str() && shown["vmaf"].as_f64() == Some(rendition.vmaf_mean), "{shown} vs {rendition:?}");
    }
    let report_page = &seen["reportPage"];
    ensure!(report_page["status"] == 200 && report_page["svgs"].as_u64().is_some_and(|svgs| svgs > 0), "the job's report.html: {context}");
    ensure!(report_page["policy"].as_str().is_some_and(|policy| policy.contains("sandbox")), "{context}");
    ensure!(seen["drained"] == "draining" && seen["banner"] == "", "{context}");
    let node = farm.node(AGENT).await?;
    ensure!(node.state == v1::NodeState::Draining as i32, "the leader has {AGENT} {:?}", node.state());
    ensure!(seen["forgedChange"]["status"] == 403 && seen["forgedChange"]["body"].as_str().is_some_and(|body| body.contains("x-shotfarm-dashboard")), "{context}");

    Ok(())
}

/// `shotfarm dev --dashboard`: the one-process farm serves its job on the dashboard (the token
/// and the CA it prints let a client in), keeps it there after the job, and stops on Ctrl-C
/// with its summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shotfarm_dev_serves_its_job_on_the_dashboard_until_ctrl_c() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = media::synthesize(dir.path(), "dev.mp4", (320, 180), 2.0).await?;
    let http: SocketAddr = format!("127.0.0.1:{}", free_ports(1)?[0]).parse()?;
    let mut dev = KillOnDrop(Command::new(shotfarm_binary()?)
        .args(["dev", source.path.to_str().context("path")?, "--out", dir.path().join("out").to_str().context("path")?, "--dashboard", &http.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?);
    // Its stderr is read to the end on a thread of its own (a closed pipe would fail its
    // later writes); the lines come here until the one that says the job is done.
    let stderr = BufReader::new(dev.0.stderr.take().context("stderr")?);
    let (lines, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || stderr.lines().map_while(Result::ok).for_each(|line| drop(lines.send(line))));
    let (mut token, mut ca) = (None, None);
    loop {
        let line = match printed.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(_) => anyhow::bail!("shotfarm dev never said its job was done"),
        };
        if let Some(at) = line.find("sign in with sft_") {
            token = Some(line[at + "sign in with ".len()..].trim().to_owned());
        }
        if let Some(path) = line.split("throwaway one, ").nth(1).and_then(|rest| rest.split(':').next()) {
            ca = Some(PathBuf::from(path));
        }
        if line.contains("the dashboard stays at") {
            ensure!(line.contains(&format!("https://{http}/#/jobs/job-1")) && line.contains("succeeded"), "{line}");
            break;
        }
    }
    let (token, ca) = (token.context("no token printed")?, ca.context("no CA printed")?);
    let client = Scraper::tls(&TlsFiles { ca: Some(ca), cert: None, key: None }, Some(&token))?;
    let overview: serde_json::Value = serde_json::from_str(&client.get(http, "/api/overview").await?.body)?;
    ensure!(overview["jobs"][0]["id"] == "job-1" && overview["jobs"][0]["state"] == "succeeded", "{overview}");
    let report = client.get(http, "/api/jobs/job-1/report.html").await?;
    ensure!(report.status == 200 && report.body.contains("<svg"), "{} {}", report.status, report.body);

    let pid = dev.0.id().to_string();
    ensure!(Command::new("kill").args(["-INT", &pid]).status()?.success(), "kill -INT {pid}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = dev.0.try_wait()? {
            break status;
        }
        ensure!(std::time::Instant::now() < deadline, "shotfarm dev did not stop within 30 s of Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut summary = String::new();
    dev.0.stdout.take().context("stdout")?.read_to_string(&mut summary)?;
    ensure!(status.success() && summary.contains("done in"), "{status:?}: {summary}");
    Ok(())
}

/// A child process killed when the test leaves it behind (a failed check, say).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `player-tests/dashboard.mjs`; what it printed.
fn run_dashboard_script(url: &str, token: &str, refused_token: &str, job: &str, node: &str) -> anyhow::Result<serde_json::Value> {
    let output = Command::new("node")
        .arg(player_tests_dir().join("dashboard.mjs"))
        .args(["--url", url, "--token", token, "--refused-token", refused_token, "--job", job, "--node", node])
        .output()?;
    ensure!(output.status.success(), "dashboard.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).with_context(|| format!("dashboard.mjs printed: {}", String::from_utf8_lossy(&output.stdout)))
}
