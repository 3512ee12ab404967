//! Crash points (`shotfarm_scheduler::failpoints`): for each site, a replica of a 3-replica
//! cluster running jobs on simulated agents is restarted with `FAILPOINTS=<site>=return`,
//! aborts at that exact point, and is started again without it. For the leader-only site
//! every replica is armed, so whichever leads dies after its 20th append as leader. It catches up; the audit
//! trails of every replica (every run included) satisfy the safety invariants, the recorded
//! client history is linearizable, no acknowledged job is lost, and every job finishes.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::history::{self, JobState, Recorder};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_cluster_tests::{invariants, linearizability};
use shotfarm_proto::v1::ClusterStatusRequest;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_scheduler::failpoints;
use tokio_util::sync::CancellationToken;

use crate::support::{client, step};

/// SIGABRT: how `std::process::abort` ends a process.
const SIGABRT: i32 = 6;
/// Jobs submitted before and while the replica crashes.
const JOBS_BEFORE: usize = 4;
const JOBS_DURING: usize = 4;

/// Which replica the crash point is armed on.
#[derive(Debug, Clone, Copy)]
enum Victim {
    /// The leader, killed first (a failover), crashes at the site while it catches up.
    Leader,
    /// A follower, killed first, crashes at the site while it catches up.
    Follower,
    /// A follower kept down until the leader compacted its log past it: it catches up by
    /// snapshot.
    LaggingFollower,
    /// Every replica, armed with a site that fires only while it leads, after that many
    /// appends as leader: sitting leaders die with entries no follower has seen.
    SittingLeaders { after_appends: u32 },
}

async fn status(addr: &str, credentials: &shotfarm_security::Credentials) -> Option<shotfarm_proto::v1::ClusterStatusResponse> {
    let channel = shotfarm_proto::client::channel(addr, credentials).ok()?;
    let asked = tokio::time::timeout(Duration::from_millis(500), AdminServiceClient::new(channel).cluster_status(ClusterStatusRequest {})).await;
    asked.ok()?.ok().map(tonic::Response::into_inner)
}

async fn crash_at(site: &str, victim: Victim) -> anyhow::Result<()> {
    let started = Instant::now();
    let audit = tempfile::Builder::new().prefix("shotfarm-t80-audit-").tempdir()?;
    // Compact often, so that a lagging follower needs a snapshot.
    let config = audit.path().join("scheduler.toml");
    std::fs::write(&config, "snapshot_every = 20\n")?;
    let audit_dir = audit.path().join("trails");
    let audit_arg = audit_dir.display().to_string();
    let config_arg = config.display().to_string();
    let mut cluster = SchedulerCluster::start(3, &["--config", &config_arg, "--audit", &audit_arg])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs(), cluster.operator());
    let recorder = Recorder::new();
    let agents = CancellationToken::new();
    swarm::start(SwarmConfig { work_time: Duration::from_millis(30), ..SwarmConfig::for_cluster(&cluster, 3) }, agents.clone())?;
    let outcome = run_scenario(site, victim, leader, &mut cluster, &client, &recorder, &audit_dir).await;
    agents.cancel();
    if let Err(err) = &outcome {
        let history = audit.path().join("history.json");
        let _ = recorder.history().save(&history);
        let kept = cluster.keep();
        let _ = audit.keep();
        step(&format!("{site}: FAILED ({err:#}); logs and data under {kept:?}, audit trails and history.json under {audit_dir:?}"));
    } else {
        step(&format!("{site}: passed in {} ms", started.elapsed().as_millis()));
    }
    outcome
}

async fn run_scenario(
    site: &str,
    victim_kind: Victim,
    leader: u64,
    cluster: &mut SchedulerCluster,
    client: &shotfarm_proto::client::LeaderClient,
    recorder: &Recorder,
    audit_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    for index in 0..JOBS_BEFORE {
        jobs.push(recorder.submit(client, &format!("t80-{site}-{index}"), "file:///sim/c3-r2.mp4").await?.job_id);
    }
    let victim = match victim_kind {
        Victim::Leader => leader,
        Victim::Follower | Victim::LaggingFollower => (1..=3).find(|id| *id != leader).unwrap_or(1),
        Victim::SittingLeaders { after_appends } => {
            crash_sitting_leaders(site, after_appends, cluster, client, recorder, &mut jobs).await?;
            return check_outcome(site, cluster, client, recorder, audit_dir, &jobs).await;
        }
    };
    let credentials = cluster.operator();
    let victim_applied = status(&cluster.replicas[&victim].addr, &credentials).await.map_or(0, |found| found.applied_index);
    step(&format!("{site}: kill -9 replica {victim} ({victim_kind:?}, leader was {leader}) at applied index {victim_applied}"));
    cluster.kill(victim)?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    for index in JOBS_BEFORE..JOBS_BEFORE + JOBS_DURING / 2 {
        jobs.push(recorder.submit(client, &format!("t80-{site}-{index}"), "file:///sim/c3-r2.mp4").await?.job_id);
    }
    if let Victim::LaggingFollower = victim_kind {
        let (now_leader, leader_addr) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
        wait_until(Duration::from_secs(30), "the leader compacted its log past the stopped follower", || {
            let leader_addr = leader_addr.clone();
            let credentials = credentials.clone();
            async move { status(&leader_addr, &credentials).await.is_some_and(|found| found.first_log_index > victim_applied + 1) }
        })
        .await?;
        let first = status(&leader_addr, &credentials).await.map_or(0, |found| found.first_log_index);
        step(&format!("{site}: leader {now_leader} compacted its log: it starts at {first}"));
    }

    let armed = format!("{site}=return");
    step(&format!("{site}: restart replica {victim} with FAILPOINTS={armed}"));
    cluster.restart_with_env(victim, &[("FAILPOINTS", &armed)])?;
    let submitter = {
        let (recorder, addrs, credentials) = (recorder.clone(), cluster.addrs(), cluster.operator());
        let site = site.to_owned();
        tokio::spawn(async move {
            let client = crate::support::client(addrs, credentials);
            let mut submitted = Vec::new();
            for index in JOBS_BEFORE + JOBS_DURING / 2..JOBS_BEFORE + JOBS_DURING {
                if let Ok(response) = recorder.submit(&client, &format!("t80-{site}-{index}"), "file:///sim/c3-r2.mp4").await {
                    submitted.push(response.job_id);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            submitted
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = cluster.exit_status(victim)? {
            break exit;
        }
        anyhow::ensure!(Instant::now() < deadline, "replica {victim} did not crash at {site} within 20 s (is the binary a debug build with the failpoints feature?)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    anyhow::ensure!(exit.signal() == Some(SIGABRT), "replica {victim} ended with {exit}, not by the abort at {site}");
    step(&format!("{site}: replica {victim} aborted at the crash point ({exit})"));
    jobs.extend(submitter.await?);

    step(&format!("{site}: restart replica {victim} without failpoints; it catches up"));
    cluster.restart(victim)?;
    let victim_addr = cluster.replicas[&victim].addr.clone();
    let (_, leader_addr) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let credentials = cluster.operator();
    let target = status(&leader_addr, &credentials).await.map_or(0, |found| found.commit_index);
    wait_until(Duration::from_secs(20), "the restarted replica applied everything committed before", || {
        let victim_addr = victim_addr.clone();
        let credentials = credentials.clone();
        async move { status(&victim_addr, &credentials).await.is_some_and(|found| found.applied_index >= target) }
    })
    .await?;
    let caught_up = status(&victim_addr, &credentials).await.map_or(0, |found| found.applied_index);
    step(&format!("{site}: replica {victim} applied index {caught_up} (leader's commit was {target})"));

    check_outcome(site, cluster, client, recorder, audit_dir, &jobs).await
}

/// Arms every replica (a rolling kill -9 and restart) with `site` after `after_appends`
/// appends as leader, keeps submitting jobs until at least one sitting leader has aborted
/// there, restarts each aborted replica without the crash point, and finally restarts the
/// ones still armed without it, so nothing fires during the checks.
async fn crash_sitting_leaders(
    site: &str,
    after_appends: u32,
    cluster: &mut SchedulerCluster,
    client: &shotfarm_proto::client::LeaderClient,
    recorder: &Recorder,
    jobs: &mut Vec<String>,
) -> anyhow::Result<()> {
    let armed = format!("{site}={after_appends}*off->return");
    let mut still_armed = Vec::new();
    for id in 1..=3u64 {
        step(&format!("{site}: kill -9 replica {id} and restart it with FAILPOINTS={armed}"));
        cluster.kill(id)?;
        cluster.restart_with_env(id, &[("FAILPOINTS", &armed)])?;
        still_armed.push(id);
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut crashes = 0;
    let mut index = JOBS_BEFORE;
    while crashes == 0 || index < JOBS_BEFORE + JOBS_DURING {
        anyhow::ensure!(Instant::now() < deadline, "no sitting leader aborted at {site} within 40 s ({index} jobs submitted)");
        if let Ok(response) = recorder.submit(client, &format!("t80-{site}-{index}"), "file:///sim/c3-r2.mp4").await {
            jobs.push(response.job_id);
        }
        index += 1;
        for id in 1..=3u64 {
            if let Some(exit) = cluster.exit_status(id)? {
                anyhow::ensure!(exit.signal() == Some(SIGABRT), "replica {id} ended with {exit}, not by the abort at {site}");
                crashes += 1;
                step(&format!("{site}: replica {id} aborted while leading ({exit}); restart it without failpoints"));
                cluster.restart(id)?;
                still_armed.retain(|armed| *armed != id);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in still_armed {
        step(&format!("{site}: restart replica {id} without failpoints"));
        if cluster.exit_status(id)?.is_none() {
            cluster.kill(id)?;
        }
        cluster.restart(id)?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
    }
    step(&format!("{site}: {crashes} sitting leader(s) aborted after their log append; {} jobs submitted", jobs.len()));
    Ok(())
}

/// What every scenario ends with: every job succeeds, every replica applies the last entry,
/// no acknowledged job is lost, the audit trails hold the invariants across every run, and
/// the client history is linearizable.
async fn check_outcome(
    site: &str,
    cluster: &SchedulerCluster,
    client: &shotfarm_proto::client::LeaderClient,
    recorder: &Recorder,
    audit_dir: &std::path::Path,
    jobs: &[String],
) -> anyhow::Result<()> {
    wait_until(Duration::from_secs(40), "every job succeeded", || async {
        let mut all = true;
        for job_id in jobs {
            let done = recorder.get(client, job_id).await.is_ok_and(|job| history::job_state(job.state) == Some(JobState::Succeeded));
            all &= done;
            if !all {
                break;
            }
        }
        if !all {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        all
    })
    .await?;
    step(&format!("{site}: all {} jobs succeeded", jobs.len()));

    // Let every replica apply the last entries before reading the trails.
    let (_, leader_addr) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let credentials = cluster.operator();
    let last = status(&leader_addr, &credentials).await.map_or(0, |found| found.commit_index);
    let addrs = cluster.addrs();
    wait_until(Duration::from_secs(10), "every replica applied the last entry", || {
        let addrs = addrs.clone();
        let credentials = credentials.clone();
        async move {
            for addr in &addrs {
                if status(addr, &credentials).await.is_none_or(|found| found.applied_index < last) {
                    return false;
                }
            }
            true
        }
    })
    .await?;

    let lost = invariants::check_acknowledged_jobs(client, &recorder.history()).await;
    anyhow::ensure!(lost.is_empty(), "acknowledged jobs lost: {lost:?}");
    let report = invariants::check_audit_dir(audit_dir)?;
    step(&format!("{site}: audit: {report}"));
    report.assert_clean()?;
    anyhow::ensure!(report.runs >= 5, "expected the crashed replica's runs in the trails: {report}");
    let history = recorder.history();
    linearizability::check(&history)?;
    step(&format!("{site}: {} client operations linearizable; {} acknowledged jobs all present", history.operations.len(), history.acknowledged_jobs().len()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_the_log_append() -> anyhow::Result<()> {
    crash_at(failpoints::BEFORE_LOG_APPEND, Victim::Leader).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_log_append() -> anyhow::Result<()> {
    crash_at(failpoints::AFTER_LOG_APPEND, Victim::Follower).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitting_leaders_crash_after_their_log_append() -> anyhow::Result<()> {
    crash_at(failpoints::LEADER_AFTER_LOG_APPEND, Victim::SittingLeaders { after_appends: 20 }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_apply_and_persisting_the_applied_index() -> anyhow::Result<()> {
    crash_at(failpoints::AFTER_APPLY_BEFORE_PERSIST, Victim::Leader).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_snapshot_install() -> anyhow::Result<()> {
    crash_at(failpoints::DURING_SNAPSHOT_INSTALL, Victim::LaggingFollower).await
}
