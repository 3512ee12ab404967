//! A packaged ladder made the way the farm makes one: inspect, encode every chunk into every
//! rung with the CPU backend, assemble, package.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use shotfarm_agent::media::assemble::{AssembleParams, assemble_rendition};
use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunking::ChunkingParams;
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, EncodeBackend, EncodeChunkParams, EncoderSettings};
use shotfarm_agent::media::inspect::{InspectParams, InspectReport, inspect_source};
use shotfarm_agent::media::package::encryption::ContentProtection;
use shotfarm_agent::media::package::audio_files::encode_audio_files;
use shotfarm_agent::media::package::audio_renditions::AudioTimeline;
use shotfarm_agent::media::package::subtitles::{SubtitleFile, convert_subtitle_files};
use shotfarm_agent::media::package::{AudioPackaging, PackageParams, PackageRendition, PackageResult, package_ladder};
use shotfarm_agent::media::probe::Rational;
use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_proto::thumbnails::ThumbnailOptions;
use tokio_util::sync::CancellationToken;

/// A streaming rung as the fixed ladder makes one: its VBV peak 1.5× and buffer 2× its bitrate.
pub fn streaming_rung(name: &str, width: u32, height: u32, codec: Codec, bitrate_kbps: u32) -> Rung {
    Rung { name: name.into(), width, height, codec, bitrate_kbps, maxrate_kbps: bitrate_kbps * 3 / 2, bufsize_kbps: bitrate_kbps * 2 }
}

/// Two H.264 renditions of `source` (180p, 90p) with B-frames and a keyframe every 12
/// frames, as the encoders write them.
pub fn h264_renditions(dir: &Path, source: &Path) -> Vec<PackageRendition> {
    [("180p", 320, 180), ("90p", 160, 90)]
        .into_iter()
        .map(|(name, width, height)| {
            let path = dir.join(format!("{name}.mp4"));
            super::ffmpeg(&[
                "-i", source.to_str().unwrap(), "-map", "0:v", "-fps_mode", "passthrough", "-vf", &format!("scale={width}:{height}"),
                "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "12", "-keyint_min", "12", "-sc_threshold", "0", "-x264-params", "b-adapt=0",
                path.to_str().unwrap(),
            ]);
            let rung = Rung { name: name.into(), width, height, codec: Codec::H264, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 };
            PackageRendition { rung, path }
        })
        .collect()
}

/// AV1 renditions of `source` at 320x180 with a keyframe every 12 frames, from the encoders
/// ffmpeg has, between them reading most of what an AV1 frame header can hold: SVT-AV1 as
/// the CPU backend runs it (hidden frames shown later by `show_existing_frame`, one tile);
/// SVT-AV1 with superres and film grain (frame size overrides, `frame_size_with_refs`);
/// libaom with 2x2 tiles, 128x128 superblocks, quantizer matrices and a decoder model
/// (`buffer_removal_time`); libaom lossless with 2x2 tiles in two tile groups (frame header
/// OBUs, then tile group OBUs; no loop filter or transform mode in the header); and rav1e with
/// 2x2 tiles and segmentation carried over from reference frames.
pub fn av1_renditions(dir: &Path, source: &Path) -> Vec<PackageRendition> {
    let aom = ["-c:v", "libaom-av1", "-cpu-used", "8", "-g", "12", "-keyint_min", "12", "-tile-columns", "1", "-tile-rows", "1"];
    let encoders: [(&str, Vec<&str>); 5] = [
        ("svt", vec!["-c:v", "libsvtav1", "-preset", "10", "-b:v", "300k", "-g", "12", "-svtav1-params", "scd=0"]),
        ("svt-superres-grain", vec!["-c:v", "libsvtav1", "-preset", "10", "-b:v", "300k", "-g", "12", "-svtav1-params", "scd=0:superres-mode=1:superres-denom=12:film-grain=8"]),
        ("aom-tiles", [&aom[..], &["-b:v", "300k", "-aom-params", "sb-size=128:enable-qm=1:timing-info=model"]].concat()),
        ("aom-lossless-tile-groups", [&aom[..], &["-crf", "0", "-b:v", "0", "-aom-params", "num-tile-groups=2"]].concat()),
        ("rav1e-tiles", vec!["-c:v", "librav1e", "-speed", "10", "-b:v", "300k", "-g", "12", "-keyint_min", "12", "-tiles", "4"]),
    ];
    encoders
        .into_iter()
        .map(|(name, encoder)| {
            let path = dir.join(format!("{name}.mp4"));
            let mut args = vec!["-i", source.to_str().unwrap(), "-map", "0:v", "-fps_mode", "passthrough", "-vf", "scale=320:180"];
            args.extend(&encoder);
            args.push(path.to_str().unwrap());
            super::ffmpeg(&args);
            let rung = Rung { name: name.into(), width: 320, height: 180, codec: Codec::Av1, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 };
            PackageRendition { rung, path }
        })
        .collect()
}

/// Inspects `source` (chunks of 0.8 to 1.6 s) with its artifacts under `dir/inspect`.
pub async fn inspect(source: &Path, dir: &Path) -> InspectReport {
    let params = InspectParams {
        source: source.to_owned(),
        artifact_dir: dir.join("inspect"),
        chunking: ChunkingParams { min_seconds: 0.8, max_seconds: 1.6 },
        shot_detection: Default::default(),
        limits: Default::default(),
        segments: Default::default(),
    };
    inspect_source(&params, &CancellationToken::new()).await.unwrap()
}

/// Inspects `source`, encodes it into `rungs` (keyframe every 12 frames), assembles and
/// packages the ladder (with the source's audio when it has some) into `dir/out`.
pub async fn package_source(source: &Path, rungs: &[Rung], dir: &Path) -> (InspectReport, PackageResult) {
    package_source_protected(source, rungs, dir, None).await
}

/// [`package_source`], encrypted with `protection`.
pub async fn package_source_protected(source: &Path, rungs: &[Rung], dir: &Path, protection: Option<ContentProtection>) -> (InspectReport, PackageResult) {
    let cancel = CancellationToken::new();
    let report = inspect(source, dir).await;
    let backend = CpuBackend::new(&probe_capabilities(&cancel).await.unwrap());
    let settings = EncoderSettings { preset: "veryfast".to_owned(), keyframe_interval_frames: 12 };
    let mut chunks_per_rung = vec![Vec::new(); rungs.len()];
    for chunk in &report.chunks {
        let outputs: Vec<ChunkOutput> =
            rungs.iter().map(|rung| ChunkOutput::new(rung.clone(), dir.join("chunks").join(&rung.name).join(format!("{:04}.mp4", chunk.index)))).collect();
        let params = EncodeChunkParams { source: source.to_owned(), chunk: chunk.clone(), frame_rate: report.source.video.frame_rate, outputs, settings: settings.clone(), picture: report.source.video.picture.clone() };
        let result = backend.encode_chunk(&params, &|_| {}, &cancel).await.unwrap();
        for (index, output) in result.outputs.into_iter().enumerate() {
            chunks_per_rung[index].push(output.path);
        }
    }
    let mut renditions = Vec::new();
    for (rung, chunks) in rungs.iter().zip(chunks_per_rung) {
        let output = dir.join("assembled").join(format!("{}.mp4", rung.name));
        let spans_us = report.chunks.iter().filter_map(|chunk| chunk.span_us).collect();
        assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks, output: output.clone(), spans_us }, &cancel).await.unwrap();
        renditions.push(PackageRendition { rung: rung.clone(), path: output });
    }
    let audio = audio_packaging(source, (report.source.video.frames, report.source.video.frame_rate), 0.96, &dir.join("audio")).await;
    // The media in a folder of their own, as the package task publishes them.
    let params = PackageParams {
        output_dir: dir.join("out"),
        renditions,
        frame_rate: report.source.video.frame_rate,
        frames: report.source.video.frames,
        audio,
        subtitles: subtitle_files(source, &dir.join("subtitles")).await,
        media_folder: "job-1-1-a1".to_owned(),
        thumbnails: Some(ThumbnailOptions { interval_seconds: 1, ..ThumbnailOptions::default() }),
        shot_starts: Vec::new(),
        protection,
    };
    let result = package_ladder(&params, &cancel).await.unwrap();
    (report, result)
}

/// Every text subtitle track of `source` converted to WebVTT as the subtitles task converts
/// them.
pub async fn subtitle_files(source: &Path, dir: &Path) -> Vec<SubtitleFile> {
    convert_subtitle_files(source, dir, &CancellationToken::new()).await.unwrap()
}

/// Every audio rendition of `source` (stereo at 96 kb/s) encoded whole as the audio task
/// encodes them, fitted to `video` (frames, rate), in segments of `segment_seconds`; `None`
/// for a source without audio.
pub async fn audio_packaging(source: &Path, (frames, frame_rate): (u64, Rational), segment_seconds: f64, dir: &Path) -> Option<AudioPackaging> {
    let timeline = AudioTimeline { frames, frame_rate, stereo_bitrate_kbps: 96 };
    let files = encode_audio_files(source, timeline, dir, &CancellationToken::new()).await.unwrap();
    (!files.is_empty()).then_some(AudioPackaging { files, segment_seconds })
}
