//! `JobService` on every replica: the local service on the leader, relayed to the leader
//! elsewhere (`WatchJob` as a relayed stream).

use shotfarm_proto::v1::{self, job_service_client::JobServiceClient, job_service_server::JobService};
use tonic::{Request, Response, Status};

use super::front::{Front, front_service};
use super::leader_link::Route;
use super::watch_relay;
use crate::service::jobs::{Jobs, WatchStream};

pub struct JobsFront {
    pub local: Jobs,
    pub front: Front,
}

front_service!(JobService, JobsFront, JobServiceClient, [
    submit_job(v1::SubmitJobRequest) -> v1::SubmitJobResponse,
    get_job(v1::GetJobRequest) -> v1::Job,
    list_jobs(v1::ListJobsRequest) -> v1::ListJobsResponse,
    cancel_job(v1::CancelJobRequest) -> v1::Job,
]
    type WatchJobStream = WatchStream;

    async fn watch_job(&self, request: Request<v1::WatchJobRequest>) -> Result<Response<WatchStream>, Status> {
        match self.front.link.route(request.metadata())? {
            Route::Here => self.local.watch_job(request).await,
            Route::Leader { leader_id, channel, .. } => {
                let (request, deadline) = self.front.admit_and_relay(request, None).await?;
                let info = self.front.link.driver().watch_info();
                watch_relay::relay(info, leader_id, deadline, async move { JobServiceClient::new(channel).watch_job(request).await }).await
            }
        }
    }
);
