//! Several distorted streams scored against one reference in one pass
//! (`vmaf_streams_against_one_reference`): each report equals, every feature of every frame,
//! what a separate `vmaf_streams` run of that pair gives, for 1 to 3 streams, every n-th frame
//! scored or all, on 1 or 2 threads, at every SIMD level this CPU has, in 8 and 10 bits; an
//! error about one stream names it.

use std::io::Cursor;

use proptest::prelude::*;
use shotfarm_kernels::decode::frame_source::{FrameSource, MemorySource};
use shotfarm_kernels::decode::y4m::Y4mReader;
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::{FeatureSelection, Frame, FrameFormat, VmafError, VmafOptions, vmaf_streams, vmaf_streams_against_one_reference};

mod support {
    pub mod noise_frames;
}
use support::noise_frames::noise_frame;

/// `count` frames of a stream: the reference (stream 0, little noise) or a distorted one.
fn frames(format: FrameFormat, count: usize, seed: u64, noise: u16) -> Vec<Frame> {
    (0..count).map(|i| noise_frame(format.width, format.height, format.bit_depth, seed + i as u64 * 101, noise)).collect()
}

fn source(format: FrameFormat, frames: &[Frame], name: &str) -> Box<dyn FrameSource> {
    Box::new(MemorySource::new(format, frames.to_vec(), name).expect("formats agree"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn each_report_equals_a_separate_run_of_its_pair(
        w in 33usize..64, h in 33usize..48, ten_bits in any::<bool>(), seed in 1u64..1000, count in 1usize..8, streams in 1usize..=3,
    ) {
        let format = FrameFormat { width: w, height: h, bit_depth: if ten_bits { 10 } else { 8 } };
        let reference = frames(format, count, seed, 3);
        let distorted: Vec<Vec<Frame>> = (0..streams).map(|stream| frames(format, count, seed + 50 + stream as u64 * 7, 10 + 15 * stream as u16)).collect();
        for simd in SimdLevel::available() {
            for subsample in [1, 3] {
                for threads in [1, 2] {
                    let options = VmafOptions { threads, subsample, simd: Some(simd), features: FeatureSelection { psnr: true, ssim: true }, ..VmafOptions::default() };
                    let sources = distorted.iter().map(|frames| source(format, frames, "dis")).collect();
                    let together = vmaf_streams_against_one_reference(source(format, &reference, "ref"), sources, &options).expect("scores");
                    prop_assert_eq!(together.len(), streams);
                    for (stream, report) in together.iter().enumerate() {
                        let alone = vmaf_streams(source(format, &reference, "ref"), source(format, &distorted[stream], "dis"), &options).expect("scores");
                        prop_assert_eq!(&report.frames, &alone.frames, "stream {} at {}, subsample {}, {} threads", stream, simd.name(), subsample, threads);
                        prop_assert_eq!(&report.backend, &alone.backend);
                    }
                }
            }
        }
    }
}

/// `count` frames as one y4m stream, whose frames the workers give back to be decoded into again.
fn y4m(format: FrameFormat, frames: &[Frame]) -> Box<dyn FrameSource> {
    let mut bytes = format!("YUV4MPEG2 W{} H{} F30:1 C420jpeg\n", format.width, format.height).into_bytes();
    for frame in frames {
        let Frame::Eight(frame) = frame else { panic!("8-bit frames only") };
        bytes.extend_from_slice(b"FRAME\n");
        for plane in frame.planes() {
            bytes.extend_from_slice(plane.data());
        }
    }
    Box::new(Y4mReader::new(Cursor::new(bytes), "memory".into()).expect("valid header"))
}

#[test]
fn recycled_frames_go_back_to_their_own_stream() {
    let format = FrameFormat { width: 48, height: 40, bit_depth: 8 };
    let reference = frames(format, 24, 5, 3);
    let distorted: Vec<Vec<Frame>> = (0..3).map(|stream| frames(format, 24, 60 + stream * 9, 12 + 20 * stream as u16)).collect();
    let options = VmafOptions { threads: 2, features: FeatureSelection { psnr: true, ssim: true }, ..VmafOptions::default() };
    let together = vmaf_streams_against_one_reference(y4m(format, &reference), distorted.iter().map(|frames| y4m(format, frames)).collect(), &options).expect("scores");
    for (stream, report) in together.iter().enumerate() {
        let alone = vmaf_streams(source(format, &reference, "ref"), source(format, &distorted[stream], "dis"), &options).expect("scores");
        assert_eq!(report.frames, alone.frames, "stream {stream}");
    }
}

#[test]
fn a_short_stream_is_named_with_both_counts() {
    let format = FrameFormat { width: 40, height: 36, bit_depth: 8 };
    let reference = frames(format, 4, 1, 3);
    let streams = vec![source(format, &frames(format, 4, 9, 10), "a"), source(format, &frames(format, 3, 19, 10), "b"), source(format, &frames(format, 4, 29, 10), "c")];
    let error = vmaf_streams_against_one_reference(source(format, &reference, "ref"), streams, &VmafOptions::default()).unwrap_err();
    assert!(matches!(&error, VmafError::Stream { stream: 1, source } if matches!(**source, VmafError::FrameCountMismatch { reference: 4, distorted: 3 })), "{error:?}");
    assert!(error.to_string().starts_with("distorted stream 1: frame count mismatch"), "{error}");

    let streams = vec![source(format, &frames(format, 4, 9, 10), "a"), source(format, &frames(format, 6, 19, 10), "b")];
    let error = vmaf_streams_against_one_reference(source(format, &reference, "ref"), streams, &VmafOptions::default()).unwrap_err();
    assert!(matches!(&error, VmafError::Stream { stream: 1, source } if matches!(**source, VmafError::FrameCountMismatch { reference: 4, distorted: 6 })), "{error:?}");
}

#[test]
fn a_stream_of_another_size_is_named() {
    let format = FrameFormat { width: 40, height: 36, bit_depth: 8 };
    let smaller = FrameFormat { width: 38, height: 36, bit_depth: 8 };
    let streams = vec![source(format, &frames(format, 2, 9, 10), "a"), source(smaller, &frames(smaller, 2, 19, 10), "b")];
    let error = vmaf_streams_against_one_reference(source(format, &frames(format, 2, 1, 3), "ref"), streams, &VmafOptions::default()).unwrap_err();
    assert!(error.to_string().starts_with("distorted stream 1: frame 0: reference is 40x36 but distorted is 38x36"), "{error}");
}

#[test]
fn no_streams_give_no_reports() {
    let format = FrameFormat { width: 40, height: 36, bit_depth: 8 };
    assert!(vmaf_streams_against_one_reference(source(format, &frames(format, 2, 1, 3), "ref"), Vec::new(), &VmafOptions::default()).expect("nothing to do").is_empty());
}
