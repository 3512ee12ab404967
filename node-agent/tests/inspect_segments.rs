//! Inspection in segments against inspection in one pass, on real files with their oddities:
//! wherever a source is cut, the facts, warnings, shots, chunks and every frame's fingerprint,
//! time and keyframe flag are the whole decode's; sources that cannot be cut exactly are
//! decoded whole.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use shotfarm_agent::media::chunking::ChunkingParams;
use shotfarm_agent::media::inspect::{InspectParams, InspectReport, InspectStep, SegmentPolicy, WarningCode, inspect_or_cut, inspect_source};
use tokio_util::sync::CancellationToken;

/// Inspection of `source` into `artifact_dir` under `segments`, in chunks of 0.8 to 2 s.
fn params(source: &Path, artifact_dir: &Path, segments: SegmentPolicy) -> InspectParams {
    InspectParams {
        source: source.to_owned(),
        artifact_dir: artifact_dir.to_owned(),
        chunking: ChunkingParams { min_seconds: 0.8, max_seconds: 2.0 },
        shot_detection: Default::default(),
        limits: Default::default(),
        segments,
    }
}

/// The report of inspecting `source` under `segments`, its timings zeroed, and its
/// `frames.json`.
fn inspect(source: &Path, dir: &Path, segments: SegmentPolicy) -> (InspectReport, Vec<u8>) {
    let artifact_dir = dir.join(format!("artifacts-{}-{}", segments.workers, segments.min_seconds));
    let params = params(source, &artifact_dir, segments);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = runtime.block_on(inspect_source(&params, &CancellationToken::new())).unwrap();
    let frames = std::fs::read(&report.frame_artifact).unwrap();
    std::fs::remove_dir_all(&artifact_dir).unwrap();
    (InspectReport { decode_seconds: 0.0, total_seconds: 0.0, frame_artifact: PathBuf::new(), ..report }, frames)
}

const WHOLE: SegmentPolicy = SegmentPolicy { min_seconds: 0.1, workers: 1 };

/// Inspects `source` whole and in the segments of `policy`: the same report and frames, and
/// (when `cut`) more than one segment.
fn same_as_whole(source: &Path, dir: &Path, policy: SegmentPolicy, cut: bool) -> Result<(), TestCaseError> {
    let (whole, whole_frames) = inspect(source, dir, WHOLE);
    prop_assert_eq!(whole.decoded_in_segments, 1);
    let (segmented, segmented_frames) = inspect(source, dir, policy);
    if cut {
        prop_assert!(segmented.decoded_in_segments > 1, "{} was not cut under {policy:?}", source.display());
    } else {
        prop_assert_eq!(segmented.decoded_in_segments, 1, "{} was cut", source.display());
    }
    prop_assert_eq!(InspectReport { decoded_in_segments: 1, ..segmented }, whole, "{} under {:?}", source.display(), policy);
    prop_assert!(segmented_frames == whole_frames, "{}: frames.json differs under {policy:?}", source.display());
    Ok(())
}

/// Sources that are cut, each with an oddity, made once for every case.
fn cut_sources(dir: &Path) -> Vec<PathBuf> {
    vec![
        // H.264 with B-frames and three shots, in MP4 and in Matroska.
        common::three_shots(dir, "shots.mp4", 160, 90, 1.0, true),
        common::three_shots(dir, "shots.mkv", 160, 90, 1.0, false),
        // Frame times jittering around the grid (variable frame rate, kept times).
        jittered(dir),
        // Turned by a display matrix; anamorphic pixels.
        common::rotated(dir, "rotated.mp4", "160x90", 2.0, 90),
        common::anamorphic(dir, "anamorphic.mkv", "176x120", "32/27", 2.0),
        // HDR10: every frame also fingerprinted tone-mapped.
        common::hdr_hevc(dir, "hdr10.mp4", "256x144", 2.0, "smpte2084"),
    ]
}

/// [`common::retimed`] with [`common::JITTERED_PTS`], and a keyframe every 10 frames.
fn jittered(dir: &Path) -> PathBuf {
    let path = dir.join("jittered.mp4");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-vf", &format!("settb=1/1000,setpts='{}'", common::JITTERED_PTS),
        "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "10", "-video_track_timescale", "1000", path.to_str().unwrap(),
    ]);
    path
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn segments_give_exactly_the_whole_decode_wherever_the_source_is_cut(min_seconds in 0.15f64..0.7, workers in 2usize..5) {
        let dir = tempfile::tempdir().unwrap();
        for source in cut_sources(dir.path()) {
            same_as_whole(&source, dir.path(), SegmentPolicy { min_seconds, workers }, true)?;
        }
    }
}

#[test]
fn av1_and_open_groups_of_pictures_are_cut_exactly_or_decoded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let av1 = dir.path().join("av1.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=160x96:r=25:d=2", "-c:v", "libsvtav1", "-preset", "12", "-g", "10", "-pix_fmt", "yuv420p", av1.to_str().unwrap()]);
    same_as_whole(&av1, dir.path(), SegmentPolicy { min_seconds: 0.3, workers: 3 }, true).unwrap();
    // Open GOPs: the pictures before each keyframe in time but after it in the file refer to
    // the group before; whatever the segments meet, the result is the whole decode's.
    let open = dir.path().join("open.mp4");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=3", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "12", "-keyint_min", "12",
        "-x264-params", "open_gop=1:scenecut=0", open.to_str().unwrap(),
    ]);
    let (whole, whole_frames) = inspect(&open, dir.path(), WHOLE);
    let (segmented, segmented_frames) = inspect(&open, dir.path(), SegmentPolicy { min_seconds: 0.3, workers: 3 });
    assert_eq!(InspectReport { decoded_in_segments: 1, ..segmented }, whole);
    assert!(segmented_frames == whole_frames);
}

#[test]
fn interlaced_untimed_and_repeated_times_are_decoded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let policy = SegmentPolicy { min_seconds: 0.2, workers: 3 };
    for source in [
        common::interlaced(dir.path(), "interlaced.mp4", "160x96", 2.0),
        common::retimed(dir.path(), "repeated.mkv", "160x90", 2.0, common::REPEATED_PTS),
        common::vfr_avi_with_skip_frames(dir.path(), "skips.avi", "160x90", 2.0),
    ] {
        same_as_whole(&source, dir.path(), policy, false).unwrap();
    }
}

/// A farm's first pass over `source`, with segments of at least 4 s: the report when it
/// inspected the source itself, none when it cut it.
fn first_pass(source: &Path, dir: &Path) -> Option<InspectReport> {
    let params = params(source, &dir.join("first-pass"), SegmentPolicy::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    match runtime.block_on(inspect_or_cut(&params, 4.0, &CancellationToken::new())).unwrap() {
        InspectStep::Inspected(report) => Some(*report),
        InspectStep::Cut(segments) => {
            assert!(segments.len() >= 2, "{segments:?}");
            None
        }
    }
}

#[test]
fn a_long_source_that_cannot_be_cut_is_inspected_in_one_pass_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let one_pass = |report: &InspectReport| report.warnings.iter().filter(|warning| warning.code == WarningCode::InspectedInOnePass).map(|warning| warning.message.clone()).collect::<Vec<_>>();
    // 8.5 s of AVI: long enough for two segments, but its container indexes no keyframes.
    let long_avi = common::vfr_avi_with_skip_frames(dir.path(), "long.avi", "160x90", 8.5);
    let report = first_pass(&long_avi, dir.path()).expect("an AVI is never cut");
    let warnings = one_pass(&report);
    eprintln!("{warnings:?}");
    assert!(warnings.len() == 1 && warnings[0].contains("8.5 s") && warnings[0].contains("avi"), "{:?}", report.warnings);
    // Too short to cut: one task is as fast, and nothing is said.
    let short_avi = common::vfr_avi_with_skip_frames(dir.path(), "short.avi", "160x90", 3.0);
    let report = first_pass(&short_avi, dir.path()).expect("too short to cut");
    assert!(one_pass(&report).is_empty(), "{:?}", report.warnings);
    // The same length in MP4 is cut.
    let long_mp4 = dir.path().join("long.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=8.5", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", long_mp4.to_str().unwrap()]);
    assert!(first_pass(&long_mp4, dir.path()).is_none(), "an 8.5 s MP4 with a keyframe a second is cut");
}
