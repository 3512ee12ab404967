//! The DAG a submitted job grows into for each task shape: one rung per encode or several,
//! with and without scoring; and the specs its blocked tasks get from their dependencies'
//! outputs. `apply` submits the job and the planner is fed every task's synthetic output.

use shotfarm_proto::analysis::{ALL_CHUNKS_UP_TO, trial_settings, trial_sizes};
use shotfarm_proto::pipeline::{Artifact, Codec, InspectedSegment, SegmentStart, SourceSegment, TaskKind, TaskOutput, TaskSpec};
use shotfarm_proto::recipe::{LadderKind, LadderRecipe};

use super::{Command, Outcome, apply};
use crate::planner::on_task_succeeded;
use crate::state::State;
use crate::state::model::{JobSpec, TaskId, TaskState};
use crate::synthetic;

/// Submits a job and runs its tasks to completion with synthetic outputs (2 chunks, 3 rungs),
/// in task order; returns the state and every spec the tasks were given.
fn run_job(rungs_per_encode: u32, score_quality: bool) -> (State, Vec<TaskSpec>) {
    run_spec(JobSpec { rungs_per_encode, score_quality, ..JobSpec::for_tests() })
}

fn run_spec(spec: JobSpec) -> (State, Vec<TaskSpec>) {
    run_spec_on(spec, 2)
}

/// [`run_spec`] on a source of `chunks` chunks.
fn run_spec_on(spec: JobSpec, chunks: u32) -> (State, Vec<TaskSpec>) {
    run_with_outputs(spec, |spec| synthetic::output_for(spec, chunks, 3))
}

/// Submits a job and runs its tasks to completion in task order, each with the output `output`
/// gives its spec; returns the state and every spec the tasks were given.
fn run_with_outputs(spec: JobSpec, output: impl Fn(&TaskSpec) -> TaskOutput) -> (State, Vec<TaskSpec>) {
    run_deferring(spec, output, |_| false)
}

/// [`run_with_outputs`], running tasks of the kinds `deferred` picks only when nothing else is
/// queued.
fn run_deferring(spec: JobSpec, output: impl Fn(&TaskSpec) -> TaskOutput, deferred: impl Fn(TaskKind) -> bool) -> (State, Vec<TaskSpec>) {
    let mut state = State::default();
    let (outcome, _) = apply(&mut state, &Command::SubmitJob { request_id: "r".to_owned(), owner: String::new(), spec, now_ms: 1, trace_parent: None });
    let Outcome::JobSubmitted { job, .. } = outcome else { panic!("not submitted: {outcome:?}") };
    let mut specs = Vec::new();
    loop {
        let queued = || state.jobs[&job].tasks.iter().copied().filter(|id| state.tasks[id].state == TaskState::Queued);
        let ready: Option<TaskId> = queued().find(|id| !deferred(state.tasks[id].kind)).or_else(|| queued().next());
        let Some(task_id) = ready else { break };
        let spec: TaskSpec = serde_json::from_str(state.tasks[&task_id].spec_json.as_deref().expect("a queued task has its spec")).expect("spec parses");
        let output = output(&spec);
        specs.push(spec);
        let task = state.tasks.get_mut(&task_id).expect("task");
        task.output_json = Some(serde_json::to_string(&output).expect("output encodes"));
        state.set_task_state(task_id, TaskState::Succeeded);
        on_task_succeeded(&mut state, task_id, &output, 2).expect("planner accepts the output");
        assert!(state.task_counts_agree(), "the derived task counts follow every change");
    }
    assert!(state.jobs[&job].tasks.iter().all(|id| state.tasks[id].state == TaskState::Succeeded), "every task ran");
    (state, specs)
}

fn count(specs: &[TaskSpec], kind: TaskKind) -> usize {
    specs.iter().filter(|spec| spec.kind() == kind).count()
}

#[test]
fn one_rung_per_encode_task_with_scoring() {
    let (_, specs) = run_job(1, true);
    assert_eq!(count(&specs, TaskKind::Encode), 2 * 3);
    assert_eq!(count(&specs, TaskKind::Score), 2, "one score task per chunk scores the codec's three rungs");
    assert_eq!(count(&specs, TaskKind::Assemble), 3);
    assert_eq!(count(&specs, TaskKind::Validate), 3);
    assert_eq!(count(&specs, TaskKind::Audio), 0, "a source without audio has no audio task");
    assert_eq!(count(&specs, TaskKind::Subtitles), 0, "nor one without text subtitles a subtitles task");
    for spec in &specs {
        if let TaskSpec::Encode { rungs, .. } = spec {
            assert_eq!(rungs.len(), 1);
        }
    }
}

#[test]
fn grouped_encodes_feed_every_rung_and_scoring_can_be_off() {
    let (state, specs) = run_job(2, false);
    let encodes: Vec<Vec<String>> = specs
        .iter()
        .filter_map(|spec| match spec {
            TaskSpec::Encode { rungs, .. } => Some(rungs.iter().map(|rung| rung.name.clone()).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(encodes, vec![vec!["h264_0", "h264_1"], vec!["h264_0", "h264_1"], vec!["h264_2"], vec!["h264_2"]]);
    assert_eq!(count(&specs, TaskKind::Score), 0);
    for spec in &specs {
        if let TaskSpec::Assemble { rung, chunks, .. } = spec {
            assert_eq!(chunks.iter().map(|encoded| encoded.chunk.index).collect::<Vec<_>>(), vec![0, 1]);
            for encoded in chunks {
                assert_eq!(encoded.artifact.key, format!("chunks/{}/{}.mp4", rung.name, encoded.chunk.index), "each rung assembles its own chunks");
            }
        }
    }
    let grouped = state.tasks.values().find(|task| task.kind == TaskKind::Encode).expect("an encode task");
    assert_eq!((grouped.rung, grouped.rung_count), (Some(0), 2));
    let cpu = grouped.options.iter().find(|option| option.backend == "cpu").expect("a cpu option");
    let nvenc = grouped.options.iter().find(|option| option.backend == "nvenc").expect("an nvenc option");
    assert_eq!(nvenc.demand.nvenc_sessions, 2, "one NVENC session per rung");
    assert!(cpu.demand.memory_mb > 1024);
}

#[test]
fn a_score_task_per_chunk_finds_every_rung_in_the_encodes_that_made_them() {
    for rungs_per_encode in [1, 2, 3] {
        let (state, specs) = run_job(rungs_per_encode, true);
        let scores: Vec<Vec<(String, String)>> = specs
            .iter()
            .filter_map(|spec| match spec {
                TaskSpec::Score { renditions, .. } => Some(renditions.iter().map(|rendition| (rendition.rung.name.clone(), rendition.encoded.key.clone())).collect()),
                _ => None,
            })
            .collect();
        assert_eq!(scores.len(), 2, "one score task per chunk, whatever the encode tasks");
        for (chunk, renditions) in scores.iter().enumerate() {
            assert_eq!(renditions.iter().map(|(rung, _)| rung.as_str()).collect::<Vec<_>>(), ["h264_0", "h264_1", "h264_2"]);
            for (rung, key) in renditions {
                assert_eq!(key, &format!("chunks/{rung}/{chunk}.mp4"), "score of {rung} got {key}");
            }
        }
        let score = state.tasks.values().find(|task| task.kind == TaskKind::Score).expect("a score task");
        assert_eq!((score.label.as_str(), score.rung, score.rung_count), ("score chunk 0 h264_0+h264_1+h264_2", Some(0), 3));
        let encodes_of_chunk_0 = state.tasks.values().filter(|task| task.kind == TaskKind::Encode && task.chunk == Some(0)).map(|task| task.id).collect::<Vec<_>>();
        assert_eq!(score.deps, encodes_of_chunk_0, "a score waits on every encode of its chunk's rungs, each once");
        let report = specs.iter().find_map(|spec| match spec {
            TaskSpec::Report { outputs, .. } => Some(outputs.iter().filter(|output| matches!(output, TaskOutput::Score { .. })).count()),
            _ => None,
        });
        assert_eq!(report, Some(2));
    }
}

#[test]
fn a_per_shot_job_analyses_every_chunk_at_every_trial_size_before_its_ladder() {
    let recipe = LadderRecipe { ladder: LadderKind::PerShot, ..LadderRecipe::default() };
    let (state, specs) = run_spec(JobSpec { recipe, ..JobSpec::for_tests() });
    let source = specs.iter().find_map(|spec| match spec {
        TaskSpec::Ladder { source, .. } => Some(source.clone()),
        _ => None,
    }).expect("a ladder spec");
    let sizes = trial_sizes(&source);
    assert_eq!(count(&specs, TaskKind::Analyze), 2 * sizes.len(), "one analyze task per chunk and trial size");
    for spec in &specs {
        if let TaskSpec::Analyze { trials, codec, .. } = spec {
            assert_eq!(trials.iter().map(|trial| trial.setting).collect::<Vec<_>>(), trial_settings(*codec));
        }
    }
    let (ladder_at, last_analysis) = (
        specs.iter().position(|spec| spec.kind() == TaskKind::Ladder).expect("ladder"),
        specs.iter().rposition(|spec| spec.kind() == TaskKind::Analyze).expect("analysis"),
    );
    assert!(ladder_at > last_analysis, "the ladder waits for every analysis");
    let TaskSpec::Ladder { analysis, .. } = &specs[ladder_at] else { unreachable!() };
    assert_eq!(analysis.len(), 2 * sizes.len(), "the ladder is given every analyze output");
    assert!(analysis.iter().all(|trials| trials.codec == Codec::H264 && trials.trials.len() == trial_settings(Codec::H264).len()));
    // Every encode carries its chunk's own setting of each of its rungs.
    for spec in &specs {
        if let TaskSpec::Encode { chunk, rungs, settings, .. } = spec {
            assert_eq!(settings, &vec![20.0 + f64::from(chunk.index); rungs.len()], "chunk {} {rungs:?}", chunk.index);
        }
    }
    let job = state.jobs.values().next().expect("the job");
    assert!(job.plan.decision.is_some(), "the decision is kept in the plan");
}

#[test]
fn a_per_title_job_encodes_every_chunk_at_the_rung_setting() {
    let recipe = LadderRecipe { ladder: LadderKind::PerTitle, ..LadderRecipe::default() };
    let (_, specs) = run_spec(JobSpec { recipe, ..JobSpec::for_tests() });
    assert!(count(&specs, TaskKind::Analyze) > 0);
    for spec in &specs {
        if let TaskSpec::Encode { rungs, settings, .. } = spec {
            assert_eq!(settings, &vec![23.0; rungs.len()]);
        }
    }
    // A fixed-ladder job runs no analysis.
    let (_, fixed) = run_job(1, true);
    assert_eq!(count(&fixed, TaskKind::Analyze), 0);
}

#[test]
fn a_long_per_title_job_analyses_a_sample_and_encodes_every_chunk() {
    let recipe = LadderRecipe { ladder: LadderKind::PerTitle, ..LadderRecipe::default() };
    let (_, specs) = run_spec_on(JobSpec { recipe, ..JobSpec::for_tests() }, 40);
    let analysed: std::collections::BTreeSet<u32> = specs
        .iter()
        .filter_map(|spec| match spec {
            TaskSpec::Analyze { chunk, .. } => Some(chunk.index),
            _ => None,
        })
        .collect();
    assert_eq!(analysed.len(), ALL_CHUNKS_UP_TO, "a sample of the 40 chunks: {analysed:?}");
    let encoded: std::collections::BTreeSet<u32> = specs
        .iter()
        .filter_map(|spec| match spec {
            TaskSpec::Encode { chunk, rungs, settings, .. } => {
                assert_eq!(settings, &vec![23.0; rungs.len()], "chunk {} takes the title setting", chunk.index);
                Some(chunk.index)
            }
            _ => None,
        })
        .collect();
    assert_eq!(encoded.len(), 40, "every chunk is encoded");
}

#[test]
fn the_report_gets_every_task_with_its_dependencies_and_cpu_demand() {
    let (state, specs) = run_job(1, true);
    let facts = specs.iter().find_map(|spec| match spec {
        TaskSpec::Report { job_facts, .. } => Some(job_facts.clone()),
        _ => None,
    });
    let facts: serde_json::Value = serde_json::from_str(&facts.expect("a report spec")).expect("facts are JSON");
    let tasks = facts["tasks"].as_array().expect("a task list");
    assert_eq!(tasks.len(), state.tasks.len());
    for task in tasks {
        let id = task["task_id"].as_u64().expect("an id");
        let deps: Vec<TaskId> = task["deps"].as_array().expect("deps").iter().filter_map(serde_json::Value::as_u64).collect();
        assert_eq!(deps, state.tasks[&id].deps, "task {id}");
        let cpu = state.tasks[&id].options.iter().find(|option| option.backend == "cpu").map(|option| u64::from(option.demand.cpu_milli));
        assert_eq!(task["cpu_milli"].as_u64(), cpu, "task {id}");
    }
    assert!(tasks.iter().any(|task| task["kind"] == "assemble" && task["deps"].as_array().is_some_and(|deps| deps.len() == 2)), "an assembly waits for both chunks");
}

#[test]
fn the_report_records_the_recipe_a_job_was_resolved_from() {
    let from_recipe = Some(crate::state::saved_recipes::RecipeRef { name: "web".to_owned(), version: 3 });
    let spec = JobSpec { from_recipe, codecs: vec!["hevc".to_owned()], ..JobSpec::for_tests() };
    let report_facts = |specs: &[TaskSpec]| -> serde_json::Value {
        let facts = specs.iter().find_map(|spec| match spec {
            TaskSpec::Report { job_facts, .. } => Some(job_facts.clone()),
            _ => None,
        });
        serde_json::from_str(&facts.expect("a report spec")).expect("facts are JSON")
    };
    let facts = report_facts(&run_spec(spec).1);
    assert_eq!((facts["recipe"]["name"].as_str(), facts["recipe"]["version"].as_u64()), (Some("web"), Some(3)));
    assert_eq!(facts["recipe"]["settings"]["codecs"], serde_json::json!(["hevc"]), "the resolved settings: {}", facts["recipe"]);
    assert!(report_facts(&run_spec(JobSpec::for_tests()).1)["recipe"].is_null(), "no recipe named, none recorded");
}

/// The synthetic outputs of a source with audio and a text subtitle track.
fn with_side_tracks(spec: &TaskSpec) -> TaskOutput {
    match synthetic::output_for(spec, 2, 3) {
        TaskOutput::Inspect { mut source, chunks, warnings, inspection, chunk_complexity, .. } => {
            source.has_audio = true;
            TaskOutput::Inspect { source, chunks, warnings, inspection, chunk_complexity, text_subtitles: true }
        }
        other => other,
    }
}

#[test]
fn a_sources_audio_and_subtitles_are_made_beside_the_video_and_packaged_with_it() {
    for (side, last) in [(TaskKind::Audio, false), (TaskKind::Audio, true), (TaskKind::Subtitles, false), (TaskKind::Subtitles, true)] {
        let context = format!("{} last: {last}", side.as_str());
        let (state, specs) = run_deferring(JobSpec::for_tests(), with_side_tracks, |kind| last && kind == side);
        let inspect_task = state.tasks.values().find(|task| task.kind == TaskKind::Inspect).expect("an inspect task");
        let position = |kind: TaskKind| specs.iter().position(|spec| spec.kind() == kind).expect("ran");
        let package_task = state.tasks.values().find(|task| task.kind == TaskKind::Package).expect("a package task");
        for (kind, planned) in [(TaskKind::Audio, 1), (TaskKind::Subtitles, 2)] {
            assert_eq!(count(&specs, kind), 1, "{context}");
            let task = state.tasks.values().find(|task| task.kind == kind).expect("planned");
            assert_eq!(task.deps, vec![inspect_task.id], "{context}: {} waits only for the inspection", kind.as_str());
            assert_eq!(task.id, inspect_task.id + planned, "{context}: planned with the inspection's results, before the ladder");
            assert!(package_task.deps.contains(&task.id), "{context}: package waits for {}", kind.as_str());
            assert!(position(TaskKind::Package) > position(kind), "{context}");
        }
        if last {
            assert!(position(side) > position(TaskKind::Validate), "{context}: every other stage ran first");
        } else {
            assert!(position(side) <= 2, "{context}: queued as soon as inspection succeeded");
        }
        let TaskOutput::Audio { renditions: audio_made } = with_side_tracks(&specs[position(TaskKind::Audio)]) else { panic!("an audio output") };
        let TaskOutput::Subtitles { renditions: subtitles_made } = with_side_tracks(&specs[position(TaskKind::Subtitles)]) else { panic!("a subtitles output") };
        match &specs[position(TaskKind::Package)] {
            TaskSpec::Package { audio, subtitles, renditions: video, .. } => {
                assert_eq!((audio, subtitles), (&audio_made, &subtitles_made), "{context}: the side tracks' renditions reach the package spec");
                assert_eq!(video.len(), 3, "{context}: and every validated rung");
            }
            other => panic!("not a package spec: {other:?}"),
        }
    }
}

/// Three segments of a 144-frame source, as an inspect task cuts it.
fn three_segments() -> Vec<SourceSegment> {
    (0..3)
        .map(|index| SourceSegment {
            index,
            start: (index > 0).then_some(SegmentStart { seek_seconds: f64::from(index) * 2.0 + 0.02, pts: i64::from(index) * 24_576 }),
            end_pts: (index < 2).then_some(i64::from(index + 1) * 24_576),
            frames: 48,
        })
        .collect()
}

#[test]
fn a_cut_source_is_inspected_by_a_task_per_segment_and_joined_by_a_second_inspect_task() {
    let (state, specs) = run_with_outputs(JobSpec::for_tests(), |spec| match spec {
        TaskSpec::Inspect { segments, .. } if segments.is_empty() => TaskOutput::InspectSegments { segments: three_segments() },
        other => synthetic::output_for(other, 3, 3),
    });
    let kinds: Vec<TaskKind> = specs.iter().take(6).map(TaskSpec::kind).collect();
    assert_eq!(kinds, [TaskKind::Inspect, TaskKind::InspectSegment, TaskKind::InspectSegment, TaskKind::InspectSegment, TaskKind::Inspect, TaskKind::Ladder]);
    let decoded: Vec<SourceSegment> = specs.iter().filter_map(|spec| match spec {
        TaskSpec::InspectSegment { segment, .. } => Some(*segment),
        _ => None,
    }).collect();
    assert_eq!(decoded, three_segments(), "each segment task decodes its segment");
    let TaskSpec::Inspect { segments, .. } = &specs[4] else { panic!("the join is an inspect task") };
    let expected: Vec<InspectedSegment> = three_segments().into_iter().map(|segment| InspectedSegment { segment, piece: Artifact { key: format!("inspection/segments/{}.json", segment.index), bytes: 1 } }).collect();
    assert_eq!(segments, &expected, "the join is given every segment's decode, in order");
    // The join waits on every segment task; the ladder on the join; the job runs to its report.
    let job = state.jobs.values().next().expect("the job");
    let join = &state.tasks[&job.tasks[4]];
    assert_eq!(join.deps, job.tasks[1..4].to_vec());
    assert_eq!(count(&specs, TaskKind::Encode), 3 * 3);
    assert_eq!(count(&specs, TaskKind::Report), 1);
}

#[test]
fn an_inspection_cut_into_too_few_unnumbered_or_empty_segments_fails_the_job() {
    let mut state = State::default();
    let (outcome, _) = apply(&mut state, &Command::SubmitJob { request_id: "r".to_owned(), owner: String::new(), spec: JobSpec::for_tests(), now_ms: 1, trace_parent: None });
    let Outcome::JobSubmitted { job, .. } = outcome else { panic!("not submitted: {outcome:?}") };
    let inspect = state.jobs[&job].tasks[0];
    let renumbered = three_segments().into_iter().map(|segment| SourceSegment { index: 2 - segment.index, ..segment }).collect();
    let emptied = three_segments().into_iter().map(|segment| SourceSegment { frames: 0, ..segment }).collect();
    for segments in [three_segments()[..1].to_vec(), renumbered, emptied, vec![three_segments()[0]; crate::planner::MAX_SEGMENTS + 1]] {
        let error = on_task_succeeded(&mut state.clone(), inspect, &TaskOutput::InspectSegments { segments }, 2).unwrap_err();
        assert!(error.contains("segment"), "{error}");
    }
}
