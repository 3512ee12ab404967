//! Attacks on a running farm, each refused without harm. First: forged `RaftService`
//! messages, sent straight to every replica of a real cluster, claiming to come from a member
//! or from an outsider, with fields raft-rs panics on (a heartbeat committing past the log, an
//! append whose entries do not follow its index, an acknowledgement of entries the leader never
//! had, a read without its context) or that would steer it (a proposal, a term-0 append). The
//! group keeps its leader, every replica keeps running, and a job submitted afterwards is
//! acknowledged.

use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Entry, Message, MessageType};
use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_proto::v1::RaftBatch;
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;

use crate::support::{client, step, submit};

fn forged(kind: MessageType, from: u64, to: u64, shape: impl FnOnce(&mut Message)) -> Message {
    let mut message = Message::default();
    message.set_msg_type(kind);
    (message.from, message.to, message.term) = (from, to, 1_000);
    shape(&mut message);
    message
}

/// The messages an attacker sends to replica `to`, claiming to be replica `from`.
fn attack(from: u64, to: u64) -> Vec<Message> {
    let entry = |index| Entry { index, term: 1_000, ..Default::default() };
    vec![
        forged(MessageType::MsgHeartbeat, from, to, |m| m.commit = 1_000_000_000_000),
        forged(MessageType::MsgAppend, from, to, |m| {
            m.index = 1_000;
            m.entries = vec![entry(3), entry(4)].into();
        }),
        forged(MessageType::MsgAppendResponse, from, to, |m| m.index = 1_000_000_000),
        forged(MessageType::MsgReadIndexResp, from, to, |_| {}),
        forged(MessageType::MsgPropose, from, to, |m| m.entries = vec![entry(0)].into()),
        forged(MessageType::MsgAppend, from, to, |m| {
            m.term = 0;
            m.commit = 1_000_000;
        }),
        forged(MessageType::MsgRequestVote, from, to, |m| m.term = u64::MAX),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_raft_messages_crash_no_replica() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let client = client(cluster.addrs());
    submit(&client, "t95-before", "in.mp4").await?;
    step("forged raft messages to every replica, as a member and as an outsider");
    for (&to, replica) in &cluster.replicas {
        let member = if to == 1 { 2 } else { 1 };
        for claimed in [member, 77] {
            let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&replica.addr)?);
            for message in attack(claimed, to) {
                let bytes = message.write_to_bytes()?;
                // Refused or dropped: either way the replica must stay up.
                let _ = raft.step(RaftBatch { from: claimed, messages: vec![bytes], from_addr: String::new() }).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in cluster.replicas.keys().copied().collect::<Vec<_>>() {
        assert_eq!(cluster.exit_status(id)?, None, "replica {id} stopped after forged messages");
    }
    let (leader_after, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    assert_eq!(leader_after, leader, "forged messages moved the leadership");
    submit(&client, "t95-after", "in.mp4").await?;
    Ok(())
}

/// Storage attacks on a real farm whose replicas and agent allow only the farm's directory:
/// each refused with a clear message (at submission with `INVALID_ARGUMENT` / `shotfarm submit`
/// exit 2, or at the agent as a final task error), nothing read or written outside the roots,
/// and a good job still finishes.
mod storage {
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::time::Duration;

    use anyhow::{Context, ensure};
    use shotfarm_cluster_tests::agents::Farm;
    use shotfarm_cluster_tests::cluster::shotfarm_binary;
    use shotfarm_cluster_tests::media;
    use shotfarm_proto::v1;

    use crate::support::{is_state, step};

    fn spec(input_url: &str, out: &Path, overwrite: bool) -> v1::JobSpec {
        v1::JobSpec {
            input_url: input_url.to_owned(),
            output_url: format!("file://{}", out.display()),
            quality_scoring: v1::QualityScoring::Off as i32,
            overwrite,
            ..Default::default()
        }
    }

    /// The submission is refused with `INVALID_ARGUMENT` and a message containing `says`.
    async fn refused_at_submission(farm: &Farm, request_id: &str, spec: v1::JobSpec, says: &str) -> anyhow::Result<()> {
        let error = farm.submit(request_id, spec).await.err().context("the submission was accepted")?;
        let status = error.chain().find_map(|cause| cause.downcast_ref::<tonic::Status>()).context("no gRPC status in the error")?;
        ensure!(status.code() == tonic::Code::InvalidArgument, "{request_id}: {status:?}");
        ensure!(status.message().contains(says), "{request_id}: expected {says:?} in {:?}", status.message());
        Ok(())
    }

    /// The job is accepted, then fails with a final error from the agent containing `says`.
    async fn refused_by_the_agent(farm: &Farm, request_id: &str, spec: v1::JobSpec, says: &str) -> anyhow::Result<()> {
        let job_id = farm.submit(request_id, spec).await?;
        let job = farm.wait_for_job(&job_id, Duration::from_secs(60)).await?;
        ensure!(is_state(&job, v1::JobState::Failed), "{request_id}: job {job_id} ended {} ({})", job.state, job.error);
        ensure!(job.error.contains(says), "{request_id}: expected {says:?} in {:?}", job.error);
        ensure!(!job.error.contains("hunter2"), "{request_id}: the error leaks the file: {}", job.error);
        // A final error fails the job at once; a retried one would end "(after N attempts)".
        ensure!(!job.error.contains("(after "), "{request_id}: a final refusal was retried: {}", job.error);
        Ok(())
    }

    fn mkfifo(path: &Path) -> anyhow::Result<()> {
        let name = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: a valid NUL-terminated path.
        ensure!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) } == 0, "mkfifo {}", path.display());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn storage_attacks_are_refused_and_a_good_job_still_finishes() -> anyhow::Result<()> {
        let mut farm = Farm::start(1, &[], &["t95-storage"])?;
        let outcome = storage_attacks(&farm).await;
        farm.keep_if_failed(&outcome);
        outcome
    }

    async fn storage_attacks(farm: &Farm) -> anyhow::Result<()> {
        farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
        farm.wait_for_agents(Duration::from_secs(20)).await?;
        let sources = farm.subdir("sources")?;
        let out = farm.subdir("out")?;
        let inside = format!("file://{}", sources.display());

        step("inputs and outputs outside the roots, or climbing out of them, are refused at submission");
        refused_at_submission(farm, "t95-passwd", spec("file:///etc/passwd", &out, false), "is outside the allowed input roots").await?;
        refused_at_submission(farm, "t95-dotdot", spec(&format!("{inside}/%2e%2e/%2e%2e/%2e%2e/etc/passwd"), &out, false), "'..'").await?;
        refused_at_submission(farm, "t95-dot-dot", spec(&format!("{inside}/.%2E/x.mp4"), &out, false), "'..'").await?;
        refused_at_submission(farm, "t95-backslash", spec(&format!("{inside}\\..\\x.mp4"), &out, false), "backslash").await?;
        let mut write_etc = spec(&format!("{inside}/x.mp4"), &out, false);
        write_etc.output_url = "file:///etc/shotfarm-t95".to_owned();
        refused_at_submission(farm, "t95-out-etc", write_etc, "is outside the allowed output roots").await?;
        ensure!(!Path::new("/etc/shotfarm-t95").exists(), "something was written into /etc");

        step("shotfarm submit outside the roots exits 2 with the message");
        let output = std::process::Command::new(shotfarm_binary()?)
            .args(["submit", "--scheduler", &farm.cluster.addrs_joined(), "file:///etc/shadow", "--out"])
            .arg(&out)
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(output.status.code() == Some(2), "exit {:?}: {stderr}", output.status.code());
        ensure!(stderr.contains("is outside the allowed input roots") && stderr.contains("--allow-input"), "{stderr}");

        step("a symlink out of the root, a fifo, a text file and a playlist are refused by the agent");
        let outside = tempfile::tempdir()?;
        std::fs::write(outside.path().join("secret.txt"), "password=hunter2\n".repeat(400))?;
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), sources.join("escape.mp4"))?;
        mkfifo(&sources.join("fifo.mp4"))?;
        std::fs::write(sources.join("secrets.txt"), "password=hunter2\n".repeat(400))?;
        let segment = media::synthesize(outside.path(), "segment.mp4", (64, 36), 2.0).await?;
        std::fs::write(sources.join("playlist.m3u8"), format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{}\n#EXT-X-ENDLIST\n", segment.path.display()))?;
        let fresh = |name: &str| farm.dir.join(format!("out-{name}"));
        refused_by_the_agent(farm, "t95-symlink", spec(&format!("{inside}/escape.mp4"), &fresh("symlink"), false), "leads outside its root").await?;
        refused_by_the_agent(farm, "t95-fifo", spec(&format!("{inside}/fifo.mp4"), &fresh("fifo"), false), "is a fifo, not a regular file").await?;
        refused_by_the_agent(farm, "t95-text", spec(&format!("{inside}/secrets.txt"), &fresh("text"), false), "format_not_allowed").await?;
        refused_by_the_agent(farm, "t95-playlist", spec(&format!("{inside}/playlist.m3u8"), &fresh("playlist"), false), "format_not_allowed").await?;
        let deep = format!("{inside}/{}clip.mp4", "deep/".repeat(100));
        refused_by_the_agent(farm, "t95-deep", spec(&deep, &fresh("deep"), false), "does not exist").await?;
        ensure!(!sources.join("deep").exists(), "a missing input made the agent create directories");

        step("an existing output directory is refused; with --overwrite it is replaced, stale files removed");
        let source = media::synthesize(&sources, "good.mp4", (320, 180), 2.0).await?;
        std::fs::write(out.join("notes.txt"), b"the user's")?;
        refused_by_the_agent(farm, "t95-existing-out", spec(&source.url(), &out, false), "is not empty (it holds notes.txt)").await?;
        ensure!(std::fs::read(out.join("notes.txt"))? == b"the user's", "the user's file was touched");
        let job_id = farm.submit("t95-overwrite", spec(&source.url(), &out, true)).await?;
        let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
        ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
        ensure!(out.join("master.m3u8").is_file() && out.join("report.json").is_file(), "no ladder in {}", out.display());
        ensure!(!out.join("notes.txt").exists(), "the stale file was left behind");
        Ok(())
    }

    /// The agent checks its own roots whatever the scheduler accepted: replicas that allow
    /// every local file, an agent that allows only the farm's directory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_agent_refuses_what_its_scheduler_let_through() -> anyhow::Result<()> {
        let mut farm = Farm::start(1, &["--allow-input", "file:///", "--allow-output", "file:///"], &["t95-agent-roots"])?;
        let outcome = async {
            farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
            farm.wait_for_agents(Duration::from_secs(20)).await?;
            let out = farm.dir.join("out");
            refused_by_the_agent(&farm, "t95-agent-passwd", spec("file:///etc/passwd", &out, false), "is outside the allowed input roots").await
        }
        .await;
        farm.keep_if_failed(&outcome);
        outcome
    }
}
