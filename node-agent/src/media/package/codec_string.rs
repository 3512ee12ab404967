//! RFC 6381 codec strings (`avc1.64001f`, `hvc1.1.6.L93.90`, `av01.0.08M.08`) read from an
//! fMP4 init segment's sample entry, for the master playlist's `CODECS` and the MPD's `codecs`.

use std::fmt::Write as _;

use shotfarm_proto::pipeline::Codec;

/// The AAC-LC rendition's codec string.
pub const AAC_LC: &str = "mp4a.40.2";

/// The RFC 6381 codec string from an fMP4 init segment's sample entry.
pub fn codec_string(init: &[u8], codec: Codec) -> Option<String> {
    let find = |tag: &[u8]| init.windows(4).position(|window| window == tag).map(|position| position + 4);
    match codec {
        Codec::H264 => {
            let at = find(b"avcC")?;
            let bytes = init.get(at..at + 4)?;
            Some(format!("avc1.{:02x}{:02x}{:02x}", bytes[1], bytes[2], bytes[3]))
        }
        Codec::Hevc => {
            let at = find(b"hvcC")?;
            let bytes = init.get(at..at + 13)?;
            let profile_space = ["", "A", "B", "C"][usize::from(bytes[1] >> 6)];
            let tier = if bytes[1] & 0x20 != 0 { 'H' } else { 'L' };
            let profile = bytes[1] & 0x1f;
            let compatibility = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]).reverse_bits();
            let mut constraints: Vec<u8> = bytes[6..12].to_vec();
            while constraints.last() == Some(&0) {
                constraints.pop();
            }
            let mut text = format!("hvc1.{profile_space}{profile}.{compatibility:X}.{tier}{}", bytes[12]);
            for byte in constraints {
                let _ = write!(text, ".{byte:X}");
            }
            Some(text)
        }
        Codec::Av1 => {
            let at = find(b"av1C")?;
            let bytes = init.get(at..at + 3)?;
            let profile = bytes[1] >> 5;
            let level = bytes[1] & 0x1f;
            let tier = if bytes[2] & 0x80 != 0 { 'H' } else { 'M' };
            let depth = if bytes[2] & 0x40 != 0 { if bytes[2] & 0x20 != 0 { 12 } else { 10 } } else { 8 };
            Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_strings_come_from_the_init_segment() {
        let avc = [b"xxxxavcC".as_slice(), &[1, 0x64, 0x00, 0x1f, 0xff]].concat();
        assert_eq!(codec_string(&avc, Codec::H264).as_deref(), Some("avc1.64001f"));
        let hevc = [b"hvcC".as_slice(), &[1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]].concat();
        assert_eq!(codec_string(&hevc, Codec::Hevc).as_deref(), Some("hvc1.1.6.L93.90"));
        let av1 = [b"av1C".as_slice(), &[0x81, 0x08, 0x0c]].concat();
        assert_eq!(codec_string(&av1, Codec::Av1).as_deref(), Some("av01.0.08M.08"));
        assert_eq!(codec_string(b"nothing", Codec::H264), None);
    }
}
