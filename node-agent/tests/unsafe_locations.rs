//! Inputs and outputs an attacker (or an accident) points a job at, through the real task
//! handlers with real files and the real ffmpeg: every one refused with a final error that says
//! what to do, nothing read outside the input root, nothing created on the input side, and a
//! user's files in the output location never overwritten unless the job says `overwrite`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shotfarm_agent::media::capabilities::{MediaCapabilities, probe_capabilities};
use shotfarm_agent::tasks::{ProgressFn, TaskContext, TaskError, execute};
use shotfarm_proto::pipeline::{Codec, EncodedChunk, EncodedRendition, JobLocations, TaskOutput, TaskSpec};
use shotfarm_proto::storage::JobRoots;
use tokio_util::sync::CancellationToken;

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// A test directory laid out as a farm would be: `in/` the input root, `out/` the output root,
/// `agent/` the agent's work dir, `outside/` what no job may touch.
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    capabilities: Arc<MediaCapabilities>,
    next_task: u64,
    /// The job the next tasks belong to: its work area's name (`job-<n>-<n>`) and cache.
    job: u32,
}

impl Site {
    async fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for sub in ["in", "out", "outside"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("outside/secret.txt"), "password=hunter2\n".repeat(300)).unwrap();
        let capabilities = Arc::new(probe_capabilities(&CancellationToken::new()).await.unwrap());
        Site { _dir: dir, root, capabilities, next_task: 0, job: 1 }
    }

    fn input(&self) -> PathBuf {
        self.root.join("in")
    }

    /// A 1.2 s (30 frames) 160x90 source in the input root; its URL.
    fn tiny_source(&self) -> String {
        file_url(&common::pattern(&self.input(), "source.mp4", "160x90", 25, 1.2))
    }

    fn locations(&self, input_url: &str, output: &str, overwrite: bool) -> JobLocations {
        let output_url = file_url(&self.root.join("out").join(output));
        JobLocations { input_url: input_url.to_owned(), work_url: format!("{output_url}/.shotfarm-work/{}", self.work_name()), output_url, overwrite }
    }

    /// The current job's work area name, as the scheduler would make it (`job-<id>-<ms>`).
    fn work_name(&self) -> String {
        format!("job-{0}-{0}", self.job)
    }

    /// The folder the current job's first package attempt publishes its media under.
    fn generation(&self) -> String {
        format!("{}-a1", self.work_name())
    }

    /// Starts the next job: its own work area and cache.
    fn next_job(&mut self) {
        self.job += 1;
    }

    /// Inspects, ladders (H.264), encodes and assembles the current job; the package task's spec.
    async fn package_spec(&mut self, locations: &JobLocations) -> TaskSpec {
        let inspect = TaskSpec::Inspect { locations: locations.clone(), chunk_min_ms: 500, chunk_max_ms: 1000, segments: Vec::new() };
        let TaskOutput::Inspect { source, chunks, inspection, .. } = self.run(inspect).await.unwrap() else { panic!("not an inspection") };
        let ladder = TaskSpec::Ladder { locations: locations.clone(), source: source.clone(), codecs: vec![Codec::H264], recipe: Default::default(), analysis: Vec::new() };
        let TaskOutput::Ladder { rungs, .. } = self.run(ladder).await.unwrap() else { panic!("not a ladder") };
        let rung = rungs[0].clone();
        let mut encoded = Vec::new();
        for chunk in &chunks {
            let spec = TaskSpec::Encode { locations: locations.clone(), source: source.clone(), inspection: inspection.clone(), chunk: *chunk, rungs: vec![rung.clone()], preset: None, settings: Vec::new() };
            let TaskOutput::Encode { renditions, .. } = self.run(spec).await.unwrap() else { panic!("not an encode") };
            let [EncodedRendition { artifact, verified, .. }] = <[EncodedRendition; 1]>::try_from(renditions).unwrap();
            encoded.push(EncodedChunk { chunk: *chunk, artifact, verified });
        }
        let assemble = TaskSpec::Assemble { locations: locations.clone(), source: source.clone(), rung: rung.clone(), chunks: encoded };
        let TaskOutput::Assemble { stream, .. } = self.run(assemble).await.unwrap() else { panic!("not an assembly") };
        let audio = match source.has_audio {
            true => {
                let spec = TaskSpec::Audio { locations: locations.clone(), source: source.clone() };
                let TaskOutput::Audio { renditions } = self.run(spec).await.unwrap() else { panic!("not an audio output") };
                renditions
            }
            false => Vec::new(),
        };
        TaskSpec::Package { locations: locations.clone(), source, inspection, renditions: vec![(rung, stream)], audio, subtitles: Vec::new(), thumbnails: None, encryption: None }
    }

    async fn run(&mut self, spec: TaskSpec) -> Result<TaskOutput, TaskError> {
        self.next_task += 1;
        let ctx = TaskContext {
            task_id: self.next_task,
            attempt: 1,
            job_id: format!("job-{}", self.job),
            backend: "cpu".to_owned(),
            gpu_index: 0,
            scratch_dir: self.root.join("agent/tasks").join(self.next_task.to_string()),
            job_cache_dir: self.root.join("agent/jobs").join(self.work_name()),
            capabilities: Arc::clone(&self.capabilities),
            roots: Arc::new(JobRoots::parse(Some(&file_url(&self.input())), Some(&file_url(&self.root.join("out")))).unwrap()),
        };
        let progress: ProgressFn = Arc::new(|_, _, _| {});
        let outcome = execute(spec, &ctx, progress, &CancellationToken::new()).await;
        let _ = std::fs::remove_dir_all(&ctx.scratch_dir);
        outcome
    }

    /// Inspects `input_url` into `out/<output>`; the final error's message.
    async fn refused_inspection(&mut self, input_url: &str, output: &str, overwrite: bool) -> String {
        let spec = TaskSpec::Inspect { locations: self.locations(input_url, output, overwrite), chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() };
        match self.run(spec).await {
            Err(TaskError::Final(message)) => message,
            other => panic!("{input_url} was not refused finally: {other:?}"),
        }
    }
}

fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

#[tokio::test]
async fn hostile_inputs_are_refused_finally_and_nothing_leaks() {
    let mut site = Site::new().await;
    let input = site.input();
    let outside = site.root.join("outside");
    mkfifo(&input.join("fifo.mp4"));
    std::os::unix::fs::symlink(outside.join("secret.txt"), input.join("link.mp4")).unwrap();
    std::os::unix::fs::symlink(&outside, input.join("folder")).unwrap();
    std::fs::create_dir_all(input.join("directory.mp4")).unwrap();
    std::fs::write(input.join("notes.txt"), "password=hunter2\n".repeat(300)).unwrap();
    let segment = common::pattern(&outside, "segment.ts", "64x36", 25, 1.0);
    std::fs::write(input.join("playlist.m3u8"), format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{}\n#EXT-X-ENDLIST\n", segment.display())).unwrap();
    std::fs::copy(input.join("playlist.m3u8"), input.join("playlist.mp4")).unwrap();
    let in_url = file_url(&input);
    let deep = format!("{in_url}/{}clip.mp4", "deep/".repeat(200));
    let cases: Vec<(String, &str)> = vec![
        (file_url(&outside.join("secret.txt")), "outside the allowed input roots"),
        ("file:///etc/passwd".to_owned(), "outside the allowed input roots"),
        (format!("{in_url}/%2e%2e/outside/secret.txt"), "'..'"),
        (format!("{in_url}/.%2E/outside/secret.txt"), "'..'"),
        (format!("{in_url}/%5c..%5coutside%5csecret.txt"), "backslash"),
        (format!("{in_url}/fifo.mp4"), "is a fifo, not a regular file"),
        (format!("{in_url}/link.mp4"), "leads outside its root"),
        (format!("{in_url}/folder/secret.txt"), "leads outside its root"),
        (format!("{in_url}/directory.mp4"), "is a directory, not a regular file"),
        (deep, "does not exist"),
        (format!("{in_url}/notes.txt"), "format_not_allowed"),
        (format!("{in_url}/playlist.m3u8"), "format_not_allowed"),
        (format!("{in_url}/playlist.mp4"), "format_not_allowed"),
    ];
    for (url, says) in cases {
        let started = Instant::now();
        let message = site.refused_inspection(&url, "job", false).await;
        assert!(message.contains(says), "{url}: expected {says:?} in {message:?}");
        assert!(!message.contains("hunter2"), "{url}: the refusal leaks the file: {message}");
        assert!(started.elapsed() < Duration::from_secs(10), "{url} took {:?}", started.elapsed());
    }
    assert!(!input.join("deep").exists(), "a missing input made the agent create directories");
    let cached: Vec<_> = walk(&site.root.join("agent")).into_iter().filter(|path| std::fs::read(path).is_ok_and(|bytes| bytes.windows(7).any(|w| w == b"hunter2"))).collect();
    assert!(cached.is_empty(), "secrets copied into the agent's cache: {cached:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files
}

#[tokio::test]
async fn outputs_never_destroy_a_users_files() {
    let mut site = Site::new().await;
    let source_url = site.tiny_source();
    let out = site.root.join("out");

    // A directory of the user's: refused, untouched.
    std::fs::create_dir_all(out.join("mine")).unwrap();
    std::fs::write(out.join("mine/notes.txt"), b"keep me").unwrap();
    let message = site.refused_inspection(&source_url, "mine", false).await;
    assert!(message.contains("is not empty (it holds notes.txt)") && message.contains("--overwrite"), "{message}");
    assert_eq!(std::fs::read(out.join("mine/notes.txt")).unwrap(), b"keep me");
    assert!(!out.join("mine/.shotfarm-work").exists(), "nothing written into a refused location");

    // A symlinked folder inside the output: never written through, even with overwrite.
    std::fs::create_dir_all(out.join("linked")).unwrap();
    std::os::unix::fs::symlink(site.root.join("outside"), out.join("linked/h264_90p")).unwrap();
    let message = site.refused_inspection(&source_url, "linked", true).await;
    assert!(message.contains("symlink"), "{message}");

    // With overwrite, the previous ladder is replaced and its stale files go; another job's
    // work area stays.
    let previous = out.join("previous");
    for (file, body) in [("master.m3u8", "#EXTM3U\nold\n"), ("h264_999p/seg_00007.m4s", "old"), ("report.json", "{}"), (".shotfarm-work/job-0-1/x", "other job")] {
        std::fs::create_dir_all(previous.join(file).parent().unwrap()).unwrap();
        std::fs::write(previous.join(file), body).unwrap();
    }
    let locations = site.locations(&source_url, "previous", true);
    let package = site.package_spec(&locations).await;
    site.run(package).await.unwrap();
    let master = std::fs::read_to_string(previous.join("master.m3u8")).unwrap();
    assert!(master.contains(&format!("{}/h264_", site.generation())) && !master.contains("old"), "{master}");
    assert!(!previous.join("h264_999p").exists() && !previous.join("report.json").exists(), "stale outputs left behind");
    assert_eq!(std::fs::read(previous.join(".shotfarm-work/job-0-1/x")).unwrap(), b"other job");
}

/// The values of every `name="…"` attribute in `text`.
fn attribute_values<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.split(&format!("{name}=\"")).skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

/// The URI lines and `URI="…"` attributes of a playlist, as keys relative to the output (the
/// playlist lies in `folder`).
fn playlist_uris(text: &str, folder: &str) -> Vec<String> {
    let lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
    let uris: Vec<&str> = lines.chain(attribute_values(text, "URI")).collect();
    uris.into_iter().map(|uri| if folder.is_empty() { uri.to_owned() } else { format!("{folder}/{uri}") }).collect()
}

/// Every file the manifests at `out` name: the HLS master's playlists and what they name; the
/// MPD's init segments, its segments (as many as the HLS playlist beside them lists) and its
/// subtitle files. Panics when a named playlist is missing.
fn named_by_manifests(out: &Path) -> BTreeSet<String> {
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let mut named = BTreeSet::new();
    for playlist in playlist_uris(&master, "") {
        let text = std::fs::read_to_string(out.join(&playlist)).unwrap_or_else(|error| panic!("master.m3u8 names {playlist}: {error}"));
        let folder = playlist.rsplit_once('/').map_or("", |(folder, _)| folder);
        named.extend(playlist_uris(&text, folder));
        named.insert(playlist);
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    named.extend(attribute_values(&mpd, "initialization").into_iter().map(str::to_owned));
    for template in attribute_values(&mpd, "media") {
        let (folder, _) = template.rsplit_once('/').unwrap();
        let segments = std::fs::read_to_string(out.join(folder).join("playlist.m3u8")).unwrap().lines().filter(|line| line.ends_with(".m4s")).count();
        named.extend((0..segments).map(|number| template.replace("$Number%05d$", &format!("{number:05}"))));
    }
    named.extend(mpd.split("<BaseURL>").skip(1).filter_map(|rest| rest.split('<').next()).map(str::to_owned));
    named
}

/// The files of the output location `out` outside work areas.
fn published_files(out: &Path) -> BTreeSet<String> {
    let files = walk(out).into_iter().map(|path| path.strip_prefix(out).unwrap().to_string_lossy().into_owned());
    files.filter(|key| !key.starts_with(".shotfarm-work/")).collect()
}

/// Checks that `out` holds the manifests and exactly the files they name, every one in
/// `generation`; returns the manifests' text.
fn assert_one_whole_ladder(out: &Path, generation: &str) -> (String, String) {
    let named = named_by_manifests(out);
    assert!(named.iter().all(|key| key.starts_with(&format!("{generation}/"))), "the manifests name files outside {generation}: {named:?}");
    let mut expected = named.clone();
    expected.extend(["master.m3u8".to_owned(), "manifest.mpd".to_owned()]);
    assert_eq!(published_files(out), expected, "the location holds other files than the manifests name (or lacks some)");
    for key in &named {
        assert!(std::fs::metadata(out.join(key)).unwrap().len() > 0, "{key} is empty");
    }
    (std::fs::read_to_string(out.join("master.m3u8")).unwrap(), std::fs::read_to_string(out.join("manifest.mpd")).unwrap())
}

#[tokio::test]
async fn an_overwrite_replaces_the_previous_ladder_whole_or_not_at_all() {
    let mut site = Site::new().await;
    let source_url = site.tiny_source();
    let out = site.root.join("out/ladder");

    // A first job into an empty location, where another package attempt of the same job died
    // half-way through its uploads: that is the job's own, not refused, and removed.
    let first = site.generation();
    let spec = site.package_spec(&site.locations(&source_url, "ladder", false)).await;
    let crashed = out.join(format!("{}-a9/h264_90p/seg_00003.m4s", site.work_name()));
    std::fs::create_dir_all(crashed.parent().unwrap()).unwrap();
    std::fs::write(&crashed, b"half").unwrap();
    site.run(spec).await.unwrap();
    let (master, _) = assert_one_whole_ladder(&out, &first);
    let first_playlist = playlist_uris(&master, "").into_iter().find(|uri| uri.starts_with(&format!("{first}/h264_"))).unwrap();

    // Without overwrite, a second job is refused and changes nothing.
    site.next_job();
    let message = site.refused_inspection(&source_url, "ladder", false).await;
    assert!(message.contains("is not empty (it holds ") && message.contains("--overwrite"), "{message}");
    assert_eq!(assert_one_whole_ladder(&out, &first).0, master);

    // With overwrite, the next job's ladder replaces the first: the manifests name only its
    // files, all there, and nothing of the first ladder is left, not even an empty folder.
    site.next_job();
    let second = site.generation();
    let spec = site.package_spec(&site.locations(&source_url, "ladder", true)).await;
    site.run(spec).await.unwrap();
    let (master, mpd) = assert_one_whole_ladder(&out, &second);
    assert!(!out.join(&first).exists(), "the first ladder's folder is left");

    // A package that fails half-way through its uploads (an empty folder stands where one of
    // its segments goes, so renaming the uploaded segment into place fails as a full disk
    // would): the previous manifests stay, every file they name is there and plays, and what
    // the failed package had uploaded is gone.
    site.next_job();
    let third = site.generation();
    let spec = site.package_spec(&site.locations(&source_url, "ladder", true)).await;
    let TaskSpec::Package { renditions, .. } = &spec else { panic!("not a package spec") };
    let rung = renditions[0].0.name.clone();
    std::fs::create_dir_all(out.join(&third).join(&rung).join("seg_00001.m4s")).unwrap();
    let error = site.run(spec).await.unwrap_err();
    assert!(error.to_string().contains(&format!("uploading {third}/{rung}/seg_00001.m4s")), "{error}");
    assert_eq!(assert_one_whole_ladder(&out, &second), (master.clone(), mpd));
    let second_playlist = playlist_uris(&master, "").into_iter().find(|uri| uri.starts_with(&format!("{second}/h264_"))).unwrap();
    assert_eq!(common::frame_count(&out.join(&second_playlist)), 30, "{second_playlist} does not play every frame");
    assert!(!out.join(&third).exists(), "the failed package's files are left");
    assert_ne!(first_playlist, second_playlist);

    // The second manifest cannot be switched (a folder of the user's has its name) after the
    // first, new, was: that one is taken back, so nothing names the new ladder, which goes.
    site.next_job();
    let blocked = site.root.join("out/blocked");
    std::fs::create_dir_all(blocked.join("manifest.mpd")).unwrap();
    std::fs::write(blocked.join("manifest.mpd/notes.txt"), b"keep me").unwrap();
    let spec = site.package_spec(&site.locations(&source_url, "blocked", true)).await;
    let error = site.run(spec).await.unwrap_err();
    assert!(error.to_string().contains("uploading manifest.mpd"), "{error}");
    assert!(!blocked.join("master.m3u8").exists() && !blocked.join(site.generation()).exists(), "a manifest naming a ladder that is not whole: {:?}", published_files(&blocked));
    assert_eq!(std::fs::read(blocked.join("manifest.mpd/notes.txt")).unwrap(), b"keep me");

    // A file that appears after inspection: without overwrite, the package refuses to publish.
    site.next_job();
    let spec = site.package_spec(&site.locations(&source_url, "late", false)).await;
    let late = site.root.join("out/late");
    std::fs::write(late.join("notes.txt"), b"keep me").unwrap();
    match site.run(spec).await {
        Err(TaskError::Final(message)) => assert!(message.contains("is not empty (it holds notes.txt)"), "{message}"),
        other => panic!("a package into a location that is no longer empty: {other:?}"),
    }
    assert_eq!(published_files(&late), BTreeSet::from(["notes.txt".to_owned()]));
    assert_eq!(std::fs::read(late.join("notes.txt")).unwrap(), b"keep me");
}
