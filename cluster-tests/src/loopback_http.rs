//! An HTTP/1.1 server on a free loopback port, for the receivers the tests stand up (job
//! callbacks, OTLP traces): every request goes to one handler, until a token stops it.

use std::future::Future;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Listens on 127.0.0.1 and answers each request with `handle` until `stop` fires; the address.
pub async fn serve<Handle, Answer>(handle: Handle, stop: CancellationToken) -> anyhow::Result<SocketAddr>
where
    Handle: Fn(Request<Incoming>) -> Answer + Clone + Send + Sync + 'static,
    Answer: Future<Output = Result<Response<Full<Bytes>>, hyper::Error>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted { Ok((stream, _)) => stream, Err(_) => continue },
            };
            let service = hyper::service::service_fn(handle.clone());
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Ok(addr)
}
