//! Agent configuration, layered like the scheduler's: a TOML file (`--config`,
//! `deny_unknown_fields`), then `SHOTFARM_*` environment variables, then flags — each layer
//! overriding the one before — validated into an [`AgentConfig`].
//!
//! ```toml
//! scheduler = "10.0.0.1:7001,10.0.0.2:7001,10.0.0.3:7001"
//! work_dir = "/var/cache/shotfarm"
//! name = "encoder-17"
//! max_tasks = 16
//! ca = "/etc/shotfarm/ca.pem"
//! cert = "/etc/shotfarm/agent-encoder-17.pem"
//! key = "/etc/shotfarm/agent-encoder-17.key"
//! allow_input = "file:///media/in,s3://bucket/in"
//! allow_output = "file:///media/out"
//! metrics_listen = "10.0.0.17:9465"
//! [labels]
//! rack = "b4"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use shotfarm_proto::client::parse_addrs;
use shotfarm_security::identity::valid_name;
use shotfarm_security::{Credentials, Role, TlsFiles, TransportSecurity};
use shotfarm_proto::storage::JobRoots;

/// One layer of settings: every field optional, so layers can be merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Scheduler replicas, `HOST:PORT[,HOST:PORT…]`.
    pub scheduler: Option<String>,
    /// Scratch space, the job cache and the result journal.
    pub work_dir: Option<PathBuf>,
    /// Stable node name: re-registering under it keeps the node's id (default: the hostname).
    pub name: Option<String>,
    /// Labels the scheduler may place by; a later layer replaces the whole set.
    pub labels: Option<BTreeMap<String, String>>,
    /// Concurrent tasks at most (0: [`super::registration::TASKS_PER_CORE`] per core).
    pub max_tasks: Option<u32>,
    /// The farm CA, this agent's certificate (`shotfarm://agent/NAME`) and its key.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Plaintext and no authentication: only on a trusted network, and said out loud.
    pub insecure: Option<bool>,
    /// URL roots tasks may read inputs from, comma-separated; none: every task is refused.
    pub allow_input: Option<String>,
    /// URL roots tasks may write outputs to, comma-separated; none: every task is refused.
    pub allow_output: Option<String>,
    /// Address to serve `/metrics` on (`HOST:PORT`); none: no metrics listener.
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub schedulers: Vec<String>,
    pub work_dir: PathBuf,
    /// Stable node name: re-registering under it keeps the node's id.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Concurrent tasks at most (0: [`super::registration::TASKS_PER_CORE`] per core).
    pub max_tasks: u32,
    /// Advertised CPU cores (0: probe). Lets several agents share one machine in tests.
    pub cpu_cores: u32,
    /// TLS with this agent's certificate (its name is the node name), or `--insecure`.
    pub credentials: Credentials,
    /// Where tasks may read and write: checked again here whatever the scheduler accepted.
    pub roots: JobRoots,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AgentConfigError(pub String);

impl AgentSettings {
    /// Reads a TOML file; unknown keys are an error.
    pub fn from_file(path: &Path) -> Result<AgentSettings, AgentConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|err| AgentConfigError(format!("cannot read config file {}: {err}", path.display())))?;
        toml::from_str(&text).map_err(|err| AgentConfigError(format!("config file {}: {err}", path.display())))
    }

    /// Reads `SHOTFARM_SCHEDULER`, `SHOTFARM_WORK_DIR`, `SHOTFARM_NAME`, `SHOTFARM_LABELS`
    /// (`k=v,…`), `SHOTFARM_MAX_TASKS`, `SHOTFARM_ALLOW_INPUT` and `SHOTFARM_ALLOW_OUTPUT` from
    /// `vars` (the process environment in production).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<AgentSettings, AgentConfigError> {
        let mut settings = AgentSettings::default();
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("SHOTFARM_") else { continue };
            match name {
                "SCHEDULER" => settings.scheduler = Some(value),
                "WORK_DIR" => settings.work_dir = Some(PathBuf::from(value)),
                "NAME" => settings.name = Some(value),
                "ALLOW_INPUT" => settings.allow_input = Some(value),
                "ALLOW_OUTPUT" => settings.allow_output = Some(value),
                "LABELS" => settings.labels = Some(parse_labels(&value).map_err(|err| AgentConfigError(format!("{key}: {err}")))?),
                "MAX_TASKS" => {
                    let tasks = value.parse().map_err(|_| AgentConfigError(format!("{key}={value:?} is not a number")))?;
                    settings.max_tasks = Some(tasks);
                }
                "CA" => settings.ca = Some(PathBuf::from(value)),
                "CERT" => settings.cert = Some(PathBuf::from(value)),
                "KEY" => settings.key = Some(PathBuf::from(value)),
                "METRICS_LISTEN" => settings.metrics_listen = Some(value),
                "INSECURE" => settings.insecure = Some(matches!(value.as_str(), "1" | "true" | "yes")),
                _ => {}
            }
        }
        Ok(settings)
    }

    /// `over` wins where it has a value.
    pub fn merge(self, over: AgentSettings) -> AgentSettings {
        AgentSettings {
            scheduler: over.scheduler.or(self.scheduler),
            work_dir: over.work_dir.or(self.work_dir),
            name: over.name.or(self.name),
            labels: over.labels.or(self.labels),
            max_tasks: over.max_tasks.or(self.max_tasks),
            ca: over.ca.or(self.ca),
            cert: over.cert.or(self.cert),
            key: over.key.or(self.key),
            insecure: over.insecure.or(self.insecure),
            allow_input: over.allow_input.or(self.allow_input),
            allow_output: over.allow_output.or(self.allow_output),
            metrics_listen: over.metrics_listen.or(self.metrics_listen),
        }
    }

    /// Checks every value and prepares the work directory (created, and proved writable).
    pub fn validate(self) -> Result<AgentConfig, AgentConfigError> {
        let scheduler = self.scheduler.ok_or_else(|| {
            AgentConfigError("--scheduler HOST:PORT[,HOST:PORT…] is required (or `scheduler` in the config file, or SHOTFARM_SCHEDULER)".to_owned())
        })?;
        let schedulers = parse_addrs(&scheduler).map_err(|err| AgentConfigError(format!("--scheduler: {err}")))?;
        let work_dir = self
            .work_dir
            .ok_or_else(|| AgentConfigError("--work-dir DIR is required (or `work_dir` in the config file, or SHOTFARM_WORK_DIR)".to_owned()))?;
        let files = TlsFiles { ca: self.ca, cert: self.cert, key: self.key };
        let transport = TransportSecurity::from_flags(&files, self.insecure.unwrap_or(false), true).map_err(|err| AgentConfigError(err.to_string()))?;
        let certified = match transport.identity() {
            Some(identity) if identity.role != Role::Agent => {
                return Err(AgentConfigError(format!(
                    "--cert is the certificate of {identity}; an agent needs an agent certificate (`shotfarm certs issue --role agent --name NAME`)"
                )));
            }
            identity => identity.map(|identity| identity.name.clone()),
        };
        // The certificate names the node; a different --name would be refused by the scheduler.
        let name = match (self.name, certified) {
            (Some(name), Some(certified)) if name != certified => {
                return Err(AgentConfigError(format!(
                    "--name {name:?} but the certificate is for node {certified:?}: drop --name, or use that node's certificate"
                )));
            }
            (Some(name), _) => name,
            (None, Some(certified)) => certified,
            (None, None) => std::fs::read_to_string("/etc/hostname").map(|text| text.trim().to_owned()).unwrap_or_default(),
        };
        if !valid_name(&name) {
            return Err(AgentConfigError(format!("--name {name:?}: use 1..=128 letters, digits and - _ . : @")));
        }
        let labels = self.labels.unwrap_or_default();
        for (key, value) in &labels {
            check_label(key, value).map_err(|err| AgentConfigError(format!("--labels: {err}")))?;
        }
        std::fs::create_dir_all(&work_dir)
            .map_err(|err| AgentConfigError(format!("--work-dir {}: cannot create it: {err}", work_dir.display())))?;
        let probe = work_dir.join(".write-probe");
        std::fs::write(&probe, b"ok").map_err(|err| AgentConfigError(format!("--work-dir {}: not writable: {err}", work_dir.display())))?;
        let _ = std::fs::remove_file(probe);
        let roots = JobRoots::parse(self.allow_input.as_deref(), self.allow_output.as_deref()).map_err(|err| AgentConfigError(err.to_string()))?;
        let metrics_listen = match self.metrics_listen.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                AgentConfigError(format!("--metrics-listen {text:?} is not HOST:PORT with a numeric host (e.g. 127.0.0.1:9465)"))
            })?),
        };
        Ok(AgentConfig {
            schedulers,
            work_dir,
            name,
            labels,
            max_tasks: self.max_tasks.unwrap_or(0),
            cpu_cores: 0,
            roots,
            metrics_listen,
            credentials: Credentials::new(transport, None).map_err(|err| AgentConfigError(err.to_string()))?,
        })
    }
}

/// Parses `k=v,k=v` (blank entries skipped).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not key=value"))?;
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(labels)
}

fn check_label(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 64 || value.len() > 256 {
        return Err(format!("{key}={value}: keys are 1..=64 bytes, values at most 256"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(dir: &Path) -> AgentSettings {
        AgentSettings {
            scheduler: Some("127.0.0.1:7001".to_owned()),
            work_dir: Some(dir.join("work")),
            name: Some("a1".to_owned()),
            insecure: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn layers_override_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file_path = dir.path().join("agent.toml");
        std::fs::write(&file_path, "scheduler = \"127.0.0.1:1\"\nname = \"from-file\"\nmax_tasks = 3\n[labels]\nrack = \"b4\"\n")?;
        let file = AgentSettings::from_file(&file_path)?;
        let env = AgentSettings::from_env([
            ("SHOTFARM_SCHEDULER".to_owned(), "127.0.0.1:2".to_owned()),
            ("SHOTFARM_MAX_TASKS".to_owned(), "5".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ])?;
        let flags = AgentSettings { work_dir: Some(dir.path().join("work")), max_tasks: Some(7), insecure: Some(true), ..Default::default() };
        let config = file.merge(env).merge(flags).validate()?;
        assert_eq!(config.schedulers, vec!["127.0.0.1:2".to_owned()]);
        assert_eq!(config.name, "from-file");
        assert_eq!(config.max_tasks, 7);
        assert_eq!(config.labels, BTreeMap::from([("rack".to_owned(), "b4".to_owned())]));
        assert!(config.work_dir.is_dir());
        assert_eq!(config.metrics_listen, None);
        let file: AgentSettings = toml::from_str("metrics_listen = \"127.0.0.1:9465\"")?;
        let env = AgentSettings::from_env([("SHOTFARM_METRICS_LISTEN".to_owned(), "127.0.0.1:9466".to_owned())])?;
        assert_eq!(file.clone().merge(at(dir.path())).validate()?.metrics_listen.map(|addr| addr.port()), Some(9465));
        assert_eq!(file.merge(env).merge(at(dir.path())).validate()?.metrics_listen.map(|addr| addr.port()), Some(9466));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, "schedulers = \"127.0.0.1:1\"\n")?;
        let err = AgentSettings::from_file(&path).err().map(|err| err.0).unwrap_or_default();
        assert!(err.contains("unknown field `schedulers`"), "{err}");
        Ok(())
    }

    #[test]
    fn bad_values_say_what_to_do() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("file");
        std::fs::write(&file, "x")?;
        let cases = [
            (AgentSettings { scheduler: None, ..at(dir.path()) }, "--scheduler HOST:PORT"),
            (AgentSettings { scheduler: Some("nohost".to_owned()), ..at(dir.path()) }, "--scheduler"),
            (AgentSettings { work_dir: None, ..at(dir.path()) }, "--work-dir DIR is required"),
            (AgentSettings { work_dir: Some(file.join("below")), ..at(dir.path()) }, "cannot create it"),
            (AgentSettings { name: Some("a b".to_owned()), ..at(dir.path()) }, "--name"),
            (AgentSettings { labels: Some(BTreeMap::from([(String::new(), "x".to_owned())])), ..at(dir.path()) }, "--labels"),
            (AgentSettings { metrics_listen: Some("localhost:9465".to_owned()), ..at(dir.path()) }, "--metrics-listen"),
        ];
        for (settings, expected) in cases {
            let err = settings.validate().err().map(|err| err.0).unwrap_or_default();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        }
        let env = AgentSettings::from_env([("SHOTFARM_MAX_TASKS".to_owned(), "many".to_owned())]).err().map(|err| err.0).unwrap_or_default();
        assert!(env.contains("SHOTFARM_MAX_TASKS=\"many\" is not a number"), "{env}");
        let labels = AgentSettings::from_env([("SHOTFARM_LABELS".to_owned(), "rack".to_owned())]).err().map(|err| err.0).unwrap_or_default();
        assert!(labels.contains("\"rack\" is not key=value"), "{labels}");
        let roots = AgentSettings { allow_input: Some("file:///in/%2e%2e".to_owned()), ..at(dir.path()) }.validate().err().map(|err| err.0).unwrap_or_default();
        assert!(roots.starts_with("--allow-input root"), "{roots}");
        Ok(())
    }

    #[test]
    fn storage_roots_layer_and_default_to_none() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let config = at(dir.path()).validate()?;
        assert!(config.roots.input.is_empty() && config.roots.output.is_empty(), "no roots unless configured");
        let file: AgentSettings = toml::from_str("allow_input = \"file:///file/in\"\nallow_output = \"file:///file/out\"")?;
        let env = AgentSettings::from_env([("SHOTFARM_ALLOW_OUTPUT".to_owned(), "file:///env/out".to_owned())])?;
        let config = file.merge(env).merge(at(dir.path())).validate()?;
        assert_eq!((config.roots.input.to_string(), config.roots.output.to_string()), ("file:///file/in".to_owned(), "file:///env/out".to_owned()));
        Ok(())
    }
}
