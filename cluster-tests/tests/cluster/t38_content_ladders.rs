//! A per-shot ladder on real agents and real media: the analyze tasks run beside each other on
//! two agents; one agent is killed with -9 while it holds an analysis, which runs again on the
//! other; the job's renditions are frame-exact, and report.json gives the hull and every
//! chunk's own quality setting per rung, predicted beside measured.

use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_cluster_tests::media;
use shotfarm_proto::v1;

use crate::held_task::{freeze_a_running_task, task};
use crate::support::{is_state, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_shot_job_survives_an_agent_killed_mid_analysis_and_is_frame_exact() -> anyhow::Result<()> {
    let mut farm = Farm::start(1, &[], &["t38-1", "t38-2"])?;
    let outcome = killed_mid_analysis(&mut farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn killed_mid_analysis(farm: &mut Farm) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "ladder.mp4", (320, 180), 4.0).await?;
    let out = farm.subdir("out-ladder")?;
    let recipe = v1::LadderRecipe { ladder: "per-shot".into(), preset: "ultrafast".into(), target_vmaf: 90.0, ..Default::default() };
    step(&format!("submit a {}-frame per-shot job with short chunks to two real agents", source.frames));
    let job_id = farm.submit("t38-per-shot", v1::JobSpec { recipe: Some(recipe), ..source.job_spec(&out) }).await?;

    let held = freeze_a_running_task(farm, &job_id, "analyze").await?;
    step(&format!("kill -9 agent {} while it holds analyze task {}", held.agent, held.task_id));
    farm.agent_mut(&held.agent)?.kill()?;
    wait_until(Duration::from_secs(20), "the lost analysis runs again elsewhere", || async {
        farm.job(&job_id).await.is_ok_and(|job| job.tasks.iter().any(|found| found.task_id == held.task_id && found.attempt >= 2))
    })
    .await?;
    let job = farm.wait_for_job(&job_id, Duration::from_secs(180)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    let retried = task(&job, held.task_id)?;
    ensure!(retried.attempt == 2 && retried.node_id != held.node_id, "the lost analysis should have succeeded as attempt 2 on the other node: {retried:?}");
    let analyses = job.tasks.iter().filter(|task| task.kind == "analyze").count();
    let encodes = job.tasks.iter().filter(|task| task.kind == "encode").count();

    step("the outputs: every rendition frame-exact and in order; the ladder's decision in report.json");
    let checked = media::check_outputs(&out, &source).await?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let ladder = &report["ladder"];
    ensure!(ladder["kind"] == "per-shot", "report.json's ladder: {ladder}");
    let codec = &ladder["codecs"][0];
    ensure!(codec["hull"].as_array().is_some_and(|hull| hull.len() >= 2), "a hull of the trials: {codec}");
    let chunks = report["chunks"].as_array().context("report.json lists the chunks")?.len();
    ensure!(analyses == chunks, "one analysis per chunk at the source's one trial size: {analyses} for {chunks} chunks");
    let rungs = codec["rungs"].as_array().context("the ladder's rungs")?;
    ensure!(rungs.len() == checked.renditions.len(), "a decision per rendition: {rungs:?}");
    for rung in rungs {
        let settings = rung["chunk_settings"].as_array().context("per-chunk settings")?;
        ensure!(settings.len() == chunks, "every chunk has its setting: {rung}");
        let (predicted, measured) = (rung["predicted_vmaf"].as_f64().context("predicted")?, rung["measured_vmaf"].as_f64().context("measured")?);
        ensure!((predicted - measured).abs() < 10.0, "the prediction is far from what was measured: {rung}");
    }
    step(&format!("{analyses} analyses (one retried), {encodes} encodes, {} renditions of {} frames", checked.renditions.len(), source.frames));
    Ok(())
}
