//! Three replicas elect one leader; a job is accepted and queued with no agent connected;
//! a retried submission with the same request id returns the same job, and another job under
//! that request id is refused with the first job's id.

use std::time::Duration;

use shotfarm_cluster_tests::cluster::SchedulerCluster;
use shotfarm_proto::v1;

use crate::support::{client, is_state, job, step, submit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_elect_a_leader_and_queue_a_job_without_agents() -> anyhow::Result<()> {
    step("start 3 replicas");
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    step(&format!("replica {leader} leads"));
    let client = client(cluster.addrs(), cluster.operator());
    let first = submit(&client, "t10-request", "in.mp4").await?;
    assert!(first.created);
    let again = submit(&client, "t10-request", "in.mp4").await?;
    assert_eq!(again.job_id, first.job_id);
    assert!(!again.created, "a retried request id must not create a second job");
    let reused = submit(&client, "t10-request", "other.mp4").await.err().and_then(|err| err.downcast::<tonic::Status>().ok());
    let reused = reused.ok_or_else(|| anyhow::anyhow!("a request id reused for another spec was accepted"))?;
    assert_eq!(reused.code(), tonic::Code::AlreadyExists, "{reused:?}");
    assert!(reused.message().contains(&first.job_id), "{reused:?}");
    let found = job(&client, &first.job_id).await?;
    assert!(is_state(&found, v1::JobState::Pending), "{found:?}");
    assert_eq!(found.tasks.len(), 1);
    assert_eq!(found.tasks[0].kind, "inspect");
    assert_eq!(found.tasks[0].state, v1::TaskState::Queued as i32);

    step("every replica answers gRPC health checks and server reflection (what grpcurl uses)");
    for addr in cluster.addrs() {
        let channel = shotfarm_proto::client::channel(&addr, &cluster.operator())?;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let service = "shotfarm.v1.JobService".to_owned();
        let serving = health.check(tonic_health::pb::HealthCheckRequest { service }).await?.into_inner();
        assert_eq!(serving.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{addr}");
        let mut reflection = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel);
        let request = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(String::new())),
        };
        let mut responses = reflection.server_reflection_info(tokio_stream::iter([request])).await?.into_inner();
        let listed = responses.message().await?.and_then(|response| response.message_response);
        let Some(tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(services)) = listed else {
            anyhow::bail!("{addr}: reflection listed no services");
        };
        let names: Vec<String> = services.service.into_iter().map(|service| service.name).collect();
        for expected in ["shotfarm.v1.JobService", "shotfarm.v1.NodeService", "shotfarm.v1.AdminService", "shotfarm.v1.RaftService"] {
            assert!(names.iter().any(|name| name == expected), "{addr} lacks {expected}: {names:?}");
        }
    }
    Ok(())
}
