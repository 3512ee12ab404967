//! A whole job from `s3://` to `s3://` on a real farm (a TLS scheduler, a real agent of the
//! shipped binary's default build) against a real S3-protocol server the test starts itself
//! (moto, `scripts/ensure-s3-server`): the source read from the bucket, chunks and renditions
//! through the work area in the bucket (multipart uploads), the ladder, manifests and report
//! published there, the work area removed, and every output frame-exact when fetched back.
//! Without the server it skips with the reason, or fails under `CI` or `REQUIRE_S3=1`.

use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::{AgentProcess, Farm};
use shotfarm_cluster_tests::media;
use shotfarm_cluster_tests::s3_server::{S3Server, server_program};
use shotfarm_proto::v1;

use crate::support::{is_state, step};

const BUCKET: &str = "media";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reads_its_source_from_s3_and_publishes_its_ladder_there() -> anyhow::Result<()> {
    let Some(program) = server_program() else {
        let required = std::env::var_os("CI").is_some() || std::env::var("REQUIRE_S3").is_ok_and(|value| value == "1");
        ensure!(!required, "no S3-protocol server: run scripts/ensure-s3-server (or set SHOTFARM_S3_SERVER to a moto_server)");
        eprintln!("skipping the s3:// job: no S3-protocol server (scripts/ensure-s3-server installs moto)");
        return Ok(());
    };
    let roots = [format!("s3://{BUCKET}/in"), format!("s3://{BUCKET}/out")];
    let mut farm = Farm::start(1, &["--allow-input", &roots[0], "--allow-output", &roots[1]], &[])?;
    let outcome = s3_job(&mut farm, &program, &roots).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn s3_job(farm: &mut Farm, program: &std::path::Path, roots: &[String; 2]) -> anyhow::Result<()> {
    let server = S3Server::start(program, &farm.dir)?;
    let mut agent = AgentProcess::builder("t58-1", &farm.cluster)?.roots(&roots[0], &roots[1]);
    for (key, value) in server.agent_env() {
        agent = agent.env(key, &value);
    }
    farm.add_agent(agent)?;
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;

    step("the source goes into the bucket");
    let source = media::synthesize(&farm.subdir("sources")?, "s3-source.mp4", (320, 180), 2.0).await?;
    server.create_bucket(BUCKET).with_context(|| server.log_text())?;
    server.put_file(BUCKET, "in/source.mp4", &source.path)?;

    step("a job from s3:// to s3://");
    let spec = v1::JobSpec { input_url: format!("{}/source.mp4", roots[0]), output_url: format!("{}/job", roots[1]), ..source.job_spec(&farm.dir) };
    let job_id = farm.submit("t58-s3", spec).await?;
    let job = farm.wait_for_job(&job_id, Duration::from_secs(180)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    ensure!(job.report_url == format!("{}/job/report.json", roots[1]), "report_url {}", job.report_url);

    step("the published ladder, fetched back, is frame-exact; the work area is gone");
    let keys = server.list(BUCKET, "out/job/")?;
    ensure!(!keys.iter().any(|key| key.contains(".shotfarm-work")), "the work area is left in the bucket: {keys:?}");
    let fetched = farm.subdir("fetched")?;
    let count = server.download_prefix(BUCKET, "out/job/", &fetched)?;
    ensure!(count == keys.len() && count > 0, "fetched {count} of {} objects", keys.len());
    media::check_outputs(&fetched, &source).await?;
    Ok(())
}
