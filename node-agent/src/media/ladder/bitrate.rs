//! The bitrate of a rung of any size and frame rate: the H.264 table's bitrates interpolated
//! by pixel count on a power law between neighbouring table rungs, raised for frame rates
//! above 30 fps, then scaled for the codec. `README.md` beside this file gives the rule.

use shotfarm_proto::pipeline::Codec;

/// A rung of the fixed table: short side and average H.264 bitrate for a 16:9 picture at up
/// to 30 fps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TableRung {
    pub(super) short_side: u32,
    pub(super) bitrate_kbps: u32,
}

impl TableRung {
    /// Pixels of the 16:9 picture the table's bitrate is for.
    fn pixels(self) -> f64 {
        let short = f64::from(self.short_side);
        short * short * 16.0 / 9.0
    }
}

/// The fixed H.264 table (short side, average kb/s), after Apple's HLS authoring table,
/// tallest first.
pub(super) const H264_TABLE: &[TableRung] = &[
    TableRung { short_side: 1080, bitrate_kbps: 5000 },
    TableRung { short_side: 720, bitrate_kbps: 3000 },
    TableRung { short_side: 540, bitrate_kbps: 2000 },
    TableRung { short_side: 360, bitrate_kbps: 1000 },
    TableRung { short_side: 240, bitrate_kbps: 500 },
];

/// No rendition gets less than this.
pub const MIN_BITRATE_KBPS: u32 = 50;

/// The table's bitrates hold up to this rate; faster sources get more (see [`frame_rate_factor`]).
const TABLE_FRAME_RATE: f64 = 30.0;
/// A high frame rate at most doubles the bitrate (120 fps).
const MAX_FRAME_RATE_FACTOR: f64 = 2.0;

/// The H.264 bitrate for `pixels` at up to 30 fps: the power law `b = b_i · (p / p_i)^k`
/// through the two table rungs whose pixel counts surround `pixels` (a straight line on
/// log-log axes), extended past either end of the table by its outermost segment.
pub(super) fn table_bitrate_for_pixels(pixels: f64) -> f64 {
    // Pairs from the smallest up; the first pair whose upper end covers `pixels`, or the last.
    let ascending: Vec<TableRung> = H264_TABLE.iter().rev().copied().collect();
    let segment = ascending
        .windows(2)
        .find(|pair| pixels <= pair[1].pixels())
        .or_else(|| ascending.windows(2).last());
    let Some([low, high]) = segment else { return f64::from(MIN_BITRATE_KBPS) };
    let exponent = (f64::from(high.bitrate_kbps) / f64::from(low.bitrate_kbps)).ln() / (high.pixels() / low.pixels()).ln();
    f64::from(low.bitrate_kbps) * (pixels.max(1.0) / low.pixels()).powf(exponent)
}

/// How much more a source faster than 30 fps needs: `sqrt(fps / 30)`, at most 2 (so 60 fps gets
/// 1.41×, as more frames share the motion between them); 30 fps and below, or an unknown rate,
/// get the table as it is.
pub(super) fn frame_rate_factor(frames_per_second: Option<f64>) -> f64 {
    match frames_per_second {
        Some(rate) if rate.is_finite() && rate > TABLE_FRAME_RATE => (rate / TABLE_FRAME_RATE).sqrt().min(MAX_FRAME_RATE_FACTOR),
        _ => 1.0,
    }
}

/// H.265 needs 70 % and AV1 60 % of H.264's bitrate for the same quality.
pub(super) fn codec_factor(codec: Codec) -> f64 {
    match codec {
        Codec::H264 => 1.0,
        Codec::Hevc => 0.7,
        Codec::Av1 => 0.6,
    }
}

/// The average bitrate of a `width`×`height` rung of `codec` at `frames_per_second`.
pub(super) fn rung_bitrate_kbps(width: u32, height: u32, frames_per_second: Option<f64>, codec: Codec) -> u32 {
    let pixels = f64::from(width) * f64::from(height);
    let kbps = table_bitrate_for_pixels(pixels) * frame_rate_factor(frames_per_second) * codec_factor(codec);
    (kbps.round().min(f64::from(u32::MAX / 2)) as u32).max(MIN_BITRATE_KBPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sizes_get_the_table_bitrates() {
        for rung in H264_TABLE {
            let width = (f64::from(rung.short_side) * 16.0 / 9.0).round() as u32;
            let expected = f64::from(rung.bitrate_kbps);
            let got = f64::from(rung_bitrate_kbps(width, rung.short_side, Some(25.0), Codec::H264));
            assert!((got - expected).abs() <= expected * 0.005, "{}p: {got} kb/s, table says {expected}", rung.short_side);
        }
    }

    #[test]
    fn sizes_between_rungs_are_interpolated_on_a_power_law() {
        // 640x480 (307200 px) lies between 640x360 (1000 kb/s) and 960x540 (2000 kb/s):
        // 1000 · (307200/230400)^(ln 2 / ln 2.25) = 1279.
        assert_eq!(rung_bitrate_kbps(640, 480, Some(25.0), Codec::H264), 1279);
        // 720x528 (380160 px) on the same segment.
        assert_eq!(rung_bitrate_kbps(720, 528, Some(25.0), Codec::H264), 1534);
        // Below the table: the 240p-360p segment extended (k ≈ 0.855).
        let small = rung_bitrate_kbps(256, 144, None, Codec::H264);
        assert!((205..=225).contains(&small), "{small}");
    }

    #[test]
    fn high_frame_rates_get_more_and_codecs_less() {
        assert_eq!(rung_bitrate_kbps(1280, 720, Some(60.0), Codec::H264), 4243);
        assert_eq!(rung_bitrate_kbps(1280, 720, Some(30.0), Codec::H264), 3000);
        assert_eq!(rung_bitrate_kbps(1280, 720, Some(12.5), Codec::H264), 3000);
        assert_eq!(rung_bitrate_kbps(1280, 720, Some(240.0), Codec::H264), 6000);
        assert_eq!(rung_bitrate_kbps(1280, 720, None, Codec::Hevc), 2100);
        assert_eq!(rung_bitrate_kbps(1280, 720, None, Codec::Av1), 1800);
        assert_eq!(rung_bitrate_kbps(32, 32, None, Codec::Av1), MIN_BITRATE_KBPS);
    }
}
