//! `shotfarm certs init|issue|revoke|revoked`: the farm's certificate authority and the
//! certificates of its replicas, agents and operators, so that a secure farm starts with a
//! few commands, and the revocation of one that leaked (operators only; every replica
//! refuses it from then on, and a revoked agent's node is declared down):
//!
//! ```text
//! shotfarm certs init  --dir certs
//! shotfarm certs issue --dir certs --role replica  --name 1 --host 10.0.0.1,sched-1.internal
//! shotfarm certs issue --dir certs --role agent    --name encoder-17
//! shotfarm certs issue --dir certs --role operator --name alice
//! shotfarm certs revoke --certificate certs/agent-encoder-17.pem --scheduler HOST:PORT --ca … --cert … --key …
//! ```

use std::path::PathBuf;

use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{ListRevokedCertificatesRequest, RevokeCertificateRequest, RevokedCertificate};
use shotfarm_security::Identity;
use shotfarm_security::authority::{Authority, CA_DAYS, ISSUED_DAYS};

use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub action: CertsAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum CertsAction {
    /// Make a new farm CA in DIR (ca.pem, and ca.key: keep it offline once the farm is issued).
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "shotfarm farm CA")]
        name: String,
        #[arg(long, default_value_t = CA_DAYS)]
        days: u32,
    },
    /// Issue a certificate for one replica, agent, operator or submitter, written as
    /// DIR/ROLE-NAME.pem and DIR/ROLE-NAME.key.
    Issue {
        #[arg(long)]
        dir: PathBuf,
        /// replica, agent, operator or submitter.
        #[arg(long)]
        role: String,
        /// The replica id, the agent's node name, or the person's name.
        #[arg(long)]
        name: String,
        /// Addresses the holder is dialled at (replicas): IPs or DNS names, comma-separated.
        #[arg(long, value_delimiter = ',')]
        host: Vec<String>,
        #[arg(long, default_value_t = ISSUED_DAYS)]
        days: u32,
    },
    /// Revoke a certificate on the running farm: every replica refuses it from now on; an
    /// agent's node is declared down. Give the certificate file or its SHA-256 fingerprint.
    Revoke {
        #[command(flatten)]
        scheduler: SchedulerFlag,
        /// The certificate (PEM) to revoke.
        #[arg(long, value_name = "PEM", conflicts_with = "fingerprint", required_unless_present = "fingerprint")]
        certificate: Option<PathBuf>,
        /// Its SHA-256 fingerprint instead (64 hex digits), when the file is gone.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// The revoked certificates: fingerprint, identity, when.
    Revoked {
        #[command(flatten)]
        scheduler: SchedulerFlag,
        #[arg(long)]
        json: bool,
    },
}

fn usage(err: impl std::fmt::Display) -> CommandError {
    CommandError::usage(anyhow::anyhow!("{err}"))
}

pub fn run(args: CertsArgs) -> CommandResult {
    match args.action {
        CertsAction::Revoke { scheduler, certificate, fingerprint } => {
            let certificate_pem = match &certificate {
                Some(path) => std::fs::read_to_string(path).map_err(|err| usage(format!("reading --certificate {}: {err}", path.display())))?,
                None => String::new(),
            };
            let request = RevokeCertificateRequest { certificate_pem, fingerprint: fingerprint.unwrap_or_default() };
            block_on(async move {
                let client = scheduler.client()?;
                let revoked = client
                    .call(|channel| {
                        let request = request.clone();
                        async move { Ok(AdminServiceClient::new(channel).revoke_certificate(request).await?.into_inner()) }
                    })
                    .await
                    .map_err(status_error)?;
                outln!("{}", revoked.fingerprint);
                eprintln!("revoked {}; every replica refuses it from now on", describe(&revoked));
                Ok(())
            })
        }
        CertsAction::Revoked { scheduler, json } => {
            block_on(async move {
                let client = scheduler.client()?;
                let listed = client
                    .call(|channel| async move { Ok(AdminServiceClient::new(channel).list_revoked_certificates(ListRevokedCertificatesRequest {}).await?.into_inner()) })
                    .await
                    .map_err(status_error)?;
                for revoked in listed.certificates {
                    if json {
                        outln!("{}", serde_json::json!({ "fingerprint": revoked.fingerprint, "identity": revoked.identity, "revoked_at_ms": revoked.revoked_at_ms }));
                    } else {
                        outln!("{} {:<32} {}", revoked.fingerprint, describe(&revoked), revoked.revoked_at_ms);
                    }
                }
                Ok(())
            })
        }
        CertsAction::Init { dir, name, days } => {
            Authority::init_dir(&dir, &name, days).map_err(usage)?;
            outln!("{}", dir.join("ca.pem").display());
            eprintln!("made a farm CA in {}; now issue certificates with `shotfarm certs issue --dir {}`", dir.display(), dir.display());
            Ok(())
        }
        CertsAction::Issue { dir, role, name, host, days } => {
            let identity = Identity::new(role.parse().map_err(usage)?, &name).map_err(usage)?;
            if identity.role == shotfarm_security::Role::Replica && host.is_empty() {
                return Err(usage(format!(
                    "a replica is dialled by peers, agents and clients: pass --host with the addresses of replica {name} (e.g. --host 10.0.0.1,sched-{name}.internal)"
                )));
            }
            let authority = Authority::load_dir(&dir).map_err(usage)?;
            let files = authority.issue_into(&dir, &identity, &host, days).map_err(usage)?;
            outln!("{}", files.cert.display());
            outln!("{}", files.key.display());
            eprintln!(
                "issued {identity}; use it with --ca {} --cert {} --key {}",
                dir.join("ca.pem").display(),
                files.cert.display(),
                files.key.display()
            );
            Ok(())
        }
    }
}

/// `agent/encoder-17`, or "a certificate" for a bare fingerprint.
fn describe(revoked: &RevokedCertificate) -> String {
    if revoked.identity.is_empty() { "a certificate".to_owned() } else { revoked.identity.clone() }
}
