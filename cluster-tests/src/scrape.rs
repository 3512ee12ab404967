//! Scraping `/metrics` of a replica or an agent as Prometheus does: an HTTP/1.1 `GET` over the
//! farm's TLS — the server verified against the farm CA, a client certificate and a bearer
//! token presented when given — or plaintext on an `--insecure` farm. The body is read by
//! its `Content-Length`, so one [`ScrapeConnection`] serves many scrapes (the benchmark's
//! keep-alive case) and [`Scraper::get`] one on a fresh connection. The dashboard's event
//! streams are read with [`ScrapeConnection::get_stream`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use shotfarm_security::TlsFiles;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A response's head is at most this long.
const MAX_HEAD_BYTES: usize = 16 << 10;

/// How to reach a metrics listener.
#[derive(Clone)]
pub struct Scraper {
    tls: Option<TlsConnector>,
    bearer: Option<String>,
}

/// What a scrape answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

fn read_pem(path: Option<&Path>, what: &str) -> anyhow::Result<Vec<u8>> {
    let path = path.with_context(|| format!("no {what} file"))?;
    std::fs::read(path).with_context(|| format!("{what} {}", path.display()))
}

impl Scraper {
    /// Plaintext, anonymous: an `--insecure` farm.
    pub fn plaintext() -> Scraper {
        Scraper { tls: None, bearer: None }
    }

    /// TLS verifying the server against `files.ca`, presenting `files.cert` when given, and
    /// `authorization: Bearer TOKEN` when `bearer` is.
    pub fn tls(files: &TlsFiles, bearer: Option<&str>) -> anyhow::Result<Scraper> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&read_pem(files.ca.as_deref(), "CA")?) {
            roots.add(cert?)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?.with_root_certificates(roots);
        let config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(&read_pem(Some(cert), "certificate")?).collect::<Result<Vec<_>, _>>()?;
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(&read_pem(Some(key), "key")?)?)?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Scraper { tls: Some(TlsConnector::from(Arc::new(config))), bearer: bearer.map(str::to_owned) })
    }

    /// Opens a connection to `addr` (TLS handshake done).
    pub async fn connect(&self, addr: SocketAddr) -> anyhow::Result<ScrapeConnection> {
        let tcp = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some(connector) => Box::new(connector.connect(ServerName::IpAddress(addr.ip().into()), tcp).await.with_context(|| format!("TLS with {addr}"))?),
        };
        Ok(ScrapeConnection { stream, bearer: self.bearer.clone(), buffered: Vec::new() })
    }

    /// `GET path` on a fresh connection.
    pub async fn get(&self, addr: SocketAddr, path: &str) -> anyhow::Result<Answer> {
        self.connect(addr).await?.get(path).await
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One kept-alive connection to a metrics listener.
pub struct ScrapeConnection {
    stream: Box<dyn Stream>,
    bearer: Option<String>,
    /// Bytes read past the previous answer.
    buffered: Vec<u8>,
}

impl ScrapeConnection {
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        let (status, headers) = self.request_head(path).await?;
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .with_context(|| format!("no content-length in {headers:?}"))?;
        while self.buffered.len() < length {
            self.fill().await?;
        }
        let body = String::from_utf8(self.buffered[..length].to_vec()).context("the body is not UTF-8")?;
        self.buffered.drain(..length);
        Ok(Answer { status, headers, body })
    }

    /// `GET path` whose answer is a stream (server-sent events, chunked): its status and
    /// headers, and its body as read until the server ends it (the last chunk) or `patience`
    /// passes, chunk framing left in.
    pub async fn get_stream(&mut self, path: &str, patience: Duration) -> anyhow::Result<Answer> {
        let (status, headers) = self.request_head(path).await?;
        let deadline = tokio::time::Instant::now() + patience;
        while !self.buffered.ends_with(b"\r\n0\r\n\r\n") {
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Ok(filled) => filled?,
                Err(_) => break,
            }
        }
        let body = String::from_utf8_lossy(&self.buffered).into_owned();
        self.buffered.clear();
        Ok(Answer { status, headers, body })
    }

    /// Sends `GET path` and reads the answer's head: its status and headers (names in
    /// lowercase); what was read past the head stays buffered.
    async fn request_head(&mut self, path: &str) -> anyhow::Result<(u16, Vec<(String, String)>)> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: shotfarm\r\nAccept: application/openmetrics-text\r\n");
        if let Some(token) = &self.bearer {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(at) = self.buffered.windows(4).position(|window| window == b"\r\n\r\n") {
                break at;
            }
            if self.buffered.len() > MAX_HEAD_BYTES {
                bail!("the response head is over {MAX_HEAD_BYTES} bytes");
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).with_context(|| format!("status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        self.buffered.drain(..head_end + 4);
        Ok((status, headers))
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 << 10];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection mid-answer");
        }
        self.buffered.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}
