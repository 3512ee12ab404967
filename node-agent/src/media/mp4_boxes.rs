//! The ISO-BMFF box tree, read from bytes already in memory: a box header, the children of a
//! box body, one child by kind, and big-endian fields; and boxes written back (`boxed`). Used
//! by [`super::mp4_samples`] (progressive MP4s), [`super::package::fragments`] (fMP4 init and
//! media segments) and [`super::package::encryption`] (which rewrites them).
//!
//! Sizes are checked against the parent, so damaged input ends in an error naming the box,
//! never a panic or a huge allocation.

use std::io::Read;

pub(crate) struct BoxHeader {
    pub kind: [u8; 4],
    /// Whole box, header included.
    pub size: u64,
    pub header_len: u64,
}

impl BoxHeader {
    pub fn kind_text(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// Reads a box header at the reader's position; `None` when fewer bytes remain than it needs
/// or its size is impossible.
pub(crate) fn read_header(reader: &mut impl Read, remaining: u64) -> std::io::Result<Option<BoxHeader>> {
    if remaining < 8 {
        return Ok(None);
    }
    let mut short = [0u8; 8];
    reader.read_exact(&mut short)?;
    let kind = [short[4], short[5], short[6], short[7]];
    let (size, header_len) = match u32::from_be_bytes([short[0], short[1], short[2], short[3]]) {
        // Size 0: the box runs to the end of its container.
        0 => (remaining, 8),
        1 => {
            if remaining < 16 {
                return Ok(None);
            }
            let mut large = [0u8; 8];
            reader.read_exact(&mut large)?;
            (u64::from_be_bytes(large), 16)
        }
        size => (u64::from(size), 8),
    };
    Ok((size >= header_len).then_some(BoxHeader { kind, size, header_len }))
}

/// A child box: its kind and body.
pub(crate) type ChildBox<'a> = ([u8; 4], &'a [u8]);

/// A child box with where it lies in its parent.
pub(crate) struct LocatedBox<'a> {
    pub kind: [u8; 4],
    /// Offset of its header from the start of the parent body.
    pub start: usize,
    /// Offset of its body from the start of the parent body.
    pub body_start: usize,
    pub body: &'a [u8],
}

/// The child boxes of a box body (or of a whole file read into memory).
pub(crate) fn children(body: &[u8]) -> Result<Vec<ChildBox<'_>>, String> {
    Ok(located_children(body)?.into_iter().map(|found| (found.kind, found.body)).collect())
}

/// The child boxes of a box body (or of a whole file), each with its offsets.
pub(crate) fn located_children(body: &[u8]) -> Result<Vec<LocatedBox<'_>>, String> {
    let mut found = Vec::new();
    let mut start = 0usize;
    while start < body.len() {
        let rest = &body[start..];
        let mut cursor = rest;
        let header = read_header(&mut cursor, rest.len() as u64)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("a box header with {} bytes left in its parent", rest.len()))?;
        if header.size > rest.len() as u64 {
            return Err(format!("the {} box claims {} bytes; its parent has {} left", header.kind_text(), header.size, rest.len()));
        }
        let body_start = start + header.header_len as usize;
        let end = start + header.size as usize;
        found.push(LocatedBox { kind: header.kind, start, body_start, body: &body[body_start..end] });
        start = end;
    }
    Ok(found)
}

/// The first child of `kind`.
pub(crate) fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, String> {
    Ok(children(body)?.into_iter().find(|(found, _)| found == kind).map(|(_, body)| body))
}

/// The box at the end of `path` (each step the first child of that kind), if every step exists.
pub(crate) fn descend<'a>(body: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, String> {
    let mut current = body;
    for kind in path {
        match child(current, kind)? {
            Some(found) => current = found,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

pub(crate) fn big_endian_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

pub(crate) fn big_endian_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let high = big_endian_u32(bytes, at)?;
    let low = big_endian_u32(bytes, at + 4)?;
    Some((u64::from(high) << 32) | u64::from(low))
}

/// A box of `kind` around `body` (a 32-bit size: bodies here are far below 4 GiB).
pub(crate) fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box: `version`, 24 bits of `flags`, then `body`.
pub(crate) fn full_boxed(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut inner = ((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes().to_vec();
    inner.extend_from_slice(body);
    boxed(kind, &inner)
}
