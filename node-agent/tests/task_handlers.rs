//! The task handlers (`shotfarm_agent::tasks::execute`) driven the way the scheduler drives them:
//! specs built as the planner builds them (`scheduler/src/planner/specs.rs`), every spec and
//! output sent through JSON as on the wire, a whole job run in DAG order over file:// work and
//! output locations; plus fencing of retried encodes, cancellation, and rejection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shotfarm_agent::media::capabilities::{MediaCapabilities, probe_capabilities};
use shotfarm_agent::media::inspect::{InspectParams, SegmentPolicy, inspect_source};
use shotfarm_agent::media::package::PackageResult;
use shotfarm_agent::media::package::poster::PosterChoice;
use shotfarm_agent::media::report::JobReport;
use shotfarm_agent::runtime::cpu_charged_future::CpuChargedFuture;
use shotfarm_agent::tasks::{ProgressFn, TaskContext, TaskError, execute};
use shotfarm_kernels::cpu_account::CpuLedger;
use shotfarm_proto::pipeline::{Artifact, AudioRenditionFacts, Chunk, Codec, EncodedAudio, EncodedChunk, EncodedRendition, EncodedSubtitles, InspectedSegment, JobLocations, QualitySummary, RenditionToScore, Rung, SourceSummary, SubtitleRenditionFacts, TaskKind, TaskOutput, TaskSpec};
use shotfarm_proto::analysis::{ChunkTrials, TrialOutcome, TrialSpec, trial_settings, trial_sizes};
use shotfarm_proto::recipe::{LadderKind, LadderRecipe};
use shotfarm_proto::storage::JobRoots;
use shotfarm_proto::thumbnails::ThumbnailOptions;
use shotfarm_proto::v1;
use tokio_util::sync::CancellationToken;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// Roots as an operator would set them for a test directory: inputs anywhere in it, outputs
/// under its `out`.
fn roots_for(root: &Path) -> Arc<JobRoots> {
    Arc::new(JobRoots::parse(Some(&file_url(root)), Some(&file_url(&root.join("out")))).unwrap())
}

/// One job's worth of scheduler state: locations, the facts it replicates, the outputs it kept.
struct Job {
    root: PathBuf,
    locations: JobLocations,
    capabilities: Arc<MediaCapabilities>,
    next_task_id: u64,
    created_at_ms: u64,
    facts: Vec<serde_json::Value>,
    outputs: Vec<TaskOutput>,
}

impl Job {
    async fn new(root: &Path, source: &Path) -> Self {
        let output = root.join("out");
        let capabilities = Arc::new(probe_capabilities(&CancellationToken::new()).await.unwrap());
        let output_url = file_url(&output);
        // As the scheduler lays it out (machine/jobs.rs).
        let work_url = format!("{}/.shotfarm-work/job-1", output_url.trim_end_matches('/'));
        Self {
            root: root.to_owned(),
            locations: JobLocations { input_url: file_url(source), output_url, work_url, overwrite: false },
            capabilities,
            next_task_id: 0,
            created_at_ms: now_ms(),
            facts: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn context(&mut self, attempt: u32) -> TaskContext {
        self.next_task_id += 1;
        let task_id = self.next_task_id;
        TaskContext {
            task_id,
            attempt,
            job_id: "job-1".to_owned(),
            backend: "cpu".to_owned(),
            gpu_index: 0,
            scratch_dir: self.root.join("agent").join("tasks").join(format!("{task_id}-a{attempt}")),
            job_cache_dir: self.root.join("agent").join("jobs").join("job-1"),
            capabilities: Arc::clone(&self.capabilities),
            roots: roots_for(&self.root),
        }
    }

    /// Runs one task as the runtime would (spec through JSON), records its facts like the
    /// scheduler, and keeps its output when it succeeded.
    async fn run(&mut self, spec: TaskSpec, chunk: Option<u32>, rung: Option<&str>) -> Result<TaskOutput, TaskError> {
        let kind = spec.kind();
        let spec: TaskSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        let ctx = self.context(1);
        let frames = Arc::new(AtomicU64::new(0));
        let progress: ProgressFn = {
            let frames = Arc::clone(&frames);
            Arc::new(move |done, _total, _fps| {
                frames.fetch_max(done, Ordering::Relaxed);
            })
        };
        let started_at_ms = now_ms();
        // The CPU the attempt uses, counted as the runtime counts it (`runtime::runner`).
        let ledger = CpuLedger::new();
        let outcome = CpuChargedFuture::new(execute(spec, &ctx, progress, &CancellationToken::new()), ledger.clone()).await;
        let finished_at_ms = now_ms();
        let outcome = outcome.map(|output| serde_json::from_str::<TaskOutput>(&serde_json::to_string(&output).unwrap()).unwrap());
        self.facts.push(serde_json::json!({
            "task_id": ctx.task_id,
            "kind": kind.as_str(),
            "label": format!("{} {chunk:?} {rung:?}", kind.as_str()),
            "chunk": chunk,
            "rungs": rung.into_iter().collect::<Vec<_>>(),
            "queued_at_ms": started_at_ms,
            "attempts": [{
                "attempt": ctx.attempt,
                "node": "test-agent",
                "backend": "cpu",
                "started_at_ms": started_at_ms,
                "finished_at_ms": finished_at_ms,
                "cpu_seconds": ledger.total_micros() as f64 / 1e6,
                "outcome": match &outcome { Ok(_) => "succeeded".to_owned(), Err(error) => error.to_string() },
            }],
        }));
        if let Ok(output) = &outcome {
            assert_eq!(output.kind(), kind);
            self.outputs.push(output.clone());
            if matches!(kind, TaskKind::Encode | TaskKind::Score) {
                assert!(frames.load(Ordering::Relaxed) > 0, "{} reported no progress", kind.as_str());
            }
        }
        outcome
    }

    fn job_facts(&self) -> String {
        serde_json::json!({
            "job_id": "job-1",
            "request_id": "test",
            "input_url": self.locations.input_url,
            "output_url": self.locations.output_url,
            "labels": {},
            "created_at_ms": self.created_at_ms,
            "tasks": self.facts,
        })
        .to_string()
    }

    fn work_dir(&self) -> PathBuf {
        url::Url::parse(&self.locations.work_url).unwrap().to_file_path().unwrap()
    }

    /// Inspects the source as the planner has it inspected: a source cut into segments gets an
    /// inspect_segment task each, then the inspect task that joins them.
    async fn inspect(&mut self, chunk_min_ms: u32, chunk_max_ms: u32) -> (SourceSummary, Vec<Chunk>, Artifact) {
        let spec = TaskSpec::Inspect { locations: self.locations.clone(), chunk_min_ms, chunk_max_ms, segments: Vec::new() };
        let segments = match self.run(spec, None, None).await.unwrap() {
            TaskOutput::Inspect { source, chunks, inspection, .. } => return (source, chunks, inspection),
            TaskOutput::InspectSegments { segments } => segments,
            other => panic!("inspect answered {other:?}"),
        };
        let mut decoded = Vec::new();
        for segment in segments {
            match self.run(TaskSpec::InspectSegment { locations: self.locations.clone(), segment }, None, None).await.unwrap() {
                TaskOutput::InspectSegment { segment, piece } => decoded.push(InspectedSegment { segment, piece }),
                other => panic!("inspect_segment answered {other:?}"),
            }
        }
        self.join_inspection(chunk_min_ms, chunk_max_ms, decoded).await
    }

    /// The inspect task that joins `segments`' decodes.
    async fn join_inspection(&mut self, chunk_min_ms: u32, chunk_max_ms: u32, segments: Vec<InspectedSegment>) -> (SourceSummary, Vec<Chunk>, Artifact) {
        let spec = TaskSpec::Inspect { locations: self.locations.clone(), chunk_min_ms, chunk_max_ms, segments };
        match self.run(spec, None, None).await.unwrap() {
            TaskOutput::Inspect { source, chunks, inspection, .. } => (source, chunks, inspection),
            other => panic!("the join answered {other:?}"),
        }
    }
}

fn kind_of(output: &TaskOutput) -> TaskKind {
    output.kind()
}

#[tokio::test]
async fn a_whole_job_runs_task_by_task_into_a_scored_ladder() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Three shots with sound, and German subtitles as an MP4 carries them (mov_text).
    let shots = common::three_shots(root, "shots.mp4", 320, 180, 1.0, true);
    let srt = root.join("cues.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\nHallo\n\n2\n00:00:02,000 --> 00:00:03,000\nWelt\n").unwrap();
    let source_path = root.join("source.mp4");
    common::ffmpeg(&["-i", shots.to_str().unwrap(), "-i", srt.to_str().unwrap(), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", "-metadata:s:s:0", "language=deu", source_path.to_str().unwrap()]);
    let mut job = Job::new(root, &source_path).await;

    // inspect → ladder
    let (source, chunks, inspection) = job.inspect(800, 1600).await;
    assert_eq!(source.frames, 80, "{source:?}");
    assert!(source.has_audio);
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert!(inspection.key.starts_with("inspection/a1"), "{inspection:?}");
    assert!(job.work_dir().join(&inspection.key).is_file());
    let ladder = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264, Codec::Hevc], recipe: Default::default(), analysis: Vec::new() };
    let TaskOutput::Ladder { rungs, .. } = job.run(ladder, None, None).await.unwrap() else { panic!("not a ladder") };
    let names: Vec<&str> = rungs.iter().map(|rung| rung.name.as_str()).collect();
    assert_eq!(names, vec!["h264_180p", "hevc_180p"]);

    // audio, beside the video's stages: each track encoded whole, for package to segment.
    let spec = TaskSpec::Audio { locations: job.locations.clone(), source: source.clone() };
    let TaskOutput::Audio { renditions: audio } = job.run(spec, None, None).await.unwrap() else { panic!("not an audio output") };
    let encoded: Vec<(&str, &str, u32, bool)> = audio.iter().map(|encoded| (encoded.rendition.name.as_str(), encoded.artifact.key.as_str(), encoded.rendition.channels, encoded.rendition.default)).collect();
    assert_eq!(encoded, vec![("audio/a0", "audio/a0.a1.mp4", 1, true)]);
    assert!(job.work_dir().join(&audio[0].artifact.key).is_file());

    // subtitles, beside the video's stages too: each text track as WebVTT, for package to publish.
    assert!(job.outputs.iter().any(|output| matches!(output, TaskOutput::Inspect { text_subtitles: true, .. })), "inspection tells the planner of the text track");
    let TaskOutput::Subtitles { renditions: subtitles } = job.run(TaskSpec::Subtitles { locations: job.locations.clone() }, None, None).await.unwrap() else { panic!("not a subtitles output") };
    let converted: Vec<(&str, &str, Option<&str>)> = subtitles.iter().map(|encoded| (encoded.rendition.name.as_str(), encoded.artifact.key.as_str(), encoded.rendition.language.as_deref())).collect();
    assert_eq!(converted, vec![("subtitles/s0", "subtitles/s0.a1.vtt", Some("de"))]);
    let vtt = std::fs::read_to_string(job.work_dir().join(&subtitles[0].artifact.key)).unwrap();
    assert!(vtt.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n") && vtt.contains("00:00.500 --> 00:01.500\nHallo"), "{vtt}");

    // encode(chunk, rung) → score(chunk, rung); assemble(rung) → validate(rung)
    let mut assembled: Vec<(Rung, Artifact)> = Vec::new();
    for rung in &rungs {
        let mut encoded = Vec::new();
        for chunk in &chunks {
            let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
            let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(chunk.index), Some(&rung.name)).await.unwrap() else { panic!() };
            let [EncodedRendition { artifact, frames, verified, .. }] = <[EncodedRendition; 1]>::try_from(renditions).unwrap();
            assert_eq!(frames, chunk.frames());
            // The encode checked its chunk frame by frame and says what it verified.
            assert_eq!(verified.as_ref().map(|verified| verified.frames), Some(chunk.frames()), "{verified:?}");
            assert_eq!(artifact.key, format!("chunks/{}/{:05}.a1.mp4", rung.name, chunk.index));
            let spec = TaskSpec::Score { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, renditions: vec![RenditionToScore { rung: rung.clone(), encoded: artifact.clone() }] };
            let quality = only_quality(job.run(spec, Some(chunk.index), Some(&rung.name)).await.unwrap(), &rung.name);
            assert_eq!(quality.vmaf_per_frame.len() as u64, chunk.frames());
            assert!(quality.stats.vmaf_min <= quality.stats.vmaf_p1 && quality.stats.vmaf_p1 <= quality.stats.vmaf_mean && quality.stats.vmaf_harmonic_mean <= quality.stats.vmaf_mean, "{quality:?}");
            assert!(quality.stats.psnr_y > 20.0 && quality.stats.ssim > 0.5 && quality.stats.ssim <= 1.0, "{quality:?}");
            encoded.push(EncodedChunk { chunk: *chunk, artifact, verified });
        }
        encoded.sort_by_key(|encoded| encoded.chunk.index);
        let spec = TaskSpec::Assemble { locations: job.locations.clone(), source: source.clone(), rung: rung.clone(), chunks: encoded.clone() };
        let TaskOutput::Assemble { stream, frames, .. } = job.run(spec, None, Some(&rung.name)).await.unwrap() else { panic!() };
        assert_eq!(frames, source.frames);
        assert_eq!(stream.key, format!("renditions/{}.a1.mp4", rung.name));
        let spec = TaskSpec::Validate { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), rung: rung.clone(), stream: stream.clone(), chunks: encoded };
        let TaskOutput::Validate { frames, bitrate_kbps, .. } = job.run(spec, None, Some(&rung.name)).await.unwrap() else { panic!() };
        assert_eq!(frames, source.frames, "rendition {} is not frame-exact", rung.name);
        assert!(bitrate_kbps > 0);
        assembled.push((rung.clone(), stream));
    }

    // The per-chunk scores agree with one whole-file VMAF run over the assembled h264 rendition
    // (so every chunk was scored against exactly its own source frames), except where motion
    // differs by construction: the first and last frame of each chunk.
    let (_, h264_stream) = &assembled[0];
    let whole = shotfarm_kernels::vmaf_files(&shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms::from_env(), &source_path, &job.work_dir().join(&h264_stream.key), &shotfarm_kernels::VmafOptions::default()).unwrap();
    let mut compared = 0;
    for output in &job.outputs {
        let TaskOutput::Score { chunk, renditions } = output else { continue };
        let Some(quality) = renditions.iter().find(|rendition| rendition.rung == "h264_180p").map(|rendition| &rendition.quality) else { continue };
        for (offset, vmaf) in quality.vmaf_per_frame.iter().enumerate().skip(1).take(chunk.frames() as usize - 2) {
            let frame = chunk.start_frame as usize + offset;
            let expected = whole.frames[frame].vmaf;
            assert!((vmaf - expected).abs() < 1e-6, "chunk {} frame {frame}: {vmaf} vs the whole-file {expected}", chunk.index);
            compared += 1;
        }
    }
    assert!(compared >= 60, "only {compared} frames compared");

    // package (after every validate) → report (after package and every score)
    // Packaging refuses to leave out the text track the inspection found.
    let without_subtitles = TaskSpec::Package { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), renditions: assembled.clone(), audio: audio.clone(), subtitles: Vec::new(), thumbnails: None, encryption: None };
    let error = job.run(without_subtitles, None, None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("text subtitle streams [0]")), "{error:?}");
    let spec = TaskSpec::Package { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), renditions: assembled, audio, subtitles, thumbnails: Some(ThumbnailOptions::default()), encryption: None };
    let TaskOutput::Package { master_playlist, dash_manifest } = job.run(spec, None, None).await.unwrap() else { panic!() };
    assert!(master_playlist.ends_with("/out/master.m3u8") && dash_manifest.ends_with("/out/manifest.mpd"), "{master_playlist} {dash_manifest}");
    let out = root.join("out");
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    // The media under the folder of this job (its work area's name) and package attempt.
    for needle in ["\njob-1-a1/h264_180p/playlist.m3u8\n", "\njob-1-a1/hevc_180p/playlist.m3u8\n", "URI=\"job-1-a1/audio/a0/playlist.m3u8\"", "NAME=\"deu\",LANGUAGE=\"de\",DEFAULT=YES,AUTOSELECT=YES,URI=\"job-1-a1/subtitles/s0/playlist.m3u8\"", "CODECS=\"avc1.", "CODECS=\"hvc1.", "mp4a.40.2", "RESOLUTION=320x180"] {
        assert!(master.contains(needle), "master lacks {needle}:\n{master}");
    }
    assert!(out.join("manifest.mpd").is_file() && out.join("job-1-a1/h264_180p/init.mp4").is_file() && out.join("job-1-a1/audio/a0/playlist.m3u8").is_file());
    assert_eq!(std::fs::read_to_string(out.join("job-1-a1/subtitles/s0/subtitles.vtt")).unwrap(), vtt, "published as converted");

    // The poster is placed by the inspection's shots: the middle of the longest.
    let facts: PackageResult = serde_json::from_slice(&std::fs::read(job.work_dir().join("package/a1.json")).unwrap()).unwrap();
    let poster = facts.thumbnails.unwrap().poster;

    let outputs: Vec<TaskOutput> = job.outputs.clone();
    assert!(outputs.iter().any(|output| kind_of(output) == TaskKind::Score));
    let spec = TaskSpec::Report { locations: job.locations.clone(), job_facts: job.job_facts(), outputs };
    let TaskOutput::Report { report, renditions: reported } = job.run(spec, None, None).await.unwrap() else { panic!() };
    assert!(report.ends_with("/out/report.json"), "{report}");
    let report: JobReport = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report.job_id.as_deref(), Some("job-1"));
    assert_eq!(report.source.video.frames, 80);
    assert_eq!(report.renditions.len(), 2);
    for rendition in &report.renditions {
        let quality = rendition.quality.as_ref().unwrap_or_else(|| panic!("rendition {} has no quality", rendition.name));
        eprintln!("{} at {} kb/s: {quality:?}", rendition.name, rendition.bitrate_kbps);
        assert_eq!(quality.frames_scored, 80);
        assert!(quality.stats.vmaf_mean > 60.0 && quality.stats.vmaf_mean <= 100.0, "{}: {quality:?}", rendition.name);
        assert!(quality.stats.vmaf_min <= quality.stats.vmaf_p1 && quality.stats.vmaf_harmonic_mean <= quality.stats.vmaf_mean);
        assert!(quality.stats.psnr_y > 20.0 && quality.stats.ssim > 0.5);
        assert_eq!(rendition.frames, 80);
        assert!(rendition.constant_frame_rate && rendition.frame_rate.is_some_and(|rate| (rate.num, rate.den) == (25, 1)), "{rendition:?}");
        assert!(rendition.codecs_string.starts_with("avc1.") || rendition.codecs_string.starts_with("hvc1."));
        assert_eq!(rendition.playlist, format!("job-1-a1/{}/playlist.m3u8", rendition.name));
    }
    assert!(report.audio.is_some());
    assert_eq!(report.chunks.len(), chunks.len());
    for chunk in &report.chunks {
        assert_eq!(chunk.quality.len(), 2, "chunk {} has quality for {:?}", chunk.index, chunk.quality);
        assert_eq!(chunk.attempts.len(), 2, "one encode attempt per rung: {:?}", chunk.attempts);
        assert!(chunk.attempts.iter().all(|attempt| attempt.outcome == "succeeded" && attempt.node.as_deref() == Some("test-agent")));
    }
    // The three hard cuts are three shots, each scored in both rungs.
    assert!(report.shots.len() >= 3, "{:?}", report.shots);
    eprintln!("shots: {:?}\nchunk 0: {:?}", report.shots, report.chunks[0]);
    assert!(report.shots.iter().all(|shot| shot.vmaf.len() == 2 && shot.vmaf.iter().all(|vmaf| vmaf.mean > 0.0)));
    let longest = report.shots.iter().rev().max_by_key(|shot| shot.end_frame - shot.start_frame).unwrap();
    let shot_frames = longest.end_frame - longest.start_frame;
    assert_eq!(poster.choice, PosterChoice::MiddleOfLongestShot { shot_start: longest.start_frame, shot_frames }, "{:?}", report.shots);
    assert_eq!(poster.frame, longest.start_frame + shot_frames / 2);
    for stage in ["inspect", "encode", "score", "assemble", "validate", "package"] {
        assert!(report.timings.stages.contains_key(stage), "no timing for {stage}: {:?}", report.timings);
    }
    assert!(report.timings.total_seconds > 0.0);
    // Every task but the report itself, each with the CPU its ffmpeg children and threads used.
    assert_eq!(report.timings.tasks.len(), job.facts.len() - 1);
    for task in &report.timings.tasks {
        let cpu = task.attempts[0].cpu_seconds.unwrap_or_default();
        assert!(cpu > 0.0, "task {} ({}) used no CPU: {task:?}", task.task_id, task.kind);
    }
    let cpu_of = |kind: &str| report.timings.tasks.iter().filter(|task| task.kind == kind).filter_map(|task| task.attempts[0].cpu_seconds).sum::<f64>();
    eprintln!("CPU seconds: inspect {:.2}, encode {:.2}, score {:.2}, validate {:.2}", cpu_of("inspect"), cpu_of("encode"), cpu_of("score"), cpu_of("validate"));
    assert!(!job.work_dir().exists(), "the work area should be removed after the report");
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&out), vec!["job-1-a1", "manifest.mpd", "master.m3u8", "report.html", "report.json"]);
    check_report_page(&out.join("report.html"), &report);
    // The scheduler is told each rendition's quality, as report.json gives it.
    assert_eq!(reported, report.renditions.iter().map(|rendition| rendition.summary()).collect::<Vec<_>>());
    assert!(reported.iter().all(|rendition| rendition.quality.is_some_and(|quality| quality.vmaf_mean > 60.0) && rendition.frames_scored == 80), "{reported:?}");
    assert_eq!(names(&out.join("job-1-a1")), vec!["audio", "h264_180p", "hevc_180p", "subtitles", "thumbnails"]);
    // Thumbnails by default: one tile every 10 s (one sheet for 3.2 s), their tracks, the poster.
    assert_eq!(names(&out.join("job-1-a1/thumbnails")), vec!["images.m3u8", "poster.jpg", "sheet_00000.jpg", "thumbnails.vtt"]);
    // A retried report whose first attempt finished (work area gone, report.json there) stands.
    let spec = TaskSpec::Report { locations: job.locations.clone(), job_facts: job.job_facts(), outputs: job.outputs.clone() };
    let TaskOutput::Report { report: again, renditions: reported_again } = job.run(spec, None, None).await.unwrap() else { panic!() };
    assert!(again.ends_with("/out/report.json"));
    assert_eq!(reported_again, reported, "the standing report's renditions");
    eprintln!("whole job: {:.1}s", started.elapsed().as_secs_f64());
}

/// report.html as a reader sees it in a real browser: no console error, no request, one ladder
/// row and one VMAF line per frame per rendition with every shot and chunk boundary marked, one
/// bitrate line per rendition, one timeline bar per task attempt.
/// The quality of the one rendition, `rung`, a score task scored.
fn only_quality(output: TaskOutput, rung: &str) -> QualitySummary {
    let TaskOutput::Score { mut renditions, .. } = output else { panic!("not a score: {output:?}") };
    assert_eq!(renditions.iter().map(|rendition| rendition.rung.as_str()).collect::<Vec<_>>(), [rung]);
    renditions.remove(0).quality
}

fn check_report_page(path: &Path, report: &JobReport) {
    let page = std::fs::read_to_string(path).unwrap();
    assert!(page.contains("<figcaption>VMAF per frame</figcaption>") && !page.contains("<script"), "{page}");
    if !common::browser::browser_available("the report page test") {
        return;
    }
    let seen = inspect_report_page(path);
    let context = seen.to_string();
    assert_eq!(seen["consoleErrors"].as_array().unwrap().len(), 0, "{context}");
    assert_eq!(seen["requests"].as_array().unwrap().len(), 0, "{context}");
    let renditions = report.renditions.len() as u64;
    assert_eq!(seen["tables"]["ladder"].as_u64(), Some(renditions), "{context}");
    assert_eq!(seen["tables"]["shots"].as_u64(), Some(report.shots.len() as u64), "{context}");
    for plot in ["vmaf", "bitrate"] {
        let seen = &seen["plots"][plot];
        for count in ["declaredSeries", "seriesLines", "seriesColours", "legend"] {
            assert_eq!(seen[count].as_u64(), Some(renditions), "{plot} {count}: {context}");
        }
        assert!(seen["width"].as_f64().unwrap() > 300.0 && seen["height"].as_f64().unwrap() > 100.0, "{plot} not rendered: {context}");
    }
    let boundaries = report.shots.iter().filter(|shot| shot.start_frame > 0).count() + report.chunks.iter().filter(|chunk| chunk.start_frame > 0).count();
    assert_eq!(seen["plots"]["vmaf"]["boundaries"].as_u64(), Some(boundaries as u64), "{context}");
    let attempts: usize = report.timings.tasks.iter().map(|task| task.attempts.len()).sum();
    assert_eq!(seen["plots"]["timeline"]["bars"].as_u64(), Some(attempts as u64), "{context}");
}

#[tokio::test]
async fn retried_encodes_write_their_own_keys_and_never_clobber() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::pattern(root, "source.mp4", "192x108", 25, 2.0);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(400, 800).await;
    assert!(chunks.len() >= 2, "{chunks:?}");
    let rung = Rung { name: "h264_108p".into(), codec: Codec::H264, width: 192, height: 108, bitrate_kbps: 200, maxrate_kbps: 300, bufsize_kbps: 400 };
    let chunk = chunks[1];
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
    let progress: ProgressFn = Arc::new(|_, _, _| {});
    let first_ctx = job.context(1);
    let first = execute(spec.clone(), &first_ctx, Arc::clone(&progress), &CancellationToken::new()).await.unwrap();
    let TaskOutput::Encode { renditions, .. } = first else { panic!() };
    let first = renditions[0].artifact.clone();
    let first_path = job.work_dir().join(&first.key);
    let first_bytes = std::fs::read(&first_path).unwrap();
    // The lease expired; the scheduler hands the task out again as attempt 2 (here on the same
    // agent, sharing its job cache), while attempt 1's file is still there.
    let second_ctx = job.context(2);
    let second = execute(spec, &second_ctx, progress, &CancellationToken::new()).await.unwrap();
    let TaskOutput::Encode { renditions, .. } = second else { panic!() };
    let second = renditions[0].artifact.clone();
    assert_eq!(first.key, "chunks/h264_108p/00001.a1.mp4");
    assert_eq!(second.key, "chunks/h264_108p/00001.a2.mp4");
    assert_eq!(std::fs::read(&first_path).unwrap(), first_bytes, "attempt 2 changed attempt 1's artifact");
    let second_bytes = std::fs::read(job.work_dir().join(&second.key)).unwrap();
    assert_eq!(second.bytes, second_bytes.len() as u64);
    assert_eq!(first.bytes, first_bytes.len() as u64);
    // Nothing half-written is left beside them.
    let listing: Vec<String> = std::fs::read_dir(job.work_dir().join("chunks/h264_108p")).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut listing = listing;
    listing.sort();
    assert_eq!(listing, vec!["00001.a1.mp4", "00001.a2.mp4"]);
}

/// Runs `spec` and cancels it once it reports frames done (or after 3 s); returns the outcome,
/// how long it took to stop after the cancel, and every progress call.
#[tokio::test]
async fn one_encode_task_produces_several_rungs_from_one_decode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::pattern(root, "source.mp4", "320x180", 25, 2.0);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(400, 800).await;
    let chunk = chunks[chunks.len() - 1];
    let rung = |name: &str, width, height| Rung { name: name.into(), codec: Codec::H264, width, height, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 };
    let rungs = vec![rung("h264_180p", 320, 180), rung("h264_90p", 160, 90)];
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, rungs: rungs.clone(), preset: None, settings: Vec::new() };
    let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(chunk.index), None).await.unwrap() else { panic!() };
    assert_eq!(renditions.iter().map(|encoded| encoded.rung.as_str()).collect::<Vec<_>>(), vec!["h264_180p", "h264_90p"]);
    for (encoded, rung) in renditions.iter().zip(&rungs) {
        assert_eq!(encoded.artifact.key, format!("chunks/{}/{:05}.a1.mp4", rung.name, chunk.index));
        assert_eq!(encoded.frames, chunk.frames());
        let path = job.work_dir().join(&encoded.artifact.key);
        assert_eq!(common::frame_count(&path), chunk.frames(), "{} has the chunk's frames", rung.name);
        assert_eq!(common::dimensions(&path), (rung.width, rung.height));
    }
    // One score task scores both rungs against one decode of the chunk's source frames: each
    // rung's quality is exactly what scoring it alone gives.
    let to_score: Vec<RenditionToScore> = rungs.iter().zip(&renditions).map(|(rung, encoded)| RenditionToScore { rung: rung.clone(), encoded: encoded.artifact.clone() }).collect();
    let spec = TaskSpec::Score { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, renditions: to_score.clone() };
    let TaskOutput::Score { chunk: scored_chunk, renditions: together } = job.run(spec, Some(chunk.index), None).await.unwrap() else { panic!("not a score") };
    assert_eq!((scored_chunk, together.iter().map(|rendition| rendition.rung.as_str()).collect::<Vec<_>>()), (chunk, vec!["h264_180p", "h264_90p"]));
    for (rendition, scored) in to_score.iter().zip(&together) {
        let spec = TaskSpec::Score { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, renditions: vec![rendition.clone()] };
        let alone = only_quality(job.run(spec, Some(chunk.index), Some(&rendition.rung.name)).await.unwrap(), &rendition.rung.name);
        assert_eq!(scored.quality, alone, "{} scored with the other rung and alone", rendition.rung.name);
        assert_eq!(alone.vmaf_per_frame.len() as u64, chunk.frames());
    }
    assert!(together[0].quality.stats.vmaf_mean > together[1].quality.stats.vmaf_mean, "the larger rung scores higher: {together:?}");
    // Rungs of two codecs are never scored together (their references differ where one is tone-mapped).
    let mixed = vec![to_score[0].clone(), RenditionToScore { rung: Rung { codec: Codec::Hevc, ..to_score[1].rung.clone() }, ..to_score[1].clone() }];
    let spec = TaskSpec::Score { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, renditions: mixed };
    let error = job.run(spec, Some(chunk.index), None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("one codec")), "{error:?}");
    // A chunk the committed inspection does not have: the plan and the artifact disagree.
    let shifted = Chunk { end_frame: chunk.end_frame - 1, ..chunk };
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: shifted, rungs: rungs.clone(), preset: None, settings: Vec::new() };
    let error = job.run(spec, Some(chunk.index), None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("does not match")), "{error:?}");
    // More rungs than one decode can feed is the job's mistake, said as such.
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source, inspection: inspection.clone(), chunk, rungs: vec![rungs[0].clone(); 9], preset: None, settings: Vec::new() };
    let error = job.run(spec, Some(chunk.index), None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("rungs_per_encode")), "{error:?}");
}

#[tokio::test]
async fn an_anamorphic_source_gets_square_pixel_rungs_of_its_display_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 360x288 stored, 16:15 pixels: a 4:3 picture (384x288 on screen).
    let source_path = common::anamorphic(root, "anamorphic.mp4", "360x288", "16/15", 1.0);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(0, 0).await;
    assert_eq!((source.sample_aspect_num, source.sample_aspect_den), (16, 15));
    let ladder = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264], recipe: Default::default(), analysis: Vec::new() };
    let TaskOutput::Ladder { rungs, .. } = job.run(ladder, None, None).await.unwrap() else { panic!("not a ladder") };
    let top = rungs[0].clone();
    let aspect = f64::from(top.width) / f64::from(top.height);
    assert!((aspect - 4.0 / 3.0).abs() < 0.02, "top rung {}x{} is not 4:3", top.width, top.height);
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source, inspection, chunk: chunks[0], rungs: vec![top.clone()], preset: None, settings: Vec::new() };
    let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(0), Some(&top.name)).await.unwrap() else { panic!() };
    let encoded = job.work_dir().join(&renditions[0].artifact.key);
    assert_eq!(common::dimensions(&encoded), (top.width, top.height));
}

#[tokio::test]
async fn a_custom_recipe_makes_the_rungs_that_fit_and_encodes_at_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::pattern(root, "small.mp4", "320x240", 25, 1.0);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(0, 0).await;
    let wire = v1::LadderRecipe {
        rungs: vec![
            v1::RecipeRung { width: 640, height: 480, bitrate_kbps: 1500, ..Default::default() },
            v1::RecipeRung { width: 320, height: 240, bitrate_kbps: 600, ..Default::default() },
            v1::RecipeRung { width: 160, height: 120, bitrate_kbps: 200, ..Default::default() },
        ],
        preset: "ultrafast".into(),
        ..Default::default()
    };
    let recipe = LadderRecipe::from_wire(Some(&wire)).unwrap();
    let ladder = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264], recipe: recipe.clone(), analysis: Vec::new() };
    let TaskOutput::Ladder { rungs, .. } = job.run(ladder, None, None).await.unwrap() else { panic!("not a ladder") };
    let made: Vec<(&str, u32, u32, u32, u32)> = rungs.iter().map(|rung| (rung.name.as_str(), rung.width, rung.height, rung.bitrate_kbps, rung.maxrate_kbps)).collect();
    assert_eq!(made, vec![("h264_240p", 320, 240, 600, 900), ("h264_120p", 160, 120, 200, 300)], "640x480 is larger than the source");
    let top = rungs[0].clone();
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source, inspection, chunk: chunks[0], rungs: vec![top.clone()], preset: recipe.preset.clone(), settings: Vec::new() };
    let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(0), Some(&top.name)).await.unwrap() else { panic!("not an encode") };
    let encoded = job.work_dir().join(&renditions[0].artifact.key);
    assert_eq!(common::dimensions(&encoded), (320, 240));
    // x264 writes its options into the stream: ultrafast turns CABAC off (medium keeps it).
    let bytes = std::fs::read(&encoded).unwrap();
    let options = String::from_utf8_lossy(&bytes);
    assert!(options.contains("cabac=0"), "not encoded at the recipe's preset (ultrafast)");
}

async fn run_and_cancel(spec: TaskSpec, ctx: TaskContext) -> (Result<TaskOutput, TaskError>, Duration, Vec<(u64, u64)>) {
    let cancel = CancellationToken::new();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let cancel_now = {
        let (cancel, cancelled_at) = (cancel.clone(), Arc::clone(&cancelled_at));
        move || {
            cancelled_at.lock().unwrap().get_or_insert_with(Instant::now);
            cancel.cancel();
        }
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let progress: ProgressFn = {
        let (seen, cancel_now) = (Arc::clone(&seen), cancel_now.clone());
        Arc::new(move |done, total, _| {
            seen.lock().unwrap().push((done, total));
            if done > 0 {
                cancel_now();
            }
        })
    };
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            let outcome = execute(spec, &ctx, progress, &cancel).await;
            (outcome, Instant::now())
        }
    });
    // A slow start is cancelled by time instead.
    let timer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        cancel_now();
    });
    let (outcome, finished_at) = tokio::time::timeout(Duration::from_secs(20), task).await.expect("the task did not stop").unwrap();
    timer.abort();
    let cancelled_at = cancelled_at.lock().unwrap().expect("cancel was never called");
    let seen = seen.lock().unwrap().clone();
    (outcome, finished_at.saturating_duration_since(cancelled_at), seen)
}

#[tokio::test]
async fn cancelled_encodes_and_scores_stop_quickly_and_upload_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::pattern(root, "source.mp4", "640x360", 25, 10.0);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(0, 0).await;
    let chunk = chunks[0];
    assert!(chunk.frames() >= 200, "{chunks:?}");
    let rung = Rung { name: "h264_360p".into(), codec: Codec::H264, width: 640, height: 360, bitrate_kbps: 1000, maxrate_kbps: 1500, bufsize_kbps: 2000 };
    let encode = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
    let TaskOutput::Encode { renditions, .. } = job.run(encode.clone(), Some(chunk.index), Some(&rung.name)).await.unwrap() else { panic!() };
    let artifact = renditions[0].artifact.clone();

    let (outcome, stopping, seen) = run_and_cancel(encode, job.context(2)).await;
    assert!(matches!(outcome, Err(TaskError::Cancelled)), "{outcome:?}");
    assert!(stopping < Duration::from_secs(2), "the encode took {stopping:?} to stop");
    assert!(seen.iter().all(|&(done, total)| total == chunk.frames() && done <= total), "{seen:?}");
    let uploaded: Vec<_> = std::fs::read_dir(job.work_dir().join("chunks/h264_360p")).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert_eq!(uploaded, vec![std::ffi::OsString::from("00000.a1.mp4")], "a cancelled encode uploaded something");

    let score = TaskSpec::Score { locations: job.locations.clone(), source, inspection: inspection.clone(), chunk, renditions: vec![RenditionToScore { rung, encoded: artifact }] };
    let (outcome, stopping, seen) = run_and_cancel(score, job.context(1)).await;
    assert!(matches!(outcome, Err(TaskError::Cancelled)), "{outcome:?}");
    assert!(stopping < Duration::from_secs(2), "the score took {stopping:?} to stop");
    assert!(!seen.is_empty() && seen.iter().all(|&(done, total)| total == chunk.frames() && done <= total), "{seen:?}");
}

/// The report and frames of the inspection document `inspection` in `job`'s work area, the
/// report's timings and segment count set aside.
fn inspection_document(job: &Job, inspection: &Artifact) -> (serde_json::Value, serde_json::Value, u64) {
    let mut document: serde_json::Value = serde_json::from_slice(&std::fs::read(job.work_dir().join(&inspection.key)).unwrap()).unwrap();
    let report = &mut document["report"];
    let segments = report["decoded_in_segments"].as_u64().unwrap();
    for timing in ["decode_seconds", "total_seconds", "decoded_in_segments", "frame_artifact"] {
        report.as_object_mut().unwrap().remove(timing);
    }
    (document["report"].take(), document["frames"].take(), segments)
}

#[tokio::test]
async fn a_long_source_is_inspected_in_segment_tasks_joined_into_the_whole_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 9.2 s: two segments of at least 4 s.
    let source_path = common::three_shots(root, "long.mp4", 320, 180, 7.0, true);
    let mut job = Job::new(root, &source_path).await;
    let spec = TaskSpec::Inspect { locations: job.locations.clone(), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
    let TaskOutput::InspectSegments { segments } = job.run(spec, None, None).await.unwrap() else { panic!("a 9 s source is cut") };
    assert_eq!(segments.len(), 2);
    assert_eq!(segments.iter().map(|segment| segment.frames).sum::<u64>(), 230);
    let mut decoded = Vec::new();
    for segment in &segments {
        // A retried segment writes its own key; the join reads the one its spec names.
        for attempt in [1, 2] {
            let ctx = job.context(attempt);
            let spec = TaskSpec::InspectSegment { locations: job.locations.clone(), segment: *segment };
            let TaskOutput::InspectSegment { piece, .. } = execute(spec, &ctx, Arc::new(|_, _, _| {}), &CancellationToken::new()).await.unwrap() else { panic!("not a segment") };
            assert_eq!(piece.key, format!("inspection/segments/{:05}.a{attempt}.json", segment.index));
            if attempt == 2 {
                decoded.push(InspectedSegment { segment: *segment, piece });
            }
        }
    }
    let (source, chunks, joined) = job.join_inspection(0, 0, decoded.clone()).await;
    assert_eq!(source.frames, 230);
    let (joined_report, joined_frames, joined_segments) = inspection_document(&job, &joined);
    assert_eq!(joined_segments, 2);

    // The same source inspected whole, in one pass.
    let params = InspectParams {
        source: source_path.clone(),
        artifact_dir: root.join("whole"),
        chunking: shotfarm_agent::tasks::inspect::chunking_params(0, 0).unwrap(),
        shot_detection: Default::default(),
        limits: Default::default(),
        segments: SegmentPolicy { workers: 1, ..SegmentPolicy::default() },
    };
    let whole = inspect_source(&params, &CancellationToken::new()).await.unwrap();
    assert_eq!(whole.decoded_in_segments, 1);
    let whole_frames: serde_json::Value = serde_json::from_slice(&std::fs::read(&whole.frame_artifact).unwrap()).unwrap();
    // Through text, as the document was written (f32 fields read back at their shortest).
    let mut whole_report: serde_json::Value = serde_json::from_str(&serde_json::to_string(&whole).unwrap()).unwrap();
    for field in ["decode_seconds", "total_seconds", "decoded_in_segments", "frame_artifact"] {
        whole_report.as_object_mut().unwrap().remove(field);
    }
    assert_eq!(chunks.len(), whole.chunks.len());
    assert_eq!(joined_report, whole_report);
    assert!(joined_frames == whole_frames, "every frame's fingerprint, time and keyframe flag");

    // A segment's decode that does not hold what its index says is never joined: the source is
    // decoded whole, to the same inspection.
    let piece_path = job.work_dir().join(&decoded[1].piece.key);
    let mut piece: serde_json::Value = serde_json::from_slice(&std::fs::read(&piece_path).unwrap()).unwrap();
    piece["decoded"]["frames"].as_array_mut().unwrap().pop();
    std::fs::write(&piece_path, serde_json::to_vec(&piece).unwrap()).unwrap();
    let (_, fallback_chunks, fallback) = job.join_inspection(0, 0, decoded).await;
    let (fallback_report, fallback_frames, fallback_segments) = inspection_document(&job, &fallback);
    assert_eq!(fallback_segments, 1);
    assert_eq!((fallback_chunks, fallback_report), (chunks, whole_report));
    assert!(fallback_frames == whole_frames);
}

#[tokio::test]
async fn damaged_and_cut_short_sources_are_refused_by_the_inspect_task_as_by_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Long enough to cut into segments, were they whole.
    let mp4 = common::pattern(root, "long.mp4", "160x90", 25, 9.0);
    let mkv = root.join("long.mkv");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c", "copy", mkv.to_str().unwrap()]);
    let faststart = root.join("faststart.mp4");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", faststart.to_str().unwrap()]);
    let cut_short = |whole: &Path| common::cut_short(whole, std::fs::metadata(whole).unwrap().len() as usize * 6 / 10 + 3);
    for source in [cut_short(&mkv), cut_short(&faststart), common::damaged_ts(root, "damaged.ts", 9.0)] {
        let params = InspectParams {
            source: source.clone(),
            artifact_dir: root.join("one-pass"),
            chunking: shotfarm_agent::tasks::inspect::chunking_params(0, 0).unwrap(),
            shot_detection: Default::default(),
            limits: Default::default(),
            segments: SegmentPolicy::default(),
        };
        let expected = match inspect_source(&params, &CancellationToken::new()).await {
            Err(shotfarm_agent::media::inspect::InspectError::Rejected(rejection)) => rejection.to_string(),
            other => panic!("{} was not rejected: {other:?}", source.display()),
        };
        let mut job = Job::new(root, &source).await;
        let spec = TaskSpec::Inspect { locations: job.locations.clone(), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
        // ffmpeg's messages name the address of the context that logged them.
        let unaddressed = |message: &str| message.split(" @ 0x").map(|part| part.trim_start_matches(|c: char| c.is_ascii_hexdigit())).collect::<Vec<_>>().join(" @ ");
        match job.run(spec, None, None).await {
            Err(TaskError::Final(message)) => assert_eq!(unaddressed(&message), unaddressed(&expected), "{}", source.display()),
            other => panic!("{}: the inspect task answered {other:?}", source.display()),
        }
    }
}

#[tokio::test]
async fn a_rejected_source_fails_finally_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::random_bytes(root, "noise.mp4", 64 * 1024, 7);
    let mut job = Job::new(root, &source_path).await;
    let spec = TaskSpec::Inspect { locations: job.locations.clone(), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
    let error = job.run(spec, None, None).await.unwrap_err();
    let TaskError::Final(message) = &error else { panic!("expected a final error, got {error:?}") };
    assert!(message.contains("not_media"), "{message}");
    assert!(message.contains("source rejected"), "{message}");
    // A missing source is final too, and names the url.
    let missing = root.join("missing.mp4");
    let mut job = Job::new(root, &missing).await;
    let spec = TaskSpec::Inspect { locations: job.locations.clone(), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
    let error = job.run(spec, None, None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("missing.mp4") && message.contains("does not exist")), "{error:?}");
}

#[tokio::test]
async fn impossible_requests_are_final_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut job = Job::new(root, &root.join("unused.mp4")).await;
    let source = SourceSummary { width: 1280, height: 720, frames: 100, frame_rate_num: 25, frame_rate_den: 1, duration_ms: 4000, has_audio: false, sample_aspect_num: 1, sample_aspect_den: 1 };
    let missing_inspection = Artifact { key: "inspection/a1.json".into(), bytes: 0 };
    // A codec whose encoder this ffmpeg lacks.
    job.capabilities = Arc::new(MediaCapabilities { encoders: vec!["libx264".into()], ..(*job.capabilities).clone() });
    let spec = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264, Codec::Av1], recipe: Default::default(), analysis: Vec::new() };
    let error = job.run(spec, None, None).await.unwrap_err();
    assert!(matches!(&error, TaskError::Final(message) if message.contains("libsvtav1")), "{error:?}");
    // A rung name that would escape the work area.
    let rung = Rung { name: "../escape".into(), codec: Codec::H264, width: 640, height: 360, bitrate_kbps: 1000, maxrate_kbps: 1500, bufsize_kbps: 2000 };
    let chunk = Chunk { index: 0, start_frame: 0, end_frame: 100, span_us: None };
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: missing_inspection.clone(), chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
    assert!(job.run(spec, Some(0), Some("../escape")).await.unwrap_err().to_string().contains("rung name"));
    // An NVENC placement on an agent built without it.
    let mut ctx = job.context(1);
    ctx.backend = "nvenc".into();
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: missing_inspection.clone(), chunk, rungs: vec![Rung { name: "h264_360p".into(), ..rung }], preset: None, settings: Vec::new() };
    let error = execute(spec, &ctx, Arc::new(|_, _, _| {}), &CancellationToken::new()).await.unwrap_err();
    assert!(matches!(&error, TaskError::Retryable(message) if message.contains("nvenc")), "{error:?}");
    // Analyses the plan cannot have made: refused before any file is read.
    let trial = |width, height, setting| TrialSpec { width, height, setting };
    let cases: [(Vec<TrialSpec>, Codec, Chunk, &str); 5] = [
        (Vec::new(), Codec::H264, chunk, "names no trial"),
        (vec![trial(641, 360, 23.0)], Codec::H264, chunk, "not even"),
        (vec![trial(640, 360, 70.0)], Codec::H264, chunk, "outside 0..=63"),
        (vec![trial(640, 360, 23.0)], Codec::Av1, chunk, "libsvtav1"),
        (vec![trial(640, 360, 23.0)], Codec::H264, Chunk { index: 0, start_frame: 90, end_frame: 120, span_us: None }, "100-frame source"),
    ];
    for (trials, codec, chunk, expected) in cases {
        let spec = TaskSpec::Analyze { locations: job.locations.clone(), source: source.clone(), inspection: missing_inspection.clone(), chunk, codec, trials, preset: None };
        let error = job.run(spec, Some(0), None).await.unwrap_err();
        assert!(matches!(&error, TaskError::Final(message) if message.contains(expected)), "{expected}: {error:?}");
    }
    // Audio renditions a package cannot trust: refused before anything is downloaded.
    let stream = Artifact { key: "renditions/h264_360p.a1.mp4".into(), bytes: 1 };
    let facts = AudioRenditionFacts { name: "audio/a0".into(), language: None, label: "Audio 1".into(), channels: 2, default: true, source_stream: 1, sample_rate: 48000 };
    let encoded = |facts: AudioRenditionFacts| EncodedAudio { rendition: facts, artifact: Artifact { key: "audio/a0.a1.mp4".into(), bytes: 1 } };
    let cases: [(bool, Vec<EncodedAudio>, &str); 3] = [
        (true, Vec::new(), "no audio rendition"),
        (false, vec![encoded(AudioRenditionFacts { name: "audio/../../escape".into(), ..facts.clone() })], "audio/a<N>"),
        (false, vec![encoded(facts.clone()), encoded(facts.clone())], "share a name"),
    ];
    for (has_audio, audio, expected) in cases {
        let source = SourceSummary { has_audio, ..source.clone() };
        let renditions = vec![(Rung { name: "h264_360p".into(), ..rung.clone() }, stream.clone())];
        let spec = TaskSpec::Package { locations: job.locations.clone(), source, inspection: missing_inspection.clone(), renditions, audio, subtitles: Vec::new(), thumbnails: None, encryption: None };
        let error = job.run(spec, None, None).await.unwrap_err();
        assert!(matches!(&error, TaskError::Final(message) if message.contains(expected)), "{expected}: {error:?}");
    }
    // Likewise subtitle renditions.
    let facts = SubtitleRenditionFacts { name: "subtitles/s0".into(), language: None, label: "Subtitles 1".into(), default: false, source_stream: 2, subtitle_index: 0, source_codec: "subrip".into() };
    let encoded = |facts: SubtitleRenditionFacts| EncodedSubtitles { rendition: facts, artifact: Artifact { key: "subtitles/s0.a1.vtt".into(), bytes: 1 } };
    let cases: [(Vec<EncodedSubtitles>, &str); 3] = [
        (vec![encoded(SubtitleRenditionFacts { name: "subtitles/../../escape".into(), ..facts.clone() })], "subtitles/s<N>"),
        (vec![encoded(SubtitleRenditionFacts { label: "a\",URI=\"x".into(), ..facts.clone() })], "its label"),
        (vec![encoded(facts.clone()), encoded(facts.clone())], "share a name"),
    ];
    for (subtitles, expected) in cases {
        let renditions = vec![(Rung { name: "h264_360p".into(), ..rung.clone() }, stream.clone())];
        let spec = TaskSpec::Package { locations: job.locations.clone(), source: source.clone(), inspection: missing_inspection.clone(), renditions, audio: Vec::new(), subtitles, thumbnails: None, encryption: None };
        let error = job.run(spec, None, None).await.unwrap_err();
        assert!(matches!(&error, TaskError::Final(message) if message.contains(expected)), "{expected}: {error:?}");
    }
}

/// A phone's HDR10 clip, stored 256x144 and shown turned a quarter, through every task: the
/// inspection's picture (rotation, colour) reaches encode, score and validate through the
/// committed inspection alone, and the report says what each rendition became.
#[tokio::test]
async fn a_rotated_hdr_clip_runs_task_by_task_into_upright_hdr_and_tone_mapped_renditions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let stored = common::hdr_hevc(root, "stored.mp4", "256x144", 1.0, "smpte2084");
    let source_path = root.join("phone.mp4");
    common::ffmpeg(&["-i", stored.to_str().unwrap(), "-c", "copy", "-metadata:s:v", "rotate=90", source_path.to_str().unwrap()]);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(400, 800).await;
    assert_eq!((source.width, source.height, source.frames), (144, 256, 25), "the displayed size: {source:?}");
    let ladder = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264, Codec::Hevc], recipe: Default::default(), analysis: Vec::new() };
    let TaskOutput::Ladder { rungs, .. } = job.run(ladder, None, None).await.unwrap() else { panic!("not a ladder") };
    assert!(rungs.iter().all(|rung| rung.height > rung.width), "portrait rungs: {rungs:?}");
    // One decode per chunk feeds every rung: tone-mapped H.264 and 10-bit HEVC side by side.
    let mut encoded: Vec<Vec<EncodedChunk>> = vec![Vec::new(); rungs.len()];
    for chunk in &chunks {
        let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, rungs: rungs.clone(), preset: None, settings: Vec::new() };
        let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(chunk.index), None).await.unwrap() else { panic!() };
        for ((rung, rendition), per_rung) in rungs.iter().zip(renditions).zip(&mut encoded) {
            let spec = TaskSpec::Score { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, renditions: vec![RenditionToScore { rung: rung.clone(), encoded: rendition.artifact.clone() }] };
            let quality = only_quality(job.run(spec, Some(chunk.index), Some(&rung.name)).await.unwrap(), &rung.name);
            assert!(quality.stats.vmaf_mean > 60.0, "{} chunk {}: like pictures score high: {quality:?}", rung.name, chunk.index);
            per_rung.push(EncodedChunk { chunk: *chunk, artifact: rendition.artifact, verified: rendition.verified });
        }
    }
    let mut assembled: Vec<(Rung, Artifact)> = Vec::new();
    for (rung, encoded) in rungs.iter().zip(encoded) {
        let spec = TaskSpec::Assemble { locations: job.locations.clone(), source: source.clone(), rung: rung.clone(), chunks: encoded.clone() };
        let TaskOutput::Assemble { stream, .. } = job.run(spec, None, Some(&rung.name)).await.unwrap() else { panic!() };
        let spec = TaskSpec::Validate { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), rung: rung.clone(), stream: stream.clone(), chunks: encoded };
        let TaskOutput::Validate { frames, .. } = job.run(spec, None, Some(&rung.name)).await.unwrap() else { panic!() };
        assert_eq!(frames, 25, "rendition {} is not frame-exact", rung.name);
        assembled.push((rung.clone(), stream));
    }
    let spec = TaskSpec::Package { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), renditions: assembled, audio: Vec::new(), subtitles: Vec::new(), thumbnails: None, encryption: None };
    job.run(spec, None, None).await.unwrap();
    let spec = TaskSpec::Report { locations: job.locations.clone(), job_facts: job.job_facts(), outputs: job.outputs.clone() };
    job.run(spec, None, None).await.unwrap();
    let report: JobReport = serde_json::from_slice(&std::fs::read(root.join("out").join("report.json")).unwrap()).unwrap();
    assert_eq!(report.source.video.picture.rotation, 90);
    assert!(report.warnings.iter().any(|warning| warning.message.contains("tone-mapped")), "{:?}", report.warnings);
    for rendition in &report.renditions {
        let colour = (rendition.pix_fmt.as_deref(), rendition.colour.color_transfer.as_deref(), rendition.tone_mapped);
        let expected = if rendition.codec == "h264" { (Some("yuv420p"), Some("bt709"), true) } else { (Some("yuv420p10le"), Some("smpte2084"), false) };
        assert_eq!(colour, expected, "{rendition:?}");
        assert!(rendition.height > rendition.width, "{rendition:?}");
    }
    // The manifests say which renditions are HDR: HLS VIDEO-RANGE; DASH one AdaptationSet per
    // codec and colour, the PQ one with its CICP descriptors.
    let master = std::fs::read_to_string(root.join("out").join("master.m3u8")).unwrap();
    for line in master.lines().filter(|line| line.starts_with("#EXT-X-STREAM-INF:")) {
        let range = if line.contains("CODECS=\"avc1.") { "VIDEO-RANGE=SDR" } else { "VIDEO-RANGE=PQ" };
        assert!(line.contains(range), "{line}");
    }
    let mpd = std::fs::read_to_string(root.join("out").join("manifest.mpd")).unwrap();
    let (trick_sets, video_sets): (Vec<&str>, Vec<&str>) =
        mpd.split("<AdaptationSet").filter(|set| set.contains("contentType=\"video\"")).partition(|set| set.contains("http://dashif.org/guidelines/trickmode"));
    assert_eq!((video_sets.len(), trick_sets.len()), (2, 2), "a video set and its trick-mode set per codec and colour: {mpd}");
    let hdr = video_sets.iter().find(|set| set.contains("codecs=\"hvc1.")).unwrap();
    assert!(hdr.contains("urn:mpeg:mpegB:cicp:TransferCharacteristics\" value=\"16\"") && !hdr.contains("codecs=\"avc1."), "{hdr}");
    let hdr_trick = trick_sets.iter().find(|set| set.contains("codecs=\"hvc1.")).unwrap();
    assert!(hdr_trick.contains("urn:mpeg:mpegB:cicp:TransferCharacteristics\" value=\"16\"") && !hdr_trick.contains("codecs=\"avc1."), "{hdr_trick}");
}

/// An analyze spec run again as a retry: its outcomes and the total of every progress report.
async fn analyse_again(spec: TaskSpec, ctx: &TaskContext) -> (Vec<TrialOutcome>, Vec<u64>) {
    let totals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&totals);
    let output = execute(spec, ctx, Arc::new(move |_, total, _| seen.lock().unwrap().push(total)), &CancellationToken::new()).await.unwrap();
    let TaskOutput::Analyze { trials, .. } = output else { panic!("not an analysis") };
    let totals = totals.lock().unwrap().clone();
    (trials, totals)
}

#[tokio::test]
async fn a_per_shot_ladder_comes_from_scored_trials_and_each_chunk_encodes_at_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::three_shots(root, "source.mp4", 480, 270, 2.0, false);
    let mut job = Job::new(root, &source_path).await;
    let (source, chunks, inspection) = job.inspect(900, 2100).await;
    assert_eq!(chunks.len(), 3, "one chunk per shot: {chunks:?}");
    let sizes = trial_sizes(&source);
    assert_eq!(sizes, vec![(480, 270), (320, 180)]);
    // One analyze task per chunk and size, every setting of the grid in each, as planned.
    let mut analysis = Vec::new();
    for chunk in &chunks {
        for &(width, height) in &sizes {
            let trials = trial_settings(Codec::H264).iter().map(|&setting| TrialSpec { width, height, setting }).collect();
            let spec = TaskSpec::Analyze { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, codec: Codec::H264, trials, preset: Some("ultrafast".into()) };
            let TaskOutput::Analyze { chunk: analysed, codec, trials } = job.run(spec.clone(), Some(chunk.index), None).await.unwrap() else { panic!("not an analysis") };
            assert_eq!((analysed, codec, trials.len()), (*chunk, Codec::H264, 5));
            // Coarser settings cost fewer bits and score lower; every trial has the chunk's frames.
            for pair in trials.windows(2) {
                assert!(pair[0].bits > pair[1].bits, "{pair:?}");
            }
            assert!(trials[0].quality.vmaf_mean > trials[4].quality.vmaf_mean + 5.0, "{trials:?}");
            assert!(trials.iter().all(|trial| trial.frames == chunk.frames() && (trial.width, trial.height) == (width, height)));
            if chunk.index == 1 && width == 320 {
                // A retry (a lost lease, a crash) reuses the trials the first attempt kept in the
                // work area, and encodes and scores only those it finds missing or damaged: here
                // one removed and one overwritten with another trial's numbers. Progress says how
                // much work each retry did: (1 encode pass + 1 score pass for the trials redone) × frames.
                let work_dir = job.work_dir();
                let kept = |setting: f64| work_dir.join(format!("analysis/h264/00001/320x180.q{setting}.json"));
                let settings: Vec<f64> = trials.iter().map(|trial| trial.setting).collect();
                assert!(settings.iter().all(|&setting| kept(setting).is_file()), "every scored trial is kept: {settings:?}");
                let (retried, retried_again) = (job.context(2), job.context(3));
                let (again, totals) = analyse_again(spec.clone(), &retried).await;
                assert_eq!(again, trials, "a retry with every trial kept gives the first attempt's outcomes");
                assert!(totals.iter().all(|&total| total == chunk.frames()), "nothing redone: {totals:?}");
                std::fs::remove_file(kept(settings[1])).unwrap();
                std::fs::copy(kept(settings[0]), kept(settings[3])).unwrap();
                let (again, totals) = analyse_again(spec.clone(), &retried_again).await;
                let measured = |trials: &[TrialOutcome]| trials.iter().map(|trial| (trial.setting, trial.bits, trial.quality.vmaf_mean)).collect::<Vec<_>>();
                assert_eq!(measured(&again), measured(&trials), "the redone trials measure the same");
                assert!(!totals.is_empty() && totals.iter().all(|&total| total == 2 * chunk.frames()), "two trials redone in one encode pass and one score pass: {totals:?}");
                assert!(settings.iter().all(|&setting| kept(setting).is_file()), "the redone trials are kept again");
            }
            analysis.push(ChunkTrials { chunk: *chunk, codec, trials });
        }
    }
    let recipe = LadderRecipe { ladder: LadderKind::PerShot, preset: Some("ultrafast".into()), target_vmaf: 90.0, ..LadderRecipe::default() };
    let ladder = TaskSpec::Ladder { locations: job.locations.clone(), source: source.clone(), codecs: vec![Codec::H264], recipe: recipe.clone(), analysis };
    let TaskOutput::Ladder { rungs, decision } = job.run(ladder, None, None).await.unwrap() else { panic!("not a ladder") };
    let decision = decision.expect("a per-shot ladder says why");
    assert!(!rungs.is_empty() && rungs.len() <= 6, "{rungs:?}");
    assert!(rungs.iter().all(|rung| rung.width <= 480 && rung.height <= 270));
    assert!(!decision.codecs[0].hull.is_empty());
    // Every chunk of the top rung encodes at its own setting, capped by the rung's peak.
    let top = rungs[0].clone();
    let why = decision.rung(&top.name).expect("the top rung's decision").clone();
    assert_eq!(why.chunk_settings.len(), 3);
    assert!((why.predicted_vmaf - 90.0).abs() < 3.0, "{why:?}");
    for chunk in &chunks {
        let setting = why.chunk_settings[chunk.index as usize];
        let spec = TaskSpec::Encode { locations: job.locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, rungs: vec![top.clone()], preset: recipe.preset.clone(), settings: vec![setting] };
        let TaskOutput::Encode { renditions, .. } = job.run(spec, Some(chunk.index), Some(&top.name)).await.unwrap() else { panic!("not an encode") };
        let encoded = job.work_dir().join(&renditions[0].artifact.key);
        assert_eq!(common::frame_count(&encoded), chunk.frames());
        let bytes = std::fs::read(&encoded).unwrap();
        let options = String::from_utf8_lossy(&bytes);
        assert!(options.contains("rc=crf") && options.contains(&format!("crf={setting:.1}")), "chunk {} not at crf {setting}", chunk.index);
        assert!(options.contains(&format!("vbv_maxrate={}", top.maxrate_kbps)), "chunk {} not capped at {} kb/s", chunk.index, top.maxrate_kbps);
    }
    // A spec with a setting per rung but for the wrong number of rungs is refused before any work.
    let spec = TaskSpec::Encode { locations: job.locations.clone(), source, inspection, chunk: chunks[0], rungs: vec![top.clone()], preset: None, settings: vec![20.0, 30.0] };
    let error = job.run(spec, Some(0), Some(&top.name)).await.unwrap_err();
    assert!(matches!(error, TaskError::Final(_)) && error.to_string().contains("2 quality settings for 1 rungs"), "{error}");
}

/// What a reader of the page at `path` sees, as `player-tests/report-page.mjs` reports it.
fn inspect_report_page(path: &Path) -> serde_json::Value {
    let url = url::Url::from_file_path(path).unwrap().to_string();
    let output = std::process::Command::new("node").arg(common::browser::player_tests_dir().join("report-page.mjs")).args(["--url", &url]).output().unwrap();
    assert!(output.status.success(), "report-page.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("report-page.mjs printed no report ({error}): {}", String::from_utf8_lossy(&output.stdout)))
}
