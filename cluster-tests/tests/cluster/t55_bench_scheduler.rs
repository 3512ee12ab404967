//! `shotfarm bench scheduler`: the shipped binary runs the benchmark binary built beside it
//! (which links the harness), and says how to build it when it is missing.

use std::process::Command;

use shotfarm_cluster_tests::cluster::shotfarm_binary;

#[test]
fn bench_scheduler_runs_the_benchmark_binary_beside_shotfarm() -> anyhow::Result<()> {
    // The dashboard's render in Chromium too, where a browser is.
    let renders = if crate::browser::browser_available("the bench's dashboard render") { "2" } else { "0" };
    let output = Command::new(shotfarm_binary()?)
        .args(["bench", "scheduler", "--replicas", "1", "--agents", "4", "--tasks", "100", "--failovers", "0", "--latency-seconds", "1", "--json"])
        .args(["--dashboard-render", renders])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(summary["replicas"], 1);
    assert_eq!(summary["agents"], 4);
    assert!(summary["assignments_per_sec"].as_f64().is_some_and(|rate| rate > 0.0), "{summary}");
    assert!(summary["latency_samples"].as_u64().is_some_and(|samples| samples > 0), "{summary}");
    assert_eq!(summary["results_refused"], 0, "{summary}");
    // The leader's /metrics, scraped while it worked, parsed every time.
    assert!(summary["scrapes"].as_u64().is_some_and(|scrapes| scrapes >= 1), "{summary}");
    assert!(summary["scrape_p50_ms"].as_f64().is_some_and(|ms| ms > 0.0) && summary["scrape_bytes"].as_u64().is_some_and(|bytes| bytes > 1000), "{summary}");
    // The dashboard's overview, every agent listed (one replica: leader and "follower" alike).
    assert!(summary["overview_leader_p50_ms"].as_f64().is_some_and(|ms| ms > 0.0) && summary["overview_follower_p99_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{summary}");
    assert!(summary["overview_bytes"].as_u64().is_some_and(|bytes| bytes > 4 * 100), "{summary}");
    let render_ms = summary["dashboard_first_render_ms"].as_array().map(Vec::len);
    assert_eq!(render_ms, Some(if renders == "2" { 2 } else { 0 }), "{summary}");
    Ok(())
}

#[test]
fn bench_scheduler_in_process_measures_each_farm_size() -> anyhow::Result<()> {
    let output = Command::new(shotfarm_binary()?)
        .args(["bench", "scheduler", "--in-process", "--farm-sizes", "10,40", "--queued", "2500", "--rounds", "5", "--batch", "8", "--json"])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let farms = summary["farms"].as_array().map(Vec::as_slice).unwrap_or_default();
    assert_eq!(farms.iter().map(|farm| farm["nodes"].as_u64()).collect::<Vec<_>>(), [Some(10), Some(40)], "{summary}");
    for farm in farms {
        // 8-core nodes with 2-core encodes: four each fill the farm, then each round refills
        // the slots its batch of results freed.
        assert_eq!(farm["fill_assignments"].as_u64(), farm["nodes"].as_u64().map(|nodes| nodes * 4), "{farm}");
        assert_eq!(farm["steady_assignments"], 5 * 8, "{farm}");
        assert!(farm["queued"].as_u64().is_some_and(|queued| queued >= 2500), "{farm}");
        assert!(farm["state_bytes_per_task"].as_f64().is_some_and(|bytes| bytes > 100.0), "{farm}");
        assert!(farm["placement_us_per_assignment_p50"].as_f64().is_some_and(|us| us > 0.0), "{farm}");
        assert!(farm["metrics_count_us"].as_f64().is_some_and(|us| us > 0.0) && farm["metrics_encode_us"].as_f64().is_some_and(|us| us > 0.0), "{farm}");
    }
    assert!(summary["placement_ratio_largest_vs_smallest"].as_f64().is_some_and(f64::is_finite), "{summary}");
    Ok(())
}

#[test]
fn bench_scheduler_in_process_refuses_a_queue_too_short_for_its_rounds() -> anyhow::Result<()> {
    let output = Command::new(shotfarm_binary()?)
        .args(["bench", "scheduler", "--in-process", "--farm-sizes", "10", "--queued", "100", "--rounds", "200", "--batch", "8"])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("queue more with --queued"), "{stderr}");
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
