//! Sequential commit latency: one SubmitJob at a time against a fresh 3-replica cluster.
//! `cargo run --release -p shotfarm-cluster-tests --example commit_latency [COUNT]`

use std::time::{Duration, Instant};

use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, SubmitJobRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(200);
    let replicas: u64 = std::env::args().nth(2).and_then(|arg| arg.parse().ok()).unwrap_or(3);
    let cluster = SchedulerCluster::start(replicas, &[])?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = cluster.client();
    let mut samples = Vec::with_capacity(count);
    for index in 0..count {
        let request = SubmitJobRequest {
            request_id: format!("latency-{index}"),
            spec: Some(v1::JobSpec { input_url: "file:///sim/in.mp4".into(), output_url: "file:///sim/out".into(), ..Default::default() }),
            ..Default::default()
        };
        let started = Instant::now();
        client
            .call(|channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
            })
            .await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
    println!("{count} sequential commits through {replicas} replicas: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", at(0.5), at(0.99), at(1.0));
    Ok(())
}
