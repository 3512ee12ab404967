//! `ListJobs` pages: newest job first, at most `limit` jobs and at most [`PAGE_BYTES`] of
//! encoded jobs per reply, so that no number of jobs can make a reply too large to send. A
//! page token names the last job of the previous page; the next page starts below it.

use prost::Message as _;
use shotfarm_proto::v1;

use super::convert;
use super::status::invalid;
use crate::state::State;
use crate::state::model::{JobId, JobState};

/// Jobs per page when the request names no limit.
pub const DEFAULT_PAGE_JOBS: usize = 100;
/// Jobs per page at most, whatever the request asks.
pub const MAX_PAGE_JOBS: usize = 1000;
/// Encoded jobs per page at most (a page always holds at least one job): well under the
/// clients' message size limit, whatever the jobs' labels and errors hold.
pub const PAGE_BYTES: usize = 1 << 20;

const TOKEN_PREFIX: &str = "before-job-";

/// What one `ListJobs` request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub state: Option<JobState>,
    /// Only jobs of this owner (a submitter lists its own); `None`: every job.
    pub owner: Option<String>,
    pub limit: usize,
    /// Only jobs with a smaller id (older ones); `None` from the newest.
    pub before: Option<JobId>,
}

impl PageRequest {
    pub fn new(state: Option<JobState>, limit: u32, page_token: &str) -> Result<PageRequest, tonic::Status> {
        let limit = if limit == 0 { DEFAULT_PAGE_JOBS } else { (limit as usize).min(MAX_PAGE_JOBS) };
        let before = if page_token.is_empty() { None } else { Some(parse_token(page_token)?) };
        Ok(PageRequest { state, owner: None, limit, before })
    }

    /// Only the jobs `owner` submitted.
    pub fn of_owner(self, owner: Option<String>) -> PageRequest {
        PageRequest { owner, ..self }
    }
}

fn parse_token(token: &str) -> Result<JobId, tonic::Status> {
    token.strip_prefix(TOKEN_PREFIX).and_then(|id| id.parse().ok()).ok_or_else(|| {
        let shown: String = token.chars().take(64).collect();
        invalid(
            "page_token",
            format!("{shown:?} is not a page token; pass the next_page_token of the previous reply unchanged, or none for the first page"),
        )
    })
}

/// One page of jobs and the token of the next one (empty after the last page).
pub fn page(state: &State, request: PageRequest) -> v1::ListJobsResponse {
    let upper = request.before.unwrap_or(JobId::MAX);
    let mut candidates = state
        .jobs
        .range(..upper)
        .rev()
        .map(|(_, job)| job)
        .filter(|job| request.state.is_none_or(|wanted| job.state == wanted))
        .filter(|job| request.owner.as_deref().is_none_or(|owner| job.owner == owner))
        .peekable();
    let (mut jobs, mut bytes, mut last) = (Vec::new(), 0, None);
    while let Some(job) = candidates.peek() {
        let listed = convert::job(state, job, false);
        let size = listed.encoded_len();
        if jobs.len() == request.limit || (!jobs.is_empty() && bytes + size > PAGE_BYTES) {
            break;
        }
        bytes += size;
        last = Some(job.id);
        jobs.push(listed);
        candidates.next();
    }
    let more = candidates.peek().is_some();
    let next_page_token = match last {
        Some(id) if more => format!("{TOKEN_PREFIX}{id}"),
        _ => String::new(),
    };
    v1::ListJobsResponse { jobs, next_page_token }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::machine::{Command, apply};
    use crate::state::model::JobSpec;

    fn state_with_jobs(count: usize, label_bytes: usize) -> State {
        let mut state = State::default();
        for n in 0..count {
            let labels: BTreeMap<String, String> = (0..64).map(|key| (format!("k{key}"), "v".repeat(label_bytes))).collect();
            let spec = JobSpec { labels, ..JobSpec::for_tests() };
            apply(&mut state, &Command::SubmitJob { request_id: format!("r{n}"), owner: String::new(), spec, now_ms: 1, trace_parent: None });
        }
        state
    }

    fn all_pages(state: &State, limit: u32, filter: Option<JobState>) -> Vec<v1::ListJobsResponse> {
        let mut pages = Vec::new();
        let mut token = String::new();
        loop {
            let reply = page(state, PageRequest::new(filter, limit, &token).expect("valid"));
            token.clone_from(&reply.next_page_token);
            pages.push(reply);
            if token.is_empty() {
                return pages;
            }
        }
    }

    #[test]
    fn an_owner_pages_through_its_own_jobs_only() {
        let mut state = State::default();
        for n in 0..9 {
            let owner = if n % 3 == 0 { "submitter/ann" } else { "submitter/bob" };
            apply(&mut state, &Command::SubmitJob { request_id: format!("r{n}"), owner: owner.to_owned(), spec: JobSpec::for_tests(), now_ms: 1, trace_parent: None });
        }
        let first = page(&state, PageRequest::new(None, 2, "").expect("valid").of_owner(Some("submitter/ann".to_owned())));
        assert_eq!(first.jobs.iter().map(|job| job.job_id.as_str()).collect::<Vec<_>>(), ["job-7", "job-4"]);
        let rest = page(&state, PageRequest::new(None, 2, &first.next_page_token).expect("valid").of_owner(Some("submitter/ann".to_owned())));
        assert_eq!(rest.jobs.iter().map(|job| job.job_id.as_str()).collect::<Vec<_>>(), ["job-1"]);
        assert!(rest.next_page_token.is_empty());
        assert!(rest.jobs.iter().all(|job| job.owner == "submitter/ann"));
    }

    #[test]
    fn pages_cover_every_job_once_newest_first() {
        let state = state_with_jobs(25, 1);
        let pages = all_pages(&state, 10, None);
        assert_eq!(pages.iter().map(|page| page.jobs.len()).collect::<Vec<_>>(), vec![10, 10, 5]);
        let ids: Vec<String> = pages.iter().flat_map(|page| page.jobs.iter().map(|job| job.job_id.clone())).collect();
        let expected: Vec<String> = (1..=25).rev().map(|id| format!("job-{id}")).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn a_page_that_ends_exactly_at_the_last_job_has_no_next_token() {
        let state = state_with_jobs(20, 1);
        assert_eq!(all_pages(&state, 10, None).len(), 2);
        assert_eq!(all_pages(&state, 0, None).len(), 1, "the default page holds 20 jobs");
        assert!(all_pages(&state, 0, Some(JobState::Running)).iter().all(|page| page.jobs.is_empty()));
    }

    #[test]
    fn large_jobs_split_pages_by_bytes() {
        // 64 labels of 256 bytes: about 17 KiB per job, so 1000 of them are ~17 MiB.
        let state = state_with_jobs(300, 256);
        let pages = all_pages(&state, 1000, None);
        assert!(pages.len() >= 5, "{} pages", pages.len());
        assert!(pages.iter().all(|page| page.encoded_len() <= PAGE_BYTES + (64 << 10)), "a page passed the byte budget");
        assert_eq!(pages.iter().map(|page| page.jobs.len()).sum::<usize>(), 300);
    }

    #[test]
    fn bad_tokens_are_invalid_arguments_that_say_what_to_do() {
        for token in ["x", "before-job-", "before-job-abc", "job-3"] {
            let status = PageRequest::new(None, 0, token).expect_err(token);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with("page_token") && status.message().contains("next_page_token"), "{}", status.message());
        }
        assert_eq!(PageRequest::new(None, 5000, "").expect("valid").limit, MAX_PAGE_JOBS);
    }
}
