//! `shotfarm certs init|issue`: the farm's certificate authority and the certificates of its
//! replicas, agents and operators, so that a secure farm starts with a few commands:
//!
//! ```text
//! shotfarm certs init  --dir certs
//! shotfarm certs issue --dir certs --role replica  --name 1 --host 10.0.0.1,sched-1.internal
//! shotfarm certs issue --dir certs --role agent    --name encoder-17
//! shotfarm certs issue --dir certs --role operator --name alice
//! ```

use std::path::PathBuf;

use shotfarm_security::Identity;
use shotfarm_security::authority::{Authority, CA_DAYS, ISSUED_DAYS};

use crate::exit::{CommandError, CommandResult};
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
}

fn usage(err: impl std::fmt::Display) -> CommandError {
    CommandError::usage(anyhow::anyhow!("{err}"))
}

pub fn run(args: CertsArgs) -> CommandResult {
    match args.action {
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
