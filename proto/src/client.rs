//! A client that finds and follows the leader: clients and agents give it every replica's
//! address; it calls the one that last answered, follows "not the leader" hints, and tries
//! the others when one is unreachable, for a bounded time.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
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

/// A lazily connected channel to `addr`.
pub fn channel(addr: &str) -> Result<Channel, Status> {
    Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|err| Status::invalid_argument(format!("bad scheduler address {addr:?}: {err}")))
        .map(|endpoint| {
            endpoint
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .connect_lazy()
        })
}

pub struct LeaderClient {
    addrs: Vec<String>,
    /// The address that answered last, and its channel.
    current: Mutex<Option<(String, Channel)>>,
    /// How long one call keeps trying before it gives up.
    pub patience: Duration,
}

/// Whether a status means "try another replica".
fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded)
}

impl LeaderClient {
    pub fn new(addrs: Vec<String>) -> LeaderClient {
        LeaderClient { addrs, current: Mutex::new(None), patience: Duration::from_secs(15) }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    fn pick(&self, attempt: usize) -> Result<(String, Channel), Status> {
        if let Some(current) = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone() {
            return Ok(current);
        }
        let addr = self.addrs[attempt % self.addrs.len()].clone();
        let channel = channel(&addr)?;
        Ok((addr, channel))
    }

    fn remember(&self, chosen: Option<(String, Channel)>) {
        *self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = chosen;
    }

    /// Calls `f` on the leader, following hints and failing over, until it succeeds, fails
    /// with a non-retryable status, or `patience` runs out.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, Status>
    where
        F: Fn(Channel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let deadline = Instant::now() + self.patience;
        let mut attempt = 0usize;
        let mut backoff = Duration::from_millis(20);
        loop {
            let (addr, chosen) = self.pick(attempt)?;
            let status = match f(chosen.clone()).await {
                Ok(value) => {
                    self.remember(Some((addr, chosen)));
                    return Ok(value);
                }
                Err(status) => status,
            };
            if !retryable(&status) || Instant::now() >= deadline {
                return Err(status);
            }
            match leader_hint::leader_addr(&status) {
                Some(leader) if leader != addr => {
                    let leader_channel = channel(&leader)?;
                    self.remember(Some((leader, leader_channel)));
                    continue;
                }
                _ => {
                    self.remember(None);
                    attempt += 1;
                }
            }
            // A full round without a leader: an election is probably running.
            if attempt % self.addrs.len() == 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(parse_addrs("127.0.0.1:1, 127.0.0.1:2").expect("valid").len(), 2);
        for bad in ["", ",", "localhost", "host:0", "host:99999", "http://h:1"] {
            assert!(parse_addrs(bad).is_err(), "{bad}");
        }
    }
}
