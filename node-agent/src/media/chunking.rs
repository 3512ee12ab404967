//! Cutting a source into chunks: runs of whole shots between a minimum and a maximum length,
//! frame-exact by decoded frame index (`[start, end)`), never by timestamp.
//!
//! The algorithm, a pure function of the shot boundaries:
//! 1. A shot longer than `max_frames` is split into the fewest equal pieces that fit
//!    (at frame boundaries; the only place a chunk edge is not a shot edge).
//! 2. Pieces are taken in order into the current chunk while the chunk is shorter than
//!    `min_frames` and the next piece still fits under `max_frames`.
//! 3. A last chunk shorter than `min_frames` joins the one before when both fit under
//!    `max_frames`.
//!
//! So every chunk is at most `max_frames`; a chunk is shorter than `min_frames` only when the
//! next piece would not have fitted, or it is the whole source.

use serde::{Deserialize, Serialize};

/// Chunk length limits in seconds (turned into frames with the source's frame rate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkingParams {
    pub min_seconds: f64,
    pub max_seconds: f64,
}

impl Default for ChunkingParams {
    fn default() -> Self {
        Self { min_seconds: 4.0, max_seconds: 12.0 }
    }
}

/// Why a chunk plan cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChunkingError {
    #[error("chunk limits are {min_seconds}s..{max_seconds}s; need 0 < min <= max")]
    BadLimits { min_seconds: f64, max_seconds: f64 },
    #[error("frame rate {0} is not a positive number")]
    BadFrameRate(f64),
    #[error("shot start {start} is outside 1..{total_frames} or not ascending")]
    BadShotStart { start: u64, total_frames: u64 },
}

/// A frame range `[start, end)` by decoded frame index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRange {
    pub start: u64,
    pub end: u64,
}

impl FrameRange {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Converts limits in seconds to frames: at least one frame each, max never below min.
pub fn limits_in_frames(params: &ChunkingParams, frame_rate: f64) -> Result<(u64, u64), ChunkingError> {
    if !(params.min_seconds > 0.0 && params.min_seconds <= params.max_seconds && params.max_seconds.is_finite()) {
        return Err(ChunkingError::BadLimits { min_seconds: params.min_seconds, max_seconds: params.max_seconds });
    }
    if !(frame_rate > 0.0 && frame_rate.is_finite()) {
        return Err(ChunkingError::BadFrameRate(frame_rate));
    }
    let min_frames = ((params.min_seconds * frame_rate).round() as u64).max(1);
    let max_frames = ((params.max_seconds * frame_rate).round() as u64).max(min_frames);
    Ok((min_frames, max_frames))
}

/// Plans chunks over `total_frames` frames whose shots start at `shot_starts` (frame 0 is
/// implied; other entries ascending, in `1..total_frames`).
pub fn plan_chunks(total_frames: u64, shot_starts: &[u64], min_frames: u64, max_frames: u64) -> Result<Vec<FrameRange>, ChunkingError> {
    let max_frames = max_frames.max(1);
    let min_frames = min_frames.clamp(1, max_frames);
    let mut boundaries = vec![0u64];
    for &start in shot_starts {
        if start == 0 {
            continue;
        }
        if start >= total_frames || start <= *boundaries.last().unwrap_or(&0) {
            return Err(ChunkingError::BadShotStart { start, total_frames });
        }
        boundaries.push(start);
    }
    boundaries.push(total_frames);
    // 1. Pieces: shots, long ones split evenly.
    let mut pieces = Vec::new();
    for window in boundaries.windows(2) {
        let (start, end) = (window[0], window[1]);
        let length = end - start;
        if length == 0 {
            continue;
        }
        let parts = length.div_ceil(max_frames);
        for part in 0..parts {
            pieces.push(FrameRange { start: start + length * part / parts, end: start + length * (part + 1) / parts });
        }
    }
    // 2. Greedy grouping.
    let mut chunks: Vec<FrameRange> = Vec::new();
    let mut current: Option<FrameRange> = None;
    for piece in pieces {
        current = match current {
            None => Some(piece),
            Some(chunk) if chunk.len() < min_frames && chunk.len() + piece.len() <= max_frames => {
                Some(FrameRange { start: chunk.start, end: piece.end })
            }
            Some(chunk) => {
                chunks.push(chunk);
                Some(piece)
            }
        };
    }
    if let Some(last) = current {
        // 3. A short tail joins its neighbour when that fits.
        match chunks.last_mut() {
            Some(previous) if last.len() < min_frames && previous.len() + last.len() <= max_frames => previous.end = last.end,
            _ => chunks.push(last),
        }
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(pairs: &[(u64, u64)]) -> Vec<FrameRange> {
        pairs.iter().map(|&(start, end)| FrameRange { start, end }).collect()
    }

    #[test]
    fn groups_shots_until_the_minimum() {
        // Shots of 10, 10, 30, 5, 40 frames; chunks of 20..=50 frames.
        let chunks = plan_chunks(95, &[10, 20, 50, 55], 20, 50).unwrap();
        assert_eq!(chunks, ranges(&[(0, 20), (20, 50), (50, 95)]));
    }

    #[test]
    fn splits_a_long_shot_evenly() {
        let chunks = plan_chunks(250, &[], 20, 100).unwrap();
        assert_eq!(chunks, ranges(&[(0, 83), (83, 166), (166, 250)]));
    }

    #[test]
    fn short_tail_joins_its_neighbour() {
        let chunks = plan_chunks(60, &[25, 50], 20, 40).unwrap();
        assert_eq!(chunks, ranges(&[(0, 25), (25, 60)]));
    }

    #[test]
    fn whole_short_source_is_one_chunk() {
        assert_eq!(plan_chunks(7, &[3], 20, 40).unwrap(), ranges(&[(0, 7)]));
        assert_eq!(plan_chunks(0, &[], 20, 40).unwrap(), Vec::new());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(plan_chunks(10, &[5, 3], 2, 4), Err(ChunkingError::BadShotStart { start: 3, .. })));
        assert!(matches!(plan_chunks(10, &[10], 2, 4), Err(ChunkingError::BadShotStart { .. })));
        assert!(limits_in_frames(&ChunkingParams { min_seconds: 5.0, max_seconds: 2.0 }, 25.0).is_err());
        assert!(limits_in_frames(&ChunkingParams::default(), 0.0).is_err());
        assert_eq!(limits_in_frames(&ChunkingParams { min_seconds: 1.0, max_seconds: 2.0 }, 29.97).unwrap(), (30, 60));
    }

    proptest! {
        #[test]
        fn chunks_tile_the_source_and_respect_limits(
            total in 1u64..2000,
            raw_starts in proptest::collection::vec(1u64..2000, 0..40),
            min in 1u64..100,
            extra in 0u64..200,
        ) {
            let max = min + extra;
            let mut starts: Vec<u64> = raw_starts.into_iter().filter(|&s| s < total).collect();
            starts.sort_unstable();
            starts.dedup();
            let chunks = plan_chunks(total, &starts, min, max).unwrap();
            // Contiguous cover of [0, total).
            prop_assert_eq!(chunks.first().map(|c| c.start), Some(0));
            prop_assert_eq!(chunks.last().map(|c| c.end), Some(total));
            for pair in chunks.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            for (index, chunk) in chunks.iter().enumerate() {
                prop_assert!(!chunk.is_empty());
                prop_assert!(chunk.len() <= max, "chunk {:?} longer than {}", chunk, max);
                // A chunk edge is a shot edge unless it splits a shot longer than max.
                if chunk.start != 0 && !starts.contains(&chunk.start) {
                    let shot_start = starts.iter().copied().filter(|&s| s < chunk.start).max().unwrap_or(0);
                    let shot_end = starts.iter().copied().find(|&s| s > chunk.start).unwrap_or(total);
                    prop_assert!(shot_end - shot_start > max, "chunk {:?} cuts shot {}..{} that fits", chunk, shot_start, shot_end);
                }
                // Short chunks only where the next one could not have been joined.
                if chunk.len() < min && chunks.len() > 1 {
                    let next_blocked = chunks.get(index + 1).is_none_or(|next| chunk.len() + next.len() > max || next.start != chunk.end);
                    let previous_blocked = index == 0 || chunks[index - 1].len() + chunk.len() > max || chunks[index - 1].len() >= min;
                    prop_assert!(next_blocked || previous_blocked, "short chunk {:?} in {:?}", chunk, chunks);
                }
            }
        }
    }
}
