//! The report task: `report.json` at the root of the job's `output_url`, built from the
//! scheduler's job facts (attempts, nodes, timings) and every successful output (source facts
//! and shots from the committed inspection, rendition facts from the committed validation and
//! package results, quality from the scores), then the job's work area removed (best effort).
//!
//! The same report as a page, `report.html` (see [`crate::media::report_html`]), goes up first:
//! report.json in place means the report is finished, page included.
//!
//! Quality: per rendition, VMAF mean / harmonic mean / minimum / 1st percentile over all its
//! scored frames, PSNR-Y and SSIM as frame-weighted means; per chunk and rung the score task's
//! summary; per shot and rung the VMAF statistics of the shot's frames.

use std::collections::BTreeMap;
use std::path::Path;

use shotfarm_proto::analysis::LadderDecision;
use shotfarm_proto::pipeline::{Chunk, JobLocations, QualityStats, QualitySummary, ReportedRendition, Rung, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::inspection;
use super::job_facts::JobFacts;
use crate::media::quality::{VmafStats, weighted_mean};
use super::work_area::WorkArea;
use super::job_locations::check_locations;
use super::output_location::existing_files;
use super::{TaskContext, TaskError, task_errors};
use crate::media::inspect::Shot;
use crate::media::ladder_report::ladder_report;
use crate::media::package::PackageResult;
use crate::media::report::{
    ChunkAttempt, ChunkQuality, ChunkReport, JobReport, JobTimings, RenditionQuality, RenditionReport, ShotQuality, ShotRungVmaf, audio_report, rendition_reports, write_report,
};
use crate::media::report_html::{PageInputs, REPORT_PAGE_FILE, render_page, write_page};
use crate::media::validate::ValidationReport;
use crate::storage::{MediaStore, ObjectKey};

pub const REPORT_FILE: &str = "report.json";

/// One scored chunk of one rung.
#[derive(Debug, Clone, Copy)]
struct Scored<'a> {
    chunk: Chunk,
    rung: &'a str,
    quality: &'a QualitySummary,
}

pub async fn run(locations: &JobLocations, job_facts: &str, outputs: &[TaskOutput], ctx: &TaskContext, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    let facts = JobFacts::parse(job_facts)?;
    // The work area is removed below: not through a symlink planted since packaging.
    existing_files(&check_locations(locations, &ctx.roots)?, &ctx.roots).await?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let output_store = MediaStore::open(&locations.output_url).map_err(|error| task_errors::storage("opening the job's output location", error))?;

    let (inspection_key, chunks) = outputs
        .iter()
        .find_map(|output| match output {
            TaskOutput::Inspect { inspection, chunks, .. } => Some((inspection.key.clone(), chunks.clone())),
            _ => None,
        })
        .ok_or_else(|| TaskError::final_error("the report got no inspect output; the scheduler must pass every successful output"))?;
    let inspection_key = ObjectKey::parse(&inspection_key).map_err(|error| task_errors::key("the inspection key", error))?;
    let report_key = ObjectKey::parse(REPORT_FILE).map_err(|error| task_errors::key("naming the report", error))?;
    let report_url = format!("{}/{REPORT_FILE}", output_store.url());
    if already_reported(&work_area, &inspection_key, &output_store, &report_key).await? {
        // An earlier attempt wrote the report and removed the work area, but its success was
        // not recorded (the agent died in between): that report stands.
        tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, %report_url, "report already written by an earlier attempt");
        return Ok(TaskOutput::Report { renditions: reported_renditions(&output_store, &report_key, ctx).await, report: report_url });
    }
    let inspected = inspection::load_report(&work_area, &inspection_key, ctx).await?;
    let (rungs, decision): (Vec<Rung>, Option<&LadderDecision>) = outputs
        .iter()
        .find_map(|output| match output {
            TaskOutput::Ladder { rungs, decision } => Some((rungs.clone(), decision.as_ref())),
            _ => None,
        })
        .unwrap_or_default();
    let validated: Vec<&str> = outputs
        .iter()
        .filter_map(|output| match output {
            TaskOutput::Validate { rung, .. } => Some(rung.as_str()),
            _ => None,
        })
        .collect();
    let mut validations = Vec::with_capacity(validated.len());
    for rung in &validated {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let attempt = committed_attempt(&work_area, &facts, "validate", Some(rung), "validation", rung).await?;
        let report: ValidationReport = work_area.get_json(&WorkArea::validation_key(rung, attempt)?, &ctx.scratch_dir).await?;
        validations.push(report);
    }
    let package_attempt = committed_attempt(&work_area, &facts, "package", None, "package", "").await?;
    let package: PackageResult = work_area.get_json(&WorkArea::package_facts_key(package_attempt)?, &ctx.scratch_dir).await?;

    let scored: Vec<Scored> = outputs
        .iter()
        .flat_map(|output| match output {
            TaskOutput::Score { chunk, renditions } => renditions.iter().map(|rendition| Scored { chunk: *chunk, rung: rendition.rung.as_str(), quality: &rendition.quality }).collect(),
            _ => Vec::new(),
        })
        .collect();
    let rung_order: Vec<String> = if rungs.is_empty() { validated.iter().map(|rung| (*rung).to_owned()).collect() } else { rungs.iter().map(|rung| rung.name.clone()).collect() };
    let per_frame = per_frame_vmaf(&scored, &rung_order, inspected.source.video.frames);

    let root = Path::new("");
    let mut renditions = rendition_reports(&validations, &package, root);
    for rendition in &mut renditions {
        rendition.quality = rendition_quality(&scored, &rendition.name, per_frame.get(&rendition.name).map(Vec::as_slice).unwrap_or_default());
    }
    let ladder = decision.map(|decision| ladder_report(decision, &renditions));
    let report = JobReport {
        version: JobReport::VERSION,
        job_id: facts.job_id.clone().or_else(|| Some(ctx.job_id.clone())),
        source: inspected.source.clone(),
        warnings: inspected.warnings.clone(),
        renditions,
        audio: audio_report(&package, root),
        chunks: chunk_reports(&chunks, &facts, &scored, &rung_order),
        shots: shot_qualities(&inspected.shots, &rung_order, &per_frame),
        ladder,
        timings: JobTimings { stages: facts.stage_seconds(), total_seconds: facts.total_seconds(), tasks: facts.task_timings() },
        recipe: facts.recipe.clone(),
        encryption: package.protection.clone(),
    };
    let local = ctx.scratch_dir.join(REPORT_FILE);
    if let Some(parent) = local.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|error| task_errors::local_io("creating", parent, error))?;
    }
    let page = render_page(&PageInputs { report: &report, vmaf_per_frame: &per_frame }).map_err(|error| TaskError::final_error(error.to_string()))?;
    let local_page = ctx.scratch_dir.join(REPORT_PAGE_FILE);
    write_page(&page, &local_page).map_err(|error| TaskError::retryable(error.to_string()))?;
    let page_key = ObjectKey::parse(REPORT_PAGE_FILE).map_err(|error| task_errors::key("naming the report page", error))?;
    output_store.put_from_file(&local_page, &page_key).await.map_err(|error| task_errors::storage("uploading report.html to the output location", error))?;
    write_report(&report, &local).map_err(|error| TaskError::retryable(error.to_string()))?;
    output_store.put_from_file(&local, &report_key).await.map_err(|error| task_errors::storage("uploading report.json to the output location", error))?;
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, output_url = %locations.output_url, renditions = report.renditions.len(), "report written");
    remove_work_area(locations, ctx).await;
    Ok(TaskOutput::Report { report: report_url, renditions: report.renditions.iter().map(RenditionReport::summary).collect() })
}

/// The renditions of the report an earlier attempt wrote (none where it cannot be read back:
/// the report itself stands).
async fn reported_renditions(output_store: &MediaStore, report_key: &ObjectKey, ctx: &TaskContext) -> Vec<ReportedRendition> {
    let local = ctx.scratch_dir.join("earlier").join(REPORT_FILE);
    let read = async {
        output_store.get_to_file(report_key, &local).await.map_err(|error| error.to_string())?;
        let bytes = tokio::fs::read(&local).await.map_err(|error| error.to_string())?;
        serde_json::from_slice::<JobReport>(&bytes).map_err(|error| error.to_string())
    };
    match read.await {
        Ok(report) => report.renditions.iter().map(RenditionReport::summary).collect(),
        Err(error) => {
            tracing::warn!(task_id = ctx.task_id, %error, "could not read back the earlier report's renditions");
            Vec::new()
        }
    }
}

/// Whether the work area is gone and report.json is in place: a finished report.
async fn already_reported(work_area: &WorkArea, inspection_key: &ObjectKey, output_store: &MediaStore, report_key: &ObjectKey) -> Result<bool, TaskError> {
    let inspection_there = work_area.store().exists(inspection_key).await.map_err(|error| task_errors::storage("looking for the inspection", error))?;
    if inspection_there {
        return Ok(false);
    }
    output_store.exists(report_key).await.map_err(|error| task_errors::storage("looking for report.json", error))
}

/// The attempt whose artifact to read: the committed one from the job facts, or (facts that do
/// not record it) the newest one in the work area.
async fn committed_attempt(work_area: &WorkArea, facts: &JobFacts, kind: &str, rung: Option<&str>, prefix: &str, stem: &str) -> Result<u32, TaskError> {
    if let Some(attempt) = facts.succeeded_attempt(kind, rung) {
        return Ok(attempt);
    }
    let found = work_area.attempts_of(prefix, stem, "json").await?;
    found.first().copied().ok_or_else(|| {
        TaskError::final_error(format!(
            "no {kind} result{} in the work area {}; the job's intermediate files are gone",
            rung.map(|rung| format!(" for rung {rung}")).unwrap_or_default(),
            work_area.url()
        ))
    })
}

/// Per rung, per source frame: the frame's VMAF where it was scored.
fn per_frame_vmaf(scored: &[Scored], rungs: &[String], frames: u64) -> BTreeMap<String, Vec<Option<f64>>> {
    let mut per_rung: BTreeMap<String, Vec<Option<f64>>> = rungs.iter().map(|rung| (rung.clone(), vec![None; frames as usize])).collect();
    for score in scored {
        let Some(values) = per_rung.get_mut(score.rung) else { continue };
        for (offset, &vmaf) in score.quality.vmaf_per_frame.iter().enumerate() {
            let frame = score.chunk.start_frame as usize + offset;
            if frame < score.chunk.end_frame as usize
                && let Some(slot) = values.get_mut(frame)
            {
                *slot = Some(vmaf);
            }
        }
    }
    per_rung
}

fn rendition_quality(scored: &[Scored], rung: &str, per_frame: &[Option<f64>]) -> Option<RenditionQuality> {
    let values: Vec<f64> = per_frame.iter().flatten().copied().collect();
    let stats = VmafStats::of(&values)?;
    let of_rung = || scored.iter().filter(move |score| score.rung == rung);
    let weighted = |metric: fn(&QualityStats) -> f64| weighted_mean(of_rung().map(|score| (metric(&score.quality.stats), score.quality.vmaf_per_frame.len() as u64)));
    Some(RenditionQuality {
        stats: QualityStats {
            vmaf_mean: stats.mean,
            vmaf_harmonic_mean: stats.harmonic_mean,
            vmaf_min: stats.min,
            vmaf_p1: stats.p1,
            psnr_y: weighted(|quality| quality.psnr_y)?,
            ssim: weighted(|quality| quality.ssim)?,
        },
        frames_scored: stats.frames,
    })
}

fn chunk_reports(chunks: &[Chunk], facts: &JobFacts, scored: &[Scored], rungs: &[String]) -> Vec<ChunkReport> {
    chunks
        .iter()
        .map(|chunk| {
            let attempts = facts
                .tasks_of("encode")
                .filter(|task| task.chunk == Some(chunk.index))
                .flat_map(|task| {
                    task.attempts.iter().map(|attempt| ChunkAttempt {
                        rungs: task.rungs.clone(),
                        attempt: attempt.attempt,
                        node: (!attempt.node.is_empty()).then(|| attempt.node.clone()),
                        backend: (!attempt.backend.is_empty()).then(|| attempt.backend.clone()),
                        seconds: attempt.seconds(),
                        outcome: attempt.outcome.clone(),
                    })
                })
                .collect();
            let mut quality: Vec<ChunkQuality> = scored
                .iter()
                .filter(|score| score.chunk.index == chunk.index)
                .map(|score| ChunkQuality { rung: score.rung.to_owned(), stats: score.quality.stats })
                .collect();
            quality.sort_by_key(|entry| rungs.iter().position(|rung| *rung == entry.rung).unwrap_or(usize::MAX));
            ChunkReport { index: chunk.index, start_frame: chunk.start_frame, end_frame: chunk.end_frame, attempts, quality }
        })
        .collect()
}

fn shot_qualities(shots: &[Shot], rungs: &[String], per_frame: &BTreeMap<String, Vec<Option<f64>>>) -> Vec<ShotQuality> {
    shots
        .iter()
        .enumerate()
        .filter_map(|(index, shot)| {
            let vmaf: Vec<ShotRungVmaf> = rungs
                .iter()
                .filter_map(|rung| {
                    let values = per_frame.get(rung)?;
                    let range = values.get(shot.start as usize..(shot.end as usize).min(values.len()))?;
                    let scored: Vec<f64> = range.iter().flatten().copied().collect();
                    let stats = VmafStats::of(&scored)?;
                    Some(ShotRungVmaf { rung: rung.clone(), mean: stats.mean, harmonic_mean: stats.harmonic_mean, min: stats.min, p1: stats.p1 })
                })
                .collect();
            (!vmaf.is_empty()).then_some(ShotQuality { index: index as u32, start_frame: shot.start, end_frame: shot.end, vmaf })
        })
        .collect()
}

/// Removes the job's work area: a local directory is deleted (never the output root or a
/// parent of it); in other stores (S3) every object under the work area's prefix.
async fn remove_work_area(locations: &JobLocations, ctx: &TaskContext) {
    let local = |url: &str| url::Url::parse(url).ok().filter(|url| url.scheme() == "file").and_then(|url| url.to_file_path().ok());
    match (local(&locations.work_url), local(&locations.output_url)) {
        (Some(work), Some(output)) if output.starts_with(&work) => {
            tracing::warn!(task_id = ctx.task_id, work_url = %locations.work_url, "the work area contains the output; leaving it in place");
        }
        (Some(work), output) => {
            match tokio::fs::remove_dir_all(&work).await {
                Ok(()) => tracing::info!(task_id = ctx.task_id, work_url = %locations.work_url, "work area removed"),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => tracing::warn!(task_id = ctx.task_id, work_url = %locations.work_url, %error, "could not remove the work area"),
            }
            // The scheduler's `<output>/.shotfarm-work/<job>`: its parent goes too once empty
            // (remove_dir never removes a directory with anything left in it).
            if let (Some(parent), Some(output)) = (work.parent(), output)
                && parent.starts_with(&output)
                && parent != output
            {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
        (None, _) => match MediaStore::open(&locations.work_url) {
            Ok(store) => match store.delete_all().await {
                Ok(objects) => tracing::info!(task_id = ctx.task_id, work_url = %locations.work_url, objects, "work area removed"),
                Err(error) => tracing::warn!(task_id = ctx.task_id, work_url = %locations.work_url, %error, "could not remove the work area; delete the prefix by hand"),
            },
            Err(error) => tracing::warn!(task_id = ctx.task_id, work_url = %locations.work_url, %error, "could not open the work area to remove it"),
        },
    }
}
