//! Scheduler configuration: a typed struct that validates itself, read from a TOML file
//! (`deny_unknown_fields`), then `SHOTFARM_*` environment variables, then flags — each layer
//! overriding the one before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use shotfarm_security::{TlsFiles, TransportSecurity};

use crate::callbacks::CallbackEndpoints;
use crate::consensus::member_addr::check_member_addr;
use shotfarm_proto::storage::JobRoots;

/// One layer of settings: every field optional, so layers can be merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    pub id: Option<u64>,
    /// Address to listen on (`HOST:PORT`).
    pub listen: Option<String>,
    /// Address of the HTTP listener (`/metrics`), `HOST:PORT`; none: no HTTP listener.
    pub http_listen: Option<String>,
    /// Initial members, `1=HOST:PORT,2=HOST:PORT,…`: the same on every initial replica.
    pub peers: Option<String>,
    /// Where to dial some peers instead of their member address, `ID=HOST:PORT,…`: a
    /// proxy or NAT between this replica and that one (`--route`).
    pub routes: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Start empty and wait to be added with `shotfarm cluster add` (no `peers`).
    pub join: Option<bool>,
    pub tick_ms: Option<u64>,
    pub election_ticks: Option<usize>,
    pub heartbeat_ticks: Option<usize>,
    pub heartbeat_interval_ms: Option<u32>,
    pub node_timeout_ms: Option<u64>,
    pub lease_timeout_ms: Option<u64>,
    pub snapshot_every: Option<u64>,
    /// Write the audit trail of the applied stream under this directory (tests).
    pub audit: Option<PathBuf>,
    /// The farm CA, this replica's certificate (`shotfarm://replica/ID`) and its key.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Plaintext and no authentication: only on a trusted network, and said out loud.
    pub insecure: Option<bool>,
    /// Open gRPC connections at most (clients, agents and peers together); more are closed.
    pub max_connections: Option<usize>,
    /// A connection that sends nothing for this long is closed (live peers answer pings).
    pub idle_timeout_ms: Option<u64>,
    /// Requests a second each client (operator, submitter; an anonymous one by its IP) may
    /// make, with bursts of twice that; more are `RESOURCE_EXHAUSTED`.
    pub client_requests_per_second: Option<u32>,
    /// Jobs pending or running a submitter may have at once; more are `RESOURCE_EXHAUSTED`.
    pub submitter_jobs_in_flight: Option<u32>,
    /// URL roots jobs may read from, comma-separated (`--allow-input`); none: every job is refused.
    pub allow_input: Option<String>,
    /// URL roots jobs may write to, comma-separated (`--allow-output`); none: every job is refused.
    pub allow_output: Option<String>,
    /// Where job callbacks may go and what signs them, `URL_PREFIX=SECRET_FILE,…`
    /// (`--callback-endpoint`); none: jobs with a callback URL are refused.
    pub callback_endpoints: Option<String>,
}

macro_rules! merge_fields {
    ($base:ident, $over:ident, $($field:ident),*) => { $( if $over.$field.is_some() { $base.$field = $over.$field; } )* };
}

impl SchedulerSettings {
    /// Reads a TOML file; unknown keys are an error.
    pub fn from_file(path: &Path) -> Result<SchedulerSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError(format!("cannot read config file {}: {err}", path.display())))?;
        toml::from_str(&text).map_err(|err| ConfigError(format!("config file {}: {err}", path.display())))
    }

    /// Reads `SHOTFARM_ID`, `SHOTFARM_LISTEN`, `SHOTFARM_PEERS`, `SHOTFARM_DATA_DIR`, … from
    /// `vars` (the process environment in production).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<SchedulerSettings, ConfigError> {
        let mut settings = SchedulerSettings::default();
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("SHOTFARM_") else { continue };
            let number = |value: &str| value.parse::<u64>().map_err(|_| ConfigError(format!("{key}={value:?} is not a number")));
            match name {
                "ID" => settings.id = Some(number(&value)?),
                "LISTEN" => settings.listen = Some(value),
                "HTTP_LISTEN" => settings.http_listen = Some(value),
                "PEERS" => settings.peers = Some(value),
                "ROUTES" => settings.routes = Some(value),
                "DATA_DIR" => settings.data_dir = Some(PathBuf::from(value)),
                "JOIN" => settings.join = Some(matches!(value.as_str(), "1" | "true" | "yes")),
                "TICK_MS" => settings.tick_ms = Some(number(&value)?),
                "NODE_TIMEOUT_MS" => settings.node_timeout_ms = Some(number(&value)?),
                "LEASE_TIMEOUT_MS" => settings.lease_timeout_ms = Some(number(&value)?),
                "SNAPSHOT_EVERY" => settings.snapshot_every = Some(number(&value)?),
                "AUDIT" => settings.audit = Some(PathBuf::from(value)),
                "CA" => settings.ca = Some(PathBuf::from(value)),
                "CERT" => settings.cert = Some(PathBuf::from(value)),
                "KEY" => settings.key = Some(PathBuf::from(value)),
                "INSECURE" => settings.insecure = Some(matches!(value.as_str(), "1" | "true" | "yes")),
                "MAX_CONNECTIONS" => settings.max_connections = Some(number(&value)? as usize),
                "IDLE_TIMEOUT_MS" => settings.idle_timeout_ms = Some(number(&value)?),
                "CLIENT_REQUESTS_PER_SECOND" => settings.client_requests_per_second = Some(number(&value)?.min(u64::from(u32::MAX)) as u32),
                "SUBMITTER_JOBS_IN_FLIGHT" => settings.submitter_jobs_in_flight = Some(number(&value)?.min(u64::from(u32::MAX)) as u32),
                "ALLOW_INPUT" => settings.allow_input = Some(value),
                "ALLOW_OUTPUT" => settings.allow_output = Some(value),
                "CALLBACK_ENDPOINTS" => settings.callback_endpoints = Some(value),
                _ => {}
            }
        }
        Ok(settings)
    }

    /// `over` wins where it has a value.
    pub fn merge(mut self, over: SchedulerSettings) -> SchedulerSettings {
        merge_fields!(self, over, id, listen, http_listen, peers, routes, data_dir, join, tick_ms, election_ticks, heartbeat_ticks,
            heartbeat_interval_ms, node_timeout_ms, lease_timeout_ms, snapshot_every, audit, ca, cert, key, insecure, max_connections,
            idle_timeout_ms, allow_input, allow_output, callback_endpoints, client_requests_per_second, submitter_jobs_in_flight);
        self
    }

    pub fn validate(self) -> Result<SchedulerConfig, ConfigError> {
        let id = self.id.ok_or_else(|| ConfigError("--id is required (this replica's number, 1 or more)".to_owned()))?;
        if id == 0 {
            return Err(ConfigError("--id must be 1 or more".to_owned()));
        }
        let listen_text = self.listen.ok_or_else(|| ConfigError("--listen HOST:PORT is required".to_owned()))?;
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| ConfigError(format!("--listen {listen_text:?} is not HOST:PORT with a numeric host (e.g. 127.0.0.1:7001)")))?;
        let http_listen = match self.http_listen.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                ConfigError(format!("--http-listen {text:?} is not HOST:PORT with a numeric host (e.g. 127.0.0.1:9464)"))
            })?),
        };
        if http_listen.is_some_and(|http| http == listen) {
            return Err(ConfigError(format!("--http-listen {listen} is the gRPC --listen address; give the HTTP listener a port of its own")));
        }
        let join = self.join.unwrap_or(false);
        let peers = match (self.peers.as_deref(), join) {
            (Some(_), true) => return Err(ConfigError("--join and --peers exclude each other: a joining replica learns its peers from the group".to_owned())),
            (Some(text), false) => parse_peers(text)?,
            (None, true) => BTreeMap::new(),
            (None, false) => BTreeMap::from([(id, listen_text.clone())]),
        };
        if !join && !peers.contains_key(&id) {
            return Err(ConfigError(format!("--peers does not list this replica's id {id}; add {id}={listen_text}")));
        }
        let routes = match self.routes.as_deref() {
            Some(text) => parse_routes(text, id)?,
            None => BTreeMap::new(),
        };
        let data_dir = self.data_dir.ok_or_else(|| ConfigError("--data-dir DIR is required".to_owned()))?;
        let tick = Duration::from_millis(self.tick_ms.unwrap_or(50));
        if !(Duration::from_millis(5)..=Duration::from_secs(5)).contains(&tick) {
            return Err(ConfigError(format!("tick_ms {} is outside 5..=5000", tick.as_millis())));
        }
        let election_ticks = self.election_ticks.unwrap_or(10);
        let heartbeat_ticks = self.heartbeat_ticks.unwrap_or(2);
        if heartbeat_ticks == 0 || election_ticks <= heartbeat_ticks {
            return Err(ConfigError(format!("election_ticks ({election_ticks}) must exceed heartbeat_ticks ({heartbeat_ticks}) > 0")));
        }
        let heartbeat_interval_ms = self.heartbeat_interval_ms.unwrap_or(500);
        let node_timeout = Duration::from_millis(self.node_timeout_ms.unwrap_or(2000));
        let lease_timeout = Duration::from_millis(self.lease_timeout_ms.unwrap_or(4000));
        if node_timeout < Duration::from_millis(u64::from(heartbeat_interval_ms) * 2) {
            return Err(ConfigError(format!(
                "node_timeout_ms {} must be at least twice heartbeat_interval_ms {heartbeat_interval_ms}",
                node_timeout.as_millis()
            )));
        }
        if lease_timeout < node_timeout {
            return Err(ConfigError("lease_timeout_ms must be at least node_timeout_ms".to_owned()));
        }
        let files = TlsFiles { ca: self.ca, cert: self.cert, key: self.key };
        let transport = TransportSecurity::from_flags(&files, self.insecure.unwrap_or(false), true).map_err(|err| ConfigError(err.to_string()))?;
        if let Some(identity) = transport.identity()
            && identity.replica_id() != Some(id)
        {
            return Err(ConfigError(format!(
                "--cert is the certificate of {identity}; replica {id} needs one for replica/{id} \
                 (`shotfarm certs issue --role replica --name {id} --host HOST`)"
            )));
        }
        let snapshot_every = self.snapshot_every.unwrap_or(10_000);
        if snapshot_every < 10 {
            return Err(ConfigError(format!("snapshot_every {snapshot_every} is below 10")));
        }
        let client_requests_per_second = self.client_requests_per_second.unwrap_or(1000);
        let submitter_jobs_in_flight = self.submitter_jobs_in_flight.unwrap_or(1000);
        if client_requests_per_second == 0 || submitter_jobs_in_flight == 0 {
            return Err(ConfigError("client_requests_per_second and submitter_jobs_in_flight must be 1 or more".to_owned()));
        }
        let max_connections = self.max_connections.unwrap_or(4096);
        if max_connections < 4 {
            return Err(ConfigError(format!("max_connections {max_connections} is below 4; a replica needs room for its peers, agents and clients")));
        }
        let idle_timeout = Duration::from_millis(self.idle_timeout_ms.unwrap_or(60_000));
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&idle_timeout) {
            return Err(ConfigError(format!("idle_timeout_ms {} is outside 1000..=3600000", idle_timeout.as_millis())));
        }
        let roots = JobRoots::parse(self.allow_input.as_deref(), self.allow_output.as_deref()).map_err(|error| ConfigError(error.to_string()))?;
        let callbacks = CallbackEndpoints::parse(self.callback_endpoints.as_deref()).map_err(ConfigError)?;
        Ok(SchedulerConfig {
            id,
            listen,
            http_listen,
            advertise: peers.get(&id).cloned().unwrap_or(listen_text),
            peers,
            routes,
            data_dir,
            join,
            tick,
            election_ticks,
            heartbeat_ticks,
            heartbeat_interval_ms,
            node_timeout,
            lease_timeout,
            snapshot_every,
            audit: self.audit,
            transport,
            max_connections,
            idle_timeout,
            client_requests_per_second,
            submitter_jobs_in_flight,
            roots,
            callbacks,
        })
    }
}

/// `1=HOST:PORT,2=HOST:PORT`.
pub fn parse_peers(text: &str) -> Result<BTreeMap<u64, String>, ConfigError> {
    let mut peers = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let (id, addr) = part.split_once('=').ok_or_else(|| ConfigError(format!("peer {part:?} is not ID=HOST:PORT")))?;
        let id: u64 = id.trim().parse().map_err(|_| ConfigError(format!("peer {part:?}: {id:?} is not a replica id")))?;
        let addr = addr.trim();
        if id == 0 {
            return Err(ConfigError(format!("peer {part:?}: ids start at 1")));
        }
        check_member_addr(addr).map_err(|why| ConfigError(format!("peer {part:?}: {why}")))?;
        if peers.insert(id, addr.to_owned()).is_some() {
            return Err(ConfigError(format!("peer id {id} is listed twice")));
        }
    }
    if peers.is_empty() {
        return Err(ConfigError("--peers is empty; give ID=HOST:PORT,…".to_owned()));
    }
    Ok(peers)
}

/// `--route 2=HOST:PORT,3=HOST:PORT`: dial replica 2 and 3 at these addresses (a proxy or
/// NAT) instead of their member addresses. A replica never dials itself, so its own id is
/// refused; ids not (yet) in the membership are allowed, for replicas that join later.
pub fn parse_routes(text: &str, own_id: u64) -> Result<BTreeMap<u64, String>, ConfigError> {
    let mut routes = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let (id, addr) = part.split_once('=').ok_or_else(|| ConfigError(format!("--route {part:?} is not ID=HOST:PORT (reach replica ID through HOST:PORT)")))?;
        let id: u64 = id.trim().parse().map_err(|_| ConfigError(format!("--route {part:?}: {id:?} is not a replica id")))?;
        let addr = addr.trim();
        if id == 0 {
            return Err(ConfigError(format!("--route {part:?}: ids start at 1")));
        }
        check_member_addr(addr).map_err(|why| ConfigError(format!("--route {part:?}: {why}")))?;
        if id == own_id {
            return Err(ConfigError(format!("--route {part:?} names this replica ({own_id}); a replica never dials itself, drop it")));
        }
        if routes.insert(id, addr.to_owned()).is_some() {
            return Err(ConfigError(format!("--route lists replica {id} twice; give one address per replica")));
        }
    }
    Ok(routes)
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub id: u64,
    pub listen: SocketAddr,
    /// The HTTP listener (`/metrics`), if any.
    pub http_listen: Option<SocketAddr>,
    /// The address peers, agents and clients reach this replica at (its entry in `peers`).
    pub advertise: String,
    pub peers: BTreeMap<u64, String>,
    /// Peers dialled somewhere other than their member address (`--route`); leader hints
    /// and the membership still name the member address.
    pub routes: BTreeMap<u64, String>,
    pub data_dir: PathBuf,
    pub join: bool,
    pub tick: Duration,
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    pub heartbeat_interval_ms: u32,
    pub node_timeout: Duration,
    pub lease_timeout: Duration,
    pub snapshot_every: u64,
    /// Where the audit trail goes (`shotfarm_scheduler::audit`), when asked for.
    pub audit: Option<PathBuf>,
    /// TLS with this replica's certificate, or `--insecure`.
    pub transport: TransportSecurity,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub client_requests_per_second: u32,
    pub submitter_jobs_in_flight: u32,
    /// Where jobs may read and write; a job naming anything else is refused at submission.
    pub roots: JobRoots,
    /// Where job callbacks may go, and the secret that signs each endpoint's.
    pub callbacks: CallbackEndpoints,
}

/// A configuration problem: the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(id: u64, peers: &str) -> SchedulerSettings {
        SchedulerSettings {
            id: Some(id),
            listen: Some("127.0.0.1:7001".into()),
            peers: Some(peers.into()),
            data_dir: Some("/tmp/x".into()),
            insecure: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn layers_override_in_order() {
        let file: SchedulerSettings = toml::from_str("id = 1\nlisten = \"127.0.0.1:1\"\ndata_dir = \"/d\"\ntick_ms = 20").expect("parses");
        let env = SchedulerSettings::from_env([("SHOTFARM_LISTEN".to_owned(), "127.0.0.1:2".to_owned())]).expect("env");
        let flags = SchedulerSettings { listen: Some("127.0.0.1:3".into()), insecure: Some(true), ..Default::default() };
        let config = file.merge(env).merge(flags).validate().expect("valid");
        assert_eq!(config.listen.port(), 3);
        assert_eq!(config.tick, Duration::from_millis(20));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<SchedulerSettings>("idd = 1").is_err());
    }

    #[test]
    fn bad_values_say_what_to_do() {
        let error = flags(4, "1=127.0.0.1:7001,2=127.0.0.1:7002").validate().expect_err("id not in peers");
        assert!(error.0.contains("add 4="), "{error}");
        assert!(parse_peers("1=127.0.0.1").is_err());
        assert!(parse_peers("x=127.0.0.1:1").is_err());
        assert!(parse_peers("1=a:1,1=b:2").is_err());
        assert!(SchedulerSettings::from_env([("SHOTFARM_ID".to_owned(), "one".to_owned())]).is_err());
        let mut settings = flags(1, "1=127.0.0.1:7001");
        settings.listen = Some("localhost".into());
        assert!(settings.validate().is_err());
    }

    #[test]
    fn routes_name_other_replicas_once_each() {
        let mut settings = flags(1, "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003");
        settings.routes = Some("2=127.0.0.1:9002, 3=127.0.0.1:9003".into());
        let config = settings.clone().validate().expect("valid routes");
        assert_eq!(config.routes.get(&2).map(String::as_str), Some("127.0.0.1:9002"));
        assert_eq!(config.peers.get(&2).map(String::as_str), Some("127.0.0.1:7002"), "the member address stays");
        for (bad, says) in [("1=127.0.0.1:9001", "never dials itself"), ("2=127.0.0.1:1,2=127.0.0.1:2", "twice"), ("2", "ID=HOST:PORT"), ("x=a:1", "not a replica id"), ("2=nope", "HOST:PORT")] {
            settings.routes = Some(bad.into());
            let error = settings.clone().validate().expect_err(bad);
            assert!(error.0.contains(says), "{bad}: {error}");
        }
        let env = SchedulerSettings::from_env([("SHOTFARM_ROUTES".to_owned(), "2=127.0.0.1:9".to_owned())]).expect("env");
        assert_eq!(env.routes.as_deref(), Some("2=127.0.0.1:9"));
    }

    #[test]
    fn the_http_listener_is_optional_layered_and_checked() {
        assert_eq!(flags(1, "1=127.0.0.1:7001").validate().expect("valid").http_listen, None);
        let file: SchedulerSettings = toml::from_str("http_listen = \"127.0.0.1:9464\"").expect("parses");
        let env = SchedulerSettings::from_env([("SHOTFARM_HTTP_LISTEN".to_owned(), "127.0.0.1:9465".to_owned())]).expect("env");
        let config = file.clone().merge(flags(1, "1=127.0.0.1:7001")).validate().expect("valid");
        assert_eq!(config.http_listen.map(|addr| addr.port()), Some(9464));
        let config = file.merge(env).merge(flags(1, "1=127.0.0.1:7001")).validate().expect("valid");
        assert_eq!(config.http_listen.map(|addr| addr.port()), Some(9465));
        for (bad, says) in [("localhost:9464", "numeric host"), ("127.0.0.1:7001", "port of its own")] {
            let mut settings = flags(1, "1=127.0.0.1:7001");
            settings.http_listen = Some(bad.into());
            let error = settings.validate().expect_err(bad);
            assert!(error.0.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn storage_roots_layer_and_default_to_none() {
        let config = flags(1, "1=127.0.0.1:7001").validate().expect("valid");
        assert!(config.roots.input.is_empty() && config.roots.output.is_empty(), "no roots unless configured");
        let file: SchedulerSettings = toml::from_str("allow_input = \"file:///from/file\"\nallow_output = \"file:///out\"").expect("parses");
        let env = SchedulerSettings::from_env([("SHOTFARM_ALLOW_INPUT".to_owned(), "file:///media/in/, s3://bucket/in".to_owned())]).expect("env");
        let config = file.merge(env).merge(flags(1, "1=127.0.0.1:7001")).validate().expect("valid");
        assert_eq!(config.roots.input.to_string(), "file:///media/in,s3://bucket/in");
        assert_eq!(config.roots.output.to_string(), "file:///out");
        let mut bad = flags(1, "1=127.0.0.1:7001");
        bad.allow_output = Some("file:///out/../etc".into());
        let error = bad.validate().expect_err("a root climbing out");
        assert!(error.0.starts_with("--allow-output root"), "{error}");
    }
}
