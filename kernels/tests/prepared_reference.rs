//! A [`PreparedReference`] (and the scratch beside it) reused from frame to frame, through
//! frames of other sizes and bit depths, scores every pair exactly as fresh ones do, at every
//! SIMD level this CPU has; a reference prepared for its motion only refuses to score.

use shotfarm_kernels::frame_features::{FeatureScratch, MetricError, PreparedReference, features_against};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::{FeatureSelection, Frame, Plane, YuvFrame};

/// A `w x h` frame of pseudo-random samples of `depth` bits over a ramp.
fn frame(w: usize, h: usize, depth: u8, seed: u64, noise: u32) -> Frame {
    let mut state = seed | 1;
    let max = (1u32 << depth) - 1;
    let mut plane = |w: usize, h: usize| -> Vec<u16> {
        (0..w * h)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let base = ((i % w) as u32 * 5 + (i / w) as u32 * 3) % (max + 1);
                (base + (state % u64::from(noise)) as u32).min(max) as u16
            })
            .collect()
    };
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let planes = [plane(w, h), plane(cw, ch), plane(cw, ch)];
    let sizes = [(w, h), (cw, ch), (cw, ch)];
    if depth == 8 {
        let planes = std::array::from_fn(|k| Plane::from_vec(sizes[k].0, sizes[k].1, planes[k].iter().map(|&v| v as u8).collect()).expect("size matches"));
        Frame::Eight(YuvFrame::from_planes(8, planes).expect("4:2:0 sizes"))
    } else {
        let planes = std::array::from_fn(|k| Plane::from_vec(sizes[k].0, sizes[k].1, planes[k].clone()).expect("size matches"));
        Frame::High(YuvFrame::from_planes(depth, planes).expect("4:2:0 sizes"))
    }
}

#[test]
fn a_reused_prepared_reference_scores_as_a_fresh_one() {
    let selection = Some(FeatureSelection { psnr: true, ssim: true });
    // Large, small, large again, then another depth: the reused buffers keep the largest
    // size and hold the last frame's values beyond the current one.
    let sizes = [(97, 71, 8), (40, 36, 8), (97, 71, 8), (64, 50, 10), (33, 33, 10), (97, 71, 8)];
    for simd in SimdLevel::available() {
        let (mut prepared, mut scratch) = (PreparedReference::default(), FeatureScratch::default());
        for (i, &(w, h, depth)) in sizes.iter().enumerate() {
            let seed = 7 + i as u64 * 31;
            let reference = frame(w, h, depth, seed, 4);
            let distorted = [frame(w, h, depth, seed + 1, 40), frame(w, h, depth, seed + 2, 200)];
            prepared.prepare(&reference, None, selection, simd, &mut scratch).expect("prepares");
            for d in &distorted {
                let reused = features_against(&reference, &prepared, d, simd, &mut scratch).expect("scores");
                let (mut fresh_prepared, mut fresh_scratch) = (PreparedReference::default(), FeatureScratch::default());
                fresh_prepared.prepare(&reference, None, selection, simd, &mut fresh_scratch).expect("prepares");
                let fresh = features_against(&reference, &fresh_prepared, d, simd, &mut fresh_scratch).expect("scores");
                assert_eq!(reused, fresh, "frame {i} ({w}x{h}, {depth} bits) at {}", simd.name());
            }
        }
    }
}

#[test]
fn a_reference_prepared_for_its_motion_only_refuses_to_score() {
    let (mut prepared, mut scratch) = (PreparedReference::default(), FeatureScratch::default());
    let (reference, distorted) = (frame(48, 40, 8, 3, 4), frame(48, 40, 8, 4, 30));
    prepared.prepare(&reference, None, None, SimdLevel::Scalar, &mut scratch).expect("prepares");
    assert_eq!(features_against(&reference, &prepared, &distorted, SimdLevel::Scalar, &mut scratch), Err(MetricError::MotionOnlyReference));
}
