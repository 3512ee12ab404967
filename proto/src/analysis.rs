//! The analyze stage's contract (per-title and per-shot ladders): which trial encodes a job
//! runs ([`trial_sizes`], [`trial_settings`]), what each trial measured ([`TrialOutcome`]), and
//! the ladder decision made from them ([`LadderDecision`]: the hull, the rungs and, per shot
//! group, the constant-quality setting of every rung).
//!
//! A trial encodes its whole chunk, at the job's own preset, and scores VMAF alone on every
//! n-th frame (an odd n up to 7, each scored frame getting exactly the VMAF a full run gives
//! it). Cheaper encodes were measured to mislead:
//! - trials at `veryfast` rated content 2–4 VMAF below what the final encodes at `medium`
//!   measured; trials at `superfast` calibrated to the job's preset by one trial at its own
//!   (the setting offset and rate factor at equal VMAF) cost as much in all on a 360p pan
//!   (the calibration trial's score ate the encodes' saving) and put its per-title ladder
//!   5 % above the brute-force hull where the job's own preset had it on the hull;
//! - trials of a chunk's leading quarter predicted VMAF 94 for a 6 s camera pan whose
//!   rendition measured 78 (the later frames were harder), and the first 12 frames of each
//!   2-second group of pictures of a 1080p pan predicted 98.9 and 0.84 MB where the whole
//!   chunk measured 95.5 and 1.45 MB (the frames right after a keyframe are the best and
//!   cheapest).
//!
//! The grid is decided here, in the one crate scheduler and agent share, so the planner can
//! plan one analyze task per (chunk, codec, trial size) without asking an agent. A chunk is
//! the analysis's shot group: chunks are cut at shot boundaries, so a chunk is one shot or a
//! run of short ones, and it gets one setting per rung.

use serde::{Deserialize, Serialize};

use crate::pipeline::{Chunk, Codec, SourceSummary};
use crate::recipe::LadderKind;

/// Trial sizes per source at most (its own size first, then smaller).
pub const MAX_TRIAL_SIZES: usize = 4;
/// Each trial size's height is the one above's divided by about this.
pub const TRIAL_SIZE_STEP: f64 = 1.5;
/// No trial below this many lines (the fixed ladder's floor).
pub const MIN_TRIAL_HEIGHT: u32 = 144;
/// Per title, a source of more chunks than this has a sample of them analysed…
pub const ALL_CHUNKS_UP_TO: usize = 12;
/// …as many as hold about this share of its frames, and at least [`ALL_CHUNKS_UP_TO`].
pub const SAMPLED_SHARE: f64 = 0.25;

/// One trial encode asked of an analyze task: a size and a constant-quality setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialSpec {
    pub width: u32,
    pub height: u32,
    /// CRF (x264, x265, SVT-AV1).
    pub setting: f64,
}

/// What one trial measured over its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialOutcome {
    pub width: u32,
    pub height: u32,
    pub setting: f64,
    /// Bits of the encoded video stream.
    pub bits: u64,
    /// Frames encoded: the whole chunk.
    pub frames: u64,
    /// VMAF against the source at the source's size, pooled over the frames scored.
    #[serde(flatten)]
    pub quality: TrialQuality,
}

/// A trial's VMAF: only VMAF goes into a rate–quality curve, and a trial scores every n-th
/// frame of its chunk (each with the VMAF a full run gives it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialQuality {
    pub vmaf_mean: f64,
    pub vmaf_harmonic_mean: f64,
    pub vmaf_min: f64,
    /// 1st percentile of the scored frames' VMAF.
    pub vmaf_p1: f64,
    /// Frames scored (every n-th of [`TrialOutcome::frames`]).
    pub scored_frames: u64,
}

/// Every trial of one chunk for one codec: what the ladder task is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkTrials {
    pub chunk: Chunk,
    pub codec: Codec,
    pub trials: Vec<TrialOutcome>,
}

/// A point of a codec's rate–quality hull (the trials aggregated over the analysed chunks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HullPoint {
    pub width: u32,
    pub height: u32,
    pub setting: f64,
    pub bitrate_kbps: f64,
    pub vmaf: f64,
}

/// Why a rung is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungDecision {
    /// The rung's name in the job's ladder.
    pub rung: String,
    /// What the hull predicts for the rung (per-shot: the mean over its chunks).
    pub predicted_vmaf: f64,
    pub predicted_bitrate_kbps: f64,
    /// The constant-quality setting the hull interpolates at the rung's bitrate.
    pub title_setting: f64,
    /// Per shot, each chunk's own setting, by chunk index; per title empty (every chunk, the
    /// analysed ones and any sampled out, encodes at `title_setting`).
    #[serde(default)]
    pub chunk_settings: Vec<f64>,
}

/// One codec's part of the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecDecision {
    pub codec: Codec,
    /// The title's hull over every trial size, by rising bitrate.
    pub hull: Vec<HullPoint>,
    /// Best first, as the rungs are listed.
    pub rungs: Vec<RungDecision>,
}

/// How the ladder task chose a per-title or per-shot ladder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderDecision {
    /// Per-title or per-shot.
    #[serde(default)]
    pub ladder: LadderKind,
    pub codecs: Vec<CodecDecision>,
}

impl LadderDecision {
    /// The decision behind the rung named `rung`.
    pub fn rung(&self, rung: &str) -> Option<&RungDecision> {
        self.codecs.iter().flat_map(|codec| &codec.rungs).find(|decision| decision.rung == rung)
    }

    /// The setting chunk `chunk` of `rung` encodes at, when the decision names the rung.
    pub fn chunk_setting(&self, rung: &str, chunk: u32) -> Option<f64> {
        let decision = self.rung(rung)?;
        if decision.chunk_settings.is_empty() { Some(decision.title_setting) } else { decision.chunk_settings.get(chunk as usize).copied() }
    }
}

/// The trial sizes of a source: its own display size (square pixels, as every rung has), then
/// about [`TRIAL_SIZE_STEP`] smaller each, down to [`MIN_TRIAL_HEIGHT`] lines, at most
/// [`MAX_TRIAL_SIZES`]; sides even. A source under 144 lines is tried at its own size only.
pub fn trial_sizes(source: &SourceSummary) -> Vec<(u32, u32)> {
    let sample_aspect = if source.sample_aspect_num > 0 && source.sample_aspect_den > 0 {
        f64::from(source.sample_aspect_num) / f64::from(source.sample_aspect_den)
    } else {
        1.0
    };
    let display_aspect = f64::from(source.width.max(2)) * sample_aspect / f64::from(source.height.max(2));
    let even = |value: f64| ((value / 2.0).round() as u32).max(1) * 2;
    let mut sizes = Vec::new();
    let mut height = f64::from(source.height.max(2));
    while sizes.len() < MAX_TRIAL_SIZES {
        let lines = even(height);
        if !sizes.is_empty() && lines < MIN_TRIAL_HEIGHT {
            break;
        }
        sizes.push((even(f64::from(lines) * display_aspect), lines));
        height /= TRIAL_SIZE_STEP;
    }
    sizes
}

/// The chunks the analyze stage tries, in index order. Per shot, every one (each gets its own
/// settings). Per title, every one of a source of up to [`ALL_CHUNKS_UP_TO`] chunks, or whose
/// chunks' `complexity` is unknown (one value per chunk; an older agent sends none); for a
/// longer source, a sample that spans its content: the chunks ordered by complexity are cut
/// into strata of equal frames — as many as make about [`SAMPLED_SHARE`] of the frames, at
/// least [`ALL_CHUNKS_UP_TO`] — and each stratum gives the chunk holding its middle frame.
pub fn analysed_chunks(ladder: LadderKind, chunks: &[Chunk], complexity: &[f64]) -> Vec<u32> {
    let every = || chunks.iter().map(|chunk| chunk.index).collect();
    if ladder != LadderKind::PerTitle || chunks.len() <= ALL_CHUNKS_UP_TO || complexity.len() != chunks.len() {
        return every();
    }
    let mut by_complexity: Vec<(f64, &Chunk)> = complexity.iter().copied().zip(chunks).collect();
    by_complexity.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.index.cmp(&b.1.index)));
    let total: u64 = chunks.iter().map(Chunk::frames).sum();
    if total == 0 {
        return every();
    }
    let strata = ((chunks.len() as f64 * SAMPLED_SHARE).ceil() as usize).clamp(ALL_CHUNKS_UP_TO, chunks.len()) as u64;
    let mut sample = Vec::with_capacity(strata as usize);
    let (mut stratum, mut before) = (0u64, 0u64);
    for (_, chunk) in by_complexity {
        let after = before + chunk.frames();
        // Stratum s's middle frame, (2s + 1)/2k of the way: every middle this chunk holds.
        while stratum < strata && (2 * stratum + 1) * total < 2 * strata * after {
            if sample.last() != Some(&chunk.index) {
                sample.push(chunk.index);
            }
            stratum += 1;
        }
        before = after;
    }
    sample.sort_unstable();
    sample
}

/// The constant-quality settings every trial size is encoded at, best quality first.
pub fn trial_settings(codec: Codec) -> &'static [f64] {
    match codec {
        Codec::H264 | Codec::Hevc => &[18.0, 23.0, 28.0, 33.0, 38.0],
        Codec::Av1 => &[24.0, 32.0, 40.0, 48.0, 56.0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(width: u32, height: u32, sample_aspect: (u32, u32)) -> SourceSummary {
        SourceSummary {
            width,
            height,
            frames: 48,
            frame_rate_num: 24,
            frame_rate_den: 1,
            duration_ms: 2000,
            has_audio: false,
            sample_aspect_num: sample_aspect.0,
            sample_aspect_den: sample_aspect.1,
        }
    }

    #[test]
    fn trial_sizes_step_down_from_the_display_size() {
        assert_eq!(trial_sizes(&source(1920, 1080, (1, 1))), vec![(1920, 1080), (1280, 720), (854, 480), (568, 320)]);
        assert_eq!(trial_sizes(&source(480, 270, (1, 1))), vec![(480, 270), (320, 180)]);
        // DVD 16:9: square pixels at the display aspect.
        assert_eq!(trial_sizes(&source(720, 480, (32, 27))), vec![(854, 480), (568, 320), (380, 214)]);
        assert_eq!(trial_sizes(&source(160, 90, (1, 1))), vec![(160, 90)]);
        assert_eq!(trial_sizes(&source(0, 0, (0, 0))), vec![(2, 2)]);
    }

    fn chunks(lengths: &[u64]) -> Vec<Chunk> {
        let mut start = 0;
        lengths
            .iter()
            .enumerate()
            .map(|(index, &frames)| {
                start += frames;
                Chunk { index: index as u32, start_frame: start - frames, end_frame: start, span_us: None }
            })
            .collect()
    }

    #[test]
    fn long_titles_analyse_a_sample_spanning_their_complexity() {
        // 48 chunks of 24 frames: 12 strata of 4 chunks each by complexity.
        let many = chunks(&[24; 48]);
        let complexity: Vec<f64> = (0..48).map(|index| f64::from((index * 37) % 48)).collect();
        let sample = analysed_chunks(LadderKind::PerTitle, &many, &complexity);
        assert_eq!(sample.len(), 12, "{sample:?}");
        assert!(sample.windows(2).all(|pair| pair[0] < pair[1]), "index order: {sample:?}");
        // One chunk from each stratum of four by complexity: ranks 2, 6, 10… (each stratum's
        // middle frame opens its third chunk).
        let mut ranks: Vec<f64> = sample.iter().map(|&index| complexity[index as usize]).collect();
        ranks.sort_by(f64::total_cmp);
        assert_eq!(ranks, (0..12).map(|stratum| f64::from(4 * stratum + 2)).collect::<Vec<_>>());
        // 100 chunks: a quarter of them.
        let hundred = chunks(&[10; 100]);
        assert_eq!(analysed_chunks(LadderKind::PerTitle, &hundred, &vec![1.0; 100]).len(), 25);
        // Per shot, short sources and unknown complexity: every chunk.
        assert_eq!(analysed_chunks(LadderKind::PerShot, &many, &complexity).len(), 48);
        assert_eq!(analysed_chunks(LadderKind::PerTitle, &many, &[]).len(), 48);
        assert_eq!(analysed_chunks(LadderKind::PerTitle, &chunks(&[24; 12]), &[1.0; 12]).len(), 12);
    }

    #[test]
    fn a_long_chunk_counts_by_its_frames() {
        // One complex chunk holds half the frames: it is in the sample once, and the simple
        // half is sampled as finely as the rest allows.
        let mut lengths = vec![10; 20];
        lengths.push(200);
        let complexity: Vec<f64> = (0..21).map(f64::from).collect();
        let sample = analysed_chunks(LadderKind::PerTitle, &chunks(&lengths), &complexity);
        assert_eq!(sample.iter().filter(|&&index| index == 20).count(), 1);
        assert_eq!(sample.len(), 7, "six strata in the simple half, the long chunk the other six: {sample:?}");
    }

    #[test]
    fn settings_run_from_best_to_worst() {
        for codec in [Codec::H264, Codec::Hevc, Codec::Av1] {
            assert!(trial_settings(codec).windows(2).all(|pair| pair[0] < pair[1]));
        }
    }
}
