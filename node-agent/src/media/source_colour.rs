//! The source's colour — bit depth, primaries, transfer, matrix, range, HDR mastering display
//! and content light level — and what each rung's codec does with it ([`RungColour`]).
//!
//! Nothing is cut to 8 bits silently: HEVC and AV1 rungs of a source above 8 bits stay 10-bit
//! (`yuv420p10le`) and carry the source's colour tags, and for HDR (PQ `smpte2084`, HLG
//! `arib-std-b67`) its mastering display and content light level (x265's `hdr10` SEI, SVT-AV1's
//! metadata OBUs). H.264 rungs are 8-bit: an HDR source is tone-mapped for them to SDR BT.709
//! (`zscale` to linear light at 100 nits, `tonemap=hable`, `zscale` to BT.709), and the reference
//! frames they are scored against and the fingerprints they are validated against go through
//! the same tone map, so every comparison is like with like.
//!
//! The tone map needs ffmpeg's `zscale` (libzimg; Debian 12's ffmpeg has it). There is no
//! fallback picture path without it: `tonemap` needs linear light, which only `zscale` makes
//! here, and the `colorspace` filter knows neither PQ nor HLG. On an ffmpeg without `zscale`,
//! inspecting an HDR source fails at its decode pass with ffmpeg's "No such filter: 'zscale'"
//! in the error's evidence; give such a farm an ffmpeg with zimg.

use serde::{Deserialize, Serialize};
use shotfarm_kernels::decode::pixel_format::decode_depth_of_pixel_format;
use shotfarm_proto::pipeline::Codec;

use super::probe::{ProbeSideData, ProbeStream};

/// Whether ffmpeg's transfer name is an HDR one: PQ (`smpte2084`) or HLG (`arib-std-b67`).
pub fn is_hdr_transfer(transfer: Option<&str>) -> bool {
    matches!(transfer, Some("smpte2084" | "arib-std-b67"))
}

/// CIE 1931 chromaticities and luminance of the display an HDR source was mastered on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MasteringDisplay {
    pub red: (f64, f64),
    pub green: (f64, f64),
    pub blue: (f64, f64),
    pub white_point: (f64, f64),
    /// cd/m².
    pub max_luminance: f64,
    pub min_luminance: f64,
}

/// Content light level: the brightest pixel and the brightest frame average, cd/m².
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentLight {
    pub max_content: u32,
    pub max_average: u32,
}

/// The source's colour, as inspection found it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceColour {
    /// Bits per sample the source decodes to (8, 10, 12, 16); 0 when unknown (treated as 8).
    #[serde(default)]
    pub bit_depth: u8,
    /// ffmpeg's names: `bt709`, `bt2020`…
    #[serde(default)]
    pub primaries: Option<String>,
    /// `bt709`, `smpte2084` (PQ), `arib-std-b67` (HLG)…
    #[serde(default)]
    pub transfer: Option<String>,
    /// `bt709`, `bt2020nc`…
    #[serde(default)]
    pub matrix: Option<String>,
    /// `tv` or `pc`.
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub mastering_display: Option<MasteringDisplay>,
    #[serde(default)]
    pub content_light: Option<ContentLight>,
}

/// What a rung does with the source's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RungColour {
    /// 8-bit 4:2:0 with the source's colour tags (an 8-bit source, or H.264 of an SDR one).
    EightBit,
    /// 10-bit 4:2:0 with the source's colour tags and HDR metadata.
    TenBit,
    /// Tone-mapped to SDR BT.709, 8-bit 4:2:0 (H.264 of an HDR source).
    ToneMappedToSdr,
}

impl SourceColour {
    /// The colour of `stream`; `frame_side_data` is its first frame's side data, where codecs
    /// such as HEVC carry the mastering display and content light level.
    pub fn of_stream(stream: &ProbeStream, frame_side_data: &[ProbeSideData]) -> Self {
        let known = |value: &Option<String>| value.clone().filter(|value| !value.is_empty() && value != "unknown" && value != "unspecified");
        let side_data = || stream.side_data_list.iter().chain(frame_side_data);
        Self {
            bit_depth: stream.pix_fmt.as_deref().map_or(0, decode_depth_of_pixel_format),
            primaries: known(&stream.colour.color_primaries),
            transfer: known(&stream.colour.color_transfer),
            matrix: known(&stream.colour.color_space),
            range: known(&stream.colour.color_range),
            mastering_display: side_data().find_map(ProbeSideData::mastering_display),
            content_light: side_data().find_map(ProbeSideData::content_light),
        }
    }

    /// PQ or HLG.
    pub fn is_hdr(&self) -> bool {
        is_hdr_transfer(self.transfer.as_deref())
    }

    /// What a rung of `codec` does with this colour.
    pub fn for_codec(&self, codec: Codec) -> RungColour {
        match codec {
            Codec::H264 if self.is_hdr() => RungColour::ToneMappedToSdr,
            Codec::Hevc | Codec::Av1 if self.bit_depth > 8 => RungColour::TenBit,
            _ => RungColour::EightBit,
        }
    }

    /// The filters after scaling for a rung of `codec`, ending in its pixel format.
    pub fn rung_filters(&self, codec: Codec) -> String {
        match self.for_codec(codec) {
            RungColour::EightBit => "format=yuv420p".to_owned(),
            RungColour::TenBit => "format=yuv420p10le".to_owned(),
            RungColour::ToneMappedToSdr => self.tone_map_filters(),
        }
    }

    /// HDR to SDR BT.709 8-bit 4:2:0 (limited range), from this source's tagged colour. The last
    /// `zscale` writes the YUV itself (BT.709 matrix), so no other scaler's RGB-to-YUV matrix
    /// or range is involved, in the rungs and in the fingerprints alike.
    pub fn tone_map_filters(&self) -> String {
        let transfer = self.transfer.as_deref().unwrap_or("smpte2084");
        let primaries = self.primaries.as_deref().unwrap_or("bt2020");
        let matrix = self.matrix.as_deref().unwrap_or("bt2020nc");
        let range = if self.range.as_deref() == Some("pc") { "full" } else { "limited" };
        format!(
            "zscale=tin={transfer}:pin={primaries}:min={matrix}:rin={range}:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=limited,format=yuv420p"
        )
    }

    /// The colour tags written into a rung of `codec` (`-color_primaries`…); none when the
    /// source has none.
    pub fn tag_args(&self, codec: Codec) -> Vec<String> {
        let tags: [(&str, Option<&str>); 4] = match self.for_codec(codec) {
            RungColour::ToneMappedToSdr => [("-color_primaries", Some("bt709")), ("-color_trc", Some("bt709")), ("-colorspace", Some("bt709")), ("-color_range", Some("tv"))],
            _ => [
                ("-color_primaries", self.primaries.as_deref()),
                ("-color_trc", self.transfer.as_deref()),
                ("-colorspace", self.matrix.as_deref()),
                ("-color_range", self.range.as_deref()),
            ],
        };
        tags.into_iter().filter_map(|(option, value)| value.map(|value| [option.to_owned(), value.to_owned()])).flatten().collect()
    }

    /// x265 parameters for HDR10 (`:`-joined, to append), when the rung keeps the source's HDR.
    pub fn x265_hdr_params(&self) -> Option<String> {
        if self.for_codec(Codec::Hevc) != RungColour::TenBit || !self.is_hdr() {
            return None;
        }
        let mut params = vec!["repeat-headers=1".to_owned()];
        if self.transfer.as_deref() == Some("smpte2084") {
            params.push("hdr10=1".to_owned());
            params.push("hdr10-opt=1".to_owned());
        }
        if let Some(display) = self.mastering_display {
            // Chromaticities in 0.00002 units, luminance in 0.0001 cd/m².
            let xy = |(x, y): (f64, f64)| format!("({},{})", (x * 50000.0).round() as u64, (y * 50000.0).round() as u64);
            params.push(format!(
                "master-display=G{}B{}R{}WP{}L({},{})",
                xy(display.green),
                xy(display.blue),
                xy(display.red),
                xy(display.white_point),
                (display.max_luminance * 10000.0).round() as u64,
                (display.min_luminance * 10000.0).round() as u64
            ));
        }
        if let Some(light) = self.content_light {
            params.push(format!("max-cll={},{}", light.max_content, light.max_average));
        }
        Some(params.join(":"))
    }

    /// SVT-AV1 parameters for the HDR metadata (`:`-joined, to append).
    pub fn svtav1_hdr_params(&self) -> Option<String> {
        if self.for_codec(Codec::Av1) != RungColour::TenBit || !self.is_hdr() {
            return None;
        }
        let mut params = Vec::new();
        if let Some(display) = self.mastering_display {
            let xy = |(x, y): (f64, f64)| format!("({x:.4},{y:.4})");
            params.push(format!(
                "mastering-display=G{}B{}R{}WP{}L({:.4},{:.4})",
                xy(display.green),
                xy(display.blue),
                xy(display.red),
                xy(display.white_point),
                display.max_luminance,
                display.min_luminance
            ));
        }
        if let Some(light) = self.content_light {
            params.push(format!("content-light={},{}", light.max_content, light.max_average));
        }
        (!params.is_empty()).then(|| params.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr10() -> SourceColour {
        SourceColour {
            bit_depth: 10,
            primaries: Some("bt2020".into()),
            transfer: Some("smpte2084".into()),
            matrix: Some("bt2020nc".into()),
            range: Some("tv".into()),
            mastering_display: Some(MasteringDisplay { red: (0.68, 0.32), green: (0.265, 0.69), blue: (0.15, 0.06), white_point: (0.3127, 0.329), max_luminance: 1000.0, min_luminance: 0.0001 }),
            content_light: Some(ContentLight { max_content: 1000, max_average: 400 }),
        }
    }

    #[test]
    fn each_codec_gets_its_colour() {
        let source = hdr10();
        assert_eq!([Codec::H264, Codec::Hevc, Codec::Av1].map(|codec| source.for_codec(codec)), [RungColour::ToneMappedToSdr, RungColour::TenBit, RungColour::TenBit]);
        let sdr_ten_bit = SourceColour { bit_depth: 10, ..SourceColour::default() };
        assert_eq!(sdr_ten_bit.for_codec(Codec::H264), RungColour::EightBit);
        assert_eq!(sdr_ten_bit.rung_filters(Codec::Hevc), "format=yuv420p10le");
        assert_eq!(SourceColour::default().for_codec(Codec::Hevc), RungColour::EightBit);
        assert!(source.rung_filters(Codec::H264).starts_with("zscale=tin=smpte2084:pin=bt2020:min=bt2020nc:rin=limited:t=linear"));
        assert_eq!(source.tag_args(Codec::H264)[..2], ["-color_primaries".to_owned(), "bt709".to_owned()]);
        assert_eq!(source.tag_args(Codec::Hevc)[2..4], ["-color_trc".to_owned(), "smpte2084".to_owned()]);
        assert!(SourceColour::default().tag_args(Codec::H264).is_empty());
    }

    #[test]
    fn hdr_metadata_in_each_encoders_units() {
        let source = hdr10();
        assert_eq!(
            source.x265_hdr_params().as_deref(),
            Some("repeat-headers=1:hdr10=1:hdr10-opt=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400")
        );
        assert_eq!(
            source.svtav1_hdr_params().as_deref(),
            Some("mastering-display=G(0.2650,0.6900)B(0.1500,0.0600)R(0.6800,0.3200)WP(0.3127,0.3290)L(1000.0000,0.0001):content-light=1000,400")
        );
        assert_eq!(SourceColour { bit_depth: 10, ..SourceColour::default() }.x265_hdr_params(), None);
    }
}
