//! Real `shotfarm scheduler` processes on loopback, each with its own data directory and
//! captured log, that a test or benchmark can kill (SIGKILL, by the pid it started — never by
//! name), restart, pause and resume (SIGSTOP/SIGCONT).
//!
//! Secure by default, as a deployed farm: the cluster has its own throwaway CA, every replica
//! its `replica/ID` certificate, and [`SchedulerCluster::credentials`] issues whatever
//! identity a test's client or agent needs. A cluster started with `--insecure` among its
//! extra arguments runs plaintext and anonymous, and its credentials are anonymous too.
//!
//! [`SchedulerCluster::start_with_proxies`] puts a [`LinkProxy`] on every link, so a test
//! can cut, delay or isolate any of them ([`Network`]):
//!
//! ```text
//!  clients, agents ──▶ front door i ──▶ replica i        (replicas advertise their front door,
//!  replica i ──▶ link (i→j) ──▶ replica j                 so leader hints lead back through it;
//!                                                         `--route j=link(i→j)` on replica i)
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use crate::ports::free_ports;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shotfarm_proto::client::{LeaderClient, channel};
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{ClusterStatusRequest, ClusterStatusResponse};
use shotfarm_security::local_farm::LocalFarmCertificates;
use shotfarm_security::{Credentials, Role, TransportSecurity};

use crate::proxy::LinkProxy;

/// The `shotfarm` binary: `SHOTFARM_BIN`, else this process if it is `shotfarm`, else the
/// `shotfarm` beside this executable (the benchmark binary's case), else the workspace's
/// debug or release build.
pub fn shotfarm_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("SHOTFARM_BIN") {
        return Ok(PathBuf::from(path));
    }
    if let Ok(current) = std::env::current_exe() {
        if current.file_name().is_some_and(|name| name == "shotfarm") {
            return Ok(current);
        }
        if let Some(sibling) = current.parent().map(|dir| dir.join("shotfarm")).filter(|path| path.is_file()) {
            return Ok(sibling);
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("workspace root")?;
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace.join("target"));
    for profile in ["debug", "release"] {
        let candidate = target.join(profile).join("shotfarm");
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    bail!("no shotfarm binary found under {}; build it first (cargo build -p shotfarm) or set SHOTFARM_BIN", target.display())
}

/// The storage roots a cluster's replicas allow unless the test passes its own
/// `--allow-input`/`--allow-output`: the URL namespaces of simulated jobs (`file:///sim/…`,
/// `file:///bench/…`), which the swarm's simulated agents never open.
pub const SIMULATED_ROOTS: &str = "file:///sim,file:///bench";

/// `args` with `--allow-input ROOTS` and `--allow-output ROOTS` added for each one it lacks.
pub fn with_default_roots(args: &[&str], roots: &str) -> Vec<String> {
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    for flag in ["--allow-input", "--allow-output"] {
        if !args.iter().any(|arg| arg == flag || arg.starts_with(&format!("{flag}="))) {
            args.extend([flag.to_owned(), roots.to_owned()]);
        }
    }
    args
}

pub struct Replica {
    pub id: u64,
    /// Where clients, agents and (unless routed) peers reach it: its member address. With
    /// proxies, its front door.
    pub addr: String,
    /// Where the process listens; the harness observes it here, past every fault.
    pub listen: String,
    /// Its HTTP listener (`--http-listen`: `/metrics`), reached directly.
    pub http: String,
    /// Started with `--join` (added later through the admin API) rather than `--peers`.
    pub joins: bool,
    /// This replica's own `--peers`, where it differs from the cluster's (a misconfigured
    /// replica, or one recovered as a group of its own).
    pub peers: Option<String>,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

pub struct SchedulerCluster {
    binary: PathBuf,
    /// Kept alive for the cluster's lifetime; deleted on drop unless `keep` was called.
    root: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
    pub replicas: BTreeMap<u64, Replica>,
    peers: String,
    extra_args: Vec<String>,
    /// The proxies, when started with them.
    network: Option<Network>,
    /// The cluster's CA and certificates; `None` for a cluster started `--insecure`.
    certificates: Option<Arc<LocalFarmCertificates>>,
}

/// The name of the operator identity the harness itself uses.
pub const HARNESS_OPERATOR: &str = "harness";

/// Every proxy of a cluster started with [`SchedulerCluster::start_with_proxies`]: one front
/// door per replica and one link per ordered pair of replicas.
pub struct Network {
    front_doors: BTreeMap<u64, LinkProxy>,
    /// `(from, to)`: the way replica `from` dials replica `to`.
    links: BTreeMap<(u64, u64), LinkProxy>,
}

impl Network {
    /// Clients' and agents' way in to replica `id`.
    pub fn front_door(&self, id: u64) -> anyhow::Result<&LinkProxy> {
        self.front_doors.get(&id).with_context(|| format!("no front door for replica {id}"))
    }

    /// The way replica `from` dials replica `to`.
    pub fn link(&self, from: u64, to: u64) -> anyhow::Result<&LinkProxy> {
        self.links.get(&(from, to)).with_context(|| format!("no link {from}→{to}"))
    }

    /// Every directed link between replicas.
    pub fn links(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.links.keys().copied()
    }

    /// Cuts `minority` off from the other replicas and from the clients and agents (who stay
    /// with the majority): every link across and the minority's front doors are blackholed.
    pub fn partition(&self, minority: &[u64]) {
        for ((from, to), link) in &self.links {
            if minority.contains(from) != minority.contains(to) {
                link.blackhole();
            }
        }
        for (id, door) in &self.front_doors {
            if minority.contains(id) {
                door.blackhole();
            }
        }
    }

    /// Cuts one replica off from everyone.
    pub fn isolate(&self, id: u64) {
        self.partition(&[id]);
    }

    /// Every link and front door healthy again.
    pub fn heal(&self) {
        for proxy in self.front_doors.values().chain(self.links.values()) {
            proxy.heal();
        }
    }
}

impl SchedulerCluster {
    /// Starts `count` replicas forming one group, each reached directly at its listen address.
    pub fn start(count: u64, extra_args: &[&str]) -> anyhow::Result<SchedulerCluster> {
        let listens = free_ports(count as usize)?.into_iter().map(|port| format!("127.0.0.1:{port}")).collect::<Vec<_>>();
        let mut cluster = SchedulerCluster::prepare(listens.clone(), listens, extra_args)?;
        for id in 1..=count {
            cluster.restart(id)?;
        }
        Ok(cluster)
    }

    /// Starts `count` replicas with a proxy on every link (see [`Network`]): replicas
    /// advertise their front doors and dial each other through per-link proxies
    /// (`--route`). Needs a tokio runtime; the proxies run on it.
    pub async fn start_with_proxies(count: u64, extra_args: &[&str]) -> anyhow::Result<SchedulerCluster> {
        let listens: Vec<String> = free_ports(count as usize)?.into_iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let ids: Vec<u64> = (1..=count).collect();
        let mut front_doors = BTreeMap::new();
        let mut links = BTreeMap::new();
        for (&id, listen) in ids.iter().zip(&listens) {
            let target = listen.parse()?;
            front_doors.insert(id, LinkProxy::start(target).await?);
            for &from in ids.iter().filter(|from| **from != id) {
                links.insert((from, id), LinkProxy::start(target).await?);
            }
        }
        let advertised = front_doors.values().map(|door| door.addr().to_string()).collect();
        let mut cluster = SchedulerCluster::prepare(listens, advertised, extra_args)?;
        cluster.network = Some(Network { front_doors, links });
        for id in ids {
            cluster.restart(id)?;
        }
        Ok(cluster)
    }

    fn prepare(listens: Vec<String>, advertised: Vec<String>, extra_args: &[&str]) -> anyhow::Result<SchedulerCluster> {
        let binary = shotfarm_binary()?;
        let root = tempfile::Builder::new().prefix("shotfarm-cluster-").tempdir()?;
        let certificates = if extra_args.contains(&"--insecure") { None } else { Some(Arc::new(LocalFarmCertificates::open(&root.path().join("certs"))?)) };
        let peers = advertised.iter().enumerate().map(|(index, addr)| format!("{}={addr}", index + 1)).collect::<Vec<_>>().join(",");
        let mut replicas = BTreeMap::new();
        let https = free_ports(listens.len())?;
        for (index, ((listen, addr), http)) in listens.into_iter().zip(advertised).zip(https).enumerate() {
            let id = index as u64 + 1;
            let data_dir = root.path().join(format!("replica-{id}"));
            let log = root.path().join(format!("replica-{id}.log"));
            let http = format!("127.0.0.1:{http}");
            replicas.insert(id, Replica { id, addr, listen, http, joins: false, peers: None, data_dir, log, child: None });
        }
        Ok(SchedulerCluster {
            binary,
            replicas,
            peers,
            extra_args: with_default_roots(extra_args, SIMULATED_ROOTS),
            root: Some(root),
            kept: None,
            network: None,
            certificates,
        })
    }

    /// The CA and certificates (None for an `--insecure` cluster).
    pub fn certificates(&self) -> Option<Arc<LocalFarmCertificates>> {
        self.certificates.clone()
    }

    /// The flags that give a process of this farm the identity `role/name`: `--ca`,
    /// `--cert`, `--key` (issued on first use), or `--insecure`.
    pub fn tls_args(&self, role: Role, name: &str) -> anyhow::Result<Vec<String>> {
        let Some(certificates) = &self.certificates else { return Ok(vec!["--insecure".to_owned()]) };
        let files = certificates.files(role, name)?;
        let mut args = Vec::new();
        for (flag, path) in [("--ca", files.ca), ("--cert", files.cert), ("--key", files.key)] {
            let path = path.context("a certificate file is missing")?;
            args.extend([flag.to_owned(), path.display().to_string()]);
        }
        Ok(args)
    }

    /// A client's credentials as `role/name` (anonymous on an `--insecure` cluster).
    pub fn credentials(&self, role: Role, name: &str) -> anyhow::Result<Credentials> {
        let Some(certificates) = &self.certificates else { return Ok(Credentials::insecure()) };
        let transport = TransportSecurity::from_flags(&certificates.files(role, name)?, false, true)?;
        Ok(Credentials::new(transport, None)?)
    }

    /// Credentials with only the CA (a client with a token, or with nothing at all).
    pub fn ca_only_credentials(&self, token: Option<&str>) -> anyhow::Result<Credentials> {
        let Some(certificates) = &self.certificates else { return Ok(Credentials::insecure()) };
        let transport = TransportSecurity::from_flags(&certificates.ca_only(), false, false)?;
        Ok(Credentials::new(transport, token)?)
    }

    /// The harness's own operator credentials.
    pub fn operator(&self) -> Credentials {
        self.credentials(Role::Operator, HARNESS_OPERATOR).unwrap_or_else(|err| panic!("the harness operator's certificate: {err:#}"))
    }

    /// A leader-following client as the harness's operator.
    pub fn client(&self) -> LeaderClient {
        LeaderClient::new(self.addrs(), self.operator())
    }

    /// The proxies; an error for a cluster started without them.
    pub fn network(&self) -> anyhow::Result<&Network> {
        self.network.as_ref().context("this cluster was started without proxies (use SchedulerCluster::start_with_proxies)")
    }

    /// Where the logs and data directories are (until the cluster is dropped, unless kept).
    pub fn root(&self) -> Option<PathBuf> {
        self.root.as_ref().map(|root| root.path().to_path_buf()).or_else(|| self.kept.clone())
    }

    pub fn addrs(&self) -> Vec<String> {
        self.replicas.values().map(|replica| replica.addr.clone()).collect()
    }

    pub fn addrs_joined(&self) -> String {
        self.addrs().join(",")
    }

    /// Starts (or starts again) a replica on its data directory.
    pub fn restart(&mut self, id: u64) -> anyhow::Result<()> {
        self.restart_with_env(id, &[])
    }

    /// As [`SchedulerCluster::restart`], with environment variables for this process only
    /// (e.g. `FAILPOINTS`: see `shotfarm_scheduler::failpoints`).
    pub fn restart_with_env(&mut self, id: u64, env: &[(&str, &str)]) -> anyhow::Result<()> {
        let replica = self.replicas.get_mut(&id).context("no such replica")?;
        if replica.child.is_some() {
            bail!("replica {id} is already running");
        }
        let log = File::options().create(true).append(true).open(&replica.log)?;
        let peers = replica.peers.clone().unwrap_or_else(|| self.peers.clone());
        let membership = if replica.joins { vec!["--join".to_owned()] } else { vec!["--peers".to_owned(), peers] };
        let routes: Vec<String> = self
            .network
            .iter()
            .flat_map(|network| network.links.iter())
            .filter(|((from, _), _)| *from == id)
            .flat_map(|((_, to), link)| ["--route".to_owned(), format!("{to}={}", link.addr())])
            .collect();
        // An insecure cluster's `--insecure` is among the extra arguments already.
        let tls = if self.certificates.is_some() { self.tls_args(Role::Replica, &id.to_string())? } else { Vec::new() };
        let replica = self.replicas.get_mut(&id).context("no such replica")?;
        let child = Command::new(&self.binary)
            .args(["scheduler", "--id", &id.to_string(), "--listen", &replica.listen, "--http-listen", &replica.http])
            .args(&tls)
            .args(&membership)
            .args(&routes)
            .arg("--data-dir")
            .arg(&replica.data_dir)
            .args(&self.extra_args)
            .env("SHOTFARM_LOG", std::env::var("SHOTFARM_LOG").unwrap_or_else(|_| "info".to_owned()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        replica.child = Some(child);
        Ok(())
    }

    /// Starts a new, empty replica with `--join`; it serves once the group adds it
    /// (`shotfarm cluster add --id ID --addr ADDR`). Returns its address.
    /// Only for clusters without proxies.
    pub fn start_joining(&mut self, id: u64) -> anyhow::Result<String> {
        self.start_new_replica(id, |_| None)
    }

    /// Starts a new, empty replica that bootstraps a group of its own from the `--peers`
    /// that `peers_given(its address)` returns (a misconfigured replica, say). Returns its
    /// address. Only for clusters without proxies.
    pub fn start_with_peers(&mut self, id: u64, peers_given: impl FnOnce(&str) -> String) -> anyhow::Result<String> {
        self.start_new_replica(id, |addr| Some(peers_given(addr)))
    }

    fn start_new_replica(&mut self, id: u64, peers_given: impl FnOnce(&str) -> Option<String>) -> anyhow::Result<String> {
        if self.network.is_some() {
            bail!("new replicas have no proxies; start the cluster with SchedulerCluster::start");
        }
        let root = self.root().context("cluster directory gone")?;
        let addr = format!("127.0.0.1:{}", free_ports(1)?[0]);
        let peers = peers_given(&addr);
        let replica = Replica {
            id,
            addr: addr.clone(),
            listen: addr.clone(),
            http: format!("127.0.0.1:{}", free_ports(1)?[0]),
            joins: peers.is_none(),
            peers,
            data_dir: root.join(format!("replica-{id}")),
            log: root.join(format!("replica-{id}.log")),
            child: None,
        };
        self.replicas.insert(id, replica);
        self.restart(id)?;
        Ok(addr)
    }

    /// The last `lines` lines of a replica's log, to explain a failed wait.
    pub fn log_tail(&self, id: u64, lines: usize) -> String {
        let Some(replica) = self.replicas.get(&id) else { return format!("(no replica {id})") };
        let text = std::fs::read_to_string(&replica.log).unwrap_or_else(|err| format!("(reading {}: {err})", replica.log.display()));
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn signal(&self, id: u64, signal: &str) -> anyhow::Result<()> {
        let pid = self.replicas.get(&id).and_then(Replica::pid).context("replica not running")?;
        let status = Command::new("kill").args([signal, &pid.to_string()]).status()?;
        if !status.success() {
            bail!("kill {signal} {pid} failed");
        }
        Ok(())
    }

    /// How a replica ended on its own (a crash), once it has; it is then no longer running.
    pub fn exit_status(&mut self, id: u64) -> anyhow::Result<Option<std::process::ExitStatus>> {
        let replica = self.replicas.get_mut(&id).context("no such replica")?;
        let Some(child) = replica.child.as_mut() else { return Ok(None) };
        let status = child.try_wait()?;
        if status.is_some() {
            replica.child = None;
        }
        Ok(status)
    }

    /// SIGKILL, by pid.
    pub fn kill(&mut self, id: u64) -> anyhow::Result<()> {
        let replica = self.replicas.get_mut(&id).context("no such replica")?;
        if let Some(mut child) = replica.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    pub fn pause(&self, id: u64) -> anyhow::Result<()> {
        self.signal(id, "-STOP")
    }

    pub fn resume(&self, id: u64) -> anyhow::Result<()> {
        self.signal(id, "-CONT")
    }

    /// Keeps the data directories and logs after the cluster is dropped; returns where.
    pub fn keep(&mut self) -> Option<PathBuf> {
        if let Some(root) = self.root.take() {
            self.kept = Some(root.keep());
        }
        self.kept.clone()
    }

    /// What replica `id` says of itself, asked at its listen address (past every proxy);
    /// `None` when it does not answer within half a second.
    pub async fn status(&self, id: u64) -> Option<ClusterStatusResponse> {
        let replica = self.replicas.get(&id).filter(|replica| replica.is_running())?;
        let mut admin = AdminServiceClient::new(channel(&replica.listen, &self.operator()).ok()?);
        let asked = tokio::time::timeout(Duration::from_millis(500), admin.cluster_status(ClusterStatusRequest {})).await;
        Some(asked.ok()?.ok()?.into_inner())
    }

    /// The leader as the running replicas report it: (id, address). Of two replicas that
    /// both say they lead (an old leader cut off from the group has not stepped down yet),
    /// the one in the higher term.
    pub async fn leader(&self) -> Option<(u64, String)> {
        let mut leading = Vec::new();
        for &id in self.replicas.keys() {
            if let Some(status) = self.status(id).await
                && status.role == "leader"
            {
                leading.push((status.term, status.id));
            }
        }
        let (_, id) = leading.into_iter().max()?;
        self.replicas.get(&id).map(|replica| (id, replica.addr.clone()))
    }

    /// Waits until a leader is known.
    pub async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<(u64, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.leader().await {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                bail!("no leader within {timeout:?}; logs under {:?}", self.replicas.values().map(|replica| &replica.log).collect::<Vec<_>>());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SchedulerCluster {
    fn drop(&mut self) {
        for replica in self.replicas.values_mut() {
            if let Some(mut child) = replica.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Polls `predicate` until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut predicate: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !predicate().await {
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
