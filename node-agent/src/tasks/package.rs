//! The package task: every validated rendition (and every audio track of the source, each encoded once as AAC, and every text subtitle track as WebVTT)
//! packaged as HLS (CMAF segments, master playlist) and DASH in a scratch directory, then
//! uploaded under the job's `output_url` with exactly that layout:
//!
//! ```text
//! master.m3u8  manifest.mpd  <rung>/playlist.m3u8 <rung>/init.mp4 <rung>/seg_00000.m4s …  audio/a<N>/…
//! ```
//!
//! Media files go up first and the two manifests last, so a reader who finds `master.m3u8`
//! finds every file it names. With the job's `overwrite`, the previous manifests are removed
//! before the first upload and the previous files the new ones did not replace after the last
//! (work areas kept): a reader sees the old ladder, no manifest, then the new ladder — never a
//! manifest naming a mix. Object stores and POSIX directories have no atomic switch of many
//! files; the manifests are the switch. The `PackageResult` (paths relative to the output root) goes to
//! `package/a<attempt>.json` in the work area for report.json.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shotfarm_proto::pipeline::{Artifact, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::encode::SEGMENT_SECONDS;
use super::job_cache::local_source;
use super::job_locations::check_locations;
use super::output_location::{existing_files, remove_stale};
use super::spec_checks::{check_rung_name, frame_rate};
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::package::subtitles::PackagedSubtitles;
use crate::media::package::{AudioPackaging, PackageParams, PackageRendition, PackageResult, PackagedAudio, PackagedRendition, package_ladder};
use crate::storage::{MediaStore, ObjectKey};

/// The AAC rendition's bitrate.
pub const AUDIO_BITRATE_KBPS: u32 = 128;
pub const MASTER_PLAYLIST: &str = "master.m3u8";
pub const DASH_MANIFEST: &str = "manifest.mpd";

pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    renditions: &[(Rung, Artifact)],
    ctx: &TaskContext,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    if renditions.is_empty() {
        return Err(TaskError::final_error("nothing to package: the job has no validated rendition"));
    }
    // Symlinks in the output location are refused here too (one may have appeared since
    // inspection), before anything is created there; what is there now is what `overwrite`
    // replaces.
    let previous = existing_files(&check_locations(locations, &ctx.roots)?, &ctx.roots).await?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let output_store = MediaStore::open(&locations.output_url).map_err(|error| task_errors::storage("opening the job's output location", error))?;
    let input_dir = ctx.scratch_dir.join("package").join("renditions");
    let mut to_package = Vec::with_capacity(renditions.len());
    for (rung, stream) in renditions {
        check_rung_name(&rung.name)?;
        if to_package.iter().any(|rendition: &PackageRendition| rendition.rung.name == rung.name) {
            return Err(TaskError::final_error(format!("rendition {} appears twice in the package spec; rung names must be unique", rung.name)));
        }
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let local = input_dir.join(format!("{}.mp4", rung.name));
        work_area.download(stream, &local).await?;
        to_package.push(PackageRendition { rung: rung.clone(), path: local });
    }
    // The source itself: its audio tracks and text subtitle tracks are packaged from it.
    let source_path = local_source(&locations.input_url, ctx).await?;
    let audio = source.has_audio.then(|| AudioPackaging { source: source_path.clone(), bitrate_kbps: AUDIO_BITRATE_KBPS, segment_seconds: SEGMENT_SECONDS });
    let output_dir = ctx.scratch_dir.join("package").join("output");
    let subtitles_source = Some(source_path);
    let params = PackageParams { output_dir: output_dir.clone(), renditions: to_package, frame_rate: frame_rate(source)?, frames: source.frames, audio, subtitles_source };
    let result = package_ladder(&params, cancel).await.map_err(task_errors::package)?;
    let _ = tokio::fs::remove_dir_all(&input_dir).await;

    if locations.overwrite {
        // No reader may follow an old manifest into segments being replaced: the manifests go
        // first and come back last, naming only new files.
        for manifest in [MASTER_PLAYLIST, DASH_MANIFEST] {
            let key = ObjectKey::parse(manifest).map_err(|error| task_errors::key("naming a manifest", error))?;
            output_store.delete(&key).await.map_err(|error| task_errors::storage(&format!("removing the previous {manifest}"), error))?;
        }
    }
    let written = upload_output(&output_dir, &output_store, cancel).await?;
    let uploaded = written.len();
    if locations.overwrite {
        let removed = remove_stale(&output_store, &previous, &written).await?;
        tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, removed, "stale outputs removed");
    }
    let facts = relative_result(&result, &output_dir);
    let key = WorkArea::package_facts_key(ctx.attempt)?;
    work_area.put_json(&facts, &key, &ctx.scratch_dir).await?;
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        output_url = %locations.output_url,
        files = uploaded,
        renditions = result.renditions.len(),
        audio = result.audio.is_some(),
        "ladder packaged and uploaded"
    );
    Ok(TaskOutput::Package {
        master_playlist: format!("{}/{MASTER_PLAYLIST}", output_store.url()),
        dash_manifest: format!("{}/{DASH_MANIFEST}", output_store.url()),
    })
}

/// Every file under `root`, as paths relative to it, sorted.
async fn files_under(root: &Path) -> Result<Vec<PathBuf>, TaskError> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let directory = root.join(&relative);
        let mut entries = tokio::fs::read_dir(&directory).await.map_err(|error| task_errors::local_io("listing", &directory, error))?;
        while let Some(entry) = entries.next_entry().await.map_err(|error| task_errors::local_io("listing", &directory, error))? {
            let file_type = entry.file_type().await.map_err(|error| task_errors::local_io("inspecting", &entry.path(), error))?;
            let child = relative.join(entry.file_name());
            if file_type.is_dir() {
                pending.push(child);
            } else if file_type.is_file() {
                files.push(child);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Uploads the package directory under the output store, manifests last. Returns the keys written.
async fn upload_output(output_dir: &Path, store: &MediaStore, cancel: &CancellationToken) -> Result<BTreeSet<String>, TaskError> {
    let mut files = files_under(output_dir).await?;
    let is_manifest = |path: &PathBuf| path == Path::new(MASTER_PLAYLIST) || path == Path::new(DASH_MANIFEST);
    files.sort_by_key(|path| is_manifest(path));
    for relative in &files {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let text = relative.to_str().ok_or_else(|| TaskError::final_error(format!("packaged file {} has a name that is not utf-8", relative.display())))?;
        let key = ObjectKey::parse(text).map_err(|error| task_errors::key("naming a packaged file", error))?;
        store
            .put_from_file(&output_dir.join(relative), &key)
            .await
            .map_err(|error| task_errors::storage(&format!("uploading {key} to the output location"), error))?;
    }
    Ok(files.iter().map(|file| file.to_string_lossy().into_owned()).collect())
}

fn relative_path(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// The result with every path relative to the output root (what report.json shows).
fn relative_result(result: &PackageResult, root: &Path) -> PackageResult {
    let relative = |rendition: &PackagedRendition| PackagedRendition { playlist: relative_path(&rendition.playlist, root), ..rendition.clone() };
    PackageResult {
        master_playlist: relative_path(&result.master_playlist, root),
        dash_manifest: relative_path(&result.dash_manifest, root),
        renditions: result.renditions.iter().map(relative).collect(),
        audio: result.audio.as_ref().map(relative),
        audio_renditions: result.audio_renditions.iter().map(|audio| PackagedAudio { rendition: relative(&audio.rendition), ..audio.clone() }).collect(),
        subtitles: result.subtitles.iter().map(|subtitles| PackagedSubtitles { playlist: relative_path(&subtitles.playlist, root), ..subtitles.clone() }).collect(),
        skipped_subtitles: result.skipped_subtitles.clone(),
        audio_video_offset_seconds: result.audio_video_offset_seconds,
        seconds: result.seconds,
    }
}
