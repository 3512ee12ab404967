//! The Python example client (`clients/python`, grpcio with stubs generated from `proto/` at
//! run time) against a real 3-replica TLS farm with a real agent, given a FOLLOWER's address
//! only: it submits with a submitter's certificate, watches to completion and prints the
//! report, which must be the one the leader and report.json hold; then again with a bearer
//! token. Needs the venv that
//! `scripts/ensure-python-client` makes; without it the test skips loudly, or fails when
//! `REQUIRE_PYTHON_CLIENT=1` (as `scripts/test` sets).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::media;
use shotfarm_security::Role;

use crate::support::{shotfarm_as_operator, step};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv's python, or why there is none.
fn client_python() -> Result<PathBuf, String> {
    let python = workspace().join("target/python-client-venv/bin/python");
    let usable = std::process::Command::new(&python).args(["-c", "import grpc, grpc_tools"]).output().is_ok_and(|output| output.status.success());
    if usable { Ok(python) } else { Err(format!("{} with grpcio and grpcio-tools is missing: run scripts/ensure-python-client (it needs PyPI)", python.display())) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_runs_a_job_through_a_follower() -> anyhow::Result<()> {
    let python = match client_python() {
        Ok(python) => python,
        Err(why) if std::env::var("REQUIRE_PYTHON_CLIENT").is_ok_and(|value| value == "1") => anyhow::bail!("REQUIRE_PYTHON_CLIENT=1 but {why}"),
        Err(why) => {
            eprintln!("SKIPPED: the Python client test: {why}");
            return Ok(());
        }
    };
    let mut farm = Farm::start(3, &[], &["t27-1"])?;
    let outcome = python_client_job(&farm, &python).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn python_client_job(farm: &Farm, python: &std::path::Path) -> anyhow::Result<()> {
    let (leader_id, _) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let follower = farm.cluster.replicas.values().find(|replica| replica.id != leader_id).context("no follower")?.addr.clone();
    let source = media::synthesize(&farm.subdir("sources")?, "py.mp4", (320, 180), 2.0).await?;
    let out = farm.subdir("out-py")?;

    step(&format!("clients/python/shotfarm_client.py as submitter/py (a certificate), given only follower {follower}"));
    let printed = run_client(python, &follower, &source.url(), &out, farm.cluster.tls_args(Role::Submitter, "py")?).await?;
    step("what it printed is the job as the leader and report.json have it");
    let job_id = printed["job_id"].as_str().context("job_id")?;
    let job = farm.job(job_id).await?;
    ensure!(printed["state"] == "JOB_STATE_SUCCEEDED" && printed["owner"] == "submitter/py" && job.owner == "submitter/py", "{printed}");
    ensure!(printed["events"].as_u64().is_some_and(|events| events >= 2), "a watch sees the snapshot and later changes: {printed}");
    ensure!(printed["report_url"] == format!("file://{}/report.json", out.display()) && printed["report_url"] == job.report_url.as_str(), "{printed}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let reported = report["renditions"].as_array().context("report.json's renditions")?;
    let renditions = printed["renditions"].as_array().context("renditions")?;
    ensure!(!renditions.is_empty() && renditions.len() == reported.len() && renditions.len() == job.renditions.len(), "{printed}");
    for ((got, json), wire) in renditions.iter().zip(reported).zip(&job.renditions) {
        ensure!(got["name"] == json["name"] && got["name"] == wire.name.as_str() && got["scored"] == true, "{got} vs {json}");
        for field in ["vmaf_mean", "vmaf_p1", "psnr_y", "ssim"] {
            ensure!(got[field].as_f64().is_some() && got[field] == json["quality"][field], "{field}: printed {got}, report.json {json}");
        }
    }

    step("and with a bearer token (created through a follower with `shotfarm tokens create`)");
    let token = shotfarm_as_operator(&farm.cluster, &["tokens", "--scheduler", &follower, "create", "--name", "py-token", "--role", "submitter"])?;
    let ca = farm.cluster.tls_args(Role::Submitter, "py")?.into_iter().take(2).collect::<Vec<_>>();
    let by_token = run_client(python, &follower, &source.url(), &farm.subdir("out-py-token")?, [ca, vec!["--token".to_owned(), token]].concat()).await?;
    ensure!(by_token["state"] == "JOB_STATE_SUCCEEDED" && by_token["owner"] == "submitter/py-token" && by_token["job_id"] != printed["job_id"], "{by_token}");
    Ok(())
}

/// Runs the client through `scheduler` with `credentials` (flags); what it printed.
async fn run_client(python: &std::path::Path, scheduler: &str, input: &str, out: &std::path::Path, credentials: Vec<String>) -> anyhow::Result<serde_json::Value> {
    let client = workspace().join("clients/python/shotfarm_client.py");
    let output = tokio::process::Command::new(python)
        .arg(&client)
        .args(["--scheduler", scheduler, "--input", input, "--output", &format!("file://{}", out.display()), "--chunk-ms", "1000"])
        .args(credentials)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output).await.context("the Python client did not finish in 120 s")??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    ensure!(output.status.success(), "the Python client failed ({}): {stderr}", output.status);
    serde_json::from_slice(&output.stdout).with_context(|| format!("its stdout is not JSON: {}", String::from_utf8_lossy(&output.stdout)))
}
