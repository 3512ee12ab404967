//! `GET /api/jobs/{id}/report.html`: a finished job's report.html, from its output, for the
//! job's page to link. The replica reads it only where it can and may: a `file://` output on
//! a filesystem the replica shares with the agents, under the replica's own output roots
//! (`--allow-output`); an `s3://` report is opened where it lies. The page is served as it was
//! written — inline style, inline SVG, no script — under a policy that lets it run nothing and
//! load nothing. Its job lookup and its file read are bounded like the API's reads.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

use shotfarm_proto::storage::StorageRoots;
use shotfarm_proto::v1;
use shotfarm_proto::v1::job_service_server::JobService;

use super::api::{ApiError, bounded, request};
use crate::http::HttpContext;
use crate::http::access::Presented;

/// The largest report.html served (a 3-hour title's plots are a few MiB).
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// What the report page may do: show its own inline style and images, nothing else.
const REPORT_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox";

pub async fn report_page(State(context): State<HttpContext>, caller: Presented, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = bounded(context.jobs.get_job(request(&caller, v1::GetJobRequest { job_id: id.clone(), include_tasks: false }))).await?.into_inner();
    let Some(report_json) = job.report_url.strip_suffix("/report.json") else {
        return Ok(not_here(StatusCode::NOT_FOUND, format!("job {id} has no report yet ({}); it comes when the job finishes", shotfarm_proto::state_names::job_state(job.state))));
    };
    let url = format!("{report_json}/report.html");
    let path = match local_report_path(&context.output_roots, &url) {
        Ok(path) => path,
        Err(why) => return Ok(not_here(StatusCode::NOT_FOUND, why)),
    };
    // A read bounded like the API's, so a stalled output filesystem cannot hold the request.
    let body = bounded(async { tokio::task::spawn_blocking(move || read_report(&path)).await.map_err(|err| tonic::Status::internal(format!("reading the report: {err}"))) }).await?;
    match body {
        Ok(body) => Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, REPORT_POLICY),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            body,
        )
            .into_response()),
        Err(why) => Ok(not_here(StatusCode::NOT_FOUND, format!("{url}: {why}; the replica must share the agents' output filesystem to show it"))),
    }
}

/// Where the replica reads the report at `url`: a `file://` URL under its output roots.
fn local_report_path(roots: &StorageRoots, url: &str) -> Result<PathBuf, String> {
    let checked = roots.check(url).map_err(|refused| format!("{url} is not under this replica's output roots ({refused}); open it where it lies"))?;
    checked.local_path().ok_or_else(|| format!("the report is at {url}; this replica reads only file:// outputs, so open it there"))
}

/// The report file: a regular file (not a link, not a FIFO) of at most [`MAX_REPORT_BYTES`],
/// checked on the file it opened and read no further than that.
fn read_report(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        // No blocking open: a FIFO in the report's place would wait for a writer forever.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| if err.raw_os_error() == Some(libc::ELOOP) { "is not a regular file (a link)".to_owned() } else { format!("cannot read it here ({err})") })?;
    let metadata = file.metadata().map_err(|err| format!("cannot read it here ({err})"))?;
    if !metadata.is_file() {
        return Err("is not a regular file".to_owned());
    }
    let mut body = Vec::new();
    file.take(MAX_REPORT_BYTES + 1).read_to_end(&mut body).map_err(|err| format!("cannot read it here ({err})"))?;
    if body.len() as u64 > MAX_REPORT_BYTES {
        return Err(format!("is over the {MAX_REPORT_BYTES} bytes this page serves"));
    }
    Ok(body)
}

fn not_here(status: StatusCode, why: String) -> Response {
    (status, format!("{why}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use shotfarm_proto::storage::RootSide;

    use super::*;

    #[test]
    fn only_file_reports_under_the_output_roots_are_read() {
        let roots = StorageRoots::parse(RootSide::Output, "file:///media/out,s3://bucket/out").unwrap();
        assert_eq!(local_report_path(&roots, "file:///media/out/job/report.html"), Ok(PathBuf::from("/media/out/job/report.html")));
        assert!(local_report_path(&roots, "file:///media/out/../etc/report.html").is_err());
        assert!(local_report_path(&roots, "file:///elsewhere/report.html").unwrap_err().contains("not under this replica's output roots"));
        assert!(local_report_path(&roots, "s3://bucket/out/job/report.html").unwrap_err().contains("open it there"));
    }

    #[test]
    fn a_link_or_an_oversized_file_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("report.html");
        std::fs::write(&page, "<html></html>").unwrap();
        assert_eq!(read_report(&page).unwrap(), b"<html></html>");
        let link = dir.path().join("link.html");
        std::os::unix::fs::symlink(&page, &link).unwrap();
        assert!(read_report(&link).unwrap_err().contains("a link"));
        assert!(read_report(dir.path()).unwrap_err().contains("not a regular file"));
        // A FIFO with no writer is refused at once, not waited on.
        let fifo = dir.path().join("fifo.html");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(read_report(&fifo).unwrap_err().contains("not a regular file"));
    }
}
