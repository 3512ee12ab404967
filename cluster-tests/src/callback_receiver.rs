//! A receiver of job callbacks, as a pipeline would run one: an HTTP/1.1 server on
//! 127.0.0.1 that checks each POST's `Shotfarm-Signature` against the shared secret,
//! answers 503 to the first attempt of every event when asked to (so the farm's retry is
//! exercised), and deduplicates by `Shotfarm-Event-Id` as the farm's at-least-once delivery
//! asks receivers to. Everything it saw is kept for the test to judge; it stops when dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use shotfarm_scheduler::callbacks::signature::{EVENT_ID_HEADER, SIGNATURE_HEADER, verify};
use tokio_util::sync::CancellationToken;

use crate::loopback_http;

/// How far a signature's time may be from the receiver's clock.
const TOLERANCE_S: u64 = 300;

/// One POST as it arrived.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub path: String,
    pub event_id: String,
    pub body: String,
    /// Why the signature did not verify; none when it did.
    pub signature_error: Option<String>,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Seen {
    attempts: Vec<Attempt>,
    /// Event ids taken (answered 2xx), in order: the deduplicated stream.
    taken: Vec<(String, String)>,
}

pub struct CallbackReceiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
}

impl CallbackReceiver {
    /// Listens on a free loopback port. `refuse_first`: answer 503 to each event's first attempt.
    pub async fn start(secret: &[u8], refuse_first: bool) -> anyhow::Result<CallbackReceiver> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let (secret, shared) = (Arc::<[u8]>::from(secret), seen.clone());
        let addr = loopback_http::serve(move |request| receive(request, secret.clone(), shared.clone(), refuse_first), stop.clone()).await?;
        Ok(CallbackReceiver { addr, seen, stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.seen.lock().map(|seen| seen.attempts.clone()).unwrap_or_default()
    }

    /// The events taken, each once, in the order they were first taken: (id, body).
    pub fn events(&self) -> Vec<(String, String)> {
        self.seen.lock().map(|seen| seen.taken.clone()).unwrap_or_default()
    }
}

impl Drop for CallbackReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(request: Request<Incoming>, secret: Arc<[u8]>, seen: Arc<Mutex<Seen>>, refuse_first: bool) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let (event_id, signature) = (header(EVENT_ID_HEADER), header(SIGNATURE_HEADER));
    let body = request.into_body().collect().await?.to_bytes();
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    let signature_error = verify(&secret, &signature, &body, now_s, TOLERANCE_S).err().map(|err| err.to_string());
    let body = String::from_utf8_lossy(&body).into_owned();
    let Ok(mut seen) = seen.lock() else { return Ok(answer(StatusCode::INTERNAL_SERVER_ERROR)) };
    let tried_before = seen.attempts.iter().any(|attempt| attempt.event_id == event_id);
    let status = if signature_error.is_some() {
        StatusCode::UNAUTHORIZED
    } else if refuse_first && !tried_before {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        if !seen.taken.iter().any(|(id, _)| *id == event_id) {
            seen.taken.push((event_id.clone(), body.clone()));
        }
        StatusCode::NO_CONTENT
    };
    seen.attempts.push(Attempt { path, event_id, body, signature_error, status: status.as_u16() });
    Ok(answer(status))
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"")));
    *response.status_mut() = status;
    response
}
