//! Who may call what, on a real TLS farm (`SchedulerCluster` is secure by default): anonymous
//! callers, plaintext callers, callers with a foreign CA's certificate, wrong roles, a
//! submitter reaching for another's jobs, a revoked token, a fake agent, a session
//! takeover, and revoked agent and operator certificates. Each is refused with its status,
//! and the farm keeps working for everyone else.

use std::process::Command;
use std::time::Duration;

use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary, wait_until};
use shotfarm_cluster_tests::swarm::{self, SwarmConfig};
use shotfarm_proto::client::{LeaderClient, channel};
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::node_service_client::NodeServiceClient;
use shotfarm_proto::v1::raft_service_client::RaftServiceClient;
use shotfarm_proto::v1::{self, agent_message};
use shotfarm_security::local_farm::LocalFarmCertificates;
use shotfarm_security::{Credentials, Role, TransportSecurity};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::{client, is_state, job, nodes, shotfarm_as_operator, step, submit};

async fn list_jobs(credentials: &Credentials, addr: &str) -> Result<Vec<v1::Job>, tonic::Status> {
    let request = v1::ListJobsRequest { limit: 100, ..Default::default() };
    Ok(JobServiceClient::new(channel(addr, credentials)?).list_jobs(request).await?.into_inner().jobs)
}

async fn get_job(credentials: &Credentials, addr: &str, job_id: &str) -> Result<v1::Job, tonic::Status> {
    let request = v1::GetJobRequest { job_id: job_id.to_owned(), include_tasks: false };
    Ok(JobServiceClient::new(channel(addr, credentials)?).get_job(request).await?.into_inner())
}

fn assert_code<T: std::fmt::Debug>(outcome: Result<T, tonic::Status>, code: Code, needle: &str, what: &str) {
    let status = outcome.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status}");
    assert!(status.message().contains(needle), "{what}: {:?} lacks {needle:?}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_authenticated_and_kept_to_their_role() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(1, &[])?;
    let (_, leader) = cluster.wait_for_leader(Duration::from_secs(15)).await?;

    step("no certificate and no token: UNAUTHENTICATED, with what to present");
    let nobody = cluster.ca_only_credentials(None)?;
    assert_code(list_jobs(&nobody, &leader).await, Code::Unauthenticated, "--token", "an anonymous ListJobs");
    let add = AdminServiceClient::new(channel(&leader, &nobody)?).add_replica(v1::AddReplicaRequest { id: 9, addr: "127.0.0.1:1".into() }).await;
    assert_code(add, Code::Unauthenticated, "certificate", "an anonymous AddReplica");

    step("plaintext to a TLS replica, and a certificate from another CA: no call gets through");
    assert!(list_jobs(&Credentials::insecure(), &leader).await.is_err(), "a plaintext call was served");
    let foreign_dir = tempfile::tempdir()?;
    let foreign = LocalFarmCertificates::open(foreign_dir.path())?;
    let foreign_operator = Credentials::new(TransportSecurity::from_flags(&foreign.files(Role::Operator, HARNESS_OPERATOR)?, false, true)?, None)?;
    assert!(list_jobs(&foreign_operator, &leader).await.is_err(), "a foreign CA's operator was served");
    // The CLI says which side's certificate failed, at once, with exit 2 (no 15 s of retries).
    let foreign_ca = foreign.ca().display().to_string();
    let ours = cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?;
    let foreign_files = foreign.files(Role::Operator, HARNESS_OPERATOR)?;
    let (cert, key) = (foreign_files.cert.unwrap_or_default().display().to_string(), foreign_files.key.unwrap_or_default().display().to_string());
    let cases: [(Vec<&str>, &str); 2] = [
        (vec!["--ca", &foreign_ca, &ours[2], &ours[3], &ours[4], &ours[5]], "is not vouched for by --ca"),
        (vec![&ours[0], &ours[1], "--cert", &cert, "--key", &key], "refused this client's certificate"),
    ];
    for (credentials, expected) in cases {
        let output = Command::new(shotfarm_binary()?).args(["jobs", "--scheduler", &leader]).args(&credentials).output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{credentials:?}: {stderr}");
        assert!(stderr.contains(expected), "{credentials:?}: {stderr}");
    }

    step("wrong roles: an agent and a replica certificate on the job and admin services");
    let agent = cluster.credentials(Role::Agent, "a1")?;
    assert_code(list_jobs(&agent, &leader).await, Code::PermissionDenied, "agent/a1", "an agent's ListJobs");
    let replica = cluster.credentials(Role::Replica, "2")?;
    let remove = AdminServiceClient::new(channel(&leader, &replica)?).remove_replica(v1::RemoveReplicaRequest { id: 1 }).await;
    assert_code(remove, Code::PermissionDenied, "operator", "a replica's RemoveReplica");
    let operator = cluster.operator();
    let forged = RaftServiceClient::new(channel(&leader, &operator)?).step(v1::RaftBatch { from: 1, ..v1::RaftBatch::default() }).await;
    assert_code(forged, Code::PermissionDenied, "replica", "an operator's raft message");
    let impostor = RaftServiceClient::new(channel(&leader, &replica)?).step(v1::RaftBatch { from: 3, ..v1::RaftBatch::default() }).await;
    assert_code(impostor, Code::PermissionDenied, "replica 2", "replica 2 speaking for replica 3");

    step("tokens: `shotfarm tokens create` (as the operator) for two submitters");
    let addrs = cluster.addrs().join(",");
    let ann_token = shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "create", "--name", "ann"])?;
    let bob_token = shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "create", "--name", "bob", "--role", "submitter"])?;
    let listed = shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "list", "--json"])?;
    assert!(listed.contains("\"ann\"") && listed.contains("\"bob\"") && !listed.contains(&ann_token), "{listed}");
    let ann = client(cluster.addrs(), cluster.ca_only_credentials(Some(&ann_token))?);
    let bob_credentials = cluster.ca_only_credentials(Some(&bob_token))?;
    let bob = client(cluster.addrs(), bob_credentials.clone());
    let anns = submit(&ann, "shared-request-id", "in.mp4").await?.job_id;
    let bobs = submit(&bob, "shared-request-id", "in.mp4").await?.job_id;
    assert_ne!(anns, bobs, "one submitter's request id answered another's job");

    step("a submitter sees, and cancels, only its own jobs; the operator sees all");
    let seen: Vec<String> = list_jobs(&bob_credentials, &leader).await?.into_iter().map(|job| job.job_id).collect();
    assert_eq!(seen, vec![bobs.clone()]);
    assert_eq!(get_job(&bob_credentials, &leader, &bobs).await?.owner, "submitter/bob");
    assert_code(get_job(&bob_credentials, &leader, &anns).await, Code::NotFound, &anns, "bob reading ann's job");
    let cancel = JobServiceClient::new(channel(&leader, &bob_credentials)?).cancel_job(v1::CancelJobRequest { job_id: anns.clone() }).await;
    assert_code(cancel, Code::NotFound, &anns, "bob cancelling ann's job");
    assert_eq!(list_jobs(&operator, &leader).await?.len(), 2);
    let admin = AdminServiceClient::new(channel(&leader, &bob_credentials)?).list_nodes(v1::ListNodesRequest {}).await;
    assert_code(admin, Code::PermissionDenied, "submitter/bob", "a submitter's ListNodes");

    step("a revoked token is refused from then on; a malformed one says what a token looks like");
    shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "revoke", "--name", "bob"])?;
    assert_code(list_jobs(&bob_credentials, &leader).await, Code::Unauthenticated, "revoked", "a revoked token");
    assert!(Credentials::new(TransportSecurity::Insecure, Some("hunter2")).is_err(), "a malformed token was accepted");
    assert_eq!(get_job(&cluster.ca_only_credentials(Some(&ann_token))?, &leader, &anns).await?.job_id, anns, "ann lost access");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_one_registers_as_or_takes_over_another_node_and_revoked_certificates_are_refused() -> anyhow::Result<()> {
    let cluster = SchedulerCluster::start(1, &[])?;
    let (_, leader) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let agents = CancellationToken::new();
    let _stop_agents = agents.clone().drop_guard();
    swarm::start(SwarmConfig { name_prefix: "honest".into(), ..SwarmConfig::for_cluster(&cluster, 1) }, agents.clone())?;
    let operator = client(cluster.addrs(), cluster.operator());
    let honest_id = wait_for_node(&operator, "honest-0").await?;

    step("a fake agent with its own certificate registers as the honest node: refused");
    let evil = cluster.credentials(Role::Agent, "evil")?;
    let register = v1::RegisterRequest {
        name: "honest-0".into(),
        capabilities: Some(v1::Capabilities { cpu_cores: 64, memory_bytes: 64 << 30, backends: vec!["cpu".into()], max_tasks: 64, ..Default::default() }),
        labels: Default::default(),
        held: vec![],
    };
    let fake = NodeServiceClient::new(channel(&leader, &evil)?).register(register.clone()).await;
    assert_code(fake, Code::PermissionDenied, "\"honest-0\"", "a registration under another node's name");
    let as_operator = NodeServiceClient::new(channel(&leader, &cluster.operator())?).register(register).await;
    assert_code(as_operator, Code::PermissionDenied, "agent", "an operator registering a node");

    step("it then opens a session for the honest node's id: refused, and the honest node keeps its tasks");
    let (outbound, receiver) = tokio::sync::mpsc::channel(4);
    outbound.send(v1::AgentMessage { body: Some(agent_message::Body::Hello(v1::Hello { node_id: honest_id })) }).await?;
    let takeover = NodeServiceClient::new(channel(&leader, &evil)?).session(tokio_stream::wrappers::ReceiverStream::new(receiver)).await;
    assert_code(takeover.map(|_| ()), Code::PermissionDenied, "\"honest-0\"", "a session takeover");
    let finished = submit(&operator, "after-the-attacks", "c2-r1.mp4").await?.job_id;
    wait_until(Duration::from_secs(30), "the job after the attacks succeeded", || async {
        job(&operator, &finished).await.is_ok_and(|found| is_state(&found, v1::JobState::Succeeded))
    })
    .await?;

    step("the honest agent's machine is stolen: an operator revokes its certificate (the file); its node goes down and it cannot come back");
    let certificates = cluster.certificates().ok_or_else(|| anyhow::anyhow!("a TLS farm has certificates"))?;
    let stolen = certificates.files(Role::Agent, "honest-0")?.cert.ok_or_else(|| anyhow::anyhow!("no certificate file"))?;
    let stolen_path = stolen.display().to_string();
    let fingerprint = shotfarm_as_operator(&cluster, &["certs", "revoke", "--certificate", &stolen_path, "--scheduler", &leader])?;
    let der = shotfarm_security::identity::certificate_der(&std::fs::read_to_string(&stolen)?)?;
    assert_eq!(fingerprint, shotfarm_security::identity::certificate_fingerprint(&der));
    wait_until(Duration::from_secs(10), "the revoked agent's node is down", || async {
        nodes(&operator).await.is_ok_and(|all| all.iter().any(|node| node.node_id == honest_id && node.state == v1::NodeState::Down as i32))
    })
    .await?;
    let mut revoked_agent = NodeServiceClient::new(channel(&leader, &cluster.credentials(Role::Agent, "honest-0")?)?);
    let again = revoked_agent.register(v1::RegisterRequest {
        name: "honest-0".into(),
        capabilities: Some(v1::Capabilities { cpu_cores: 4, memory_bytes: 8 << 30, backends: vec!["cpu".into()], max_tasks: 4, ..Default::default() }),
        ..Default::default()
    });
    assert_code(again.await, Code::Unauthenticated, "was revoked", "a revoked agent registering again");

    step("a leaked operator certificate is revoked by its fingerprint alone; the list names both");
    let leaked = cluster.credentials(Role::Operator, "mallory")?;
    assert!(list_jobs(&leaked, &leader).await.is_ok(), "mallory is an operator until revoked");
    let leaked_pem = std::fs::read_to_string(certificates.files(Role::Operator, "mallory")?.cert.ok_or_else(|| anyhow::anyhow!("no certificate file"))?)?;
    let leaked_fingerprint = shotfarm_security::identity::certificate_fingerprint(&shotfarm_security::identity::certificate_der(&leaked_pem)?);
    shotfarm_as_operator(&cluster, &["certs", "revoke", "--fingerprint", &leaked_fingerprint.to_uppercase(), "--scheduler", &leader])?;
    assert_code(list_jobs(&leaked, &leader).await, Code::Unauthenticated, "was revoked", "a revoked operator listing jobs");
    let listed = shotfarm_as_operator(&cluster, &["certs", "revoked", "--json", "--scheduler", &leader])?;
    let identities: Vec<String> =
        listed.lines().map(|line| serde_json::from_str::<serde_json::Value>(line).map(|entry| entry["identity"].as_str().unwrap_or("?").to_owned())).collect::<Result<_, _>>()?;
    assert_eq!(identities.len(), 2, "{listed}");
    assert!(identities.contains(&"agent/honest-0".to_owned()), "{listed}");
    let garbage = AdminServiceClient::new(channel(&leader, &cluster.operator())?)
        .revoke_certificate(v1::RevokeCertificateRequest { fingerprint: "not-hex".into(), ..Default::default() })
        .await;
    assert_code(garbage, Code::InvalidArgument, "64 hex digits", "a malformed fingerprint");
    let not_pem = AdminServiceClient::new(channel(&leader, &cluster.operator())?)
        .revoke_certificate(v1::RevokeCertificateRequest { certificate_pem: "-----BEGIN CERTIFICATE-----\nnot base64\n".into(), ..Default::default() })
        .await;
    assert_code(not_pem, Code::InvalidArgument, "certificate_pem", "a certificate that is not PEM");
    Ok(())
}

async fn wait_for_node(client: &LeaderClient, name: &str) -> anyhow::Result<u64> {
    for _ in 0..400 {
        if let Some(node) = nodes(client).await?.into_iter().find(|node| node.name == name) {
            return Ok(node.node_id);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("node {name} did not register within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_held_to_their_request_rate_and_submitters_to_their_jobs_in_flight() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("limits.toml");
    std::fs::write(&config, "client_requests_per_second = 5\nsubmitter_jobs_in_flight = 2\n")?;
    let cluster = SchedulerCluster::start(1, &["--config", config.to_str().unwrap_or_default()])?;
    let (_, leader) = cluster.wait_for_leader(Duration::from_secs(15)).await?;
    let addrs = cluster.addrs().join(",");
    let carl = cluster.ca_only_credentials(Some(&shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "create", "--name", "carl"])?))?;
    let dora = cluster.ca_only_credentials(Some(&shotfarm_as_operator(&cluster, &["tokens", "--scheduler", &addrs, "create", "--name", "dora"])?))?;
    let submit_as = |credentials: &Credentials, request_id: &str| {
        let (credentials, leader) = (credentials.clone(), leader.clone());
        let request = v1::SubmitJobRequest {
            request_id: request_id.to_owned(),
            spec: Some(v1::JobSpec { input_url: "file:///sim/c2-r1.mp4".into(), output_url: "file:///sim/out".into(), ..Default::default() }),
            ..Default::default()
        };
        async move { Ok::<_, tonic::Status>(JobServiceClient::new(channel(&leader, &credentials)?).submit_job(request).await?.into_inner()) }
    };

    step("a submitter with 2 jobs in flight (no agents: they stay pending) may not submit a third; a retry is answered");
    submit_as(&carl, "carl-1").await?;
    submit_as(&carl, "carl-2").await?;
    assert_code(submit_as(&carl, "carl-3").await, Code::ResourceExhausted, "submitter_jobs_in_flight", "a third job in flight");
    assert!(!submit_as(&carl, "carl-1").await?.created, "the retry of a submitted request id was not answered with its job");
    submit_as(&dora, "dora-1").await?;

    step("a burst past the rate is RESOURCE_EXHAUSTED for that caller only, and passes once the bucket refills");
    let mut refused = None;
    for _ in 0..30 {
        if let Err(status) = list_jobs(&carl, &leader).await {
            refused = Some(status);
            break;
        }
    }
    assert_code(refused.map_or(Ok(()), Err), Code::ResourceExhausted, "client_requests_per_second", "a burst of ListJobs");
    assert_eq!(list_jobs(&dora, &leader).await?.len(), 1, "another client was slowed down too");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(list_jobs(&carl, &leader).await?.len(), 2);
    Ok(())
}
