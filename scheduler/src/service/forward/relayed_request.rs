//! A call as a follower relays it to the leader, and the leader's answer as it comes back.

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use tonic::codegen::Bytes;
use tonic::metadata::{KeyAndValueRef, MetadataMap, MetadataValue};
use tonic::{Request, Response, Status};

use super::deadline;
use super::headers::{FORWARDED_BY, FORWARDED_CALLER};
use crate::service::access::{Caller, PresentedCertificate};

/// `request` as this replica (`me`) relays it for `caller`: the caller's own metadata (its
/// bearer token included), the relay marker, the caller's identity when a certificate
/// (the connection's, or one presented to this replica's HTTP listener) proved it, and the caller's deadline bounded by `bound`. Also returns that deadline.
pub fn relayed_request<T>(request: Request<T>, caller: &Caller, me: u64, bound: Option<Duration>) -> Result<(Request<T>, Option<Duration>), Status> {
    let deadline = deadline::relayed(deadline::caller_timeout(request.metadata()), bound);
    // A caller proven by a certificate (its connection's or [`PresentedCertificate`]), not by a
    // token that travels with the call.
    let proven_caller = request.peer_certs().is_some_and(|certs| !certs.is_empty()) || request.extensions().get::<PresentedCertificate>().is_some();
    let (metadata, _, message) = request.into_parts();
    let mut relayed = MetadataMap::new();
    for entry in metadata.iter() {
        match entry {
            KeyAndValueRef::Ascii(key, value) if relayable(key.as_str()) => {
                relayed.append(key.clone(), value.clone());
            }
            KeyAndValueRef::Binary(key, value) if relayable(key.as_str()) => {
                relayed.append_bin(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    relayed.insert(FORWARDED_BY, MetadataValue::from(me));
    if proven_caller && let Caller::Known(identity) = caller {
        let uri = identity.uri().parse().map_err(|_| Status::internal(format!("identity {identity} does not fit in metadata")))?;
        relayed.insert(FORWARDED_CALLER, uri);
    }
    let mut request = Request::from_parts(relayed, tonic::Extensions::new(), message);
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    Ok((request, deadline))
}

/// Whether a caller's metadata entry travels to the leader: not the protocol's own headers,
/// and never a forwarding header (this replica writes those itself).
fn relayable(key: &str) -> bool {
    !(key.starts_with("grpc-") || key.starts_with("x-shotfarm-forwarded") || matches!(key, "te" | "content-type" | "user-agent" | "host"))
}

/// The leader's answer to a relayed unary call, within `deadline`: its message, or its
/// status unchanged (code, message, details and the `x-shotfarm-` metadata such as the
/// leader hint). A failure to reach the leader at all is `UNAVAILABLE`, saying so.
pub async fn leader_answer<T>(leader_id: u64, deadline: Option<Duration>, call: impl Future<Output = Result<Response<T>, Status>>) -> Result<Response<T>, Status> {
    let answered = match deadline {
        Some(deadline) => tokio::time::timeout(deadline, call)
            .await
            .map_err(|_| Status::deadline_exceeded(format!("the leader (replica {leader_id}) did not answer within {deadline:?}; retry")))?,
        None => call.await,
    };
    answered.map(|response| Response::new(response.into_inner())).map_err(|status| leader_status(leader_id, status))
}

/// A status from the leader as this replica returns it (see [`leader_answer`]).
pub fn leader_status(leader_id: u64, status: Status) -> Status {
    if let Some(cause) = status.source() {
        // Raised here, not sent by the leader: the connection failed.
        let cause = cause.to_string();
        let why = if status.message().contains(&cause) { status.message().to_owned() } else { format!("{}: {cause}", status.message()) };
        return Status::unavailable(format!("this replica cannot reach the leader (replica {leader_id}): {why}; retry"));
    }
    let mut metadata = MetadataMap::new();
    for entry in status.metadata().iter() {
        if let KeyAndValueRef::Ascii(key, value) = entry
            && key.as_str().starts_with("x-shotfarm-")
        {
            metadata.append(key.clone(), value.clone());
        }
    }
    Status::with_details_and_metadata(status.code(), status.message(), Bytes::copy_from_slice(status.details()), metadata)
}

#[cfg(test)]
mod tests {
    use shotfarm_security::{Identity, Role};

    use super::*;

    #[test]
    fn the_callers_metadata_travels_with_the_marker_and_a_bounded_deadline() {
        let mut request = Request::new(());
        let metadata = request.metadata_mut();
        metadata.insert("authorization", "Bearer sft_x".parse().unwrap());
        metadata.insert("grpc-timeout", "60S".parse().unwrap());
        metadata.insert("traceparent", "00-ab-cd-01".parse().unwrap());
        metadata.insert(FORWARDED_CALLER, "shotfarm://operator/forged".parse().unwrap());
        let caller = Caller::Known(Identity::new(Role::Submitter, "ann").unwrap());
        let (relayed, deadline) = relayed_request(request, &caller, 2, Some(Duration::from_secs(30))).unwrap();
        assert_eq!(deadline, Some(Duration::from_secs(30)));
        let metadata = relayed.metadata();
        assert_eq!(metadata.get("authorization").unwrap(), "Bearer sft_x");
        assert_eq!(metadata.get("traceparent").unwrap(), "00-ab-cd-01");
        assert_eq!(metadata.get(FORWARDED_BY).unwrap(), "2");
        assert_eq!(metadata.get("grpc-timeout").unwrap(), "30000000u");
        // A token caller (no certificate) is named by its token alone; a claim it sent is dropped.
        assert!(metadata.get(FORWARDED_CALLER).is_none());
    }

    #[test]
    fn a_leaders_status_comes_back_unchanged_and_a_lost_connection_says_so() {
        let hint = shotfarm_proto::leader_hint::not_leader(Some((3, "127.0.0.1:7003")));
        let back = leader_status(1, hint.clone());
        assert_eq!((back.code(), back.message()), (hint.code(), hint.message()));
        assert_eq!(shotfarm_proto::leader_hint::leader_addr(&back).as_deref(), Some("127.0.0.1:7003"));
        let lost = leader_status(1, Status::from_error(Box::new(std::io::Error::other("connection refused"))));
        assert_eq!(lost.code(), tonic::Code::Unavailable);
        assert!(lost.message().contains("cannot reach the leader (replica 1)") && lost.message().contains("connection refused"), "{}", lost.message());
    }
}
