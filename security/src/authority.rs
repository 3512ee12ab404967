//! The farm's certificate authority: `shotfarm certs init` makes one (a self-signed ECDSA
//! P-256 CA, `ca.pem` + `ca.key`), `shotfarm certs issue` signs a certificate for one
//! identity (`ROLE-NAME.pem` + `ROLE-NAME.key` beside it). Keys are written 0600, and nothing
//! is ever overwritten: replacing a CA would lock every process of the farm out.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::identity::Identity;

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
/// How long a CA is valid by default.
pub const CA_DAYS: u32 = 3650;
/// How long an issued certificate is valid by default.
pub const ISSUED_DAYS: u32 = 365;

#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} already exists; shotfarm never overwrites certificates or keys (remove it first if you mean to replace it)")]
    Exists(PathBuf),
    #[error("no CA in {0}: make one with `shotfarm certs init --dir {0}`")]
    NoAuthority(String),
    #[error("{what}: {source}")]
    Certificate { what: String, source: rcgen::Error },
    #[error("host {0:?} is neither an IP address nor a DNS name")]
    BadHost(String),
    #[error("validity of {0} days is outside 1..=36500")]
    BadValidity(u32),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
}

fn certificate_error(what: &str) -> impl FnOnce(rcgen::Error) -> AuthorityError + '_ {
    move |source| AuthorityError::Certificate { what: what.to_owned(), source }
}

/// A PEM certificate and its PEM private key.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The files `issue_into` wrote.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Authority {
    cert_pem: String,
    key: KeyPair,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, days: u32) -> Result<(), AuthorityError> {
    if !(1..=36_500).contains(&days) {
        return Err(AuthorityError::BadValidity(days));
    }
    let now = OffsetDateTime::now_utc();
    // An hour back, for clocks a little behind the issuer's.
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
    Ok(())
}

impl Authority {
    /// A new self-signed CA called `name`.
    pub fn create(name: &str, days: u32) -> Result<Authority, AuthorityError> {
        let key = KeyPair::generate().map_err(certificate_error("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut params, days)?;
        let cert = params.self_signed(&key).map_err(certificate_error("signing the CA"))?;
        Ok(Authority { cert_pem: cert.pem(), key })
    }

    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, AuthorityError> {
        let key = KeyPair::from_pem(key_pem).map_err(certificate_error("reading the CA key"))?;
        // Parse once now, so a broken CA file fails here and not at the first issue.
        Issuer::from_ca_cert_pem(cert_pem, &key).map_err(certificate_error("reading the CA certificate"))?;
        Ok(Authority { cert_pem: cert_pem.to_owned(), key })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A certificate for `identity`, valid as a TLS server for `hosts` (IP addresses or DNS
    /// names; replicas need the addresses they are dialled at) and as a TLS client.
    pub fn issue(&self, identity: &Identity, hosts: &[String], days: u32) -> Result<IssuedCertificate, AuthorityError> {
        let key = KeyPair::generate().map_err(certificate_error("generating a key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, identity.to_string());
        for host in hosts {
            let san = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) if dns_name(host) => SanType::DnsName(host.as_str().try_into().map_err(|_| AuthorityError::BadHost(host.clone()))?),
                Err(_) => return Err(AuthorityError::BadHost(host.clone())),
            };
            params.subject_alt_names.push(san);
        }
        let uri = identity.uri().try_into().map_err(certificate_error("writing the identity"))?;
        params.subject_alt_names.push(SanType::URI(uri));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, days)?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key).map_err(certificate_error("reading the CA certificate"))?;
        let cert = params.signed_by(&key, &issuer).map_err(certificate_error("signing"))?;
        Ok(IssuedCertificate { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// `shotfarm certs init`: a new CA written into `dir` (created if missing).
    pub fn init_dir(dir: &Path, name: &str, days: u32) -> Result<Authority, AuthorityError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(AuthorityError::Exists(path.clone()));
            }
        }
        std::fs::create_dir_all(dir).map_err(|source| AuthorityError::Io { path: dir.to_owned(), source })?;
        let authority = Authority::create(name, days)?;
        write_new(&key_path, &authority.key_pem(), 0o600)?;
        write_new(&cert_path, authority.cert_pem(), 0o644)?;
        Ok(authority)
    }

    /// The CA `init_dir` wrote into `dir`.
    pub fn load_dir(dir: &Path) -> Result<Authority, AuthorityError> {
        let cert_path = dir.join(CA_CERT_FILE);
        if !cert_path.exists() {
            return Err(AuthorityError::NoAuthority(dir.display().to_string()));
        }
        let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|source| AuthorityError::Io { path, source });
        Authority::from_pem(&read(cert_path)?, &read(dir.join(CA_KEY_FILE))?)
    }

    /// `shotfarm certs issue`: a certificate for `identity` written beside the CA as
    /// `ROLE-NAME.pem` and `ROLE-NAME.key`.
    pub fn issue_into(&self, dir: &Path, identity: &Identity, hosts: &[String], days: u32) -> Result<IssuedFiles, AuthorityError> {
        let files = IssuedFiles {
            cert: dir.join(format!("{}-{}.pem", identity.role, identity.name)),
            key: dir.join(format!("{}-{}.key", identity.role, identity.name)),
        };
        for path in [&files.cert, &files.key] {
            if path.exists() {
                return Err(AuthorityError::Exists(path.clone()));
            }
        }
        let issued = self.issue(identity, hosts, days)?;
        write_new(&files.key, &issued.key_pem, 0o600)?;
        write_new(&files.cert, &issued.cert_pem, 0o644)?;
        Ok(files)
    }
}

/// A DNS name a TLS client can verify: dot-separated labels of letters, digits and hyphens.
fn dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Creates `path` (never replacing a file) with `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), AuthorityError> {
    let failed = |source| AuthorityError::Io { path: path.to_owned(), source };
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::AlreadyExists { AuthorityError::Exists(path.to_owned()) } else { failed(err) }
    })?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::identity::Role;

    #[test]
    fn an_issued_certificate_names_its_identity() {
        let authority = Authority::create("test farm", 1).expect("ca");
        let identity = Identity::new(Role::Replica, "2").expect("identity");
        let issued = authority.issue(&identity, &["127.0.0.1".to_owned(), "sched-2.example".to_owned()], 1).expect("issue");
        assert_eq!(Identity::from_pem(&issued.cert_pem).expect("identity"), identity);
        assert!(Identity::from_pem(authority.cert_pem()).is_err(), "the CA speaks for nobody");
        assert!(matches!(authority.issue(&identity, &["bad host!".to_owned()], 1), Err(AuthorityError::BadHost(_))));
    }

    #[test]
    fn files_are_never_overwritten_and_keys_are_private() {
        let dir = tempfile::tempdir().expect("dir");
        let authority = Authority::init_dir(dir.path(), "farm", 30).expect("init");
        assert!(matches!(Authority::init_dir(dir.path(), "farm", 30), Err(AuthorityError::Exists(_))));
        let loaded = Authority::load_dir(dir.path()).expect("load");
        assert_eq!(loaded.cert_pem(), authority.cert_pem());
        let identity = Identity::new(Role::Operator, "alice").expect("identity");
        let files = loaded.issue_into(dir.path(), &identity, &[], 30).expect("issue");
        assert!(files.cert.ends_with("operator-alice.pem"));
        let mode = std::fs::metadata(&files.key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(loaded.issue_into(dir.path(), &identity, &[], 30), Err(AuthorityError::Exists(_))));
        let empty = tempfile::tempdir().expect("dir");
        assert!(matches!(Authority::load_dir(empty.path()), Err(AuthorityError::NoAuthority(_))));
    }
}
