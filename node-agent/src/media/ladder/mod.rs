//! The `fixed` ladder recipe: a table of renditions fitted to a source: the source's own size
//! on top, never upscaling, at least three rungs for a source of 240 lines or more, even
//! dimensions, display aspect preserved, bitrates by pixel count and frame rate.
//!
//! Rungs are named by their short side (`720p` is 1280×720 for a landscape 16:9 source and
//! 720×1280 for a portrait one). The rungs are the wire's [`Rung`], named by short side here
//! and by codec and short side (`h264_720p`) once the ladder task has renamed them.
//! `README.md` beside this file explains the table, the fitting and the bitrate rule.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`bitrate`] | the table and a rung's bitrate by pixel count, frame rate and codec |
//! | this file | the rung sizes fitted to the source |
//! | [`recipe_ladder`] | a job's recipe (fixed or custom rungs, then its bounds) as one codec's rungs |
//! | [`hull`] | the per-title ladder: the rate–quality hull of trial encodes and the rungs on it |
//! | [`shot_allocation`] | per-shot settings for one rung: equal slope across shots, trimmed |
//! | [`title_ladder`] | a per-title or per-shot recipe turned into one codec's rungs from the analyze stage's trials |

mod bitrate;

pub mod hull;
pub mod recipe_ladder;
pub mod shot_allocation;
pub mod title_ladder;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{Codec, Rung};

pub use bitrate::MIN_BITRATE_KBPS;
use bitrate::{H264_TABLE, rung_bitrate_kbps};

/// A table rung below the top one is kept only when it is at most this fraction of the top
/// rung's short side: a 576-line source gets 576p, 360p, 240p, not a 540p that differs from
/// its top rung by 6 %.
const MIN_STEP_DOWN: f64 = 0.85;
/// Sources of at least this many lines get at least [`MIN_RUNGS`] rungs.
const MIN_LINES_FOR_A_LADDER: u32 = 240;
const MIN_RUNGS: usize = 3;
/// The smallest rung added to reach [`MIN_RUNGS`]: 144 lines (256×144 at 16:9), the smallest
/// rendition players commonly list; below it a picture is too small to watch.
const FLOOR_SHORT_SIDE: u32 = 144;

/// What the ladder needs to know about the source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LadderSource {
    pub width: u32,
    pub height: u32,
    /// Sample aspect ratio (1/1 for square pixels).
    pub sample_aspect_num: u32,
    pub sample_aspect_den: u32,
    /// The rate renditions are encoded at (0/0 when unknown: the table's bitrates as they are).
    #[serde(default)]
    pub frame_rate_num: u32,
    #[serde(default)]
    pub frame_rate_den: u32,
}

impl LadderSource {
    /// A source of square pixels at an unknown frame rate.
    pub fn square(width: u32, height: u32) -> Self {
        Self { width, height, sample_aspect_num: 1, sample_aspect_den: 1, frame_rate_num: 0, frame_rate_den: 0 }
    }

    fn sample_aspect(&self) -> f64 {
        if self.sample_aspect_num > 0 && self.sample_aspect_den > 0 {
            f64::from(self.sample_aspect_num) / f64::from(self.sample_aspect_den)
        } else {
            1.0
        }
    }

    fn frames_per_second(&self) -> Option<f64> {
        (self.frame_rate_num > 0 && self.frame_rate_den > 0).then(|| f64::from(self.frame_rate_num) / f64::from(self.frame_rate_den))
    }
}

/// Why no ladder can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LadderError {
    #[error("source is {width}x{height}; a ladder needs at least 2x2 pixels")]
    SourceTooSmall { width: u32, height: u32 },
}

fn even_at_least_two(value: f64) -> u32 {
    let rounded = (value / 2.0).round() * 2.0;
    (rounded.max(2.0)).min(f64::from(u32::MAX - 1)) as u32
}

fn even_at_most(value: u32) -> u32 {
    (value & !1).max(2)
}

/// The short sides of the ladder, tallest first: the source's own (even, at most the table's
/// top), the table rungs a real step below it, and — for a source of 240 lines or more with
/// fewer than three — the 144-line floor and geometric means of the widest gaps.
fn short_sides(source_short: u32) -> Vec<u32> {
    let table_top = H264_TABLE.first().map_or(source_short, |rung| rung.short_side);
    let top = even_at_most(source_short.min(table_top));
    let mut sides = vec![top];
    sides.extend(H264_TABLE.iter().map(|rung| rung.short_side).filter(|&side| f64::from(side) <= f64::from(top) * MIN_STEP_DOWN));
    if top < MIN_LINES_FOR_A_LADDER || sides.len() >= MIN_RUNGS {
        return sides;
    }
    if sides.last().is_some_and(|&lowest| f64::from(FLOOR_SHORT_SIDE) <= f64::from(lowest) * MIN_STEP_DOWN) {
        sides.push(FLOOR_SHORT_SIDE);
    }
    while sides.len() < MIN_RUNGS {
        // Split the widest step (by ratio) at its geometric mean.
        let widest = (0..sides.len() - 1).max_by(|&a, &b| {
            let ratio = |index: usize| f64::from(sides[index]) / f64::from(sides[index + 1]);
            ratio(a).total_cmp(&ratio(b))
        });
        let Some(index) = widest else { break };
        let middle = even_at_least_two((f64::from(sides[index]) * f64::from(sides[index + 1])).sqrt());
        if middle >= sides[index] || middle <= sides[index + 1] {
            break;
        }
        sides.insert(index + 1, middle);
    }
    sides
}

/// The fixed ladder fitted to `source` for `codec`; see the module docs and `README.md`.
pub fn default_ladder(source: &LadderSource, codec: Codec) -> Result<Vec<Rung>, LadderError> {
    if source.width < 2 || source.height < 2 {
        return Err(LadderError::SourceTooSmall { width: source.width, height: source.height });
    }
    let sar = source.sample_aspect();
    let display_width = f64::from(source.width) * sar;
    let display_height = f64::from(source.height);
    let landscape = display_width >= display_height;
    let (display_short, display_long) = if landscape { (display_height, display_width) } else { (display_width, display_height) };
    // The short side in stored pixels: what "no upscaling" is about.
    let source_short_pixels = if landscape { source.height } else { source.width };
    let rungs = short_sides(source_short_pixels)
        .into_iter()
        .map(|short_side| {
            let long_side = f64::from(short_side) * display_long / display_short;
            let (mut width, mut height) =
                if landscape { (even_at_least_two(long_side), short_side) } else { (short_side, even_at_least_two(long_side)) };
            // Never wider or taller than the source in pixels (an odd source dimension rounds
            // down); an anamorphic source stretched wider by its SAR keeps its display width.
            if width > source.width && sar <= 1.0 {
                width = even_at_most(source.width);
            }
            if height > source.height {
                height = even_at_most(source.height);
            }
            let bitrate_kbps = rung_bitrate_kbps(width, height, source.frames_per_second(), codec);
            Rung {
                name: format!("{short_side}p"),
                codec,
                width,
                height,
                bitrate_kbps,
                maxrate_kbps: bitrate_kbps * 3 / 2,
                bufsize_kbps: bitrate_kbps * 2,
            }
        })
        .collect();
    Ok(rungs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sizes(rungs: &[Rung]) -> Vec<(u32, u32)> {
        rungs.iter().map(|rung| (rung.width, rung.height)).collect()
    }

    fn names(rungs: &[Rung]) -> Vec<&str> {
        rungs.iter().map(|rung| rung.name.as_str()).collect()
    }

    fn ladder(width: u32, height: u32) -> Vec<Rung> {
        default_ladder(&LadderSource::square(width, height), Codec::H264).unwrap()
    }

    #[test]
    fn full_hd_gets_the_whole_table() {
        let rungs = ladder(1920, 1080);
        assert_eq!(sizes(&rungs), vec![(1920, 1080), (1280, 720), (960, 540), (640, 360), (426, 240)]);
        assert_eq!(rungs[0].name, "1080p");
        assert_eq!((rungs[1].bitrate_kbps, rungs[1].maxrate_kbps, rungs[1].bufsize_kbps), (3000, 4500, 6000));
        // Taller than the table: the table's top is the top rung.
        assert_eq!(names(&ladder(3840, 2160))[..2], ["1080p", "720p"]);
    }

    #[test]
    fn a_source_between_rungs_is_its_own_top_rung() {
        assert_eq!(names(&ladder(640, 480)), ["480p", "360p", "240p"]);
        assert_eq!(sizes(&ladder(640, 480)), vec![(640, 480), (480, 360), (320, 240)]);
        assert_eq!(names(&ladder(720, 528)), ["528p", "360p", "240p"]);
        // 576 lines: 540p would be a 6 % step, so it gives way to the source's own size.
        assert_eq!(names(&ladder(1024, 576)), ["576p", "360p", "240p"]);
        assert_eq!(names(&ladder(1280, 720)), ["720p", "540p", "360p", "240p"]);
        // 1920x1088 (coded height): its own top, 1080p is too close to it.
        assert_eq!(names(&ladder(1920, 1088)), ["1080p", "720p", "540p", "360p", "240p"]);
    }

    #[test]
    fn small_sources_get_three_rungs_down_to_the_floor() {
        assert_eq!(names(&ladder(400, 300)), ["300p", "240p", "144p"]);
        assert_eq!(names(&ladder(480, 360)), ["360p", "240p", "144p"]);
        // 270 lines: 240p is too close to the top, so the gap to the floor is split.
        assert_eq!(names(&ladder(480, 270)), ["270p", "198p", "144p"]);
        assert_eq!(names(&ladder(320, 240)), ["240p", "186p", "144p"]);
        assert_eq!(sizes(&ladder(320, 240)), vec![(320, 240), (248, 186), (192, 144)]);
    }

    #[test]
    fn sources_below_240_lines_get_one_rung_at_their_own_size() {
        assert_eq!(sizes(&ladder(320, 180)), vec![(320, 180)]);
        let rungs = ladder(161, 91);
        assert_eq!(sizes(&rungs), vec![(160, 90)]);
        assert!(rungs[0].bitrate_kbps >= MIN_BITRATE_KBPS && rungs[0].bitrate_kbps < 500);
        assert!(default_ladder(&LadderSource::square(1, 1), Codec::H264).is_err());
    }

    #[test]
    fn portrait_keeps_its_aspect() {
        assert_eq!(sizes(&ladder(1080, 1920))[..2], [(1080, 1920), (720, 1280)]);
        assert_eq!(names(&ladder(480, 640)), ["480p", "360p", "240p"]);
    }

    #[test]
    fn anamorphic_sources_get_square_pixels_at_their_display_aspect() {
        // 720x576 with SAR 16:11 displays at about 1047x576.
        let pal_wide = LadderSource { sample_aspect_num: 16, sample_aspect_den: 11, ..LadderSource::square(720, 576) };
        let rungs = default_ladder(&pal_wide, Codec::H264).unwrap();
        assert_eq!(sizes(&rungs), vec![(1048, 576), (654, 360), (436, 240)]);
        // NTSC DVD 720x480: 4:3 (SAR 8:9) displays at 640x480, 16:9 (SAR 32:27) at 853x480.
        let dvd_4_3 = LadderSource { sample_aspect_num: 8, sample_aspect_den: 9, ..LadderSource::square(720, 480) };
        assert_eq!(sizes(&default_ladder(&dvd_4_3, Codec::H264).unwrap()), vec![(640, 480), (480, 360), (320, 240)]);
        let dvd_16_9 = LadderSource { sample_aspect_num: 32, sample_aspect_den: 27, ..LadderSource::square(720, 480) };
        assert_eq!(sizes(&default_ladder(&dvd_16_9, Codec::H264).unwrap()), vec![(854, 480), (640, 360), (426, 240)]);
    }

    #[test]
    fn bitrates_follow_pixels_frame_rate_and_codec() {
        let at = |num, den, codec| {
            let source = LadderSource { frame_rate_num: num, frame_rate_den: den, ..LadderSource::square(640, 480) };
            default_ladder(&source, codec).unwrap().iter().map(|rung| rung.bitrate_kbps).collect::<Vec<_>>()
        };
        assert_eq!(at(25, 1, Codec::H264), vec![1279, 782, 391]);
        assert_eq!(at(30000, 1001, Codec::H264), at(25, 1, Codec::H264));
        assert_eq!(at(60000, 1001, Codec::H264), vec![1808, 1105, 553]);
        assert_eq!(at(25, 1, Codec::Hevc), vec![895, 547, 274]);
    }

    proptest! {
        #[test]
        fn every_ladder_keeps_the_rules(
            width in 2u32..4200,
            height in 2u32..4200,
            sar_num in 1u32..40,
            sar_den in 1u32..40,
            rate in 0u32..240,
        ) {
            let source = LadderSource { width, height, sample_aspect_num: sar_num, sample_aspect_den: sar_den, frame_rate_num: rate, frame_rate_den: 1 };
            let sar = f64::from(sar_num) / f64::from(sar_den);
            let rungs = default_ladder(&source, Codec::H264).unwrap();
            let landscape = f64::from(width) * sar >= f64::from(height);
            let short = if landscape { height } else { width };
            prop_assert!(!rungs.is_empty());
            if short >= MIN_LINES_FOR_A_LADDER {
                prop_assert!(rungs.len() >= MIN_RUNGS, "{width}x{height} sar {sar}: {rungs:?}");
            }
            let top_short = if landscape { rungs[0].height } else { rungs[0].width };
            prop_assert_eq!(top_short, (short.min(1080) & !1).max(2));
            for rung in &rungs {
                prop_assert_eq!((rung.width % 2, rung.height % 2), (0, 0));
                // Never upscaled: no taller than the source, and no wider unless its sample
                // aspect stretches it.
                prop_assert!(rung.height <= height.max(2), "{rung:?}");
                if sar <= 1.0 {
                    prop_assert!(rung.width <= width.max(2), "{rung:?}");
                }
                prop_assert!(rung.bitrate_kbps >= MIN_BITRATE_KBPS);
            }
            for pair in rungs.windows(2) {
                prop_assert!(pair[0].height > pair[1].height || pair[0].width > pair[1].width, "{rungs:?}");
                prop_assert!(pair[0].bitrate_kbps >= pair[1].bitrate_kbps, "{rungs:?}");
                prop_assert!(pair[0].bitrate_kbps > pair[1].bitrate_kbps || pair[1].bitrate_kbps == MIN_BITRATE_KBPS, "{rungs:?}");
                prop_assert_ne!(&pair[0].name, &pair[1].name);
            }
            // The display aspect holds within the rounding to even pixels (tiny rungs aside).
            if rungs[rungs.len() - 1].height >= 64 && rungs[rungs.len() - 1].width >= 64 {
                let display = f64::from(width) * sar / f64::from(height);
                for rung in &rungs {
                    let aspect = f64::from(rung.width) / f64::from(rung.height);
                    let clamped = rung.width == (width & !1) || rung.height == (height & !1);
                    prop_assert!(clamped || (aspect - display).abs() / display < 0.03, "{rung:?} vs {display}");
                }
            }
        }
    }
}
