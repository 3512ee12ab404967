//! A [`PreparedReference`] (and the scratch beside it) reused from frame to frame, through
//! frames of other sizes and bit depths, scores every pair exactly as fresh ones do, at every
//! SIMD level this CPU has; a reference prepared for its motion only refuses to score.

use shotfarm_kernels::frame_features::{FeatureScratch, MetricError, PreparedReference, features_against};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::FeatureSelection;

mod support {
    pub mod noise_frames;
}
use support::noise_frames::noise_frame;

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
            let reference = noise_frame(w, h, depth, seed, 4);
            let distorted = [noise_frame(w, h, depth, seed + 1, 40), noise_frame(w, h, depth, seed + 2, 200)];
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
    let (reference, distorted) = (noise_frame(48, 40, 8, 3, 4), noise_frame(48, 40, 8, 4, 30));
    prepared.prepare(&reference, None, None, SimdLevel::Scalar, &mut scratch).expect("prepares");
    assert_eq!(features_against(&reference, &prepared, &distorted, SimdLevel::Scalar, &mut scratch), Err(MetricError::MotionOnlyReference));
}
