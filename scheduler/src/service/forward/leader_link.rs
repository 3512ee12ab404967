//! Where a client call goes: answered here, or relayed to the leader over a channel kept
//! per leader address (rebuilt when the leader, or its address, changes).

use std::sync::Mutex;

use shotfarm_proto::client::{FarmChannel, channel};
use shotfarm_security::Credentials;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::headers::is_forwarded;
use crate::replica_node::{DriverError, DriverHandle};

/// Where one call is answered.
pub enum Route {
    /// By this replica: it leads; or the call was relayed here already, or no leader is known
    /// (the local service then answers "not the leader", with the leader's address if known).
    Here,
    /// By the leader (its id and member address), over this channel.
    Leader { leader_id: u64, leader_addr: String, channel: FarmChannel },
}

pub struct LeaderLink {
    driver: DriverHandle,
    /// The replica's own transport: TLS presenting its replica certificate, or `--insecure`.
    credentials: Credentials,
    /// The address last dialled for the leader, and its channel.
    cached: Mutex<Option<(String, FarmChannel)>>,
}

impl LeaderLink {
    pub fn new(driver: DriverHandle) -> LeaderLink {
        // No bearer token of its own: a relayed token travels in the relayed call's metadata.
        let mut credentials = Credentials::insecure();
        credentials.transport = driver.config().peer_security.clone();
        LeaderLink { driver, credentials, cached: Mutex::new(None) }
    }

    pub fn driver(&self) -> &DriverHandle {
        &self.driver
    }

    /// Where a call with this metadata goes.
    pub fn route(&self, metadata: &MetadataMap) -> Result<Route, Status> {
        let (leader_id, addr) = match self.driver.leader_only() {
            Err(DriverError::NotLeader { leader: Some(leader) }) if !is_forwarded(metadata) => leader,
            _ => return Ok(Route::Here),
        };
        // The leader is dialled as Raft dials it: through its `--route` where it has one.
        let dial = self.driver.config().routes.get(&leader_id).cloned().unwrap_or_else(|| addr.clone());
        Ok(Route::Leader { leader_id, leader_addr: addr, channel: self.channel(&dial)? })
    }

    fn channel(&self, addr: &str) -> Result<FarmChannel, Status> {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached_addr, channel)) = cached.as_ref()
            && cached_addr == addr
        {
            return Ok(channel.clone());
        }
        let fresh = channel(addr, &self.credentials).map_err(|status| Status::unavailable(format!("cannot dial the leader at {addr}: {}", status.message())))?;
        *cached = Some((addr.to_owned(), fresh.clone()));
        Ok(fresh)
    }
}
