//! Inspection against real files: accepted sources with their oddities, rejected ones with
//! their codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use shotfarm_agent::media::artifacts::FrameArtifact;
use shotfarm_agent::media::chunking::ChunkingParams;
use shotfarm_agent::media::inspect::{InspectError, InspectParams, InspectReport, RejectionCode, SegmentPolicy, WarningCode, inspect_source};
use tokio_util::sync::CancellationToken;

fn params(source: &Path, dir: &Path) -> InspectParams {
    InspectParams {
        source: source.to_owned(),
        artifact_dir: dir.join("artifacts"),
        chunking: ChunkingParams { min_seconds: 0.8, max_seconds: 2.0 },
        shot_detection: Default::default(),
        limits: Default::default(),
        segments: SegmentPolicy { min_seconds: 0.3, workers: 2 },
    }
}

async fn inspect(source: &Path, dir: &Path) -> Result<InspectReport, InspectError> {
    inspect_source(&params(source, dir), &CancellationToken::new()).await
}

async fn rejected(source: &Path, dir: &Path) -> shotfarm_agent::media::inspect::Rejection {
    match inspect(source, dir).await {
        Err(InspectError::Rejected(rejection)) => *rejection,
        other => panic!("{} should be rejected, got {other:?}", source.display()),
    }
}

fn has_warning(report: &InspectReport, code: WarningCode) -> bool {
    report.warnings.iter().any(|warning| warning.code == code)
}

#[tokio::test]
async fn accepts_a_clean_source_and_finds_its_shots() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::three_shots(dir.path(), "clean.mp4", 160, 90, 1.0, true);
    let report = inspect(&source, dir.path()).await.unwrap();
    let video = &report.source.video;
    assert_eq!((video.width, video.height, video.frames), (160, 90, 80));
    assert_eq!((video.frame_rate.num, video.frame_rate.den), (25, 1));
    assert!(!video.variable_frame_rate);
    assert!(report.source.audio.is_some());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let starts: Vec<u64> = report.shots.iter().map(|shot| shot.start).collect();
    assert_eq!(starts, vec![0, 30, 55], "shots {:?}", report.shots);
    assert!(report.shots.iter().all(|shot| shot.si_mean > 0.0 && shot.ti_max > 0.0));
    // Chunks tile the frames, are whole shots, and seek to keyframes at or before their start.
    assert_eq!(report.chunks.first().unwrap().frames.start, 0);
    assert_eq!(report.chunks.last().unwrap().frames.end, 80);
    for chunk in &report.chunks {
        assert!(starts.contains(&chunk.frames.start), "{chunk:?}");
        if let Some(seek) = chunk.seek {
            assert!(seek.keyframe <= chunk.frames.start && seek.keyframe % 12 == 0, "{chunk:?}");
        }
    }
    assert!(report.chunks.iter().any(|chunk| chunk.seek.is_some()));
    let artifact = FrameArtifact::read(&report.frame_artifact).await.unwrap();
    assert_eq!(artifact.frames.len(), 80);
    assert!(artifact.frames[0].keyframe && artifact.frames[12].keyframe && !artifact.frames[1].keyframe);
}

#[tokio::test]
async fn odd_dimensions_without_audio_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("odd.mkv");
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=160x90:r=24:d=1", "-vf", "scale=161:91", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", source.to_str().unwrap()]);
    let report = inspect(&source, dir.path()).await.unwrap();
    assert_eq!((report.source.video.width, report.source.video.height, report.source.video.frames), (161, 91, 24));
    assert!(report.source.audio.is_none());
    assert!(has_warning(&report, WarningCode::OddDimensions), "{:?}", report.warnings);
}

#[tokio::test]
async fn variable_frame_rate_keeps_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("vfr.mkv");
    // Drop every third frame of a 30 fps pattern, keeping timestamps: 40 of 60 frames, gaps vary.
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=128x72:r=30:d=2", "-vf", "select='not(eq(mod(n,3),2))'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-preset", "ultrafast", source.to_str().unwrap(),
    ]);
    let report = inspect(&source, dir.path()).await.unwrap();
    assert_eq!(report.source.video.frames, 40);
    assert!(report.source.video.variable_frame_rate && report.source.video.keeps_frame_times);
    assert!(has_warning(&report, WarningCode::VariableFrameRate), "{:?}", report.warnings);
    // Every chunk carries its span, and the spans add up to the source's duration.
    let spans: u64 = report.chunks.iter().map(|chunk| chunk.span_us.unwrap()).sum();
    assert!((spans as f64 / 1e6 - report.source.video.duration_seconds).abs() < 1e-5, "{spans} µs");
    let rate = report.source.video.frame_rate.num as f64 / report.source.video.frame_rate.den as f64;
    assert!((rate - 20.0).abs() < 1.0, "average rate {rate}");
}

#[tokio::test]
async fn missing_timestamps_disable_seeking() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = common::pattern(dir.path(), "p.mp4", "96x54", 25, 2.0);
    let raw = dir.path().join("raw.h264");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", raw.to_str().unwrap()]);
    let report = inspect(&raw, dir.path()).await.unwrap();
    assert_eq!(report.source.video.frames, 50);
    assert!(has_warning(&report, WarningCode::MissingTimestamps), "{:?}", report.warnings);
    assert!(has_warning(&report, WarningCode::NotSeekable));
    assert!(report.chunks.iter().all(|chunk| chunk.seek.is_none()));
}

#[tokio::test]
async fn several_video_streams_use_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("two.mkv");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=96x54:r=25:d=1", "-f", "lavfi", "-i", "testsrc=s=64x36:r=25:d=1",
        "-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "ultrafast", source.to_str().unwrap(),
    ]);
    let report = inspect(&source, dir.path()).await.unwrap();
    assert_eq!((report.source.video.width, report.source.video.frames), (96, 25));
    assert!(has_warning(&report, WarningCode::SeveralVideoStreams));
}

#[tokio::test]
async fn rejects_bad_files_with_specific_codes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    let random = common::random_bytes(root, "random.mp4", 64 * 1024, 7);
    let rejection = rejected(&random, root).await;
    assert_eq!(rejection.code, RejectionCode::NotMedia, "{rejection}");
    assert!(rejection.fix.contains("video"));

    let empty = root.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(rejected(&empty, root).await.code, RejectionCode::NotMedia);

    assert_eq!(rejected(&root.join("missing.mp4"), root).await.code, RejectionCode::Unreadable);

    // An mp4 cut short before its index (moov at the end, as ffmpeg writes by default).
    let whole = common::pattern(root, "whole.mp4", "160x90", 25, 2.0);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = root.join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let rejection = rejected(&cut, root).await;
    assert_eq!(rejection.code, RejectionCode::Truncated, "{rejection}");
    assert_eq!(rejection.byte, Some((bytes.len() / 2) as u64));

    // An mp4 with its index in front, cut in the middle of the frames.
    let faststart = root.join("faststart.mp4");
    common::ffmpeg(&["-i", whole.to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", faststart.to_str().unwrap()]);
    let bytes = std::fs::read(&faststart).unwrap();
    let cut = root.join("cut-faststart.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let rejection = rejected(&cut, root).await;
    assert_eq!(rejection.code, RejectionCode::Truncated, "{rejection}");
    assert!(rejection.frame.is_some_and(|frame| frame > 0 && frame < 50), "{rejection:?}");

    let audio_only = root.join("audio.m4a");
    common::ffmpeg(&["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", audio_only.to_str().unwrap()]);
    let rejection = rejected(&audio_only, root).await;
    assert_eq!(rejection.code, RejectionCode::NoVideoStream);
    assert!(rejection.message.contains("audio"), "{rejection}");

    let tiny = root.join("tiny.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=8x8:r=25:d=0.2", "-c:v", "libx264", "-preset", "ultrafast", tiny.to_str().unwrap()]);
    assert_eq!(rejected(&tiny, root).await.code, RejectionCode::AbsurdDimensions);
    // Just below the smallest size VMAF can score.
    let small = root.join("small.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=32x48:r=25:d=0.2", "-c:v", "libx264", "-preset", "ultrafast", small.to_str().unwrap()]);
    let rejection = rejected(&small, root).await;
    assert_eq!(rejection.code, RejectionCode::AbsurdDimensions);
    assert!(rejection.message.contains("32x48"), "{}", rejection.message);
}

#[tokio::test]
async fn damaged_frames_beyond_tolerance_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ts = common::damaged_ts(dir.path(), "damaged.ts", 3.0);
    match inspect(&ts, dir.path()).await {
        Err(InspectError::Rejected(rejection)) => {
            assert_eq!(rejection.code, RejectionCode::UndecodableFrames, "{rejection}");
            assert!(rejection.frame.is_some());
        }
        other => panic!("damaged source accepted: {other:?}"),
    }
}

#[tokio::test]
async fn a_vfr_avi_with_skip_frames_is_complete_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::vfr_avi_with_skip_frames(dir.path(), "skips.avi", "160x120", 2.0);
    // The index really lists empty entries: 50 frame slots, 20 of them with data.
    assert_eq!(common::declared_and_read_frames(&source), (Some(50), 20));
    let report = inspect(&source, dir.path()).await.unwrap();
    let video = &report.source.video;
    assert_eq!(video.frames, 20);
    assert_eq!(common::frame_count(&source), 20);
    assert!(has_warning(&report, WarningCode::SkippedFrames), "{:?}", report.warnings);
    assert!(video.variable_frame_rate && has_warning(&report, WarningCode::VariableFrameRate), "{:?}", report.warnings);
    // 20 frames over the 2 s they span: the average rate, not the container's 25 fps.
    let rate = video.frame_rate.as_f64();
    assert!((rate - 19.0 / 1.96).abs() < 0.5, "rate {rate}");
    assert_eq!(report.chunks.last().unwrap().frames.end, 20);

    // Every fifth slot holds a frame: evenly spaced, at 5 fps, not the container's 25.
    let regular = dir.path().join("every-fifth.avi");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-vf", "select='not(mod(n\\,5))'", "-fps_mode", "vfr", "-r", "25",
        "-c:v", "mpeg4", regular.to_str().unwrap(),
    ]);
    assert_eq!(common::declared_and_read_frames(&regular), (Some(46), 10));
    let report = inspect(&regular, dir.path()).await.unwrap();
    assert_eq!(report.source.video.frames, 10);
    assert_eq!((report.source.video.frame_rate.num, report.source.video.frame_rate.den), (5, 1));
    assert!(has_warning(&report, WarningCode::FrameRateFromTimestamps) && has_warning(&report, WarningCode::SkippedFrames), "{:?}", report.warnings);
    assert!((report.source.video.duration_seconds - 2.0).abs() < 1e-9);
}

#[tokio::test]
async fn irregular_and_repeated_timestamps_in_mp4_and_mkv_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = common::retimed(dir.path(), "jitter.mp4", "160x120", 2.0, common::JITTERED_PTS);
    let mkv = dir.path().join("jitter.mkv");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c", "copy", mkv.to_str().unwrap()]);
    for source in [&mp4, &mkv] {
        let report = inspect(source, dir.path()).await.unwrap();
        assert_eq!(report.source.video.frames, 50, "{}", source.display());
        assert!(report.source.video.variable_frame_rate, "{}: {:?}", source.display(), report.warnings);
        assert!(has_warning(&report, WarningCode::VariableFrameRate));
    }
    // Repeated timestamps: frames in pairs at the same time.
    let repeated = common::retimed(dir.path(), "repeated.mkv", "160x120", 1.0, common::REPEATED_PTS);
    let report = inspect(&repeated, dir.path()).await.unwrap();
    assert_eq!(report.source.video.frames, common::frame_count(&repeated));
    assert!(has_warning(&report, WarningCode::NonMonotonicTimestamps), "{:?}", report.warnings);
    // Pairs 80 ms apart are 25 frames a second: the duration holds.
    assert_eq!((report.source.video.frame_rate.num, report.source.video.frame_rate.den), (25, 1), "{:?}", report.warnings);
}

#[tokio::test]
async fn a_file_cut_short_is_truncated_and_the_same_file_whole_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mp4 = common::pattern(root, "whole.mp4", "160x90", 25, 2.0);
    let mkv = root.join("whole.mkv");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c", "copy", mkv.to_str().unwrap()]);
    let avi = common::vfr_avi_with_skip_frames(root, "whole.avi", "160x90", 2.0);
    let faststart = root.join("faststart.mp4");
    common::ffmpeg(&["-i", mp4.to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", faststart.to_str().unwrap()]);
    for (whole, structure) in [(&mkv, "Matroska"), (&avi, "AVI"), (&faststart, "mp4 \"mdat\" box")] {
        let report = inspect(whole, root).await.unwrap_or_else(|error| panic!("{} whole: {error}", whole.display()));
        let frames = report.source.video.frames;
        // Cut in the middle of the media data (a Matroska cluster, an AVI chunk, the mdat).
        let len = std::fs::metadata(whole).unwrap().len() as usize * 6 / 10 + 3;
        let rejection = rejected(&common::cut_short(whole, len), root).await;
        assert_eq!(rejection.code, RejectionCode::Truncated, "{rejection}");
        assert_eq!(rejection.byte, Some(len as u64), "{rejection}");
        assert!(rejection.frame.is_some_and(|frame| frame < frames), "{rejection:?}");
        assert!(rejection.message.contains(structure) && rejection.fix == "upload the complete file", "{rejection}");
    }
}

#[tokio::test]
async fn pictures_audio_and_subtitle_files_are_refused_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let at = |name: &str| root.join(name).to_str().unwrap().to_owned();
    let picture = "testsrc2=s=640x480";
    common::ffmpeg(&["-f", "lavfi", "-i", picture, "-frames:v", "1", &at("still.png")]);
    common::ffmpeg(&["-f", "lavfi", "-i", picture, "-frames:v", "1", &at("still.jpg")]);
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", &at("still.gif")]);
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", &at("animated.gif")]);
    common::ffmpeg(&["-f", "lavfi", "-i", picture, "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", &at("one-frame.mp4")]);
    // A name that image2 would read as a sequence pattern, beside a file it would match.
    std::fs::copy(root.join("still.png"), root.join("frame%d.png")).unwrap();
    std::fs::copy(root.join("still.gif"), root.join("frame1.png")).unwrap();
    // Audio with a cover picture, in mp3 (a demuxer the farm refuses) and m4a (one it reads).
    common::ffmpeg(&["-f", "lavfi", "-i", "sine=d=3.2", "-i", &at("still.jpg"), "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic", &at("song.mp3")]);
    common::ffmpeg(&["-f", "lavfi", "-i", "sine=d=3.2", "-i", &at("still.png"), "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", &at("song.m4a")]);
    // Subtitles alone: as text, and in a Matroska file.
    std::fs::write(root.join("lines.srt"), "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n").unwrap();
    common::ffmpeg(&["-i", &at("lines.srt"), "-c:s", "ass", &at("lines.mkv")]);
    let expectations = [
        ("still.png", RejectionCode::StillImage, "a single 640x480 PNG image"),
        ("still.jpg", RejectionCode::StillImage, "a single 640x480 JPEG image"),
        ("still.gif", RejectionCode::StillImage, "a single 64x48 GIF image"),
        ("frame%d.png", RejectionCode::StillImage, "a single 640x480 PNG image"),
        ("animated.gif", RejectionCode::FormatNotAllowed, "an animated 64x48 GIF of 10 frames"),
        ("one-frame.mp4", RejectionCode::StillImage, "(h264 in mov,mp4,m4a,3gp,3g2,mj2) holds a single 640x480 frame"),
        ("song.mp3", RejectionCode::NoVideoStream, "audio (mp3, 3.2 s) with a cover picture (640x480 mjpeg)"),
        ("song.m4a", RejectionCode::NoVideoStream, "audio (aac, 3.2 s) with a cover picture (640x480 png)"),
        ("lines.mkv", RejectionCode::NoVideoStream, "only subtitles (ass)"),
        ("lines.srt", RejectionCode::FormatNotAllowed, "\"srt\""),
    ];
    for (name, code, found) in expectations {
        let rejection = rejected(&root.join(name), root).await;
        assert_eq!(rejection.code, code, "{name}: {rejection}");
        assert!(rejection.message.contains(found), "{name}: {rejection}");
        // A picture's fix says how to make a video of it; a GIF's how to convert it.
        if name.ends_with("png") || name.ends_with("jpg") || name.ends_with("gif") || name.ends_with("mp4") {
            assert!(rejection.fix.contains("ffmpeg"), "{name}: {rejection}");
        }
    }
}
