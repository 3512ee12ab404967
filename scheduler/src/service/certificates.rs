//! `AdminService`'s certificate revocation calls: a certificate (PEM) or its bare fingerprint
//! goes into the replicated revocation list; every replica's gate refuses it from then on.

use shotfarm_proto::v1;
use shotfarm_security::{Identity, identity};
use tonic::Status;

use super::status::{invalid, unwanted};
use crate::machine::{Command, Outcome};
use crate::replica_node::DriverHandle;
use crate::replica_node::clock::now_ms;

/// Largest certificate accepted (a chain is refused: give the one certificate).
const MAX_CERTIFICATE_PEM: usize = 16 << 10;

pub async fn revoke(driver: &DriverHandle, request: v1::RevokeCertificateRequest) -> Result<v1::RevokedCertificate, Status> {
    let (fingerprint, identity) = match (request.certificate_pem.is_empty(), request.fingerprint.is_empty()) {
        (false, true) => {
            if request.certificate_pem.len() > MAX_CERTIFICATE_PEM {
                return Err(invalid("certificate_pem", format!("{} bytes; a certificate is at most {MAX_CERTIFICATE_PEM}", request.certificate_pem.len())));
            }
            let der = identity::certificate_der(&request.certificate_pem).map_err(|err| invalid("certificate_pem", err.to_string()))?;
            // A certificate without a farm identity can be revoked too; it names no one.
            let named = Identity::from_certificate(&der).map(|found| found.to_string()).unwrap_or_default();
            (identity::certificate_fingerprint(&der), named)
        }
        (true, false) => {
            let fingerprint = request.fingerprint.to_ascii_lowercase().replace(':', "");
            if !identity::is_fingerprint(&fingerprint) {
                return Err(invalid("fingerprint", "a certificate's SHA-256 fingerprint is 64 hex digits (colons allowed)"));
            }
            (fingerprint, String::new())
        }
        _ => return Err(invalid("certificate_pem", "give the certificate (PEM) or its fingerprint, one of them")),
    };
    driver.leader_only()?;
    let command = Command::RevokeCertificate { fingerprint: fingerprint.clone(), identity, now_ms: now_ms() };
    match driver.propose_one(command).await? {
        Outcome::Applied => {}
        other => return Err(unwanted(other)),
    }
    let revoked = driver.read(move |state| state.meta.revoked_certificates.get(&fingerprint).map(|kept| (fingerprint.clone(), kept.clone()))).await?;
    let (fingerprint, kept) = revoked.ok_or_else(|| Status::internal("the revocation applied but is not in the state"))?;
    Ok(v1::RevokedCertificate { fingerprint, identity: kept.identity, revoked_at_ms: kept.revoked_at_ms })
}

pub async fn list(driver: &DriverHandle) -> Result<v1::ListRevokedCertificatesResponse, Status> {
    driver.leader_only()?;
    let certificates = driver
        .read(|state| {
            state
                .meta
                .revoked_certificates
                .iter()
                .map(|(fingerprint, kept)| v1::RevokedCertificate { fingerprint: fingerprint.clone(), identity: kept.identity.clone(), revoked_at_ms: kept.revoked_at_ms })
                .collect()
        })
        .await?;
    Ok(v1::ListRevokedCertificatesResponse { certificates })
}
