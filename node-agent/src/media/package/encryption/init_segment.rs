//! An init segment made protected: each track's sample entry becomes `encv`/`enca` carrying a
//! `sinf` (the original format in `frma`, the scheme in `schm`, and `tenc` with the key id,
//! the IV size or constant IV, and the `cbcs` pattern), and the `pssh` boxes of the DRM
//! systems go at the end of `moov`. Every enclosing box is rewritten with its new size.

use super::av1::Av1Stream;
use super::samples::{CBCS_CRYPT_BLOCKS, CBCS_SKIP_BLOCKS, SampleLayout, Scheme};
use crate::media::mp4_boxes::{boxed, child, full_boxed, located_children};

/// Bytes of a visual sample entry's fields before its child boxes (ISO 14496-12 12.1.3).
const VISUAL_ENTRY_FIELDS: usize = 78;
/// Bytes of a (version 0) audio sample entry's fields before its child boxes (12.2.3).
const AUDIO_ENTRY_FIELDS: usize = 28;
/// Per-sample IV size under `cenc` (8 bytes: the counter's upper half).
pub const CENC_IV_SIZE: u8 = 8;

/// How one track is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackProtection {
    pub scheme: Scheme,
    pub kid: [u8; 16],
    /// `cbcs`: the constant IV written into `tenc`.
    pub constant_iv: [u8; 16],
}

/// `init` with its track protected and `pssh` boxes added; and how its samples are laid out
/// (NAL units and their length prefix, AV1 OBUs with the `av1C`'s sequence header, or whole).
pub fn protect_init(init: &[u8], protection: &TrackProtection, pssh: &[Vec<u8>]) -> Result<(Vec<u8>, SampleLayout), String> {
    let mut layout = None;
    let mut out = Vec::with_capacity(init.len() + 512);
    for found in located_children(init)? {
        if &found.kind != b"moov" {
            out.extend_from_slice(&init[found.start..found.body_start + found.body.len()]);
            continue;
        }
        let mut moov = Vec::with_capacity(found.body.len() + 512);
        for part in located_children(found.body)? {
            if &part.kind == b"trak" {
                let (trak, track_layout) = protect_trak(part.body, protection)?;
                layout = Some(track_layout);
                moov.extend(boxed(b"trak", &trak));
            } else {
                moov.extend_from_slice(&found.body[part.start..part.body_start + part.body.len()]);
            }
        }
        for system in pssh {
            moov.extend_from_slice(system);
        }
        out.extend(boxed(b"moov", &moov));
    }
    let layout = layout.ok_or("the init segment has no moov/trak")?;
    Ok((out, layout))
}

/// Rewrites `trak/mdia/minf/stbl/stsd`, each box on the way with its new size.
fn protect_trak(trak: &[u8], protection: &TrackProtection) -> Result<(Vec<u8>, SampleLayout), String> {
    let mut layout = None;
    let rewritten = rewrite_path(trak, &[b"mdia", b"minf", b"stbl", b"stsd"], &mut |stsd| {
        let (entries, found) = protect_stsd(stsd, protection)?;
        layout = Some(found);
        Ok(entries)
    })?;
    Ok((rewritten, layout.ok_or("the track has no sample description (mdia/minf/stbl/stsd)")?))
}

/// What becomes of a box's body.
type BodyChange<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, String> + 'a;

/// `body` with the box at `path` replaced by `change(its body)`.
fn rewrite_path(body: &[u8], path: &[&[u8; 4]], change: &mut BodyChange<'_>) -> Result<Vec<u8>, String> {
    let Some((first, rest)) = path.split_first() else { return change(body) };
    let mut out = Vec::with_capacity(body.len() + 256);
    let mut seen = false;
    for found in located_children(body)? {
        if &found.kind == *first && !seen {
            seen = true;
            out.extend(boxed(first, &rewrite_path(found.body, rest, change)?));
        } else {
            out.extend_from_slice(&body[found.start..found.body_start + found.body.len()]);
        }
    }
    if !seen {
        return Err(format!("no {} box where the sample description should be", String::from_utf8_lossy(*first)));
    }
    Ok(out)
}

/// The `stsd` body with each entry protected.
fn protect_stsd(stsd: &[u8], protection: &TrackProtection) -> Result<(Vec<u8>, SampleLayout), String> {
    let header = stsd.get(..8).ok_or("its stsd box is truncated")?;
    let mut out = header.to_vec();
    let mut layout = None;
    for entry in located_children(&stsd[8..])? {
        let (kind, fields_len, entry_layout) = match &entry.kind {
            b"avc1" | b"avc3" => (*b"encv", VISUAL_ENTRY_FIELDS, avc_layout(entry.body)?),
            b"hvc1" | b"hev1" => (*b"encv", VISUAL_ENTRY_FIELDS, hevc_layout(entry.body)?),
            b"av01" => (*b"encv", VISUAL_ENTRY_FIELDS, av1_layout(entry.body)?),
            b"mp4a" => (*b"enca", AUDIO_ENTRY_FIELDS, SampleLayout::Whole),
            other => return Err(format!("{} samples cannot be encrypted yet (H.264, HEVC, AV1 and AAC can)", String::from_utf8_lossy(other))),
        };
        if entry.body.len() < fields_len {
            return Err(format!("its {} sample entry is truncated", String::from_utf8_lossy(&entry.kind)));
        }
        let mut body = entry.body.to_vec();
        body.extend(sinf(entry.kind, protection, matches!(entry_layout, SampleLayout::Whole)));
        layout = Some(entry_layout);
        out.extend(boxed(&kind, &body));
    }
    Ok((out, layout.ok_or("its stsd box has no sample entry")?))
}

/// `sinf`: original format, scheme, and the track's default encryption (`tenc`). Under
/// `cbcs`, video takes the 1:9 pattern and whole samples (audio) none: every whole block.
fn sinf(original: [u8; 4], protection: &TrackProtection, whole_samples: bool) -> Vec<u8> {
    let mut schm = protection.scheme.fourcc().to_vec();
    schm.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    let tenc = match protection.scheme {
        Scheme::Cenc => {
            let mut body = vec![0, 0, 1, CENC_IV_SIZE];
            body.extend_from_slice(&protection.kid);
            full_boxed(b"tenc", 0, 0, &body)
        }
        Scheme::Cbcs => {
            let pattern = if whole_samples { 0 } else { (CBCS_CRYPT_BLOCKS << 4) | CBCS_SKIP_BLOCKS };
            let mut body = vec![0, pattern, 1, 0];
            body.extend_from_slice(&protection.kid);
            body.push(16);
            body.extend_from_slice(&protection.constant_iv);
            full_boxed(b"tenc", 1, 0, &body)
        }
    };
    let inner = [boxed(b"frma", &original), full_boxed(b"schm", 0, 0, &schm), boxed(b"schi", &tenc)].concat();
    boxed(b"sinf", &inner)
}

fn avc_layout(entry: &[u8]) -> Result<SampleLayout, String> {
    let avcc = child(&entry[VISUAL_ENTRY_FIELDS.min(entry.len())..], b"avcC")?.ok_or("its avc1 entry has no avcC")?;
    let length_size = usize::from(avcc.get(4).ok_or("its avcC is truncated")? & 0x03) + 1;
    Ok(SampleLayout::Avc { length_size })
}

fn hevc_layout(entry: &[u8]) -> Result<SampleLayout, String> {
    let hvcc = child(&entry[VISUAL_ENTRY_FIELDS.min(entry.len())..], b"hvcC")?.ok_or("its hvc1 entry has no hvcC")?;
    let length_size = usize::from(hvcc.get(21).ok_or("its hvcC is truncated")? & 0x03) + 1;
    Ok(SampleLayout::Hevc { length_size })
}

/// An `av01` entry's layout: its `av1C` (AV1 ISOBMFF binding, "AV1 Codec Configuration Box")
/// starts the track's stream, with the sequence header among its configOBUs.
fn av1_layout(entry: &[u8]) -> Result<SampleLayout, String> {
    let av1c = child(&entry[VISUAL_ENTRY_FIELDS.min(entry.len())..], b"av1C")?.ok_or("its av01 entry has no av1C")?;
    Ok(SampleLayout::Av1 { stream: Box::new(Av1Stream::from_config_record(av1c)?) })
}
