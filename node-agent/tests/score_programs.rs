//! The score task runs the ffmpeg and ffprobe that `SHOTFARM_FFMPEG` / `SHOTFARM_FFPROBE` name
//! for every decode and probe (the reference, the encoded chunk and the source's format), never
//! whatever is on `PATH`: here the named programs are wrappers that log each call, and `PATH`
//! holds no ffmpeg at all.
//!
//! One test in its own binary: it changes the process's environment before any thread starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::tasks::{TaskContext, execute};
use shotfarm_proto::pipeline::{Codec, JobLocations, RenditionToScore, Rung, TaskOutput, TaskSpec};
use tokio_util::sync::CancellationToken;

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// `program` as found on the current `PATH`.
fn on_path(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH is set");
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file()).unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// A script that appends `program` to `log` and runs the real one.
fn logging_wrapper(dir: &Path, program: &str, log: &Path) -> PathBuf {
    let wrapper = dir.join(format!("logged-{program}"));
    let script = format!("#!/bin/sh\necho {program} >> '{}'\nexec '{}' \"$@\"\n", log.display(), on_path(program).display());
    std::fs::write(&wrapper, script).unwrap();
    let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).unwrap();
    wrapper
}

#[test]
fn score_runs_the_configured_ffmpeg_and_ffprobe_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source_path = common::pattern(root, "source.mp4", "320x180", 25, 2.0);
    let log = root.join("calls.log");
    let ffmpeg = logging_wrapper(root, "ffmpeg", &log);
    let ffprobe = logging_wrapper(root, "ffprobe", &log);
    let empty = root.join("no-programs");
    std::fs::create_dir_all(&empty).unwrap();
    // SAFETY: no other thread exists yet in this test binary's only test (the runtime is built
    // below), so nothing reads the environment while it changes.
    unsafe {
        std::env::set_var("SHOTFARM_FFMPEG", &ffmpeg);
        std::env::set_var("SHOTFARM_FFPROBE", &ffprobe);
        std::env::set_var("PATH", &empty);
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let output = root.join("out");
        let locations = JobLocations { input_url: file_url(&source_path), output_url: file_url(&output), work_url: format!("{}/.shotfarm-work/job-1", file_url(&output)), overwrite: false };
        let roots = Arc::new(shotfarm_proto::storage::JobRoots::parse(Some(&file_url(root)), Some(&file_url(&output))).unwrap());
        let capabilities = Arc::new(probe_capabilities(&CancellationToken::new()).await.unwrap());
        let context = |task_id: u64| TaskContext {
            task_id,
            attempt: 1,
            job_id: "job-1".to_owned(),
            backend: "cpu".to_owned(),
            gpu_index: 0,
            scratch_dir: root.join("agent").join("tasks").join(task_id.to_string()),
            job_cache_dir: root.join("agent").join("jobs").join("job-1"),
            capabilities: Arc::clone(&capabilities),
            roots: Arc::clone(&roots),
        };
        let progress: shotfarm_agent::tasks::ProgressFn = Arc::new(|_, _, _| {});
        let cancel = CancellationToken::new();

        let inspect = TaskSpec::Inspect { locations: locations.clone(), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
        let TaskOutput::Inspect { source, chunks, inspection, .. } = execute(inspect, &context(1), Arc::clone(&progress), &cancel).await.unwrap() else { panic!("not an inspection") };
        let chunk = chunks[0];
        let rung = Rung { name: "h264_180p".into(), codec: Codec::H264, width: 320, height: 180, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 };
        let encode = TaskSpec::Encode { locations: locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
        let TaskOutput::Encode { renditions, .. } = execute(encode, &context(2), Arc::clone(&progress), &cancel).await.unwrap() else { panic!("not an encode") };

        std::fs::write(&log, "").unwrap();
        let score = TaskSpec::Score { locations, source, inspection, chunk, renditions: vec![RenditionToScore { rung, encoded: renditions[0].artifact.clone() }] };
        let scored = execute(score, &context(3), progress, &cancel).await;
        assert!(matches!(scored, Ok(TaskOutput::Score { .. })), "{scored:?}");
    });
    let calls = std::fs::read_to_string(&log).unwrap();
    let count = |program: &str| calls.lines().filter(|line| *line == program).count();
    assert!(count("ffprobe") >= 1, "the score task probed with another ffprobe: {calls:?}");
    assert!(count("ffmpeg") >= 2, "the score task decoded the reference and the encoded chunk with another ffmpeg: {calls:?}");
}
