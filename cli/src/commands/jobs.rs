//! `shotfarm jobs`: jobs, newest first, one page (`--limit`) or every page (`--all`).

use shotfarm_proto::v1::ListJobsRequest;

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, list_jobs};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

/// Jobs per request when paging through all of them.
const PAGE_JOBS: u32 = 500;

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    #[arg(long)]
    pub json: bool,
    /// At most this many jobs (the scheduler's default page, 100, when not given; at most 1000).
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub limit: Option<u32>,
    /// Every job, fetched page by page.
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: JobsArgs) -> CommandResult {
    if args.limit == Some(0) {
        return Err(CommandError::usage(anyhow::anyhow!("--limit must be at least 1; leave it out for the default page")));
    }
    block_on(async move {
        let client = args.scheduler.client()?;
        let mut listed = Vec::new();
        let mut page_token = String::new();
        let more = loop {
            let limit = if args.all { PAGE_JOBS } else { args.limit.unwrap_or(0) };
            let page = list_jobs(&client, ListJobsRequest { limit, page_token, ..Default::default() }).await?;
            listed.extend(page.jobs);
            page_token = page.next_page_token;
            if page_token.is_empty() || !args.all {
                break !page_token.is_empty();
            }
        };
        if args.json {
            outln!("{}", serde_json::Value::Array(listed.iter().map(job_view::json).collect()));
        } else {
            for job in &listed {
                outln!("{}", job_view::line(job));
            }
        }
        if more {
            eprintln!("(older jobs not shown: pass --all to list every job, or a larger --limit)");
        }
        Ok(())
    })
}

