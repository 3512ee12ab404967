//! `shotfarm cancel JOB`.

use shotfarm_proto::v1::CancelJobRequest;
use shotfarm_proto::v1::job_service_client::JobServiceClient;

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::CommandResult;
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    pub job: String,
}

pub fn run(args: CancelArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let job = client
            .call(|channel| {
                let job_id = args.job.clone();
                async move { Ok(JobServiceClient::new(channel).cancel_job(CancelJobRequest { job_id }).await?.into_inner()) }
            })
            .await
            .map_err(status_error)?;
        outln!("{}", job_view::line(&job));
        Ok(())
    })
}
