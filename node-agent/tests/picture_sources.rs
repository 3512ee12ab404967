//! Sources people actually have — rotated phone video, interlaced video, … — through inspect →
//! encode → assemble → validate (and score), every rendition judged frame by frame against the
//! source: the decoded frame count, fingerprints in order (each chunk's check, then the join
//! check of the assembled rendition), the display size and
//! orientation, pixel format and colour tags (ffprobe), and the picture itself against what
//! ffmpeg makes of the source on its own.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use shotfarm_agent::media::assemble::{AssembleParams, assemble_rendition};
use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunk_check::{ChunkCheckParams, check_chunk};
use shotfarm_agent::media::chunking::ChunkingParams;
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, EncodeBackend, EncodeChunkParams, EncoderSettings};
use shotfarm_agent::media::inspect::{InspectParams, InspectReport, WarningCode, inspect_source};
use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_agent::media::score::{ScoreParams, score_chunk};
use shotfarm_agent::media::source_colour::RungColour;
use shotfarm_agent::media::source_picture::FieldOrder;
use shotfarm_agent::media::source_range::SourceRange;
use shotfarm_agent::media::validate::{JoinedChunk, ValidateParams, validate_rendition};
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
        segments: Default::default(),
    };
    inspect_source(&params, &CancellationToken::new()).await.unwrap()
}

fn has_warning(report: &InspectReport, code: WarningCode) -> bool {
    report.warnings.iter().any(|warning| warning.code == code)
}

/// The fixed ladder for the inspected (displayed) size, its top and bottom rungs (or, for a
/// one-rung ladder, a rung at half its size), so two rungs are always checked.
fn ladder(report: &InspectReport, codec: Codec) -> Vec<Rung> {
    let video = &report.source.video;
    let source = LadderSource { width: video.width, height: video.height, sample_aspect_num: video.sample_aspect_ratio.num, sample_aspect_den: video.sample_aspect_ratio.den, frame_rate_num: video.frame_rate.num, frame_rate_den: video.frame_rate.den };
    let mut rungs: Vec<Rung> = default_ladder(&source, codec).unwrap().into_iter().map(|rung| Rung { name: format!("{}_{}", codec.as_str(), rung.name), ..rung }).collect();
    if rungs.len() >= 2 {
        rungs.drain(1..rungs.len() - 1);
        return rungs;
    }
    let top = rungs[0].clone();
    rungs.push(Rung { name: format!("{}_half", codec.as_str()), width: top.width / 2 / 2 * 2, height: top.height / 2 / 2 * 2, bitrate_kbps: top.bitrate_kbps / 3, maxrate_kbps: top.maxrate_kbps / 3, bufsize_kbps: top.bufsize_kbps / 3, ..top });
    rungs
}

fn tone_mapped(report: &InspectReport, rung: &Rung) -> bool {
    report.source.video.picture.colour.for_codec(rung.codec) == RungColour::ToneMappedToSdr
}

/// Encodes every chunk into every rung, checks each encoded chunk frame by frame against the
/// source's fingerprints, assembles each rung and validates the join; returns the renditions,
/// in rung order.
async fn renditions(source: &Path, report: &InspectReport, rungs: &[Rung], dir: &Path) -> Vec<PathBuf> {
    let backend = CpuBackend::new(&probe_capabilities(&CancellationToken::new()).await.unwrap());
    let mut chunks = vec![Vec::new(); rungs.len()];
    let mut verified: Vec<Vec<JoinedChunk>> = vec![Vec::new(); rungs.len()];
    for chunk in &report.chunks {
        let outputs = rungs.iter().map(|rung| ChunkOutput::new(rung.clone(), dir.join(&rung.name).join(format!("{:04}.mp4", chunk.index)))).collect();
        let params = EncodeChunkParams {
            source: source.to_owned(),
            chunk: chunk.clone(),
            frame_rate: report.source.video.frame_rate,
            outputs,
            settings: EncoderSettings { preset: "ultrafast".to_owned(), keyframe_interval_frames: 10 },
            picture: report.source.video.picture.clone(),
        };
        let result = backend.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
        for (index, output) in result.outputs.into_iter().enumerate() {
            let rung = &rungs[index];
            let check = ChunkCheckParams {
                rung: rung.name.clone(),
                codec: rung.codec,
                chunk: chunk.index,
                encoded: output.path.clone(),
                frames: chunk.frames,
                source_frames: report.frame_artifact.clone(),
                source_frames_within: Default::default(),
                tone_mapped: tone_mapped(report, rung),
                tolerance: None,
            };
            let passed = check_chunk(&check, &CancellationToken::new()).await.unwrap_or_else(|error| panic!("{error}"));
            // Every frame is its own source frame's picture, closely (compression moves block
            // means by a few levels; the next frame of the moving pattern is tens of levels away).
            assert!(passed.max_fingerprint_distance < 6.0, "{} chunk {}: fingerprint distance up to {}", rung.name, chunk.index, passed.max_fingerprint_distance);
            println!("{} chunk {}: {} frames, fingerprint distance max {:.2} mean {:.2}", rung.name, chunk.index, passed.frames, passed.max_fingerprint_distance, passed.mean_fingerprint_distance);
            verified[index].push(common::joined_chunk(chunk.index, chunk.frames, passed));
            chunks[index].push(output.path);
        }
    }
    let mut assembled = Vec::new();
    for ((rung, paths), verified) in rungs.iter().zip(chunks).zip(verified) {
        let output = dir.join(format!("{}.mp4", rung.name));
        assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: paths, output: output.clone(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
        let validation = validate_rendition(
            &ValidateParams {
                rung: rung.clone(),
                rendition: output.clone(),
                source_frames: report.frame_artifact.clone(),
                source_frames_within: Default::default(),
                frame_rate: report.source.video.frame_rate,
                tolerance: None,
                tone_mapped: tone_mapped(report, rung),
                keeps_frame_times: false,
                chunks: verified,
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(validation.frames, report.source.video.frames, "{}", rung.name);
        assert!(validation.max_fingerprint_distance < 6.0, "{}: boundary fingerprint distance up to {}", rung.name, validation.max_fingerprint_distance);
        assert_eq!(common::frame_count(&output), common::frame_count(source), "rendition {} against the source's decoded frames", rung.name);
        assembled.push(output);
    }
    assembled
}

/// VMAF of the first chunk that seeks (else the first) of `rung`, encoded under `dir`, against
/// the source frames as the rung saw them (tone-mapped for a tone-mapped rung).
fn score_first_chunk(source: &Path, report: &InspectReport, rung: &Rung, dir: &Path) -> f64 {
    let chunk = report.chunks.iter().find(|chunk| chunk.seek.is_some()).unwrap_or(&report.chunks[0]).clone();
    let encoded = dir.join(&rung.name).join(format!("{:04}.mp4", chunk.index));
    let params = ScoreParams {
        programs: FfmpegPrograms::on_path(),
        range: SourceRange {
            source: source.to_owned(),
            chunk,
            frame_rate: report.source.video.frame_rate,
            picture: report.source.video.picture.clone(),
            tone_map: tone_mapped(report, rung),
            use_seek: true,
            boundary_file: dir.join("boundary.gray"),
        },
        encoded: vec![encoded],
        backend: BackendRequest::Cpu,
    };
    score_chunk(&params, &Arc::new(AtomicU64::new(0)), &CancellationToken::new()).unwrap()[0].quality.stats.vmaf_mean
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
    assert_eq!(rungs.iter().map(|rung| (rung.width, rung.height)).collect::<Vec<_>>(), vec![(240, 320), (144, 192)], "portrait rungs");
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

    // Interlaced and turned: the fields are the stored rows, deinterlaced before the turn.
    let turned = root.join("interlaced-turned.mp4");
    common::ffmpeg(&["-i", source.to_str().unwrap(), "-c", "copy", "-metadata:s:v", "rotate=90", turned.to_str().unwrap()]);
    let report = inspect(&turned, &root.join("turned")).await;
    let video = &report.source.video;
    assert_eq!((video.width, video.height, video.picture.rotation, video.picture.deinterlace), (240, 320, 90, Some(FieldOrder::TopFirst)));
    let rungs = ladder(&report, Codec::H264);
    let outputs = renditions(&turned, &report, &rungs, &root.join("turned-out")).await;
    let rung = &rungs[0];
    let expected = common::gray_frames(&turned, &["-noautorotate"], "bwdif=mode=send_frame:parity=tff:deint=all,transpose=cclock", rung.width, rung.height, 10);
    let turned_then_deinterlaced = common::gray_frames(&turned, &[], "bwdif=mode=send_frame:parity=tff:deint=all", rung.width, rung.height, 10);
    let rendered = common::gray_frames(&outputs[0], &[], "", rung.width, rung.height, 10);
    let to_expected: f64 = rendered.iter().zip(&expected).map(|(a, b)| common::mean_abs_difference(a, b)).sum();
    let to_wrong_order: f64 = rendered.iter().zip(&turned_then_deinterlaced).map(|(a, b)| common::mean_abs_difference(a, b)).sum();
    assert!(to_expected < to_wrong_order, "{to_expected:.2} from deinterlace-then-turn, {to_wrong_order:.2} from turn-then-deinterlace");
}

/// Synthesises `name` with ffmpeg from `args` (inputs and options; the path is appended).
fn synthesise(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut all = args.to_vec();
    all.push(path.to_str().unwrap());
    common::ffmpeg(&all);
    path
}

/// Inspects `source` and runs the top rung of its fitted H.264 ladder through encode,
/// assemble and validate (the cases using this are about the source, not the scaling).
async fn through_the_ladder(source: &Path, dir: &Path) -> (InspectReport, Vec<Rung>, Vec<PathBuf>) {
    let report = inspect(source, dir).await;
    let rungs = ladder(&report, Codec::H264)[..1].to_vec();
    let outputs = renditions(source, &report, &rungs, &dir.join("out")).await;
    (report, rungs, outputs)
}

fn assert_rendition(output: &Path, rung: &Rung, pix_fmt: &str) {
    let stream = common::video_stream_json(output);
    assert_eq!((stream["width"].as_u64(), stream["height"].as_u64()), (Some(u64::from(rung.width)), Some(u64::from(rung.height))), "{stream}");
    assert_eq!(stream["pix_fmt"].as_str(), Some(pix_fmt), "rendition {}: {stream}", rung.name);
}

#[tokio::test]
async fn chroma_422_and_444_sources_and_odd_sizes_come_out_420() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pattern = "testsrc2=s=256x144:r=25:d=1";
    let sources = [
        ("422.mp4", vec!["-f", "lavfi", "-i", pattern, "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv422p"], (256, 144)),
        ("444-10bit.mp4", vec!["-f", "lavfi", "-i", pattern, "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv444p10le"], (256, 144)),
        ("odd-444.mp4", vec!["-f", "lavfi", "-i", pattern, "-vf", "scale=257:145", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv444p"], (257, 145)),
        ("odd-420.mkv", vec!["-f", "lavfi", "-i", pattern, "-vf", "scale=257:145,format=yuv420p", "-c:v", "ffv1"], (257, 145)),
    ];
    for (name, args, size) in sources {
        let source = synthesise(root, name, &args);
        let dir = root.join(name.replace('.', "-"));
        let (report, rungs, outputs) = through_the_ladder(&source, &dir).await;
        assert_eq!((report.source.video.width, report.source.video.height), size, "{name}");
        assert_eq!(has_warning(&report, WarningCode::OddDimensions), size.0 % 2 == 1, "{name}: {:?}", report.warnings);
        for (rung, output) in rungs.iter().zip(&outputs) {
            assert!(rung.width % 2 == 0 && rung.height % 2 == 0, "{name}: {rung:?}");
            assert_rendition(output, rung, "yuv420p");
        }
        let vmaf = score_first_chunk(&source, &report, &rungs[0], &dir.join("out"));
        assert!(vmaf > 60.0, "{name}: vmaf {vmaf:.1}");
    }
}

#[tokio::test]
async fn the_default_video_stream_is_the_one_encoded_and_the_report_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Stream 0: a 320x240 pattern; stream 1, marked default: a different 256x144 picture.
    let source = synthesise(
        root,
        "two-videos.mkv",
        &[
            "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=1", "-f", "lavfi", "-i", "testsrc=s=256x144:r=25:d=1,hue=h=120",
            "-map", "0:v", "-map", "1:v", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
            "-disposition:v:0", "0", "-disposition:v:1", "default",
        ],
    );
    let (report, rungs, outputs) = through_the_ladder(&source, root).await;
    let video = &report.source.video;
    assert_eq!((video.stream_index, video.picture.stream_index, video.width, video.height), (1, Some(1), 256, 144));
    let warning = report.warnings.iter().find(|warning| warning.code == WarningCode::SeveralVideoStreams).expect("a warning names the stream used");
    assert!(warning.message.contains("using stream 1") && warning.message.contains("default"), "{}", warning.message);
    // Validation matched every frame's fingerprint to stream 1's; the pictures are stream 1's.
    for (rung, output) in rungs.iter().zip(&outputs) {
        let chosen_by_map = gray_frames_of_stream(&source, "0:1", rung.width, rung.height);
        let other = gray_frames_of_stream(&source, "0:0", rung.width, rung.height);
        let rendered = common::gray_frames(output, &[], "", rung.width, rung.height, 1);
        let (to_chosen, to_other) = (common::mean_abs_difference(&rendered[0], &chosen_by_map), common::mean_abs_difference(&rendered[0], &other));
        assert!(to_chosen * 3.0 < to_other, "rendition {}: {to_chosen:.2} from stream 1, {to_other:.2} from stream 0", rung.name);
    }
}

/// The first frame of stream `map` of `path`, gray at `width`x`height`.
fn gray_frames_of_stream(path: &Path, map: &str, width: u32, height: u32) -> Vec<u8> {
    let output = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", map, "-vf", &format!("scale={width}:{height}:flags=bicubic"), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[tokio::test]
async fn late_and_negative_start_times_and_open_gops_stay_frame_exact() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pattern = "testsrc2=s=256x144:r=25:d=1.6";
    let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-bf", "3", "-pix_fmt", "yuv420p"];
    let sources = [
        // Starts 10 s in; B-frames, so the first timestamps are decode-before-presentation.
        ("offset.ts", [&["-f", "lavfi", "-i", pattern][..], &x264, &["-output_ts_offset", "10"]].concat()),
        ("offset.mp4", [&["-f", "lavfi", "-i", pattern][..], &x264, &["-output_ts_offset", "10"]].concat()),
        // B-frames in mp4: an edit list and a negative first decode time.
        ("bframes.mp4", [&["-f", "lavfi", "-i", pattern][..], &x264].concat()),
        // Open GOPs: leading B-frames after each keyframe refer back across it.
        ("open-gop.ts", [&["-f", "lavfi", "-i", pattern][..], &x264, &["-x264-params", "open-gop=1:scenecut=0"]].concat()),
    ];
    for (name, args) in sources {
        let source = synthesise(root, name, &args);
        let (report, rungs, outputs) = through_the_ladder(&source, &root.join(name.replace('.', "-"))).await;
        assert_eq!(report.source.video.frames, 40, "{name}: every decoded frame");
        assert!(report.chunks.iter().any(|chunk| chunk.seek.is_some()), "{name}: a chunk that seeks: {:?}", report.chunks);
        for (rung, output) in rungs.iter().zip(&outputs) {
            assert_rendition(output, rung, "yuv420p");
            // The rendition's first picture is the source's first displayed one.
            let first_source = common::gray_frames(&source, &[], "", rung.width, rung.height, 1);
            let first_rendered = common::gray_frames(output, &[], "", rung.width, rung.height, 1);
            let difference = common::mean_abs_difference(&first_source[0], &first_rendered[0]);
            assert!(difference < 6.0, "{name} {}: the first frame differs by {difference:.2}", rung.name);
        }
    }
}

#[tokio::test]
async fn ntsc_rates_keep_their_exact_rational_rate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (rate, frames) in [("24000/1001", 24), ("30000/1001", 30), ("60000/1001", 60)] {
        let name = format!("ntsc-{}.mp4", rate.replace('/', "-"));
        let source = synthesise(root, &name, &["-f", "lavfi", "-i", &format!("testsrc2=s=192x108:r={rate}"), "-frames:v", &frames.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-pix_fmt", "yuv420p"]);
        let (report, rungs, outputs) = through_the_ladder(&source, &root.join(name.replace('.', "-"))).await;
        assert_eq!(report.source.video.frame_rate.to_string(), rate);
        assert_eq!(report.source.video.frames, frames);
        for (rung, output) in rungs.iter().zip(&outputs) {
            let stream = common::video_stream_json(output);
            assert_eq!(stream["r_frame_rate"].as_str(), Some(rate), "rendition {}: {stream}", rung.name);
        }
    }
}

/// The first frame's side data of `path`'s video, as ffprobe prints it (JSON).
fn first_frame_side_data(path: &Path) -> serde_json::Value {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-read_intervals", "%+#1", "-select_streams", "v:0", "-show_entries", "frame_side_data", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    value["frames"][0]["side_data_list"].take()
}

#[tokio::test]
async fn ten_bit_and_hdr_sources_stay_ten_bit_in_hevc_and_av1_and_are_tone_mapped_for_h264() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sources = [
        ("hdr10.mp4", common::hdr_hevc(root, "hdr10.mp4", "256x144", 1.0, "smpte2084"), Some("smpte2084")),
        ("hlg.mp4", common::hdr_hevc(root, "hlg.mp4", "256x144", 1.0, "arib-std-b67"), Some("arib-std-b67")),
        (
            "sdr-10bit.mp4",
            synthesise(root, "sdr-10bit.mp4", &["-f", "lavfi", "-i", "testsrc2=s=256x144:r=25:d=1", "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error:keyint=10"]),
            None,
        ),
    ];
    for (name, source, hdr_transfer) in sources {
        let dir = root.join(name.replace('.', "-"));
        let report = inspect(&source, &dir).await;
        let colour = &report.source.video.picture.colour;
        assert_eq!((colour.bit_depth, colour.transfer.as_deref()), (10, hdr_transfer), "{name}: {colour:?}");
        assert_eq!(has_warning(&report, WarningCode::HighDynamicRange), hdr_transfer.is_some(), "{name}: {:?}", report.warnings);
        assert_eq!(has_warning(&report, WarningCode::HighBitDepth), hdr_transfer.is_none(), "{name}: {:?}", report.warnings);
        if name == "hdr10.mp4" {
            let light = colour.content_light.unwrap();
            assert_eq!((light.max_content, light.max_average), (1000, 400));
            let display = colour.mastering_display.unwrap();
            assert_eq!((display.red, display.max_luminance), ((0.68, 0.32), 1000.0));
        }
        // AV1 for HDR10 only: SVT-AV1 is the slowest encoder here.
        let codecs: &[Codec] = if name == "hdr10.mp4" { &[Codec::H264, Codec::Hevc, Codec::Av1] } else { &[Codec::H264, Codec::Hevc] };
        let rungs: Vec<Rung> = codecs.iter().flat_map(|&codec| ladder(&report, codec)).collect();
        let outputs = renditions(&source, &report, &rungs, &dir.join("out")).await;
        for (rung, output) in rungs.iter().zip(&outputs) {
            let stream = common::video_stream_json(output);
            let tag = |field: &str| stream[field].as_str().unwrap_or("").to_owned();
            let found = [tag("pix_fmt"), tag("color_primaries"), tag("color_transfer"), tag("color_space")];
            let expected = match (rung.codec, hdr_transfer) {
                (Codec::H264, Some(_)) => ["yuv420p", "bt709", "bt709", "bt709"],
                (Codec::H264, None) => ["yuv420p", "", "", ""],
                (_, Some(transfer)) => ["yuv420p10le", "bt2020", transfer, "bt2020nc"],
                (_, None) => ["yuv420p10le", "", "", ""],
            };
            assert_eq!(found, expected, "{name} {}: {stream}", rung.name);
            let side_data = first_frame_side_data(output).to_string();
            let carries_hdr10 = side_data.contains("Mastering display metadata") && side_data.contains("\"max_content\":1000");
            assert_eq!(carries_hdr10, name == "hdr10.mp4" && rung.codec != Codec::H264, "{name} {}: {side_data}", rung.name);
        }
        // Like with like: the tone-mapped H.264 rung against the tone-mapped source, the 10-bit
        // HEVC rung against the 10-bit source.
        for rung in [&rungs[0], &rungs[2]] {
            let vmaf = score_first_chunk(&source, &report, rung, &dir.join("out"));
            assert!(vmaf > 60.0, "{name} {}: vmaf {vmaf:.1}", rung.name);
        }
    }
}
