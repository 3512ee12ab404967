//! Building each task kind's spec from the job's plan and its dependencies' outputs.

use std::ops::Range;

use shotfarm_proto::analysis::{ChunkTrials, TrialSpec, trial_settings};
use shotfarm_proto::pipeline::{Artifact, Codec, EncodedChunk, EncodedRendition, InspectedSegment, RenditionToScore, Rung, SourceSegment, TaskKind, TaskOutput, TaskSpec};

use crate::state::State;
use crate::state::model::{Job, Millis, Task, TaskId, TaskState, format_job_id};

fn to_json(spec: &TaskSpec) -> Result<String, String> {
    serde_json::to_string(spec).map_err(|err| format!("cannot encode {} spec: {err}", spec.kind().as_str()))
}

/// The job's first inspect task, or (with `segments`) the one that joins the decodes of the
/// segments the first cut the source into.
pub fn inspect(job: &Job, segments: Vec<InspectedSegment>) -> String {
    let spec = TaskSpec::Inspect {
        locations: job.plan.locations.clone(),
        chunk_min_ms: job.spec.chunk_min_ms,
        chunk_max_ms: job.spec.chunk_max_ms,
        segments,
    };
    // A spec of plain strings and numbers always encodes.
    serde_json::to_string(&spec).unwrap_or_default()
}

pub fn inspect_segment(job: &Job, segment: SourceSegment) -> Result<String, String> {
    to_json(&TaskSpec::InspectSegment { locations: job.plan.locations.clone(), segment })
}

/// The job's codecs, each once, in the order asked (H.264 when none).
pub fn codecs(job: &Job) -> Vec<Codec> {
    let mut codecs: Vec<Codec> = Vec::new();
    for codec in job.spec.codecs.iter().filter_map(|name| Codec::parse(name)) {
        if !codecs.contains(&codec) {
            codecs.push(codec);
        }
    }
    if codecs.is_empty() { vec![Codec::H264] } else { codecs }
}

pub fn ladder(job: &Job, analysis: Vec<ChunkTrials>) -> Result<String, String> {
    let source = job.plan.source.clone().ok_or("ladder planned before inspection finished")?;
    to_json(&TaskSpec::Ladder { locations: job.plan.locations.clone(), source, codecs: codecs(job), recipe: job.spec.recipe.clone(), analysis })
}

pub fn analyze(job: &Job, chunk: u32, codec: Codec, width: u32, height: u32) -> Result<String, String> {
    let source = job.plan.source.clone().ok_or("analysis planned before inspection finished")?;
    let chunk = *job.plan.chunks.get(chunk as usize).ok_or_else(|| format!("no chunk {chunk} in the plan"))?;
    let inspection = job.plan.inspection.clone().ok_or("analysis planned before inspection finished")?;
    let trials = trial_settings(codec).iter().map(|&setting| TrialSpec { width, height, setting }).collect();
    let preset = job.spec.recipe.preset.clone();
    to_json(&TaskSpec::Analyze { locations: job.plan.locations.clone(), source, inspection, chunk, codec, trials, preset })
}

/// The audio task: every audio track of the source, fitted to the video's frames.
pub fn audio(job: &Job) -> Result<String, String> {
    let source = job.plan.source.clone().ok_or("audio planned before inspection finished")?;
    to_json(&TaskSpec::Audio { locations: job.plan.locations.clone(), source })
}

/// The subtitles task: every text subtitle track of the source, as WebVTT.
pub fn subtitles(job: &Job) -> Result<String, String> {
    to_json(&TaskSpec::Subtitles { locations: job.plan.locations.clone() })
}

pub fn encode(job: &Job, chunk: u32, rungs: Range<u32>) -> Result<String, String> {
    let source = job.plan.source.clone().ok_or("encode planned before inspection finished")?;
    let chunk = *job.plan.chunks.get(chunk as usize).ok_or_else(|| format!("no chunk {chunk} in the plan"))?;
    let rungs = job.plan.rungs.get(rungs.start as usize..rungs.end as usize).ok_or_else(|| format!("no rungs {rungs:?} in the plan"))?.to_vec();
    let inspection = job.plan.inspection.clone().ok_or("encode planned before inspection finished")?;
    let preset = job.spec.recipe.preset.clone();
    let settings = chunk_settings(job, chunk.index, &rungs)?;
    to_json(&TaskSpec::Encode { locations: job.plan.locations.clone(), source, inspection, chunk, rungs, preset, settings })
}

/// A per-title or per-shot ladder's setting of `chunk` for each of `rungs`; empty for other
/// ladders (the rungs' bitrates).
fn chunk_settings(job: &Job, chunk: u32, rungs: &[Rung]) -> Result<Vec<f64>, String> {
    let Some(decision) = &job.plan.decision else { return Ok(Vec::new()) };
    rungs
        .iter()
        .map(|rung| decision.chunk_setting(&rung.name, chunk).ok_or_else(|| format!("the {} ladder has no setting for chunk {chunk} of {}", decision.ladder.as_str(), rung.name)))
        .collect()
}

/// The tasks `task` depends on.
fn deps<'a>(state: &'a State, task: &Task) -> Vec<&'a Task> {
    task.deps.iter().filter_map(|dep| state.tasks.get(dep)).collect()
}

/// The spec of a blocked task whose dependencies all succeeded.
pub fn for_ready_task(state: &State, job: &Job, task: &Task) -> Result<String, String> {
    if task.kind == TaskKind::Inspect {
        let mut segments = Vec::new();
        for dep in deps(state, task) {
            if let TaskOutput::InspectSegment { segment, piece } = &*state.output_of(dep)? {
                segments.push(InspectedSegment { segment: *segment, piece: piece.clone() });
            }
        }
        segments.sort_by_key(|inspected| inspected.segment.index);
        return Ok(inspect(job, segments));
    }
    let plan = &job.plan;
    let locations = plan.locations.clone();
    let source = plan.source.clone().ok_or("a stage became ready before inspection finished")?;
    let inspection = || plan.inspection.clone().ok_or("a stage became ready before inspection finished");
    let rung = || {
        task.rung
            .and_then(|rung| plan.rungs.get(rung as usize))
            .cloned()
            .ok_or_else(|| format!("task {} has no rung in the plan", task.id))
    };
    let spec = match task.kind {
        TaskKind::Ladder => {
            let mut analysis = Vec::new();
            for dep in deps(state, task) {
                if let TaskOutput::Analyze { chunk, codec, trials } = &*state.output_of(dep)? {
                    analysis.push(ChunkTrials { chunk: *chunk, codec: *codec, trials: trials.clone() });
                }
            }
            return ladder(job, analysis);
        }
        TaskKind::Score => {
            let chunk = task.chunk.and_then(|chunk| plan.chunks.get(chunk as usize)).copied()
                .ok_or_else(|| format!("task {} has no chunk in the plan", task.id))?;
            let first = task.rung.ok_or_else(|| format!("task {} has no rungs in the plan", task.id))?;
            let rungs = plan.rungs.get(first as usize..(first + task.rung_count) as usize).filter(|rungs| !rungs.is_empty())
                .ok_or_else(|| format!("task {} has no rungs in the plan", task.id))?;
            let mut encoded: Vec<EncodedRendition> = Vec::new();
            for dep in deps(state, task) {
                if let TaskOutput::Encode { renditions, .. } = &*state.output_of(dep)? {
                    encoded.extend(renditions.iter().cloned());
                }
            }
            let renditions = rungs.iter().map(|rung| {
                let encoded = encoded.iter().find(|encoded| encoded.rung == rung.name).map(|encoded| encoded.artifact.clone())
                    .ok_or_else(|| format!("score is missing its encoded chunk of {}", rung.name))?;
                Ok(RenditionToScore { rung: rung.clone(), encoded })
            }).collect::<Result<Vec<_>, String>>()?;
            TaskSpec::Score { locations, source, inspection: inspection()?, chunk, renditions }
        }
        TaskKind::Assemble => {
            let rung = rung()?;
            let chunks = encoded_chunks(state, task, &rung)?;
            TaskSpec::Assemble { locations, source, rung, chunks }
        }
        TaskKind::Validate => {
            let rung = rung()?;
            let stream = assembled_stream(state, task)?;
            let assemble = deps(state, task).into_iter().find(|dep| dep.kind == TaskKind::Assemble).ok_or_else(|| format!("task {} is missing its assemble task", task.id))?;
            let chunks = encoded_chunks(state, assemble, &rung)?;
            TaskSpec::Validate { locations, source, inspection: inspection()?, rung, stream, chunks }
        }
        TaskKind::Package => {
            let (mut renditions, mut audio, mut subtitles) = (Vec::new(), Vec::new(), Vec::new());
            for dep in deps(state, task) {
                if matches!(dep.kind, TaskKind::Audio | TaskKind::Subtitles) {
                    match &*state.output_of(dep)? {
                        TaskOutput::Audio { renditions } => audio.extend(renditions.iter().cloned()),
                        TaskOutput::Subtitles { renditions } => subtitles.extend(renditions.iter().cloned()),
                        _ => {}
                    }
                    continue;
                }
                let rung = dep.rung.and_then(|rung| plan.rungs.get(rung as usize)).cloned()
                    .ok_or("package depends on a validate task without a rung")?;
                renditions.push((rung, assembled_stream(state, dep)?));
            }
            let (thumbnails, encryption) = (job.spec.thumbnails.clone(), job.spec.encryption.clone());
            TaskSpec::Package { locations, source, inspection: inspection()?, renditions, audio, subtitles, thumbnails, encryption }
        }
        TaskKind::Report => {
            let outputs = job.tasks.iter().filter_map(|id| state.tasks.get(id))
                .filter(|task| task.state == TaskState::Succeeded)
                .map(|task| state.output_of(task).map(|output| (*output).clone()))
                .collect::<Result<Vec<_>, _>>()?;
            TaskSpec::Report { locations, job_facts: job_facts(state, job), outputs }
        }
        other => return Err(format!("{} tasks are never blocked", other.as_str())),
    };
    to_json(&spec)
}

/// The encoded chunks of `rung` that `task` (an assemble task) depends on, in chunk order,
/// each with what its encode verified.
fn encoded_chunks(state: &State, task: &Task, rung: &Rung) -> Result<Vec<EncodedChunk>, String> {
    let mut chunks = Vec::new();
    for dep in deps(state, task) {
        if let TaskOutput::Encode { chunk, renditions } = &*state.output_of(dep)? {
            let encoded = rendition_of(renditions, &rung.name).ok_or_else(|| format!("encode task {} has no {} rendition of chunk {}", dep.id, rung.name, chunk.index))?;
            chunks.push(EncodedChunk { chunk: *chunk, artifact: encoded.artifact.clone(), verified: encoded.verified.clone() });
        }
    }
    chunks.sort_by_key(|encoded| encoded.chunk.index);
    Ok(chunks)
}

/// The rendition named `rung` among an encode task's outputs.
fn rendition_of<'a>(renditions: &'a [EncodedRendition], rung: &str) -> Option<&'a EncodedRendition> {
    renditions.iter().find(|encoded| encoded.rung == rung)
}

/// The assembled stream a validate task checks (the output of its assemble dependency).
fn assembled_stream(state: &State, validate: &Task) -> Result<Artifact, String> {
    deps(state, validate).into_iter().find_map(|dep| match state.output_of(dep).as_deref() {
        Ok(TaskOutput::Assemble { stream, .. }) => Some(stream.clone()),
        _ => None,
    }).ok_or_else(|| format!("task {} is missing its assembled stream", validate.id))
}

/// The replicated facts of a job for report.json: timings, attempts, nodes (read by the
/// agent's `tasks::job_facts`). Serialized straight from borrowed rows: a job of many tasks
/// makes a report spec of many facts, on every replica.
fn job_facts(state: &State, job: &Job) -> String {
    let tasks = job.tasks.iter().filter_map(|id| state.tasks.get(id)).map(|task| TaskFacts {
        task_id: task.id,
        kind: task.kind.as_str(),
        label: &task.label,
        chunk: task.chunk,
        rungs: task.rung.map_or(&[][..], |first| job.plan.rungs.get(first as usize..(first + task.rung_count) as usize).unwrap_or_default())
            .iter().map(|rung| rung.name.as_str()).collect(),
        queued_at_ms: task.queued_at_ms,
        deps: &task.deps,
        cpu_milli: task.options.iter().find(|option| option.backend == "cpu").map(|option| option.demand.cpu_milli),
        attempts: task.history.iter().map(|attempt| AttemptFacts {
            attempt: attempt.attempt,
            node: state.nodes.get(&attempt.node).map_or_else(|| attempt.node.to_string(), |node| node.name.clone()),
            backend: &attempt.backend,
            started_at_ms: attempt.started_at_ms,
            finished_at_ms: attempt.finished_at_ms,
            outcome: &attempt.outcome,
            cpu_seconds: attempt.cpu_micros.map(|micros| micros as f64 / 1e6),
        }).collect(),
    }).collect();
    let facts = JobFacts {
        job_id: format_job_id(job.id),
        request_id: &job.request_id,
        input_url: &job.spec.input_url,
        output_url: &job.spec.output_url,
        labels: &job.spec.labels,
        created_at_ms: job.created_at_ms,
        tasks,
        recipe: job.spec.from_recipe.as_ref().map(|from| serde_json::json!({ "name": from.name, "version": from.version, "settings": job.spec })),
    };
    serde_json::to_string(&facts).unwrap_or_default()
}

#[derive(serde::Serialize)]
struct JobFacts<'a> {
    job_id: String,
    request_id: &'a str,
    input_url: &'a str,
    output_url: &'a str,
    labels: &'a std::collections::BTreeMap<String, String>,
    created_at_ms: Millis,
    tasks: Vec<TaskFacts<'a>>,
    recipe: Option<serde_json::Value>,
}

#[derive(serde::Serialize)]
struct TaskFacts<'a> {
    task_id: TaskId,
    kind: &'static str,
    label: &'a str,
    chunk: Option<u32>,
    rungs: Vec<&'a str>,
    queued_at_ms: Option<Millis>,
    deps: &'a [TaskId],
    cpu_milli: Option<u32>,
    attempts: Vec<AttemptFacts<'a>>,
}

#[derive(serde::Serialize)]
struct AttemptFacts<'a> {
    attempt: u32,
    node: String,
    backend: &'a str,
    started_at_ms: Millis,
    finished_at_ms: Millis,
    outcome: &'a str,
    cpu_seconds: Option<f64>,
}
