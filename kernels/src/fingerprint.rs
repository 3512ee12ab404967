//! Perceptual frame fingerprints: the evidence that an encoded rendition holds exactly the
//! source's frames, in order.
//!
//! A fingerprint is the luma plane reduced to a [`GRID_WIDTH`]×[`GRID_HEIGHT`] grid of block
//! means (area averaging, 8-bit). Block means survive lossy compression (the encoder keeps low
//! frequencies) and scaling (every rendition is reduced to the same grid), while moving content
//! changes them from one frame to the next. Both sides of a comparison must come from frames
//! decoded and area-scaled the same way (the agent decodes to a small gray frame first).
//!
//! [`compare_sequences`] walks two fingerprint sequences in lockstep and reports the first
//! output frame that is not its source frame: a dropped, duplicated or reordered frame shows as
//! an output frame that matches a *neighbouring* source frame clearly better than its own.
//! Identical neighbours (a still picture) are ties, never failures: swapping two identical
//! frames changes nothing a viewer can see.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Columns of the block grid.
pub const GRID_WIDTH: usize = 16;
/// Rows of the block grid.
pub const GRID_HEIGHT: usize = 9;
/// Bytes in one fingerprint.
pub const FINGERPRINT_LEN: usize = GRID_WIDTH * GRID_HEIGHT;

/// Why a frame could not be fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("frame is {width}x{height}; a fingerprint needs at least {GRID_WIDTH}x{GRID_HEIGHT} pixels")]
    FrameTooSmall { width: usize, height: usize },
    #[error("luma plane has {found} bytes; {width}x{height} needs {expected}")]
    PlaneSize { width: usize, height: usize, expected: usize, found: usize },
    #[error("fingerprint text has {found} hex digits; expected {expected}")]
    HexLength { expected: usize, found: usize },
    #[error("fingerprint text has a non-hex character at position {position}")]
    HexDigit { position: usize },
}

/// The block means of one frame, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Fingerprint {
    /// Fingerprints an 8-bit luma plane of `width`×`height` pixels, rows packed (no padding).
    pub fn of_luma(luma: &[u8], width: usize, height: usize) -> Result<Self, FingerprintError> {
        if width < GRID_WIDTH || height < GRID_HEIGHT {
            return Err(FingerprintError::FrameTooSmall { width, height });
        }
        let expected = width * height;
        if luma.len() != expected {
            return Err(FingerprintError::PlaneSize { width, height, expected, found: luma.len() });
        }
        let mut cells = [0u8; FINGERPRINT_LEN];
        for row in 0..GRID_HEIGHT {
            let y0 = row * height / GRID_HEIGHT;
            let y1 = (row + 1) * height / GRID_HEIGHT;
            for col in 0..GRID_WIDTH {
                let x0 = col * width / GRID_WIDTH;
                let x1 = (col + 1) * width / GRID_WIDTH;
                let mut sum: u64 = 0;
                for y in y0..y1 {
                    let line = &luma[y * width + x0..y * width + x1];
                    sum += line.iter().map(|&p| u64::from(p)).sum::<u64>();
                }
                let count = ((y1 - y0) * (x1 - x0)) as u64;
                // Rounded mean; count > 0 because width >= GRID_WIDTH and height >= GRID_HEIGHT.
                cells[row * GRID_WIDTH + col] = ((sum + count / 2) / count) as u8;
            }
        }
        Ok(Self(cells))
    }

    /// Mean absolute difference of the block means, in 8-bit luma levels (0 = identical).
    pub fn distance(&self, other: &Fingerprint) -> f32 {
        let total: u32 = self.0.iter().zip(other.0.iter()).map(|(&a, &b)| u32::from(a.abs_diff(b))).sum();
        total as f32 / FINGERPRINT_LEN as f32
    }

    /// Lowercase hex, two digits per cell: the form fingerprints take in JSON artifacts.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(FINGERPRINT_LEN * 2);
        for &cell in &self.0 {
            text.push(DIGITS[usize::from(cell >> 4)] as char);
            text.push(DIGITS[usize::from(cell & 0xf)] as char);
        }
        text
    }

    /// Parses the output of [`Fingerprint::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self, FingerprintError> {
        let bytes = text.as_bytes();
        if bytes.len() != FINGERPRINT_LEN * 2 {
            return Err(FingerprintError::HexLength { expected: FINGERPRINT_LEN * 2, found: bytes.len() });
        }
        let nibble = |position: usize| -> Result<u8, FingerprintError> {
            match bytes[position] {
                c @ b'0'..=b'9' => Ok(c - b'0'),
                c @ b'a'..=b'f' => Ok(c - b'a' + 10),
                c @ b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(FingerprintError::HexDigit { position }),
            }
        };
        let mut cells = [0u8; FINGERPRINT_LEN];
        for (index, cell) in cells.iter_mut().enumerate() {
            *cell = (nibble(index * 2)? << 4) | nibble(index * 2 + 1)?;
        }
        Ok(Self(cells))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Fingerprint::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// How strict [`compare_sequences`] is.
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

/// The outcome of [`compare_sequences`].
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

/// Compares output frame `i` with source frame `i` for every `i` both sequences have, and
/// reports the first output frame that is not its source frame (see the module docs).
/// How many noise levels apart two source frames must be for a mix-up between them to count.
const NOISE_MULTIPLE: f32 = 3.0;
/// Frames on each side whose noise is pooled into the local noise estimate.
const NOISE_WINDOW: usize = 12;

/// Whether a frame that looks more like another source frame is a real fault rather than
/// noise (grain, tiny detail lost to compression) that happens to favour a neighbour for one
/// frame. A real fault leaves a pattern: a swap matches back the other way, and a drop or a
/// duplicate shifts the frames after it by the same offset.
fn fault_confirmed(source: &[Fingerprint], output: &[Fingerprint], index: usize, best_index: usize, typical_noise: f32) -> bool {
    // A copy of the wrong frame sits about `d(source[index], source[best])` from the right one
    // and about the compression noise from the wrong one. Source frames that are themselves
    // within a few noise levels of each other (a still, an oscillating pattern, grain) cannot
    // tell a fault from a faithful copy: no verdict either way.
    let noise = output[index].distance(&source[best_index]).max(typical_noise);
    if source[index].distance(&source[best_index]) < NOISE_MULTIPLE * noise {
        return false;
    }
    // Reordered: the frame shown at `best_index` is the one that belonged at `index`.
    if let Some(swapped) = output.get(best_index)
        && swapped.distance(&source[index]) < swapped.distance(&source[best_index]) {
            return true;
        }
    // Shifted: most of the next frames favour the same offset too.
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
    // At the very end of a stream there is nothing after the fault to confirm it with.
    checked == 0 || agreeing * 2 > checked
}

pub fn compare_sequences(source: &[Fingerprint], output: &[Fingerprint], tolerance: &MatchTolerance) -> SequenceComparison {
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
            && fault_confirmed(source, output, index, best_index, local_noise(index));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose content depends on `phase`: a bright bar that moves one grid cell per step.
    fn moving_bar(phase: usize, width: usize, height: usize) -> Vec<u8> {
        let bar = (phase * width / GRID_WIDTH) % width;
        let bar_width = width / GRID_WIDTH * 2;
        let mut frame = vec![32u8; width * height];
        for y in 0..height {
            for x in 0..width {
                if x >= bar && x < bar + bar_width {
                    frame[y * width + x] = 220;
                } else {
                    frame[y * width + x] = (32 + (x * 64 / width) + (y * 32 / height)) as u8;
                }
            }
        }
        frame
    }

    fn sequence(frames: usize) -> Vec<Fingerprint> {
        (0..frames).map(|phase| Fingerprint::of_luma(&moving_bar(phase, 128, 72), 128, 72).unwrap()).collect()
    }

    #[test]
    fn hex_round_trips() {
        let print = Fingerprint::of_luma(&moving_bar(3, 128, 72), 128, 72).unwrap();
        assert_eq!(Fingerprint::from_hex(&print.to_hex()).unwrap(), print);
        assert!(matches!(Fingerprint::from_hex("zz"), Err(FingerprintError::HexLength { .. })));
        let mut bad = print.to_hex();
        bad.replace_range(10..11, "g");
        assert_eq!(Fingerprint::from_hex(&bad), Err(FingerprintError::HexDigit { position: 10 }));
    }

    #[test]
    fn rejects_wrong_plane_sizes() {
        assert!(matches!(Fingerprint::of_luma(&[0; 8], 8, 1), Err(FingerprintError::FrameTooSmall { .. })));
        assert!(matches!(Fingerprint::of_luma(&[0; 10], 16, 9), Err(FingerprintError::PlaneSize { found: 10, .. })));
    }

    #[test]
    fn is_stable_under_scaling() {
        // The same picture at two sizes (nearest-neighbour doubled) gives the same fingerprint.
        let small = moving_bar(5, 64, 36);
        let mut large = vec![0u8; 128 * 72];
        for y in 0..72 {
            for x in 0..128 {
                large[y * 128 + x] = small[(y / 2) * 64 + x / 2];
            }
        }
        let a = Fingerprint::of_luma(&small, 64, 36).unwrap();
        let b = Fingerprint::of_luma(&large, 128, 72).unwrap();
        assert!(a.distance(&b) < 0.5, "distance {}", a.distance(&b));
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
}
