//! `shotfarm report` on a finished job of a real farm (a TLS scheduler and a real agent):
//! GetJob carries each rendition's quality as report.json gives it; the command prints it as
//! a table and as JSON, copies report.html with `--html`, and refuses a job it has no report
//! for with a message saying why.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, shotfarm_binary};
use shotfarm_cluster_tests::media;
use shotfarm_proto::v1;
use shotfarm_security::Role;

use crate::support::{is_state, shotfarm_as_operator, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shotfarm_report_shows_a_finished_jobs_quality_and_copies_its_page() -> anyhow::Result<()> {
    let mut farm = Farm::start(1, &[], &["t52-1"])?;
    let outcome = report_of_a_finished_job(&farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn report_of_a_finished_job(farm: &Farm) -> anyhow::Result<()> {
    let (_, leader) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "report.mp4", (320, 180), 2.0).await?;
    let out = farm.subdir("out-report")?;
    step(&format!("a scored {}-frame job on one real agent", source.frames));
    let job_id = farm.submit("t52-report", v1::JobSpec { quality_scoring: v1::QualityScoring::Full as i32, ..source.job_spec(&out) }).await?;
    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    media::check_outputs(&out, &source).await?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let reported = report["renditions"].as_array().context("report.json's renditions")?;

    step("GetJob carries every rendition's quality, as report.json gives it");
    ensure!(job.report_url == format!("file://{}/report.json", out.display()), "report_url {}", job.report_url);
    ensure!(job.renditions.len() == reported.len() && !reported.is_empty(), "GetJob has {} renditions, report.json {}", job.renditions.len(), reported.len());
    for (wire, json) in job.renditions.iter().zip(reported) {
        let quality = &json["quality"];
        ensure!(wire.name == json["name"] && wire.scored && u64::from(wire.bitrate_kbps) == json["bitrate_kbps"].as_u64().unwrap_or_default(), "{wire:?} vs {json}");
        for (got, field) in [(wire.vmaf_mean, "vmaf_mean"), (wire.vmaf_harmonic_mean, "vmaf_harmonic_mean"), (wire.vmaf_min, "vmaf_min"), (wire.vmaf_p1, "vmaf_p1"), (wire.psnr_y, "psnr_y"), (wire.ssim, "ssim")] {
            ensure!(Some(got) == quality[field].as_f64(), "{} {field}: GetJob {got}, report.json {}", wire.name, quality[field]);
        }
        ensure!(wire.frames_scored == source.frames, "{} scored {} of {} frames", wire.name, wire.frames_scored, source.frames);
    }

    step("shotfarm report: a table, --json, --html");
    let table = shotfarm_as_operator(&farm.cluster, &["report", "--scheduler", &leader, &job_id])?;
    eprintln!("{table}");
    let lines: Vec<&str> = table.lines().collect();
    ensure!(lines.len() == 2 + job.renditions.len() && lines[1].contains("vmaf") && lines[1].contains("ssim"), "{table}");
    for (line, rendition) in lines[2..].iter().zip(&job.renditions) {
        ensure!(line.starts_with(&rendition.name) && line.contains(&format!("{:.2}", rendition.vmaf_mean)) && line.contains(&format!("{:.4}", rendition.ssim)), "{line}");
    }
    let json: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(&farm.cluster, &["report", "--scheduler", &leader, &job_id, "--json"])?)?;
    let listed = json["renditions"].as_array().context("--json lists renditions")?;
    ensure!(listed.len() == reported.len(), "{json}");
    for (listed, json) in listed.iter().zip(reported) {
        ensure!(listed["name"] == json["name"] && listed["quality"]["vmaf_p1"] == json["quality"]["vmaf_p1"], "{listed} vs {json}");
    }
    let copy = farm.dir.join("copied-report.html");
    shotfarm_as_operator(&farm.cluster, &["report", "--scheduler", &leader, &job_id, "--html", copy.to_str().unwrap_or_default()])?;
    ensure!(std::fs::read(&copy)? == std::fs::read(out.join("report.html"))?, "--html copied something else than the job's report.html");

    step("a job the farm has no report for is refused, saying why");
    let output = Command::new(shotfarm_binary()?)
        .args(["report", "--scheduler", &leader, "job-999"])
        .args(farm.cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?)
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(!output.status.success() && stderr.contains("job-999") && !stderr.contains("panicked"), "{stderr}");
    Ok(())
}
