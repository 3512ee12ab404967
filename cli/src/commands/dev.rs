//! `shotfarm dev [INPUT] --out DIR`: the whole farm in one process — a one-replica scheduler
//! and N agents on loopback — running one job to a validated HLS/DASH ladder in DIR. With no
//! INPUT it synthesizes a sample with ffmpeg (three shots with hard cuts, and audio). The farm
//! runs as a deployed one does, with TLS and authentication on: a throwaway CA issues the
//! replica's, each agent's and the client's (an operator's) certificates; `--insecure` turns
//! both off (plaintext, anonymous), to measure what they cost.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shotfarm_agent::runtime::config::AgentSettings;
use shotfarm_agent::runtime::runner::media_executor;
use shotfarm_agent::runtime::{self as agent_runtime, Shutdown};
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::storage::StorageUrl;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{self, SubmitJobRequest};
use shotfarm_scheduler::config::SchedulerSettings;
use shotfarm_scheduler::server;
use shotfarm_security::local_farm::LocalFarmCertificates;
use shotfarm_security::{Credentials, Role, TlsFiles, TransportSecurity};
use tokio_util::sync::CancellationToken;

use crate::client::job_options::JobOptions;
use crate::client::job_view;
use crate::{report_ladder, report_stages};

use super::watch::follow;
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The source video (any file ffmpeg reads); a sample is synthesized when omitted.
    pub input: Option<PathBuf>,
    /// Where the ladder, manifests and report.json go.
    #[arg(long)]
    pub out: PathBuf,
    /// In-process agents.
    #[arg(long, default_value_t = 1)]
    pub agents: u32,
    /// Plaintext gRPC and no authentication (a warning is logged).
    #[arg(long)]
    pub insecure: bool,
    /// Serve the web dashboard on HOST:PORT (e.g. 127.0.0.1:9464) while the job runs, and
    /// keep the farm up after it, until Ctrl-C, to look at the job in a browser.
    #[arg(long, value_name = "HOST:PORT")]
    pub dashboard: Option<SocketAddr>,
    #[command(flatten)]
    pub options: JobOptions,
}

/// Who watches an in-process farm's job: progress on stderr, and the web dashboard.
#[derive(Debug, Clone, Copy)]
pub struct Observers {
    pub progress: bool,
    /// Where the replica serves the dashboard; the farm then stays up after the job until
    /// Ctrl-C.
    pub dashboard: Option<SocketAddr>,
}

impl Observers {
    /// Nothing drawn, no dashboard: the benchmarks.
    pub const QUIET: Observers = Observers { progress: false, dashboard: None };
}

/// How the in-process farm's processes talk: as deployed (TLS, certificates) or `--insecure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarmTransport {
    Tls,
    Insecure,
}

impl FarmTransport {
    pub fn from_insecure_flag(insecure: bool) -> FarmTransport {
        if insecure { FarmTransport::Insecure } else { FarmTransport::Tls }
    }
}

/// The certificate files of one process of the in-process farm (none when insecure).
fn farm_files(certs: Option<&LocalFarmCertificates>, role: Role, name: &str) -> Result<TlsFiles, CommandError> {
    match certs {
        Some(certs) => certs.files(role, name).map_err(|err| CommandError::from(anyhow::anyhow!("cannot issue the farm's certificates: {err}"))),
        None => Ok(TlsFiles::default()),
    }
}

fn usage(message: String) -> CommandError {
    CommandError::usage(anyhow::anyhow!(message))
}

fn absolute(path: &Path) -> Result<PathBuf, CommandError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir().map_err(|err| usage(format!("cannot resolve {}: {err}", path.display())))?.join(path))
}

/// A sample of `seconds` (at least 3) at `width`x`height`: three shots with hard cuts (moving test pattern, bars with
/// film grain, a second test pattern with shifted colours) and a tone. Every source here is cheap to generate (the
/// fractal ones are not: minutes for 10 s of 720p), and none is periodic: a pattern that
/// repeats every few frames defeats frame fingerprints (see docs/ARCHITECTURE.md).
pub async fn synthesize_sample(path: &Path, (width, height): (u32, u32), seconds: u32) -> Result<(), CommandError> {
    let seconds = seconds.max(3);
    let (first, second) = (seconds * 2 / 5, seconds * 3 / 10);
    let third = seconds - first - second;
    let size = format!("{width}x{height}");
    let filter = "[1:v]noise=alls=12:allf=t[grain];[0:v][grain][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]";
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", &format!("testsrc2=size={size}:rate=24:duration={first}")])
        .args(["-f", "lavfi", "-i", &format!("smptehdbars=size={size}:rate=24:duration={second}")])
        .args(["-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=24:duration={third},hue=h=90")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={seconds}")])
        .args(["-filter_complex", filter, "-map", "[v]", "-map", "3:a", "-t", &seconds.to_string()])
        // A keyframe every second, as in a mezzanine: chunks start near one, so each encode
        // decodes little more than its own frames.
        .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "24", "-c:a", "aac", "-b:a", "128k"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|err| CommandError::from(anyhow::anyhow!("cannot run ffmpeg to synthesize the sample: {err} (install it: apt-get install ffmpeg)")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CommandError::from(anyhow::anyhow!("ffmpeg could not synthesize the sample ({}): {}", output.status, stderr.trim())));
    }
    Ok(())
}

pub fn run(args: DevArgs) -> CommandResult {
    if args.agents == 0 || args.agents > 64 {
        return Err(usage(format!("--agents {} is outside 1..=64", args.agents)));
    }
    let out = absolute(&args.out)?;
    std::fs::create_dir_all(&out).map_err(|err| usage(format!("--out {}: cannot create it: {err}", out.display())))?;
    let input = match &args.input {
        Some(input) => {
            let input = absolute(input)?;
            if !input.is_file() {
                return Err(usage(format!("input {} is not a readable file", input.display())));
            }
            Some(input)
        }
        None => None,
    };
    block_on(async move {
        let signals = Shutdown::on_signals();
        let scratch = tempfile::Builder::new().prefix("shotfarm-dev-").tempdir().map_err(|err| CommandError::from(anyhow::anyhow!("cannot make a temp dir: {err}")))?;
        let input = match input {
            Some(input) => input,
            None => {
                let sample = scratch.path().join("sample.mp4");
                eprintln!("synthesizing a 10 s 720p sample with three shots and audio…");
                synthesize_sample(&sample, (1280, 720), 10).await?;
                sample
            }
        };
        let started = Instant::now();
        let transport = FarmTransport::from_insecure_flag(args.insecure);
        let observers = Observers { progress: true, dashboard: args.dashboard };
        let job = run_farm(&input, &out, args.agents, &args.options, transport, &signals, observers).await?;
        match job_view::state_name(job.state) {
            "succeeded" => {
                print_summary(&out, started.elapsed());
                Ok(())
            }
            _ => Err(job_view::unsuccessful(&job)),
        }
    })
}

/// Runs one job through an in-process farm (one replica, `agents` agents on loopback) and
/// returns the finished job, shown to its `observers` as it runs.
/// `agents` in-process agents share this machine's cores.
pub async fn run_farm(
    input: &Path,
    out: &Path,
    agent_count: u32,
    options: &JobOptions,
    transport: FarmTransport,
    signals: &Shutdown,
    observers: Observers,
) -> Result<v1::Job, CommandError> {
    let draw = observers.progress;
    let scratch = tempfile::Builder::new().prefix("shotfarm-farm-").tempdir().map_err(|err| CommandError::from(anyhow::anyhow!("cannot make a temp dir: {err}")))?;
    let certs = match transport {
        FarmTransport::Tls => Some(
            LocalFarmCertificates::open(&scratch.path().join("certs"))
                .map_err(|err| CommandError::from(anyhow::anyhow!("cannot make the farm's CA: {err}")))?,
        ),
        FarmTransport::Insecure => None,
    };
    let insecure = (transport == FarmTransport::Insecure).then_some(true);
    // One replica on a free loopback port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|err| CommandError::from(anyhow::anyhow!("cannot bind loopback: {err}")))?;
    let addr = listener.local_addr().map_err(|err| CommandError::from(anyhow::anyhow!("{err}")))?.to_string();
    let replica_files = farm_files(certs.as_ref(), Role::Replica, "1")?;
    // The farm may read the input's directory and write the output directory, nothing else.
    let file_url = |path: &Path| StorageUrl::from_local_path(path).map(|url| url.to_string()).map_err(|err| usage(format!("{}: {err}", path.display())));
    let (input_url, output_url) = (file_url(input)?, file_url(out)?);
    let allow_input = Some(file_url(input.parent().unwrap_or(input))?);
    let allow_output = Some(output_url.clone());
    let config = SchedulerSettings {
        id: Some(1),
        listen: Some(addr.clone()),
        peers: Some(format!("1={addr}")),
        data_dir: Some(scratch.path().join("scheduler")),
        ca: replica_files.ca,
        cert: replica_files.cert,
        key: replica_files.key,
        insecure,
        allow_input: allow_input.clone(),
        allow_output: allow_output.clone(),
        http_listen: observers.dashboard.map(|addr| addr.to_string()),
        ..Default::default()
    }
    .validate()
    .map_err(CommandError::usage)?;
    let http = server::bind_http(&config).await.map_err(|err| usage(format!("--dashboard: {err}")))?;
    let replica = server::open_replica(&config).map_err(|err| CommandError::from(anyhow::anyhow!(err)))?;
    let stop_scheduler = CancellationToken::new();
    let scheduler = tokio::spawn(server::serve(config, replica, server::Listeners { grpc: listener, http }, stop_scheduler.clone()));
    // N agents sharing this machine's cores.
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u32;
    let agent_shutdown = signals.child();
    let mut agents = Vec::new();
    for index in 0..agent_count {
        let name = format!("dev-agent-{index}");
        let agent_files = farm_files(certs.as_ref(), Role::Agent, &name)?;
        let mut agent_config = AgentSettings {
            scheduler: Some(addr.clone()),
            work_dir: Some(scratch.path().join(format!("agent-{index}"))),
            name: Some(name),
            ca: agent_files.ca,
            cert: agent_files.cert,
            key: agent_files.key,
            insecure,
            allow_input: allow_input.clone(),
            allow_output: allow_output.clone(),
            ..AgentSettings::default()
        }
        .validate()
        .map_err(CommandError::usage)?;
        agent_config.cpu_cores = (cores / agent_count).max(1);
        agents.push(tokio::spawn(agent_runtime::run(agent_config, media_executor(), agent_shutdown.clone())));
    }
    let operator_files = farm_files(certs.as_ref(), Role::Operator, "dev")?;
    let client_transport = TransportSecurity::from_flags(&operator_files, insecure.is_some(), false).map_err(CommandError::from_display)?;
    let credentials = Credentials::new(client_transport, None).map_err(CommandError::from_display)?;
    let client = LeaderClient::new(vec![addr.clone()], credentials);
    let request = SubmitJobRequest {
        request_id: format!("dev-{}", std::process::id()),
        spec: Some(options.spec(input_url, output_url)),
        ..Default::default()
    };
    let submitted = crate::client::scheduler::submit_job(&client, request).await?;
    if draw {
        eprintln!("{} submitted: {} → {}", submitted.job_id, input.display(), out.display());
    }
    if let Some(addr) = observers.dashboard
        && let Err(err) = announce_dashboard(&client, addr, certs.as_ref(), &submitted.job_id).await
    {
        eprintln!("warning: {err}; the dashboard is at {} without a token to sign in with", dashboard_url(addr, certs.is_some(), None));
    }
    let outcome = tokio::select! {
        job = follow(&client, &submitted.job_id, draw) => job,
        () = signals.graceful.cancelled() => Err(CommandError::from(anyhow::anyhow!("interrupted"))),
    };
    if let (Some(addr), Ok(job)) = (observers.dashboard, &outcome) {
        eprintln!("{} {}; the dashboard stays at {} until Ctrl-C", job.job_id, job_view::state_name(job.state), dashboard_url(addr, certs.is_some(), Some(&job.job_id)));
        signals.graceful.cancelled().await;
    }
    agent_shutdown.abort.cancel();
    for agent in agents {
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    }
    stop_scheduler.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler).await;
    outcome
}

/// The dashboard's address for a browser (a job's page when `job` is given).
fn dashboard_url(addr: SocketAddr, tls: bool, job: Option<&str>) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}/{}", job.map_or(String::new(), |job| format!("#/jobs/{job}")))
}

/// Tells the person at the terminal where the dashboard is and how to sign in: with an
/// operator token made for this farm (TLS), whose throwaway CA their browser will not know.
async fn announce_dashboard(client: &LeaderClient, addr: SocketAddr, certs: Option<&LocalFarmCertificates>, job_id: &str) -> Result<(), CommandError> {
    let url = dashboard_url(addr, certs.is_some(), Some(job_id));
    let Some(certs) = certs else {
        eprintln!("dashboard: {url}");
        return Ok(());
    };
    let request = v1::CreateTokenRequest { name: "dev-dashboard".to_owned(), role: "operator".to_owned() };
    let token = client
        .call(|channel| {
            let request = request.clone();
            async move { AdminServiceClient::new(channel).create_token(request).await }
        })
        .await
        .map_err(|status| CommandError::from(anyhow::anyhow!("cannot make the dashboard's token: {}", status.message())))?
        .into_inner()
        .token;
    eprintln!("dashboard: {url}");
    eprintln!("  sign in with {token}");
    eprintln!("  (the farm's CA is a throwaway one, {}: accept the browser's warning)", certs.ca().display());
    Ok(())
}

/// What was made, read back from report.json.
fn print_summary(out: &Path, elapsed: Duration) {
    outln!("done in {:.1} s: {}", elapsed.as_secs_f64(), out.display());
    outln!("  {}", out.join("master.m3u8").display());
    outln!("  {}", out.join("manifest.mpd").display());
    outln!("  {}", out.join("report.json").display());
    outln!("  {} (open it in a browser)", out.join("report.html").display());
    let Ok(text) = std::fs::read_to_string(out.join("report.json")) else { return };
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    if let Some(stages) = report_stages::stage_times(&report) {
        outln!("  stages: {}", report_stages::one_line(&stages));
    }
    for line in report_ladder::ladder_lines(&report) {
        outln!("  {line}");
    }
    if let Some(renditions) = report["renditions"].as_array() {
        for rendition in renditions {
            let quality = &rendition["quality"];
            outln!(
                "  {:<12} {:>4}x{:<4} {:>6} kb/s {:>5} frames  VMAF mean {} min {}",
                rendition["name"].as_str().or(rendition["rung"].as_str()).unwrap_or("?"),
                rendition["width"],
                rendition["height"],
                rendition["bitrate_kbps"].as_u64().map_or("?".to_owned(), |kbps| kbps.to_string()),
                rendition["frames"],
                quality["vmaf_mean"].as_f64().map_or("-".to_owned(), |vmaf| format!("{vmaf:.2}")),
                quality["vmaf_min"].as_f64().map_or("-".to_owned(), |vmaf| format!("{vmaf:.2}")),
            );
        }
    }
}
