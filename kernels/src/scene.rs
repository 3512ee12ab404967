//! Scene-change features and shot-boundary detection on small 8-bit luma frames, plus the
//! ITU-T P.910 spatial and temporal information (SI/TI) used as per-shot complexity.
//!
//! Everything here is plain, allocation-light frame math meant to run on a blocking thread over
//! frames already decoded and downscaled (the agent uses 128×72 gray). [`CutScorer`] scores
//! each frame against the one before; [`ShotDetector`] is a causal state machine over those
//! scores: feed them in decoded order, read back the cut indices.
//!
//! Detection: for each frame the score is the mean of two normalised differences to the
//! previous frame — mean absolute pixel difference and the L1 distance of 32-bin luma
//! histograms — both in `[0, 1]`. A cut is declared when the score exceeds an absolute threshold
//! *and* is several times the recent average score of the current shot (so fast motion, which
//! scores high on every frame, does not cut on every frame), and the shot has lasted at least
//! `min_shot_frames`.
//!
//! SI/TI are computed on the downscaled frame, so their absolute values are lower than P.910's
//! full-resolution ones; they rank shots by complexity, which is what the ladder needs.

use serde::{Deserialize, Serialize};

const HISTOGRAM_BINS: usize = 32;

/// Mean absolute difference between two frames, in `[0, 1]` (1 = every pixel flipped 0↔255).
pub fn pixel_difference(previous: &[u8], current: &[u8]) -> f32 {
    let len = previous.len().min(current.len());
    if len == 0 {
        return 0.0;
    }
    let total: u64 = previous[..len].iter().zip(&current[..len]).map(|(&a, &b)| u64::from(a.abs_diff(b))).sum();
    (total as f64 / (len as f64 * 255.0)) as f32
}

/// A 32-bin luma histogram.
pub fn luma_histogram(frame: &[u8]) -> [u32; HISTOGRAM_BINS] {
    let mut bins = [0u32; HISTOGRAM_BINS];
    for &pixel in frame {
        bins[usize::from(pixel) * HISTOGRAM_BINS / 256] += 1;
    }
    bins
}

/// Half the L1 distance between two normalised histograms, in `[0, 1]`.
pub fn histogram_distance(a: &[u32; HISTOGRAM_BINS], b: &[u32; HISTOGRAM_BINS]) -> f32 {
    let total_a: u64 = a.iter().map(|&v| u64::from(v)).sum();
    let total_b: u64 = b.iter().map(|&v| u64::from(v)).sum();
    if total_a == 0 || total_b == 0 {
        return 0.0;
    }
    let distance: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) / total_a as f64 - f64::from(y) / total_b as f64).abs())
        .sum();
    (distance / 2.0) as f32
}

/// Spatial information of one frame: standard deviation of the Sobel gradient magnitude over
/// the interior pixels (P.910 SI, before the max over time).
pub fn spatial_information(frame: &[u8], width: usize, height: usize) -> f32 {
    if width < 3 || height < 3 || frame.len() < width * height {
        return 0.0;
    }
    let at = |x: usize, y: usize| f64::from(frame[y * width + x]);
    let mut sum = 0f64;
    let mut sum_squares = 0f64;
    let mut count = 0f64;
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            let magnitude = (gx * gx + gy * gy).sqrt();
            sum += magnitude;
            sum_squares += magnitude * magnitude;
            count += 1.0;
        }
    }
    standard_deviation(sum, sum_squares, count)
}

/// Temporal information between two frames: standard deviation of the pixel difference
/// (P.910 TI, before the max over time).
pub fn temporal_information(previous: &[u8], current: &[u8]) -> f32 {
    let len = previous.len().min(current.len());
    let mut sum = 0f64;
    let mut sum_squares = 0f64;
    for (&a, &b) in previous[..len].iter().zip(&current[..len]) {
        let difference = f64::from(b) - f64::from(a);
        sum += difference;
        sum_squares += difference * difference;
    }
    standard_deviation(sum, sum_squares, len as f64)
}

fn standard_deviation(sum: f64, sum_squares: f64, count: f64) -> f32 {
    if count == 0.0 {
        return 0.0;
    }
    let mean = sum / count;
    ((sum_squares / count - mean * mean).max(0.0)).sqrt() as f32
}

/// Tuning of [`ShotDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShotDetectionParams {
    /// Minimum score (in `[0, 1]`) for a cut.
    pub threshold: f32,
    /// A cut's score must also be this many times the shot's recent average score.
    pub contrast: f32,
    /// No shot is shorter than this (except the last one).
    pub min_shot_frames: usize,
    /// How many recent frames make the "recent average".
    pub history_frames: usize,
}

impl Default for ShotDetectionParams {
    fn default() -> Self {
        Self { threshold: 0.18, contrast: 3.0, min_shot_frames: 6, history_frames: 12 }
    }
}

/// A frame's luma and histogram, kept to score the next frame against.
#[derive(Debug, Clone)]
struct PreviousFrame {
    pixels: Vec<u8>,
    histogram: [u32; HISTOGRAM_BINS],
}

/// The cut score of `current` against `previous`: the mean of their pixel difference and
/// their histograms' distance, in `[0, 1]` ([`CutScorer`] gives the same, keeping the previous
/// frame's histogram).
pub fn cut_score(previous: &[u8], current: &[u8]) -> f32 {
    0.5 * pixel_difference(previous, current) + 0.5 * histogram_distance(&luma_histogram(previous), &luma_histogram(current))
}

/// Scores each frame fed against the one before it; see the module docs. The scores depend
/// on neighbouring pairs only, so a video decoded in pieces is scored exactly by scoring each
/// piece and its first frame against the last of the piece before ([`cut_score`]).
#[derive(Debug, Clone, Default)]
pub struct CutScorer {
    previous: Option<PreviousFrame>,
}

impl CutScorer {
    /// Feeds the next frame in decoded order; returns its cut score, `None` for the first.
    pub fn push(&mut self, frame: &[u8]) -> Option<f32> {
        let histogram = luma_histogram(frame);
        let score = self.previous.as_ref().map(|previous| 0.5 * pixel_difference(&previous.pixels, frame) + 0.5 * histogram_distance(&previous.histogram, &histogram));
        match &mut self.previous {
            Some(previous) if previous.pixels.len() == frame.len() => {
                previous.pixels.copy_from_slice(frame);
                previous.histogram = histogram;
            }
            _ => self.previous = Some(PreviousFrame { pixels: frame.to_vec(), histogram }),
        }
        score
    }
}

/// Decides the cuts from the frames' cut scores, in decoded order; see the module docs.
#[derive(Debug, Clone)]
pub struct ShotDetector {
    params: ShotDetectionParams,
    frames_seen: usize,
    shot_start: usize,
    recent_scores: std::collections::VecDeque<f32>,
    cuts: Vec<usize>,
}

impl ShotDetector {
    pub fn new(params: ShotDetectionParams) -> Self {
        Self {
            params,
            frames_seen: 0,
            shot_start: 0,
            recent_scores: std::collections::VecDeque::with_capacity(params.history_frames + 1),
            cuts: Vec::new(),
        }
    }

    /// Feeds the next frame's cut score ([`CutScorer::push`]; `None` for the first frame);
    /// returns whether a new shot starts at it.
    pub fn push(&mut self, score: Option<f32>) -> bool {
        let index = self.frames_seen;
        self.frames_seen += 1;
        let Some(score) = score else { return false };
        let recent_average = if self.recent_scores.is_empty() { 0.0 } else { self.recent_scores.iter().sum::<f32>() / self.recent_scores.len() as f32 };
        let long_enough = index - self.shot_start >= self.params.min_shot_frames;
        if long_enough && score >= self.params.threshold && score >= self.params.contrast * recent_average {
            self.cuts.push(index);
            self.shot_start = index;
            self.recent_scores.clear();
            return true;
        }
        self.recent_scores.push_back(score);
        if self.recent_scores.len() > self.params.history_frames {
            self.recent_scores.pop_front();
        }
        false
    }

    /// Frames fed so far.
    pub fn frames_seen(&self) -> usize {
        self.frames_seen
    }

    /// Indices of the frames that start a new shot (never 0), ascending.
    pub fn cuts(&self) -> &[usize] {
        &self.cuts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 64;
    const H: usize = 36;

    /// Shot `kind` at time `t`: a textured background particular to the shot, with a small
    /// square moving across it.
    fn frame(kind: u8, t: usize) -> Vec<u8> {
        let mut pixels = vec![0u8; W * H];
        for y in 0..H {
            for x in 0..W {
                let base = match kind {
                    0 => 40 + (x * 2) as u32,
                    1 => 200 - (y * 3) as u32,
                    _ => if (x / 8 + y / 8) % 2 == 0 { 30 } else { 220 },
                };
                pixels[y * W + x] = base.min(255) as u8;
            }
        }
        let square_x = (t * 2) % (W - 8);
        for y in 10..18 {
            for x in square_x..square_x + 8 {
                pixels[y * W + x] = 255;
            }
        }
        pixels
    }

    #[test]
    fn finds_hard_cuts_and_nothing_else() {
        let (mut scorer, mut detector) = (CutScorer::default(), ShotDetector::new(ShotDetectionParams::default()));
        for t in 0..90 {
            let kind = if t < 30 { 0 } else if t < 55 { 1 } else { 2 };
            detector.push(scorer.push(&frame(kind, t)));
        }
        assert_eq!(detector.cuts(), &[30, 55]);
        assert_eq!(detector.frames_seen(), 90);
    }

    #[test]
    fn respects_the_minimum_shot_length() {
        let (mut scorer, mut detector) = (CutScorer::default(), ShotDetector::new(ShotDetectionParams { min_shot_frames: 10, ..Default::default() }));
        for t in 0..40 {
            // Cuts at 20 and 24: the second comes too soon.
            let kind = if t < 20 { 0 } else if t < 24 { 1 } else { 2 };
            detector.push(scorer.push(&frame(kind, t)));
        }
        assert_eq!(detector.cuts(), &[20]);
    }

    #[test]
    fn si_and_ti_rank_complexity() {
        let flat = vec![128u8; W * H];
        let textured = frame(2, 0);
        assert_eq!(spatial_information(&flat, W, H), 0.0);
        assert!(spatial_information(&textured, W, H) > 50.0);
        assert_eq!(temporal_information(&flat, &flat), 0.0);
        assert!(temporal_information(&frame(0, 0), &frame(0, 5)) > temporal_information(&frame(0, 0), &frame(0, 1)) * 0.99);
        assert!(temporal_information(&frame(0, 0), &frame(2, 0)) > 10.0);
    }

    #[test]
    fn a_pair_scored_alone_scores_as_in_sequence() {
        let mut scorer = CutScorer::default();
        let frames: Vec<Vec<u8>> = (0..6).map(|t| frame((t / 3) as u8, t)).collect();
        assert_eq!(scorer.push(&frames[0]), None);
        for pair in frames.windows(2) {
            assert_eq!(scorer.push(&pair[1]), Some(cut_score(&pair[0], &pair[1])));
        }
    }

    #[test]
    fn histogram_distance_is_bounded() {
        let black = luma_histogram(&[0u8; 100]);
        let white = luma_histogram(&[255u8; 100]);
        assert_eq!(histogram_distance(&black, &white), 1.0);
        assert_eq!(histogram_distance(&black, &black), 0.0);
        assert_eq!(pixel_difference(&[0u8; 10], &[255u8; 10]), 1.0);
    }
}
