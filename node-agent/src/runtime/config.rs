//! Agent configuration: flags (and `SHOTFARM_*` variables through clap), validated.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shotfarm_proto::client::parse_addrs;

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
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AgentConfigError(pub String);

impl AgentConfig {
    pub fn new(schedulers: &str, work_dir: PathBuf, name: Option<String>, labels: &str) -> Result<AgentConfig, AgentConfigError> {
        let schedulers = parse_addrs(schedulers).map_err(|err| AgentConfigError(format!("--scheduler: {err}")))?;
        let name = match name {
            Some(name) => name,
            None => std::fs::read_to_string("/etc/hostname").map(|text| text.trim().to_owned()).unwrap_or_default(),
        };
        if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c)) {
            return Err(AgentConfigError(format!("--name {name:?}: use 1..=128 letters, digits and - _ . : @")));
        }
        let mut parsed = BTreeMap::new();
        for pair in labels.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| AgentConfigError(format!("--labels: {pair:?} is not key=value")))?;
            if key.is_empty() || key.len() > 64 || value.len() > 256 {
                return Err(AgentConfigError(format!("--labels: {pair:?}: keys are 1..=64 bytes, values at most 256")));
            }
            parsed.insert(key.to_owned(), value.to_owned());
        }
        std::fs::create_dir_all(&work_dir)
            .map_err(|err| AgentConfigError(format!("--work-dir {}: cannot create it: {err}", work_dir.display())))?;
        let probe = work_dir.join(".write-probe");
        std::fs::write(&probe, b"ok").map_err(|err| AgentConfigError(format!("--work-dir {}: not writable: {err}", work_dir.display())))?;
        let _ = std::fs::remove_file(probe);
        Ok(AgentConfig { schedulers, work_dir, name, labels: parsed, max_tasks: 0, cpu_cores: 0 })
    }
}
