//! Completion callbacks on a real farm (3 replicas, a real agent, a real job): the farm POSTs
//! a signed event on each state change of the job to a receiver the test runs on loopback.
//! The receiver refuses the first attempt of every event (the farm retries after its
//! backoff) and the leader is killed -9 while an event is still owed: the new leader
//! delivers the rest. Judged at the receiver: every signature verifies, the events arrive in
//! order with nothing lost (pending, running, succeeded with the report and quality), a
//! resend carries the same body under the same id, and the deduplicated stream has each
//! event once. A callback URL outside the farm's endpoints is refused at submission.

use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::callback_receiver::CallbackReceiver;
use shotfarm_cluster_tests::cluster::wait_until;
use shotfarm_cluster_tests::media;
use shotfarm_proto::v1;

use crate::support::{is_state, step};

const SECRET: &[u8] = b"t59-callback-secret-of-the-pipeline";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_signed_retried_and_survive_a_leader_kill() -> anyhow::Result<()> {
    let receiver = CallbackReceiver::start(SECRET, true).await?;
    let secrets = tempfile::tempdir()?;
    let secret_file = secrets.path().join("pipeline.secret");
    std::fs::write(&secret_file, SECRET)?;
    let endpoint = format!("{}/hooks/={}", receiver.base_url(), secret_file.display());
    let mut farm = Farm::start(3, &["--callback-endpoint", &endpoint], &["t59-1"])?;
    let outcome = callbacks(&mut farm, &receiver).await;
    farm.keep_if_failed(&outcome);
    outcome
}

async fn callbacks(farm: &mut Farm, receiver: &CallbackReceiver) -> anyhow::Result<()> {
    farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "callbacks.mp4", (320, 180), 3.0).await?;

    step("a callback URL outside the farm's endpoints is refused at submission");
    let outside = v1::JobSpec { callback_url: "http://127.0.0.1:1/elsewhere".to_owned(), ..source.job_spec(&farm.subdir("out-refused")?) };
    let refused = farm.submit("t59-outside", outside).await.expect_err("a URL under no endpoint is refused");
    ensure!(format!("{refused:#}").contains("spec.callback_url"), "the refusal names the field: {refused:#}");

    step("a job with a callback URL under the endpoint");
    let url = format!("{}/hooks/t59?job=mine", receiver.base_url());
    let out = farm.subdir("out")?;
    let job_id = farm.submit("t59-job", v1::JobSpec { callback_url: url.clone(), ..source.job_spec(&out) }).await?;

    step("the running event is refused once; the leader is killed -9 while it is owed");
    wait_until(Duration::from_secs(60), "the receiver refused the running event's first attempt", || async {
        receiver.attempts().iter().any(|attempt| attempt.event_id == format!("{job_id}.2") && attempt.status == 503)
    })
    .await?;
    let (old_leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(5)).await?;
    farm.cluster.kill(old_leader)?;
    let (new_leader, _) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    ensure!(new_leader != old_leader, "replica {old_leader} was killed but still leads");

    let job = farm.wait_for_job(&job_id, Duration::from_secs(180)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    wait_until(Duration::from_secs(30), "the completion event was taken", || async { receiver.events().len() >= 3 }).await?;

    step("at the receiver: signed, in order, nothing lost, each event once");
    let attempts = receiver.attempts();
    for attempt in &attempts {
        ensure!(attempt.signature_error.is_none(), "an unsigned or badly signed POST: {attempt:?}");
        ensure!(attempt.path == "/hooks/t59", "posted to {}", attempt.path);
    }
    let events = receiver.events();
    let ids: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    let expected: Vec<String> = (1..=3).map(|sequence| format!("{job_id}.{sequence}")).collect();
    ensure!(ids == expected, "events taken {ids:?}, expected {expected:?}");
    for (id, body) in &events {
        let resent: Vec<&str> = attempts.iter().filter(|attempt| attempt.event_id == *id).map(|attempt| attempt.body.as_str()).collect();
        ensure!(resent.len() >= 2, "event {id} was taken at its first attempt, which the receiver refuses: {resent:?}");
        ensure!(resent.iter().all(|sent| sent == body), "event {id} was sent with different bodies");
    }
    let bodies: Vec<serde_json::Value> = events.iter().map(|(_, body)| serde_json::from_str(body)).collect::<Result<_, _>>()?;
    let states: Vec<&str> = bodies.iter().filter_map(|body| body["state"].as_str()).collect();
    ensure!(states == ["pending", "running", "succeeded"], "states {states:?}");
    let done = &bodies[2];
    ensure!(done["previous_state"] == "running" && done["request_id"] == "t59-job", "completion event {done}");
    ensure!(done["report_url"].as_str() == Some(job.report_url.as_str()), "report_url {} against the job's {}", done["report_url"], job.report_url);
    let renditions = done["renditions"].as_array().context("the completion event lists the renditions")?;
    ensure!(renditions.len() == job.renditions.len() && !renditions.is_empty(), "{} renditions in the event, {} in the job", renditions.len(), job.renditions.len());
    for (sent, rendition) in renditions.iter().zip(&job.renditions) {
        let vmaf = sent["quality"]["vmaf_mean"].as_f64().context("each rendition's VMAF")?;
        ensure!(sent["name"] == rendition.name.as_str() && (vmaf - rendition.vmaf_mean).abs() < 1e-9, "{sent} against {rendition:?}");
    }

    step("the job's status shows the deliveries");
    let delivery = farm.job(&job_id).await?.callback.context("the job shows its callback")?;
    ensure!(delivery.url == url && (delivery.events, delivery.delivered, delivery.given_up) == (3, 3, 0), "{delivery:?}");
    eprintln!("[figure] t59 callbacks: {} POSTs for 3 events ({} refused on purpose), leader {old_leader} killed mid-job", attempts.len(), attempts.iter().filter(|attempt| attempt.status == 503).count());
    Ok(())
}
