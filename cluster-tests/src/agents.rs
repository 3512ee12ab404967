//! Real `shotfarm agent` processes on loopback, each with its own work directory (scratch,
//! job cache, result journal) and captured log.
//!
//! Each agent runs in its own process group, so that [`AgentProcess::kill`] (SIGKILL) and
//! [`AgentProcess::pause`] (SIGSTOP) reach the ffmpeg processes it started too, as when a
//! machine dies or freezes; signals go to the group of the pid this harness started, never
//! to a name. [`AgentProcess::terminate`] sends SIGTERM to the agent alone: its graceful
//! drain. [`AgentProcess::restart`] starts it again on the same work directory, where its
//! journal still holds results the scheduler has not acknowledged.
//!
//! [`Farm`] holds a scheduler cluster, its agents and a media directory together, and keeps
//! all their directories and logs when a scenario fails.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, GetJobRequest, ListNodesRequest, NodeRequest, SubmitJobRequest};

use crate::cluster::{SchedulerCluster, shotfarm_binary, wait_until};

/// How an agent is started.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    name: String,
    schedulers: Vec<String>,
    max_tasks: u32,
    labels: String,
    /// Where its work dir and log go; a fresh temp dir when `None`.
    parent: Option<PathBuf>,
}

impl AgentBuilder {
    /// Concurrent tasks at most (0: one per CPU, the agent's default).
    pub fn max_tasks(mut self, max_tasks: u32) -> AgentBuilder {
        self.max_tasks = max_tasks;
        self
    }

    /// Labels, `k=v,…`.
    pub fn labels(mut self, labels: &str) -> AgentBuilder {
        labels.clone_into(&mut self.labels);
        self
    }

    /// Puts the work dir (`<dir>/<name>`) and log (`<dir>/<name>.log`) under `dir`.
    pub fn under(mut self, dir: &Path) -> AgentBuilder {
        self.parent = Some(dir.to_path_buf());
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
    /// An agent named `name` that registers with `schedulers`.
    pub fn builder(name: &str, schedulers: &[String]) -> AgentBuilder {
        AgentBuilder { name: name.to_owned(), schedulers: schedulers.to_vec(), max_tasks: 0, labels: String::new(), parent: None }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
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
            .arg("--work-dir")
            .arg(&self.work_dir)
            .args(["--max-tasks", &self.builder.max_tasks.to_string()]);
        if !self.builder.labels.is_empty() {
            command.args(["--labels", &self.builder.labels]);
        }
        let child = command
            .env("SHOTFARM_LOG", std::env::var("SHOTFARM_LOG").unwrap_or_else(|_| "info".to_owned()))
            .env("NO_COLOR", "1")
            .env_remove("SHOTFARM_SCHEDULER")
            .env_remove("SHOTFARM_WORK_DIR")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Sends `signal` to the agent's process group (the agent and the tools it started).
    fn signal_group(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid().with_context(|| format!("agent {} is not running", self.name))?;
        let status = Command::new("kill").args([signal, "--", &format!("-{pid}")]).status()?;
        if !status.success() {
            bail!("kill {signal} -{pid} failed");
        }
        Ok(())
    }

    /// SIGKILL to the agent and everything it started, as when its machine dies.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if self.child.is_none() {
            return Ok(());
        }
        // The group may already be gone (the agent exited by itself): reap it either way.
        let signalled = self.signal_group("-KILL");
        if let Some(mut child) = self.child.take() {
            if signalled.is_err() {
                let _ = child.kill();
            }
            child.wait()?;
        }
        Ok(())
    }

    /// SIGSTOP to the agent and the tools it started: the machine freezes.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal_group("-STOP")
    }

    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal_group("-CONT")
    }

    /// SIGTERM to the agent alone (a graceful drain: running tasks finish and report), then
    /// waits up to `timeout` for it to exit; SIGKILL after that.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.pid().with_context(|| format!("agent {} is not running", self.name))?;
        let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
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
    /// Starts `replicas` schedulers (with `scheduler_args`) and one agent per name.
    pub fn start(replicas: u64, scheduler_args: &[&str], agent_names: &[&str]) -> anyhow::Result<Farm> {
        let cluster = SchedulerCluster::start(replicas, scheduler_args)?;
        let owned = tempfile::Builder::new().prefix("shotfarm-farm-").tempdir()?;
        let mut farm = Farm { cluster, agents: Vec::new(), dir: owned.path().to_path_buf(), owned: Some(owned) };
        for name in agent_names {
            farm.add_agent(AgentProcess::builder(name, &farm.cluster.addrs()))?;
        }
        Ok(farm)
    }

    /// Starts one more agent, its work dir and log under the farm's directory.
    pub fn add_agent(&mut self, builder: AgentBuilder) -> anyhow::Result<&mut AgentProcess> {
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

    /// A client that follows the leader among the replicas the farm started with.
    pub fn client(&self) -> LeaderClient {
        let mut client = LeaderClient::new(self.cluster.addrs());
        client.patience = Duration::from_secs(20);
        client
    }

    pub async fn submit(&self, request_id: &str, spec: v1::JobSpec) -> anyhow::Result<String> {
        let request = SubmitJobRequest { request_id: request_id.to_owned(), spec: Some(spec) };
        let response = self
            .client()
            .call(|channel| {
                let request = request.clone();
                async move { Ok(JobServiceClient::new(channel).submit_job(request).await?.into_inner()) }
            })
            .await?;
        Ok(response.job_id)
    }

    /// The job with its tasks, read through the leader.
    pub async fn job(&self, job_id: &str) -> anyhow::Result<v1::Job> {
        Ok(self
            .client()
            .call(|channel| {
                let job_id = job_id.to_owned();
                async move { Ok(JobServiceClient::new(channel).get_job(GetJobRequest { job_id, include_tasks: true }).await?.into_inner()) }
            })
            .await?)
    }

    pub async fn nodes(&self) -> anyhow::Result<Vec<v1::Node>> {
        Ok(self
            .client()
            .call(|channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner()) })
            .await?
            .nodes)
    }

    /// The node an agent registered as.
    pub async fn node(&self, agent_name: &str) -> anyhow::Result<v1::Node> {
        self.nodes().await?.into_iter().find(|node| node.name == agent_name).with_context(|| format!("agent {agent_name} has not registered"))
    }

    /// Stops placing new tasks on an agent's node (`cordon`), or also lets its running tasks
    /// finish first (`drain`); returns the node as the leader left it.
    pub async fn cordon(&self, agent_name: &str, drain: bool) -> anyhow::Result<v1::Node> {
        Ok(self
            .client()
            .call(|channel| {
                let request = NodeRequest { node: agent_name.to_owned() };
                async move {
                    let mut admin = AdminServiceClient::new(channel);
                    let node = if drain { admin.drain_node(request).await? } else { admin.cordon_node(request).await? };
                    Ok(node.into_inner())
                }
            })
            .await?)
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
