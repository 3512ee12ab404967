//! The per-title and per-shot ladders of one codec, from the analyze stage's trials.
//!
//! 1. **Title points.** A (size, setting) pair tried on every analysed chunk becomes one
//!    point of the title: its bits summed over the chunks, its VMAF the frame-weighted mean of
//!    the chunks' means, its bitrate the bits over the analysed chunks' duration.
//! 2. **Rungs on the hull** ([`hull_ladder`]): the top rung at the least bitrate where one
//!    resolution's own curve reaches the recipe's target VMAF, each next one the spacing below, down to the floor
//!    or the cheapest trial, at most `max_rungs` ([`DEFAULT_MAX_RUNGS`] when the recipe sets
//!    none), each at the size that wins at its bitrate, with the constant-quality setting its
//!    curve interpolates there.
//! 3. **Per title**: every chunk of a rung (analysed or not: a long title's analysis samples
//!    its chunks) encodes at that one setting (CRF), capped by the
//!    rung's VBV peak and buffer ([`capped_rung`]). (A bitrate target instead starves a
//!    near-static title: its VBV, sized by a tiny average, has no room for a keyframe —
//!    measured, VMAF 79 where the trials predicted 95.)
//! 4. **Per shot** ([`allocate`]): for each rung, every chunk's trials at the rung's size —
//!    densified to every whole setting between the grid's, bits log-linear and VMAF linear in
//!    the setting — and the least-bits choice of one setting per chunk whose frame-weighted
//!    mean VMAF reaches what the per-title rung predicts — or the per-title choice itself when
//!    that costs fewer bits (whole settings can overshoot by one step of a shot's hull).
//! 5. **Undominated rungs only**: chunks predicted on their own curves can make a smaller
//!    picture's rung cost more than a larger one's at a higher VMAF; such a rung is dropped
//!    ([`undominated`]), and the rest named by size in falling bitrate.
//!
//! Either way the rung's bitrate is the predicted average over its chunks and its peak caps
//! the costliest chunk's predicted rate with headroom; the decision lists every chunk's
//! setting.

use shotfarm_proto::analysis::{ChunkTrials, CodecDecision, HullPoint, RungDecision, TrialOutcome};
use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_proto::recipe::{LadderKind, LadderRecipe, MAX_BITRATE_KBPS};

use super::LadderSource;
use super::hull::{HullError, HullLadderParams, HullRung, TrialPoint, hull_ladder, upper_hull};
use super::shot_allocation::{AllocationError, ShotTrial, ShotTrials, allocate};

/// Rungs per codec when the recipe sets no limit.
pub const DEFAULT_MAX_RUNGS: usize = 6;
/// A rung's peak: at least this times its average bitrate…
const PEAK_OVER_AVERAGE: f64 = 1.5;
/// …and at least this times its costliest chunk's predicted rate, at most
/// [`MAX_PEAK_OVER_AVERAGE`] times the average.
const PEAK_OVER_COSTLIEST: f64 = 1.2;
const MAX_PEAK_OVER_AVERAGE: f64 = 3.0;
/// A rung's buffer holds at least this times its largest predicted group of pictures.
const GOP_BUFFER_HEADROOM: f64 = 1.5;

/// The renditions' frame rate and keyframe spacing (the encode stage's segment length).
struct StreamTiming {
    frames_per_second: f64,
    keyframe_interval_frames: u64,
}

/// One codec's rungs and why.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleLadder {
    pub rungs: Vec<Rung>,
    pub decision: CodecDecision,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TitleLadderError {
    #[error("the analysis has no {} trial", .0.as_str())]
    NoAnalysis(Codec),
    #[error("no trial size and setting was tried on every analysed chunk")]
    NoCommonTrials,
    #[error("chunk {0} has no trial where the ladder needs one (a per-shot ladder needs every chunk analysed at every trial size)")]
    ChunkNotAnalysed(u32),
    #[error("the source's frame rate is unknown")]
    NoFrameRate,
    #[error(transparent)]
    Hull(#[from] HullError),
    #[error("per-shot settings: {0}")]
    Allocation(#[from] AllocationError),
}

/// The rungs of `codec` for a per-title or per-shot `recipe`, from `analysis` (every codec's
/// trials; the others are ignored). Names: `<codec>_<short side>p`, then `_2`, `_3` when
/// several rungs share a size.
pub fn title_ladder(source: &LadderSource, codec: Codec, recipe: &LadderRecipe, analysis: &[ChunkTrials], keyframe_interval_frames: u32) -> Result<TitleLadder, TitleLadderError> {
    let mut chunks: Vec<&ChunkTrials> = analysis.iter().filter(|trials| trials.codec == codec).collect();
    chunks.sort_by_key(|trials| trials.chunk.index);
    let chunks = merge_by_chunk(&chunks);
    if chunks.is_empty() {
        return Err(TitleLadderError::NoAnalysis(codec));
    }
    let rate = f64::from(source.frame_rate_num) / f64::from(source.frame_rate_den);
    if !(rate.is_finite() && rate > 0.0) {
        return Err(TitleLadderError::NoFrameRate);
    }
    let timing = StreamTiming { frames_per_second: rate, keyframe_interval_frames: u64::from(keyframe_interval_frames.max(1)) };
    let points = title_points(&chunks, rate);
    if points.is_empty() {
        return Err(TitleLadderError::NoCommonTrials);
    }
    let params = HullLadderParams {
        target_vmaf: recipe.target_vmaf,
        floor_kbps: if recipe.floor_kbps > 0 { f64::from(recipe.floor_kbps) } else { 1.0 },
        ceiling_kbps: if recipe.ceiling_kbps > 0 { f64::from(recipe.ceiling_kbps) } else { f64::from(MAX_BITRATE_KBPS) },
        max_rungs: if recipe.max_rungs > 0 { recipe.max_rungs as usize } else { DEFAULT_MAX_RUNGS },
        spacing: recipe.spacing,
    };
    let hull_rungs = hull_ladder(&points, &params)?;
    let unanalysed = chunks.iter().enumerate().find(|(position, chunk)| chunk.chunk.index as usize != *position);
    if let (LadderKind::PerShot, Some((missing, _))) = (recipe.ladder, unanalysed) {
        return Err(TitleLadderError::ChunkNotAnalysed(missing as u32));
    }
    let mut made = Vec::with_capacity(hull_rungs.len());
    for hull_rung in &hull_rungs {
        let (rung, decision) = match recipe.ladder {
            LadderKind::PerShot => per_shot_rung(&chunks, hull_rung, codec, &timing)?,
            _ => per_title_rung(&chunks, hull_rung, codec, &timing)?,
        };
        made.push((*hull_rung, rung, decision));
    }
    let made = undominated(made);
    let kept_hull: Vec<HullRung> = made.iter().map(|(hull_rung, _, _)| *hull_rung).collect();
    let (mut rungs, mut decisions) = (Vec::with_capacity(made.len()), Vec::with_capacity(made.len()));
    for ((_, mut rung, mut decision), name) in made.into_iter().zip(rung_names(codec, &kept_hull)) {
        rung.name.clone_from(&name);
        decision.rung = name;
        rungs.push(rung);
        decisions.push(decision);
    }
    let hull = upper_hull(&points)
        .into_iter()
        .map(|point| HullPoint { width: point.width, height: point.height, setting: point.setting, bitrate_kbps: point.bitrate_kbps, vmaf: point.vmaf })
        .collect();
    Ok(TitleLadder { rungs, decision: CodecDecision { codec, hull, rungs: decisions } })
}

/// Every trial of each chunk together (one analyze task per size: several entries per chunk).
fn merge_by_chunk(sorted: &[&ChunkTrials]) -> Vec<ChunkTrials> {
    let mut merged: Vec<ChunkTrials> = Vec::new();
    for trials in sorted {
        match merged.last_mut() {
            Some(last) if last.chunk.index == trials.chunk.index => last.trials.extend_from_slice(&trials.trials),
            _ => merged.push((*trials).clone()),
        }
    }
    merged
}

/// The trial of `chunk` at (width, height, setting), if it ran.
fn trial_of(chunk: &ChunkTrials, width: u32, height: u32, setting: f64) -> Option<&TrialOutcome> {
    chunk.trials.iter().find(|trial| (trial.width, trial.height) == (width, height) && trial.setting == setting)
}

/// One point per (size, setting) tried on every chunk: bits summed, VMAF frame-weighted.
fn title_points(chunks: &[ChunkTrials], rate: f64) -> Vec<TrialPoint> {
    let mut points = Vec::new();
    for candidate in &chunks[0].trials {
        let (width, height, setting) = (candidate.width, candidate.height, candidate.setting);
        let found: Option<Vec<&TrialOutcome>> = chunks.iter().map(|chunk| trial_of(chunk, width, height, setting)).collect();
        let Some(found) = found else { continue };
        let frames: u64 = found.iter().map(|trial| trial.frames).sum();
        if frames == 0 {
            continue;
        }
        let bits: f64 = found.iter().map(|trial| trial.bits as f64).sum();
        let vmaf = found.iter().map(|trial| trial.quality.vmaf_mean * trial.frames as f64).sum::<f64>() / frames as f64;
        let seconds = frames as f64 / rate;
        points.push(TrialPoint { width, height, setting, bitrate_kbps: bits / seconds / 1000.0, vmaf });
    }
    points
}

/// `<codec>_<short side>p`, with `_2`, `_3`… for the second and later rungs of one size.
fn rung_names(codec: Codec, rungs: &[HullRung]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(rungs.len());
    for rung in rungs {
        let base = format!("{}_{}p", codec.as_str(), rung.width.min(rung.height));
        let seen = names.iter().filter(|name| **name == base || name.starts_with(&format!("{base}_"))).count();
        names.push(if seen == 0 { base } else { format!("{base}_{}", seen + 1) });
    }
    names
}

/// Each chunk's trials at one size, sorted by setting (chunks in index order).
fn chunk_curves(chunks: &[ChunkTrials], width: u32, height: u32) -> Vec<ShotTrials> {
    chunks
        .iter()
        .map(|chunk| {
            let mut trials: Vec<ShotTrial> = chunk
                .trials
                .iter()
                .filter(|trial| (trial.width, trial.height) == (width, height) && trial.frames > 0)
                .map(|trial| ShotTrial { setting: trial.setting, bits: trial.bits as f64, vmaf: trial.quality.vmaf_mean })
                .collect();
            trials.sort_by(|a, b| a.setting.total_cmp(&b.setting));
            ShotTrials { frames: chunk.chunk.frames(), trials }
        })
        .collect()
}

/// A chunk's predicted bits and VMAF at `setting`, interpolated between its trials (bits
/// log-linearly, VMAF linearly; held at the nearest trial outside their range).
fn at_setting(trials: &[ShotTrial], setting: f64) -> Option<ShotTrial> {
    let (first, last) = (trials.first()?, trials.last()?);
    if setting <= first.setting {
        return Some(ShotTrial { setting, ..*first });
    }
    if setting >= last.setting {
        return Some(ShotTrial { setting, ..*last });
    }
    let upper = trials.iter().position(|trial| trial.setting >= setting)?;
    let (low, high) = (trials[upper - 1], trials[upper]);
    Some(interpolated(low, high, setting))
}

fn interpolated(low: ShotTrial, high: ShotTrial, setting: f64) -> ShotTrial {
    let t = (setting - low.setting) / (high.setting - low.setting);
    let bits = if low.bits > 0.0 && high.bits > 0.0 { (low.bits.ln() + t * (high.bits.ln() - low.bits.ln())).exp() } else { low.bits + t * (high.bits - low.bits) };
    ShotTrial { setting, bits, vmaf: low.vmaf + t * (high.vmaf - low.vmaf) }
}

/// The rung that encodes chunk `i` at `settings[i]` (predicted `chosen[i]`): its bitrate the
/// predicted average, its peak the costliest chunk's rate with headroom (within 1.5× and 3×
/// the average), its buffer two seconds of peak or, when larger, room for the largest
/// predicted group of pictures with headroom — near-static content spends its bits in a few
/// big frames (a slide change), which a buffer sized by its tiny average starves (measured:
/// a slide deck's top rung at VMAF 92 where its trial scored 95). Unnamed: names are given
/// once dominated rungs are dropped.
fn capped_rung(hull_rung: &HullRung, codec: Codec, shots: &[ShotTrials], chosen: &[ShotTrial], timing: &StreamTiming) -> (Rung, RungDecision) {
    let frames: u64 = shots.iter().map(|shot| shot.frames).sum();
    let seconds = |frames: u64| frames.max(1) as f64 / timing.frames_per_second;
    let average_kbps = chosen.iter().map(|trial| trial.bits).sum::<f64>() / seconds(frames) / 1000.0;
    let costliest_kbps = chosen.iter().zip(shots).map(|(trial, shot)| trial.bits / seconds(shot.frames) / 1000.0).fold(0.0, f64::max);
    let peak = (costliest_kbps * PEAK_OVER_COSTLIEST).max(average_kbps * PEAK_OVER_AVERAGE).min(average_kbps * MAX_PEAK_OVER_AVERAGE);
    let predicted_vmaf = chosen.iter().zip(shots).map(|(trial, shot)| trial.vmaf * shot.frames as f64).sum::<f64>() / frames.max(1) as f64;
    // The largest group of pictures (keyframe to keyframe) the rung is predicted to hold: a
    // chunk's bits in proportion, at most the whole chunk.
    let largest_gop_kbits = chosen
        .iter()
        .zip(shots)
        .map(|(trial, shot)| trial.bits * (timing.keyframe_interval_frames as f64 / shot.frames.max(1) as f64).min(1.0) / 1000.0)
        .fold(0.0, f64::max);
    let kbps = |value: f64| (value.round() as u32).clamp(1, MAX_BITRATE_KBPS * 2);
    let maxrate = kbps(peak);
    let rung = Rung {
        name: String::new(),
        codec,
        width: hull_rung.width,
        height: hull_rung.height,
        bitrate_kbps: kbps(average_kbps).min(maxrate),
        maxrate_kbps: maxrate,
        bufsize_kbps: maxrate.saturating_mul(2).max(kbps(largest_gop_kbits * GOP_BUFFER_HEADROOM)),
    };
    let decision = RungDecision {
        rung: String::new(),
        predicted_vmaf,
        predicted_bitrate_kbps: average_kbps,
        title_setting: hull_rung.setting,
        chunk_settings: chosen.iter().map(|trial| trial.setting).collect(),
    };
    (rung, decision)
}

/// Every chunk at the hull's setting for the rung, predicted on each chunk's own curve.
fn uniform_choice(chunks: &[ChunkTrials], shots: &[ShotTrials], setting: f64) -> Result<Vec<ShotTrial>, TitleLadderError> {
    shots.iter().zip(chunks).map(|(shot, chunk)| at_setting(&shot.trials, setting).ok_or(TitleLadderError::ChunkNotAnalysed(chunk.chunk.index))).collect()
}

/// Per title: every chunk — the analysed ones and any the analysis sampled out — at the hull's
/// setting for the rung (the decision lists no per-chunk settings).
fn per_title_rung(chunks: &[ChunkTrials], hull_rung: &HullRung, codec: Codec, timing: &StreamTiming) -> Result<(Rung, RungDecision), TitleLadderError> {
    let shots = chunk_curves(chunks, hull_rung.width, hull_rung.height);
    let chosen = uniform_choice(chunks, &shots, hull_rung.setting)?;
    let (rung, mut decision) = capped_rung(hull_rung, codec, &shots, &chosen, timing);
    decision.chunk_settings.clear();
    Ok((rung, decision))
}

/// Per shot: each chunk at its own setting, the least bits for the VMAF the per-title rung
/// predicts — never more bits than that rung (the allocation picks whole settings and may
/// overshoot by one step of a shot's hull; the per-title choice is then the cheaper one).
fn per_shot_rung(chunks: &[ChunkTrials], hull_rung: &HullRung, codec: Codec, timing: &StreamTiming) -> Result<(Rung, RungDecision), TitleLadderError> {
    let mut shots = chunk_curves(chunks, hull_rung.width, hull_rung.height);
    let uniform = uniform_choice(chunks, &shots, hull_rung.setting)?;
    for shot in &mut shots {
        shot.trials = densified(&shot.trials);
    }
    let frames: u64 = shots.iter().map(|shot| shot.frames).sum();
    let uniform_vmaf = uniform.iter().zip(&shots).map(|(trial, shot)| trial.vmaf * shot.frames as f64).sum::<f64>() / frames.max(1) as f64;
    let uniform_bits: f64 = uniform.iter().map(|trial| trial.bits).sum();
    let allocation = allocate(&shots, uniform_vmaf)?;
    let chosen: Vec<ShotTrial> = if allocation.reached && allocation.total_bits < uniform_bits {
        allocation.chosen.iter().zip(&shots).map(|(&index, shot)| shot.trials[index]).collect()
    } else {
        uniform
    };
    Ok(capped_rung(hull_rung, codec, &shots, &chosen, timing))
}

/// The rungs no other rung beats on both counts — predicted bitrate and VMAF — by falling
/// bitrate. Chunks predicted on their own curves can make a smaller picture's rung cost more
/// than a larger one's at a higher VMAF: no player should ever switch to it.
fn undominated(made: Vec<(HullRung, Rung, RungDecision)>) -> Vec<(HullRung, Rung, RungDecision)> {
    let beats = |a: &RungDecision, b: &RungDecision| {
        a.predicted_bitrate_kbps <= b.predicted_bitrate_kbps && a.predicted_vmaf >= b.predicted_vmaf && (a.predicted_bitrate_kbps < b.predicted_bitrate_kbps || a.predicted_vmaf > b.predicted_vmaf)
    };
    let mut kept: Vec<(HullRung, Rung, RungDecision)> = Vec::with_capacity(made.len());
    for (index, rung) in made.iter().enumerate() {
        let beaten = made.iter().enumerate().any(|(other, candidate)| other != index && beats(&candidate.2, &rung.2));
        let duplicate = kept.iter().any(|kept| kept.2.predicted_bitrate_kbps == rung.2.predicted_bitrate_kbps && kept.2.predicted_vmaf == rung.2.predicted_vmaf);
        if !beaten && !duplicate {
            kept.push(rung.clone());
        }
    }
    kept.sort_by(|a, b| b.2.predicted_bitrate_kbps.total_cmp(&a.2.predicted_bitrate_kbps));
    kept
}

/// `trials` (sorted by setting) with every whole setting between two neighbours added: bits
/// interpolated log-linearly, VMAF linearly (both smooth in CRF).
fn densified(trials: &[ShotTrial]) -> Vec<ShotTrial> {
    let mut dense = Vec::new();
    for pair in trials.windows(2) {
        let (low, high) = (pair[0], pair[1]);
        dense.push(low);
        let mut setting = low.setting.floor() + 1.0;
        while setting < high.setting {
            dense.push(interpolated(low, high, setting));
            setting += 1.0;
        }
    }
    dense.extend(trials.last().copied());
    dense
}

#[cfg(test)]
mod tests;
