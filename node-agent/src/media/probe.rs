//! ffprobe's view of a file: container and streams, parsed from `-print_format json`.
//!
//! Only the fields the pipeline uses are read; everything is optional in ffprobe's output,
//! so everything is optional here and the callers decide what a missing field means.

use std::path::Path;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::decode::input_pins::{INPUT_PROTOCOLS, pinned_input};
use tokio_util::sync::CancellationToken;

use super::source_colour::{ContentLight, MasteringDisplay};
use super::process::{Tool, ToolCommand, ToolError, run_collecting_stdout};

/// A rational number as ffprobe prints it (`30000/1001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rational {
    pub num: u32,
    pub den: u32,
}

impl Rational {
    /// Parses `a/b` or `a:b`; `None` for zero or malformed values (ffprobe prints `0/0` for
    /// "unknown").
    pub fn parse(text: &str) -> Option<Self> {
        let (num, den) = text.split_once(['/', ':'])?;
        let (num, den) = (num.trim().parse::<u32>().ok()?, den.trim().parse::<u32>().ok()?);
        (num > 0 && den > 0).then_some(Self { num, den })
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// The reciprocal as a float: for a frame rate, one frame's duration in seconds.
    pub fn period_seconds(self) -> f64 {
        f64::from(self.den) / f64::from(self.num)
    }

    /// The closest rational with a small denominator for a rate in frames per second.
    pub fn from_rate(rate: f64) -> Option<Self> {
        if !(rate > 0.0 && rate.is_finite()) {
            return None;
        }
        // NTSC-style rates first: 23.976, 29.97, 59.94.
        for base in [24u32, 30, 60] {
            let ntsc = f64::from(base) * 1000.0 / 1001.0;
            if (rate - ntsc).abs() < 0.005 {
                return Some(Self { num: base * 1000, den: 1001 });
            }
        }
        let den = 1000u32;
        let num = (rate * f64::from(den)).round() as u32;
        let divisor = gcd(num, den);
        (num > 0).then_some(Self { num: num / divisor, den: den / divisor })
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

impl std::fmt::Display for Rational {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// The parts of `ffprobe -show_format -show_streams -count_packets` we use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeOutput {
    #[serde(default)]
    pub streams: Vec<ProbeStream>,
    pub format: Option<ProbeFormat>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeFormat {
    pub format_name: Option<String>,
    pub duration: Option<String>,
    pub size: Option<String>,
    pub bit_rate: Option<String>,
    pub start_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeStream {
    pub index: Option<u32>,
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub profile: Option<String>,
    pub level: Option<i32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pix_fmt: Option<String>,
    pub sample_aspect_ratio: Option<String>,
    pub r_frame_rate: Option<String>,
    pub avg_frame_rate: Option<String>,
    pub start_time: Option<String>,
    pub duration: Option<String>,
    pub bit_rate: Option<String>,
    pub nb_frames: Option<String>,
    pub nb_read_packets: Option<String>,
    pub sample_rate: Option<String>,
    pub channels: Option<u32>,
    #[serde(default)]
    pub channel_layout: Option<String>,
    #[serde(default)]
    pub tags: Option<ProbeTags>,
    pub disposition: Option<ProbeDisposition>,
    /// `progressive`, `tt`, `bb`, `tb`, `bt` or `unknown`.
    #[serde(default)]
    pub field_order: Option<String>,
    #[serde(flatten)]
    pub colour: ColourTags,
    /// The display matrix (rotation) among others.
    #[serde(default)]
    pub side_data_list: Vec<ProbeSideData>,
}

/// A stream's colour tags, by ffmpeg's names (`bt2020`, `smpte2084`, `bt2020nc`, `tv`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColourTags {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_primaries: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_transfer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_space: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_range: Option<String>,
}

/// The stream tags we read (`language`, `title`, the legacy `rotate`); ffprobe prints others,
/// which are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeTags {
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// The legacy rotation tag: degrees clockwise.
    #[serde(default)]
    pub rotate: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeDisposition {
    #[serde(default)]
    pub attached_pic: u8,
    /// The stream players pick first.
    #[serde(default)]
    pub default: u8,
}

/// One entry of a stream's or a frame's side data, the fields we use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeSideData {
    pub side_data_type: Option<String>,
    /// A display matrix's rotation: degrees counterclockwise.
    #[serde(default)]
    pub rotation: Option<f64>,
    /// Mastering display metadata: chromaticities and luminances as rationals (`34000/50000`).
    #[serde(default)]
    pub red_x: Option<String>,
    #[serde(default)]
    pub red_y: Option<String>,
    #[serde(default)]
    pub green_x: Option<String>,
    #[serde(default)]
    pub green_y: Option<String>,
    #[serde(default)]
    pub blue_x: Option<String>,
    #[serde(default)]
    pub blue_y: Option<String>,
    #[serde(default)]
    pub white_point_x: Option<String>,
    #[serde(default)]
    pub white_point_y: Option<String>,
    #[serde(default)]
    pub min_luminance: Option<String>,
    #[serde(default)]
    pub max_luminance: Option<String>,
    /// Content light level metadata, cd/m².
    #[serde(default)]
    pub max_content: Option<u32>,
    #[serde(default)]
    pub max_average: Option<u32>,
}

impl ProbeSideData {
    /// The mastering display, when this is one with every field.
    pub fn mastering_display(&self) -> Option<MasteringDisplay> {
        let value = |field: &Option<String>| field.as_deref().and_then(parse_ratio);
        let pair = |x: &Option<String>, y: &Option<String>| Some((value(x)?, value(y)?));
        Some(MasteringDisplay {
            red: pair(&self.red_x, &self.red_y)?,
            green: pair(&self.green_x, &self.green_y)?,
            blue: pair(&self.blue_x, &self.blue_y)?,
            white_point: pair(&self.white_point_x, &self.white_point_y)?,
            max_luminance: value(&self.max_luminance)?,
            min_luminance: value(&self.min_luminance)?,
        })
    }

    /// The content light level, when this is one.
    pub fn content_light(&self) -> Option<ContentLight> {
        Some(ContentLight { max_content: self.max_content?, max_average: self.max_average? })
    }
}

/// `a/b` (or a plain number) as a float; `None` for a zero denominator or garbage.
fn parse_ratio(text: &str) -> Option<f64> {
    match text.split_once('/') {
        Some((num, den)) => {
            let (num, den) = (num.trim().parse::<f64>().ok()?, den.trim().parse::<f64>().ok()?);
            (den != 0.0).then_some(num / den)
        }
        None => text.trim().parse().ok(),
    }
}

impl ProbeStream {
    pub fn is_video(&self) -> bool {
        // Cover art is a video stream of one picture; it is not the video.
        self.codec_type.as_deref() == Some("video") && self.disposition.as_ref().is_none_or(|d| d.attached_pic == 0)
    }

    pub fn is_audio(&self) -> bool {
        self.codec_type.as_deref() == Some("audio")
    }
}

/// `ffprobe -show_frames` of one frame: its side data.
#[derive(Debug, Clone, Default, Deserialize)]
struct ProbeFrames {
    #[serde(default)]
    frames: Vec<ProbeFrame>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ProbeFrame {
    #[serde(default)]
    side_data_list: Vec<ProbeSideData>,
}

/// The side data of the first frame of stream `selector` (`-select_streams`: `v:0`, `2`) of
/// `path`: where HEVC and AV1 carry the mastering display and content light level.
pub async fn probe_first_frame_side_data(path: &Path, selector: &str, cancel: &CancellationToken) -> Result<Vec<ProbeSideData>, ProbeError> {
    let command = ToolCommand::new(Tool::Ffprobe)
        .args(["-v", "error", "-print_format", "json", "-read_intervals", "%+#1", "-show_entries", "frame_side_data", "-select_streams", selector])
        .args(pinned_input(path));
    let (stdout, _) = run_collecting_stdout(&command, cancel).await?;
    let frames: ProbeFrames = serde_json::from_slice(&stdout)?;
    Ok(frames.frames.into_iter().next().map(|frame| frame.side_data_list).unwrap_or_default())
}

/// Parses an optional decimal field.
pub fn parse_number<T: std::str::FromStr>(field: Option<&String>) -> Option<T> {
    field.and_then(|text| text.trim().parse::<T>().ok())
}

/// Why probing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("ffprobe printed JSON we cannot read: {0}")]
    Json(#[from] serde_json::Error),
}

/// Runs ffprobe on `path`. With `count_packets`, ffprobe reads (but does not decode) the
/// whole file to count packets per stream.
pub async fn probe_file(path: &Path, count_packets: bool, cancel: &CancellationToken) -> Result<ProbeOutput, ProbeError> {
    let mut command = ToolCommand::new(Tool::Ffprobe).args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]);
    if count_packets {
        command = command.arg("-count_packets");
    }
    let command = command.args(pinned_input(path));
    let (stdout, _) = run_collecting_stdout(&command, cancel).await?;
    Ok(serde_json::from_slice(&stdout)?)
}

/// The presentation times of a video stream's packets, read without decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketTimes {
    /// The stream's time base.
    pub time_base: Rational,
    /// Per packet in file order: its presentation time in `time_base` units (`None`: it has
    /// none) and whether it is a keyframe.
    pub packets: Vec<(Option<i64>, bool)>,
}

/// Lists the packets of stream `stream_index` of `path` (ffprobe's `-show_entries
/// packet=pts,flags`, no decoding); `None` when ffprobe's listing has no time base or a line
/// that is not `packet,PTS,FLAGS`.
pub async fn probe_packet_times(path: &Path, stream_index: u32, cancel: &CancellationToken) -> Result<Option<PacketTimes>, ToolError> {
    let command = ToolCommand::new(Tool::Ffprobe)
        .args(["-v", "error", "-select_streams", &stream_index.to_string(), "-show_entries", "stream=time_base:packet=pts,flags", "-of", "csv=p=1"])
        .args(pinned_input(path));
    let (stdout, _) = run_collecting_stdout(&command, cancel).await?;
    Ok(parse_packet_times(&String::from_utf8_lossy(&stdout)))
}

/// `stream,TB` and `packet,PTS,FLAGS` lines (PTS `N/A` when missing) into [`PacketTimes`].
fn parse_packet_times(listing: &str) -> Option<PacketTimes> {
    let mut time_base = None;
    let mut packets = Vec::new();
    for line in listing.lines().filter(|line| !line.is_empty()) {
        let mut fields = line.split(',');
        match fields.next()? {
            "stream" => time_base = Rational::parse(fields.next()?),
            "packet" => {
                let pts = fields.next()?;
                let flags = fields.next()?;
                let pts = if pts == "N/A" { None } else { Some(pts.parse().ok()?) };
                packets.push((pts, flags.starts_with('K')));
            }
            _ => return None,
        }
    }
    Some(PacketTimes { time_base: time_base?, packets })
}

/// Runs ffprobe on `path` read as `demuxer` and nothing else (`-format_whitelist` and `-f`),
/// counting packets: for describing a file the farm refuses (a picture, an audio file), with a
/// single-file demuxer the caller names.
pub async fn probe_as(path: &Path, demuxer: &str, cancel: &CancellationToken) -> Result<ProbeOutput, ProbeError> {
    let command = ToolCommand::new(Tool::Ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-count_packets"])
        .args(["-protocol_whitelist", INPUT_PROTOCOLS, "-format_whitelist", demuxer, "-f", demuxer, "-i"])
        .arg(path.display().to_string());
    let (stdout, _) = run_collecting_stdout(&command, cancel).await?;
    Ok(serde_json::from_slice(&stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_listings() {
        let listing = "stream,1/12288\npacket,0,K_\npacket,1024,__\npacket,N/A,__\npacket,-512,K_\n";
        assert_eq!(
            parse_packet_times(listing),
            Some(PacketTimes { time_base: Rational { num: 1, den: 12288 }, packets: vec![(Some(0), true), (Some(1024), false), (None, false), (Some(-512), true)] })
        );
        assert_eq!(parse_packet_times("packet,0,K_\n"), None, "no time base");
        assert_eq!(parse_packet_times("stream,1/25\npacket,zero,K_\n"), None);
        assert_eq!(parse_packet_times("stream,1/25\nside_data,x\n"), None);
    }

    #[test]
    fn rationals() {
        assert_eq!(Rational::parse("30000/1001"), Some(Rational { num: 30000, den: 1001 }));
        assert_eq!(Rational::parse("16:9"), Some(Rational { num: 16, den: 9 }));
        assert_eq!(Rational::parse("0/0"), None);
        assert_eq!(Rational::parse("abc"), None);
        assert_eq!(Rational::from_rate(29.97002997), Some(Rational { num: 30000, den: 1001 }));
        assert_eq!(Rational::from_rate(25.0), Some(Rational { num: 25, den: 1 }));
        assert_eq!(Rational::from_rate(12.5), Some(Rational { num: 25, den: 2 }));
        assert_eq!(Rational::from_rate(0.0), None);
    }
}
