//! `--ca`, `--cert`, `--key` and `--insecure` of the processes that serve or hold a session
//! (`shotfarm scheduler`, `shotfarm agent`); their config files and `SHOTFARM_CA`,
//! `SHOTFARM_CERT`, `SHOTFARM_KEY`, `SHOTFARM_INSECURE` give the same settings.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct TlsFlags {
    /// The farm CA (`shotfarm certs init`).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// This process's certificate (`shotfarm certs issue`).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The key of --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Plaintext gRPC and no authentication: only on a trusted, isolated network.
    #[arg(long)]
    pub insecure: bool,
}
