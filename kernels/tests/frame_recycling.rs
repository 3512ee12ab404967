//! Frames given back to their source are decoded into again: features computed from a
//! `.y4m` stream (whose frames the workers recycle) equal those of the same frames held
//! in memory (never recycled), at any thread count. A frame reused while a worker still
//! read it (e.g. as the previous reference of motion) would change them.

use std::io::Cursor;

use shotfarm_kernels::decode::frame_source::{FrameSource, MemorySource};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::vmaf::{VmafOptions, frame_features_of_streams};
use shotfarm_kernels::decode::y4m::Y4mReader;
use shotfarm_kernels::{FeatureSelection, FrameFormat};

/// `count` frames of pseudo-random samples (seeded) as one y4m stream, 8 or 10 bits.
fn y4m_stream(format: FrameFormat, count: usize, seed: u64) -> Vec<u8> {
    let high = format.bit_depth > 8;
    let colorspace = if high { "C420p10" } else { "C420jpeg" };
    let mut bytes = format!("YUV4MPEG2 W{} H{} F30:1 {colorspace}\n", format.width, format.height).into_bytes();
    let samples = if high { format.raw_frame_bytes() / 2 } else { format.raw_frame_bytes() };
    let mut state = seed | 1;
    for frame in 0..count {
        bytes.extend_from_slice(b"FRAME\n");
        for i in 0..samples {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Smooth ramps that move from frame to frame, plus a little noise.
            let value = ((i * 3 + frame * 11) % 200 + (state % 24) as usize) as u16;
            if high {
                bytes.extend_from_slice(&(value * 4).to_le_bytes());
            } else {
                bytes.push(value as u8);
            }
        }
    }
    bytes
}

fn reader(bytes: &[u8]) -> Y4mReader<Cursor<Vec<u8>>> {
    Y4mReader::new(Cursor::new(bytes.to_vec()), "memory".into()).expect("valid header")
}

#[test]
fn recycled_frames_give_the_features_of_fresh_ones() {
    for bit_depth in [8, 10] {
        features_of_recycled_frames_equal_fresh_ones(FrameFormat { width: 67, height: 41, bit_depth });
    }
}

fn features_of_recycled_frames_equal_fresh_ones(format: FrameFormat) {
    let (reference, distorted) = (y4m_stream(format, 14, 7), y4m_stream(format, 14, 99));
    let in_memory = |bytes: &[u8]| {
        let mut source = reader(bytes);
        let frames = std::iter::from_fn(|| source.next_frame().expect("decodes")).collect();
        Box::new(MemorySource::new(format, frames, "memory").expect("one format"))
    };
    let options = |threads| VmafOptions {
        threads,
        features: FeatureSelection { psnr: true, ssim: true },
        ..VmafOptions::default()
    };
    let simd = SimdLevel::detect();
    let expected =
        frame_features_of_streams(in_memory(&reference), in_memory(&distorted), &options(1), simd).expect("features");
    assert_eq!(expected.len(), 14);
    for threads in [1, 2, 5] {
        let streamed =
            frame_features_of_streams(Box::new(reader(&reference)), Box::new(reader(&distorted)), &options(threads), simd)
                .expect("features");
        assert_eq!(streamed, expected, "{} bits, {threads} threads", format.bit_depth);
    }
}
