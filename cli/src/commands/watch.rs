//! `shotfarm watch JOB`: live progress until the job finishes.

use std::io::Write as _;

use shotfarm_proto::client::LeaderClient;
use shotfarm_proto::v1::job_service_client::JobServiceClient;
use shotfarm_proto::v1::{self, WatchJobRequest};
use tonic::Code;

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    pub job: String,
}

fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = (done.min(total) * width as u64).checked_div(total).unwrap_or(0) as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

fn render(event: &v1::JobEvent) -> String {
    let Some(job) = &event.job else { return String::new() };
    let mut lines = vec![format!(
        "{} {:<9} {} {}/{} tasks",
        job.job_id,
        job_view::state_name(job.state),
        bar(u64::from(job.tasks_done), u64::from(job.tasks_total), 30),
        job.tasks_done,
        job.tasks_total
    )];
    for progress in &event.progress {
        let label = job.tasks.iter().find(|task| task.task_id == progress.task_id).map_or("", |task| task.label.as_str());
        lines.push(format!(
            "  {:<32} {} {:>6}/{:<6} {:>6.1} fps",
            label,
            bar(progress.frames_done, progress.frames_total, 20),
            progress.frames_done,
            progress.frames_total,
            progress.fps
        ));
    }
    lines.join("\n")
}

/// Streams the job's events until it finishes (reconnecting to a new leader), drawing
/// progress on stderr when `draw`; returns the final job.
pub async fn follow(client: &LeaderClient, job_id: &str, draw: bool) -> Result<v1::Job, CommandError> {
    let mut drawn_lines = 0usize;
    loop {
        let mut stream = client
            .call(|channel| async move { Ok(JobServiceClient::new(channel).watch_job(WatchJobRequest { job_id: job_id.to_owned() }).await?.into_inner()) })
            .await
            .map_err(status_error)?;
        let mut last = None;
        loop {
            match stream.message().await {
                Ok(Some(event)) => {
                    if draw {
                        let text = render(&event);
                        let mut stderr = std::io::stderr();
                        if drawn_lines > 0 {
                            let _ = write!(stderr, "\x1b[{drawn_lines}A\x1b[J");
                        }
                        let _ = writeln!(stderr, "{text}");
                        drawn_lines = text.lines().count();
                    }
                    if let Some(job) = event.job {
                        let finished = job_view::is_final(&job);
                        last = Some(job);
                        if finished {
                            return last.ok_or_else(|| CommandError::from(anyhow::anyhow!("no job")));
                        }
                    }
                }
                Ok(None) => break,
                Err(status) if matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal) => break,
                Err(status) => return Err(status_error(status)),
            }
        }
        // The stream ended early (leader change): reconnect and continue.
        if let Some(job) = last.filter(job_view::is_final) {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub fn run(args: WatchArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let job = follow(&client, &args.job, true).await?;
        outln!("{}", job_view::line(&job));
        Ok(())
    })
}
