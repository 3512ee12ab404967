//! The dashboard's JSON API. Each call goes through the same front services as gRPC, in
//! process, with the credentials the caller presented to the listener: the gate checks them
//! at every call (an event stream's too), on a follower the leader answers, and the errors
//! are the API's own.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/overview` | the cluster as this replica sees it, every node, the newest jobs |
//! | `GET /api/jobs/{id}` | one job with its tasks and the quality of its renditions |
//! | `GET /api/events`, `GET /api/jobs/{id}/events` | the same, as server-sent events each time it changes |
//! | `POST /api/nodes/{node}/{cordon,drain,uncordon}` | a node's lifecycle |
//! | `POST /api/jobs/{id}/cancel` | cancels a job |
//! | `GET /api/jobs/{id}/report.html` | its report page ([`super::report_page`]) |

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::Stream;
use serde::Serialize;
use shotfarm_proto::v1;
use shotfarm_proto::v1::admin_service_server::AdminService;
use shotfarm_proto::v1::job_service_server::JobService;
use tokio::sync::OwnedSemaphorePermit;
use tonic::{Code, Status};

use super::view::{ClusterView, JobDetail, JobRow, NodeView, Overview};
use crate::http::HttpContext;
use crate::http::access::Presented;
use crate::service::access::PresentedCertificate;

/// Jobs on the front page, newest first.
const OVERVIEW_JOBS: u32 = 50;

/// How often an event stream looks for a change.
const EVENT_POLL: Duration = Duration::from_secs(1);

/// Event streams a replica serves at once: each holds one of the listener's 64 connections,
/// and the rest stay for `/metrics` and the pages' own requests.
pub const MAX_EVENT_STREAMS: usize = 16;

/// How long one read of the API may take before the page is told it failed.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// A front-service request made with the credentials `caller` presented to the listener: its
/// certificate as a [`PresentedCertificate`], its token as `authorization: Bearer`, as a
/// gRPC client would present them.
pub fn request<T>(caller: &Presented, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(certificate) = &caller.certificate {
        request.extensions_mut().insert(PresentedCertificate(certificate.clone()));
    }
    if let Some(token) = &caller.token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// An API error as the page gets it: the HTTP status nearest the gRPC code, and the message.
pub struct ApiError(Status);

impl From<Status> for ApiError {
    fn from(status: Status) -> ApiError {
        ApiError(status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code() {
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(serde_json::json!({ "error": self.0.message() }))).into_response()
    }
}

/// `read`, or `DEADLINE_EXCEEDED` after [`READ_LIMIT`].
pub(super) async fn bounded<T>(read: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    tokio::time::timeout(READ_LIMIT, read).await.unwrap_or_else(|_| Err(Status::deadline_exceeded(format!("the farm did not answer within {READ_LIMIT:?}; retry"))))
}

async fn overview_of(context: &HttpContext, caller: &Presented) -> Result<Overview, Status> {
    bounded(read_overview(context, caller)).await
}

async fn read_overview(context: &HttpContext, caller: &Presented) -> Result<Overview, Status> {
    let status = context.admin.cluster_status(request(caller, v1::ClusterStatusRequest {})).await?.into_inner();
    let listed = async {
        let nodes = context.admin.list_nodes(request(caller, v1::ListNodesRequest {})).await?.into_inner().nodes;
        let jobs = context.jobs.list_jobs(request(caller, v1::ListJobsRequest { limit: OVERVIEW_JOBS, ..Default::default() })).await?.into_inner().jobs;
        Ok::<_, Status>((nodes, jobs))
    };
    let (nodes, jobs, unavailable) = match listed.await {
        Ok((nodes, jobs)) => (nodes, jobs, String::new()),
        // The replica's own view still shows; the page says why the rest does not.
        Err(status) if status.code() == Code::Unavailable => (Vec::new(), Vec::new(), status.message().to_owned()),
        Err(status) => return Err(status),
    };
    Ok(Overview {
        cluster: ClusterView::from_status(status),
        nodes: nodes.into_iter().map(NodeView::from_node).collect(),
        jobs: jobs.iter().map(JobRow::from_job).collect(),
        unavailable,
    })
}

async fn job_of(context: &HttpContext, caller: &Presented, id: String) -> Result<JobDetail, Status> {
    let job = bounded(context.jobs.get_job(request(caller, v1::GetJobRequest { job_id: id, include_tasks: true }))).await?.into_inner();
    Ok(JobDetail::from_job(job))
}

pub async fn overview(State(context): State<HttpContext>, caller: Presented) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview_of(&context, &caller).await?))
}

pub async fn job(State(context): State<HttpContext>, caller: Presented, Path(id): Path<String>) -> Result<Json<JobDetail>, ApiError> {
    Ok(Json(job_of(&context, &caller, id).await?))
}

pub async fn overview_events(State(context): State<HttpContext>, caller: Presented) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = stream_permit(&context)?;
    Ok(changes(permit, move || {
        let (context, caller) = (context.clone(), caller.clone());
        async move { overview_of(&context, &caller).await }
    }))
}

pub async fn job_events(State(context): State<HttpContext>, caller: Presented, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = stream_permit(&context)?;
    Ok(changes(permit, move || {
        let (context, caller, id) = (context.clone(), caller.clone(), id.clone());
        async move { job_of(&context, &caller, id).await }
    }))
}

/// One of the [`MAX_EVENT_STREAMS`], held while the stream is open.
fn stream_permit(context: &HttpContext) -> Result<OwnedSemaphorePermit, ApiError> {
    context.event_streams.clone().try_acquire_owned().map_err(|_| {
        ApiError(Status::resource_exhausted(format!(
            "this replica already serves {MAX_EVENT_STREAMS} live dashboard pages; close some, or open the dashboard of another replica"
        )))
    })
}

/// Server-sent events of what `read` returns: a `state` event with its JSON at once and at
/// each change, an `unavailable` event (the message) while it fails; a comment every 15 s keeps
/// the connection open through proxies. It ends when the browser goes, or after saying why
/// once the caller's credentials no longer pass (a revoked token, say).
fn changes<T, F>(permit: OwnedSemaphorePermit, read: impl Fn() -> F + Send + 'static) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: Serialize,
    F: Future<Output = Result<T, Status>> + Send,
{
    struct Follow<R> {
        read: R,
        last: String,
        first: bool,
        refused: bool,
        _permit: OwnedSemaphorePermit,
    }
    let start = Follow { read, last: String::new(), first: true, refused: false, _permit: permit };
    let stream = futures::stream::unfold(start, |mut follow| async move {
        if follow.refused {
            return None;
        }
        loop {
            if !follow.first {
                tokio::time::sleep(EVENT_POLL).await;
            }
            follow.first = false;
            let (kind, data) = match (follow.read)().await {
                Ok(value) => ("state", serde_json::to_string(&value).expect("views serialize")),
                Err(status) => {
                    follow.refused = matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied);
                    ("unavailable", status.message().to_owned())
                }
            };
            let seen = format!("{kind}\n{data}");
            if seen != follow.last || follow.refused {
                follow.last = seen;
                return Some((Ok(Event::default().event(kind).data(data)), follow));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub async fn node_action(State(context): State<HttpContext>, caller: Presented, Path((node, action)): Path<(String, String)>) -> Result<Json<NodeView>, ApiError> {
    let message = v1::NodeRequest { node };
    let node = match action.as_str() {
        "cordon" => context.admin.cordon_node(request(&caller, message)).await?,
        "drain" => context.admin.drain_node(request(&caller, message)).await?,
        "uncordon" => context.admin.uncordon_node(request(&caller, message)).await?,
        other => return Err(Status::invalid_argument(format!("no node action {other:?}; use cordon, drain or uncordon")).into()),
    };
    Ok(Json(NodeView::from_node(node.into_inner())))
}

pub async fn cancel_job(State(context): State<HttpContext>, caller: Presented, Path(id): Path<String>) -> Result<Json<JobRow>, ApiError> {
    let job = context.jobs.cancel_job(request(&caller, v1::CancelJobRequest { job_id: id })).await?.into_inner();
    Ok(Json(JobRow::from_job(&job)))
}
