//! inspect → chunk → encode → assemble → validate → package on real files, with every
//! rendition checked frame by frame against the source; and the faults validation must catch.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use shotfarm_agent::media::artifacts::FrameArtifact;
use shotfarm_agent::media::assemble::{AssembleParams, assemble_rendition};
use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunking::FrameRange;
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, DecodeStart, EncodeBackend, EncodeChunkParams, EncoderSettings};
use common::ladder::inspect;
use shotfarm_agent::media::inspect::{Chunk, InspectReport};
use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_agent::media::package::{AudioPackaging, PackageParams, PackageRendition, package_ladder};
use shotfarm_agent::media::validate::{ValidateParams, validate_rendition};
use tokio_util::sync::CancellationToken;

fn settings() -> EncoderSettings {
    EncoderSettings { preset: "ultrafast".to_owned(), keyframe_interval_frames: 12 }
}

async fn backend() -> CpuBackend {
    CpuBackend::new(&probe_capabilities(&CancellationToken::new()).await.unwrap())
}

/// Encodes every chunk into every rung (one call per chunk); returns chunk paths per rung.
async fn encode_all(backend: &CpuBackend, source: &Path, report: &InspectReport, rungs: &[Rung], dir: &Path) -> Vec<Vec<PathBuf>> {
    let mut per_rung = vec![Vec::new(); rungs.len()];
    for chunk in &report.chunks {
        let outputs: Vec<ChunkOutput> = rungs
            .iter()
            .map(|rung| ChunkOutput::new(rung.clone(), dir.join(&rung.name).join(format!("chunk-{:04}.mp4", chunk.index))))
            .collect();
        let params = EncodeChunkParams { source: source.to_owned(), chunk: chunk.clone(), frame_rate: report.source.video.frame_rate, outputs, settings: settings(), picture: report.source.video.picture.clone() };
        let result = backend.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
        if chunk.seek.is_some() {
            assert!(matches!(result.decode_start, DecodeStart::Seek { .. }), "chunk {} should have seeked: {:?}", chunk.index, result.decode_start);
        }
        for (index, output) in result.outputs.iter().enumerate() {
            assert_eq!(output.frames, chunk.frames.len());
            per_rung[index].push(output.path.clone());
        }
    }
    per_rung
}

#[tokio::test]
async fn every_rendition_has_exactly_the_source_frames() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 480, 270, 1.4, true);
    let report = inspect(&source, root).await;
    assert!(report.chunks.len() >= 3, "{:?}", report.chunks);
    let rate = report.source.video.frame_rate;
    let ladder_source = LadderSource { frame_rate_num: rate.num, frame_rate_den: rate.den, ..LadderSource::square(480, 270) };
    let rungs = default_ladder(&ladder_source, Codec::H264).unwrap();
    // The source's own size on top, and three rungs for a source of 240 lines or more.
    assert_eq!(rungs.iter().map(|rung| (rung.name.as_str(), rung.width, rung.height)).collect::<Vec<_>>(), vec![("270p", 480, 270), ("198p", 352, 198), ("144p", 256, 144)]);
    let backend = backend().await;
    let chunks = encode_all(&backend, &source, &report, &rungs, &root.join("chunks")).await;
    let mut packaged = Vec::new();
    for (rung, chunk_paths) in rungs.iter().zip(chunks) {
        let assembled = root.join("assembled").join(format!("{}.mp4", rung.name));
        let assembly = assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: chunk_paths, output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(assembly.frames, report.source.video.frames);
        let validation = validate_rendition(
            &ValidateParams { rung: rung.clone(), rendition: assembled.clone(), source_frames: report.frame_artifact.clone(), source_frames_within: Default::default(), frame_rate: report.source.video.frame_rate, tolerance: None, tone_mapped: false, keeps_frame_times: false },
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(validation.frames, report.source.video.frames);
        assert_eq!((validation.width, validation.height), (rung.width, rung.height));
        packaged.push(PackageRendition { rung: rung.clone(), path: assembled });
    }
    assert!(report.source.audio.is_some(), "the source has audio");
    let out = root.join("out");
    let result = package_ladder(
        &PackageParams {
            output_dir: out.clone(),
            renditions: packaged,
            frame_rate: report.source.video.frame_rate,
            frames: report.source.video.frames,
            audio: Some(AudioPackaging { source: source.clone(), bitrate_kbps: 96, segment_seconds: 4.0 }),
            subtitles_source: None,
            media_folder: String::new(),
            thumbnails: None,
            protection: None,
        },
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    for needle in ["BANDWIDTH=", "AVERAGE-BANDWIDTH=", "RESOLUTION=480x270", "RESOLUTION=352x198", "RESOLUTION=256x144", "CODECS=\"avc1.", "mp4a.40.2", "FRAME-RATE=25.000", "270p/playlist.m3u8"] {
        assert!(master.contains(needle), "master lacks {needle}:\n{master}");
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(mpd.contains("<SegmentTimeline>") && mpd.contains("contentType=\"audio\""), "{mpd}");
    assert!(out.join("270p/init.mp4").is_file() && out.join("audio/a0/playlist.m3u8").is_file());
    assert!(result.audio_video_offset_seconds.unwrap().abs() < 0.15);
    // Segments are aligned: same count in every rung, and each segment starts with a keyframe.
    assert!(result.renditions.iter().all(|rendition| rendition.segments == result.renditions[0].segments));
    assert!(result.renditions[0].segments > report.chunks.len());

    // The packaged HLS rendition, decoded as a player would, still has exactly the source frames.
    let hls_frames = common::frame_count(&out.join("144p/playlist.m3u8"));
    assert_eq!(hls_frames, report.source.video.frames);
}

#[tokio::test]
async fn a_seek_that_lands_on_the_wrong_frame_falls_back_to_decoding_from_frame_0() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 320, 180, 1.4, false);
    let report = inspect(&source, root).await;
    let mut chunk = report.chunks.iter().find(|chunk| chunk.seek.is_some()).expect("a chunk that seeks").clone();
    // The recorded time of the keyframe is one GOP late: the decode starts 12 frames after
    // the keyframe the indices count from, so the chunk's first frame is not where it seems.
    let rate = report.source.video.frame_rate;
    let seek = chunk.seek.as_mut().unwrap();
    seek.seconds += 12.0 * f64::from(rate.den) / f64::from(rate.num);
    let rung = Rung { name: "144p".into(), width: 256, height: 144, codec: Codec::H264, bitrate_kbps: 200, maxrate_kbps: 300, bufsize_kbps: 400 };
    let output = root.join("chunk.mp4");
    let params = EncodeChunkParams { source: source.clone(), chunk: chunk.clone(), frame_rate: rate, outputs: vec![ChunkOutput::new(rung, output.clone())], settings: settings(), picture: report.source.video.picture.clone() };
    let result = backend().await.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
    assert!(matches!(result.decode_start, DecodeStart::FellBackToStart { .. }), "{:?}", result.decode_start);
    assert_eq!(result.outputs[0].frames, chunk.frames.len());
    assert_eq!(common::frame_count(&output), chunk.frames.len());
}

/// Encodes `ranges` of the source (possibly faulty) as chunks of one rung, assembles them in
/// the given order, and validates.
async fn validate_faulty(source: &Path, report: &InspectReport, ranges: &[FrameRange], dir: &Path) -> Result<(), String> {
    let artifact = FrameArtifact::read(&report.frame_artifact).await.unwrap();
    let rung = Rung { name: "144p".into(), width: 256, height: 144, codec: Codec::H264, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 };
    let backend = backend().await;
    let mut paths = Vec::new();
    for (index, range) in ranges.iter().enumerate() {
        let chunk = Chunk {
            index: index as u32,
            frames: *range,
            seek: None,
            first_fingerprint: artifact.frames[range.start as usize].fingerprint.clone(),
            last_fingerprint: artifact.frames[range.end as usize - 1].fingerprint.clone(),
            span_us: None,
        };
        let path = dir.join(format!("c{index}.mp4"));
        let params = EncodeChunkParams {
            source: source.to_owned(),
            chunk,
            frame_rate: report.source.video.frame_rate,
            outputs: vec![ChunkOutput::new(rung.clone(), path.clone())],
            settings: settings(),
            picture: report.source.video.picture.clone(),
        };
        backend.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
        paths.push(path);
    }
    let assembled = dir.join("assembled.mp4");
    assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: paths, output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
    validate_rendition(
        &ValidateParams { rung, rendition: assembled, source_frames: report.frame_artifact.clone(), source_frames_within: Default::default(), frame_rate: report.source.video.frame_rate, tolerance: None, tone_mapped: false, keeps_frame_times: false },
        &CancellationToken::new(),
    )
    .await
    .map(|_| ())
    .map_err(|error| error.to_string())
}

#[tokio::test]
async fn validation_catches_dropped_duplicated_and_reordered_frames_at_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 256, 144, 1.0, false);
    let report = inspect(&source, root).await;
    let total = report.source.video.frames;
    let range = |start, end| FrameRange { start, end };

    // The control: correct chunks pass.
    let control = root.join("control");
    validate_faulty(&source, &report, &[range(0, 40), range(40, total)], &control).await.unwrap();

    // Frame 20 (inside the moving first shot) dropped at a chunk boundary.
    let error = validate_faulty(&source, &report, &[range(0, 20), range(21, total)], &root.join("dropped")).await.unwrap_err();
    assert!(error.contains("output frame 20 should be source frame 20") && error.contains("source frame 21"), "{error}");

    // Frame 19 encoded twice: the second chunk starts one early.
    let error = validate_faulty(&source, &report, &[range(0, 20), range(19, total - 1)], &root.join("duplicated")).await.unwrap_err();
    assert!(error.contains("output frame 20") && error.contains("source frame 19 again"), "{error}");

    // Two chunks assembled in the wrong order.
    let error = validate_faulty(&source, &report, &[range(0, 20), range(30, 40), range(20, 30), range(40, total)], &root.join("reordered"))
        .await
        .unwrap_err();
    assert!(error.contains("output frame 20 should be source frame 20"), "{error}");
}

#[tokio::test]
async fn sources_without_timestamps_encode_frame_exactly_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mp4 = common::three_shots(root, "s.mp4", 160, 90, 0.6, false);
    let raw = root.join("raw.h264");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", raw.to_str().unwrap()]);
    let report = inspect(&raw, root).await;
    assert!(report.chunks.iter().all(|chunk| chunk.seek.is_none()));
    let rungs = default_ladder(&LadderSource::square(160, 90), Codec::H264).unwrap();
    let backend = backend().await;
    let chunks = encode_all(&backend, &raw, &report, &rungs, &root.join("chunks")).await;
    let assembled = root.join("a.mp4");
    assemble_rendition(&AssembleParams { rung: rungs[0].name.clone(), chunks: chunks[0].clone(), output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
    let validation = validate_rendition(
        &ValidateParams { rung: rungs[0].clone(), rendition: assembled, source_frames: report.frame_artifact.clone(), source_frames_within: Default::default(), frame_rate: report.source.video.frame_rate, tolerance: None, tone_mapped: false, keeps_frame_times: false },
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(validation.frames, report.source.video.frames);
}

/// `width`, `height` and `sample_aspect_ratio` of the first video stream of `path`.
fn stored_shape(path: &Path) -> (u32, u32, String) {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,sample_aspect_ratio", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let fields: Vec<&str> = text.split(',').collect();
    (fields[0].parse().unwrap(), fields[1].parse().unwrap(), fields.get(2).copied().unwrap_or("").to_owned())
}

#[tokio::test]
async fn an_anamorphic_source_comes_out_in_square_pixels_at_its_display_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 360x240 stored, shown 16:9 (SAR 32:27): 427x240 on screen, like a 16:9 DVD.
    let source = common::anamorphic(root, "anamorphic.mp4", "360x240", "32/27", 0.4);
    let report = inspect(&source, root).await;
    let video = &report.source.video;
    assert_eq!((video.sample_aspect_ratio.num, video.sample_aspect_ratio.den), (32, 27));
    let ladder_source = LadderSource {
        width: video.width,
        height: video.height,
        sample_aspect_num: video.sample_aspect_ratio.num,
        sample_aspect_den: video.sample_aspect_ratio.den,
        frame_rate_num: video.frame_rate.num,
        frame_rate_den: video.frame_rate.den,
    };
    let rungs = default_ladder(&ladder_source, Codec::H264).unwrap();
    let backend = backend().await;
    let chunks = encode_all(&backend, &source, &report, &rungs, &root.join("chunks")).await;
    let mut shapes = Vec::new();
    for (rung, chunk_paths) in rungs.iter().zip(chunks) {
        let assembled = root.join(format!("{}.mp4", rung.name));
        assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: chunk_paths, output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
        assert_eq!(common::frame_count(&assembled), video.frames);
        shapes.push(stored_shape(&assembled));
    }
    // Square pixels at 16:9: what a player shows is what the source showed.
    assert_eq!(shapes, vec![(426, 240, "1:1".to_owned()), (330, 186, "1:1".to_owned()), (256, 144, "1:1".to_owned())]);
}

#[tokio::test]
async fn variable_rate_and_odd_timestamps_come_out_frame_exact_in_every_rung() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // (source, whether its renditions keep the source's frame times): a variable rate with
    // usable timestamps keeps them; pairs of frames at one time cannot, and are retimed.
    let sources = [
        (common::vfr_avi_with_skip_frames(root, "skips.avi", "320x240", 3.0), true),
        (common::retimed(root, "jitter.mp4", "320x240", 2.4, common::JITTERED_PTS), true),
        (common::retimed(root, "repeated.mkv", "320x240", 0.6, common::REPEATED_PTS), false),
    ];
    let backend = backend().await;
    for (source, keeps_times) in &sources {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let work = root.join(&name);
        let report = inspect(source, &work).await;
        let video = &report.source.video;
        assert_eq!(video.frames, common::frame_count(source), "{name}");
        assert_eq!(video.keeps_frame_times, *keeps_times, "{name}");
        let spans: Vec<u64> = report.chunks.iter().filter_map(|chunk| chunk.span_us).collect();
        if *keeps_times {
            assert!(report.chunks.len() >= 2 && spans.len() == report.chunks.len(), "{name}: {:?}", report.chunks);
        }
        let ladder_source = LadderSource { frame_rate_num: video.frame_rate.num, frame_rate_den: video.frame_rate.den, ..LadderSource::square(320, 240) };
        let rungs = default_ladder(&ladder_source, Codec::H264).unwrap();
        assert_eq!(rungs.iter().map(|rung| (rung.width, rung.height)).collect::<Vec<_>>(), vec![(320, 240), (248, 186), (192, 144)]);
        let chunks = encode_all(&backend, source, &report, &rungs, &work.join("chunks")).await;
        let source_times = common::frame_times(source);
        for (rung, chunk_paths) in rungs.iter().zip(chunks) {
            let assembled = work.join(format!("{}.mp4", rung.name));
            assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: chunk_paths, output: assembled.clone(), spans_us: spans.clone() }, &CancellationToken::new()).await.unwrap();
            // Every decoded source frame once, in order (validation compares fingerprints frame
            // by frame), each at its source time or at a constant rate.
            let validation = validate_rendition(
                &ValidateParams {
                    rung: rung.clone(),
                    rendition: assembled.clone(),
                    source_frames: report.frame_artifact.clone(),
                    source_frames_within: Default::default(),
                    frame_rate: video.frame_rate,
                    tolerance: None,
                    tone_mapped: false,
                    keeps_frame_times: video.keeps_frame_times,
                },
                &CancellationToken::new(),
            )
            .await
            .unwrap_or_else(|error| panic!("{name} {}: {error}", rung.name));
            assert_eq!((validation.frames, common::frame_count(&assembled)), (video.frames, video.frames), "{name} {}", rung.name);
            // Judged apart from validation: what a player reads from the file.
            let times = common::frame_times(&assembled);
            assert_eq!(times.len(), source_times.len(), "{name} {}", rung.name);
            let period = video.frame_rate.den as f64 / video.frame_rate.num as f64;
            for (index, (time, source_time)) in times.iter().zip(&source_times).enumerate() {
                let expected = if *keeps_times { source_time - source_times[0] } else { index as f64 * period };
                assert!((time - times[0] - expected).abs() < 0.001, "{name} {} frame {index}: shown at {time}, expected {expected}", rung.name);
            }
            // The rendition lasts as long as the source's video.
            let span = *keeps_times as u8 as f64 * (spans.iter().sum::<u64>() as f64 / 1e6) + (1 - *keeps_times as u8) as f64 * video.frames as f64 * period;
            assert!((video.duration_seconds - span).abs() < 0.002, "{name}: duration {} against span {span}", video.duration_seconds);
        }
    }
}
