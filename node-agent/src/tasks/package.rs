//! The package task: every validated rendition, every audio rendition the audio task encoded,
//! and every text subtitle track the subtitles task converted to WebVTT, packaged as HLS (CMAF
//! segments, master playlist) and DASH in a scratch directory, then published under the job's
//! `output_url` with exactly that layout (the source itself is never read here):
//!
//! ```text
//! master.m3u8  manifest.mpd                       the manifests, naming files of one generation
//! <job>-a<attempt>/<rung>/playlist.m3u8 init.mp4 seg_00000.m4s …
//! <job>-a<attempt>/audio/a<N>/…  <job>-a<attempt>/subtitles/s<N>/…
//! ```
//!
//! One code path with or without the job's `overwrite` (see [`super::output_generation`]): the
//! media go under a folder of their own, then the two manifests are switched, each in one
//! step, and then whatever the location held before (work areas kept) is removed. A failure
//! before the switch leaves the previous ladder whole (and a location that was empty, empty). Without `overwrite`, a location that
//! holds anything but this job's own earlier attempts is refused here too (something may have
//! appeared since inspection). The `PackageResult` (paths relative to the output root) goes to
//! `package/a<attempt>.json` in the work area for report.json, before the switch.

use std::path::{Path, PathBuf};

use shotfarm_proto::pipeline::{Artifact, EncodedAudio, EncodedSubtitles, JobLocations, Rung, SourceSummary, TaskOutput};
use shotfarm_proto::encryption::EncryptionOptions;
use shotfarm_proto::thumbnails::ThumbnailOptions;
use tokio_util::sync::CancellationToken;

use super::content_keys::read_protection;
use super::encode::SEGMENT_SECONDS;
use super::job_locations::check_locations;
use super::output_generation::{DASH_MANIFEST, Generation, MASTER_PLAYLIST, publish};
use super::output_location::{existing_files, refuse_unless_empty, remove_stale};
use super::spec_checks::{check_audio_renditions, check_rung_name, check_subtitle_renditions, frame_rate};
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, inspection, task_errors};
use crate::media::package::iframes::PackagedIFrames;
use crate::media::package::poster::PackagedPoster;
use crate::media::inspect::InspectReport;
use crate::media::package::subtitles::{PackagedSubtitles, SubtitleFile};
use crate::media::package::thumbnails::PackagedThumbnails;
use crate::media::package::audio_files::AudioFile;
use crate::media::package::{AudioPackaging, PackageParams, PackageRendition, PackageResult, PackagedAudio, PackagedRendition, package_ladder};
use crate::storage::MediaStore;

pub async fn run(
    locations: &JobLocations,
    (source, inspection): (&SourceSummary, &Artifact),
    (renditions, audio, subtitles): (&[(Rung, Artifact)], &[EncodedAudio], &[EncodedSubtitles]),
    (thumbnails, encryption): (Option<ThumbnailOptions>, Option<&EncryptionOptions>),
    ctx: &TaskContext,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    if renditions.is_empty() {
        return Err(TaskError::final_error("nothing to package: the job has no validated rendition"));
    }
    if source.has_audio && audio.is_empty() {
        return Err(TaskError::final_error("the source has audio but the package spec carries no audio rendition; the scheduler plans an audio task for it (is it older than this agent?)"));
    }
    check_audio_renditions(audio.iter().map(|encoded| &encoded.rendition))?;
    check_subtitle_renditions(subtitles.iter().map(|encoded| &encoded.rendition))?;
    // Symlinks in the output location are refused here too (one may have appeared since
    // inspection), before anything is created there; what is there now is what this package
    // replaces: with `overwrite` anything, without it only this job's earlier attempts.
    let checked = check_locations(locations, &ctx.roots)?;
    let previous = existing_files(&checked, &ctx.roots).await?;
    let generation = Generation::of(&checked, ctx.attempt)?;
    generation.check_unused(&previous, checked.output.as_str())?;
    if !locations.overwrite {
        let others: Vec<String> = previous.iter().filter(|key| !generation.is_this_jobs(key)).cloned().collect();
        refuse_unless_empty(&checked.output, &others)?;
    }
    // The keys first: a missing or bad key file fails the task before any work.
    let protection = match encryption {
        Some(options) => Some(read_protection(options, ctx).await?),
        None => None,
    };
    let work_area = WorkArea::open(&locations.work_url)?;
    // The inspection: which text subtitle tracks the source has, and its shots, which place
    // the poster unless the job times it.
    let (report, _) = inspection::committed_report(&work_area, inspection, source, ctx).await?;
    check_every_text_track_converted(&report, subtitles)?;
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
    let mut audio_files: Vec<AudioFile> = Vec::with_capacity(audio.len());
    for EncodedAudio { rendition: facts, artifact } in audio {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        // `<name>.mp4` under `audio/`, which no rung is named.
        let path = input_dir.join(format!("{}.mp4", facts.name));
        work_area.download(artifact, &path).await?;
        audio_files.push(AudioFile { facts: facts.clone(), path });
    }
    let audio = (!audio_files.is_empty()).then_some(AudioPackaging { files: audio_files, segment_seconds: SEGMENT_SECONDS });
    let mut subtitle_files: Vec<SubtitleFile> = Vec::with_capacity(subtitles.len());
    for EncodedSubtitles { rendition: facts, artifact } in subtitles {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        // `<name>.vtt` under `subtitles/`, which no rung is named.
        let path = input_dir.join(format!("{}.vtt", facts.name));
        work_area.download(artifact, &path).await?;
        subtitle_files.push(SubtitleFile { facts: facts.clone(), path });
    }
    let shot_starts = match &thumbnails {
        Some(options) if options.poster_seconds.is_none() => report.shots.iter().map(|shot| shot.start).collect(),
        _ => Vec::new(),
    };
    let output_dir = ctx.scratch_dir.join("package").join("output");
    let params = PackageParams {
        output_dir: output_dir.clone(),
        renditions: to_package,
        frame_rate: frame_rate(source)?,
        frames: source.frames,
        audio,
        subtitles: subtitle_files,
        media_folder: generation.folder().to_owned(),
        thumbnails,
        shot_starts,
        protection,
    };
    let result = package_ladder(&params, cancel).await.map_err(task_errors::package)?;
    let _ = tokio::fs::remove_dir_all(&input_dir).await;
    let facts = relative_result(&result, &output_dir);
    let key = WorkArea::package_facts_key(ctx.attempt)?;
    work_area.put_json(&facts, &key, &ctx.scratch_dir).await?;

    let written = publish(&output_dir, &output_store, &generation, &previous, cancel).await?;
    let removed = remove_stale(&output_store, &previous, &written).await?;
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        output_url = %locations.output_url,
        generation = generation.folder(),
        files = written.len(),
        removed,
        renditions = result.renditions.len(),
        audio = result.audio.is_some(),
        "ladder packaged and uploaded"
    );
    Ok(TaskOutput::Package {
        master_playlist: format!("{}/{MASTER_PLAYLIST}", output_store.url()),
        dash_manifest: format!("{}/{DASH_MANIFEST}", output_store.url()),
    })
}

/// Every text subtitle track the inspection found has its converted rendition in the spec
/// (and no other): a subtitles task that was never planned, or one from another source, would
/// otherwise publish a ladder missing a language.
fn check_every_text_track_converted(report: &InspectReport, subtitles: &[EncodedSubtitles]) -> Result<(), TaskError> {
    let mut inspected: Vec<u32> = report.source.subtitle_tracks.iter().filter(|track| track.text).map(|track| track.subtitle_index).collect();
    let mut converted: Vec<u32> = subtitles.iter().map(|encoded| encoded.rendition.subtitle_index).collect();
    inspected.sort_unstable();
    converted.sort_unstable();
    if inspected != converted {
        return Err(TaskError::final_error(format!(
            "the inspection found text subtitle streams {inspected:?} (0:s:N) but the package spec carries renditions of {converted:?}; the scheduler plans a subtitles task for them (is it older than this agent?)"
        )));
    }
    Ok(())
}

fn relative_path(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// The result with every path relative to the output root (what report.json shows).
fn relative_result(result: &PackageResult, root: &Path) -> PackageResult {
    let relative = |rendition: &PackagedRendition| PackagedRendition {
        playlist: relative_path(&rendition.playlist, root),
        iframes: rendition.iframes.as_ref().map(|iframes| PackagedIFrames { playlist: relative_path(&iframes.playlist, root), ..iframes.clone() }),
        ..rendition.clone()
    };
    PackageResult {
        master_playlist: relative_path(&result.master_playlist, root),
        dash_manifest: relative_path(&result.dash_manifest, root),
        renditions: result.renditions.iter().map(relative).collect(),
        audio: result.audio.as_ref().map(relative),
        audio_renditions: result.audio_renditions.iter().map(|audio| PackagedAudio { rendition: relative(&audio.rendition), ..audio.clone() }).collect(),
        subtitles: result.subtitles.iter().map(|subtitles| PackagedSubtitles { playlist: relative_path(&subtitles.playlist, root), ..subtitles.clone() }).collect(),
        thumbnails: result.thumbnails.as_ref().map(|thumbnails| PackagedThumbnails {
            vtt: relative_path(&thumbnails.vtt, root),
            image_playlist: relative_path(&thumbnails.image_playlist, root),
            poster: PackagedPoster { path: relative_path(&thumbnails.poster.path, root), ..thumbnails.poster.clone() },
            ..thumbnails.clone()
        }),
        audio_video_offset_seconds: result.audio_video_offset_seconds,
        protection: result.protection.clone(),
        seconds: result.seconds,
    }
}
