//! `shotfarm status JOB`: one job, with its tasks.

use shotfarm_proto::v1::GetJobRequest;

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, get_job};
use crate::exit::CommandResult;
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    pub job: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let job = get_job(&client, GetJobRequest { job_id: args.job.clone(), include_tasks: true }).await?;
        if args.json {
            outln!("{}", job_view::json(&job));
        } else {
            outln!("{}", job_view::line(&job));
            for task in &job.tasks {
                let state = job_view::json(&job)["tasks"].as_array().and_then(|tasks| tasks.iter().find(|t| t["task_id"] == task.task_id).map(|t| t["state"].as_str().unwrap_or("").to_owned())).unwrap_or_default();
                outln!("  {:>6} {:<10} {:<36} attempt {} {} {}", task.task_id, state, task.label, task.attempt, task.backend, task.error);
            }
        }
        Ok(())
    })
}
