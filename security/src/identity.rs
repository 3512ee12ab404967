//! Identities: a [`Role`] and a name, written into a certificate as the URI subject
//! alternative name `shotfarm://ROLE/NAME` and read back from the certificate a peer presents.

use std::fmt;
use std::str::FromStr;

use x509_parser::extensions::GeneralName;

const SCHEME: &str = "shotfarm://";

/// What a caller may do is decided by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A scheduler replica: Raft traffic between members.
    Replica,
    /// A node agent: registers and runs tasks (`NodeService`), as the node its name names.
    Agent,
    /// Runs the farm: admin calls, every job, tokens.
    Operator,
    /// Submits jobs, and sees and cancels its own.
    Submitter,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Replica, Role::Agent, Role::Operator, Role::Submitter];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Replica => "replica",
            Role::Agent => "agent",
            Role::Operator => "operator",
            Role::Submitter => "submitter",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = IdentityError;

    fn from_str(text: &str) -> Result<Role, IdentityError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| IdentityError::UnknownRole(text.to_owned()))
    }
}

/// Who a caller is: `operator/alice`, `agent/gpu-07`, `replica/2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub role: Role,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("unknown role {0:?}; roles are replica, agent, operator and submitter")]
    UnknownRole(String),
    #[error("name {0:?}: names are 1..=128 characters of letters, digits and - _ . : @")]
    BadName(String),
    #[error("replica name {0:?} is not a replica id (a number, 1 or more)")]
    BadReplicaId(String),
    #[error("the certificate cannot be read: {0}")]
    Unreadable(String),
    #[error("the certificate names no shotfarm identity (a URI SAN shotfarm://ROLE/NAME); issue it with `shotfarm certs issue`")]
    NoIdentity,
    #[error("the certificate names {0} shotfarm identities; a certificate speaks for exactly one")]
    SeveralIdentities(usize),
}

/// Names of nodes, operators and submitters; replica names are their ids.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
}

impl Identity {
    pub fn new(role: Role, name: &str) -> Result<Identity, IdentityError> {
        if !valid_name(name) {
            return Err(IdentityError::BadName(name.to_owned()));
        }
        if role == Role::Replica && !name.parse::<u64>().is_ok_and(|id| id > 0) {
            return Err(IdentityError::BadReplicaId(name.to_owned()));
        }
        Ok(Identity { role, name: name.to_owned() })
    }

    /// The replica id of a replica identity.
    pub fn replica_id(&self) -> Option<u64> {
        (self.role == Role::Replica).then(|| self.name.parse().ok()).flatten()
    }

    /// `shotfarm://ROLE/NAME`, the URI written into certificates.
    pub fn uri(&self) -> String {
        format!("{SCHEME}{}/{}", self.role, self.name)
    }

    pub fn from_uri(uri: &str) -> Option<Result<Identity, IdentityError>> {
        let rest = uri.strip_prefix(SCHEME)?;
        let Some((role, name)) = rest.split_once('/') else {
            return Some(Err(IdentityError::BadName(rest.to_owned())));
        };
        Some(role.parse().and_then(|role| Identity::new(role, name)))
    }

    /// The identity a DER certificate names: exactly one `shotfarm://` URI SAN. The
    /// certificate's chain must already have been verified (the TLS handshake does).
    pub fn from_certificate(der: &[u8]) -> Result<Identity, IdentityError> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der).map_err(|err| IdentityError::Unreadable(err.to_string()))?;
        let names = certificate
            .subject_alternative_name()
            .map_err(|err| IdentityError::Unreadable(err.to_string()))?
            .map(|extension| extension.value.general_names.clone())
            .unwrap_or_default();
        let mut found: Vec<Result<Identity, IdentityError>> = names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) => Identity::from_uri(uri),
                _ => None,
            })
            .collect();
        match found.len() {
            0 => Err(IdentityError::NoIdentity),
            1 => found.remove(0),
            n => Err(IdentityError::SeveralIdentities(n)),
        }
    }

    /// The identity the first certificate of a PEM file names (a process's own certificate).
    pub fn from_pem(pem_text: &str) -> Result<Identity, IdentityError> {
        Identity::from_certificate(&certificate_der(pem_text)?)
    }
}

/// The DER bytes of the first certificate in `pem_text`.
pub fn certificate_der(pem_text: &str) -> Result<Vec<u8>, IdentityError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).map_err(|err| IdentityError::Unreadable(err.to_string()))?;
    Ok(pem.contents)
}

/// A certificate's SHA-256 fingerprint (of its DER bytes), lowercase hex: how a revoked
/// certificate is known.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(der))
}

/// Whether `text` is a fingerprint as [`certificate_fingerprint`] writes it.
pub fn is_fingerprint(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.role, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_bad_ones_are_named() {
        let identity = Identity::new(Role::Agent, "gpu-07").expect("valid");
        assert_eq!(identity.uri(), "shotfarm://agent/gpu-07");
        assert_eq!(Identity::from_uri(&identity.uri()), Some(Ok(identity)));
        assert_eq!(Identity::from_uri("https://example.com"), None, "other URIs are not ours");
        assert!(matches!(Identity::from_uri("shotfarm://root/x"), Some(Err(IdentityError::UnknownRole(_)))));
        assert!(matches!(Identity::from_uri("shotfarm://agent/a/b"), Some(Err(IdentityError::BadName(_)))));
        assert!(matches!(Identity::from_uri("shotfarm://replica/zero"), Some(Err(IdentityError::BadReplicaId(_)))));
        assert!(matches!(Identity::new(Role::Replica, "0"), Err(IdentityError::BadReplicaId(_))));
        assert_eq!(Identity::new(Role::Replica, "3").expect("valid").replica_id(), Some(3));
    }
}
