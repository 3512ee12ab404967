//! `WatchJob` through a follower: the leader's event stream relayed as it comes. It ends
//! when the leader ends it (the job finished, or the leader's own status), when the client
//! goes, or — with `UNAVAILABLE`, which a client retries by watching again — as soon as
//! this replica sees another leader (or none), so a watch through a follower never hangs
//! on a leader that is gone.

use std::time::Duration;

use shotfarm_proto::v1;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status, Streaming};

use super::deadline::UNARY_BOUND;
use super::relayed_request::{leader_answer, leader_status};
use crate::replica_node::ReplicaInfo;
use crate::replica_node::stream_end::StreamEnd;
use crate::service::jobs::WatchStream;

/// Relays the stream `opened` (the leader's `WatchJob`) once it opens within the caller's
/// deadline or [`UNARY_BOUND`].
pub async fn relay(
    mut info: watch::Receiver<ReplicaInfo>,
    leader_id: u64,
    deadline: Option<Duration>,
    opened: impl Future<Output = Result<Response<Streaming<v1::JobEvent>>, Status>>,
) -> Result<Response<WatchStream>, Status> {
    let opening = Some(deadline.map_or(UNARY_BOUND, |deadline| deadline.min(UNARY_BOUND)));
    let mut upstream = leader_answer(leader_id, opening, opened).await?.into_inner();
    let (events, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                biased;
                () = events.closed() => return,
                ended = leader_gone(&mut info, leader_id) => Err(ended),
                message = upstream.message() => match message {
                    Ok(Some(event)) => Ok(event),
                    Ok(None) => return,
                    Err(status) => Err(leader_status(leader_id, status)),
                },
            };
            let last = next.is_err();
            if events.send(next).await.is_err() || last {
                return;
            }
        }
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
}

/// Waits until this replica sees a leader other than `leader_id` (or none), or stops.
async fn leader_gone(info: &mut watch::Receiver<ReplicaInfo>, leader_id: u64) -> Status {
    loop {
        let now = info.borrow_and_update().leader_id;
        if now != leader_id {
            let who = if now == 0 { "no leader is known yet".to_owned() } else { format!("replica {now} leads now") };
            return Status::unavailable(format!("the leader changed while relaying the watch (replica {leader_id} led; {who}); watch the job again"));
        }
        if info.changed().await.is_err() {
            return StreamEnd::ShuttingDown.into();
        }
    }
}
