//! Partitions through the per-link proxies: the leader isolated in a minority (nothing
//! commits there, the majority elects a new leader, the old one steps down, clients and
//! agents follow and the jobs finish), a one-way drop between the leader and one follower,
//! and slow links that still commit. Prints the failover time (fault → next acknowledged
//! commit, as a client sees it) and the election time (fault → a new leader) over the trials.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use shotfarm_cluster_tests::cluster::{SchedulerCluster, wait_until};
use shotfarm_cluster_tests::proxy::Direction;
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::client::{LeaderClient, channel};
use shotfarm_security::Credentials;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, SubmitJobRequest};
use tokio_util::sync::CancellationToken;

use crate::support::{all_jobs, client, is_state, step, submit};

/// How long one try may take before the client tries the next replica.
const TRY_FOR: Duration = Duration::from_millis(500);
const ISOLATION_TRIALS: usize = 3;

/// Submits until acknowledged, always under the same request id: each try gives up after
/// [`TRY_FOR`] and the next one starts at the next replica. (A `LeaderClient` alone waits on
/// a partitioned replica until HTTP/2 keep-alive gives up, about 15 s.)
async fn submit_until_acknowledged(addrs: &[String], credentials: &Credentials, request_id: &str, input: &str, within: Duration) -> anyhow::Result<v1::SubmitJobResponse> {
    let deadline = Instant::now() + within;
    for start in 0.. {
        let mut rotated = addrs.to_vec();
        rotated.rotate_left(start % addrs.len());
        let mut client = LeaderClient::new(rotated, credentials.clone());
        client.patience = TRY_FOR;
        if let Ok(Ok(response)) = tokio::time::timeout(TRY_FOR, submit(&client, request_id, input)).await {
            return Ok(response);
        }
        if Instant::now() > deadline {
            break;
        }
    }
    bail!("{request_id} was not acknowledged within {within:?}")
}

fn median_and_max(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (sorted.get(sorted.len() / 2).copied().unwrap_or_default(), sorted.last().copied().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_isolate_the_leader_drop_one_way_and_delay() -> anyhow::Result<()> {
    let mut cluster = SchedulerCluster::start_with_proxies(3, &[]).await?;
    let outcome = scenario(&cluster).await;
    if outcome.is_err() {
        eprintln!("[step] t70 failed; logs and data kept under {:?}", cluster.keep());
    }
    outcome
}

async fn scenario(cluster: &SchedulerCluster) -> anyhow::Result<()> {
    let network = cluster.network()?;
    cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let addrs = cluster.addrs();
    let credentials = cluster.operator();
    let client = client(addrs.clone(), credentials.clone());
    let agents = CancellationToken::new();
    let _stop_agents = agents.clone().drop_guard();
    swarm::start(SwarmConfig { name_prefix: "t70".into(), ..SwarmConfig::for_cluster(cluster, 4) }, agents)?;
    let mut acknowledged = Vec::new();
    for index in 0..3 {
        acknowledged.push(submit(&client, &format!("t70-before-{index}"), "c4-r2.mp4").await?.job_id);
    }

    let mut failovers = Vec::new();
    let mut elections = Vec::new();
    for trial in 0..ISOLATION_TRIALS {
        let (old, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
        step(&format!("trial {trial}: isolate leader {old} from its peers, the clients and the agents"));
        network.isolate(old);
        let isolated_at = Instant::now();

        // A client on the minority side (straight to the replica) cannot commit there.
        let minority_request = format!("t70-minority-{trial}");
        let mut minority_client = JobServiceClient::new(channel(&cluster.replicas[&old].listen, &credentials)?);
        let direct = minority_client.submit_job(SubmitJobRequest {
            request_id: minority_request.clone(),
            spec: Some(v1::JobSpec { input_url: "file:///sim/c2-r1.mp4".into(), output_url: "file:///sim/out".into(), ..Default::default() }),
            ..Default::default()
        });
        let majority_request = format!("t70-during-{trial}");
        let majority = submit_until_acknowledged(&addrs, &credentials, &majority_request, "c4-r2.mp4", Duration::from_secs(20));
        // When one of the others first says it leads.
        let elected = async {
            loop {
                for id in cluster.replicas.keys().filter(|id| **id != old) {
                    if cluster.status(*id).await.is_some_and(|status| status.role == "leader") {
                        return isolated_at.elapsed();
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let (direct, majority, elected) = tokio::join!(tokio::time::timeout(Duration::from_secs(3), direct), async {
            let acknowledged = majority.await;
            (acknowledged, isolated_at.elapsed())
        }, tokio::time::timeout(Duration::from_secs(20), elected));
        let (majority, failover) = majority;
        elections.push(elected?);
        ensure!(!matches!(direct, Ok(Ok(_))), "the isolated leader {old} acknowledged a submission: {direct:?}");
        acknowledged.push(majority?.job_id);
        failovers.push(failover);
        let (new, _) = cluster.wait_for_leader(Duration::from_secs(10)).await?;
        ensure!(new != old, "the majority should lead, not the isolated replica {old}");
        step(&format!("trial {trial}: replica {new} leads; first commit acknowledged {} ms after the isolation", failover.as_millis()));

        wait_until(Duration::from_secs(10), "the isolated leader stepped down", || async {
            cluster.status(old).await.is_some_and(|status| status.role != "leader")
        })
        .await?;
        step(&format!("trial {trial}: heal; the old leader {old} follows and catches up"));
        network.heal();
        wait_until(Duration::from_secs(15), "the old leader follows the new one and has caught up", || async {
            let Some(leader) = cluster.status(new).await else { return false };
            cluster.status(old).await.is_some_and(|status| status.role == "follower" && status.leader_id == new && status.applied_index >= leader.commit_index)
        })
        .await?;
        let jobs = all_jobs(&client).await?;
        ensure!(!jobs.iter().any(|job| job.request_id == minority_request), "the minority's submission committed after healing");
    }

    step("one-way drop: the leader's bytes to one follower vanish, the follower's answers flow");
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let follower = cluster.replicas.keys().copied().find(|id| *id != leader).unwrap_or(leader);
    network.link(leader, follower)?.drop_direction(Direction::ToTarget);
    for index in 0..5 {
        acknowledged.push(submit_until_acknowledged(&addrs, &credentials, &format!("t70-one-way-{index}"), "c2-r1.mp4", Duration::from_secs(20)).await?.job_id);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let during = cluster.leader().await.map(|(id, _)| id);
    ensure!(during == Some(leader), "a one-way cut to a follower must not depose leader {leader} (pre-vote, check-quorum); now {during:?}");
    network.heal();
    wait_until(Duration::from_secs(15), "the cut-off follower caught up", || async {
        let Some(leading) = cluster.status(leader).await else { return false };
        cluster.status(follower).await.is_some_and(|status| status.applied_index >= leading.commit_index)
    })
    .await?;

    step("every link delayed by 40 ms ± 20 ms: commits still go through");
    let healthy_commit = {
        let started = Instant::now();
        submit_until_acknowledged(&addrs, &credentials, "t70-healthy-probe", "c2-r1.mp4", Duration::from_secs(20)).await?;
        started.elapsed()
    };
    for (from, to) in network.links().collect::<Vec<_>>() {
        network.link(from, to)?.delay(Duration::from_millis(40), Duration::from_millis(20));
    }
    let started = Instant::now();
    for index in 0..5 {
        acknowledged.push(submit_until_acknowledged(&addrs, &credentials, &format!("t70-slow-{index}"), "c2-r1.mp4", Duration::from_secs(20)).await?.job_id);
    }
    let delayed_commit = started.elapsed() / 5;
    network.heal();
    eprintln!("[figure] t70 commit with every replica link delayed 40±20 ms: {} ms per submit (healthy: {} ms)", delayed_commit.as_millis(), healthy_commit.as_millis());

    step(&format!("all {} acknowledged jobs finish on the agents", acknowledged.len()));
    let finished = wait_until(Duration::from_secs(60), "every acknowledged job succeeded", || async {
        let Ok(jobs) = all_jobs(&client).await else { return false };
        acknowledged.iter().all(|id| jobs.iter().any(|job| &job.job_id == id && is_state(job, v1::JobState::Succeeded)))
    })
    .await;
    if finished.is_err() {
        for job in all_jobs(&client).await?.iter().filter(|job| !is_state(job, v1::JobState::Succeeded)) {
            let detail = crate::support::job(&client, &job.job_id).await?;
            let tasks: Vec<String> = detail.tasks.iter().filter(|task| task.state != v1::TaskState::Succeeded as i32).map(|task| format!("{task:?}")).collect();
            eprintln!("[step] unfinished {} ({}): state {} {}/{} tasks; open tasks {tasks:?}", job.job_id, job.request_id, job.state, job.tasks_done, job.tasks_total);
        }
        eprintln!("[step] nodes: {:?}", crate::support::nodes(&client).await?);
    }
    finished?;
    let jobs = all_jobs(&client).await?;
    ensure!(jobs.len() == acknowledged.len() + 1, "{} jobs for {} acknowledged submissions and one probe", jobs.len(), acknowledged.len());

    let (median, max) = median_and_max(&elections);
    eprintln!(
        "[figure] t70 election (isolate leader → another replica says it leads): median {} ms, max {} ms over {} trials",
        median.as_millis(),
        max.as_millis(),
        elections.len()
    );
    let (median, max) = median_and_max(&failovers);
    eprintln!(
        "[figure] t70 leader failover (isolate leader → next acknowledged commit, {} ms client tries): median {} ms, max {} ms over {} trials",
        TRY_FOR.as_millis(),
        median.as_millis(),
        max.as_millis(),
        failovers.len()
    );
    Ok(())
}
