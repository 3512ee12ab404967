//! Real `shotfarm agent` processes on loopback, each with its own work directory (scratch,
//! job cache, result journal) and captured log.
//!
//! [`AgentProcess::kill`] (SIGKILL) and [`AgentProcess::pause`] (SIGSTOP) reach the ffmpeg
//! processes the agent started too, as when a machine dies or freezes: the agent (the pid
//! this harness started) is stopped first, then its descendants, read from `/proc`, are
//! signalled by pid — never by name. The agent stays in the test's process group, so a test
//! runner that kills a timed-out test's group takes its agents along.
//! [`AgentProcess::terminate`] sends SIGTERM to the agent alone: its graceful drain. [`AgentProcess::restart`] starts it again on the same work directory, where its
//! journal still holds results the scheduler has not acknowledged.
//!
//! [`Farm`] holds a scheduler cluster, its agents and a media directory together, and keeps
//! all their directories and logs when a scenario fails.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shotfarm_proto::client::FarmChannel;
use shotfarm_security::Role;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, GetJobRequest, ListNodesRequest, NodeRequest, SubmitJobRequest};
use tonic::Status;

use crate::cluster::{SchedulerCluster, shotfarm_binary, wait_until, with_default_roots};

/// One try of a client call gives up after this long, and the next replica is tried.
const TRY_LIMIT: Duration = Duration::from_secs(5);
/// One client call (every try) gives up after this long.
const CALL_LIMIT: Duration = Duration::from_secs(20);

/// How an agent is started.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    name: String,
    schedulers: Vec<String>,
    /// `--ca/--cert/--key` of its `agent/NAME` certificate, or `--insecure`.
    tls: Vec<String>,
    /// Where its work dir and log go; a fresh temp dir when `None`.
    parent: Option<PathBuf>,
    /// `--allow-input` and `--allow-output`; none (every task refused) unless set.
    roots: Option<(String, String)>,
    /// More flags (`--metrics-listen ADDR`).
    extra: Vec<String>,
    /// More environment variables (`SHOTFARM_LOG_FORMAT`).
    env: Vec<(String, String)>,
}

impl AgentBuilder {
    /// Puts the work dir (`<dir>/<name>`) and log (`<dir>/<name>.log`) under `dir`.
    pub fn under(mut self, dir: &Path) -> AgentBuilder {
        self.parent = Some(dir.to_path_buf());
        self
    }

    /// The storage roots the agent allows (`--allow-input`, `--allow-output`).
    pub fn roots(mut self, input: &str, output: &str) -> AgentBuilder {
        self.roots = Some((input.to_owned(), output.to_owned()));
        self
    }

    /// More flags for the agent (`--metrics-listen ADDR`).
    pub fn args(mut self, args: &[&str]) -> AgentBuilder {
        self.extra.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// An environment variable for the agent (`SHOTFARM_LOG_FORMAT=json`).
    pub fn env(mut self, key: &str, value: &str) -> AgentBuilder {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn start(self) -> anyhow::Result<AgentProcess> {
        let binary = shotfarm_binary()?;
        let (owned, parent) = match &self.parent {
            Some(parent) => (None, parent.clone()),
            None => {
                let dir = tempfile::Builder::new().prefix("shotfarm-agent-").tempdir()?;
                let path = dir.path().to_path_buf();
                (Some(dir), path)
            }
        };
        let mut agent = AgentProcess {
            work_dir: parent.join(&self.name),
            log: parent.join(format!("{}.log", self.name)),
            name: self.name.clone(),
            builder: self,
            binary,
            owned,
            child: None,
            kept: false,
        };
        agent.restart()?;
        Ok(agent)
    }
}

/// One `shotfarm agent` process (or its stopped remains: work dir and log).
pub struct AgentProcess {
    pub name: String,
    pub work_dir: PathBuf,
    pub log: PathBuf,
    builder: AgentBuilder,
    binary: PathBuf,
    /// The temp dir holding the work dir and log, when the builder made one.
    owned: Option<tempfile::TempDir>,
    child: Option<Child>,
    kept: bool,
}

impl AgentProcess {
    /// An agent named `name` that registers with `cluster`, with its own certificate.
    pub fn builder(name: &str, cluster: &SchedulerCluster) -> anyhow::Result<AgentBuilder> {
        Ok(AgentBuilder { name: name.to_owned(), schedulers: cluster.addrs(), tls: cluster.tls_args(Role::Agent, name)?, parent: None, roots: None, extra: Vec::new(), env: Vec::new() })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts (or starts again) the agent on its work directory; its log is appended to.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("agent {} is already running", self.name);
        }
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.binary);
        command
            .args(["agent", "--scheduler", &self.builder.schedulers.join(","), "--name", &self.name])
            .args(&self.builder.tls)
            .arg("--work-dir")
            .arg(&self.work_dir);
        if let Some((input, output)) = &self.builder.roots {
            command.args(["--allow-input", input, "--allow-output", output]);
        }
        command.args(&self.builder.extra);
        let child = command
            .env("SHOTFARM_LOG", std::env::var("SHOTFARM_LOG").unwrap_or_else(|_| "info".to_owned()))
            .env("NO_COLOR", "1")
            .env_remove("SHOTFARM_SCHEDULER")
            .env_remove("SHOTFARM_WORK_DIR")
            .envs(self.builder.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn running_pid(&self) -> anyhow::Result<u32> {
        self.pid().with_context(|| format!("agent {} is not running", self.name))
    }

    /// SIGKILL to the agent and everything it started, as when its machine dies.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        // Frozen first, it starts nothing new while its descendants are listed and killed.
        let _ = signal(&[child.id()], "-STOP");
        let _ = signal(&descendants(child.id()), "-KILL");
        let _ = child.kill();
        child.wait()?;
        Ok(())
    }

    /// SIGSTOP to the agent, then to the tools it started: the machine freezes.
    pub fn pause(&self) -> anyhow::Result<()> {
        let pid = self.running_pid()?;
        signal(&[pid], "-STOP")?;
        let _ = signal(&descendants(pid), "-STOP");
        Ok(())
    }

    /// SIGCONT to the tools the agent started, then to the agent.
    pub fn resume(&self) -> anyhow::Result<()> {
        let pid = self.running_pid()?;
        let _ = signal(&descendants(pid), "-CONT");
        signal(&[pid], "-CONT")
    }

    /// SIGTERM to the agent alone (a graceful drain: running tasks finish and report), then
    /// waits up to `timeout` for it to exit; SIGKILL after that.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        signal(&[self.running_pid()?], "-TERM")?;
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().context("agent vanished")?;
            if let Some(exit) = child.try_wait()? {
                self.child = None;
                return Ok(exit);
            }
            if Instant::now() > deadline {
                self.kill()?;
                bail!("agent {} did not exit within {timeout:?} of SIGTERM; killed", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's log so far (every run of it, appended).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines that contain every one of `needles`.
    pub fn log_lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.log_text().lines().filter(|line| needles.iter().all(|needle| line.contains(needle))).map(str::to_owned).collect()
    }

    /// Keeps the work directory and log after the agent is dropped; returns where they are.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.owned.take() {
            let _ = dir.keep();
        }
        self.kept = true;
        self.log.clone()
    }
}

/// Sends `signal` to `pids` (by pid, with `kill(1)`); an error when any of them failed.
fn signal(pids: &[u32], signal: &str) -> anyhow::Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    let status = Command::new("kill").arg(signal).args(pids.iter().map(u32::to_string)).stderr(Stdio::null()).status()?;
    if !status.success() {
        bail!("kill {signal} {pids:?} failed");
    }
    Ok(())
}

/// Every live descendant of `pid`, parents before children, from `/proc/<pid>/task/*/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|child| child.parse::<u32>().ok()) {
                if !found.contains(&child) {
                    found.push(child);
                    pending.push(child);
                }
            }
        }
    }
    found
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.kill();
        if std::thread::panicking() && !self.kept {
            let log = self.keep();
            eprintln!("[kept] agent {}: {}", self.name, log.display());
        }
    }
}

/// A scheduler cluster, real agents registered with it, and a directory for sources,
/// outputs and the agents' work dirs and logs. Drop it to stop everything;
/// [`Farm::keep_if_failed`] keeps the evidence.
pub struct Farm {
    pub cluster: SchedulerCluster,
    pub agents: Vec<AgentProcess>,
    /// Where sources, outputs and the agents' work dirs and logs go.
    pub dir: PathBuf,
    /// Deletes `dir` on drop, unless kept.
    owned: Option<tempfile::TempDir>,
}

impl Farm {
    /// Starts `replicas` schedulers (with `scheduler_args`) and one agent per name. The farm's
    /// directory is every process's input and output root, unless `scheduler_args` names the
    /// schedulers' own (`--allow-input`, `--allow-output`).
    pub fn start(replicas: u64, scheduler_args: &[&str], agent_names: &[&str]) -> anyhow::Result<Farm> {
        let owned = tempfile::Builder::new().prefix("shotfarm-farm-").tempdir()?;
        let roots = format!("file://{}", owned.path().display());
        let scheduler_args = with_default_roots(scheduler_args, &roots);
        let cluster = SchedulerCluster::start(replicas, &scheduler_args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let mut farm = Farm { cluster, agents: Vec::new(), dir: owned.path().to_path_buf(), owned: Some(owned) };
        for name in agent_names {
            farm.add_agent(AgentProcess::builder(name, &farm.cluster)?)?;
        }
        Ok(farm)
    }

    /// Starts one more agent, its work dir and log under the farm's directory (its storage
    /// roots too, unless the builder has its own).
    pub fn add_agent(&mut self, mut builder: AgentBuilder) -> anyhow::Result<&mut AgentProcess> {
        if builder.roots.is_none() {
            let roots = format!("file://{}", self.dir.display());
            builder = builder.roots(&roots, &roots);
        }
        self.agents.push(builder.under(&self.dir).start()?);
        self.agents.last_mut().context("an agent was just added")
    }

    pub fn agent(&self, name: &str) -> anyhow::Result<&AgentProcess> {
        self.agents.iter().find(|agent| agent.name == name).with_context(|| format!("no agent {name}"))
    }

    pub fn agent_mut(&mut self, name: &str) -> anyhow::Result<&mut AgentProcess> {
        self.agents.iter_mut().find(|agent| agent.name == name).with_context(|| format!("no agent {name}"))
    }

    /// A fresh directory under the farm's, for a source or a job's outputs.
    pub fn subdir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(name);
        std::fs::create_dir_all(&path)?;
        Ok(path)
    }

    /// Calls `f` on the leader: each try gives up after [`TRY_LIMIT`] (a replica that accepts
    /// a call and never answers must not hang the scenario), the call after [`CALL_LIMIT`].
    async fn leader_call<T, F, Fut>(&self, what: &str, f: F) -> anyhow::Result<T>
    where
        F: Fn(FarmChannel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut client = self.cluster.client();
        client.patience = CALL_LIMIT;
        let bounded = |channel| {
            let call = f(channel);
            async move { tokio::time::timeout(TRY_LIMIT, call).await.unwrap_or_else(|_| Err(Status::unavailable("no answer in time"))) }
        };
        match tokio::time::timeout(CALL_LIMIT + TRY_LIMIT, client.call(bounded)).await {
            Ok(answer) => answer.with_context(|| format!("{what} failed")),
            Err(_) => bail!("{what}: no answer within {CALL_LIMIT:?}"),
        }
    }

    pub async fn submit(&self, request_id: &str, spec: v1::JobSpec) -> anyhow::Result<String> {
        let request = SubmitJobRequest { request_id: request_id.to_owned(), spec: Some(spec), ..Default::default() };
        let response = self
            .leader_call("submit", |channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
            })
            .await?;
        Ok(response.job_id)
    }

    /// The job with its tasks, read through the leader.
    pub async fn job(&self, job_id: &str) -> anyhow::Result<v1::Job> {
        self.leader_call("get job", |channel| {
            let job_id = job_id.to_owned();
            async move { Ok(JobServiceClient::new(channel).get_job(GetJobRequest { job_id, include_tasks: true }).await?.into_inner()) }
        })
        .await
    }

    pub async fn nodes(&self) -> anyhow::Result<Vec<v1::Node>> {
        let listed = self
            .leader_call("list nodes", |channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner()) })
            .await?;
        Ok(listed.nodes)
    }

    /// The node an agent registered as.
    pub async fn node(&self, agent_name: &str) -> anyhow::Result<v1::Node> {
        self.nodes().await?.into_iter().find(|node| node.name == agent_name).with_context(|| format!("agent {agent_name} has not registered"))
    }

    /// Stops placing new tasks on an agent's node (`cordon`), or also lets its running tasks
    /// finish first (`drain`); returns the node as the leader left it.
    pub async fn cordon(&self, agent_name: &str, drain: bool) -> anyhow::Result<v1::Node> {
        self.leader_call(if drain { "drain" } else { "cordon" }, |channel| {
            let request = NodeRequest { node: agent_name.to_owned() };
            async move {
                let mut admin = AdminServiceClient::new(channel);
                let node = if drain { admin.drain_node(request).await? } else { admin.cordon_node(request).await? };
                Ok(node.into_inner())
            }
        })
        .await
    }

    /// Waits until every agent has registered and is ready.
    pub async fn wait_for_agents(&self, timeout: Duration) -> anyhow::Result<()> {
        let names: Vec<String> = self.agents.iter().map(|agent| agent.name.clone()).collect();
        wait_until(timeout, "every agent registered and ready", || async {
            self.nodes().await.is_ok_and(|nodes| {
                names.iter().all(|name| nodes.iter().any(|node| node.name == *name && node.state == v1::NodeState::Ready as i32))
            })
        })
        .await
    }

    /// Waits until the job has finished (succeeded, failed or cancelled) and returns it.
    pub async fn wait_for_job(&self, job_id: &str, timeout: Duration) -> anyhow::Result<v1::Job> {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(job_id).await?;
            let finished = [v1::JobState::Succeeded, v1::JobState::Failed, v1::JobState::Cancelled].iter().any(|state| job.state == *state as i32);
            if finished {
                return Ok(job);
            }
            if Instant::now() > deadline {
                bail!("job {job_id} did not finish within {timeout:?}: {} of {} tasks done", job.tasks_done, job.tasks_total);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// On `Err`, keeps the replicas' data dirs and logs, the agents' work dirs and logs, and
    /// the sources and outputs, and says where.
    pub fn keep_if_failed<T>(&mut self, outcome: &anyhow::Result<T>) {
        if outcome.is_ok() {
            return;
        }
        let replicas = self.cluster.keep();
        for agent in &mut self.agents {
            agent.keep();
        }
        if let Some(owned) = self.owned.take() {
            let _ = owned.keep();
        }
        eprintln!("[kept] replicas under {replicas:?}; agents, sources and outputs under {}", self.dir.display());
    }
}
