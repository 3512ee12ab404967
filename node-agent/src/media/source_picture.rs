//! The source's picture as every stage sees it: which video stream, turned upright, and
//! deinterlaced — one definition, applied by every ffmpeg that decodes the source.
//!
//! Inspection (fingerprints), the encoder (its filter graph and its landing check) and scoring
//! (the reference frames) each decode the source themselves; if one of them saw the stored
//! picture and another the displayed one, fingerprints and VMAF would compare unlike pictures.
//! Every such decode maps [`SourcePicture::stream_spec`] and starts its filter graph with
//! [`SourcePicture::filters`].
//!
//! Turning: ffmpeg's own autorotation (on by default in the CLI) turns the frames by the
//! display matrix before any filter of ours, identically in every stage; it is kept because it
//! is also what makes ffmpeg 5.1 write the output without the matrix (with `-noautorotate` the
//! matrix is copied into the rendition and a player would turn the upright picture again, and
//! 5.1 has no option to drop it). [`SourcePicture::rotation`] says what it does, so the sizes
//! ([`SourcePicture::displayed_size`]) are right: the frames come out at the displayed size,
//! the size inspection reports and the ladder fits. A rendition is written upright without a
//! matrix, so it is decoded with the default (identity) picture.
//!
//! Deinterlacing: `bwdif` in `send_frame` mode (one frame out per stored frame, so indices and
//! the frame count stay the source's), on the stored rows: a turned interlaced source is turned
//! back, deinterlaced and turned again (the turns are lossless).

use serde::{Deserialize, Serialize};

use super::probe::{ProbeSideData, ProbeStream};
use super::source_colour::SourceColour;

/// How the stored fields of an interlaced source are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldOrder {
    TopFirst,
    BottomFirst,
}

impl FieldOrder {
    /// From ffprobe's `field_order` (`tt`, `bb`, `tb`, `bt`; `progressive` and `unknown` are
    /// `None`). The first letter is the field coded (and shown) first.
    pub fn from_probe(field_order: &str) -> Option<Self> {
        match field_order {
            "tt" | "tb" => Some(FieldOrder::TopFirst),
            "bb" | "bt" => Some(FieldOrder::BottomFirst),
            _ => None,
        }
    }

    fn bwdif_parity(self) -> &'static str {
        match self {
            FieldOrder::TopFirst => "tff",
            FieldOrder::BottomFirst => "bff",
        }
    }
}

/// What turns the source's decoded frames into the picture every stage works on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourcePicture {
    /// The file's stream index of the video used; `None`: the first video stream.
    #[serde(default)]
    pub stream_index: Option<u32>,
    /// Degrees the stored picture is turned counterclockwise for display (the display matrix's
    /// rotation as ffprobe prints it, normalised to 0, 90, 180 or 270; phones filming upright
    /// store 270).
    #[serde(default)]
    pub rotation: u16,
    /// Set for an interlaced source: deinterlaced with `bwdif`, one frame per stored frame.
    #[serde(default)]
    pub deinterlace: Option<FieldOrder>,
    /// Bit depth, colour tags and HDR metadata: what each rung keeps or tone-maps.
    #[serde(default)]
    pub colour: SourceColour,
}

impl SourcePicture {
    /// The picture of `stream` (ffprobe's view of the chosen video stream) and the side data
    /// of its first frame.
    pub fn of_stream(stream: &ProbeStream, frame_side_data: &[ProbeSideData]) -> Self {
        Self {
            stream_index: stream.index,
            rotation: display_rotation(stream),
            deinterlace: stream.field_order.as_deref().and_then(FieldOrder::from_probe),
            colour: SourceColour::of_stream(stream, frame_side_data),
        }
    }

    /// The stream to map or label in a filter graph: `0:3`, or `0:v:0` for the first video.
    pub fn stream_spec(&self) -> String {
        match self.stream_index {
            Some(index) => format!("0:{index}"),
            None => "0:v:0".to_owned(),
        }
    }

    /// The same stream as an ffprobe `-select_streams` specifier: `3`, or `v:0`.
    pub fn probe_selector(&self) -> String {
        match self.stream_index {
            Some(index) => index.to_string(),
            None => "v:0".to_owned(),
        }
    }

    /// The filters that come first in every graph on the source's frames (after ffmpeg's
    /// autorotation), joined by commas; `None` when the frames are already the ones to use.
    pub fn filters(&self) -> Option<String> {
        let order = self.deinterlace?;
        let deinterlace = format!("bwdif=mode=send_frame:deint=all:parity={}", order.bwdif_parity());
        // Autorotation's turn for each rotation, and the turn that undoes it.
        let (turn, undo) = match self.rotation {
            90 => ("transpose=cclock", "transpose=clock"),
            180 => ("hflip,vflip", "hflip,vflip"),
            270 => ("transpose=clock", "transpose=cclock"),
            _ => return Some(deinterlace),
        };
        Some(format!("{undo},{deinterlace},{turn}"))
    }

    /// `filters` followed by a comma, or nothing: the head of a filter chain.
    pub fn chain_head(&self) -> String {
        self.filters().map(|filters| format!("{filters},")).unwrap_or_default()
    }

    /// Whether the picture is turned a quarter (width and height swap).
    pub fn swaps_sides(&self) -> bool {
        matches!(self.rotation, 90 | 270)
    }

    /// The size of the frames that come out of [`Self::filters`] for a stored `width`×`height`.
    pub fn displayed_size(&self, width: u32, height: u32) -> (u32, u32) {
        if self.swaps_sides() { (height, width) } else { (width, height) }
    }
}

/// The display matrix's counterclockwise rotation, normalised to a quarter turn; the legacy
/// `rotate` tag (clockwise degrees) when there is no matrix.
fn display_rotation(stream: &ProbeStream) -> u16 {
    let counterclockwise = stream
        .side_data_list
        .iter()
        .find_map(|side_data| side_data.rotation)
        .or_else(|| stream.tags.as_ref().and_then(|tags| tags.rotate.as_deref()).and_then(|rotate| rotate.trim().parse::<f64>().ok()).map(|clockwise| -clockwise));
    let Some(degrees) = counterclockwise else { return 0 };
    let quarter_turns = (degrees / 90.0).round() as i64;
    (quarter_turns.rem_euclid(4) * 90) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::probe::ProbeTags;

    fn stream(rotation: Option<f64>, tag: Option<&str>, field_order: Option<&str>) -> ProbeStream {
        ProbeStream {
            index: Some(2),
            side_data_list: rotation.map(|rotation| ProbeSideData { side_data_type: Some("Display Matrix".into()), rotation: Some(rotation), ..ProbeSideData::default() }).into_iter().collect(),
            tags: tag.map(|rotate| ProbeTags { rotate: Some(rotate.to_owned()), ..ProbeTags::default() }),
            field_order: field_order.map(str::to_owned),
            ..ProbeStream::default()
        }
    }

    #[test]
    fn display_matrices_become_quarter_turns() {
        assert_eq!(SourcePicture::of_stream(&stream(Some(90.0), None, None), &[]).rotation, 90);
        assert_eq!(SourcePicture::of_stream(&stream(Some(-90.0), None, None), &[]).rotation, 270);
        assert_eq!(SourcePicture::of_stream(&stream(Some(-180.0), None, None), &[]).rotation, 180);
        assert_eq!(SourcePicture::of_stream(&stream(Some(89.9), None, None), &[]).rotation, 90);
        // The legacy tag is clockwise.
        assert_eq!(SourcePicture::of_stream(&stream(None, Some("90"), None), &[]).rotation, 270);
        assert_eq!(SourcePicture::of_stream(&stream(None, None, None), &[]).rotation, 0);
    }

    #[test]
    fn filters_deinterlace_the_stored_rows() {
        let picture = SourcePicture::of_stream(&stream(Some(-90.0), None, Some("tt")), &[]);
        assert_eq!(picture.filters().as_deref(), Some("transpose=cclock,bwdif=mode=send_frame:deint=all:parity=tff,transpose=clock"));
        let upright = SourcePicture::of_stream(&stream(None, None, Some("bb")), &[]);
        assert_eq!(upright.chain_head(), "bwdif=mode=send_frame:deint=all:parity=bff,");
        assert_eq!(SourcePicture::of_stream(&stream(Some(90.0), None, None), &[]).filters(), None, "ffmpeg's autorotation turns it");
        assert_eq!(picture.displayed_size(320, 240), (240, 320));
        assert_eq!(picture.stream_spec(), "0:2");
        let progressive = SourcePicture::of_stream(&stream(None, None, Some("progressive")), &[]);
        assert_eq!(progressive.filters(), None);
        assert_eq!(progressive.chain_head(), "");
        assert_eq!(SourcePicture::of_stream(&stream(None, None, Some("bt")), &[]).deinterlace, Some(FieldOrder::BottomFirst));
        assert_eq!(SourcePicture::default().stream_spec(), "0:v:0");
    }
}
