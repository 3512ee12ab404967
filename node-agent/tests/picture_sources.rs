//! Sources people actually have — rotated phone video, interlaced video, … — through inspect →
//! encode → assemble → validate (and score), every rendition judged frame by frame against the
//! source: the decoded frame count, fingerprints in order (validate), the display size and
//! orientation, pixel format and colour tags (ffprobe), and the picture itself against what
//! ffmpeg makes of the source on its own.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use shotfarm_agent::media::assemble::{AssembleParams, assemble_rendition};
use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunking::ChunkingParams;
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, EncodeBackend, EncodeChunkParams, EncoderSettings};
use shotfarm_agent::media::inspect::{InspectParams, InspectReport, WarningCode, inspect_source};
use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_agent::media::score::{ScoreParams, score_chunk};
use shotfarm_agent::media::source_picture::FieldOrder;
use shotfarm_agent::media::source_range::SourceRange;
use shotfarm_agent::media::validate::{ValidateParams, validate_rendition};
use shotfarm_kernels::backend::BackendRequest;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_proto::pipeline::{Codec, Rung};
use tokio_util::sync::CancellationToken;

async fn inspect(source: &Path, dir: &Path) -> InspectReport {
    let params = InspectParams {
        source: source.to_owned(),
        artifact_dir: dir.join("inspect"),
        chunking: ChunkingParams { min_seconds: 0.4, max_seconds: 0.8 },
        shot_detection: Default::default(),
        limits: Default::default(),
    };
    inspect_source(&params, &CancellationToken::new()).await.unwrap()
}

fn has_warning(report: &InspectReport, code: WarningCode) -> bool {
    report.warnings.iter().any(|warning| warning.code == code)
}

/// The fixed ladder for the inspected (displayed) size, plus a rung at half that size so two
/// rungs are always checked.
fn ladder(report: &InspectReport, codec: Codec) -> Vec<Rung> {
    let video = &report.source.video;
    let source = LadderSource { width: video.width, height: video.height, sample_aspect_num: video.sample_aspect_ratio.num, sample_aspect_den: video.sample_aspect_ratio.den };
    let mut rungs = default_ladder(&source, codec).unwrap();
    let top = rungs[0].clone();
    rungs.push(Rung { name: "half".into(), width: top.width / 2 / 2 * 2, height: top.height / 2 / 2 * 2, bitrate_kbps: top.bitrate_kbps / 3, maxrate_kbps: top.maxrate_kbps / 3, bufsize_kbps: top.bufsize_kbps / 3, ..top });
    rungs
}

/// Encodes every chunk into every rung, assembles each rung and validates it against the
/// source's fingerprints; returns the renditions, in rung order.
async fn renditions(source: &Path, report: &InspectReport, rungs: &[Rung], dir: &Path) -> Vec<PathBuf> {
    let backend = CpuBackend::new(&probe_capabilities(&CancellationToken::new()).await.unwrap());
    let mut chunks = vec![Vec::new(); rungs.len()];
    for chunk in &report.chunks {
        let outputs = rungs.iter().map(|rung| ChunkOutput { rung: rung.clone(), path: dir.join(&rung.name).join(format!("{:04}.mp4", chunk.index)) }).collect();
        let params = EncodeChunkParams {
            source: source.to_owned(),
            chunk: chunk.clone(),
            frame_rate: report.source.video.frame_rate,
            outputs,
            settings: EncoderSettings { preset: "ultrafast".to_owned(), keyframe_interval_frames: 10 },
            picture: report.source.video.picture,
        };
        let result = backend.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
        for (index, output) in result.outputs.into_iter().enumerate() {
            chunks[index].push(output.path);
        }
    }
    let mut assembled = Vec::new();
    for (rung, paths) in rungs.iter().zip(chunks) {
        let output = dir.join(format!("{}.mp4", rung.name));
        assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: paths, output: output.clone() }, &CancellationToken::new()).await.unwrap();
        let validation = validate_rendition(
            &ValidateParams { rung: rung.clone(), rendition: output.clone(), source_frames: report.frame_artifact.clone(), frame_rate: report.source.video.frame_rate, tolerance: None },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(validation.frames, report.source.video.frames, "{}", rung.name);
        assert_eq!(common::frame_count(&output), common::frame_count(source), "rendition {} against the source's decoded frames", rung.name);
        assembled.push(output);
    }
    assembled
}

/// VMAF of the first chunk that seeks (else the first) of `rung`, encoded under `dir`.
fn score_first_chunk(source: &Path, report: &InspectReport, rung: &Rung, dir: &Path) -> f64 {
    let chunk = report.chunks.iter().find(|chunk| chunk.seek.is_some()).unwrap_or(&report.chunks[0]).clone();
    let encoded = dir.join(&rung.name).join(format!("{:04}.mp4", chunk.index));
    let params = ScoreParams {
        programs: FfmpegPrograms::on_path(),
        range: SourceRange {
            source: source.to_owned(),
            chunk,
            frame_rate: report.source.video.frame_rate,
            picture: report.source.video.picture,
            use_seek: true,
            boundary_file: dir.join("boundary.gray"),
        },
        encoded,
        backend: BackendRequest::Cpu,
    };
    score_chunk(&params, &Arc::new(AtomicU64::new(0)), &CancellationToken::new()).unwrap().quality.stats.vmaf_mean
}

#[tokio::test]
async fn a_rotated_phone_video_comes_out_upright_in_portrait_rungs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Stored 320x240, shown turned a quarter: 240x320 on screen.
    let source = common::rotated(root, "phone.mp4", "320x240", 2.0, 90);
    let report = inspect(&source, root).await;
    let video = &report.source.video;
    assert_eq!((video.width, video.height), (240, 320), "the facts give the displayed size");
    assert_eq!(video.picture.rotation, 90);
    assert!(has_warning(&report, WarningCode::Rotated), "{:?}", report.warnings);
    let rungs = ladder(&report, Codec::H264);
    assert_eq!(rungs.iter().map(|rung| (rung.width, rung.height)).collect::<Vec<_>>(), vec![(240, 320), (120, 160)], "portrait rungs");
    let outputs = renditions(&source, &report, &rungs, &root.join("out")).await;
    for (rung, output) in rungs.iter().zip(&outputs) {
        let stream = common::video_stream_json(output);
        assert_eq!((stream["width"].as_u64(), stream["height"].as_u64()), (Some(u64::from(rung.width)), Some(u64::from(rung.height))));
        assert!(stream.get("side_data_list").is_none_or(|list| list.as_array().unwrap().iter().all(|entry| entry["rotation"].as_i64().unwrap_or(0) == 0)), "no display matrix turns the rendition again: {stream}");
        // Upright: the rendition's pictures are ffmpeg's own autorotated source pictures, not
        // the stored ones stretched.
        let shown = common::gray_frames(&source, &[], "", rung.width, rung.height, 10);
        let stored = common::gray_frames(&source, &["-noautorotate"], "", rung.width, rung.height, 10);
        let rendered = common::gray_frames(output, &[], "", rung.width, rung.height, 10);
        assert_eq!(rendered.len(), 10);
        for ((rendered, shown), stored) in rendered.iter().zip(&shown).zip(&stored) {
            let (to_shown, to_stored) = (common::mean_abs_difference(rendered, shown), common::mean_abs_difference(rendered, stored));
            assert!(to_shown < 6.0 && to_shown * 3.0 < to_stored, "rendition {}: {to_shown:.2} from the upright source, {to_stored:.2} from the stored picture", rung.name);
        }
    }
    // Scoring compares the turned reference with the chunk: a like picture scores high.
    let vmaf = score_first_chunk(&source, &report, &rungs[0], &root.join("out"));
    assert!(vmaf > 70.0, "vmaf {vmaf:.1} of an upright chunk against the turned source");
}

#[tokio::test]
async fn an_interlaced_source_is_deinterlaced_with_a_warning_and_a_progressive_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let progressive = common::pattern(root, "progressive.mp4", "320x240", 25, 1.0);
    let progressive_report = inspect(&progressive, &root.join("p")).await;
    assert_eq!(progressive_report.source.video.picture.deinterlace, None);
    assert!(!has_warning(&progressive_report, WarningCode::Interlaced), "{:?}", progressive_report.warnings);

    let source = common::interlaced(root, "interlaced.mp4", "320x240", 2.0);
    let report = inspect(&source, root).await;
    assert_eq!(report.source.video.picture.deinterlace, Some(FieldOrder::TopFirst));
    assert!(has_warning(&report, WarningCode::Interlaced), "{:?}", report.warnings);
    assert_eq!(report.source.video.frames, 50, "one frame per stored frame (bwdif send_frame)");
    let rungs = ladder(&report, Codec::H264);
    let outputs = renditions(&source, &report, &rungs, &root.join("out")).await;
    for (rung, output) in rungs.iter().zip(&outputs) {
        let stream = common::video_stream_json(output);
        assert_eq!(stream["field_order"].as_str(), Some("progressive"), "rendition {}: {stream}", rung.name);
        // The pictures are the source deinterlaced (by ffmpeg's own bwdif), not its woven fields.
        let deinterlaced = common::gray_frames(&source, &[], "bwdif=mode=send_frame:parity=tff:deint=all", rung.width, rung.height, 10);
        let woven = common::gray_frames(&source, &[], "", rung.width, rung.height, 10);
        let rendered = common::gray_frames(output, &[], "", rung.width, rung.height, 10);
        let to_deinterlaced: f64 = rendered.iter().zip(&deinterlaced).map(|(a, b)| common::mean_abs_difference(a, b)).sum();
        let to_woven: f64 = rendered.iter().zip(&woven).map(|(a, b)| common::mean_abs_difference(a, b)).sum();
        assert!(to_deinterlaced < to_woven, "rendition {}: {to_deinterlaced:.2} from the deinterlaced source, {to_woven:.2} from the woven fields", rung.name);
    }
}
