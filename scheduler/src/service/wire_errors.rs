//! Statuses tonic sets before a service runs, reworded to say what the caller did wrong, as
//! gRPC's status code guide asks of servers: a request body that is not the method's
//! protobuf message is `INVALID_ARGUMENT` (tonic says `INTERNAL`, as if the server were
//! broken), and a request over the service's size limit is `RESOURCE_EXHAUSTED` (tonic says
//! `OUT_OF_RANGE`). Every service of a replica is wrapped in [`WireErrors`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::Service;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::server::NamedService;
use tonic::{Code, Status};

/// A service whose refusals of malformed or oversize requests carry the right code.
#[derive(Debug, Clone)]
pub struct WireErrors<S>(pub S);

impl<S: NamedService> NamedService for WireErrors<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for WireErrors<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let answered = self.0.call(request);
        Box::pin(async move {
            let mut response = answered.await?;
            reword(response.headers_mut());
            Ok(response)
        })
    }
}

/// Rewrites a trailers-only status (tonic's answer to a request it could not decode).
fn reword(headers: &mut HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else { return };
    let reworded = match status.code() {
        Code::Internal if status.message().starts_with("failed to decode Protobuf message") => Status::invalid_argument(format!(
            "the request is not a valid protobuf message of this method ({}); send the message its .proto declares",
            status.message()
        )),
        Code::OutOfRange if status.message().contains("message length too large") => Status::resource_exhausted(format!(
            "the request is larger than this service accepts ({}); send smaller requests",
            status.message().trim_start_matches("Error, ")
        )),
        _ => return,
    };
    if let Err(err) = reworded.add_header(headers) {
        tracing::debug!(%err, "cannot reword a status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reworded(status: Status) -> Status {
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).expect("encodes");
        reword(&mut headers);
        Status::from_header_map(&headers).expect("a status")
    }

    #[test]
    fn decode_errors_are_invalid_arguments_and_oversize_requests_resource_exhausted() {
        let garbled = reworded(Status::internal("failed to decode Protobuf message: invalid wire type"));
        assert_eq!(garbled.code(), Code::InvalidArgument);
        assert!(garbled.message().contains("invalid wire type"), "{}", garbled.message());
        let large = reworded(Status::out_of_range("Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes"));
        assert_eq!(large.code(), Code::ResourceExhausted);
        assert!(large.message().starts_with("the request is larger"), "{}", large.message());
        let other = reworded(Status::internal("storage failed"));
        assert_eq!((other.code(), other.message()), (Code::Internal, "storage failed"));
    }
}
