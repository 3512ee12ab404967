//! A throwaway CA, and certificates issued from it on demand, for a farm that lives on one
//! machine: `shotfarm dev`, benchmarks and the tests. Certificates for replicas name the
//! loopback addresses they are dialled at.

use std::path::{Path, PathBuf};

use crate::authority::{Authority, AuthorityError, CA_CERT_FILE, ISSUED_DAYS};
use crate::identity::{Identity, Role};
use crate::transport::TlsFiles;

#[derive(Debug)]
pub struct LocalFarmCertificates {
    dir: PathBuf,
    authority: Authority,
}

impl LocalFarmCertificates {
    /// A new CA in `dir`, or the one already there.
    pub fn open(dir: &Path) -> Result<LocalFarmCertificates, AuthorityError> {
        let authority = if dir.join(CA_CERT_FILE).exists() { Authority::load_dir(dir)? } else { Authority::init_dir(dir, "shotfarm local farm", 30)? };
        Ok(LocalFarmCertificates { dir: dir.to_owned(), authority })
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// The files of `role/name`'s certificate, issued the first time it is asked for.
    pub fn files(&self, role: Role, name: &str) -> Result<TlsFiles, AuthorityError> {
        let identity = Identity::new(role, name)?;
        let cert = self.dir.join(format!("{role}-{name}.pem"));
        let key = self.dir.join(format!("{role}-{name}.key"));
        if !cert.exists() {
            let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
            self.authority.issue_into(&self.dir, &identity, &hosts, ISSUED_DAYS)?;
        }
        Ok(TlsFiles { ca: Some(self.ca()), cert: Some(cert), key: Some(key) })
    }

    /// Only the CA: a client that authenticates with a token.
    pub fn ca_only(&self) -> TlsFiles {
        TlsFiles { ca: Some(self.ca()), cert: None, key: None }
    }
}
