//! `shotfarm report JOB [--json | --html OUT]`: a finished job's renditions and their quality
//! (VMAF mean, harmonic mean, minimum, 1st percentile, PSNR-Y, SSIM, bitrates) from `GetJob`,
//! as a table, as JSON, or its `report.html` copied to OUT when the job's output is a local
//! `file://` location.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use shotfarm_proto::v1::{self, GetJobRequest};

use crate::client::job_view;
use crate::client::scheduler::{SchedulerFlag, get_job};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    pub job: String,
    /// The renditions as one JSON object instead of a table.
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
    /// Copy the job's report.html here (jobs whose output is a file:// location).
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let job = get_job(&client, GetJobRequest { job_id: args.job.clone(), include_tasks: false }).await?;
        check_reported(&job)?;
        if let Some(out) = &args.html {
            let copied = copy_page(&job.report_url, out)?;
            outln!("{} -> {}", copied.display(), out.display());
        } else if args.json {
            outln!("{}", json(&job));
        } else {
            for line in table(&job) {
                outln!("{line}");
            }
        }
        Ok(())
    })
}

/// Refuses a job without a report: not finished, unsuccessful, or compacted.
fn check_reported(job: &v1::Job) -> Result<(), CommandError> {
    if !job_view::is_final(job) {
        return Err(anyhow!("job {} is {} ({}/{} tasks done); its report comes when it finishes: `shotfarm watch {}`", job.job_id, job_view::state_name(job.state), job.tasks_done, job.tasks_total, job.job_id).into());
    }
    if job.state != v1::JobState::Succeeded as i32 {
        return Err(job_view::unsuccessful(job));
    }
    if job.report_url.is_empty() {
        let output = job.spec.as_ref().map(|spec| spec.output_url.as_str()).unwrap_or_default();
        return Err(anyhow!("the farm no longer keeps job {}'s tasks (it keeps the newest finished jobs'); its report.json and report.html are in its output, {output}", job.job_id).into());
    }
    Ok(())
}

/// The table: a header, then one line per rendition, best first.
fn table(job: &v1::Job) -> Vec<String> {
    let mut lines = vec![
        format!("{} {} report {}", job.job_id, job_view::state_name(job.state), job.report_url),
        format!("{:<14} {:<16} {:>9} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7}", "rung", "codecs", "size", "kb/s", "peak", "frames", "vmaf", "harm", "min", "p1", "psnr", "ssim"),
    ];
    for rendition in &job.renditions {
        let size = format!("{}x{}", rendition.width, rendition.height);
        let quality = if rendition.scored {
            format!(
                "{:>7} {:>7.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>7.4}",
                rendition.frames_scored, rendition.vmaf_mean, rendition.vmaf_harmonic_mean, rendition.vmaf_min, rendition.vmaf_p1, rendition.psnr_y, rendition.ssim
            )
        } else {
            format!("{:>7} not scored", "-")
        };
        lines.push(format!("{:<14} {:<16} {:>9} {:>6} {:>6} {quality}", rendition.name, rendition.codecs_string, size, rendition.bitrate_kbps, rendition.peak_bitrate_kbps));
    }
    lines
}

fn json(job: &v1::Job) -> serde_json::Value {
    let renditions: Vec<serde_json::Value> = job
        .renditions
        .iter()
        .map(|rendition| {
            let quality = rendition.scored.then(|| {
                serde_json::json!({
                    "frames_scored": rendition.frames_scored,
                    "vmaf_mean": rendition.vmaf_mean,
                    "vmaf_harmonic_mean": rendition.vmaf_harmonic_mean,
                    "vmaf_min": rendition.vmaf_min,
                    "vmaf_p1": rendition.vmaf_p1,
                    "psnr_y": rendition.psnr_y,
                    "ssim": rendition.ssim,
                })
            });
            serde_json::json!({
                "name": rendition.name,
                "codec": rendition.codec,
                "codecs_string": rendition.codecs_string,
                "width": rendition.width,
                "height": rendition.height,
                "bitrate_kbps": rendition.bitrate_kbps,
                "peak_bitrate_kbps": rendition.peak_bitrate_kbps,
                "quality": quality,
            })
        })
        .collect();
    serde_json::json!({ "job_id": job.job_id, "state": job_view::state_name(job.state), "report_url": job.report_url, "renditions": renditions })
}

/// Copies the report.html beside `report_url` to `out`; returns where it came from.
fn copy_page(report_url: &str, out: &Path) -> Result<PathBuf, CommandError> {
    let page_url = report_url.strip_suffix("report.json").map(|base| format!("{base}report.html")).ok_or_else(|| anyhow!("the job's report is at {report_url}, not a report.json; its report.html cannot be found from it"))?;
    let url = url::Url::parse(&page_url).map_err(|error| anyhow!("the job's report location {page_url} is not a URL: {error}"))?;
    if url.scheme() != "file" {
        return Err(anyhow!("report.html is at {page_url}; --html copies only reports in a file:// output on this machine: fetch it from the {} store with its own tools", url.scheme()).into());
    }
    let path = url.to_file_path().map_err(|()| anyhow!("{page_url} names no local file"))?;
    if !path.is_file() {
        return Err(anyhow!("{} is not on this machine: a file:// output is on the disk of the agent that wrote it (copy it from there), or the job ran before report.html was written", path.display()).into());
    }
    std::fs::copy(&path, out).map_err(|error| anyhow!("copying {} to {}: {error}", path.display(), out.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_reports_are_copied_and_the_refusals_say_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("copy.html");
        let error = copy_page("s3://bucket/jobs/7/report.json", &out).expect_err("s3").to_string();
        assert!(error.contains("s3://bucket/jobs/7/report.html") && error.contains("file://"), "{error}");
        let missing = url::Url::from_file_path(dir.path().join("gone/report.json")).expect("url").to_string();
        assert!(copy_page(&missing, &out).expect_err("missing").to_string().contains("is not on this machine"));
        assert!(copy_page("file:///out/result.txt", &out).is_err());
        std::fs::write(dir.path().join("report.html"), "<!DOCTYPE html>").expect("page");
        let here = url::Url::from_file_path(dir.path().join("report.json")).expect("url").to_string();
        assert_eq!(copy_page(&here, &out).expect("copied"), dir.path().join("report.html"));
        assert_eq!(std::fs::read_to_string(&out).expect("copy"), "<!DOCTYPE html>");
    }
}
