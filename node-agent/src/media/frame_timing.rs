//! When renditions keep each frame's own presentation time, and how that is carried through
//! the chunked pipeline.
//!
//! A source with a constant rate, or whose timestamps cannot be trusted (missing, repeated,
//! going backwards), is retimed: one frame every `1 / frame_rate` from 0. A variable-rate
//! source whose timestamps are usable (present and strictly increasing: a camera's skip
//! frames, a phone's jitter) keeps them, so the picture stays in step with the sound:
//! - inspection gives every chunk its **span**, in µs: from its first frame's time to the
//!   next chunk's first frame's (the last chunk: to the end of the source's last frame).
//!   Spans are differences of times rounded to the µs from the first frame, so their sums
//!   telescope: chunk k starts at exactly the rounded time of its first frame, however many
//!   chunks come before it;
//! - the encoder writes each frame at its source time from the chunk's first frame, in a
//!   [`KEPT_TIME_BASE`] time base;
//! - assembly places chunk k at the sum of the spans before it (ffconcat's `duration`);
//! - validation checks every frame's time against the source's.
//!
//! The renditions' `frame_rate` is then the average, frames over the whole span, so that
//! `frames / frame_rate` is the video's duration wherever a stage needs one (audio length,
//! bitrates). The last frame is shown for the average frame duration: encoders give a
//! stream's last frame `1 / rate`, and the encoder's rate is the average (its rate control
//! budgets bits per frame by it).

use super::chunking::FrameRange;
use super::probe::Rational;

/// The time base (1/90 kHz, MPEG's clock) encoders write kept times in: a source time base
/// of ms, 1/25 s or 1/30000 s converts exactly; any other is off by at most 5.6 µs per frame,
/// never accumulated.
pub const KEPT_TIME_BASE: u32 = 90_000;

/// `seconds` rounded to whole µs.
pub fn micros(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1e6).round() as u64
}

/// The average rate of `frames` frames shown over `span_seconds`, exact to the ms of the
/// span (`frames × 1000 / span_ms`); `None` for an empty span or one too long to state so.
pub fn average_rate(frames: u64, span_seconds: f64) -> Option<Rational> {
    let span_ms = (span_seconds * 1000.0).round();
    if !(span_ms >= 1.0 && span_ms <= f64::from(u32::MAX)) {
        return None;
    }
    let num = u32::try_from(frames.checked_mul(1000)?).ok()?;
    let den = span_ms as u32;
    let divisor = greatest_common_divisor(num, den);
    (num > 0).then_some(Rational { num: num / divisor, den: den / divisor })
}

fn greatest_common_divisor(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { greatest_common_divisor(b, a % b) }
}

/// The span in µs of each range of `ranges` (which tile the frames in order), from the
/// frames' presentation times (`times[i]`, seconds) and the source's whole span
/// (`duration_seconds`, from the first frame to the end of the last). `None` when a chunk's
/// first frame has no time: such a source is retimed, not kept.
pub fn chunk_spans_us(times: &[Option<f64>], ranges: &[FrameRange], duration_seconds: f64) -> Option<Vec<u64>> {
    let first = (*times.first()?)?;
    let at = |frame: u64| -> Option<u64> {
        if frame as usize >= times.len() {
            return Some(micros(duration_seconds));
        }
        Some(micros(times[frame as usize]? - first))
    };
    ranges.iter().map(|range| Some(at(range.end)?.saturating_sub(at(range.start)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(start: u64, end: u64) -> FrameRange {
        FrameRange { start, end }
    }

    #[test]
    fn spans_run_from_each_chunk_to_the_next() {
        // An AVI's skip frames: 25 fps slots 0, 1, 2, 7, 10, 11; the last shown until 12.
        let times: Vec<Option<f64>> = [0.0, 1.0, 2.0, 7.0, 10.0, 11.0].iter().map(|slot| Some(10.0 + slot / 25.0)).collect();
        let spans = chunk_spans_us(&times, &[range(0, 3), range(3, 6)], 12.0 / 25.0).unwrap();
        assert_eq!(spans, vec![280_000, 200_000]);
        assert_eq!(chunk_spans_us(&[Some(0.0), None], &[range(0, 1), range(1, 2)], 1.0), None);
    }

    #[test]
    fn the_average_rate_gives_back_the_span() {
        assert_eq!(average_rate(20, 2.0), Some(Rational { num: 10, den: 1 }));
        assert_eq!(average_rate(300, 10.033), Some(Rational { num: 300_000, den: 10_033 }));
        assert_eq!(average_rate(20, 0.0), None);
        assert_eq!(average_rate(u64::MAX, 2.0), None);
    }

    proptest! {
        /// Spans telescope: every chunk starts at the rounded time of its first frame, with no
        /// error accumulated over chunks.
        #[test]
        fn spans_sum_to_each_chunks_start(steps in proptest::collection::vec(1u32..200_000, 2..300), cuts in proptest::collection::vec(any::<u16>(), 0..20)) {
            let mut time = 3.25;
            let times: Vec<Option<f64>> = steps.iter().map(|step| { time += f64::from(*step) / 90_000.0; Some(time) }).collect();
            let frames = times.len() as u64;
            let mut starts: Vec<u64> = cuts.iter().map(|cut| u64::from(*cut) % frames).filter(|&start| start > 0).collect();
            starts.push(0);
            starts.sort_unstable();
            starts.dedup();
            let ranges: Vec<FrameRange> = starts.iter().enumerate().map(|(index, &start)| range(start, starts.get(index + 1).copied().unwrap_or(frames))).collect();
            let duration = times[times.len() - 1].unwrap() - times[0].unwrap() + 0.04;
            let spans = chunk_spans_us(&times, &ranges, duration).unwrap();
            let mut elapsed = 0;
            for (range, span) in ranges.iter().zip(&spans) {
                prop_assert_eq!(elapsed, micros(times[range.start as usize].unwrap() - times[0].unwrap()));
                elapsed += span;
            }
            prop_assert_eq!(elapsed, micros(duration));
        }
    }
}
