//! Whether an output holds exactly the source's frames, in order: two fingerprint sequences
//! walked in lockstep, reporting the first output frame that is not its source frame. A
//! dropped, duplicated or reordered frame shows as an output frame that matches a
//! *neighbouring* source frame clearly better than its own; identical neighbours (a still
//! picture) are ties, never failures: swapping two identical frames changes nothing a viewer
//! can see.
//!
//! [`SequenceComparator`] takes both sequences as they come (a rendition decoded while the
//! source's fingerprints are read) and keeps only a window of frames around the one it
//! judges: every verdict looks at most [`NOISE_WINDOW`] plus a few search windows away, so
//! memory stays the same for a minute or a feature film.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;

/// How strict [`SequenceComparator`] is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MatchTolerance {
    /// An output frame further than this from its source frame is different content,
    /// whatever its neighbours look like (luma levels, mean absolute difference).
    pub max_distance: f32,
    /// A neighbouring source frame "matches clearly better" when it is closer by at least this
    /// many levels...
    pub min_margin: f32,
    /// ...and at most this fraction of the distance to the frame's own source frame.
    pub better_ratio: f32,
    /// How many source frames on each side are searched for a better match.
    pub search_window: usize,
}

impl Default for MatchTolerance {
    fn default() -> Self {
        // Measured on synthetic sources: compression to a 240p rung at 300 kb/s moves block
        // means by well under 2 levels; consecutive frames of moving content differ by more.
        Self { max_distance: 12.0, min_margin: 1.0, better_ratio: 0.6, search_window: 3 }
    }
}

/// What went wrong at the first bad output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameFault {
    /// The output frame is a later source frame: frames before it were dropped.
    Dropped,
    /// The output frame is an earlier source frame: a frame was repeated.
    Duplicated,
    /// The output frame is not close to any source frame nearby.
    Different,
}

/// The first output frame that is not its source frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceMismatch {
    /// Index of the output frame (decoded order).
    pub output_frame: usize,
    /// Distance between the output frame and the source frame of the same index.
    pub distance_to_expected: f32,
    /// The nearby source frame it resembles most, when that is a clearly better match.
    pub best_source_frame: Option<usize>,
    pub distance_to_best: f32,
    pub fault: FrameFault,
}

/// The outcome of [`SequenceComparator::finish`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceComparison {
    pub source_frames: usize,
    pub output_frames: usize,
    /// Largest distance between an output frame and its source frame, over the frames compared.
    pub max_distance: f32,
    pub mean_distance: f32,
    pub first_mismatch: Option<SequenceMismatch>,
}

impl SequenceComparison {
    /// Same frame count and every frame matched.
    pub fn is_exact(&self) -> bool {
        self.source_frames == self.output_frames && self.first_mismatch.is_none()
    }
}

/// How many noise levels apart two source frames must be for a mix-up between them to count.
const NOISE_MULTIPLE: f32 = 3.0;
/// Frames on each side whose noise is pooled into the local noise estimate.
const NOISE_WINDOW: usize = 12;

/// One of the two sequences as the comparator holds it: the frames from `base` on, how many
/// were pushed, whether it has ended.
#[derive(Debug, Default)]
struct Window {
    frames: VecDeque<Fingerprint>,
    base: usize,
    pushed: usize,
    ended: bool,
}

impl Window {
    fn get(&self, index: usize) -> Option<&Fingerprint> {
        index.checked_sub(self.base).and_then(|at| self.frames.get(at))
    }

    /// Whether every frame up to `index` (inclusive) is here or will never come.
    fn reaches(&self, index: usize) -> bool {
        self.ended || index < self.pushed
    }

    /// Drops the frames before `index`.
    fn forget_before(&mut self, index: usize) {
        while self.base < index && !self.frames.is_empty() {
            self.frames.pop_front();
            self.base += 1;
        }
    }
}

/// The streaming comparison: push each sequence's fingerprints as they come (in any
/// interleaving), then [`SequenceComparator::finish`].
#[derive(Debug)]
pub struct SequenceComparator {
    tolerance: MatchTolerance,
    /// Frames a verdict may look at on either side of the judged frame.
    reach: usize,
    source: Window,
    output: Window,
    /// The next output frame to judge.
    next: usize,
    max_distance: f32,
    sum_distance: f64,
    first_mismatch: Option<SequenceMismatch>,
}

impl SequenceComparator {
    pub fn new(tolerance: MatchTolerance) -> SequenceComparator {
        // The local noise pools NOISE_WINDOW frames on each side, each of them searched
        // search_window frames around; a fault is confirmed up to three frames on, shifted
        // by at most the search window.
        let reach = NOISE_WINDOW + 2 * tolerance.search_window + 4;
        SequenceComparator { tolerance, reach, source: Window::default(), output: Window::default(), next: 0, max_distance: 0.0, sum_distance: 0.0, first_mismatch: None }
    }

    pub fn push_source(&mut self, print: Fingerprint) {
        self.source.frames.push_back(print);
        self.source.pushed += 1;
        self.advance();
    }

    pub fn push_output(&mut self, print: Fingerprint) {
        self.output.frames.push_back(print);
        self.output.pushed += 1;
        self.advance();
    }

    /// Source frames pushed so far, and output frames: a caller feeding both from two
    /// producers takes next from the one behind.
    pub fn pushed(&self) -> (usize, usize) {
        (self.source.pushed, self.output.pushed)
    }

    /// The first mismatch found so far (a caller may stop early).
    pub fn first_mismatch(&self) -> Option<&SequenceMismatch> {
        self.first_mismatch.as_ref()
    }

    /// Ends both sequences and judges the frames left.
    pub fn finish(mut self) -> SequenceComparison {
        self.source.ended = true;
        self.output.ended = true;
        self.advance();
        let compared = self.compared();
        let mean_distance = if compared == 0 { 0.0 } else { (self.sum_distance / compared as f64) as f32 };
        SequenceComparison {
            source_frames: self.source.pushed,
            output_frames: self.output.pushed,
            max_distance: self.max_distance,
            mean_distance,
            first_mismatch: self.first_mismatch,
        }
    }

    /// Frames both sequences have (final once both ended; until then, what both have so far).
    fn compared(&self) -> usize {
        self.source.pushed.min(self.output.pushed)
    }

    /// Judges every frame whose neighbourhood is complete, then forgets what no later
    /// verdict can look at.
    fn advance(&mut self) {
        while self.next < self.compared() && self.source.reaches(self.next + self.reach) && self.output.reaches(self.next + self.reach) {
            self.judge(self.next);
            self.next += 1;
        }
        let keep_from = self.next.saturating_sub(self.reach);
        self.source.forget_before(keep_from);
        self.output.forget_before(keep_from);
    }

    fn source_at(&self, index: usize) -> &Fingerprint {
        self.source.get(index).unwrap_or_else(|| unreachable!("source frame {index} is within the comparator's reach"))
    }

    fn output_at(&self, index: usize) -> &Fingerprint {
        self.output.get(index).unwrap_or_else(|| unreachable!("output frame {index} is within the comparator's reach"))
    }

    /// The distance from output frame `index` to the closest source frame nearby.
    fn closest(&self, index: usize) -> f32 {
        let window = self.tolerance.search_window;
        let high = (index + window + 1).min(self.source.pushed);
        (index.saturating_sub(window)..high).map(|candidate| self.output_at(index).distance(self.source_at(candidate))).fold(f32::INFINITY, f32::min)
    }

    /// The encode's noise around frame `index`: the running median of the closest distances.
    fn local_noise(&self, index: usize) -> f32 {
        let compared = self.compared();
        let mut window: Vec<f32> = (index.saturating_sub(NOISE_WINDOW)..(index + NOISE_WINDOW + 1).min(compared)).map(|at| self.closest(at)).filter(|d| d.is_finite()).collect();
        window.sort_by(f32::total_cmp);
        window.get(window.len() / 2).copied().unwrap_or(0.0)
    }

    fn judge(&mut self, index: usize) {
        let tolerance = self.tolerance;
        let own = self.output_at(index).distance(self.source_at(index));
        self.max_distance = self.max_distance.max(own);
        self.sum_distance += f64::from(own);
        if self.first_mismatch.is_some() {
            return;
        }
        let low = index.saturating_sub(tolerance.search_window);
        let high = (index + tolerance.search_window + 1).min(self.source.pushed);
        let (best_index, best_distance) = (low..high)
            .filter(|&candidate| candidate != index)
            .map(|candidate| (candidate, self.output_at(index).distance(self.source_at(candidate))))
            .fold((index, own), |best, next| if next.1 < best.1 { next } else { best });
        let clearly_better = best_index != index
            && own - best_distance >= tolerance.min_margin
            && best_distance <= own * tolerance.better_ratio
            && self.fault_confirmed(index, best_index, self.local_noise(index));
        if clearly_better {
            let fault = if best_index > index { FrameFault::Dropped } else { FrameFault::Duplicated };
            self.first_mismatch = Some(SequenceMismatch { output_frame: index, distance_to_expected: own, best_source_frame: Some(best_index), distance_to_best: best_distance, fault });
        } else if own > tolerance.max_distance {
            self.first_mismatch =
                Some(SequenceMismatch { output_frame: index, distance_to_expected: own, best_source_frame: None, distance_to_best: best_distance, fault: FrameFault::Different });
        }
    }

    /// Whether a frame that looks more like another source frame is a real fault rather than
    /// noise (grain, tiny detail lost to compression) that happens to favour a neighbour for
    /// one frame. A real fault leaves a pattern: a swap matches back the other way, and a drop
    /// or a duplicate shifts the frames after it by the same offset.
    fn fault_confirmed(&self, index: usize, best_index: usize, typical_noise: f32) -> bool {
        // A copy of the wrong frame sits about `d(source[index], source[best])` from the right
        // one and about the compression noise from the wrong one. Source frames that are
        // themselves within a few noise levels of each other (a still, an oscillating pattern,
        // grain) cannot tell a fault from a faithful copy: no verdict either way.
        let noise = self.output_at(index).distance(self.source_at(best_index)).max(typical_noise);
        if self.source_at(index).distance(self.source_at(best_index)) < NOISE_MULTIPLE * noise {
            return false;
        }
        // Reordered: the frame shown at `best_index` is the one that belonged at `index`.
        if best_index < self.output.pushed {
            let swapped = self.output_at(best_index);
            if swapped.distance(self.source_at(index)) < swapped.distance(self.source_at(best_index)) {
                return true;
            }
        }
        // Shifted: most of the next frames favour the same offset too.
        let offset = best_index as isize - index as isize;
        let mut checked = 0;
        let mut agreeing = 0;
        for step in 1..=3usize {
            let at = index + step;
            let shifted = at as isize + offset;
            if at >= self.output.pushed || at >= self.source.pushed {
                break;
            }
            let Some(shifted) = usize::try_from(shifted).ok().filter(|shifted| *shifted < self.source.pushed) else { break };
            checked += 1;
            let shown = self.output_at(at);
            if shown.distance(self.source_at(shifted)) < shown.distance(self.source_at(at)) {
                agreeing += 1;
            }
        }
        // At the very end of a stream there is nothing after the fault to confirm it with.
        checked == 0 || agreeing * 2 > checked
    }
}

/// Judges one frame on its own — a frame decoded at a chunk boundary, with no neighbours of its
/// own to confirm a shift by — against the source frame it should be, `index`, and those around
/// it (`source` gives the ones at hand). A mismatch when it is further than
/// `tolerance.max_distance` from its own source frame, or a neighbour matches clearly better
/// (by the margins of [`SequenceComparator`]) and the two source frames are more than
/// [`NOISE_MULTIPLE`] times its distance to that neighbour apart: a copy of the wrong frame, not
/// noise.
pub fn judge_lone_frame(shown: &Fingerprint, index: usize, source: &dyn Fn(usize) -> Option<Fingerprint>, tolerance: &MatchTolerance) -> Option<SequenceMismatch> {
    let Some(expected) = source(index) else {
        return Some(SequenceMismatch { output_frame: index, distance_to_expected: f32::INFINITY, best_source_frame: None, distance_to_best: f32::INFINITY, fault: FrameFault::Different });
    };
    let own = shown.distance(&expected);
    let (best_index, best_distance, best_print) = (index.saturating_sub(tolerance.search_window)..=index + tolerance.search_window)
        .filter(|&candidate| candidate != index)
        .filter_map(|candidate| source(candidate).map(|print| (candidate, shown.distance(&print), print)))
        .fold((index, own, expected.clone()), |best, next| if next.1 < best.1 { next } else { best });
    let clearly_better = best_index != index
        && own - best_distance >= tolerance.min_margin
        && best_distance <= own * tolerance.better_ratio
        && expected.distance(&best_print) >= NOISE_MULTIPLE * best_distance;
    if clearly_better {
        let fault = if best_index > index { FrameFault::Dropped } else { FrameFault::Duplicated };
        Some(SequenceMismatch { output_frame: index, distance_to_expected: own, best_source_frame: Some(best_index), distance_to_best: best_distance, fault })
    } else if own > tolerance.max_distance {
        Some(SequenceMismatch { output_frame: index, distance_to_expected: own, best_source_frame: None, distance_to_best: best_distance, fault: FrameFault::Different })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::fingerprint::test_frames::{moving_bar, sequence};
    use crate::fingerprint::FINGERPRINT_LEN;

    /// Compares output frame `i` with source frame `i` for every `i` both sequences have, and
    /// reports the first output frame that is not its source frame (both whole, source first).
    fn compare_sequences(source: &[Fingerprint], output: &[Fingerprint], tolerance: &MatchTolerance) -> SequenceComparison {
        let mut comparator = SequenceComparator::new(*tolerance);
        for print in source {
            comparator.push_source(print.clone());
        }
        for print in output {
            comparator.push_output(print.clone());
        }
        comparator.finish()
    }

    #[test]
    fn identical_sequences_match_exactly() {
        let source = sequence(30);
        let comparison = compare_sequences(&source, &source, &MatchTolerance::default());
        assert!(comparison.is_exact());
        assert_eq!(comparison.max_distance, 0.0);
    }

    #[test]
    fn noisy_copy_still_matches() {
        let source = sequence(30);
        // Add +-2 levels of deterministic noise to every cell: what compression does.
        let noisy: Vec<Fingerprint> = source
            .iter()
            .enumerate()
            .map(|(i, print)| {
                let mut cells = print.0;
                for (j, cell) in cells.iter_mut().enumerate() {
                    let delta = ((i * 31 + j * 17) % 5) as i16 - 2;
                    *cell = (i16::from(*cell) + delta).clamp(0, 255) as u8;
                }
                Fingerprint(cells)
            })
            .collect();
        assert!(compare_sequences(&source, &noisy, &MatchTolerance::default()).is_exact());
    }

    #[test]
    fn catches_a_dropped_frame() {
        let source = sequence(30);
        let mut output = source.clone();
        output.remove(12);
        let comparison = compare_sequences(&source, &output, &MatchTolerance::default());
        let mismatch = comparison.first_mismatch.unwrap();
        assert_eq!((mismatch.output_frame, mismatch.best_source_frame, mismatch.fault), (12, Some(13), FrameFault::Dropped));
    }

    #[test]
    fn catches_a_duplicated_frame() {
        let source = sequence(30);
        let mut output = source.clone();
        output.insert(20, source[19].clone());
        output.pop();
        let mismatch = compare_sequences(&source, &output, &MatchTolerance::default()).first_mismatch.unwrap();
        assert_eq!((mismatch.output_frame, mismatch.best_source_frame, mismatch.fault), (20, Some(19), FrameFault::Duplicated));
    }

    #[test]
    fn catches_swapped_frames() {
        let source = sequence(30);
        let mut output = source.clone();
        output.swap(7, 8);
        let comparison = compare_sequences(&source, &output, &MatchTolerance::default());
        assert_eq!(comparison.source_frames, comparison.output_frames);
        let mismatch = comparison.first_mismatch.unwrap();
        assert_eq!((mismatch.output_frame, mismatch.best_source_frame), (7, Some(8)));
    }

    #[test]
    fn still_pictures_are_ties_not_failures() {
        let still = Fingerprint::of_luma(&moving_bar(0, 128, 72), 128, 72).unwrap();
        let source = vec![still.clone(); 10];
        let comparison = compare_sequences(&source, &source[1..], &MatchTolerance::default());
        assert!(comparison.first_mismatch.is_none());
        assert!(!comparison.is_exact(), "a count mismatch is still not exact");
    }

    #[test]
    fn different_content_is_reported() {
        let source = sequence(10);
        let mut output = source.clone();
        output[4] = Fingerprint([255; FINGERPRINT_LEN]);
        let mismatch = compare_sequences(&source, &output, &MatchTolerance::default()).first_mismatch.unwrap();
        assert_eq!((mismatch.output_frame, mismatch.fault), (4, FrameFault::Different));
    }

    /// The comparison as it was written before it streamed, kept to hold the streaming one to it.
    fn reference_comparison(source: &[Fingerprint], output: &[Fingerprint], tolerance: &MatchTolerance) -> SequenceComparison {
        let compared = source.len().min(output.len());
        // The encode's noise around each frame: the distance from each output frame to the
        // closest source frame nearby (a faithful frame's own, a shifted frame's neighbour: either
        // way, noise), as a running median — noise differs from scene to scene.
        let closest: Vec<f32> = (0..compared)
            .map(|index| {
                let low = index.saturating_sub(tolerance.search_window);
                let high = (index + tolerance.search_window + 1).min(source.len());
                (low..high).map(|candidate| output[index].distance(&source[candidate])).fold(f32::INFINITY, f32::min)
            })
            .collect();
        let local_noise = |index: usize| {
            let mut window: Vec<f32> =
                closest[index.saturating_sub(NOISE_WINDOW)..(index + NOISE_WINDOW + 1).min(compared)].iter().copied().filter(|d| d.is_finite()).collect();
            window.sort_by(f32::total_cmp);
            window.get(window.len() / 2).copied().unwrap_or(0.0)
        };
        let mut max_distance = 0f32;
        let mut sum_distance = 0f64;
        let mut first_mismatch = None;
        for index in 0..compared {
            let own = output[index].distance(&source[index]);
            max_distance = max_distance.max(own);
            sum_distance += f64::from(own);
            if first_mismatch.is_some() {
                continue;
            }
            let low = index.saturating_sub(tolerance.search_window);
            let high = (index + tolerance.search_window + 1).min(source.len());
            let (best_index, best_distance) = (low..high)
                .filter(|&candidate| candidate != index)
                .map(|candidate| (candidate, output[index].distance(&source[candidate])))
                .fold((index, own), |best, next| if next.1 < best.1 { next } else { best });
            let clearly_better = best_index != index
                && own - best_distance >= tolerance.min_margin
                && best_distance <= own * tolerance.better_ratio
                && old_fault_confirmed(source, output, index, best_index, local_noise(index));
            if clearly_better {
                let fault = if best_index > index { FrameFault::Dropped } else { FrameFault::Duplicated };
                first_mismatch = Some(SequenceMismatch {
                    output_frame: index,
                    distance_to_expected: own,
                    best_source_frame: Some(best_index),
                    distance_to_best: best_distance,
                    fault,
                });
            } else if own > tolerance.max_distance {
                first_mismatch = Some(SequenceMismatch {
                    output_frame: index,
                    distance_to_expected: own,
                    best_source_frame: None,
                    distance_to_best: best_distance,
                    fault: FrameFault::Different,
                });
            }
        }
        let mean_distance = if compared == 0 { 0.0 } else { (sum_distance / compared as f64) as f32 };
        SequenceComparison { source_frames: source.len(), output_frames: output.len(), max_distance, mean_distance, first_mismatch }
    }

    fn old_fault_confirmed(source: &[Fingerprint], output: &[Fingerprint], index: usize, best_index: usize, typical_noise: f32) -> bool {
        let noise = output[index].distance(&source[best_index]).max(typical_noise);
        if source[index].distance(&source[best_index]) < NOISE_MULTIPLE * noise {
            return false;
        }
        if let Some(swapped) = output.get(best_index)
            && swapped.distance(&source[index]) < swapped.distance(&source[best_index]) {
                return true;
            }
        let offset = best_index as isize - index as isize;
        let mut checked = 0;
        let mut agreeing = 0;
        for step in 1..=3usize {
            let at = index + step;
            let shifted = at as isize + offset;
            let (Some(shown), Some(expected)) = (output.get(at), source.get(at)) else { break };
            let Some(candidate) = usize::try_from(shifted).ok().and_then(|shifted| source.get(shifted)) else { break };
            checked += 1;
            if shown.distance(candidate) < shown.distance(expected) {
                agreeing += 1;
            }
        }
        checked == 0 || agreeing * 2 > checked
    }

    /// A sequence with a fault made at random: a drop, a duplicate, a swap, a foreign frame,
    /// noise, a cut end, or nothing.
    fn faulty(source: &[Fingerprint], fault: u8, at: usize, noise: u8) -> Vec<Fingerprint> {
        let mut output = source.to_vec();
        let at = at % source.len().max(1);
        match fault % 7 {
            0 if output.len() > 1 => {
                output.remove(at);
            }
            1 => output.insert(at, source[at].clone()),
            2 if at + 1 < output.len() => output.swap(at, at + 1),
            3 => output[at] = Fingerprint([255; FINGERPRINT_LEN]),
            4 => output.truncate(at),
            5 => {
                for (i, print) in output.iter_mut().enumerate() {
                    for (j, cell) in print.0.iter_mut().enumerate() {
                        let delta = ((i * 31 + j * 17) % (usize::from(noise % 9) + 1)) as i16 - i16::from(noise % 9) / 2;
                        *cell = (i16::from(*cell) + delta).clamp(0, 255) as u8;
                    }
                }
            }
            _ => {}
        }
        output
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn streaming_in_any_interleaving_gives_the_whole_slices_verdict(
            frames in 1usize..120, fault in any::<u8>(), at in any::<usize>(), noise in any::<u8>(), step in 1usize..40, still in any::<bool>(),
        ) {
            let source: Vec<Fingerprint> = if still { vec![sequence(1)[0].clone(); frames] } else { sequence(frames) };
            let output = faulty(&source, fault, at, noise);
            let expected = reference_comparison(&source, &output, &MatchTolerance::default());
            prop_assert_eq!(&compare_sequences(&source, &output, &MatchTolerance::default()), &expected);
            // Interleaved: `step` output frames for every source frame, then the rest.
            let mut comparator = SequenceComparator::new(MatchTolerance::default());
            let mut outputs = output.iter();
            for print in &source {
                comparator.push_source(print.clone());
                for print in outputs.by_ref().take(step) {
                    comparator.push_output(print.clone());
                }
            }
            for print in outputs {
                comparator.push_output(print.clone());
            }
            prop_assert_eq!(comparator.finish(), expected);
        }
    }

    #[test]
    fn a_lone_frame_is_judged_against_its_source_neighbours() {
        let source = sequence(30);
        let at = |index: usize| source.get(index).cloned();
        let tolerance = MatchTolerance::default();
        assert_eq!(judge_lone_frame(&source[12], 12, &at, &tolerance), None);
        let later = judge_lone_frame(&source[13], 12, &at, &tolerance).unwrap();
        assert_eq!((later.best_source_frame, later.fault), (Some(13), FrameFault::Dropped));
        let earlier = judge_lone_frame(&source[11], 12, &at, &tolerance).unwrap();
        assert_eq!((earlier.best_source_frame, earlier.fault), (Some(11), FrameFault::Duplicated));
        let foreign = judge_lone_frame(&Fingerprint([255; FINGERPRINT_LEN]), 12, &at, &tolerance).unwrap();
        assert_eq!(foreign.fault, FrameFault::Different);
        // A still picture: every neighbour is the same frame, never a fault.
        let still = vec![source[0].clone(); 30];
        assert_eq!(judge_lone_frame(&still[4], 5, &|index: usize| still.get(index).cloned(), &tolerance), None);
    }

    #[test]
    fn a_long_stream_is_judged_with_a_window_of_frames() {
        let source = sequence(40);
        let mut comparator = SequenceComparator::new(MatchTolerance::default());
        for round in 0..200 {
            for print in &source {
                comparator.push_source(print.clone());
                comparator.push_output(print.clone());
            }
            assert!(comparator.source.frames.len() <= 2 * comparator.reach + 2, "round {round}: {} frames held", comparator.source.frames.len());
        }
        let comparison = comparator.finish();
        assert!(comparison.is_exact() && comparison.source_frames == 8000);
    }
}
