//! Attacks on a running farm, each refused without harm. First: forged `RaftService`
//! messages, sent straight to every replica of a real cluster, claiming to come from a member
//! or from an outsider, with fields raft-rs panics on (a heartbeat committing past the log, an
//! append whose entries do not follow its index, an acknowledgement of entries the leader never
//! had, a read without its context) or that would steer it (a proposal, a term-0 append). The
//! group keeps its leader, every replica keeps running, and a job submitted afterwards is
//! acknowledged. Snapshot streams that do not add up (no header, more than announced, more
//! than a replica accepts, a non-snapshot message, a forged snapshot) are refused the same
//! way. Then: admin calls that tried to brick the cluster (a voter removed, voters of
//! unreachable addresses added) are refused or harmless.

use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Entry, Message, MessageType};
use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_cluster_tests::ports::free_ports;
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::v1::{RaftBatch, SnapshotHeader, SnapshotPiece};
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;
use shotfarm_security::Role;

use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::{add_replica, client, finish, remove_replica, step, submit};

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
    let client = client(cluster.addrs(), cluster.operator());
    submit(&client, "t95-before", "in.mp4").await?;
    step("forged raft messages to every replica, as a member and as an outsider");
    for (&to, replica) in &cluster.replicas {
        let member = if to == 1 { 2 } else { 1 };
        for claimed in [member, 77] {
            // A member's own certificate (an insider sending out-of-range fields), and an
            // operator's claiming to be an outsider replica (refused before any check).
            let credentials = if claimed == member { cluster.credentials(Role::Replica, &member.to_string())? } else { cluster.operator() };
            let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&replica.addr, &credentials)?);
            for message in attack(claimed, to) {
                let bytes = message.write_to_bytes()?;
                // Refused or dropped: either way the replica must stay up.
                let _ = raft.step(RaftBatch { from: claimed, messages: vec![bytes], ..RaftBatch::default() }).await;
            }
        }
    }
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (from, to) = (followers[0], followers[1]);
    step(&format!("forged snapshot streams to follower {to}, with follower {from}'s own certificate"));
    let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&cluster.replicas[&to].addr, &cluster.credentials(Role::Replica, &from.to_string())?)?);
    let cluster_id = cluster.status(to).await.ok_or_else(|| anyhow::anyhow!("replica {to} does not answer"))?.cluster_id;
    let header = |total_bytes: u64| Some(SnapshotHeader { from, from_addr: String::new(), cluster_id, total_bytes });
    // Of a stale term: a snapshot of a later term from a certified member is one Raft follows
    // (it would move the term, and so the leadership, as a real one does).
    let forged_snapshot = forged(MessageType::MsgSnapshot, from, to, |m| {
        m.term = 1;
        let snapshot = m.mut_snapshot();
        (snapshot.mut_metadata().index, snapshot.mut_metadata().term) = (1_000_000_000, 1);
        snapshot.data = vec![0xff; 64].into();
    })
    .write_to_bytes()?;
    let heartbeat = forged(MessageType::MsgHeartbeat, from, to, |_| {}).write_to_bytes()?;
    let streams: Vec<(&str, Vec<SnapshotPiece>, Code)> = vec![
        ("no header", vec![SnapshotPiece { header: None, data: vec![1; 10] }], Code::InvalidArgument),
        ("a terabyte announced", vec![SnapshotPiece { header: header(1 << 40), data: Vec::new() }], Code::InvalidArgument),
        ("more than announced", vec![SnapshotPiece { header: header(4), data: vec![1; 5] }], Code::InvalidArgument),
        ("less than announced", vec![SnapshotPiece { header: header(40), data: vec![1; 5] }], Code::InvalidArgument),
        ("a heartbeat streamed", vec![SnapshotPiece { header: header(heartbeat.len() as u64), data: heartbeat }], Code::InvalidArgument),
        ("a snapshot far past the log", vec![SnapshotPiece { header: header(forged_snapshot.len() as u64), data: forged_snapshot }], Code::Ok),
    ];
    for (what, pieces, code) in streams {
        let answer = raft.send_snapshot(tokio_stream::iter(pieces)).await;
        // A well-formed snapshot is handed to raft-rs, which must survive it.
        assert_eq!(answer.as_ref().err().map_or(Code::Ok, tonic::Status::code), code, "{what}: {answer:?}");
    }
    let operator = RaftServiceClient::new(shotfarm_proto::client::channel(&cluster.replicas[&to].addr, &cluster.operator())?)
        .send_snapshot(tokio_stream::iter(vec![SnapshotPiece { header: header(0), data: Vec::new() }]))
        .await
        .expect_err("an operator streams no snapshot");
    assert_eq!(operator.code(), Code::PermissionDenied, "{operator:?}");

    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in cluster.replicas.keys().copied().collect::<Vec<_>>() {
        assert_eq!(cluster.exit_status(id)?, None, "replica {id} stopped after forged messages");
    }
    let (leader_after, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
    assert_eq!(leader_after, leader, "forged messages moved the leadership");
    submit(&client, "t95-after", "in.mp4").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_that_bricked_the_cluster_are_refused_or_harmless() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    // An operator's typos (anonymous callers are refused outright: t95_authentication).
    let client = client(cluster.addrs(), cluster.operator());
    let agents = CancellationToken::new();
    swarm::start(SwarmConfig { chunks: 2, rungs: 1, ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(1);
    step(&format!("RemoveReplica {follower}, then AddReplica of two unreachable addresses, as once bricked the cluster"));
    remove_replica(&client, follower).await?;
    let unreachable = free_ports(2)?;
    let first = add_replica(&client, 4, &format!("127.0.0.1:{}", unreachable[0])).await?;
    assert!(first.members.iter().any(|member| member.id == 4 && member.membership == "learner"), "{first:?}");
    let second = add_replica(&client, 5, &format!("127.0.0.1:{}", unreachable[1])).await.expect_err("a second learner while one catches up");
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    assert!(second.message().contains("replica 4 is still catching up as a learner"), "{second:?}");
    let garbage = add_replica(&client, 6, "attacker.example.com").await.expect_err("no port");
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    let own = remove_replica(&client, leader).await.expect_err("a leader hands over before it can be removed");
    assert_eq!(own.code(), Code::FailedPrecondition, "{own:?}");
    assert!(own.message().contains("leadership is being handed over"), "{own:?}");

    step("the cluster keeps a leader (perhaps the other voter now) and finishes a job");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (leader_after, _) = cluster.wait_for_leader(Duration::from_secs(5)).await?;
    assert_ne!(leader_after, follower, "the removed replica cannot lead");
    let status = cluster.status(leader_after).await.ok_or_else(|| anyhow::anyhow!("the leader does not answer"))?;
    let voters: Vec<u64> = status.members.iter().filter(|member| member.membership == "voter").map(|member| member.id).collect();
    assert_eq!(voters.len(), 2, "the unreachable learner was never promoted: {status:?}");
    finish(&client, "t95-after-admin-attack", "c2-r1.mp4").await?;
    agents.cancel();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raft_batch_from_another_cluster_is_refused_naming_both_ids() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(1, &[])?;
    cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let ours = cluster.status(1).await.ok_or_else(|| anyhow::anyhow!("replica 1 does not answer"))?.cluster_id;
    let replica_two = cluster.credentials(Role::Replica, "2")?;
    let mut raft = RaftServiceClient::new(shotfarm_proto::client::channel(&cluster.replicas[&1].addr, &replica_two)?);
    let heartbeat = forged(MessageType::MsgHeartbeat, 2, 1, |_| {}).write_to_bytes()?;
    let theirs = ours ^ 1;
    let refused = raft.step(RaftBatch { from: 2, messages: vec![heartbeat], cluster_id: theirs, ..RaftBatch::default() }).await.expect_err("another cluster");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let names_both = format!("belongs to cluster {theirs:016x}, this replica to cluster {ours:016x}");
    assert!(refused.message().contains(&names_both), "{refused:?}");
    submit(&client(cluster.addrs(), cluster.operator()), "t95-after-other-cluster", "in.mp4").await?;
    Ok(())
}

/// A flood of submits, a few of them as large as a spec may be: `ListJobs` still answers
/// everyone, a page at a time, and `shotfarm jobs --all` lists every job.
mod submit_flood {
    use std::collections::HashMap;
    use std::process::Command;
    use std::time::Duration;

    use futures::{StreamExt as _, TryStreamExt as _};
    use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary};
    use shotfarm_proto::v1::job_service_client::JobServiceClient;
    use shotfarm_proto::v1::{self, ListJobsRequest, SubmitJobRequest};
    use shotfarm_security::Role;

    use crate::support::{all_jobs, client, step};

    const JOBS: usize = 300;

    fn large_spec(n: usize) -> v1::JobSpec {
        // 64 labels of 256 bytes: the largest spec the scheduler accepts, about 17 KiB.
        let labels: HashMap<String, String> = (0..64).map(|key| (format!("label-{key}"), format!("{n:0>256}"))).collect();
        v1::JobSpec { input_url: format!("file:///sim/flood-{n}.mp4"), output_url: "file:///sim/out".to_owned(), labels, ..Default::default() }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_submits_leaves_list_jobs_working_for_everyone() -> anyhow::Result<()> {
        let cluster = SchedulerCluster::start(1, &[])?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let client = client(cluster.addrs(), cluster.operator());
        step(&format!("{JOBS} submits of the largest spec, 16 at a time"));
        futures::stream::iter(0..JOBS)
            .map(|n| {
                let client = &client;
                async move {
                    let request = SubmitJobRequest { request_id: format!("flood-{n}"), spec: Some(large_spec(n)), ..Default::default() };
                    client
                        .call(|channel| {
                            let request = request.clone();
                            async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
                        })
                        .await
                }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await?;

        step("every page is bounded and every job listed once");
        let first = client
            .call(|channel| async move { Ok(JobServiceClient::new(channel).list_jobs(ListJobsRequest { limit: 1000, ..Default::default() }).await?.into_inner()) })
            .await?;
        anyhow::ensure!(!first.next_page_token.is_empty() && first.jobs.len() < JOBS, "one page held {} large jobs", first.jobs.len());
        let jobs = all_jobs(&client).await?;
        anyhow::ensure!(jobs.len() == JOBS, "{} jobs listed, {JOBS} submitted", jobs.len());

        step("a forged page token is INVALID_ARGUMENT");
        let forged = client
            .call(|channel| async move {
                Ok(JobServiceClient::new(channel).list_jobs(ListJobsRequest { page_token: "job-1".to_owned(), ..Default::default() }).await?.into_inner())
            })
            .await
            .expect_err("a forged token is refused");
        anyhow::ensure!(forged.code() == tonic::Code::InvalidArgument && forged.message().contains("next_page_token"), "{forged:?}");

        step("shotfarm jobs --all and --limit");
        let scheduler = cluster.addrs_joined();
        let operator = cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?;
        let all = Command::new(shotfarm_binary()?).args(["jobs", "--all", "--scheduler", &scheduler]).args(&operator).output()?;
        anyhow::ensure!(all.status.success(), "shotfarm jobs --all: {}", String::from_utf8_lossy(&all.stderr));
        anyhow::ensure!(String::from_utf8_lossy(&all.stdout).lines().count() == JOBS, "shotfarm jobs --all did not list every job");
        let few = Command::new(shotfarm_binary()?).args(["jobs", "--limit", "5", "--scheduler", &scheduler]).args(&operator).output()?;
        anyhow::ensure!(few.status.success() && String::from_utf8_lossy(&few.stdout).lines().count() == 5, "shotfarm jobs --limit 5");
        anyhow::ensure!(String::from_utf8_lossy(&few.stderr).contains("--all"), "no hint that more jobs exist");
        Ok(())
    }
}

/// Idle TCP connections that never speak HTTP/2: beyond the replica's cap they are closed at
/// once, the rest after the idle timeout; a real client is served once they are gone.
mod idle_connections {
    use std::io::Read as _;
    use std::net::TcpStream;
    use std::time::Duration;

    use shotfarm_cluster_tests::cluster::SchedulerCluster;

    use crate::support::{client, step, submit};

    const CAP: usize = 8;
    const IDLE: Duration = Duration::from_secs(2);

    /// Whether the server closed the socket: reading what it sent (HTTP/2 settings, a
    /// goaway) ends in end-of-file or a reset rather than in the read timeout.
    fn closed(mut socket: &TcpStream) -> bool {
        let mut buffer = [0u8; 1024];
        loop {
            match socket.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(err) => return !matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_capped_and_closed_and_clients_still_get_served() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("limits.toml");
        std::fs::write(&config, format!("max_connections = {CAP}\nidle_timeout_ms = {}\n", IDLE.as_millis()))?;
        let mut cluster = SchedulerCluster::start(1, &["--config", config.to_str().unwrap_or_default()])?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let addr = cluster.addrs()[0].clone();

        step(&format!("{} idle connections against a cap of {CAP}", CAP * 5));
        let sockets: Vec<TcpStream> = (0..CAP * 5).map(|_| TcpStream::connect(&addr)).collect::<Result<_, _>>()?;
        for socket in &sockets {
            socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let closed_at_once = sockets.iter().filter(|socket| closed(socket)).count();
        anyhow::ensure!(closed_at_once >= CAP * 4, "only {closed_at_once} of {} connections past the cap were closed", CAP * 4);

        step("the idle ones end after the timeout; a client is served");
        tokio::time::sleep(IDLE + Duration::from_millis(500)).await;
        for socket in &sockets {
            socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        }
        let still_open = sockets.iter().filter(|socket| !closed(socket)).count();
        anyhow::ensure!(still_open == 0, "{still_open} idle connections were still open after {IDLE:?}");
        submit(&client(cluster.addrs(), cluster.operator()), "t95-after-idle", "in.mp4").await?;
        anyhow::ensure!(cluster.exit_status(1)?.is_none(), "the replica stopped");
        Ok(())
    }
}

/// Requests over a service's size limit and bodies that are not the method's protobuf
/// message: `RESOURCE_EXHAUSTED` and `INVALID_ARGUMENT`, and the replica keeps serving.
mod oversize_and_malformed_messages {
    use std::collections::HashMap;
    use std::time::Duration;

    use shotfarm_cluster_tests::cluster::SchedulerCluster;
    use shotfarm_proto::v1::job_service_client::JobServiceClient;
    use shotfarm_proto::v1::{self, ListJobsRequest, SubmitJobRequest};
    use tonic::codegen::http::uri::PathAndQuery;

    use crate::support::{client, step, submit};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversize_and_malformed_requests_are_refused_and_the_replica_stays_up() -> anyhow::Result<()> {
        let mut cluster = SchedulerCluster::start(1, &[])?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let channel = shotfarm_proto::client::channel(&cluster.addrs()[0], &cluster.operator())?;

        step("a 2 MiB submit");
        let labels: HashMap<String, String> = HashMap::from([("big".to_owned(), "x".repeat(2 << 20))]);
        let spec = v1::JobSpec { input_url: "file:///sim/in.mp4".to_owned(), output_url: "file:///sim/out".to_owned(), labels, ..Default::default() };
        let refused = JobServiceClient::new(channel.clone())
            .submit_job(SubmitJobRequest { request_id: "t95-huge".to_owned(), spec: Some(spec), ..Default::default() })
            .await
            .expect_err("a 2 MiB request is refused");
        anyhow::ensure!(refused.code() == tonic::Code::ResourceExhausted, "{refused:?}");

        step("a SubmitJob body that is not a SubmitJobRequest");
        // A ListJobsRequest's field 1 is a varint; SubmitJobRequest's is a string.
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await?;
        let codec = tonic_prost::ProstCodec::<ListJobsRequest, v1::SubmitJobResponse>::default();
        let malformed = grpc
            .unary(tonic::Request::new(ListJobsRequest { state: 3, ..Default::default() }), PathAndQuery::from_static("/shotfarm.v1.JobService/SubmitJob"), codec)
            .await
            .expect_err("a malformed body is refused");
        anyhow::ensure!(malformed.code() == tonic::Code::InvalidArgument, "{malformed:?}");

        anyhow::ensure!(cluster.exit_status(1)?.is_none(), "the replica stopped");
        submit(&client(cluster.addrs(), cluster.operator()), "t95-after-oversize", "in.mp4").await?;
        Ok(())
    }
}

/// A full disk: the store's writes fail (`FAILPOINTS=store_write_fails`, as ENOSPC would).
/// The replica stops with exit code 4 and a message that says what to do, never a panic,
/// and started again on a healthy disk it has every job it acknowledged.
mod full_disk {
    use std::time::{Duration, Instant};

    use shotfarm_cluster_tests::cluster::SchedulerCluster;

    use crate::support::{all_jobs, client, step, submit};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_stops_the_replica_with_exit_code_4_and_loses_no_acknowledged_job() -> anyhow::Result<()> {
        let mut cluster = SchedulerCluster::start(1, &[])?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        cluster.kill(1)?;
        step("restart with the store's 20th write failing");
        cluster.restart_with_env(1, &[("FAILPOINTS", "store_write_fails=19*off->return")])?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let mut client = client(cluster.addrs(), cluster.operator());
        client.patience = Duration::from_secs(2);
        let mut acknowledged = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            anyhow::ensure!(Instant::now() < deadline, "the replica did not stop on the failed write");
            if let Some(status) = cluster.exit_status(1)? {
                break status;
            }
            let request_id = format!("t95-disk-{}", acknowledged.len());
            if submit(&client, &request_id, "in.mp4").await.is_ok() {
                acknowledged.push(request_id);
            }
        };
        let log = std::fs::read_to_string(&cluster.replicas[&1].log)?;
        let tail: String = log.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        anyhow::ensure!(status.code() == Some(4), "the replica ended with {status:?}, not exit code 4; its log ends:\n{tail}");
        anyhow::ensure!(log.contains("no space left on device") && log.contains("free space"), "no clear message in the log");
        anyhow::ensure!(!log.contains("panicked"), "the replica panicked");

        step("started again on a healthy disk: every acknowledged job is there");
        cluster.restart(1)?;
        cluster.wait_for_leader(Duration::from_secs(15)).await?;
        let jobs = all_jobs(&crate::support::client(cluster.addrs(), cluster.operator())).await?;
        for request_id in &acknowledged {
            anyhow::ensure!(jobs.iter().any(|job| &job.request_id == request_id), "acknowledged {request_id} was lost");
        }
        Ok(())
    }
}

/// A FIFO as input: refused without being opened for reading (the job fails at once, for
/// good), and two SIGTERMs end the agent within seconds; an agent still running at the
/// second (the abort) exits non-zero.
mod fifo_input {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use shotfarm_cluster_tests::agents::Farm;
    use shotfarm_proto::v1;

    use crate::support::step;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_agent_given_a_fifo_stops_within_seconds_of_an_abort() -> anyhow::Result<()> {
        let mut farm = Farm::start(1, &[], &["t95-fifo"])?;
        farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
        farm.wait_for_agents(Duration::from_secs(20)).await?;
        let fifo = farm.dir.join("input.mp4");
        anyhow::ensure!(Command::new("mkfifo").arg(&fifo).status()?.success(), "mkfifo failed");
        let out = farm.subdir("out-fifo")?;
        step("submit a FIFO as input; nobody ever writes to it");
        let spec = v1::JobSpec { input_url: format!("file://{}", fifo.display()), output_url: format!("file://{}", out.display()), ..Default::default() };
        let job_id = farm.submit("t95-fifo", spec).await?;
        let job = farm.wait_for_job(&job_id, Duration::from_secs(30)).await?;
        anyhow::ensure!(job.state == v1::JobState::Failed as i32 && job.error.contains("is a fifo"), "job {job_id}: {} {}", job.state, job.error);

        step("SIGTERM twice: drain, then abort");
        let agent = farm.agent_mut("t95-fifo")?;
        let pid = agent.pid().ok_or_else(|| anyhow::anyhow!("the agent is not running"))?.to_string();
        let signalled = Instant::now();
        let mut aborted = false;
        for _ in 0..2 {
            // An idle agent's drain may end it before the abort (it is then a zombie until
            // reaped): only a signal to a live agent counts as the abort.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
            aborted = alive && Command::new("kill").args(["-TERM", &pid]).status()?.success();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let status = agent.terminate(Duration::from_secs(8))?;
        anyhow::ensure!(signalled.elapsed() < Duration::from_secs(8), "the agent took {:?} to stop", signalled.elapsed());
        anyhow::ensure!(!aborted || !status.success(), "an aborted agent exited with success");
        Ok(())
    }
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
    use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, shotfarm_binary};
    use shotfarm_cluster_tests::media;
    use shotfarm_proto::v1;
    use shotfarm_security::Role;

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
            .args(farm.cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?)
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

        step("an existing output directory is refused; with --overwrite it is replaced, stale files removed, a previous ladder included");
        let source = media::synthesize(&sources, "good.mp4", (320, 180), 2.0).await?;
        std::fs::write(out.join("notes.txt"), b"the user's")?;
        refused_by_the_agent(farm, "t95-existing-out", spec(&source.url(), &out, false), "is not empty (it holds notes.txt)").await?;
        ensure!(std::fs::read(out.join("notes.txt"))? == b"the user's", "the user's file was touched");
        let job_id = farm.submit("t95-overwrite", spec(&source.url(), &out, true)).await?;
        let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
        ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
        ensure!(!out.join("notes.txt").exists(), "the stale file was left behind");
        let first = media::check_outputs(&out, &source).await?.files;
        // Over a whole ladder: the new one in a folder of its own, the previous one gone.
        let job_id = farm.submit("t95-overwrite-ladder", spec(&source.url(), &out, true)).await?;
        let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
        ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
        let second = media::check_outputs(&out, &source).await?.files;
        let kept: Vec<&String> = first.intersection(&second).filter(|file| file.contains('/')).collect();
        ensure!(kept.is_empty(), "the second ladder shares files with the first: {kept:?}");
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
