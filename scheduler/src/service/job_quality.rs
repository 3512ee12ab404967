//! A finished job's renditions and their quality, and where its report is, for `GetJob` and
//! `WatchJob`: read from its report task's output (what the agent answered after writing
//! report.json). Nothing is added to the replicated state; a compacted job (beyond the newest
//! finished ones) has no task rows left and shows none — report.json keeps them.

use shotfarm_proto::pipeline::ReportedRendition;
use shotfarm_proto::v1;

use crate::state::State;
use crate::state::model::Job;

/// The report's location and renditions; empty while the report task has not succeeded.
pub fn reported(state: &State, job: &Job) -> (String, Vec<v1::RenditionQuality>) {
    match state.job_report(job) {
        Some(report) => (report.url, report.renditions.iter().map(rendition_quality).collect()),
        None => (String::new(), Vec::new()),
    }
}

fn rendition_quality(rendition: &ReportedRendition) -> v1::RenditionQuality {
    let stats = rendition.quality;
    v1::RenditionQuality {
        name: rendition.name.clone(),
        codec: rendition.codec.clone(),
        codecs_string: rendition.codecs_string.clone(),
        width: rendition.width,
        height: rendition.height,
        bitrate_kbps: rendition.bitrate_kbps,
        peak_bitrate_kbps: rendition.peak_bitrate_kbps,
        scored: stats.is_some(),
        frames_scored: rendition.frames_scored,
        vmaf_mean: stats.map_or(0.0, |stats| stats.vmaf_mean),
        vmaf_harmonic_mean: stats.map_or(0.0, |stats| stats.vmaf_harmonic_mean),
        vmaf_min: stats.map_or(0.0, |stats| stats.vmaf_min),
        vmaf_p1: stats.map_or(0.0, |stats| stats.vmaf_p1),
        psnr_y: stats.map_or(0.0, |stats| stats.psnr_y),
        ssim: stats.map_or(0.0, |stats| stats.ssim),
    }
}

#[cfg(test)]
mod tests {
    use shotfarm_proto::pipeline::{QualityStats, TaskKind, TaskOutput};

    use super::*;
    use crate::machine::{Command, Outcome, apply};
    use crate::service::convert;
    use crate::state::model::{JobSpec, TaskState};

    #[test]
    fn a_job_shows_its_reports_renditions_once_the_report_task_succeeded() {
        let mut state = State::default();
        let (outcome, _) = apply(&mut state, &Command::SubmitJob { request_id: "r".to_owned(), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 1, trace_parent: None });
        let Outcome::JobSubmitted { job, .. } = outcome else { panic!("not submitted: {outcome:?}") };
        let shown = |state: &State| convert::job(state, &state.jobs[&job], false);
        assert!(shown(&state).renditions.is_empty() && shown(&state).report_url.is_empty(), "nothing before the report");

        let stats = QualityStats { vmaf_mean: 93.5, vmaf_harmonic_mean: 93.1, vmaf_min: 80.2, vmaf_p1: 81.0, psnr_y: 41.6, ssim: 0.988 };
        let rendition = |name: &str, quality| ReportedRendition {
            name: name.to_owned(),
            codec: "h264".to_owned(),
            codecs_string: "avc1.64001f".to_owned(),
            width: 1280,
            height: 720,
            bitrate_kbps: 2400,
            peak_bitrate_kbps: 3100,
            quality,
            frames_scored: if quality.is_some() { 250 } else { 0 },
        };
        let output = TaskOutput::Report { report: "file:///out/report.json".to_owned(), renditions: vec![rendition("h264_720p", Some(stats)), rendition("h264_360p", None)] };
        // The job's first task stands in for its report task.
        let report_task = state.jobs[&job].tasks[0];
        let task = state.tasks.get_mut(&report_task).expect("task");
        task.kind = TaskKind::Report;
        task.output_json = Some(serde_json::to_string(&output).expect("encodes"));
        state.set_task_state(report_task, TaskState::Succeeded);

        let wire = shown(&state);
        assert_eq!(wire.report_url, "file:///out/report.json");
        let [scored, unscored] = <[v1::RenditionQuality; 2]>::try_from(wire.renditions).expect("two renditions");
        assert_eq!((scored.name.as_str(), scored.scored, scored.frames_scored, scored.bitrate_kbps, scored.peak_bitrate_kbps), ("h264_720p", true, 250, 2400, 3100));
        assert_eq!((scored.vmaf_mean, scored.vmaf_harmonic_mean, scored.vmaf_min, scored.vmaf_p1, scored.psnr_y, scored.ssim), (93.5, 93.1, 80.2, 81.0, 41.6, 0.988));
        assert!(!unscored.scored && unscored.vmaf_mean == 0.0);

        // An output this scheduler cannot read shows nothing rather than failing the call.
        state.tasks.get_mut(&report_task).expect("task").output_json = Some("{\"kind\":\"report\"}".to_owned());
        assert!(shown(&state).renditions.is_empty());
    }
}
