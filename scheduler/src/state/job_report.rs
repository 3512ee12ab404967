//! A job's report as its report task answered it: where report.json is and the renditions
//! with their quality. Read by `GetJob`/`WatchJob` and by the completion callback; a job
//! compacted by retention has no task rows left, and so no answer here.

use shotfarm_proto::pipeline::{ReportedRendition, TaskKind, TaskOutput};

use super::State;
use super::model::{Job, TaskState};

/// Where report.json is, and the renditions it lists.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    pub url: String,
    pub renditions: Vec<ReportedRendition>,
}

impl State {
    /// The report of `job`; none while its report task has not succeeded.
    pub fn job_report(&self, job: &Job) -> Option<JobReport> {
        let output = job
            .tasks
            .iter()
            .rev()
            .filter_map(|id| self.tasks.get(id))
            .find(|task| task.kind == TaskKind::Report && task.state == TaskState::Succeeded)
            .and_then(|task| task.output_json.as_deref())
            .and_then(|json| serde_json::from_str::<TaskOutput>(json).ok());
        match output {
            Some(TaskOutput::Report { report, renditions }) => Some(JobReport { url: report, renditions }),
            _ => None,
        }
    }
}
