//! `/metrics` scrape latency while the farm works: a replica's `/metrics` scraped back to
//! back on one kept-alive connection (as Prometheus keeps its connections), as the harness's
//! operator over TLS (plaintext with `--insecure`), while the saturation phase runs with every
//! simulated agent. Each scrape is checked to parse as OpenMetrics.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster};
use shotfarm_cluster_tests::openmetrics;
use shotfarm_cluster_tests::scrape::Scraper;
use shotfarm_security::Role;
use tokio_util::sync::CancellationToken;

/// Pause between scrapes, so the scrapes sample the whole phase rather than load it.
const BETWEEN_SCRAPES: Duration = Duration::from_millis(20);

/// What the scrapes measured.
#[derive(Debug, Clone)]
pub struct ScrapeLatency {
    /// Milliseconds, sorted.
    pub samples_ms: Vec<f64>,
    /// The size of the last scrape's body.
    pub body_bytes: usize,
}

/// How to scrape `cluster`'s replicas: as its operator, or plaintext.
pub fn scraper_for(cluster: &SchedulerCluster) -> anyhow::Result<Scraper> {
    match cluster.certificates() {
        Some(certificates) => Scraper::tls(&certificates.files(Role::Operator, HARNESS_OPERATOR)?, None),
        None => Ok(Scraper::plaintext()),
    }
}

/// Scrapes `addr` until `stop` fires or `limit` scrapes were made.
pub async fn measure(scraper: Scraper, addr: SocketAddr, limit: usize, stop: CancellationToken) -> anyhow::Result<ScrapeLatency> {
    let mut connection = scraper.connect(addr).await?;
    let mut samples_ms = Vec::with_capacity(limit);
    let mut body_bytes = 0;
    while samples_ms.len() < limit && !stop.is_cancelled() {
        let started = Instant::now();
        let answer = connection.get("/metrics").await?;
        samples_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        ensure!(answer.status == 200, "/metrics answered {}: {}", answer.status, answer.body);
        openmetrics::parse(&answer.body).context("a scrape did not parse")?;
        body_bytes = answer.body.len();
        tokio::select! {
            () = tokio::time::sleep(BETWEEN_SCRAPES) => {}
            () = stop.cancelled() => {}
        }
    }
    samples_ms.sort_by(f64::total_cmp);
    Ok(ScrapeLatency { samples_ms, body_bytes })
}
