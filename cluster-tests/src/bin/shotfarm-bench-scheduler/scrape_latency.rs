//! HTTP latency of a replica while the farm works: its `/metrics` scraped back to back on one
//! kept-alive connection (as Prometheus keeps its connections), and the dashboard's
//! `/api/overview` (what its first render waits for: every node and the newest jobs), as the
//! harness's operator over TLS (plaintext with `--insecure`). Each answer is checked: the
//! metrics parse as OpenMetrics, the overview as JSON listing every simulated agent.

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

/// What is read.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// `/metrics`.
    Metrics,
    /// `/api/overview`, which should list this many nodes.
    DashboardOverview { nodes: usize },
}

impl Page {
    fn path(self) -> &'static str {
        match self {
            Page::Metrics => "/metrics",
            Page::DashboardOverview { .. } => "/api/overview",
        }
    }

    fn check(self, body: &str) -> anyhow::Result<()> {
        match self {
            Page::Metrics => openmetrics::parse(body).map(drop).context("a scrape did not parse"),
            Page::DashboardOverview { nodes } => {
                let overview: serde_json::Value = serde_json::from_str(body).context("the overview is not JSON")?;
                let listed = overview["nodes"].as_array().map_or(0, Vec::len);
                ensure!(listed >= nodes, "the overview lists {listed} nodes of {nodes}");
                Ok(())
            }
        }
    }
}

/// Reads `page` of `addr` until `stop` fires or `limit` reads were made.
pub async fn measure(scraper: Scraper, addr: SocketAddr, page: Page, limit: usize, stop: CancellationToken) -> anyhow::Result<ScrapeLatency> {
    let mut connection = scraper.connect(addr).await?;
    let mut samples_ms = Vec::with_capacity(limit);
    let mut body_bytes = 0;
    while samples_ms.len() < limit && !stop.is_cancelled() {
        let started = Instant::now();
        let answer = connection.get(page.path()).await?;
        samples_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        ensure!(answer.status == 200, "{} answered {}: {}", page.path(), answer.status, answer.body);
        page.check(&answer.body)?;
        body_bytes = answer.body.len();
        tokio::select! {
            () = tokio::time::sleep(BETWEEN_SCRAPES) => {}
            () = stop.cancelled() => {}
        }
    }
    samples_ms.sort_by(f64::total_cmp);
    Ok(ScrapeLatency { samples_ms, body_bytes })
}
