//! The per-title and per-shot ladders of one codec, from the analyze stage's trials.
//!
//! 1. **Title points.** A (size, setting) pair tried on every analysed chunk becomes one
//!    point of the title. A trial covers a sample of its chunk (its leading frames); its bits
//!    stand for the whole chunk in proportion ([`chunk_bits`]) and its VMAF for every frame of
//!    the chunk. The point's bits are summed over the chunks, its VMAF is the chunk-length
//!    weighted mean, its bitrate the bits over the analysed chunks' duration.
//! 2. **Rungs on the hull** ([`hull_ladder`]): the top rung at the least bitrate where the
//!    hull reaches the recipe's target VMAF, each next one the spacing below, down to the floor
//!    or the cheapest trial, at most `max_rungs` ([`DEFAULT_MAX_RUNGS`] when the recipe sets
//!    none), each at the size that wins at its bitrate. A per-title rung encodes every chunk at
//!    that bitrate (peak 1.5×, buffer 2×: capped VBV for streaming).
//! 3. **Per shot** ([`allocate`]): for each rung, every chunk's trials at the rung's size —
//!    densified to every whole setting between the grid's, bits log-linear and VMAF linear in
//!    the setting — and the least-bits choice of one setting per chunk whose frame-weighted
//!    mean VMAF reaches the rung's predicted VMAF. The rung's bitrate is then the predicted
//!    average; its peak caps the costliest chunk's predicted rate with headroom.

use shotfarm_proto::analysis::{ChunkTrials, CodecDecision, HullPoint, RungDecision, TrialOutcome};
use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_proto::recipe::{LadderKind, LadderRecipe, MAX_BITRATE_KBPS};

use super::LadderSource;
use super::hull::{HullError, HullLadderParams, HullRung, TrialPoint, hull_ladder, upper_hull};
use super::shot_allocation::{AllocationError, ShotTrial, ShotTrials, allocate};

/// Rungs per codec when the recipe sets no limit.
pub const DEFAULT_MAX_RUNGS: usize = 6;
/// A per-shot rung's peak: at least this times its average bitrate…
const PER_SHOT_PEAK_OVER_AVERAGE: f64 = 1.5;
/// …and at least this times its costliest chunk's predicted rate, at most
/// [`PER_SHOT_MAX_PEAK_OVER_AVERAGE`] times the average.
const PER_SHOT_PEAK_OVER_COSTLIEST: f64 = 1.2;
const PER_SHOT_MAX_PEAK_OVER_AVERAGE: f64 = 3.0;

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
    #[error("a per-shot ladder needs every chunk analysed; chunk {0} was not")]
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
pub fn title_ladder(source: &LadderSource, codec: Codec, recipe: &LadderRecipe, analysis: &[ChunkTrials]) -> Result<TitleLadder, TitleLadderError> {
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
    let names = rung_names(codec, &hull_rungs);
    let mut rungs = Vec::with_capacity(hull_rungs.len());
    let mut decisions = Vec::with_capacity(hull_rungs.len());
    for (hull_rung, name) in hull_rungs.iter().zip(names) {
        let (rung, decision) = match recipe.ladder {
            LadderKind::PerShot => per_shot_rung(&chunks, hull_rung, codec, name, rate)?,
            _ => per_title_rung(hull_rung, codec, name),
        };
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

/// The bits a trial stands for over its whole chunk: its own, scaled by the chunk's length
/// over the sample's.
fn chunk_bits(chunk: &ChunkTrials, trial: &TrialOutcome) -> f64 {
    trial.bits as f64 * chunk.chunk.frames() as f64 / trial.frames.max(1) as f64
}

/// One point per (size, setting) tried on every chunk: bits summed, VMAF chunk-weighted.
fn title_points(chunks: &[ChunkTrials], rate: f64) -> Vec<TrialPoint> {
    let mut points = Vec::new();
    for candidate in &chunks[0].trials {
        let (width, height, setting) = (candidate.width, candidate.height, candidate.setting);
        let found: Option<Vec<(&ChunkTrials, &TrialOutcome)>> = chunks.iter().map(|chunk| trial_of(chunk, width, height, setting).map(|trial| (chunk, trial))).collect();
        let Some(found) = found else { continue };
        let frames: u64 = found.iter().map(|(chunk, _)| chunk.chunk.frames()).sum();
        if frames == 0 || found.iter().any(|(_, trial)| trial.frames == 0) {
            continue;
        }
        let bits: f64 = found.iter().map(|(chunk, trial)| chunk_bits(chunk, trial)).sum();
        let vmaf = found.iter().map(|(chunk, trial)| trial.quality.vmaf_mean * chunk.chunk.frames() as f64).sum::<f64>() / frames as f64;
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

fn streaming_rung(name: String, codec: Codec, width: u32, height: u32, bitrate_kbps: f64, maxrate_kbps: f64) -> Rung {
    let kbps = |value: f64| (value.round() as u32).clamp(1, MAX_BITRATE_KBPS * 2);
    let maxrate = kbps(maxrate_kbps);
    Rung { name, codec, width, height, bitrate_kbps: kbps(bitrate_kbps).min(maxrate), maxrate_kbps: maxrate, bufsize_kbps: maxrate.saturating_mul(4) / 3 }
}

fn per_title_rung(hull_rung: &HullRung, codec: Codec, name: String) -> (Rung, RungDecision) {
    let rung = streaming_rung(name.clone(), codec, hull_rung.width, hull_rung.height, hull_rung.bitrate_kbps, hull_rung.bitrate_kbps * 1.5);
    let decision = RungDecision {
        rung: name,
        predicted_vmaf: hull_rung.predicted_vmaf,
        predicted_bitrate_kbps: hull_rung.bitrate_kbps,
        title_setting: hull_rung.setting,
        chunk_settings: Vec::new(),
    };
    (rung, decision)
}

fn per_shot_rung(chunks: &[ChunkTrials], hull_rung: &HullRung, codec: Codec, name: String, rate: f64) -> Result<(Rung, RungDecision), TitleLadderError> {
    let (width, height) = (hull_rung.width, hull_rung.height);
    let mut shots = Vec::with_capacity(chunks.len());
    for (position, chunk) in chunks.iter().enumerate() {
        if chunk.chunk.index as usize != position {
            return Err(TitleLadderError::ChunkNotAnalysed(position as u32));
        }
        let mut trials: Vec<ShotTrial> = chunk
            .trials
            .iter()
            .filter(|trial| (trial.width, trial.height) == (width, height) && trial.frames > 0)
            .map(|trial| ShotTrial { setting: trial.setting, bits: chunk_bits(chunk, trial), vmaf: trial.quality.vmaf_mean })
            .collect();
        trials.sort_by(|a, b| a.setting.total_cmp(&b.setting));
        shots.push(ShotTrials { frames: chunk.chunk.frames(), trials: densified(&trials) });
    }
    let allocation = allocate(&shots, hull_rung.predicted_vmaf)?;
    let settings: Vec<f64> = allocation.chosen.iter().zip(&shots).map(|(&index, shot)| shot.trials[index].setting).collect();
    let frames: u64 = shots.iter().map(|shot| shot.frames).sum();
    let average_kbps = allocation.total_bits / (frames.max(1) as f64 / rate) / 1000.0;
    let costliest_kbps = allocation
        .chosen
        .iter()
        .zip(&shots)
        .map(|(&index, shot)| shot.trials[index].bits / (shot.frames.max(1) as f64 / rate) / 1000.0)
        .fold(0.0, f64::max);
    let peak = (costliest_kbps * PER_SHOT_PEAK_OVER_COSTLIEST).max(average_kbps * PER_SHOT_PEAK_OVER_AVERAGE).min(average_kbps * PER_SHOT_MAX_PEAK_OVER_AVERAGE);
    let rung = streaming_rung(name.clone(), codec, width, height, average_kbps, peak);
    let decision = RungDecision {
        rung: name,
        predicted_vmaf: allocation.mean_vmaf,
        predicted_bitrate_kbps: average_kbps,
        title_setting: hull_rung.setting,
        chunk_settings: settings,
    };
    Ok((rung, decision))
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
            let t = (setting - low.setting) / (high.setting - low.setting);
            let bits = if low.bits > 0.0 && high.bits > 0.0 { (low.bits.ln() + t * (high.bits.ln() - low.bits.ln())).exp() } else { low.bits + t * (high.bits - low.bits) };
            dense.push(ShotTrial { setting, bits, vmaf: low.vmaf + t * (high.vmaf - low.vmaf) });
            setting += 1.0;
        }
    }
    dense.extend(trials.last().copied());
    dense
}

#[cfg(test)]
mod tests;
