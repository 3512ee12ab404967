//! Who may talk to the farm, and how: transport security (TLS, mutual between replicas and
//! from agents), the identities certificates carry, the farm's own certificate authority, and
//! bearer tokens for clients without a certificate.
//!
//! | module | what |
//! | --- | --- |
//! | [`identity`] | [`Role`] and [`Identity`]: `shotfarm://ROLE/NAME` in a certificate's SAN |
//! | [`authority`] | the farm CA (`shotfarm certs init`) and the certificates it issues (`certs issue`) |
//! | [`transport`] | PEM files → tonic's server and client TLS configs; `--insecure` |
//! | [`credentials`] | what a client presents: its transport, and a bearer token if it has one |
//! | [`local_farm`] | a throwaway CA and certificates for a farm on one machine (`dev`, tests) |
//! | [`token`] | bearer tokens: generated once, stored only as a SHA-256 fingerprint |
//! | [`https`] | HTTP (`/metrics`) over the same TLS, the client's certificate handed to the handlers |
//!
//! The model: every process of the farm holds a certificate from one farm CA. A replica's says
//! `shotfarm://replica/ID`, an agent's `shotfarm://agent/NAME`, an operator's
//! `shotfarm://operator/NAME`. Servers verify client certificates against the CA (optional
//! for clients, which may present a bearer token instead), and read the caller's role and
//! name from the certificate; the scheduler decides what that role may do.

pub mod authority;
pub mod credentials;
pub mod https;
pub mod identity;
pub mod local_farm;
pub mod token;
pub mod transport;

pub use credentials::Credentials;
pub use identity::{Identity, Role};
pub use transport::{TlsFiles, TlsMaterial, TransportSecurity};
