//! Who is calling, and whether their role may make the call.
//!
//! A caller is known by the client certificate it presented (verified against the farm CA
//! in the TLS handshake; the role and name are its `shotfarm://ROLE/NAME`), or else by its
//! bearer token (looked up by fingerprint in the replicated token table). Which roles a
//! service admits is decided in the service; what a known caller may see within it (its own
//! jobs, its own node) through [`Caller`]. A call a follower relayed (`forward`) comes with
//! the follower's replica certificate: its caller is the identity the follower names, believed
//! only from a member replica, or the caller's own bearer token. On an `--insecure` farm
//! nobody is authenticated and every caller is [`Caller::Anonymous`].

use std::sync::Arc;
use std::time::Instant;

use shotfarm_security::identity::certificate_fingerprint;
use shotfarm_security::token::{self, TokenError};
use shotfarm_security::{Identity, Role};
use tonic::{Request, Status};

use super::forward::headers;
use super::rate_limit::RateLimiter;
use super::status::ServiceError;
use crate::replica_node::DriverHandle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An `--insecure` farm: no one is authenticated, and anyone may do anything.
    Anonymous,
    Known(Identity),
}

impl Caller {
    /// The owner written on the jobs this caller submits.
    pub fn owner(&self) -> String {
        match self {
            Caller::Anonymous => String::new(),
            Caller::Known(identity) => identity.to_string(),
        }
    }

    /// The only owner whose jobs the caller sees and cancels: a submitter's own; `None` for
    /// operators (every job).
    pub fn only_owner(&self) -> Option<String> {
        match self {
            Caller::Known(identity) if identity.role != Role::Operator => Some(identity.to_string()),
            _ => None,
        }
    }

    /// Whether the caller may see and cancel a job of `owner`.
    pub fn may_see(&self, owner: &str) -> bool {
        self.only_owner().is_none_or(|only| only == owner)
    }

    /// The only node an agent may register as and hold a session for (None: any).
    pub fn node_name(&self) -> Option<&str> {
        match self {
            Caller::Known(identity) if identity.role == Role::Agent => Some(&identity.name),
            _ => None,
        }
    }

    /// The only replica a peer may speak for (None: any).
    pub fn replica_id(&self) -> Option<u64> {
        match self {
            Caller::Known(identity) => identity.replica_id(),
            Caller::Anonymous => None,
        }
    }
}

/// The client certificate a caller presented to this replica's HTTP listener, carried to the
/// in-process call the dashboard makes for it. It travels as a request extension, which only
/// code in this process can set (nothing on the wire becomes one); the gate checks it as it
/// checks a connection's certificate (revocation included, at every call), and a relay names
/// its identity to the leader as it names a connection certificate's.
#[derive(Debug, Clone)]
pub struct PresentedCertificate(pub Vec<u8>);

/// Admits callers to a service by role, and clients at their request rate.
#[derive(Clone)]
pub struct Gate {
    driver: DriverHandle,
    /// False on an `--insecure` farm.
    authenticate: bool,
    clients: Arc<RateLimiter>,
}

impl Gate {
    pub fn new(driver: DriverHandle, authenticate: bool, client_requests_per_second: u32) -> Gate {
        Gate { driver, authenticate, clients: Arc::new(RateLimiter::new(client_requests_per_second)) }
    }

    /// The caller of `request`, if its role is one of `allowed` and, for a client (operator,
    /// submitter or anonymous), within its request rate.
    pub async fn admit<T>(&self, request: &Request<T>, service: &str, allowed: &[Role]) -> Result<Caller, Status> {
        let caller = if self.authenticate {
            let identity = self.identify(request).await?;
            if !allowed.contains(&identity.role) {
                let roles: Vec<&str> = allowed.iter().map(|role| role.as_str()).collect();
                return Err(ServiceError::Forbidden(format!("{service} is for the role {}; this caller is {identity}", roles.join(" or "))).into());
            }
            Caller::Known(identity)
        } else {
            Caller::Anonymous
        };
        let client = match &caller {
            Caller::Known(identity) if matches!(identity.role, Role::Operator | Role::Submitter) => Some(identity.to_string()),
            Caller::Known(_) => None,
            Caller::Anonymous if allowed.iter().any(|role| matches!(role, Role::Operator | Role::Submitter)) => {
                Some(request.remote_addr().map_or_else(|| "anonymous".to_owned(), |addr| addr.ip().to_string()))
            }
            Caller::Anonymous => None,
        };
        if let Some(client) = client
            && !self.clients.allow(&client, Instant::now())
        {
            return Err(ServiceError::RateLimited(format!(
                "too many requests from {client}: at most {} a second (scheduler setting client_requests_per_second); slow down and retry",
                self.clients.per_second()
            ))
            .into());
        }
        Ok(caller)
    }

    /// The caller: its certificate's identity (the connection's, or one presented to the HTTP
    /// listener); or, for a call a member replica relayed, the
    /// identity it names or the caller's token (`forward::headers`); or its bearer token.
    async fn identify<T>(&self, request: &Request<T>) -> Result<Identity, Status> {
        let certificate = match request.extensions().get::<PresentedCertificate>() {
            Some(PresentedCertificate(certificate)) => Some(certificate.clone()),
            None => request.peer_certs().as_ref().and_then(|certs| certs.first()).map(|certificate| certificate.to_vec()),
        };
        let peer = certificate_identity(&self.driver, certificate.as_deref())?;
        let is_member = |id: u64| self.driver.info().members.iter().any(|member| member.id == id);
        if let Some(claimed) = headers::forwarded_caller(request.metadata(), peer.as_ref(), is_member)? {
            return Ok(claimed);
        }
        let relayed_by_member = peer.as_ref().and_then(Identity::replica_id).is_some_and(is_member) && headers::is_forwarded(request.metadata());
        match peer {
            Some(identity) if !relayed_by_member => Ok(identity),
            _ => Ok(token_identity(&self.driver, token::from_metadata(request.metadata())).await?),
        }
    }
}

/// Who presented `certificate` (DER, verified against the farm CA in the handshake) or, without
/// one, the bearer token: the HTTP listener (`crate::http`); gRPC's [`Gate`] also believes a
/// member replica's word for a relayed caller.
pub async fn identify(driver: &DriverHandle, certificate: Option<&[u8]>, bearer: Result<Option<&str>, TokenError>) -> Result<Identity, ServiceError> {
    match certificate_identity(driver, certificate)? {
        Some(identity) => Ok(identity),
        None => token_identity(driver, bearer).await,
    }
}

/// The identity of the client certificate the connection presented, if any, unless an operator
/// revoked it.
fn certificate_identity(driver: &DriverHandle, certificate: Option<&[u8]>) -> Result<Option<Identity>, ServiceError> {
    let Some(certificate) = certificate else {
        return Ok(None);
    };
    let identity = Identity::from_certificate(certificate).map_err(|err| ServiceError::Unauthenticated(format!("the client certificate: {err}")))?;
    let fingerprint = certificate_fingerprint(certificate);
    if driver.is_revoked(&fingerprint) {
        return Err(ServiceError::Unauthenticated(format!(
            "the certificate of {identity} (sha256 {fingerprint}) was revoked by an operator; ask for a new one (`shotfarm certs issue`)"
        )));
    }
    Ok(Some(identity))
}

/// The identity of the bearer token, looked up by fingerprint in the replicated token table.
async fn token_identity(driver: &DriverHandle, bearer: Result<Option<&str>, TokenError>) -> Result<Identity, ServiceError> {
    let unauthenticated = |why: String| ServiceError::Unauthenticated(why);
    let token = match bearer {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Err(unauthenticated(
                "this farm requires a client certificate or a bearer token: pass --cert/--key (from `shotfarm certs issue`) \
                 or --token (from `shotfarm tokens create`)"
                    .to_owned(),
            ));
        }
        Err(err) => return Err(unauthenticated(err.to_string())),
    };
    let fingerprint = token::fingerprint(token);
    let found = driver
        .local_read(move |state| {
            state.meta.tokens.iter().find(|(_, kept)| kept.fingerprint == fingerprint).map(|(name, kept)| (name.clone(), kept.role))
        })
        .await
        .map_err(ServiceError::from)?;
    let (name, role) = found.ok_or_else(|| unauthenticated("the bearer token is unknown or revoked; ask an operator for a new one".to_owned()))?;
    Identity::new(role.role(), &name).map_err(|err| unauthenticated(format!("token {name:?}: {err}")))
}
