//! A media segment made protected: each sample of each fragment encrypted in place in its
//! `mdat`, and its track fragment given the sample auxiliary information players read the
//! IVs and subsample maps from — `senc`, with `saiz` (the size of each sample's entry) and
//! `saio` (where the entries start, relative to the `moof` like the sample data). Or, in a
//! clear lead, a segment left clear under a protected sample entry: each track fragment
//! maps its samples to a `seig` sample group entry that says they are not protected (`sgpd`
//! and `sbgp`, ISO/IEC 23001-7 §6). Either way the `moof` grows by the boxes added, so each
//! `trun`'s data offset moves by as much, and a segment index (`sidx`, which ffmpeg's
//! segmenter writes) has each reference's size grown by its moofs'.

use super::samples::{SampleEncryptor, SampleInfo};
use crate::media::mp4_boxes::{big_endian_u32, boxed, child, full_boxed, located_children};
use crate::media::package::fragments::{SampleDefaults, TrackFragment, read_track_fragment};

/// `tfhd` flag: sample data offsets count from the `moof`.
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `senc` flag: entries carry subsample maps.
const USE_SUBSAMPLES: u32 = 0x2;
/// `saio`'s size: full box header, entry count, one 32-bit offset.
const SAIO_SIZE: usize = 20;
/// From a `senc` box's start to its first entry: header, version/flags, sample count.
const SENC_ENTRIES_AT: usize = 16;

/// Boxes appended to each track fragment. `saio_value_at`: where in `bytes` a `saio`'s one
/// offset is to be written, and where in `bytes` the entries it points at start (offsets
/// count from the `moof`'s first byte, known only once the traf is placed).
struct TrafTail {
    bytes: Vec<u8>,
    saio_value_at: Option<(usize, usize)>,
}

/// `segment` with every sample encrypted by `encryptor` (which numbers the IVs on across
/// segments); `defaults`: the track's `trex` sample defaults.
pub fn protect_segment(segment: &[u8], encryptor: &mut SampleEncryptor, defaults: SampleDefaults) -> Result<Vec<u8>, String> {
    rewrite_fragments(segment, defaults, |data, moof_start, fragment| {
        let mut infos = Vec::new();
        for run in &fragment.runs {
            let offset = run.data_offset.ok_or("a trun names no data offset")?;
            let mut at = usize::try_from(moof_start as i64 + offset).map_err(|_| "a trun's data offset points before the segment".to_owned())?;
            for sample in &run.samples {
                let end = at + sample.size as usize;
                let size = data.len();
                let bytes = data.get_mut(at..end).ok_or_else(|| format!("a sample of {} bytes at {at} runs past the segment's {size} bytes", sample.size))?;
                infos.push(encryptor.encrypt(bytes).map_err(|why| format!("sample {} of the fragment at byte {moof_start}: {why}", infos.len() + 1))?);
                at = end;
            }
        }
        encryption_tail(&infos, encryptor.uses_subsamples())
    })
}

/// `segment` left clear under a protected sample entry (a clear lead): every sample of each
/// fragment in a `seig` group that is not protected.
pub fn clear_segment(segment: &[u8], defaults: SampleDefaults) -> Result<Vec<u8>, String> {
    rewrite_fragments(segment, defaults, |_, _, fragment| {
        let samples: usize = fragment.runs.iter().map(|run| run.samples.len()).sum();
        Ok(TrafTail { bytes: [clear_group_description(), clear_group_of(samples)?].concat(), saio_value_at: None })
    })
}

/// Each fragment of `segment` rewritten: `fragment_tail` may change the sample data (in the
/// segment's copy it is given, at the `moof` start it is given) and returns the boxes its
/// track fragment gains.
fn rewrite_fragments(
    segment: &[u8],
    defaults: SampleDefaults,
    mut fragment_tail: impl FnMut(&mut [u8], usize, &TrackFragment) -> Result<TrafTail, String>,
) -> Result<Vec<u8>, String> {
    let mut data = segment.to_vec();
    let mut out = Vec::with_capacity(segment.len() + 4096);
    // (old start, growth) of each moof, and where each sidx went, to correct them after.
    let mut growths: Vec<(usize, usize)> = Vec::new();
    let mut indexes: Vec<(usize, usize)> = Vec::new();
    // A moof comes before its mdat: its samples are encrypted in `data` before the mdat is
    // copied out.
    for found in located_children(segment)? {
        if &found.kind != b"moof" {
            if &found.kind == b"sidx" {
                indexes.push((found.start, out.len()));
            }
            out.extend_from_slice(&data[found.start..found.body_start + found.body.len()]);
            continue;
        }
        let traf = child(found.body, b"traf")?.ok_or("a moof has no traf")?;
        let tfhd = child(traf, b"tfhd")?.ok_or("a traf has no tfhd")?;
        let flags = big_endian_u32(tfhd, 0).ok_or("its tfhd is truncated")? & 0x00ff_ffff;
        if flags & 0x01 != 0 || flags & DEFAULT_BASE_IS_MOOF == 0 {
            return Err("its fragments do not address their data from the moof (default-base-is-moof)".to_owned());
        }
        let fragment = read_track_fragment(traf, defaults)?;
        let tail = fragment_tail(&mut data, found.start, &fragment)?;
        let moof = rebuild_moof(found.body, &tail)?;
        growths.push((found.start, moof.len() - (found.body_start - found.start + found.body.len())));
        out.extend(moof);
    }
    for (old_start, new_start) in indexes {
        grow_sidx(&mut out[new_start..], old_start, &growths)?;
    }
    Ok(out)
}

/// Grows each reference of the `sidx` at the start of `sidx` (it stood at `old_start` in the
/// clear segment) by the growth of the moofs that start within it.
fn grow_sidx(sidx: &mut [u8], old_start: usize, growths: &[(usize, usize)]) -> Result<(), String> {
    let truncated = || "its sidx is truncated".to_owned();
    let size = big_endian_u32(sidx, 0).ok_or_else(truncated)? as usize;
    let version = *sidx.get(8).ok_or_else(truncated)?;
    // header 8, version/flags 4, reference_ID 4, timescale 4, then earliest time and first
    // offset (4 each in version 0, 8 in version 1), reserved 2, reference count 2.
    let (first_offset, counts_at) = if version == 0 {
        (u64::from(big_endian_u32(sidx, 24).ok_or_else(truncated)?), 28)
    } else {
        (crate::media::mp4_boxes::big_endian_u64(sidx, 28).ok_or_else(truncated)?, 36)
    };
    let count = u16::from_be_bytes([*sidx.get(counts_at + 2).ok_or_else(truncated)?, *sidx.get(counts_at + 3).ok_or_else(truncated)?]);
    let mut range_start = old_start + size + first_offset as usize;
    for index in 0..usize::from(count) {
        let at = counts_at + 4 + 12 * index;
        let word = big_endian_u32(sidx, at).ok_or_else(truncated)?;
        let referenced = (word & 0x7fff_ffff) as usize;
        let range_end = range_start + referenced;
        let grown: usize = growths.iter().filter(|(start, _)| (range_start..range_end).contains(start)).map(|(_, growth)| growth).sum();
        let resized = u32::try_from(referenced + grown).ok().filter(|size| *size <= 0x7fff_ffff).ok_or("a sidx reference outgrows 31 bits")?;
        sidx[at..at + 4].copy_from_slice(&((word & 0x8000_0000) | resized).to_be_bytes());
        range_start = range_end;
    }
    Ok(())
}

/// The `saiz`, `saio` and `senc` a protected fragment's `traf` ends with.
fn encryption_tail(infos: &[SampleInfo], subsamples: bool) -> Result<TrafTail, String> {
    let saiz = saiz(infos, subsamples)?;
    let saio = full_boxed(b"saio", 0, 0, &[1u32.to_be_bytes(), [0; 4]].concat());
    // The saio's offset is its last 4 bytes; the senc's entries start SENC_ENTRIES_AT into it.
    let saio_value_at = (saiz.len() + SAIO_SIZE - 4, saiz.len() + SAIO_SIZE + SENC_ENTRIES_AT);
    Ok(TrafTail { bytes: [saiz, saio, senc(infos, subsamples)].concat(), saio_value_at: Some(saio_value_at) })
}

/// The `moof` with `tail` at the end of its `traf`, and its `trun` data offsets moved by what
/// it grew.
fn rebuild_moof(moof: &[u8], tail: &TrafTail) -> Result<Vec<u8>, String> {
    let grown = tail.bytes.len();
    let mut body = Vec::with_capacity(moof.len() + grown);
    for part in located_children(moof)? {
        if &part.kind != b"traf" {
            body.extend_from_slice(&moof[part.start..part.body_start + part.body.len()]);
            continue;
        }
        let mut traf = Vec::with_capacity(part.body.len() + grown);
        for inner in located_children(part.body)? {
            let whole = &part.body[inner.start..inner.body_start + inner.body.len()];
            if &inner.kind == b"trun" {
                traf.extend(moved_trun(whole, inner.body_start - inner.start, grown)?);
            } else {
                traf.extend_from_slice(whole);
            }
        }
        // Offsets count from the moof's first byte: moof header, what precedes the traf, the
        // traf's header, what the traf held before the tail.
        let tail_at = 8 + body.len() + 8 + traf.len();
        let mut bytes = tail.bytes.clone();
        if let Some((value_at, entries_at)) = tail.saio_value_at {
            bytes[value_at..value_at + 4].copy_from_slice(&((tail_at + entries_at) as u32).to_be_bytes());
        }
        traf.extend(bytes);
        body.extend(boxed(b"traf", &traf));
    }
    Ok(boxed(b"moof", &body))
}

/// `sgpd` (version 1) with one `seig` entry: not protected, no IV, a null key id.
fn clear_group_description() -> Vec<u8> {
    const ENTRY_LEN: u32 = 20;
    let mut body = b"seig".to_vec();
    body.extend_from_slice(&ENTRY_LEN.to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes());
    // reserved, crypt/skip byte blocks, isProtected 0, Per_Sample_IV_Size 0, KID 0.
    body.extend_from_slice(&[0u8; ENTRY_LEN as usize]);
    full_boxed(b"sgpd", 1, 0, &body)
}

/// `sbgp` mapping all `samples` to the fragment's first `seig` entry (index 1 + 0x10000:
/// entries of this fragment's own `sgpd`).
fn clear_group_of(samples: usize) -> Result<Vec<u8>, String> {
    let count = u32::try_from(samples).map_err(|_| "a fragment of more than 2^32 samples".to_owned())?;
    let body = [*b"seig", 1u32.to_be_bytes(), count.to_be_bytes(), 0x0001_0001u32.to_be_bytes()].concat();
    Ok(full_boxed(b"sbgp", 0, 0, &body))
}

/// A `trun` whose data offset is `grown` bytes further.
fn moved_trun(trun: &[u8], header_len: usize, grown: usize) -> Result<Vec<u8>, String> {
    let mut out = trun.to_vec();
    let flags = big_endian_u32(trun, header_len).ok_or("a trun is truncated")? & 0x00ff_ffff;
    if flags & 0x001 == 0 {
        return Err("a trun names no data offset".to_owned());
    }
    let at = header_len + 8;
    let offset = big_endian_u32(trun, at).ok_or("a trun is truncated")? as i32;
    let moved = offset.checked_add(grown as i32).ok_or("a trun's data offset overflows")?;
    out[at..at + 4].copy_from_slice(&moved.to_be_bytes());
    Ok(out)
}

/// Each sample's auxiliary information: its IV, then (with subsamples) the subsample map.
fn entry(info: &SampleInfo, subsamples: bool) -> Vec<u8> {
    let mut out = info.iv.clone();
    if subsamples {
        out.extend_from_slice(&(info.subsamples.len() as u16).to_be_bytes());
        for range in &info.subsamples {
            out.extend_from_slice(&range.clear.to_be_bytes());
            out.extend_from_slice(&range.protected.to_be_bytes());
        }
    }
    out
}

fn senc(infos: &[SampleInfo], subsamples: bool) -> Vec<u8> {
    let mut body = (infos.len() as u32).to_be_bytes().to_vec();
    for info in infos {
        body.extend(entry(info, subsamples));
    }
    full_boxed(b"senc", 0, if subsamples { USE_SUBSAMPLES } else { 0 }, &body)
}

/// `saiz`: one default size when every entry has it, else each entry's size (a default of 0
/// means "listed", so entries that are all empty — `cbcs` audio — are listed as zeros).
fn saiz(infos: &[SampleInfo], subsamples: bool) -> Result<Vec<u8>, String> {
    let sizes: Vec<usize> = infos.iter().map(|info| entry(info, subsamples).len()).collect();
    if let Some(too_big) = sizes.iter().find(|size| **size > usize::from(u8::MAX)) {
        return Err(format!("a sample's encryption entry is {too_big} bytes (too many NAL units or tiles); saiz holds at most 255"));
    }
    let uniform = sizes.first().filter(|first| **first > 0 && sizes.iter().all(|size| size == *first)).copied();
    let mut body = Vec::with_capacity(5 + sizes.len());
    match uniform {
        Some(size) => body.push(size as u8),
        None => body.push(0),
    }
    body.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
    if uniform.is_none() {
        body.extend(sizes.iter().map(|size| *size as u8));
    }
    Ok(full_boxed(b"saiz", 0, 0, &body))
}
