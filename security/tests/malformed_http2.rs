//! What a peer that speaks broken HTTP/2 gets from an operator HTTPS listener: the exchange
//! ended (GOAWAY, RST_STREAM or the connection closed) within seconds, never a hang, a panic
//! or a served request; and the listener keeps answering well-formed requests afterwards.
//! Frames are written by hand over TLS with ALPN `h2`, as an attacker would.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use shotfarm_security::authority::Authority;
use shotfarm_security::https::HttpsListener;
use shotfarm_security::{Identity, Role, TlsFiles, TransportSecurity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame types and flags (RFC 9113 §6).
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
/// GOAWAY's error for a frame over the maximum size (RFC 9113 §7).
const FRAME_SIZE_ERROR: u32 = 0x6;
/// A GET of `/` for `localhost` in HPACK: `:method GET`, `:scheme https`, `:path /` from the
/// static table, `:authority` literal with its name indexed.
const GET_ROOT: &[u8] = b"\x82\x87\x84\x41\x09localhost";

/// One frame: 24-bit length, type, flags, stream id, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    [&length[1..], &[kind, flags], &stream.to_be_bytes(), payload].concat()
}

/// How the server ended an exchange.
#[derive(Debug, PartialEq)]
enum Ending {
    GoAway { error: u32 },
    Reset { stream: u32, error: u32 },
    Closed,
    /// A response's HEADERS on stream 1: its status.
    Answered { status: u16 },
}

/// What a broken exchange must get.
enum Expected {
    /// The connection ended: a GOAWAY (any error) or closed.
    Ended,
    /// A GOAWAY with this error.
    GoAway(u32),
    /// An answer on the stream with this status.
    Status(u16),
}

impl Expected {
    fn accepts(&self, ending: &Ending) -> bool {
        match (self, ending) {
            (Expected::Ended, Ending::GoAway { .. } | Ending::Closed) => true,
            (Expected::GoAway(error), Ending::GoAway { error: found }) => error == found,
            (Expected::Status(status), Ending::Answered { status: found }) => status == found,
            _ => false,
        }
    }
}

struct Farm {
    addr: SocketAddr,
    connector: TlsConnector,
    shutdown: CancellationToken,
}

/// A listener with a replica's certificate from a fresh farm CA, serving `/` with "ok".
async fn listener(dir: &std::path::Path) -> Farm {
    let authority = Authority::init_dir(dir, "farm", 1).unwrap();
    let replica = Identity::new(Role::Replica, "1").unwrap();
    let issued = authority.issue_into(dir, &replica, &["localhost".to_owned(), "127.0.0.1".to_owned()], 1).unwrap();
    let files = TlsFiles { ca: Some(dir.join("ca.pem")), cert: Some(issued.cert), key: Some(issued.key) };
    let security = TransportSecurity::from_flags(&files, false, true).unwrap();
    let bound = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = bound.local_addr().unwrap();
    let listener = HttpsListener::from_listener(bound, &security).unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(listener.serve(Router::new().route("/", get(|| async { "ok" })), shutdown.clone()));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(authority.cert_pem().as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Farm { addr, connector: TlsConnector::from(Arc::new(config)), shutdown }
}

impl Farm {
    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let stream = self.connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "the listener speaks HTTP/2");
        stream
    }

    /// Sends `bytes` on a fresh connection and reads frames until the server ends the exchange
    /// or answers stream 1; `None` if it does neither within 5 s.
    async fn exchange(&self, bytes: &[u8]) -> Option<Ending> {
        let mut stream = self.connect().await;
        // The server may close while this is being written: that is an ending too.
        if stream.write_all(bytes).await.is_err() || stream.flush().await.is_err() {
            return Some(Ending::Closed);
        }
        tokio::time::timeout(Duration::from_secs(5), read_ending(&mut stream)).await.ok()
    }
}

async fn read_ending(stream: &mut TlsStream<TcpStream>) -> Ending {
    let mut header = [0u8; 9];
    loop {
        if stream.read_exact(&mut header).await.is_err() {
            return Ending::Closed;
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        if stream.read_exact(&mut payload).await.is_err() {
            return Ending::Closed;
        }
        let stream_id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let word = |at: usize| payload.get(at..at + 4).map_or(0, |bytes| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        match header[3] {
            GOAWAY => return Ending::GoAway { error: word(4) },
            RST_STREAM => return Ending::Reset { stream: stream_id, error: word(0) },
            HEADERS if stream_id == 1 => return Ending::Answered { status: status_of(&payload) },
            // SETTINGS and its acknowledgement, WINDOW_UPDATE, PING: read on.
            _ => {}
        }
    }
}

/// The `:status` a response header block opens with, as the server's HPACK encoder writes
/// it: indexed (`0x88`: 200) or a literal with the `:status` name indexed (`0x48`), its value
/// in plain text or Huffman-coded; 0 for anything else.
fn status_of(block: &[u8]) -> u16 {
    match block {
        [0x88, ..] => 200,
        [0x48, length, value @ ..] if length & 0x80 == 0 => value.get(..usize::from(*length)).and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok()).unwrap_or(0),
        [0x48, length, value @ ..] => huffman_digits(value.get(..usize::from(length & 0x7f)).unwrap_or_default()),
        _ => 0,
    }
}

/// Three HPACK-Huffman-coded digits (RFC 7541 Appendix B: '0'–'2' are 5-bit codes 0x0–0x2,
/// '3'–'9' 6-bit codes 0x19–0x1f), as a number.
fn huffman_digits(bytes: &[u8]) -> u16 {
    let bits: String = bytes.iter().map(|byte| format!("{byte:08b}")).collect();
    let (mut at, mut value) = (0, 0u16);
    for _ in 0..3 {
        let digit = match bits.get(at..at + 5).and_then(|code| u8::from_str_radix(code, 2).ok()) {
            Some(code @ 0..=2) => {
                at += 5;
                code
            }
            _ => match bits.get(at..at + 6).and_then(|code| u8::from_str_radix(code, 2).ok()) {
                Some(code @ 0x19..=0x1f) => {
                    at += 6;
                    code - 0x19 + 3
                }
                _ => return 0,
            },
        };
        value = value * 10 + u16::from(digit);
    }
    value
}

/// The client's opening: the preface and an empty SETTINGS frame.
fn opening() -> Vec<u8> {
    [PREFACE, &frame(SETTINGS, 0, 0, &[])].concat()
}

#[tokio::test]
async fn broken_http2_ends_the_exchange_and_the_listener_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let farm = listener(dir.path()).await;
    let well_formed = [opening(), frame(HEADERS, END_STREAM | END_HEADERS, 1, GET_ROOT)].concat();
    assert_eq!(farm.exchange(&well_formed).await, Some(Ending::Answered { status: 200 }), "a well-formed GET is answered 200");

    // A header block of 70 KiB of literal headers, over the listener's 64 KiB limit, sent as
    // HEADERS and a run of CONTINUATION frames.
    let mut large = GET_ROOT.to_vec();
    for index in 0..70 {
        let name = format!("x-filler-{index:03}");
        large.extend([0x00, name.len() as u8]);
        large.extend(name.as_bytes());
        large.extend([0x7f, 0xe9, 0x06]); // a 1,000-byte value: 127 + 873 (0xe9 0x06: 0x69 + 6·128)
        large.extend(std::iter::repeat_n(b'a', 1000));
    }
    let mut oversized = [opening(), frame(HEADERS, END_STREAM, 1, &large[..16_000])].concat();
    let tail: Vec<&[u8]> = large[16_000..].chunks(16_000).collect();
    for (index, piece) in tail.iter().enumerate() {
        oversized.extend(frame(CONTINUATION, if index + 1 == tail.len() { END_HEADERS } else { 0 }, 1, piece));
    }

    let cases: [(&str, Vec<u8>, Expected); 6] = [
        ("an HTTP/1.1 request where the preface belongs", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(), Expected::Ended),
        ("a frame longer than the 16 KiB maximum frame size", [opening(), [0xff, 0xff, 0xff, HEADERS, END_HEADERS, 0, 0, 0, 1].to_vec(), vec![0u8; 64]].concat(), Expected::GoAway(FRAME_SIZE_ERROR)),
        ("a header block HPACK cannot decode", [opening(), frame(HEADERS, END_STREAM | END_HEADERS, 1, &[0xff; 32])].concat(), Expected::Ended),
        ("a CONTINUATION frame with no HEADERS before it", [opening(), frame(CONTINUATION, END_HEADERS, 1, GET_ROOT)].concat(), Expected::Ended),
        ("a request on an even (server-initiated) stream", [opening(), frame(HEADERS, END_STREAM | END_HEADERS, 2, GET_ROOT)].concat(), Expected::Ended),
        ("a header list over the 64 KiB limit", oversized, Expected::Status(431)),
    ];
    for (what, bytes, expected) in cases {
        let ending = farm.exchange(&bytes).await;
        assert!(ending.as_ref().is_some_and(|ending| expected.accepts(ending)), "{what}: the server {}", match &ending {
            None => "neither answered nor ended the exchange within 5 s".to_owned(),
            Some(other) => format!("ended it with {other:?}"),
        });
        // And the listener still answers the next client.
        assert_eq!(farm.exchange(&well_formed).await, Some(Ending::Answered { status: 200 }), "after {what}, a well-formed GET is answered 200");
    }
    farm.shutdown.cancel();
}
