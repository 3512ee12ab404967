//! The fixed default encoding ladder, fitted to a source: never upscaling, even dimensions,
//! aspect preserved.
//!
//! Rungs are named by their short side (`720p` is 1280×720 for a landscape 16:9 source and
//! 720×1280 for a portrait one). A rung is kept when its short side is at most the source's;
//! when the source is smaller than every rung, one rung at the source's own size remains, its
//! bitrate scaled down by pixel count. Widths follow the display aspect ratio (sample aspect
//! ratio applied), rounded to even numbers as 4:2:0 needs. The rungs are the wire's
//! [`Rung`], named by short side here and by codec and short side (`h264_720p`) once the ladder
//! task has renamed them. `README.md` beside this file explains the table and the fitting.

pub mod hull;
pub mod recipe_ladder;
pub mod shot_allocation;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{Codec, Rung};

/// A rung of the default ladder before fitting: short side and bitrate for a 16:9 picture.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DefaultRung {
    short_side: u32,
    bitrate_kbps: u32,
}

/// The default H.264 ladder (short side, average kb/s), after Apple's HLS authoring table.
const DEFAULT_H264_LADDER: &[DefaultRung] = &[
    DefaultRung { short_side: 1080, bitrate_kbps: 5000 },
    DefaultRung { short_side: 720, bitrate_kbps: 3000 },
    DefaultRung { short_side: 540, bitrate_kbps: 2000 },
    DefaultRung { short_side: 360, bitrate_kbps: 1000 },
    DefaultRung { short_side: 240, bitrate_kbps: 500 },
];

/// No rendition gets less than this.
const MIN_BITRATE_KBPS: u32 = 50;

/// What the ladder needs to know about the source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LadderSource {
    pub width: u32,
    pub height: u32,
    /// Sample aspect ratio (1/1 for square pixels).
    pub sample_aspect_num: u32,
    pub sample_aspect_den: u32,
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

/// The default ladder fitted to `source` for `codec` (bitrates are H.264's; H.265 and AV1 get
/// 70% and 60% of them).
pub fn default_ladder(source: &LadderSource, codec: Codec) -> Result<Vec<Rung>, LadderError> {
    if source.width < 2 || source.height < 2 {
        return Err(LadderError::SourceTooSmall { width: source.width, height: source.height });
    }
    let sar = if source.sample_aspect_num > 0 && source.sample_aspect_den > 0 {
        f64::from(source.sample_aspect_num) / f64::from(source.sample_aspect_den)
    } else {
        1.0
    };
    let display_width = f64::from(source.width) * sar;
    let display_height = f64::from(source.height);
    let landscape = display_width >= display_height;
    let (source_short, source_long) = if landscape { (display_height, display_width) } else { (display_width, display_height) };
    // Pixel dimensions of the source along the short side (what "no upscaling" is about).
    let source_short_pixels = if landscape { source.height } else { source.width };
    let codec_factor = match codec {
        Codec::H264 => 1.0,
        Codec::Hevc => 0.7,
        Codec::Av1 => 0.6,
    };
    let make_rung = |name: String, short_side: f64, base_bitrate_kbps: f64| {
        let long_side = short_side * source_long / source_short;
        let (width, height) = if landscape {
            (even_at_least_two(long_side), even_at_least_two(short_side))
        } else {
            (even_at_least_two(short_side), even_at_least_two(long_side))
        };
        let bitrate_kbps = ((base_bitrate_kbps * codec_factor).round() as u32).max(MIN_BITRATE_KBPS);
        Rung { name, codec, width, height, bitrate_kbps, maxrate_kbps: bitrate_kbps * 3 / 2, bufsize_kbps: bitrate_kbps * 2 }
    };
    let mut rungs: Vec<Rung> = DEFAULT_H264_LADDER
        .iter()
        .filter(|rung| rung.short_side <= source_short_pixels)
        .map(|rung| make_rung(format!("{}p", rung.short_side), f64::from(rung.short_side), f64::from(rung.bitrate_kbps)))
        .collect();
    if rungs.is_empty() {
        // Smaller than the smallest rung: one rendition at the source's own size.
        let smallest = DEFAULT_H264_LADDER[DEFAULT_H264_LADDER.len() - 1];
        let short_side = f64::from(source_short_pixels);
        let pixel_ratio = (short_side / f64::from(smallest.short_side)).powi(2);
        let short_even = even_at_least_two(short_side - 1.0).min(source_short_pixels.max(2));
        rungs.push(make_rung(format!("{short_even}p"), f64::from(short_even), f64::from(smallest.bitrate_kbps) * pixel_ratio));
    }
    // Never wider or taller than the source in pixels (an odd source dimension rounds down).
    for rung in &mut rungs {
        if rung.width > source.width.max(2) && sar <= 1.0 {
            rung.width = even_at_least_two(f64::from(source.width) - 1.0);
        }
        if rung.height > source.height.max(2) {
            rung.height = even_at_least_two(f64::from(source.height) - 1.0);
        }
    }
    Ok(rungs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(width: u32, height: u32) -> LadderSource {
        LadderSource { width, height, sample_aspect_num: 1, sample_aspect_den: 1 }
    }

    fn sizes(rungs: &[Rung]) -> Vec<(u32, u32)> {
        rungs.iter().map(|rung| (rung.width, rung.height)).collect()
    }

    #[test]
    fn full_hd_gets_the_whole_ladder() {
        let rungs = default_ladder(&source(1920, 1080), Codec::H264).unwrap();
        assert_eq!(sizes(&rungs), vec![(1920, 1080), (1280, 720), (960, 540), (640, 360), (426, 240)]);
        assert_eq!(rungs[0].name, "1080p");
        assert_eq!((rungs[1].bitrate_kbps, rungs[1].maxrate_kbps, rungs[1].bufsize_kbps), (3000, 4500, 6000));
    }

    #[test]
    fn never_upscales() {
        let rungs = default_ladder(&source(1280, 720), Codec::H264).unwrap();
        assert_eq!(rungs[0].name, "720p");
        assert!(rungs.iter().all(|rung| rung.width <= 1280 && rung.height <= 720));
    }

    #[test]
    fn portrait_keeps_its_aspect() {
        let rungs = default_ladder(&source(1080, 1920), Codec::H264).unwrap();
        assert_eq!(sizes(&rungs)[..2], [(1080, 1920), (720, 1280)]);
    }

    #[test]
    fn odd_and_tiny_sources_get_one_even_rung() {
        let rungs = default_ladder(&source(161, 91), Codec::H264).unwrap();
        assert_eq!(rungs.len(), 1);
        let rung = &rungs[0];
        assert_eq!((rung.width % 2, rung.height % 2), (0, 0));
        assert!(rung.width <= 161 && rung.height <= 91, "{rung:?}");
        assert!(rung.bitrate_kbps >= MIN_BITRATE_KBPS && rung.bitrate_kbps < 500);
        assert!(default_ladder(&source(1, 1), Codec::H264).is_err());
    }

    #[test]
    fn anamorphic_width_follows_the_display_aspect() {
        // 720x576 with SAR 16:11 displays at about 1047x576.
        let rungs = default_ladder(&LadderSource { width: 720, height: 576, sample_aspect_num: 16, sample_aspect_den: 11 }, Codec::H264).unwrap();
        assert_eq!(rungs[0].name, "540p");
        assert_eq!(rungs[0].height, 540);
        assert_eq!(rungs[0].width, 982);
    }

    #[test]
    fn aspect_is_preserved_within_rounding() {
        for (width, height) in [(1920u32, 1080u32), (1440, 1080), (2048, 858), (1000, 1000), (320, 180)] {
            for rung in default_ladder(&source(width, height), Codec::Hevc).unwrap() {
                let source_aspect = f64::from(width) / f64::from(height);
                let rung_aspect = f64::from(rung.width) / f64::from(rung.height);
                assert!((source_aspect - rung_aspect).abs() / source_aspect < 0.02, "{width}x{height} -> {rung:?}");
                assert_eq!((rung.width % 2, rung.height % 2), (0, 0));
            }
        }
    }
}
