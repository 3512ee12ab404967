//! The planner: expands a job into its task DAG, step by step as results arrive.
//!
//! ```text
//! inspect [─▶ inspect_segment(segment)… ─▶ inspect] ─▶ [analyze(chunk, codec, size)…] ─▶ ladder ─▶ encode(chunk, rungs) ─┬▶ assemble(rung) ─▶ validate(rung) ─┐
//!                                  │                                        └▶ score(chunk, codec's rungs) ──────┤
//!                                  └─▶ [audio] [subtitles] ──────────────────────────────────────▶ package ◀───┘ (all validates, the audio, the subtitles)
//!                                                                                                  report  ◀── package + all scores
//! ```
//!
//! A job starts with one `inspect` task. A long source comes back cut into segments: one
//! `inspect_segment` task each, side by side, then a second `inspect` task whose spec names
//! their decodes joins them. The inspection's output (source facts, chunk list) lets the
//! planner add `audio` (a source with audio: every track encoded whole, beside the video's
//! stages, for `package`), `subtitles` (a source with a text subtitle track: every one
//! converted to WebVTT, likewise) and `ladder` — for a per-title or per-shot recipe, behind one `analyze` task per
//! chunk, codec and trial size (`shotfarm_proto::analysis`: each encodes the chunk at every
//! setting of the grid and scores it), whose trials the ladder spec carries; the ladder's
//! rungs let it add the rest of the DAG at once, with
//! everything but the encodes blocked on their dependencies. A blocked task's spec is written
//! when its last dependency succeeds, from the job's plan and the dependencies' outputs.
//! An encode task covers one rung of one chunk, or (the job's `rungs_per_encode`) a run of
//! consecutive rungs of one codec encoded from a single decode of the chunk; scoring is a
//! task per chunk and run of rungs of one codec (every rung of the codec against one decode
//! of the chunk's source frames, after the encodes that made them) unless the job turned it off.
//!
//! | module | what |
//! | --- | --- |
//! | `demands` | what each task kind asks of a node, per backend, in order of preference ([`options_for`]) |
//! | `specs` | each task kind's spec, from the job's plan and its dependencies' outputs |
//! | `tests` | how a chunk's rungs are grouped into encode and score tasks (whole DAGs are tested through `apply`, in `machine`) |
//!
//! Everything here runs inside `apply`, so it is deterministic: no clock, no randomness.
//! A per-title or per-shot ladder's decision (each chunk's setting per rung) is kept in the
//! job's plan and written into each encode spec.

mod demands;
mod specs;

use std::collections::BTreeSet;
use std::ops::Range;

use shotfarm_proto::analysis::{analysed_chunks, trial_sizes};
use shotfarm_proto::pipeline::{Rung, SourceSegment, TaskKind, TaskOutput};

use crate::state::model::{JobId, Millis, Task, TaskId, TaskState};
use crate::state::{RowKey, State};

pub use demands::options_for;

/// Adds a job's first task.
pub fn start_job(state: &mut State, job: JobId, now_ms: Millis) {
    let Some(spec) = state.jobs.get(&job).map(|job| specs::inspect(job, Vec::new())) else { return };
    add_task(state, job, TaskKind::Inspect, "inspect source".to_owned(), Target::JOB, Vec::new(), Some(spec), now_ms);
}

/// Reacts to a task's success: records what it taught the plan, adds the tasks that
/// unlocks, and queues the dependents that have become ready. Returns an error message when
/// the output is unusable, which fails the job.
pub fn on_task_succeeded(state: &mut State, task_id: TaskId, output: &TaskOutput, now_ms: Millis) -> Result<(), String> {
    let Some(job_id) = state.tasks.get(&task_id).map(|task| task.job) else { return Ok(()) };
    match output {
        TaskOutput::Inspect { source, chunks, inspection, chunk_complexity, text_subtitles, .. } => {
            if chunks.is_empty() {
                return Err("inspection produced no chunks".to_owned());
            }
            if let Some(job) = state.jobs.get_mut(&job_id) {
                job.plan.source = Some(source.clone());
                job.plan.inspection = Some(inspection.clone());
                job.plan.chunks = chunks.clone();
            }
            state.mark(RowKey::Job(job_id));
            if source.has_audio {
                let spec = state.jobs.get(&job_id).map(specs::audio).transpose()?;
                add_task(state, job_id, TaskKind::Audio, "encode audio".to_owned(), Target::JOB, vec![task_id], spec, now_ms);
            }
            if *text_subtitles {
                let spec = state.jobs.get(&job_id).map(specs::subtitles).transpose()?;
                add_task(state, job_id, TaskKind::Subtitles, "convert subtitles".to_owned(), Target::JOB, vec![task_id], spec, now_ms);
            }
            let analyses = plan_analysis(state, job_id, task_id, chunk_complexity, now_ms)?;
            let spec = if analyses.is_empty() { state.jobs.get(&job_id).map(|job| specs::ladder(job, Vec::new())).transpose()? } else { None };
            let deps = if analyses.is_empty() { vec![task_id] } else { analyses };
            add_task(state, job_id, TaskKind::Ladder, "choose ladder".to_owned(), Target::JOB, deps, spec, now_ms);
        }
        TaskOutput::InspectSegments { segments } => {
            check_segments(segments)?;
            let mut decodes = Vec::with_capacity(segments.len());
            for segment in segments {
                let spec = state.jobs.get(&job_id).map(|job| specs::inspect_segment(job, *segment)).transpose()?;
                decodes.push(add_task(state, job_id, TaskKind::InspectSegment, format!("inspect segment {}", segment.index), Target::JOB, vec![task_id], spec, now_ms));
            }
            add_task(state, job_id, TaskKind::Inspect, "join the inspected segments".to_owned(), Target::JOB, decodes, None, now_ms);
        }
        TaskOutput::Ladder { rungs, decision } => {
            if rungs.is_empty() {
                return Err("the ladder has no rungs".to_owned());
            }
            if let Some(job) = state.jobs.get_mut(&job_id) {
                job.plan.rungs = rungs.clone();
                job.plan.decision = decision.clone();
            }
            state.mark(RowKey::Job(job_id));
            expand_ladder(state, job_id, task_id, now_ms)?;
        }
        _ => {}
    }
    release_dependents(state, job_id, task_id, now_ms)
}

/// The most segments an inspection may cut a source into (an agent's output is outside input).
pub const MAX_SEGMENTS: usize = 1024;

/// A cut source's segments: 2 to [`MAX_SEGMENTS`], numbered in order, none empty.
fn check_segments(segments: &[SourceSegment]) -> Result<(), String> {
    if !(2..=MAX_SEGMENTS).contains(&segments.len()) {
        return Err(format!("inspection cut the source into {} segments; 2 to {MAX_SEGMENTS} are planned", segments.len()));
    }
    match segments.iter().enumerate().find(|(position, segment)| segment.index as usize != *position || segment.frames == 0) {
        Some((position, segment)) => Err(format!("inspection's segment {position} is numbered {} with {} frames; segments are numbered from 0 in order, none empty", segment.index, segment.frames)),
        None => Ok(()),
    }
}

/// For a recipe that needs analysis, adds one analyze task per analysed chunk (every one per
/// shot, a sample by complexity of a long title per title: [`analysed_chunks`]), codec and
/// trial size (each runs the whole setting grid at its size); returns their ids (none for
/// other recipes).
fn plan_analysis(state: &mut State, job_id: JobId, inspect_task: TaskId, chunk_complexity: &[f64], now_ms: Millis) -> Result<Vec<TaskId>, String> {
    let Some(job) = state.jobs.get(&job_id) else { return Ok(Vec::new()) };
    if !job.spec.recipe.ladder.needs_analysis() {
        return Ok(Vec::new());
    }
    let source = job.plan.source.clone().ok_or("analysis planned before inspection finished")?;
    let (chunks, codecs) = (analysed_chunks(job.spec.recipe.ladder, &job.plan.chunks, chunk_complexity), specs::codecs(job));
    let mut analyses = Vec::new();
    for codec in codecs {
        for (width, height) in trial_sizes(&source) {
            for &chunk in &chunks {
                let spec = state.jobs.get(&job_id).map(|job| specs::analyze(job, chunk, codec, width, height)).transpose()?;
                let label = format!("analyze chunk {chunk} {} {width}x{height}", codec.as_str());
                let target = Target { chunk: Some(chunk), ..Target::JOB };
                analyses.push(add_task(state, job_id, TaskKind::Analyze, label, target, vec![inspect_task], spec, now_ms));
            }
        }
    }
    Ok(analyses)
}

/// Adds encode, score, assemble, validate, package and report tasks for every rung: an
/// encode task per chunk and group of rungs ([`encode_groups`]), a score task per chunk and
/// run of rungs of one codec ([`score_groups`]; unless the job turned scoring off).
fn expand_ladder(state: &mut State, job_id: JobId, ladder_task: TaskId, now_ms: Millis) -> Result<(), String> {
    let Some(job) = state.jobs.get(&job_id) else { return Ok(()) };
    let plan = job.plan.clone();
    let score_quality = job.spec.score_quality;
    let groups = encode_groups(&plan.rungs, job.spec.rungs_per_encode);
    let names = |group: &Range<u32>| plan.rungs[group.start as usize..group.end as usize].iter().map(|rung| rung.name.as_str()).collect::<Vec<_>>().join("+");
    // The encode task of each (rung, chunk).
    let mut encodes_by_rung: Vec<Vec<TaskId>> = vec![Vec::new(); plan.rungs.len()];
    for group in &groups {
        for chunk in &plan.chunks {
            let spec = state.jobs.get(&job_id).map(|job| specs::encode(job, chunk.index, group.clone())).transpose()?;
            let target = Target { chunk: Some(chunk.index), rung: Some(group.start), rung_count: group.end - group.start };
            let encode = add_task(state, job_id, TaskKind::Encode, format!("encode chunk {} {}", chunk.index, names(group)), target, vec![ladder_task], spec, now_ms);
            for rung_index in group.clone() {
                encodes_by_rung[rung_index as usize].push(encode);
            }
        }
    }
    let mut scores = Vec::new();
    if score_quality {
        for group in score_groups(&plan.rungs) {
            for (position, chunk) in plan.chunks.iter().enumerate() {
                let mut encodes: Vec<TaskId> = group.clone().map(|rung_index| encodes_by_rung[rung_index as usize][position]).collect();
                encodes.dedup();
                let target = Target { chunk: Some(chunk.index), rung: Some(group.start), rung_count: group.end - group.start };
                scores.push(add_task(state, job_id, TaskKind::Score, format!("score chunk {} {}", chunk.index, names(&group)), target, encodes, None, now_ms));
            }
        }
    }
    let mut validates = Vec::new();
    for (rung_index, (rung, encodes)) in plan.rungs.iter().zip(encodes_by_rung).enumerate() {
        let target = Target::rung(rung_index as u32);
        let assemble = add_task(state, job_id, TaskKind::Assemble, format!("assemble {}", rung.name), target, encodes, None, now_ms);
        validates.push(add_task(state, job_id, TaskKind::Validate, format!("validate {}", rung.name), target, vec![assemble], None, now_ms));
    }
    // The audio and the subtitles were planned with the ladder's inspection and may be done
    // already.
    let mut package_deps = validates;
    let job_tasks = state.jobs.get(&job_id).map(|job| job.tasks.as_slice()).unwrap_or_default();
    let side_tracks = |id: &TaskId| state.tasks.get(id).is_some_and(|task| matches!(task.kind, TaskKind::Audio | TaskKind::Subtitles));
    package_deps.extend(job_tasks.iter().copied().filter(side_tracks));
    let package = add_task(state, job_id, TaskKind::Package, "package HLS and DASH".to_owned(), Target::JOB, package_deps, None, now_ms);
    let mut report_deps = vec![package];
    report_deps.extend(scores);
    add_task(state, job_id, TaskKind::Report, "write report".to_owned(), Target::JOB, report_deps, None, now_ms);
    Ok(())
}

/// The rungs each encode task of a chunk produces: runs of consecutive rungs of one codec,
/// at most `per_task` long (one decode of the chunk feeds them all).
fn encode_groups(rungs: &[Rung], per_task: u32) -> Vec<Range<u32>> {
    let per_task = per_task.max(1);
    let mut groups: Vec<Range<u32>> = Vec::new();
    for (index, rung) in rungs.iter().enumerate() {
        let index = index as u32;
        match groups.last_mut() {
            Some(group) if group.end - group.start < per_task && rungs[group.start as usize].codec == rung.codec => group.end = index + 1,
            _ => groups.push(index..index + 1),
        }
    }
    groups
}

/// The rungs each score task of a chunk scores: every run of consecutive rungs of one codec,
/// whatever the encode tasks, against one decode of the chunk's source frames (the reference
/// is the same for every rung of a codec: tone-mapped or not as that codec's renditions are).
fn score_groups(rungs: &[Rung]) -> Vec<Range<u32>> {
    encode_groups(rungs, u32::MAX)
}

/// What a task works on: a chunk, a run of rungs, both or neither.
#[derive(Debug, Clone, Copy)]
struct Target {
    chunk: Option<u32>,
    rung: Option<u32>,
    rung_count: u32,
}

impl Target {
    /// The whole job.
    const JOB: Target = Target { chunk: None, rung: None, rung_count: 0 };

    fn rung(rung: u32) -> Target {
        Target { chunk: None, rung: Some(rung), rung_count: 1 }
    }
}

/// Whether a dependent of `finished` is released once every task `succeeded` holds for has
/// succeeded: it is blocked, of the same job, and waits on nothing else.
/// Whether `task` of `job_id` is blocked on nothing but succeeded tasks. The latest
/// dependencies are checked first: tasks finish roughly in the order they were created, so an
/// unfinished one is usually met at once. In creation order, every encode's success made its
/// rung's assemble look up every encode before it, quadratic in a job's chunks (15 % of a
/// replica's driver thread under `bench scheduler`).
fn releasable(task: &Task, job_id: JobId, succeeded: impl Fn(TaskId) -> bool) -> bool {
    task.job == job_id && task.state == TaskState::Blocked && task.deps.iter().rev().all(|dep| succeeded(*dep))
}

fn has_succeeded(state: &State, task: TaskId) -> bool {
    state.tasks.get(&task).is_some_and(|task| task.state == TaskState::Succeeded)
}

/// The blocked tasks that the success of `succeeding` (results not applied yet) will queue
/// when those results apply, as [`on_task_succeeded`] releases dependents, by id: the leader
/// places them in the entry that carries the results. Tasks a result creates (the next
/// stages of the plan) are not known before it applies and are not among them.
pub fn released_by(state: &State, succeeding: &BTreeSet<TaskId>) -> BTreeSet<TaskId> {
    let succeeded = |dep: TaskId| succeeding.contains(&dep) || has_succeeded(state, dep);
    succeeding
        .iter()
        .filter_map(|finished| Some((state.tasks.get(finished)?.job, state.dependents_of(*finished))))
        .flat_map(|(job_id, dependents)| dependents.iter().filter_map(|id| state.tasks.get(id)).filter(move |task| releasable(task, job_id, succeeded)))
        .map(|task| task.id)
        .collect()
}

/// Queues every blocked task of the job whose dependencies have all succeeded: the dependents
/// of the one that just did ([`State::dependents_of`]), not a scan of the job.
fn release_dependents(state: &mut State, job_id: JobId, finished: TaskId, now_ms: Millis) -> Result<(), String> {
    let ready: Vec<TaskId> = state
        .dependents_of(finished)
        .iter()
        .filter_map(|id| state.tasks.get(id))
        .filter(|task| releasable(task, job_id, |dep| has_succeeded(state, dep)))
        .map(|task| task.id)
        .collect();
    for task_id in ready {
        let spec = {
            let (Some(job), Some(task)) = (state.jobs.get(&job_id), state.tasks.get(&task_id)) else { continue };
            specs::for_ready_task(state, job, task)?
        };
        state.set_task_spec(task_id, spec);
        if let Some(task) = state.tasks.get_mut(&task_id) {
            task.queued_at_ms = Some(now_ms);
        }
        state.set_task_state(task_id, TaskState::Queued);
    }
    Ok(())
}

/// Creates a task: queued when its spec is known and it has no unfinished dependency,
/// blocked otherwise.
#[expect(clippy::too_many_arguments, reason = "one call site per kind; a builder would only rename the arguments")]
fn add_task(
    state: &mut State,
    job_id: JobId,
    kind: TaskKind,
    label: String,
    target: Target,
    deps: Vec<TaskId>,
    spec_json: Option<String>,
    now_ms: Millis,
) -> TaskId {
    state.meta.next_task_id += 1;
    let id = state.meta.next_task_id;
    state.mark(RowKey::Meta);
    let rungs: Vec<Rung> = match (state.jobs.get(&job_id), target.rung) {
        (Some(job), Some(first)) => job.plan.rungs.iter().skip(first as usize).take(target.rung_count as usize).cloned().collect(),
        _ => Vec::new(),
    };
    let ready = spec_json.is_some()
        && deps.iter().all(|dep| state.tasks.get(dep).is_some_and(|dep| dep.state == TaskState::Succeeded));
    let task = Task {
        chunk: target.chunk,
        rung: target.rung,
        rung_count: target.rung_count,
        queued_at_ms: ready.then_some(now_ms),
        ..Task::new(id, job_id, kind, label, deps, spec_json, options_for(kind, &rungs))
    };
    state.insert_task(task);
    if let Some(job) = state.jobs.get_mut(&job_id) {
        job.tasks.push(id);
    }
    state.mark(RowKey::Job(job_id));
    if ready {
        state.set_task_state(id, TaskState::Queued);
    }
    id
}

#[cfg(test)]
mod tests;
