use proptest::prelude::*;
use shotfarm_proto::analysis::TrialQuality;
use shotfarm_proto::pipeline::Chunk;

use super::*;

const SETTINGS: [f64; 5] = [18.0, 23.0, 28.0, 33.0, 38.0];
const SIZES: [(u32, u32); 3] = [(1280, 720), (854, 480), (568, 320)];

fn source() -> LadderSource {
    LadderSource { frame_rate_num: 24, frame_rate_den: 1, ..LadderSource::square(1280, 720) }
}

fn quality(vmaf: f64) -> TrialQuality {
    TrialQuality { vmaf_mean: vmaf, vmaf_harmonic_mean: vmaf, vmaf_min: vmaf, vmaf_p1: vmaf, scored_frames: 12 }
}

/// A plausible rate–quality surface: bits halve every 6 settings and grow with the picture
/// and the content's `complexity`; VMAF falls with the setting, faster for complex content
/// (as its square: a complex shot loses quality faster than it saves bits), and a smaller
/// picture loses detail (a ceiling below 100).
fn chunk_trials(index: u32, frames: u64, complexity: f64, sizes: &[(u32, u32)]) -> Vec<ChunkTrials> {
    let chunk = Chunk { index, start_frame: u64::from(index) * 1000, end_frame: u64::from(index) * 1000 + frames, span_us: None };
    sizes
        .iter()
        .map(|&(width, height)| {
            let pixels = f64::from(width * height);
            let ceiling = 100.0 - 12.0 * (921_600.0 / pixels).log2();
            let trials = SETTINGS
                .iter()
                .map(|&setting| {
                    let bits = pixels * frames as f64 * 0.08 * complexity * 2f64.powf(-(setting - 18.0) / 6.0);
                    let vmaf = (ceiling - (setting - 18.0) * 0.5 * complexity * complexity).clamp(0.0, 100.0);
                    TrialOutcome { width, height, setting, bits: bits as u64, frames, quality: quality(vmaf) }
                })
                .collect();
            ChunkTrials { chunk, codec: Codec::H264, trials }
        })
        .collect()
}

fn recipe(ladder: LadderKind) -> LadderRecipe {
    LadderRecipe { ladder, ..LadderRecipe::default() }
}

fn analysis() -> Vec<ChunkTrials> {
    [chunk_trials(0, 48, 0.6, &SIZES), chunk_trials(1, 72, 1.6, &SIZES), chunk_trials(2, 24, 1.0, &SIZES)].concat()
}

#[test]
fn per_title_rungs_fall_in_bitrate_and_quality_within_the_source() {
    let made = title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerTitle), &analysis(), 96).unwrap();
    assert!(made.rungs.len() >= 3, "{:?}", made.rungs);
    assert_eq!(made.rungs.len(), made.decision.rungs.len());
    for pair in made.rungs.windows(2) {
        assert!(pair[0].bitrate_kbps > pair[1].bitrate_kbps, "{pair:?}");
        assert!(u64::from(pair[0].width) * u64::from(pair[0].height) >= u64::from(pair[1].width) * u64::from(pair[1].height), "{pair:?}");
    }
    for pair in made.decision.rungs.windows(2) {
        assert!(pair[0].predicted_vmaf >= pair[1].predicted_vmaf);
    }
    assert!(made.rungs.iter().all(|rung| rung.width <= 1280 && rung.height <= 720 && rung.maxrate_kbps >= rung.bitrate_kbps));
    assert!((made.decision.rungs[0].predicted_vmaf - 95.0).abs() < 0.01, "the top rung sits on the target: {:?}", made.decision.rungs[0]);
    assert!(made.decision.rungs.iter().all(|rung| rung.chunk_settings.is_empty()), "per title, the one title setting for every chunk");
    let mut names: Vec<&str> = made.rungs.iter().map(|rung| rung.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), made.rungs.len(), "unique names");
    assert!(made.rungs[0].name.starts_with("h264_720p"));
}

/// The bits and mean VMAF of every chunk at one setting of the rung's size (densified).
fn uniform(analysis: &[ChunkTrials], width: u32, height: u32, setting: f64) -> (f64, f64) {
    let mut chunks: Vec<(u64, Vec<ShotTrial>)> = Vec::new();
    for trials in analysis {
        let mut own: Vec<ShotTrial> = trials.trials.iter().filter(|trial| (trial.width, trial.height) == (width, height)).map(|trial| ShotTrial { setting: trial.setting, bits: trial.bits as f64, vmaf: trial.quality.vmaf_mean }).collect();
        if own.is_empty() {
            continue;
        }
        own.sort_by(|a, b| a.setting.total_cmp(&b.setting));
        chunks.push((trials.chunk.frames(), densified(&own)));
    }
    let frames: u64 = chunks.iter().map(|(frames, _)| frames).sum();
    let at = |trials: &[ShotTrial]| *trials.iter().find(|trial| trial.setting == setting).expect("a whole setting");
    let bits = chunks.iter().map(|(_, trials)| at(trials).bits).sum();
    let vmaf = chunks.iter().map(|(frames, trials)| at(trials).vmaf * *frames as f64).sum::<f64>() / frames as f64;
    (bits, vmaf)
}

#[test]
fn per_shot_gives_each_chunk_its_setting_for_the_rung_quality_at_fewer_bits() {
    let analysis = analysis();
    let per_title = title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerTitle), &analysis, 96).unwrap();
    let per_shot = title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerShot), &analysis, 96).unwrap();
    assert_eq!(per_title.rungs.len(), per_shot.rungs.len());
    let seconds = 144.0 / 24.0;
    for ((title, shot), rung) in per_title.decision.rungs.iter().zip(&per_shot.decision.rungs).zip(&per_shot.rungs) {
        assert_eq!(shot.chunk_settings.len(), 3);
        assert!(shot.predicted_vmaf >= title.predicted_vmaf - 1e-9, "{shot:?} below {title:?}");
        // No single setting for every chunk reaches that quality with fewer bits.
        let best_uniform = (18..=38)
            .map(|setting| uniform(&analysis, rung.width, rung.height, f64::from(setting)))
            .filter(|&(bits, vmaf)| bits > 0.0 && vmaf >= shot.predicted_vmaf)
            .map(|(bits, _)| bits / seconds / 1000.0)
            .fold(f64::INFINITY, f64::min);
        if best_uniform.is_finite() {
            assert!(shot.predicted_bitrate_kbps <= best_uniform + 1e-6, "{shot:?} costs more than one setting for all ({best_uniform} kb/s)");
        }
    }
    // The simple chunk gets a coarser setting than the complex one (equal slope).
    let top = &per_shot.decision.rungs[0];
    assert!(top.chunk_settings[0] > top.chunk_settings[1], "{top:?}");
    assert!(per_shot.rungs.iter().all(|rung| rung.maxrate_kbps >= rung.bitrate_kbps));
}

#[test]
fn per_shot_needs_every_chunk_and_missing_trials_are_errors() {
    let mut analysis = analysis();
    analysis.retain(|trials| trials.chunk.index != 1);
    let error = title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerShot), &analysis, 96).unwrap_err();
    assert_eq!(error, TitleLadderError::ChunkNotAnalysed(1));
    assert!(title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerTitle), &analysis, 96).is_ok(), "per-title works from a sample of chunks");
    assert_eq!(title_ladder(&source(), Codec::Hevc, &recipe(LadderKind::PerTitle), &analysis, 96).unwrap_err(), TitleLadderError::NoAnalysis(Codec::Hevc));
    // Chunks tried at different sizes share no point.
    let disjoint = [chunk_trials(0, 48, 1.0, &SIZES[..1]), chunk_trials(1, 48, 1.0, &SIZES[1..])].concat();
    assert_eq!(title_ladder(&source(), Codec::H264, &recipe(LadderKind::PerTitle), &disjoint, 96).unwrap_err(), TitleLadderError::NoCommonTrials);
}

#[test]
fn densified_settings_interpolate_between_trials() {
    let dense = densified(&[ShotTrial { setting: 18.0, bits: 800.0, vmaf: 96.0 }, ShotTrial { setting: 20.0, bits: 200.0, vmaf: 90.0 }]);
    assert_eq!(dense.iter().map(|trial| trial.setting).collect::<Vec<_>>(), vec![18.0, 19.0, 20.0]);
    assert!((dense[1].bits - 400.0).abs() < 1e-9 && (dense[1].vmaf - 93.0).abs() < 1e-9, "{dense:?}");
}

proptest! {
    #[test]
    fn any_analysis_gives_monotone_rungs_within_the_source_and_spacing(
        complexities in prop::collection::vec(0.2f64..3.0, 1..5),
        spacing in 1.2f64..3.0,
        target in 60.0f64..99.0,
        per_shot in any::<bool>(),
    ) {
        let analysis: Vec<ChunkTrials> = complexities.iter().enumerate().flat_map(|(index, &complexity)| chunk_trials(index as u32, 24 + 12 * index as u64, complexity, &SIZES)).collect();
        let ladder = if per_shot { LadderKind::PerShot } else { LadderKind::PerTitle };
        let recipe = LadderRecipe { ladder, spacing, target_vmaf: target, ..LadderRecipe::default() };
        let made = title_ladder(&source(), Codec::H264, &recipe, &analysis, 96).unwrap();
        prop_assert!(!made.rungs.is_empty() && made.rungs.len() <= DEFAULT_MAX_RUNGS);
        for rung in &made.rungs {
            prop_assert!(rung.width <= 1280 && rung.height <= 720);
        }
        for pair in made.decision.rungs.windows(2) {
            prop_assert!(pair[0].predicted_vmaf >= pair[1].predicted_vmaf - 1e-9);
            // The hull's bitrates keep the spacing; the predictions (from each chunk's own curve,
            // log-linear in the setting) only fall.
            prop_assert!(pair[0].predicted_bitrate_kbps >= pair[1].predicted_bitrate_kbps, "{pair:?} at spacing {spacing}");
        }
    }
}
