//! A video rendition's colour as its init segment declares it — the sample entry's `colr` box
//! of type `nclx`, ITU-T H.273 code points — and what the manifests say of it: HLS
//! `VIDEO-RANGE` (SDR, PQ, HLG) and DASH's CICP descriptors. No `colr` box: SDR, undeclared.

use serde::{Deserialize, Serialize};

/// H.273 code points of a rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeclaredColour {
    pub primaries: u16,
    pub transfer: u16,
    pub matrix: u16,
}

/// H.273 transfer characteristics: SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG).
const TRANSFER_PQ: u16 = 16;
const TRANSFER_HLG: u16 = 18;

impl DeclaredColour {
    /// The `nclx` colour of an init segment, if it declares one.
    pub fn of_init(init: &[u8]) -> Option<DeclaredColour> {
        let at = init.windows(8).position(|window| window == b"colrnclx")? + 8;
        let bytes = init.get(at..at + 6)?;
        let code = |index: usize| u16::from_be_bytes([bytes[index], bytes[index + 1]]);
        Some(DeclaredColour { primaries: code(0), transfer: code(2), matrix: code(4) })
    }

    /// HLS `VIDEO-RANGE`.
    pub fn video_range(colour: Option<DeclaredColour>) -> &'static str {
        match colour.map(|colour| colour.transfer) {
            Some(TRANSFER_PQ) => "PQ",
            Some(TRANSFER_HLG) => "HLG",
            _ => "SDR",
        }
    }

    /// DASH descriptors for an AdaptationSet of this colour (ISO/IEC 23001-8 CICP schemes).
    pub fn dash_properties(&self) -> String {
        [("ColourPrimaries", self.primaries), ("TransferCharacteristics", self.transfer), ("MatrixCoefficients", self.matrix)]
            .iter()
            .map(|(name, value)| format!("      <SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:{name}\" value=\"{value}\"/>\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nclx_box_gives_the_range() {
        // A `colr` box as ffmpeg writes it for HDR10: BT.2020 primaries, PQ, BT.2020 NCL.
        let init = [b"....hvc1....".as_slice(), &[0, 0, 0, 19], b"colrnclx", &[0, 9, 0, 16, 0, 9, 0]].concat();
        let colour = DeclaredColour::of_init(&init);
        assert_eq!(colour, Some(DeclaredColour { primaries: 9, transfer: 16, matrix: 9 }));
        assert_eq!(DeclaredColour::video_range(colour), "PQ");
        assert_eq!(DeclaredColour::video_range(Some(DeclaredColour { primaries: 9, transfer: 18, matrix: 9 })), "HLG");
        assert_eq!(DeclaredColour::video_range(Some(DeclaredColour { primaries: 1, transfer: 1, matrix: 1 })), "SDR");
        assert_eq!(DeclaredColour::video_range(DeclaredColour::of_init(b"no colour here")), "SDR");
        assert!(colour.unwrap().dash_properties().contains("urn:mpeg:mpegB:cicp:TransferCharacteristics\" value=\"16\""));
    }
}
