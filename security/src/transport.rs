//! Transport security from PEM files: `--ca` (the farm CA), `--cert` and `--key` (this
//! process's own certificate), or `--insecure` for plaintext on a trusted network.
//!
//! Servers require TLS with their own certificate and ask clients for one (verified against
//! the CA, optional: clients without one present a bearer token instead). Clients verify the
//! server against the CA and present their certificate when they have one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, ServerTlsConfig};

use crate::identity::{Identity, IdentityError};

/// How long a TLS handshake may take before the server drops the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "TLS is on by default: pass --ca FILE (the farm CA), and --cert FILE --key FILE for this process's own certificate \
         (make them with `shotfarm certs init` and `shotfarm certs issue`), or --insecure for plaintext on a trusted network"
    )]
    NotConfigured,
    #[error("--insecure and --ca/--cert/--key exclude each other: drop one")]
    InsecureAndFiles,
    #[error("{0} is given without {1}: pass both")]
    Half(&'static str, &'static str),
    #[error("{flag} {path}: {source}")]
    Unreadable { flag: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{flag} {path} is not a PEM {what}")]
    NotPem { flag: &'static str, path: PathBuf, what: &'static str },
    #[error("--cert {path}: {source}")]
    NoIdentity { path: PathBuf, source: IdentityError },
    #[error("TLS setup: {0}")]
    Rustls(String),
    #[error("a server needs its own certificate: pass --cert FILE --key FILE (from `shotfarm certs issue`)")]
    ServerWithoutCertificate,
}

/// The files of `--ca`, `--cert` and `--key`.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// This process's own certificate, and who it says this process is.
#[derive(Debug, Clone)]
struct OwnCertificate {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    identity: Identity,
}

/// The CA to verify peers against, and this process's certificate if it has one.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    ca_pem: Vec<u8>,
    own: Option<OwnCertificate>,
}

fn read_pem(flag: &'static str, path: &Path, what: &'static str, marker: &str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Unreadable { flag, path: path.to_owned(), source })?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(TlsError::NotPem { flag, path: path.to_owned(), what });
    }
    Ok(bytes)
}

impl TlsMaterial {
    pub fn load(ca: &Path, cert_and_key: Option<(&Path, &Path)>) -> Result<TlsMaterial, TlsError> {
        let ca_pem = read_pem("--ca", ca, "certificate", "-----BEGIN CERTIFICATE-----")?;
        let own = match cert_and_key {
            None => None,
            Some((cert, key)) => {
                let cert_pem = read_pem("--cert", cert, "certificate", "-----BEGIN CERTIFICATE-----")?;
                let key_pem = read_pem("--key", key, "private key", "PRIVATE KEY-----")?;
                let identity = Identity::from_pem(&String::from_utf8_lossy(&cert_pem))
                    .map_err(|source| TlsError::NoIdentity { path: cert.to_owned(), source })?;
                Some(OwnCertificate { cert_pem, key_pem, identity })
            }
        };
        Ok(TlsMaterial { ca_pem, own })
    }

    /// Who this process's certificate says it is.
    pub fn identity(&self) -> Option<&Identity> {
        self.own.as_ref().map(|own| &own.identity)
    }

    fn tonic_identity(own: &OwnCertificate) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(&own.cert_pem, &own.key_pem)
    }

    /// TLS for a listener: its own certificate; client certificates verified against the CA
    /// when presented.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let own = self.own.as_ref().ok_or(TlsError::ServerWithoutCertificate)?;
        Ok(ServerTlsConfig::new()
            .identity(Self::tonic_identity(own))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(true)
            .timeout(HANDSHAKE_TIMEOUT))
    }

    /// The same listener TLS as [`TlsMaterial::server_config`], for an HTTP listener
    /// (`crate::https`): rustls directly, offering HTTP/2 and HTTP/1.1 by ALPN.
    pub fn rustls_server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let own = self.own.as_ref().ok_or(TlsError::ServerWithoutCertificate)?;
        let rustls_error = |err: &dyn std::fmt::Display| TlsError::Rustls(err.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            roots.add(cert.map_err(|err| rustls_error(&err))?).map_err(|err| rustls_error(&err))?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|err| rustls_error(&err))?;
        let chain = CertificateDer::pem_slice_iter(&own.cert_pem).collect::<Result<Vec<_>, _>>().map_err(|err| rustls_error(&err))?;
        let key = PrivateKeyDer::from_pem_slice(&own.key_pem).map_err(|err| rustls_error(&err))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| rustls_error(&err))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|err| rustls_error(&err))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// TLS for a connection: the server verified against the CA (for the host it is dialled
    /// at), and this process's certificate presented when it has one.
    pub fn client_config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem)).timeout(HANDSHAKE_TIMEOUT);
        match &self.own {
            Some(own) => config.identity(Self::tonic_identity(own)),
            None => config,
        }
    }
}

/// How a process talks on the network.
#[derive(Debug, Clone)]
pub enum TransportSecurity {
    Tls(Arc<TlsMaterial>),
    /// Plaintext, no authentication: only with an explicit `--insecure`.
    Insecure,
}

impl TransportSecurity {
    /// From the flags. `needs_own` for servers and agents, which must present a certificate.
    pub fn from_flags(files: &TlsFiles, insecure: bool, needs_own: bool) -> Result<TransportSecurity, TlsError> {
        if insecure {
            if files.ca.is_some() || files.cert.is_some() || files.key.is_some() {
                return Err(TlsError::InsecureAndFiles);
            }
            return Ok(TransportSecurity::Insecure);
        }
        let ca = files.ca.as_deref().ok_or(TlsError::NotConfigured)?;
        let cert_and_key = match (files.cert.as_deref(), files.key.as_deref()) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (Some(_), None) => return Err(TlsError::Half("--cert", "--key")),
            (None, Some(_)) => return Err(TlsError::Half("--key", "--cert")),
            (None, None) if needs_own => return Err(TlsError::NotConfigured),
            (None, None) => None,
        };
        Ok(TransportSecurity::Tls(Arc::new(TlsMaterial::load(ca, cert_and_key)?)))
    }

    /// An endpoint for `addr` (`HOST:PORT`) that dials it as this process talks: TLS
    /// verifying the peer against the CA and presenting this process's certificate, or
    /// plaintext. Clients, agents and replicas dialling their peers all come through here.
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, tonic::transport::Error> {
        match self {
            TransportSecurity::Tls(material) => Endpoint::from_shared(format!("https://{addr}"))?.tls_config(material.client_config()),
            TransportSecurity::Insecure => Endpoint::from_shared(format!("http://{addr}")),
        }
    }

    /// Who this process's certificate says it is (None when insecure or without one).
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            TransportSecurity::Tls(material) => material.identity(),
            TransportSecurity::Insecure => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::Authority;
    use crate::identity::Role;

    #[test]
    fn flags_are_checked_with_a_way_forward() {
        let none = TlsFiles::default();
        assert!(matches!(TransportSecurity::from_flags(&none, false, false), Err(TlsError::NotConfigured)));
        assert!(matches!(TransportSecurity::from_flags(&none, true, true), Ok(TransportSecurity::Insecure)));
        let dir = tempfile::tempdir().expect("dir");
        let authority = Authority::init_dir(dir.path(), "farm", 1).expect("ca");
        let agent = Identity::new(Role::Agent, "a1").expect("identity");
        let files = authority.issue_into(dir.path(), &agent, &[], 1).expect("issue");
        let ca = Some(dir.path().join("ca.pem"));
        let only_ca = TlsFiles { ca: ca.clone(), ..TlsFiles::default() };
        assert!(matches!(TransportSecurity::from_flags(&only_ca, true, false), Err(TlsError::InsecureAndFiles)));
        assert!(TransportSecurity::from_flags(&only_ca, false, false).expect("a client may go without").identity().is_none());
        assert!(matches!(TransportSecurity::from_flags(&only_ca, false, true), Err(TlsError::NotConfigured)));
        let half = TlsFiles { ca: ca.clone(), cert: Some(files.cert.clone()), key: None };
        assert!(matches!(TransportSecurity::from_flags(&half, false, true), Err(TlsError::Half(..))));
        let full = TlsFiles { ca: ca.clone(), cert: Some(files.cert.clone()), key: Some(files.key.clone()) };
        assert_eq!(TransportSecurity::from_flags(&full, false, true).expect("full").identity(), Some(&agent));
        let swapped = TlsFiles { ca, cert: Some(files.key), key: Some(files.cert) };
        assert!(matches!(TransportSecurity::from_flags(&swapped, false, true), Err(TlsError::NotPem { .. })));
    }
}
