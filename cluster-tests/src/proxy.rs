//! A controllable TCP proxy for fault tests, in the test process and without root: one
//! listener per directed link, forwarding every accepted connection to one target address.
//! A test switches the link's [`LinkFault`] at any time; the change applies at once to new
//! and existing connections.
//!
//! ```text
//!  dialler ──▶ LinkProxy (127.0.0.1:random) ──▶ target
//!              per connection, per direction: reader ─(bounded queue)─▶ writer
//!              the writer asks the current fault what to do with each chunk
//! ```
//!
//! - **heal**: bytes flow both ways.
//! - **blackhole**: connections are still accepted, but nothing is forwarded either way and
//!   new connections are not dialled through; bytes already read are held and the senders
//!   block once the bounded queue and the socket buffers fill — a partition shorter than
//!   TCP's retransmission timeout. On heal the held bytes arrive in order.
//! - **drop one direction**: bytes one way are read and thrown away, the other way flows.
//!   A connection that lost bytes carries a broken stream, so healing closes it (as a peer
//!   would after its retransmission timeout).
//! - **delay**: each chunk is delivered a fixed time plus up to `jitter` after it was read,
//!   never before an earlier chunk (no reordering inside a stream).
//! - **reset**: closes every existing connection; new ones are accepted as before.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes read at once from one side.
const CHUNK: usize = 16 << 10;
/// Chunks read but not yet written, per direction: beyond this the reader stops reading and
/// TCP flow control pushes back on the sender.
const QUEUED_CHUNKS: usize = 64;

/// One way through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the dialler to the target (requests).
    ToTarget,
    /// From the target back to the dialler (responses).
    FromTarget,
}

/// What a link does to the bytes crossing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    Healthy,
    Blackhole,
    Drop(Direction),
    Delay { fixed: Duration, jitter: Duration },
}

/// A proxy for one directed link; it stops when dropped.
pub struct LinkProxy {
    addr: SocketAddr,
    target: SocketAddr,
    fault: watch::Sender<LinkFault>,
    /// Bumped by [`LinkProxy::reset`]: connections accepted before it close.
    resets: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl LinkProxy {
    /// Listens on a free loopback port and forwards to `target`. Needs a tokio runtime.
    pub async fn start(target: SocketAddr) -> std::io::Result<LinkProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(LinkFault::Healthy);
        let (resets, _) = watch::channel(0);
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, target, fault.subscribe(), resets.subscribe(), accepted.clone(), stop.clone()));
        Ok(LinkProxy { addr, target, fault, resets, accepted, stop })
    }

    /// Where diallers connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    pub fn fault(&self) -> LinkFault {
        *self.fault.borrow()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn set(&self, fault: LinkFault) {
        self.fault.send_replace(fault);
    }

    pub fn heal(&self) {
        self.set(LinkFault::Healthy);
    }

    pub fn blackhole(&self) {
        self.set(LinkFault::Blackhole);
    }

    pub fn drop_direction(&self, direction: Direction) {
        self.set(LinkFault::Drop(direction));
    }

    pub fn delay(&self, fixed: Duration, jitter: Duration) {
        self.set(LinkFault::Delay { fixed, jitter });
    }

    /// Closes every connection open now.
    pub fn reset(&self) {
        self.resets.send_modify(|generation| *generation += 1);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    fault: watch::Receiver<LinkFault>,
    resets: watch::Receiver<u64>,
    accepted: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    loop {
        let inbound = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            inbound = listener.accept() => inbound,
        };
        match inbound {
            Ok((inbound, _)) => {
                accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(inbound, target, fault.clone(), resets.clone(), stop.clone()));
            }
            // Out of descriptors or a connection aborted before accept: try again shortly.
            Err(err) => {
                tracing::debug!(%err, "proxy accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Carries one accepted connection until either side closes, a reset, or the proxy stops.
async fn connection(inbound: TcpStream, target: SocketAddr, mut fault: watch::Receiver<LinkFault>, mut resets: watch::Receiver<u64>, stop: CancellationToken) {
    resets.mark_unchanged();
    // A blackholed link does not even reach the target: the dialler's connection just hangs.
    let dial = async {
        fault.wait_for(|fault| *fault != LinkFault::Blackhole).await.ok()?;
        TcpStream::connect(target).await.ok()
    };
    let outbound = tokio::select! {
        biased;
        () = stop.cancelled() => return,
        _ = resets.changed() => return,
        outbound = dial => outbound,
    };
    // The target is down: close the dialler's connection, as a refused connection would.
    let Some(outbound) = outbound else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (inbound_read, inbound_write) = inbound.into_split();
    let (outbound_read, outbound_write) = outbound.into_split();
    let lost_bytes = Arc::new(AtomicBool::new(false));
    let both_ways = async {
        tokio::join!(
            pump(inbound_read, outbound_write, Direction::ToTarget, fault.clone(), &lost_bytes),
            pump(outbound_read, inbound_write, Direction::FromTarget, fault.clone(), &lost_bytes),
        )
    };
    tokio::select! {
        biased;
        () = stop.cancelled() => {}
        _ = resets.changed() => {}
        () = healed_after_loss(fault.clone(), &lost_bytes) => {}
        _ = both_ways => {}
    }
}

/// Resolves once the link no longer drops bytes after this connection lost some.
async fn healed_after_loss(mut fault: watch::Receiver<LinkFault>, lost_bytes: &AtomicBool) {
    loop {
        if fault.changed().await.is_err() {
            return std::future::pending().await;
        }
        let dropping = matches!(*fault.borrow_and_update(), LinkFault::Drop(_));
        if !dropping && lost_bytes.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// Moves bytes one way: a reader queues chunks with the time they were read; a writer
/// delivers, holds, delays or drops each as the link's fault says.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, direction: Direction, mut fault: watch::Receiver<LinkFault>, lost_bytes: &AtomicBool) {
    let (chunks, mut queued) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUED_CHUNKS);
    let reader = async move {
        let mut buffer = vec![0; CHUNK];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if chunks.send((Instant::now(), buffer[..read].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        let mut last_due = Instant::now();
        while let Some((read_at, chunk)) = queued.recv().await {
            let mut due = None;
            loop {
                let current = *fault.borrow_and_update();
                match current {
                    LinkFault::Blackhole => {
                        if fault.changed().await.is_err() {
                            return;
                        }
                    }
                    LinkFault::Drop(dropped) if dropped == direction => {
                        lost_bytes.store(true, Ordering::Relaxed);
                        break;
                    }
                    LinkFault::Delay { fixed, jitter } if due.is_none_or(|due| Instant::now() < due) => {
                        let when = *due.get_or_insert_with(|| {
                            let extra = if jitter.is_zero() { Duration::ZERO } else { rand::rng().random_range(Duration::ZERO..=jitter) };
                            (read_at + fixed + extra).max(last_due)
                        });
                        last_due = when;
                        // Wake early if the fault changes (a heal delivers at once, a blackhole holds).
                        tokio::select! {
                            () = tokio::time::sleep_until(when) => {}
                            changed = fault.changed() => if changed.is_err() { return },
                        }
                    }
                    LinkFault::Healthy | LinkFault::Drop(_) | LinkFault::Delay { .. } => {
                        if to.write_all(&chunk).await.is_err() {
                            return;
                        }
                        break;
                    }
                }
            }
        }
        // The other side finished sending: pass the end of stream on.
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Greets every connection with `hello\n`, then echoes; records what it received.
    async fn echo_server() -> (SocketAddr, Arc<std::sync::Mutex<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    if stream.write_all(b"hello\n").await.is_err() {
                        return;
                    }
                    let mut buffer = [0; 4096];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 {
                            return;
                        }
                        seen.lock().expect("lock").extend_from_slice(&buffer[..read]);
                        if stream.write_all(&buffer[..read]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, received)
    }

    async fn read_exact(stream: &mut TcpStream, len: usize, within: Duration) -> Option<Vec<u8>> {
        let mut buffer = vec![0; len];
        tokio::time::timeout(within, stream.read_exact(&mut buffer)).await.ok()?.ok()?;
        Some(buffer)
    }

    /// Whether the stream reaches its end (or fails) within `within`.
    async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buffer = [0; 64];
        matches!(tokio::time::timeout(within, stream.read(&mut buffer)).await, Ok(Ok(0) | Err(_)))
    }

    const SHORT: Duration = Duration::from_millis(300);
    const LONG: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn healthy_link_forwards_both_ways() {
        let (target, _) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(read_exact(&mut stream, 6, LONG).await.as_deref(), Some(&b"hello\n"[..]));
        stream.write_all(b"ping").await.expect("write");
        assert_eq!(read_exact(&mut stream, 4, LONG).await.as_deref(), Some(&b"ping"[..]));
        assert_eq!(proxy.accepted(), 1);
    }

    #[tokio::test]
    async fn blackhole_holds_bytes_both_ways_until_healed() {
        let (target, received) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert!(read_exact(&mut open, 6, LONG).await.is_some());
        proxy.blackhole();
        open.write_all(b"held").await.expect("write");
        let mut late = TcpStream::connect(proxy.addr()).await.expect("a blackholed link still accepts");
        assert_eq!(read_exact(&mut open, 4, SHORT).await, None, "nothing crosses a blackhole");
        assert_eq!(read_exact(&mut late, 6, SHORT).await, None, "a new connection is not dialled through");
        assert!(received.lock().expect("lock").is_empty());
        proxy.heal();
        assert_eq!(read_exact(&mut open, 4, LONG).await.as_deref(), Some(&b"held"[..]), "held bytes arrive after healing");
        assert_eq!(read_exact(&mut late, 6, LONG).await.as_deref(), Some(&b"hello\n"[..]));
    }

    #[tokio::test]
    async fn dropping_requests_lets_responses_flow_and_healing_closes_the_broken_stream() {
        let (target, received) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        proxy.drop_direction(Direction::ToTarget);
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(read_exact(&mut stream, 6, LONG).await.as_deref(), Some(&b"hello\n"[..]), "target → dialler flows");
        stream.write_all(b"lost").await.expect("write");
        assert_eq!(read_exact(&mut stream, 4, SHORT).await, None);
        assert!(received.lock().expect("lock").is_empty(), "dialler → target bytes vanish");
        proxy.heal();
        assert!(closes_within(&mut stream, LONG).await, "a stream that lost bytes is closed on heal");
    }

    #[tokio::test]
    async fn dropping_responses_lets_requests_through() {
        let (target, received) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        proxy.drop_direction(Direction::FromTarget);
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
        stream.write_all(b"ping").await.expect("write");
        assert_eq!(read_exact(&mut stream, 6, SHORT).await, None, "target → dialler bytes vanish");
        let arrived = tokio::time::timeout(LONG, async {
            while received.lock().expect("lock").as_slice() != b"ping" {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert!(arrived.await.is_ok(), "dialler → target flows");
    }

    #[tokio::test]
    async fn delay_holds_each_chunk_and_keeps_order() {
        let (target, _) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert!(read_exact(&mut stream, 6, LONG).await.is_some());
        proxy.delay(Duration::from_millis(150), Duration::from_millis(50));
        let started = std::time::Instant::now();
        let mut sent = Vec::new();
        for index in 0..50u8 {
            stream.write_all(&[index]).await.expect("write");
            sent.push(index);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let echoed = read_exact(&mut stream, sent.len(), LONG).await.expect("echo");
        assert_eq!(echoed, sent, "jitter must not reorder bytes");
        assert!(started.elapsed() >= Duration::from_millis(300), "both ways delayed: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn reset_closes_open_connections_and_accepts_new_ones() {
        let (target, _) = echo_server().await;
        let proxy = LinkProxy::start(target).await.expect("proxy");
        let mut old = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert!(read_exact(&mut old, 6, LONG).await.is_some());
        proxy.reset();
        assert!(closes_within(&mut old, LONG).await, "reset closes the open connection");
        let mut fresh = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(read_exact(&mut fresh, 6, LONG).await.as_deref(), Some(&b"hello\n"[..]));
    }

    #[tokio::test]
    async fn a_dead_target_closes_the_dialler_connection() {
        let target = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr")
        };
        let proxy = LinkProxy::start(target).await.expect("proxy");
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("the proxy accepts");
        assert!(closes_within(&mut stream, LONG).await, "refused upstream → closed downstream");
    }
}
