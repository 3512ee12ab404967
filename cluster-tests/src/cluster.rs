//! Real `shotfarm scheduler` processes on loopback, each with its own data directory and
//! captured log, that a test or benchmark can kill (SIGKILL, by the pid it started — never by
//! name), restart, pause and resume (SIGSTOP/SIGCONT).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shotfarm_proto::client::channel;
use shotfarm_proto::v1::ClusterStatusRequest;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;

/// The `shotfarm` binary: `SHOTFARM_BIN`, else the workspace's debug or release build.
pub fn shotfarm_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("SHOTFARM_BIN") {
        return Ok(PathBuf::from(path));
    }
    if let Ok(current) = std::env::current_exe() {
        if current.file_name().is_some_and(|name| name == "shotfarm") {
            return Ok(current);
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

/// Free loopback ports (bound and released: good enough on a test machine).
pub fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    listeners.iter().map(|listener| Ok(listener.local_addr()?.port())).collect()
}

pub struct Replica {
    pub id: u64,
    pub addr: String,
    /// Started with `--join` (added later through the admin API) rather than `--peers`.
    pub joins: bool,
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
}

impl SchedulerCluster {
    /// Starts `count` replicas forming one group.
    pub fn start(count: u64, extra_args: &[&str]) -> anyhow::Result<SchedulerCluster> {
        let binary = shotfarm_binary()?;
        let root = tempfile::Builder::new().prefix("shotfarm-cluster-").tempdir()?;
        let ports = free_ports(count as usize)?;
        let addrs: Vec<String> = ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let peers = addrs.iter().enumerate().map(|(index, addr)| format!("{}={addr}", index + 1)).collect::<Vec<_>>().join(",");
        let mut cluster = SchedulerCluster {
            binary,
            replicas: BTreeMap::new(),
            peers,
            extra_args: extra_args.iter().map(|arg| (*arg).to_owned()).collect(),
            root: None,
            kept: None,
        };
        for (index, addr) in addrs.into_iter().enumerate() {
            let id = index as u64 + 1;
            let data_dir = root.path().join(format!("replica-{id}"));
            let log = root.path().join(format!("replica-{id}.log"));
            cluster.replicas.insert(id, Replica { id, addr, joins: false, data_dir, log, child: None });
        }
        cluster.root = Some(root);
        for id in 1..=count {
            cluster.restart(id)?;
        }
        Ok(cluster)
    }

    pub fn addrs(&self) -> Vec<String> {
        self.replicas.values().map(|replica| replica.addr.clone()).collect()
    }

    pub fn addrs_joined(&self) -> String {
        self.addrs().join(",")
    }

    /// Starts (or starts again) a replica on its data directory.
    pub fn restart(&mut self, id: u64) -> anyhow::Result<()> {
        let replica = self.replicas.get_mut(&id).context("no such replica")?;
        if replica.child.is_some() {
            bail!("replica {id} is already running");
        }
        let log = File::options().create(true).append(true).open(&replica.log)?;
        let membership = if replica.joins { vec!["--join".to_owned()] } else { vec!["--peers".to_owned(), self.peers.clone()] };
        let child = Command::new(&self.binary)
            .args(["scheduler", "--id", &id.to_string(), "--listen", &replica.addr])
            .args(&membership)
            .arg("--data-dir")
            .arg(&replica.data_dir)
            .args(&self.extra_args)
            .env("SHOTFARM_LOG", std::env::var("SHOTFARM_LOG").unwrap_or_else(|_| "info".to_owned()))
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
    pub fn start_joining(&mut self, id: u64) -> anyhow::Result<String> {
        let root = self.root.as_ref().map(|root| root.path().to_path_buf()).or_else(|| self.kept.clone()).context("cluster directory gone")?;
        let addr = format!("127.0.0.1:{}", free_ports(1)?[0]);
        let replica = Replica {
            id,
            addr: addr.clone(),
            joins: true,
            data_dir: root.join(format!("replica-{id}")),
            log: root.join(format!("replica-{id}.log")),
            child: None,
        };
        self.replicas.insert(id, replica);
        self.restart(id)?;
        Ok(addr)
    }

    fn signal(&self, id: u64, signal: &str) -> anyhow::Result<()> {
        let pid = self.replicas.get(&id).and_then(Replica::pid).context("replica not running")?;
        let status = Command::new("kill").args([signal, &pid.to_string()]).status()?;
        if !status.success() {
            bail!("kill {signal} {pid} failed");
        }
        Ok(())
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

    /// The leader as the running replicas report it: (id, address), if they agree on one.
    pub async fn leader(&self) -> Option<(u64, String)> {
        let mut votes = BTreeMap::new();
        for replica in self.replicas.values().filter(|replica| replica.is_running()) {
            let Ok(ch) = channel(&replica.addr) else { continue };
            let asked = tokio::time::timeout(Duration::from_millis(500), AdminServiceClient::new(ch).cluster_status(ClusterStatusRequest {})).await;
            if let Ok(Ok(status)) = asked {
                let status = status.into_inner();
                if status.role == "leader" {
                    *votes.entry(status.id).or_insert(0) += 1;
                }
            }
        }
        let (id, _) = votes.into_iter().max_by_key(|(_, count)| *count)?;
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
