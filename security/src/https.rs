//! HTTP for operators (`/metrics`, the dashboard), served the way the farm serves gRPC:
//! TLS with this process's certificate, client certificates verified against the farm CA when
//! presented (optional: a client may present a bearer token instead), or plaintext on an
//! `--insecure` farm. Who may see what is the server's decision: every request carries the
//! client's certificate, if it presented one, as a [`PeerCertificate`] extension.
//!
//! Over TLS, HTTP/2 where the client offers it by ALPN (browsers do: a dashboard's event
//! streams then share one connection instead of taking one of the six a browser keeps per
//! host each), else HTTP/1.1; plaintext is HTTP/1.1 (what Prometheus speaks to a plain
//! endpoint). At most [`MAX_CONNECTIONS`] connections at once and
//! [`MAX_STREAMS_PER_CONNECTION`] requests at once on each HTTP/2 one; each handshake and
//! HTTP/1.1 request head is bounded in time, and an HTTP/2 connection that stops answering
//! pings is closed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

use crate::transport::{TlsError, TransportSecurity};

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// Requests in flight at once on one HTTP/2 connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 32;
/// How long a TLS handshake, and a request's head, may take; also how often an idle HTTP/2
/// connection is pinged, and how long its answer may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head accepted over HTTP/2 (HTTP/1.1's is hyper's default, 400 KiB
/// at most).
const MAX_HEADER_BYTES: u32 = 64 * 1024;

/// The content type of the OpenMetrics text format (`/metrics` of replicas and agents).
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The DER of the certificate the client presented (verified against the farm CA).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("cannot listen for HTTP on {addr}: {source} (is another process using the port?)")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A bound HTTP listener, ready to serve a router.
pub struct HttpsListener {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl HttpsListener {
    /// Binds `addr`; TLS from `security` unless the farm is `--insecure`.
    pub async fn bind(addr: SocketAddr, security: &TransportSecurity) -> Result<HttpsListener, HttpsError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| HttpsError::Listen { addr, source })?;
        HttpsListener::from_listener(listener, security)
    }

    /// Serves on an already bound listener (tests bind port 0 first).
    pub fn from_listener(listener: TcpListener, security: &TransportSecurity) -> Result<HttpsListener, HttpsError> {
        let tls = match security {
            TransportSecurity::Tls(material) => Some(TlsAcceptor::from(Arc::new(material.rustls_server_config()?))),
            TransportSecurity::Insecure => None,
        };
        Ok(HttpsListener { listener, tls })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `router` until `shutdown` fires (connections in progress are dropped then).
    pub async fn serve(self, router: Router, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::debug!(%err, "http accept failed");
                    continue;
                }
            };
            let (tls, router, shutdown) = (self.tls.clone(), router.clone(), shutdown.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = serve_connection(stream, tls, router) => {}
                }
                drop(permit);
                tracing::trace!(%peer, "http connection closed");
            });
        }
    }
}

/// The HTTP version a connection speaks, as its TLS handshake settled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, router: Router) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_http(TokioIo::new(stream), Protocol::Http1, None, router).await,
        Some(acceptor) => {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%err, "http TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let session = stream.get_ref().1;
            let peer = session.peer_certificates().and_then(|certs| certs.first()).map(|cert| PeerCertificate(cert.to_vec()));
            let protocol = if session.alpn_protocol() == Some(b"h2") { Protocol::Http2 } else { Protocol::Http1 };
            serve_http(TokioIo::new(stream), protocol, peer, router).await;
        }
    }
}

async fn serve_http<I>(io: TokioIo<I>, protocol: Protocol, peer: Option<PeerCertificate>, router: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        if let Some(peer) = &peer {
            request.extensions_mut().insert(peer.clone());
        }
        let mut router = router.clone();
        async move { Ok::<_, Infallible>(router.call(request).await.unwrap_or_else(|never| match never {})) }
    });
    let served = match protocol {
        Protocol::Http1 => hyper::server::conn::http1::Builder::new().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT).serve_connection(io, service).await,
        Protocol::Http2 => {
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
                .max_header_list_size(MAX_HEADER_BYTES)
                .keep_alive_interval(HANDSHAKE_TIMEOUT)
                .keep_alive_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(io, service)
                .await
        }
    };
    if let Err(err) = served {
        tracing::debug!(%err, "http connection ended with an error");
    }
}
