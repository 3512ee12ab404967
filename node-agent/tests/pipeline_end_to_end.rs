//! inspect → chunk → encode (each chunk checked frame by frame against the source) →
//! assemble → validate (the join check) → package on real files; and the faults the two
//! halves of validation must catch: a frame dropped, duplicated or reordered inside a chunk or
//! at any chunk boundary, and a chunk encoded from the wrong frame range.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use shotfarm_agent::media::artifacts::FrameArtifact;
use shotfarm_agent::media::assemble::{AssembleParams, assemble_rendition};
use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunk_check::{ChunkCheckParams, check_chunk, check_chunk_renditions};
use shotfarm_agent::media::chunking::FrameRange;
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, DecodeStart, EncodeBackend, EncodeChunkParams, EncoderSettings};
use shotfarm_agent::media::frame_analysis::{decode_keyframe_fingerprint, decode_keyframe_fingerprints};
use shotfarm_agent::media::keyframe_seek::KeyframeSeek;
use common::ladder::inspect;
use shotfarm_agent::media::inspect::{Chunk, InspectReport};
use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_agent::media::mp4_samples::video_sample_locations;
use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_agent::media::package::{PackageParams, PackageRendition, package_ladder};
use shotfarm_agent::media::validate::{JoinedChunk, ValidateParams, ValidationReport, validate_rendition};
use tokio_util::sync::CancellationToken;

fn settings() -> EncoderSettings {
    EncoderSettings { preset: "ultrafast".to_owned(), keyframe_interval_frames: 12 }
}

async fn backend() -> CpuBackend {
    CpuBackend::new(&probe_capabilities(&CancellationToken::new()).await.unwrap())
}

/// What the chunk check of the encoded chunk at `path`, chunk `index` holding source frames
/// `frames` of rung `rung`, is asked.
fn check_params(report: &InspectReport, rung: &str, index: u32, frames: FrameRange, path: &Path) -> ChunkCheckParams {
    ChunkCheckParams {
        rung: rung.to_owned(),
        codec: Codec::H264,
        chunk: index,
        encoded: path.to_owned(),
        frames,
        source_frames: report.frame_artifact.clone(),
        source_frames_within: Default::default(),
        tone_mapped: false,
        tolerance: None,
    }
}

/// The chunk check of the encoded chunk at `path` as chunk `index` holding source frames
/// `frames` of rung `rung`, as the join check takes it.
async fn check(report: &InspectReport, rung: &str, index: u32, frames: FrameRange, path: &Path) -> Result<JoinedChunk, String> {
    let params = check_params(report, rung, index, frames, path);
    let verified = check_chunk(&params, &CancellationToken::new()).await.map_err(|error| error.to_string())?;
    assert_eq!(verified.frames, frames.len());
    Ok(common::joined_chunk(index, frames, verified))
}

/// The join check of `rendition` (made of `chunks`) against the source.
async fn validate(report: &InspectReport, rung: &Rung, rendition: &Path, chunks: Vec<JoinedChunk>) -> Result<ValidationReport, String> {
    let video = &report.source.video;
    let params = ValidateParams {
        rung: rung.clone(),
        rendition: rendition.to_owned(),
        source_frames: report.frame_artifact.clone(),
        source_frames_within: Default::default(),
        frame_rate: video.frame_rate,
        tolerance: None,
        tone_mapped: false,
        keeps_frame_times: video.keeps_frame_times,
        chunks,
    };
    validate_rendition(&params, &CancellationToken::new()).await.map_err(|error| error.to_string())
}

/// Encodes every chunk into every rung (one call per chunk), each output passing the chunk
/// check; returns chunk paths per rung and the verified chunks per rung.
async fn encode_all(backend: &CpuBackend, source: &Path, report: &InspectReport, rungs: &[Rung], dir: &Path) -> (Vec<Vec<PathBuf>>, Vec<Vec<JoinedChunk>>) {
    let mut per_rung = vec![Vec::new(); rungs.len()];
    let mut verified = vec![Vec::new(); rungs.len()];
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
            let joined = check(report, &rungs[index].name, chunk.index, chunk.frames, &output.path).await.unwrap_or_else(|error| panic!("chunk {}: {error}", chunk.index));
            verified[index].push(joined);
        }
    }
    (per_rung, verified)
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
    let (chunks, verified) = encode_all(&backend, &source, &report, &rungs, &root.join("chunks")).await;
    let mut packaged = Vec::new();
    for ((rung, chunk_paths), verified) in rungs.iter().zip(chunks).zip(verified) {
        let assembled = root.join("assembled").join(format!("{}.mp4", rung.name));
        let assembly = assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: chunk_paths, output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(assembly.frames, report.source.video.frames);
        let validation = validate(&report, rung, &assembled, verified).await.unwrap();
        assert_eq!(validation.frames, report.source.video.frames);
        assert_eq!((validation.width, validation.height), (rung.width, rung.height));
        // Only the frames around the chunk boundaries were decoded.
        assert!(validation.decoded_frames < validation.frames, "{validation:?}");
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
            audio: common::ladder::audio_packaging(&source, (report.source.video.frames, report.source.video.frame_rate), 4.0, &root.join("audio")).await,
            subtitles: Vec::new(),
            media_folder: String::new(),
            thumbnails: None,
            shot_starts: Vec::new(),
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

/// The rung of the fault tests.
fn fault_rung() -> Rung {
    Rung { name: "144p".into(), width: 256, height: 144, codec: Codec::H264, bitrate_kbps: 300, maxrate_kbps: 450, bufsize_kbps: 600 }
}

/// Encodes source frames `frames` (whatever the chunk should hold) as chunk `index` of the
/// fault rung into `path`.
async fn encode_range(source: &Path, report: &InspectReport, index: u32, frames: FrameRange, path: &Path) -> PathBuf {
    let artifact = FrameArtifact::read(&report.frame_artifact).await.unwrap();
    let chunk = Chunk {
        index,
        frames,
        seek: None,
        first_fingerprint: artifact.frames[frames.start as usize].fingerprint.clone(),
        last_fingerprint: artifact.frames[frames.end as usize - 1].fingerprint.clone(),
        span_us: None,
    };
    let params = EncodeChunkParams {
        source: source.to_owned(),
        chunk,
        frame_rate: report.source.video.frame_rate,
        outputs: vec![ChunkOutput::new(fault_rung(), path.to_owned())],
        settings: settings(),
        picture: report.source.video.picture.clone(),
    };
    backend().await.encode_chunk(&params, &|_| {}, &CancellationToken::new()).await.unwrap();
    path.to_owned()
}

/// Joins `paths` in the given order into `output`.
async fn join(paths: &[PathBuf], output: &Path) -> PathBuf {
    assemble_rendition(&AssembleParams { rung: fault_rung().name, chunks: paths.to_vec(), output: output.to_owned(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
    output.to_owned()
}

#[tokio::test]
async fn the_chunk_check_catches_dropped_duplicated_reordered_frames_and_a_wrong_frame_range() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 256, 144, 1.0, false);
    let report = inspect(&source, root).await;
    let range = |start, end| FrameRange { start, end };
    // Chunk 1 should hold frames 20..40 (inside the moving first shot, 0..30, and into the
    // second); each case encodes something else in its place.
    let chunk = range(20, 40);
    let checked = |name: &'static str, encoded: FrameRange| {
        let (source, report) = (&source, &report);
        async move { check(report, "144p", 1, chunk, &encode_range(source, report, 1, encoded, &root.join(name)).await).await }
    };

    // The control: the right frames pass, and the record names its ends.
    let control = checked("control.mp4", chunk).await.unwrap();
    assert_eq!(control.verified_frames, 20);

    // Its first frame dropped: it starts one late.
    let error = checked("dropped-first.mp4", range(21, 40)).await.unwrap_err();
    assert!(error.contains("chunk 1 of rung 144p") && error.contains("dropped") && error.contains("should be source frame 20") && error.contains("shows source frame 21"), "{error}");

    // Its last frame dropped: it ends one early.
    let error = checked("dropped-last.mp4", range(20, 39)).await.unwrap_err();
    assert!(error.contains("chunk 1 of rung 144p") && error.contains("dropped frames") && error.contains("last 1 source frame(s) are missing"), "{error}");

    // Frame 19, the previous chunk's last, encoded again at its start: the check sees only the
    // chunk's own source frames, so it finds the chunk's frames one behind from its next frame
    // on (the join check names frame 19 itself, below).
    let error = checked("duplicated.mp4", range(19, 40)).await.unwrap_err();
    assert!(error.contains("chunk 1 of rung 144p") && error.contains("duplicated") && error.contains("should be source frame 21") && error.contains("source frame 20 again"), "{error}");

    // Frames 25 and 26 swapped inside the chunk.
    let pieces = [range(20, 25), range(26, 27), range(25, 26), range(27, 40)];
    let mut paths = Vec::new();
    for (index, piece) in pieces.into_iter().enumerate() {
        paths.push(encode_range(&source, &report, 1, piece, &root.join(format!("piece{index}.mp4"))).await);
    }
    let swapped = join(&paths, &root.join("reordered.mp4")).await;
    let error = check(&report, "144p", 1, chunk, &swapped).await.unwrap_err();
    assert!(error.contains("should be source frame 25") && error.contains("reordered"), "{error}");

    // The chunk encoded from the wrong frame range: frames 50..70 (the third shot).
    let error = checked("wrong-range.mp4", range(50, 70)).await.unwrap_err();
    assert!(error.contains("chunk 1 of rung 144p") && error.contains("should be source frame 20"), "{error}");
    // Or a few frames off: 23..43.
    let error = checked("shifted-range.mp4", range(23, 43)).await.unwrap_err();
    assert!(error.contains("should be source frame 20") && error.contains("shows source frame 23"), "{error}");
}

#[tokio::test]
async fn renditions_checked_in_one_decoding_run_get_the_verdicts_of_each_checked_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 256, 144, 1.0, false);
    let report = inspect(&source, root).await;
    let chunk = FrameRange { start: 20, end: 40 };
    let right = encode_range(&source, &report, 1, chunk, &root.join("right.mp4")).await;
    let dropped = encode_range(&source, &report, 1, FrameRange { start: 21, end: 40 }, &root.join("dropped.mp4")).await;
    let not_video = root.join("not-video.mp4");
    std::fs::write(&not_video, b"not an mp4 at all").unwrap();
    let cancel = CancellationToken::new();
    let params = |named: &[(&str, &PathBuf)]| -> Vec<ChunkCheckParams> { named.iter().map(|(rung, path)| check_params(&report, rung, 1, chunk, path)).collect() };
    let alone = |params: Vec<ChunkCheckParams>| async move {
        let mut verdicts = Vec::new();
        for check in &params {
            verdicts.push(check_chunk(check, &CancellationToken::new()).await.map_err(|error| error.to_string()));
        }
        verdicts
    };

    // Three good renditions: each passes with exactly the record it gets alone.
    let good = params(&[("a", &right), ("b", &right), ("c", &right)]);
    let together = check_chunk_renditions(&good, root, &cancel).await.unwrap();
    let each: Vec<_> = alone(good).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(together, each);
    assert_eq!(together[0].frames, 20);
    // The frame files are gone.
    assert!(!std::fs::read_dir(root).unwrap().any(|entry| entry.unwrap().file_name().to_string_lossy().starts_with("chunk-check")));

    // A rendition missing its first frame among good ones: the same verdict, naming it.
    let mixed = params(&[("a", &right), ("b", &dropped), ("c", &right)]);
    let error = check_chunk_renditions(&mixed, root, &cancel).await.unwrap_err().to_string();
    assert_eq!(error, alone(mixed).await[1].clone().unwrap_err());
    assert!(error.contains("chunk 1 of rung b") && error.contains("dropped"), "{error}");

    // A file that is no video fails the run together; each is then checked alone and the error
    // is that file's own.
    let broken = params(&[("a", &right), ("b", &not_video)]);
    let error = check_chunk_renditions(&broken, root, &cancel).await.unwrap_err().to_string();
    assert_eq!(error, alone(broken).await[1].clone().unwrap_err());
    assert!(error.contains("not-video.mp4"), "{error}");
}

#[tokio::test]
async fn the_join_check_catches_frames_dropped_duplicated_or_reordered_at_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = common::three_shots(root, "source.mp4", 256, 144, 1.0, false);
    let report = inspect(&source, root).await;
    let total = report.source.video.frames;
    assert_eq!(total, 80);
    let rung = fault_rung();
    // Four verified chunks of 20 frames (keyframes every 12: two boundary decodes each).
    let mut paths = Vec::new();
    let mut verified = Vec::new();
    for index in 0..4u32 {
        let frames = FrameRange { start: u64::from(index) * 20, end: u64::from(index + 1) * 20 };
        let path = encode_range(&source, &report, index, frames, &root.join(format!("c{index}.mp4"))).await;
        verified.push(check(&report, "144p", index, frames, &path).await.unwrap());
        paths.push(path);
    }
    let joined_as = |order: [&PathBuf; 4]| order.map(PathBuf::clone).to_vec();

    // The control: the chunks in order pass, with one frame of each decoded.
    let joined = join(&paths, &root.join("control.mp4")).await;
    let control = validate(&report, &rung, &joined, verified.clone()).await.unwrap();
    assert_eq!((control.frames, control.chunks), (80, 4));
    assert_eq!(control.decoded_frames, 4, "each chunk's first frame");

    // One byte of a later frame of chunk 1 changed in storage: its first frame is still the
    // one verified, its samples are not the bytes its encode decoded.
    let damaged = root.join("damaged.mp4");
    let sample = video_sample_locations(&joined).unwrap()[30];
    let mut bytes = std::fs::read(&joined).unwrap();
    bytes[(sample.offset + u64::from(sample.size) / 2) as usize] ^= 0x55;
    std::fs::write(&damaged, bytes).unwrap();
    let error = validate(&report, &rung, &damaged, verified.clone()).await.unwrap_err();
    assert!(error.contains("rendition frames 20..40 are not the samples chunk 1's encode verified"), "{error}");

    // Chunks 1 and 2 joined in the wrong order.
    let reordered = join(&joined_as([&paths[0], &paths[2], &paths[1], &paths[3]]), &root.join("reordered.mp4")).await;
    let error = validate(&report, &rung, &reordered, verified.clone()).await.unwrap_err();
    assert!(error.contains("first frame of chunk 1 (rendition frame 20) should be source frame 20") && error.contains("different frame"), "{error}");

    // The last frame of chunk 0 dropped where it joins chunk 1.
    let cut = root.join("c0-cut.mp4");
    common::ffmpeg(&["-i", paths[0].to_str().unwrap(), "-c", "copy", "-frames:v", "19", cut.to_str().unwrap()]);
    let dropped = join(&joined_as([&cut, &paths[1], &paths[2], &paths[3]]), &root.join("dropped.mp4")).await;
    let error = validate(&report, &rung, &dropped, verified.clone()).await.unwrap_err();
    assert!(error.contains("last frame of chunk 0 (rendition frame 19) should be source frame 19") || error.contains("chunk 1 should start at rendition frame 20"), "{error}");
    assert!(error.contains("dropped"), "{error}");

    // Frame 19 joined twice: chunk 1 as encoded from 19..40.
    let early = encode_range(&source, &report, 1, FrameRange { start: 19, end: 40 }, &root.join("c1-early.mp4")).await;
    let duplicated = join(&joined_as([&paths[0], &early, &paths[2], &paths[3]]), &root.join("duplicated.mp4")).await;
    let error = validate(&report, &rung, &duplicated, verified.clone()).await.unwrap_err();
    assert!(error.contains("first frame of chunk 1 (rendition frame 20) should be source frame 20") && error.contains("duplicated") && error.contains("source frame 19"), "{error}");

    // Chunk 2 joined from the wrong frame range: 60..80 where 40..60 belongs.
    let wrong = join(&joined_as([&paths[0], &paths[1], &paths[3], &paths[3]]), &root.join("wrong-range.mp4")).await;
    let error = validate(&report, &rung, &wrong, verified.clone()).await.unwrap_err();
    assert!(error.contains("first frame of chunk 2 (rendition frame 40) should be source frame 40"), "{error}");
}

/// The join check decodes many chunks' first frames in one ffmpeg run: each the frame a run of
/// its own gives, in order, over more seeks than one run takes (and one past the end, which
/// opens the last keyframe).
#[tokio::test]
async fn first_frames_decoded_together_are_those_decoded_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let shots = common::three_shots(dir.path(), "shots.mp4", 160, 96, 1.0, false);
    // A keyframe every 10 frames (0.4 s).
    let source = dir.path().join("keyed.mp4");
    common::ffmpeg(&["-i", shots.to_str().unwrap(), "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0", source.to_str().unwrap()]);
    let cancel = CancellationToken::new();
    let seeks: Vec<KeyframeSeek> = (0..40).map(|index| KeyframeSeek::halfway_past(f64::from(index % 8) * 0.4, 0.04)).chain([KeyframeSeek::halfway_past(60.0, 0.04)]).collect();
    let together = decode_keyframe_fingerprints(&source, &seeks, &cancel).await.unwrap();
    let mut alone = Vec::new();
    for seek in &seeks {
        alone.push(decode_keyframe_fingerprint(&source, *seek, &cancel).await.unwrap());
    }
    assert_eq!(together.len(), seeks.len());
    assert!(together[..8].iter().all(Option::is_some), "every keyframe decodes");
    assert_eq!(together, alone);
    let distinct: std::collections::HashSet<String> = together[..8].iter().flatten().map(|print| format!("{print:?}")).collect();
    assert_eq!(distinct.len(), 8, "eight keyframes, eight pictures");
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
    let (chunks, verified) = encode_all(&backend, &raw, &report, &rungs, &root.join("chunks")).await;
    let assembled = root.join("a.mp4");
    assemble_rendition(&AssembleParams { rung: rungs[0].name.clone(), chunks: chunks[0].clone(), output: assembled.clone(), spans_us: Vec::new() }, &CancellationToken::new()).await.unwrap();
    let validation = validate(&report, &rungs[0], &assembled, verified[0].clone()).await.unwrap();
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
    let (chunks, _) = encode_all(&backend, &source, &report, &rungs, &root.join("chunks")).await;
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
        let (chunks, verified) = encode_all(&backend, source, &report, &rungs, &work.join("chunks")).await;
        let source_times = common::frame_times(source);
        for ((rung, chunk_paths), verified) in rungs.iter().zip(chunks).zip(verified) {
            let assembled = work.join(format!("{}.mp4", rung.name));
            assemble_rendition(&AssembleParams { rung: rung.name.clone(), chunks: chunk_paths, output: assembled.clone(), spans_us: spans.clone() }, &CancellationToken::new()).await.unwrap();
            // Every decoded source frame once, in order (validation compares fingerprints frame
            // by frame), each at its source time or at a constant rate.
            let validation = validate(&report, rung, &assembled, verified).await.unwrap_or_else(|error| panic!("{name} {}: {error}", rung.name));
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
