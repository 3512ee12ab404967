//! Property tests on random frames of odd sizes: every SIMD path equals the scalar
//! reference, any thread count gives the same features as one thread, and a subsampled run
//! scores its frames as a full run does.

use proptest::prelude::*;
use shotfarm_kernels::adm::{AdmScratch, adm_at};
use shotfarm_kernels::decode::frame_source::MemorySource;
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad, blurred_difference_sad_at, blurred_difference_sad_scalar};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::ssim::{SsimScratch, ssim};
use shotfarm_kernels::vif::{VifScratch, vif};
use shotfarm_kernels::vmaf::{VmafOptions, frame_features_of_streams};
use shotfarm_kernels::vmaf_streams;
use shotfarm_kernels::{FeatureSelection, Frame, FrameFormat, Plane};

mod support {
    pub mod noise_frames;
}
use support::noise_frames::{noise_frame, noise_plane, noise_plane8};

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn simd_equals_scalar_8bit(w in 33usize..90, h in 33usize..70, seed in 1u64..1000, noise in 1u16..60) {
        let r = noise_plane8(w, h, seed, 4);
        let d = noise_plane8(w, h, seed * 31 + 7, noise);
        let scalar_vif = vif(&r, &d, 8, SimdLevel::Scalar, &mut VifScratch::default());
        let scalar_adm = adm_at(&r, &d, 8, SimdLevel::Scalar, &mut AdmScratch::default());
        let scalar_sad = blurred_difference_sad_scalar(&r, &d, 8, &mut MotionScratch::default());
        for level in SimdLevel::available() {
            prop_assert_eq!(vif(&r, &d, 8, level, &mut VifScratch::default()), scalar_vif, "vif {}", level.name());
            prop_assert_eq!(adm_at(&r, &d, 8, level, &mut AdmScratch::default()), scalar_adm, "adm {}", level.name());
        }
        prop_assert_eq!(blurred_difference_sad(&r, &d, 8, &mut MotionScratch::default()), scalar_sad);
    }

    #[test]
    fn simd_equals_scalar_10bit(w in 33usize..80, h in 33usize..60, seed in 1u64..1000, noise in 1u16..200) {
        let r = noise_plane(w, h, 10, seed, 8);
        let d = noise_plane(w, h, 10, seed * 17 + 3, noise);
        let scalar_vif = vif(&r, &d, 10, SimdLevel::Scalar, &mut VifScratch::default());
        let scalar_adm = adm_at(&r, &d, 10, SimdLevel::Scalar, &mut AdmScratch::default());
        for level in SimdLevel::available() {
            prop_assert_eq!(vif(&r, &d, 10, level, &mut VifScratch::default()), scalar_vif, "vif {}", level.name());
            prop_assert_eq!(adm_at(&r, &d, 10, level, &mut AdmScratch::default()), scalar_adm, "adm {}", level.name());
        }
        prop_assert_eq!(
            blurred_difference_sad(&r, &d, 10, &mut MotionScratch::default()),
            blurred_difference_sad_scalar(&r, &d, 10, &mut MotionScratch::default())
        );
    }

    /// Full-range noise (the DWT's extreme sums) on widths spanning several vectors.
    #[test]
    fn adm_and_motion_simd_equal_scalar_on_full_range_noise(
        w in 33usize..300,
        h in 33usize..64,
        seed in 1u64..1000,
        ten_bit in any::<bool>(),
    ) {
        if ten_bit {
            let r = noise_plane(w, h, 10, seed, 1024);
            let d = noise_plane(w, h, 10, seed * 13 + 5, 1024);
            let scalar = adm_at(&r, &d, 10, SimdLevel::Scalar, &mut AdmScratch::default());
            for level in SimdLevel::available() {
                prop_assert_eq!(adm_at(&r, &d, 10, level, &mut AdmScratch::default()), scalar, "adm {}", level.name());
            }
            prop_assert_eq!(
                blurred_difference_sad(&r, &d, 10, &mut MotionScratch::default()),
                blurred_difference_sad_scalar(&r, &d, 10, &mut MotionScratch::default())
            );
        } else {
            let r = noise_plane8(w, h, seed, 256);
            let d = noise_plane8(w, h, seed * 13 + 5, 256);
            let scalar = adm_at(&r, &d, 8, SimdLevel::Scalar, &mut AdmScratch::default());
            for level in SimdLevel::available() {
                prop_assert_eq!(adm_at(&r, &d, 8, level, &mut AdmScratch::default()), scalar, "adm {}", level.name());
            }
            prop_assert_eq!(
                blurred_difference_sad(&r, &d, 8, &mut MotionScratch::default()),
                blurred_difference_sad_scalar(&r, &d, 8, &mut MotionScratch::default())
            );
        }
    }

    /// VIF on full-range noise and on flat planes at 8, 10, 12 and 16 bits: the widest
    /// moments the AVX2 passes see (every pyramid level, widths not a multiple of 8).
    #[test]
    fn vif_simd_equals_scalar_on_full_range_noise(
        w in 16usize..140,
        h in 16usize..40,
        seed in 1u64..1000,
        depth in prop::sample::select(vec![8u8, 10, 12, 16]),
        flat in any::<bool>(),
    ) {
        let noise = if flat { 1 } else { (1u32 << depth).min(65535) as u16 };
        if depth == 8 {
            let (r, d) = (noise_plane8(w, h, seed, noise), noise_plane8(w, h, seed * 13 + 5, noise));
            let scalar = vif(&r, &d, 8, SimdLevel::Scalar, &mut VifScratch::default());
            for level in SimdLevel::available() {
                prop_assert_eq!(vif(&r, &d, 8, level, &mut VifScratch::default()), scalar, "vif {}", level.name());
            }
        } else {
            let (r, d) = (noise_plane(w, h, depth, seed, noise), noise_plane(w, h, depth, seed * 13 + 5, noise));
            let scalar = vif(&r, &d, depth, SimdLevel::Scalar, &mut VifScratch::default());
            for level in SimdLevel::available() {
                prop_assert_eq!(vif(&r, &d, depth, level, &mut VifScratch::default()), scalar, "vif {}", level.name());
            }
        }
    }

    /// Each level forced in turn (AVX-512, AVX2, scalar: whichever this CPU has) on random
    /// pixels of odd sizes down to the smallest VMAF takes (33x33), 8 and 10 bits: VIF,
    /// ADM, SSIM and the motion SAD all equal the scalar reference's, bit for bit.
    #[test]
    fn every_forced_level_equals_scalar_on_odd_and_tiny_frames(
        w in 33usize..260,
        h in 33usize..48,
        seed in 1u64..1000,
        ten_bit in any::<bool>(),
        smooth in any::<bool>(),
    ) {
        let depth = if ten_bit { 10 } else { 8 };
        let noise = if smooth { 9 } else { 1 << depth };
        let (r, d) = (noise_plane(w, h, depth, seed, noise), noise_plane(w, h, depth, seed * 7 + 3, noise));
        if ten_bit {
            check_every_level(&r, &d, depth)?;
        } else {
            let narrow = |p: &Plane<u16>| Plane::from_vec(w, h, p.data().iter().map(|&v| v as u8).collect()).expect("size matches");
            check_every_level(&narrow(&r), &narrow(&d), depth)?;
        }
    }

    #[test]
    fn thread_count_does_not_change_features(w in 33usize..70, h in 33usize..50, seed in 1u64..1000, n in 2usize..7) {
        let format = FrameFormat { width: w, height: h, bit_depth: 8 };
        let refs: Vec<Frame> = (0..n).map(|i| noise_frame(w, h, 8, seed + i as u64 * 101, 3)).collect();
        let dists: Vec<Frame> = (0..n).map(|i| noise_frame(w, h, 8, seed + i as u64 * 101 + 50, 20)).collect();
        let run = |threads: usize| {
            let options = VmafOptions {
                threads,
                features: FeatureSelection { psnr: true, ssim: true },
                ..VmafOptions::default()
            };
            let r = MemorySource::new(format, refs.clone(), "ref").expect("formats agree");
            let d = MemorySource::new(format, dists.clone(), "dis").expect("formats agree");
            frame_features_of_streams(Box::new(r), Box::new(d), &options, SimdLevel::detect()).expect("features")
        };
        let one = run(1);
        prop_assert_eq!(one.len(), n);
        prop_assert_eq!(run(3), one.clone());
        prop_assert_eq!(run(8), one);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A subsampled run scores frames 0, n, 2n… with exactly the VMAF (motion2 included,
    /// which reads the frame after) and PSNR a full run gives them, at any thread count.
    #[test]
    fn subsampled_runs_score_their_frames_as_a_full_run_does(w in 33usize..60, h in 33usize..48, seed in 1u64..1000, frames in 1usize..9, step in 2u64..5, threads in 1usize..4) {
        let format = FrameFormat { width: w, height: h, bit_depth: 8 };
        let refs: Vec<Frame> = (0..frames).map(|i| noise_frame(w, h, 8, seed + i as u64 * 101, 3)).collect();
        let dists: Vec<Frame> = (0..frames).map(|i| noise_frame(w, h, 8, seed + i as u64 * 101 + 50, 20)).collect();
        let run = |subsample: u64| {
            let options = VmafOptions { threads, subsample, features: FeatureSelection { psnr: true, ssim: false }, ..VmafOptions::default() };
            let r = MemorySource::new(format, refs.clone(), "ref").expect("formats agree");
            let d = MemorySource::new(format, dists.clone(), "dis").expect("formats agree");
            vmaf_streams(Box::new(r), Box::new(d), &options).expect("scores").frames
        };
        let full = run(1);
        let expected: Vec<_> = full.into_iter().filter(|frame| (frame.frame_num as u64).is_multiple_of(step)).collect();
        prop_assert_eq!(expected.len(), frames.div_ceil(step as usize));
        prop_assert_eq!(run(step), expected);
    }
}

/// VIF, ADM, SSIM and the motion SAD of `r`, `d` at every level available equal the scalar's.
fn check_every_level<T: shotfarm_kernels::sample::Sample>(r: &Plane<T>, d: &Plane<T>, depth: u8) -> Result<(), TestCaseError> {
    let vif_scalar = vif(r, d, depth, SimdLevel::Scalar, &mut VifScratch::default());
    let adm_scalar = adm_at(r, d, depth, SimdLevel::Scalar, &mut AdmScratch::default());
    let sad_scalar = blurred_difference_sad_scalar(r, d, depth, &mut MotionScratch::default());
    let ssim_scalar = ssim(r, d, depth, SimdLevel::Scalar, &mut SsimScratch::default());
    for level in SimdLevel::available() {
        let ssim = ssim(r, d, depth, level, &mut SsimScratch::default());
        prop_assert_eq!(ssim.to_bits(), ssim_scalar.to_bits(), "ssim {}: {} against {}", level.name(), ssim, ssim_scalar);
        prop_assert_eq!(vif(r, d, depth, level, &mut VifScratch::default()), vif_scalar, "vif {}", level.name());
        prop_assert_eq!(adm_at(r, d, depth, level, &mut AdmScratch::default()), adm_scalar, "adm {}", level.name());
        let sad = blurred_difference_sad_at(r, d, depth, level, &mut MotionScratch::default());
        prop_assert_eq!(sad, sad_scalar, "motion {}", level.name());
    }
    Ok(())
}

#[test]
fn frame_count_mismatch_names_both_counts() {
    let format = FrameFormat { width: 40, height: 36, bit_depth: 8 };
    let r = MemorySource::new(format, (0..4).map(|i| noise_frame(40, 36, 8, i, 3)).collect(), "ref").expect("ok");
    let d = MemorySource::new(format, (0..3).map(|i| noise_frame(40, 36, 8, i + 9, 3)).collect(), "dis").expect("ok");
    let err = shotfarm_kernels::vmaf_streams(Box::new(r), Box::new(d), &VmafOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains('4') && text.contains('3') && text.contains("mismatch"), "{text}");
}

#[test]
fn too_small_frames_are_rejected() {
    let format = FrameFormat { width: 20, height: 36, bit_depth: 8 };
    let r = MemorySource::new(format, vec![noise_frame(20, 36, 8, 1, 3)], "ref").expect("ok");
    let d = MemorySource::new(format, vec![noise_frame(20, 36, 8, 2, 3)], "dis").expect("ok");
    let err = shotfarm_kernels::vmaf_streams(Box::new(r), Box::new(d), &VmafOptions::default()).unwrap_err();
    assert!(err.to_string().contains("too small"), "{err}");
}
