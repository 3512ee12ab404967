//! `shotfarm jobs`: every job, newest first.

use shotfarm_proto::v1::ListJobsRequest;
use shotfarm_proto::v1::job_service_client::JobServiceClient;

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::CommandResult;
use crate::runtime::block_on;

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: JobsArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let jobs = client
            .call(|channel| async move { Ok(JobServiceClient::new(channel).list_jobs(ListJobsRequest::default()).await?.into_inner()) })
            .await
            .map_err(status_error)?;
        if args.json {
            println!("{}", serde_json::Value::Array(jobs.jobs.iter().map(job_view::json).collect()));
        } else {
            for job in &jobs.jobs {
                println!("{}", job_view::line(job));
            }
        }
        Ok(())
    })
}
