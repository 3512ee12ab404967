//! A client that finds and follows the leader: clients and agents give it every replica's
//! address; it calls the one that last answered, follows "not the leader" hints, and tries
//! the others when one is unreachable, for a bounded time. Every channel carries the
//! caller's [`Credentials`]: TLS (verifying the replica against the farm CA, presenting the
//! caller's certificate when it has one) and a bearer token when it has one.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shotfarm_security::Credentials;
use shotfarm_security::credentials::BearerInterceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::leader_hint;

/// Parses `HOST:PORT[,HOST:PORT…]`.
pub fn parse_addrs(text: &str) -> Result<Vec<String>, String> {
    let addrs: Vec<String> = text.split(',').map(str::trim).filter(|addr| !addr.is_empty()).map(str::to_owned).collect();
    if addrs.is_empty() {
        return Err("no scheduler address given; use HOST:PORT[,HOST:PORT…]".to_owned());
    }
    for addr in &addrs {
        let valid = addr.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0));
        if !valid || addr.contains('/') {
            return Err(format!("scheduler address {addr:?} is not HOST:PORT"));
        }
    }
    Ok(addrs)
}

/// A channel to a replica that presents the caller's credentials on every call.
pub type FarmChannel = InterceptedService<Channel, BearerInterceptor>;

/// A lazily connected channel to `addr`.
pub fn channel(addr: &str, credentials: &Credentials) -> Result<FarmChannel, Status> {
    let endpoint = credentials.transport.endpoint(addr).map_err(|err| Status::invalid_argument(format!("bad scheduler address {addr:?}: {err}")))?;
    let channel = endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        // A replica cut off by the network (not closed) is noticed within about
        // 4 s even on an idle connection, e.g. an agent's session stream.
        .http2_keep_alive_interval(Duration::from_secs(2))
        .keep_alive_timeout(Duration::from_secs(2))
        .keep_alive_while_idle(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, credentials.interceptor()))
}

pub struct LeaderClient {
    addrs: Vec<String>,
    credentials: Credentials,
    /// The address that answered last, and its channel.
    current: Mutex<Option<(String, FarmChannel)>>,
    /// How long one call keeps trying before it gives up.
    pub patience: Duration,
    /// How long one try at one replica may take before the next replica is tried: a replica
    /// cut off by the network (not down) would otherwise hold the call until `patience` ends.
    /// Every call the farm makes through here is idempotent (request ids, cancel, cordon),
    /// so a try that timed out but took effect is harmless.
    pub attempt_timeout: Duration,
}

/// Whether a status means "try another replica".
fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded)
}

/// A TLS handshake that failed on a certificate: the replica's is not vouched for by our CA
/// (or names another host), or the replica refused ours. No other replica and no later try
/// will do better, so it ends the call at once, saying what to fix.
fn certificate_failure(status: &Status, addr: &str) -> Option<Status> {
    let mut chain = vec![status.message().to_owned()];
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        chain.push(error.to_string());
        source = error.source();
    }
    let said = chain.iter().find(|text| text.contains("invalid peer certificate") || text.contains("received fatal alert"))?;
    let what = if said.contains("invalid peer certificate") {
        "its certificate is not vouched for by --ca (or does not name the address it was dialled at); pass the farm's ca.pem as --ca, and dial a host the replica's certificate names"
    } else {
        "it refused this client's certificate; use one issued by the farm's CA (`shotfarm certs issue`), or a --token without --cert"
    };
    Some(Status::unauthenticated(format!("TLS with the scheduler at {addr} failed ({said}): {what}")))
}

impl LeaderClient {
    pub fn new(addrs: Vec<String>, credentials: Credentials) -> LeaderClient {
        LeaderClient { addrs, credentials, current: Mutex::new(None), patience: Duration::from_secs(15), attempt_timeout: Duration::from_secs(3) }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn pick(&self, attempt: usize) -> Result<(String, FarmChannel), Status> {
        if let Some(current) = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone() {
            return Ok(current);
        }
        let addr = self.addrs[attempt % self.addrs.len()].clone();
        let channel = channel(&addr, &self.credentials)?;
        Ok((addr, channel))
    }

    fn remember(&self, chosen: Option<(String, FarmChannel)>) {
        *self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = chosen;
    }

    /// Calls `f` on the leader, following hints and failing over, until it succeeds, fails
    /// with a non-retryable status, or `patience` runs out.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, Status>
    where
        F: Fn(FarmChannel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let deadline = Instant::now() + self.patience;
        let mut attempt = 0usize;
        let mut backoff = Duration::from_millis(20);
        loop {
            let (addr, chosen) = self.pick(attempt)?;
            let status = match tokio::time::timeout(self.attempt_timeout, f(chosen.clone())).await {
                Ok(Ok(value)) => {
                    self.remember(Some((addr, chosen)));
                    return Ok(value);
                }
                Ok(Err(status)) => match certificate_failure(&status, &addr) {
                    Some(refused) => return Err(refused),
                    None => status,
                },
                Err(_) => Status::deadline_exceeded(format!("scheduler {addr} did not answer within {:?}", self.attempt_timeout)),
            };
            if !retryable(&status) || Instant::now() >= deadline {
                return Err(status);
            }
            match leader_hint::leader_addr(&status) {
                Some(leader) if leader != addr => {
                    let leader_channel = channel(&leader, &self.credentials)?;
                    self.remember(Some((leader, leader_channel)));
                    continue;
                }
                _ => {
                    self.remember(None);
                    attempt += 1;
                }
            }
            // A full round without a leader: an election is probably running.
            if attempt.is_multiple_of(self.addrs.len()) {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that accepts connections and never answers: a replica behind a partition.
    async fn silent_replica() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_silent_replica_costs_one_attempt_timeout_not_the_whole_call() {
        let (first, _a) = silent_replica().await;
        let (second, _b) = silent_replica().await;
        let mut client = LeaderClient::new(vec![first, second], Credentials::insecure());
        client.attempt_timeout = Duration::from_millis(200);
        client.patience = Duration::from_millis(900);
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let started = Instant::now();
        let outcome = client
            .call(|channel| {
                tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    let request = crate::v1::GetJobRequest { job_id: "job-1".to_owned(), include_tasks: false };
                    Ok(crate::v1::job_service_client::JobServiceClient::new(channel).get_job(request).await?.into_inner())
                }
            })
            .await;
        let status = outcome.expect_err("nobody answers");
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
        assert!(status.message().contains("did not answer"), "{status}");
        assert!(tries.load(std::sync::atomic::Ordering::Relaxed) >= 3, "the call moved on between replicas");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(parse_addrs("127.0.0.1:1, 127.0.0.1:2").expect("valid").len(), 2);
        for bad in ["", ",", "localhost", "host:0", "host:99999", "http://h:1"] {
            assert!(parse_addrs(bad).is_err(), "{bad}");
        }
    }
}
