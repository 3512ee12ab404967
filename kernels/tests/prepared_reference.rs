//! A [`PreparedReference`] (and the scratch beside it) reused from frame to frame, through
//! frames of other sizes and bit depths, scores every pair exactly as fresh ones do, at every
//! SIMD level this CPU has; several distorted frames scored at once against it (VIF's row
//! passes over the reference shared) score each as alone, a failing one keeping its error;
//! a reference prepared for its motion only refuses to score.

use proptest::prelude::*;
use shotfarm_kernels::frame_features::{FeatureScratch, MetricError, PreparedReference, features_against, features_against_each};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::{FeatureSelection, Frame};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Up to 6 distorted frames scored together against one reference give, each, at every
    /// SIMD level, the features of that pair scored alone (with a reference and scratch of
    /// its own): the reference's moments filtered once per row serve every stream alike.
    #[test]
    fn distorted_frames_scored_together_score_as_alone(
        w in 33usize..90, h in 33usize..60, depth in prop::sample::select(vec![8u8, 10]), seed in 1u64..1000, streams in 1usize..7,
    ) {
        let selection = Some(FeatureSelection { psnr: true, ssim: true });
        let reference = noise_frame(w, h, depth, seed, 6);
        let distorted: Vec<Frame> = (0..streams).map(|k| noise_frame(w, h, depth, seed + 10 + k as u64, [2, 30, 250][k % 3])).collect();
        let distorted: Vec<&Frame> = distorted.iter().collect();
        for simd in SimdLevel::available() {
            let (mut prepared, mut scratch) = (PreparedReference::default(), FeatureScratch::default());
            prepared.prepare(&reference, None, selection, simd, &mut scratch).expect("prepares");
            let together = features_against_each(&reference, &prepared, &distorted, simd, &mut scratch);
            prop_assert_eq!(together.len(), streams);
            for (k, (together, &d)) in together.into_iter().zip(&distorted).enumerate() {
                let (mut alone_prepared, mut alone_scratch) = (PreparedReference::default(), FeatureScratch::default());
                alone_prepared.prepare(&reference, None, selection, simd, &mut alone_scratch).expect("prepares");
                let alone = features_against(&reference, &alone_prepared, d, simd, &mut alone_scratch);
                prop_assert_eq!(together, alone, "stream {} of {} ({}x{}, {} bits) at {}", k, streams, w, h, depth, simd.name());
            }
        }
    }
}

#[test]
fn a_frame_that_cannot_be_scored_keeps_its_error_among_others_scored_together() {
    let selection = Some(FeatureSelection { psnr: false, ssim: true });
    let reference = noise_frame(64, 48, 8, 5, 4);
    let (good, other_size, other_depth) = (noise_frame(64, 48, 8, 6, 40), noise_frame(48, 48, 8, 7, 40), noise_frame(64, 48, 10, 8, 40));
    let (mut prepared, mut scratch) = (PreparedReference::default(), FeatureScratch::default());
    prepared.prepare(&reference, None, selection, SimdLevel::detect(), &mut scratch).expect("prepares");
    let results = features_against_each(&reference, &prepared, &[&other_size, &good, &other_depth, &good], SimdLevel::detect(), &mut scratch);
    let alone = features_against(&reference, &prepared, &good, SimdLevel::detect(), &mut scratch);
    assert_eq!(results[0], Err(MetricError::SizeMismatch { ref_w: 64, ref_h: 48, dis_w: 48, dis_h: 48 }));
    assert_eq!(results[1], alone);
    assert_eq!(results[2], Err(MetricError::BitDepthMismatch { reference: 8, distorted: 10 }));
    assert_eq!(results[3], alone);
    assert!(alone.is_ok());
}

#[test]
fn a_reference_prepared_for_its_motion_only_refuses_to_score() {
    let (mut prepared, mut scratch) = (PreparedReference::default(), FeatureScratch::default());
    let (reference, distorted) = (noise_frame(48, 40, 8, 3, 4), noise_frame(48, 40, 8, 4, 30));
    prepared.prepare(&reference, None, None, SimdLevel::Scalar, &mut scratch).expect("prepares");
    assert_eq!(features_against(&reference, &prepared, &distorted, SimdLevel::Scalar, &mut scratch), Err(MetricError::MotionOnlyReference));
}
