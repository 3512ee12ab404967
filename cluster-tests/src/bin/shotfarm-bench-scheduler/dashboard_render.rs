//! The dashboard's first render in headless Chromium (`player-tests/dashboard-render.mjs`)
//! on the benchmark's farm, every simulated agent connected: an operator token made for it,
//! the page loaded several times from a follower, each timed from navigation start to the
//! nodes table holding every node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, ensure};
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::CreateTokenRequest;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;

/// Milliseconds from navigation start to every node shown, sorted, over `loads` loads.
pub async fn measure(client: &LeaderClient, http: SocketAddr, nodes: usize, loads: usize) -> anyhow::Result<Vec<f64>> {
    let request = CreateTokenRequest { name: format!("bench-dashboard-{}", std::process::id()), role: "operator".to_owned() };
    let token = client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(AdminServiceClient::new(channel).create_token(request).await?.into_inner().token) }
        })
        .await?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../player-tests/dashboard-render.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .args(["--url", &format!("https://{http}/"), "--token", &token, "--nodes", &nodes.to_string(), "--loads", &loads.to_string()])
            .output()
    })
    .await
    .context("the render task panicked")?
    .context("cannot run node (scripts/ensure-browser installs it, Chromium and player-tests/node_modules)")?;
    ensure!(output.status.success(), "dashboard-render.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    let measured: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| format!("dashboard-render.mjs printed {}", String::from_utf8_lossy(&output.stdout)))?;
    measured["firstRenderMs"].as_array().context("no firstRenderMs")?.iter().map(|ms| ms.as_f64().context("a time that is not a number")).collect()
}
