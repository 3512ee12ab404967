//! `run(config, shutdown)`: one scheduler replica, from data directory to serving gRPC, and
//! back down in order (stop serving, stop the driver) when `shutdown` fires.

use std::collections::HashMap;
use std::sync::Arc;

use shotfarm_proto::v1::admin_service_server::AdminServiceServer;
use shotfarm_proto::v1::job_service_server::JobServiceServer;
use shotfarm_proto::v1::node_service_server::NodeServiceServer;
use shotfarm_proto::v1::raft_service_server::RaftServiceServer;
use shotfarm_proto::v1::recipe_service_server::RecipeServiceServer;
use shotfarm_security::TransportSecurity;
use shotfarm_security::https::{HttpsError, HttpsListener};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::callbacks;
use crate::config::SchedulerConfig;
use crate::connections::{self, ConnectionLimits};
use crate::http::{self, HttpContext};
use crate::consensus::{Replica, ReplicaConfig, ReplicaError};
use crate::replica_node::driver::{self, DriverConfig};
use crate::replica_node::DriverHandle;
use crate::replica_node::liveness::LivenessConfig;
use crate::replica_node::transport::MAX_PEER_MESSAGE;
use crate::service::access::Gate;
use crate::service::admin::ADMIN_ROLES;
use crate::service::forward::admin::AdminFront;
use crate::service::forward::front::Front;
use crate::service::forward::jobs::JobsFront;
use crate::service::forward::recipes::RecipesFront;
use crate::service::jobs::JOB_ROLES;
use crate::service::recipes::RECIPE_ROLES;
use crate::service::forward::leader_link::LeaderLink;
use crate::service::wire_errors::WireErrors;
use crate::service::{admin::Admin, jobs::Jobs, nodes::Nodes, raft::RaftPeer, recipes::Recipes};
use crate::storage::disk_store::DiskStore;
use crate::storage::StoreError;

/// Largest request a client sends: a job spec is a few kilobytes at most (`validate`).
const MAX_CLIENT_REQUEST: usize = 1 << 20;
/// Largest request an agent sends: a task's output JSON (an inspection lists every chunk).
const MAX_AGENT_REQUEST: usize = 8 << 20;
/// Largest operator request (membership changes, node names).
const MAX_ADMIN_REQUEST: usize = 64 << 10;
/// Largest reply to a client, an agent or an operator: what a tonic client accepts by
/// default. `ListJobs` pages stay far below it (`service::job_pages`).
const MAX_REPLY: usize = 4 << 20;
/// Concurrent HTTP/2 streams on one connection (a shared agent connection holds one session
/// stream per agent, `cluster-tests`' swarm 64).
const MAX_STREAMS_PER_CONNECTION: u32 = 1024;
/// Requests one connection has in progress at most; more wait.
const MAX_REQUESTS_PER_CONNECTION: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration or the data directory is unusable: the operator must fix it.
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source} (is another process using the port?)")]
    Listen { addr: String, source: std::io::Error },
    #[error("{0}")]
    Fatal(String),
    /// The store could not write (a full disk, an I/O error): the replica stopped at once,
    /// with everything it acknowledged on disk.
    #[error("{0}; the replica stopped with everything it acknowledged on disk: free space or fix the disk under the data directory, then start it again")]
    Storage(String),
}

impl From<StoreError> for ServerError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Open { .. } => ServerError::Config(format!(
                "{error} (check that the directory is writable and that no other scheduler uses it)"
            )),
            StoreError::Locked { .. } | StoreError::NotADataDir { .. } | StoreError::OtherReplica { .. } => ServerError::Config(error.to_string()),
            other => ServerError::Fatal(other.to_string()),
        }
    }
}

/// Opens the replica's store and consensus core: the part of start-up that can fail on
/// configuration, kept apart so `shotfarm scheduler` reports it before binding anything.
pub fn open_replica(config: &SchedulerConfig) -> Result<Replica<DiskStore>, ServerError> {
    check_data_dir(&config.data_dir)?;
    let mut store = DiskStore::open(&config.data_dir)?;
    store.claim(config.id)?;
    let replica_config = ReplicaConfig {
        election_ticks: config.election_ticks,
        heartbeat_ticks: config.heartbeat_ticks,
        snapshot_every: config.snapshot_every,
        ..ReplicaConfig::new(config.id)
    };
    let failed = |err| match err {
        ReplicaError::Membership(message) => ServerError::Config(message),
        ReplicaError::Store(store) => ServerError::from(store),
        ReplicaError::Raft(raft) => ServerError::Fatal(raft.to_string()),
    };
    let mut replica = Replica::open(&replica_config, &config.peers, store).map_err(failed)?;
    if let Some(dir) = &config.audit {
        replica.enable_audit(dir).map_err(failed)?;
    }
    Ok(replica)
}

fn check_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    let problem = |what: &str, err: std::io::Error| {
        ServerError::Config(format!("data directory {}: {what}: {err}; pass a writable --data-dir", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(|err| problem("cannot create it", err))?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok").map_err(|err| problem("cannot write in it", err))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Runs one replica until `shutdown` fires or storage fails.
pub async fn run(config: SchedulerConfig, shutdown: CancellationToken) -> Result<(), ServerError> {
    // The port first: a start that fails on a busy port must leave the data directory as it
    // was, or the corrected command would meet a membership the failed one stored.
    let listener = TcpListener::bind(config.listen).await.map_err(|source| ServerError::Listen { addr: config.listen.to_string(), source })?;
    let http = bind_http(&config).await?;
    let replica = open_replica(&config)?;
    serve(config, replica, Listeners { grpc: listener, http }, shutdown).await
}

/// What a replica serves on: gRPC, and HTTP (`/metrics`) when `--http-listen` is given.
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: Option<HttpsListener>,
}

/// Binds the HTTP listener of `--http-listen`, if given.
pub async fn bind_http(config: &SchedulerConfig) -> Result<Option<HttpsListener>, ServerError> {
    let Some(addr) = config.http_listen else { return Ok(None) };
    HttpsListener::bind(addr, &config.transport).await.map(Some).map_err(|err| match err {
        HttpsError::Listen { source, .. } => ServerError::Listen { addr: addr.to_string(), source },
        HttpsError::Tls(tls) => ServerError::Config(format!("--http-listen: {tls}")),
    })
}

/// Serves on already bound listeners (tests bind port 0 first).
pub async fn serve(config: SchedulerConfig, replica: Replica<DiskStore>, listeners: Listeners, shutdown: CancellationToken) -> Result<(), ServerError> {
    let Listeners { grpc: listener, http } = listeners;
    let metrics = replica.metrics();
    let driver_config = DriverConfig {
        tick: config.tick,
        liveness: LivenessConfig { node_timeout: config.node_timeout, lease_timeout: config.lease_timeout },
        leader_grace: config.node_timeout,
        routes: config.routes.clone().into_iter().collect(),
        peer_security: config.transport.clone(),
    };
    let driver_shutdown = shutdown.child_token();
    let peers: HashMap<u64, String> = config.peers.clone().into_iter().collect();
    let (driver, driver_thread) = driver::spawn(replica, driver_config, config.advertise.clone(), peers, driver_shutdown.clone())
        .map_err(|err| ServerError::Fatal(format!("cannot start the raft thread: {err}")))?;
    tracing::info!(id = config.id, listen = %config.listen, data_dir = %config.data_dir.display(), "scheduler replica serving");
    config.roots.warn_if_empty();
    tokio::spawn(callbacks::delivery::run(driver.clone(), config.callbacks.clone(), shutdown.child_token()));
    // One gate for both listeners: a caller's request rate counts across them.
    let gate = Gate::new(driver.clone(), authenticates(&config), config.client_requests_per_second);
    if let Some(http) = http {
        let context = HttpContext {
            driver: driver.clone(),
            metrics,
            admin: Arc::new(admin_front(&driver, &gate)),
            jobs: Arc::new(jobs_front(&driver, &gate, &config)),
            output_roots: config.roots.output.clone(),
            sessions: Arc::default(),
            event_streams: Arc::new(tokio::sync::Semaphore::new(http::dashboard::api::MAX_EVENT_STREAMS)),
            authenticate: authenticates(&config),
        };
        let addr = http.local_addr().map_or_else(|_| "?".to_owned(), |addr| addr.to_string());
        tracing::info!(http_listen = %addr, "serving the dashboard and /metrics over HTTP");
        tokio::spawn(http.serve(http::router(context), shutdown.child_token()));
    }

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<JobServiceServer<Jobs>>().await;
    health_reporter.set_serving::<NodeServiceServer<Nodes>>().await;
    health_reporter.set_serving::<AdminServiceServer<Admin>>().await;
    health_reporter.set_serving::<RaftServiceServer<RaftPeer>>().await;
    health_reporter.set_serving::<RecipeServiceServer<Recipes>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(shotfarm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|err| ServerError::Fatal(format!("reflection: {err}")))?;

    let router = services(&driver, &config, &gate)?
        .add_service(health_service)
        .add_service(reflection);

    // The driver ends on shutdown or on a storage failure; either way the server stops.
    let (driver_done, driver_result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = driver_thread.join();
        let _ = driver_done.send(result);
    });
    let stop_serving = CancellationToken::new();
    let limits = ConnectionLimits { max_connections: config.max_connections, idle_timeout: config.idle_timeout };
    let incoming = connections::incoming(listener, limits);
    let server = router.serve_with_incoming_shutdown(incoming, stop_serving.clone().cancelled_owned());
    tokio::pin!(server);
    let mut driver_result = driver_result;
    // A future that ended in the select must not be polled again (a oneshot receiver
    // panics if it is): remember which one did.
    let (mut server_ended, mut driver_ended) = (false, false);
    let outcome = tokio::select! {
        served = &mut server => {
            server_ended = true;
            served.map_err(|err| ServerError::Fatal(format!("gRPC server failed: {err}")))
        }
        () = shutdown.cancelled() => Ok(()),
        joined = &mut driver_result => {
            driver_ended = true;
            match joined {
                Ok(Ok(Err(err))) => Err(ServerError::Storage(err.to_string())),
                _ => Err(ServerError::Fatal("the raft driver stopped unexpectedly".to_owned())),
            }
        }
    };
    // In order: stop admitting requests, stop the driver, wait for both.
    stop_serving.cancel();
    if !server_ended {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut server).await;
    }
    driver_shutdown.cancel();
    if !driver_ended {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), driver_result).await;
    }
    tracing::info!(id = config.id, "scheduler replica stopped");
    outcome
}

/// Whether callers are authenticated: on a TLS farm, not on an `--insecure` one.
fn authenticates(config: &SchedulerConfig) -> bool {
    matches!(config.transport, TransportSecurity::Tls(_))
}

/// A client-facing service's front door: followers relay leader-only calls to the leader
/// (`service::forward`).
fn front(driver: &DriverHandle, gate: &Gate, service: &'static str, roles: &'static [shotfarm_security::Role]) -> Front {
    Front { link: LeaderLink::new(driver.clone()), gate: gate.clone(), service, roles }
}

/// `JobService` as callers reach it, over gRPC or from the dashboard.
fn jobs_front(driver: &DriverHandle, gate: &Gate, config: &SchedulerConfig) -> JobsFront {
    JobsFront {
        local: Jobs {
            driver: driver.clone(),
            gate: gate.clone(),
            roots: config.roots.clone(),
            callbacks: config.callbacks.clone(),
            submitter_jobs_in_flight: config.submitter_jobs_in_flight,
        },
        front: front(driver, gate, "JobService", JOB_ROLES),
    }
}

/// `AdminService` as callers reach it, over gRPC or from the dashboard.
fn admin_front(driver: &DriverHandle, gate: &Gate) -> AdminFront {
    AdminFront { local: Admin { driver: driver.clone(), gate: gate.clone() }, front: front(driver, gate, "AdminService", ADMIN_ROLES) }
}

fn services(driver: &DriverHandle, config: &SchedulerConfig, gate: &Gate) -> Result<tonic::transport::server::Router, ServerError> {
    // Pings keep every live connection talking, so only a silent one meets the idle
    // timeout (`connections`); a peer that stops answering them is dropped sooner.
    let ping_every = config.idle_timeout / 3;
    let mut builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(ping_every))
        .http2_keepalive_timeout(Some(ping_every))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .concurrency_limit_per_connection(MAX_REQUESTS_PER_CONNECTION);
    match &config.transport {
        TransportSecurity::Tls(material) => {
            let tls = material.server_config().map_err(|err| ServerError::Config(err.to_string()))?;
            builder = builder.tls_config(tls).map_err(|err| ServerError::Config(format!("TLS: {err}")))?;
        }
        TransportSecurity::Insecure => {
            tracing::warn!(
                listen = %config.listen,
                "--insecure: plaintext gRPC and no authentication; anyone who reaches this port may submit, read, administer and join"
            );
        }
    }
    Ok(builder
        .add_service(WireErrors(
            JobServiceServer::new(jobs_front(driver, gate, config))
                .max_decoding_message_size(MAX_CLIENT_REQUEST)
                .max_encoding_message_size(MAX_REPLY),
        ))
        .add_service(WireErrors(
            NodeServiceServer::new(Nodes { driver: driver.clone(), gate: gate.clone(), heartbeat_interval_ms: config.heartbeat_interval_ms })
                .max_decoding_message_size(MAX_AGENT_REQUEST)
                .max_encoding_message_size(MAX_REPLY),
        ))
        .add_service(WireErrors(
            AdminServiceServer::new(admin_front(driver, gate))
                .max_decoding_message_size(MAX_ADMIN_REQUEST)
                .max_encoding_message_size(MAX_REPLY),
        ))
        .add_service(WireErrors(
            RecipeServiceServer::new(RecipesFront { local: Recipes { driver: driver.clone(), gate: gate.clone() }, front: front(driver, gate, "RecipeService", RECIPE_ROLES) })
                .max_decoding_message_size(MAX_CLIENT_REQUEST)
                .max_encoding_message_size(MAX_REPLY),
        ))
        .add_service(WireErrors(
            RaftServiceServer::new(RaftPeer { driver: driver.clone(), gate: gate.clone() })
                .max_decoding_message_size(MAX_PEER_MESSAGE)
                .max_encoding_message_size(MAX_PEER_MESSAGE),
        )))
}
