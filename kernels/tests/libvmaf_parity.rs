//! Parity with Netflix's libvmaf on every clip pair of the yardstick in `shared/vmaf`.
//!
//! Frames are decoded in the test through the ffmpeg reader (the distorted 540p clips are
//! scaled to 1080p with bit-exact bicubic, as `regen_y4m.sh` does). Clips up to
//! 854x480 are checked on all frames (pooled values too); 720p and 1080p on their first frames, plus
//! one frame of look-ahead for motion2, to keep the run short.
//!
//! Targets: integer features equal to libvmaf's printed 6 decimals on every frame, PSNR
//! likewise, SSIM within 1e-6, per-frame VMAF within 1e-4, pooled mean within 1e-4.
//! `cargo test -p shotfarm-kernels --test libvmaf_parity -- --nocapture` prints the
//! largest differences, also against libvmaf's full-precision output.

mod yardstick;

use shotfarm_kernels::FeatureSelection;
use shotfarm_kernels::model::VmafModel;
use shotfarm_kernels::report::FrameReport;
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::vmaf::{self, VmafOptions};

/// 1080p frames checked per pair (the first ones).
const FRAMES_1080P: usize = 5;

/// Half a unit of the 6th decimal, plus room for the binary representation.
const SIX_DECIMALS: f64 = 5e-7 + 1e-12;

/// Integer features, compared to the 6-decimal print.
const INTEGER_FEATURES: [&str; 10] = [
    "integer_vif_scale0",
    "integer_vif_scale1",
    "integer_vif_scale2",
    "integer_vif_scale3",
    "integer_adm2",
    "integer_adm_scale0",
    "integer_adm_scale1",
    "integer_adm_scale2",
    "integer_adm_scale3",
    "integer_motion2",
];

fn ours(frame: &FrameReport, name: &str) -> f64 {
    frame.metrics().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no {name}"))
}

/// Computes one pair and checks it; returns (metric, max |Δ| vs the 6-decimal print, max |Δ| vs full precision).
fn check_pair(distorted: &str, limit: Option<usize>) -> Vec<(String, f64, f64)> {
    let (ref_path, dis_path) = yardstick::clip_paths(distorted);
    let printed = yardstick::libvmaf_json("vmaf_v0.6.1_psnr_ssim", distorted);
    let full = yardstick::libvmaf_json("vmaf_v0.6.1_fullprec", distorted);
    let total = yardstick::frame_count(&printed);
    let checked = limit.map_or(total, |l| l.min(total));
    let options = VmafOptions {
        threads: 1,
        features: FeatureSelection { psnr: true, ssim: true },
        // One more frame than checked: motion2 looks one frame ahead.
        max_frames: limit.map(|l| (l + 1) as u64),
        ..VmafOptions::default()
    };
    let programs = shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms::on_path();
    let reference = vmaf::open_source(&programs, &ref_path, None).expect("reference decodes");
    let dist = vmaf::open_source(&programs, &dis_path, Some(reference.format())).expect("distorted decodes");
    let features = vmaf::frame_features_of_streams(reference, dist, &options, SimdLevel::detect()).expect("features");
    if limit.is_none() {
        assert_eq!(features.len(), total, "{distorted}: frame count differs from libvmaf's");
    }
    let frames = vmaf::score_features(&features, &VmafModel::v061().expect("model"));

    let mut out = Vec::new();
    let mut record = |name: &str, tolerance: f64, has_full: bool| {
        let (mut worst, mut worst_full) = (0.0f64, 0.0f64);
        for (i, frame) in frames.iter().take(checked).enumerate() {
            let v = ours(frame, name);
            let expected = yardstick::frame_metric(&printed, i, name);
            let d = (v - expected).abs();
            assert!(d <= tolerance, "{distorted} frame {i} {name}: ours {v:.9} libvmaf {expected:.6} (|Δ| {d:.2e})");
            worst = worst.max(d);
            if has_full {
                worst_full = worst_full.max((v - yardstick::frame_metric(&full, i, name)).abs());
            }
        }
        out.push((name.to_string(), worst, worst_full));
    };
    for name in INTEGER_FEATURES {
        record(name, SIX_DECIMALS, true);
    }
    for name in ["psnr_y", "psnr_cb", "psnr_cr"] {
        record(name, SIX_DECIMALS, false);
    }
    record("float_ssim", 1e-6 + SIX_DECIMALS, false);
    record("vmaf", 1e-4, true);

    if checked == total {
        let ours_vmaf: Vec<f64> = frames.iter().map(|f| f.vmaf).collect();
        let pooled = shotfarm_kernels::pooling::Pooled::of(&ours_vmaf).expect("frames");
        let expected = printed["pooled_metrics"]["vmaf"]["mean"].as_f64().expect("pooled vmaf mean");
        let d = (pooled.mean - expected).abs();
        assert!(d <= 1e-4, "{distorted}: pooled vmaf mean {} vs libvmaf {expected} (|Δ| {d:.2e})", pooled.mean);
        let hm = printed["pooled_metrics"]["vmaf"]["harmonic_mean"].as_f64().expect("harmonic mean");
        assert!((pooled.harmonic_mean - hm).abs() <= 1e-4, "{distorted}: harmonic mean {} vs {hm}", pooled.harmonic_mean);
        out.push(("pooled_vmaf_mean".into(), d, 0.0));
    }
    out
}

fn check_clip(prefix: &str, limit: Option<usize>) {
    let names: Vec<String> = yardstick::distorted_names().into_iter().filter(|n| n.starts_with(prefix)).collect();
    assert!(!names.is_empty(), "no yardstick pairs for {prefix}");
    let mut worst: Vec<(String, f64, f64)> = Vec::new();
    for name in &names {
        for (metric, d, df) in check_pair(name, limit) {
            match worst.iter_mut().find(|(m, _, _)| *m == metric) {
                Some(w) => {
                    w.1 = w.1.max(d);
                    w.2 = w.2.max(df);
                }
                None => worst.push((metric, d, df)),
            }
        }
    }
    println!("{prefix}: {} pairs, frames {}", names.len(), limit.map_or("all".to_string(), |l| format!("0..{l}")));
    for (metric, d, df) in worst {
        println!("  {metric:<22} max|Δ| vs printed {d:.3e}   vs full precision {df:.3e}");
    }
}

#[test]
fn c14_life_426x240_all_frames() {
    check_clip("c14_", None);
}

#[test]
fn c11_testsrc_640x360_all_frames() {
    check_clip("c11_", None);
}

#[test]
fn c12_mandelbrot_854x480_all_frames() {
    check_clip("c12_", None);
}

/// 720p: the first 24 frames (two scene cuts) keep the suite within its CI budget.
#[test]
fn c13_scenecuts_1280x720_first_frames() {
    check_clip("c13_", Some(24));
}

#[test]
fn c01_testsrc2_1080p_first_frames() {
    check_clip("c01_", Some(FRAMES_1080P));
}

#[test]
fn c03_bars_static_noise_1080p_first_frames() {
    check_clip("c03_", Some(FRAMES_1080P));
}
