//! What a container says about its own length, against the file's: the test for truncation.
//!
//! A file cut short keeps the sizes its writer declared in its headers: an MP4/MOV box (`mdat`,
//! `moov`) that runs past the end of the file, an AVI `RIFF`/`LIST movi`/`idx1` chunk longer
//! than what is left, a Matroska `Segment` or `Cluster` that ends beyond the last byte. Frame
//! counts are no test: an AVI index lists "repeat the previous frame" entries that hold no
//! data, so a complete variable-frame-rate AVI declares far more frames than it has.
//!
//! Only the top-level structure is walked (a few reads of a few bytes each, at most
//! [`MAX_ELEMENTS`] headers), and only sizes are trusted: any header this reader does not
//! understand ends the walk with no verdict, never with a false "truncated". Formats without
//! declared sizes (MPEG-TS, raw streams, y4m) get no verdict here; their demuxer's "partial
//! file"/"ended prematurely" messages speak for them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Headers walked at most; a file with more top-level elements is judged on the first ones.
const MAX_ELEMENTS: usize = 100_000;

/// How many bytes an AVI's `RIFF` size may claim beyond the file without a verdict.
const RIFF_SIZE_SLACK: u64 = 8;

/// A structure the container declares that ends past the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Overrun {
    /// What it is, as its format names it: `the mp4 "mdat" box`, `the AVI "LIST movi" chunk`.
    pub(super) structure: String,
    /// Where its header starts.
    pub(super) starts_at: u64,
    /// Where it says it ends.
    pub(super) declared_end: u64,
    /// The file's length: where it really ends.
    pub(super) file_length: u64,
}

/// The first declared structure of `path` that runs past the end of the file, if any.
pub(super) fn find_overrun(path: &Path) -> std::io::Result<Option<Overrun>> {
    let mut file = File::open(path)?;
    let file_length = file.metadata()?.len();
    let mut reader = HeaderReader { file: &mut file, file_length };
    let Some(head) = reader.read_at(0, 12)? else { return Ok(None) };
    let overrun = if head.len() >= 8 && is_mp4_box_type(&head[4..8]) {
        walk_mp4_boxes(&mut reader)?
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI " {
        walk_riff_chunks(&mut reader)?
    } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        walk_matroska_elements(&mut reader)?
    } else {
        None
    };
    Ok(overrun)
}

struct HeaderReader<'a> {
    file: &'a mut File,
    file_length: u64,
}

impl HeaderReader<'_> {
    /// Up to `len` bytes at `offset`; `None` past the end of the file.
    fn read_at(&mut self, offset: u64, len: usize) -> std::io::Result<Option<Vec<u8>>> {
        if offset >= self.file_length {
            return Ok(None);
        }
        self.file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::with_capacity(len);
        self.file.by_ref().take(len as u64).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn overrun(&self, structure: String, starts_at: u64, declared_end: u64) -> Option<Overrun> {
        (declared_end > self.file_length).then_some(Overrun { structure, starts_at, declared_end, file_length: self.file_length })
    }
}

/// Top-level box types an ISO BMFF file (mp4, mov, 3gp) starts with.
fn is_mp4_box_type(kind: &[u8]) -> bool {
    matches!(kind, b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot" | b"styp")
}

fn printable(kind: &[u8]) -> String {
    kind.iter().map(|&byte| if byte.is_ascii_graphic() || byte == b' ' { byte as char } else { '?' }).collect()
}

/// Top-level boxes: a 32-bit size (1: a 64-bit size follows; 0: to the end of the file) and a type.
fn walk_mp4_boxes(reader: &mut HeaderReader<'_>) -> std::io::Result<Option<Overrun>> {
    let mut offset = 0u64;
    for _ in 0..MAX_ELEMENTS {
        let Some(header) = reader.read_at(offset, 16)? else { return Ok(None) };
        if header.len() < 8 {
            return Ok(None);
        }
        let kind = &header[4..8];
        let size = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => return Ok(None),
            1 if header.len() >= 16 => u64::from_be_bytes([header[8], header[9], header[10], header[11], header[12], header[13], header[14], header[15]]),
            1 => return Ok(None),
            size => u64::from(size),
        };
        if size < 8 || !kind.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b' ') {
            return Ok(None);
        }
        let end = offset.saturating_add(size);
        if let Some(overrun) = reader.overrun(format!("the mp4 {:?} box", printable(kind)), offset, end) {
            return Ok(Some(overrun));
        }
        offset = end;
    }
    Ok(None)
}

/// `RIFF` chunks (`AVI `, then `AVIX` in OpenDML files) and, inside each, its top-level chunks
/// (`LIST hdrl`, `LIST movi`, `idx1`, `JUNK`): a four-character code and a 32-bit little-endian
/// size, padded to even.
fn walk_riff_chunks(reader: &mut HeaderReader<'_>) -> std::io::Result<Option<Overrun>> {
    let mut offset = 0u64;
    let mut walked = 0usize;
    while walked < MAX_ELEMENTS {
        let Some(header) = reader.read_at(offset, 12)? else { return Ok(None) };
        if header.len() < 12 || &header[0..4] != b"RIFF" {
            return Ok(None);
        }
        let size = u64::from(u32::from_le_bytes([header[4], header[5], header[6], header[7]]));
        if size == 0 {
            // Never written (a capture that stopped without closing): no declared length.
            return Ok(None);
        }
        let riff_end = offset + 8 + size;
        // Some writers count the RIFF header itself (or a last pad byte they never wrote) in
        // its size: up to 8 bytes more than the file are that, not a cut. A cut inside the
        // last chunk still shows in that chunk's own size below.
        let declared = riff_end.saturating_sub(RIFF_SIZE_SLACK);
        if let Some(overrun) = reader.overrun(format!("the AVI \"RIFF {}\" chunk", printable(&header[8..12])), offset, declared).map(|overrun| Overrun { declared_end: riff_end, ..overrun }) {
            return Ok(Some(overrun));
        }
        let riff_end = riff_end.min(reader.file_length);
        let mut inner = offset + 12;
        while inner + 8 <= riff_end && walked < MAX_ELEMENTS {
            walked += 1;
            let Some(chunk) = reader.read_at(inner, 12)? else { return Ok(None) };
            if chunk.len() < 8 {
                return Ok(None);
            }
            if !chunk[0..4].iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b' ') {
                return Ok(None);
            }
            let chunk_size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
            let name = if &chunk[0..4] == b"LIST" && chunk.len() >= 12 {
                format!("{} {}", printable(&chunk[0..4]), printable(&chunk[8..12]))
            } else {
                printable(&chunk[0..4])
            };
            let end = inner + 8 + chunk_size;
            if let Some(overrun) = reader.overrun(format!("the AVI {name:?} chunk"), inner, end) {
                return Ok(Some(overrun));
            }
            inner = end + (chunk_size & 1);
        }
        offset = riff_end + (size & 1);
        walked += 1;
    }
    Ok(None)
}

/// EBML: the header element, then the `Segment` and its children (`SeekHead`, `Info`,
/// `Tracks`, `Cluster`, `Cues`…), each an ID and a variable-length size. An element of unknown
/// size (all value bits set, as live writers leave it) ends the walk.
fn walk_matroska_elements(reader: &mut HeaderReader<'_>) -> std::io::Result<Option<Overrun>> {
    let Some((_, header_size, header_len)) = read_element(reader, 0)? else { return Ok(None) };
    let Some(header_size) = header_size else { return Ok(None) };
    let segment_start = header_len + header_size;
    let Some((segment_id, segment_size, segment_header_len)) = read_element(reader, segment_start)? else { return Ok(None) };
    if segment_id != SEGMENT_ID {
        return Ok(None);
    }
    let children_start = segment_start + segment_header_len;
    let segment_end = match segment_size {
        Some(size) => {
            let end = children_start.saturating_add(size);
            if let Some(overrun) = reader.overrun("the Matroska \"Segment\"".to_owned(), segment_start, end) {
                return Ok(Some(overrun));
            }
            end
        }
        None => reader.file_length,
    };
    let mut offset = children_start;
    for _ in 0..MAX_ELEMENTS {
        if offset >= segment_end {
            return Ok(None);
        }
        let Some((id, size, header_len)) = read_element(reader, offset)? else { return Ok(None) };
        let Some(size) = size else { return Ok(None) };
        let end = offset.saturating_add(header_len).saturating_add(size);
        if let Some(overrun) = reader.overrun(format!("the Matroska {:?} element", matroska_name(id)), offset, end) {
            return Ok(Some(overrun));
        }
        offset = end;
    }
    Ok(None)
}

const SEGMENT_ID: u32 = 0x1853_8067;

fn matroska_name(id: u32) -> String {
    match id {
        0x1F43_B675 => "Cluster".to_owned(),
        0x1C53_BB6B => "Cues".to_owned(),
        0x114D_9B74 => "SeekHead".to_owned(),
        0x1549_A966 => "Info".to_owned(),
        0x1654_AE6B => "Tracks".to_owned(),
        0x1254_C367 => "Tags".to_owned(),
        0x1043_A770 => "Chapters".to_owned(),
        0x1941_A469 => "Attachments".to_owned(),
        0xEC => "Void".to_owned(),
        other => format!("0x{other:X}"),
    }
}

/// An EBML element header at `offset`: its ID, its size (`None`: unknown), the header's length.
fn read_element(reader: &mut HeaderReader<'_>, offset: u64) -> std::io::Result<Option<(u32, Option<u64>, u64)>> {
    let Some(bytes) = reader.read_at(offset, 12)? else { return Ok(None) };
    let Some((id, id_len)) = read_vint(&bytes, 4, true) else { return Ok(None) };
    let Some((size, size_len)) = bytes.get(id_len..).and_then(|rest| read_vint(rest, 8, false)) else { return Ok(None) };
    let value_bits = 7 * size_len as u32;
    let unknown = size == (1u64 << value_bits) - 1;
    Ok(Some((id as u32, (!unknown).then_some(size), (id_len + size_len) as u64)))
}

/// An EBML variable-length integer of at most `max_len` bytes: with its length marker kept (IDs)
/// or removed (sizes), and its length.
fn read_vint(bytes: &[u8], max_len: usize, keep_marker: bool) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > max_len || bytes.len() < len {
        return None;
    }
    let mut value = if keep_marker { u64::from(first) } else { u64::from(first) & (0xFF >> len) };
    for &byte in &bytes[1..len] {
        value = (value << 8) | u64::from(byte);
    }
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path().join("file");
        std::fs::write(&path, bytes).unwrap_or_else(|error| panic!("{error}"));
        (dir, path)
    }

    fn mp4_box(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut bytes = ((payload + 8) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.resize(payload + 8, 0);
        bytes
    }

    #[test]
    fn mp4_boxes_that_fit_are_complete_and_one_that_overruns_is_named() {
        let mut whole = mp4_box(b"ftyp", 24);
        whole.extend(mp4_box(b"moov", 100));
        whole.extend(mp4_box(b"mdat", 1000));
        let (_dir, path) = written(&whole);
        assert_eq!(find_overrun(&path).ok().flatten(), None);
        let (_dir, cut) = written(&whole[..600]);
        let overrun = find_overrun(&cut).ok().flatten();
        assert_eq!(overrun, Some(Overrun { structure: "the mp4 \"mdat\" box".into(), starts_at: 140, declared_end: 1148, file_length: 600 }));
    }

    #[test]
    fn riff_chunks_are_checked_at_both_levels() {
        let mut avi = b"RIFF".to_vec();
        avi.extend(0u32.to_le_bytes());
        avi.extend_from_slice(b"AVI LIST");
        avi.extend(4u32.to_le_bytes());
        avi.extend_from_slice(b"hdrlLIST");
        avi.extend(15u32.to_le_bytes());
        avi.extend_from_slice(b"movi");
        avi.extend([0u8; 12]); // 11 bytes of data and the pad byte
        let riff_size = (avi.len() - 8) as u32;
        avi[4..8].copy_from_slice(&riff_size.to_le_bytes());
        let (_dir, path) = written(&avi);
        assert_eq!(find_overrun(&path).ok().flatten(), None);
        // The RIFF size says more than there is.
        let mut longer = avi.clone();
        longer[4..8].copy_from_slice(&(riff_size + 100).to_le_bytes());
        let (_dir, path) = written(&longer);
        assert_eq!(find_overrun(&path).ok().flatten().map(|overrun| overrun.structure), Some("the AVI \"RIFF AVI \" chunk".to_owned()));
        // A RIFF size that counts its own header (8 bytes too many) is a writer's quirk.
        let mut quirk = avi.clone();
        quirk[4..8].copy_from_slice(&(riff_size + 8).to_le_bytes());
        let (_dir, path) = written(&quirk);
        assert_eq!(find_overrun(&path).ok().flatten(), None);
        // The RIFF size fits but `movi` says more than there is.
        let mut inner = avi.clone();
        inner[28..32].copy_from_slice(&400u32.to_le_bytes());
        let (_dir, path) = written(&inner);
        let overrun = find_overrun(&path).ok().flatten();
        assert_eq!(overrun.map(|overrun| (overrun.structure, overrun.starts_at)), Some(("the AVI \"LIST movi\" chunk".to_owned(), 24)));
    }

    #[test]
    fn ebml_sizes_and_unknown_sizes() {
        assert_eq!(read_vint(&[0x81], 8, false), Some((1, 1)));
        assert_eq!(read_vint(&[0x40, 0x02], 8, false), Some((2, 2)));
        assert_eq!(read_vint(&[0x1A, 0x45, 0xDF, 0xA3], 4, true), Some((0x1A45_DFA3, 4)));
        assert_eq!(read_vint(&[0x00], 8, false), None);
        // EBML header (empty), a Segment of 20 bytes holding a Void of 18.
        let mut mkv = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x94, 0xEC, 0x92];
        mkv.resize(mkv.len() + 18, 0);
        let (_dir, path) = written(&mkv);
        assert_eq!(find_overrun(&path).ok().flatten(), None);
        let (_dir, path) = written(&mkv[..20]);
        assert_eq!(find_overrun(&path).ok().flatten().map(|overrun| overrun.structure), Some("the Matroska \"Segment\"".to_owned()));
        // Unknown segment size (live writer): the children are still checked.
        let mut live = mkv.clone();
        live[9] = 0xFF;
        let (_dir, path) = written(&live[..20]);
        assert_eq!(find_overrun(&path).ok().flatten().map(|overrun| overrun.structure), Some("the Matroska \"Void\" element".to_owned()));
        // Anything else: no verdict.
        let (_dir, path) = written(b"not a container at all");
        assert_eq!(find_overrun(&path).ok().flatten(), None);
    }
}
