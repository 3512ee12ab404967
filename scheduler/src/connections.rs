//! The accept side of a replica's gRPC listener: a cap on open connections and a read-idle
//! timeout on each, so that silent or abandoned connections (an attacker's thousand open
//! sockets that never send a byte) neither pile up nor crowd out real clients.
//!
//! A live HTTP/2 peer is never idle here: the server pings every connection more often than
//! the timeout (`server::services`), and every peer answers a ping. A connection over the cap
//! is closed as soon as it is accepted; one silent for [`ConnectionLimits::idle_timeout`] is
//! closed with a timed-out read, which ends its HTTP/2 connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How many connections a replica keeps open, and how long one may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// Open connections, shared by the listener and every connection's guard.
#[derive(Debug, Default)]
struct OpenCount {
    open: AtomicUsize,
    /// Whether the last connection accepted was refused (so a flood logs once, not per socket).
    refusing: AtomicBool,
}

/// Accepted connections within the limits: the stream `serve_with_incoming` takes.
pub fn incoming(listener: TcpListener, limits: ConnectionLimits) -> impl Stream<Item = io::Result<LimitedConnection>> {
    let count = Arc::new(OpenCount::default());
    futures::stream::unfold(listener, move |listener| {
        let count = Arc::clone(&count);
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    // A failed accept (out of file descriptors, a reset before accept) ends
                    // no other connection; try again after a pause.
                    Err(err) => {
                        tracing::warn!(%err, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if count.open.load(Ordering::Acquire) >= limits.max_connections {
                    if !count.refusing.swap(true, Ordering::AcqRel) {
                        tracing::warn!(%peer, max_connections = limits.max_connections, "too many open connections; closing new ones until some end");
                    }
                    drop(stream);
                    continue;
                }
                count.refusing.store(false, Ordering::Release);
                if let Err(err) = stream.set_nodelay(true) {
                    // Nagle's algorithm would hold small replies for tens of milliseconds.
                    tracing::debug!(%err, "cannot set TCP_NODELAY");
                }
                count.open.fetch_add(1, Ordering::AcqRel);
                let connection = LimitedConnection {
                    stream,
                    idle_timeout: limits.idle_timeout,
                    idle: Box::pin(tokio::time::sleep(limits.idle_timeout)),
                    count: Arc::clone(&count),
                };
                return Some((Ok(connection), listener));
            }
        }
    })
}

/// One accepted connection: counted while open, closed after a silence of `idle_timeout`.
pub struct LimitedConnection {
    stream: TcpStream,
    idle_timeout: Duration,
    /// Fires `idle_timeout` after the last byte read.
    idle: Pin<Box<Sleep>>,
    count: Arc<OpenCount>,
}

impl Drop for LimitedConnection {
    fn drop(&mut self) {
        self.count.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Connected for LimitedConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for LimitedConnection {
    fn poll_read(mut self: Pin<&mut Self>, context: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let filled = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(context, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > filled {
                    let deadline = Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(deadline);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.idle.as_mut().poll(context) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle past the timeout; closed"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for LimitedConnection {
    fn poll_write(mut self: Pin<&mut Self>, context: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, context: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(context, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;
    use tokio::io::AsyncWriteExt as _;
    use tokio_stream::StreamExt as _;

    use super::*;

    async fn listening(limits: ConnectionLimits) -> (std::net::SocketAddr, tokio::sync::mpsc::Receiver<LimitedConnection>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let mut accepted = std::pin::pin!(incoming(listener, limits));
            while let Some(Ok(connection)) = accepted.next().await {
                if sender.send(connection).await.is_err() {
                    return;
                }
            }
        });
        (addr, receiver)
    }

    /// Whether the server closed `client`: a read ends (EOF or reset) rather than waiting.
    async fn closed_by_server(client: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        matches!(tokio::time::timeout(Duration::from_millis(500), client.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_room_comes_back_when_one_ends() {
        let (addr, mut accepted) = listening(ConnectionLimits { max_connections: 3, idle_timeout: Duration::from_secs(60) }).await;
        let mut clients = Vec::new();
        let mut held = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.expect("connects"));
            held.push(accepted.recv().await.expect("accepted"));
        }
        let mut refused = TcpStream::connect(addr).await.expect("the kernel accepts");
        assert!(closed_by_server(&mut refused).await, "a fourth connection was kept open");
        drop(held.pop());
        let mut later = TcpStream::connect(addr).await.expect("connects");
        let mut connection = tokio::time::timeout(Duration::from_secs(2), accepted.recv()).await.expect("accepted in time").expect("accepted");
        later.write_all(b"x").await.expect("writes");
        let mut byte = [0u8; 1];
        connection.read_exact(&mut byte).await.expect("the server reads it");
    }

    #[tokio::test]
    async fn a_silent_connection_ends_after_the_idle_timeout_and_a_talking_one_does_not() {
        let (addr, mut accepted) = listening(ConnectionLimits { max_connections: 8, idle_timeout: Duration::from_millis(300) }).await;
        let _silent_client = TcpStream::connect(addr).await.expect("connects");
        let mut silent = accepted.recv().await.expect("accepted");
        let mut talking_client = TcpStream::connect(addr).await.expect("connects");
        let mut talking = accepted.recv().await.expect("accepted");
        let started = Instant::now();
        let mut byte = [0u8; 1];
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            talking_client.write_all(b"x").await.expect("writes");
            talking.read_exact(&mut byte).await.expect("a talking connection stays open");
        }
        let error = silent.read(&mut byte).await.expect_err("a silent connection times out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
