//! `shotfarm bench scheduler`: the shipped binary runs the benchmark binary built beside it
//! (which links the harness), and says how to build it when it is missing.

use std::process::Command;

use shotfarm_cluster_tests::cluster::shotfarm_binary;

#[test]
fn bench_scheduler_runs_the_benchmark_binary_beside_shotfarm() -> anyhow::Result<()> {
    let output = Command::new(shotfarm_binary()?)
        .args(["bench", "scheduler", "--replicas", "1", "--agents", "4", "--tasks", "100", "--failovers", "0", "--latency-seconds", "1", "--json"])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(summary["replicas"], 1);
    assert_eq!(summary["agents"], 4);
    assert!(summary["assignments_per_sec"].as_f64().is_some_and(|rate| rate > 0.0), "{summary}");
    assert!(summary["latency_samples"].as_u64().is_some_and(|samples| samples > 0), "{summary}");
    assert_eq!(summary["results_refused"], 0, "{summary}");
    Ok(())
}

#[test]
fn bench_scheduler_without_its_binary_says_how_to_build_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let lonely = dir.path().join("shotfarm");
    if std::fs::hard_link(shotfarm_binary()?, &lonely).is_err() {
        std::fs::copy(shotfarm_binary()?, &lonely)?;
    }
    let output = Command::new(&lonely).args(["bench", "scheduler", "--json"]).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cargo build --release -p shotfarm-cluster-tests"), "{stderr}");
    Ok(())
}
