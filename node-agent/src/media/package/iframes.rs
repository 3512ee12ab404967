//! Where each video segment's keyframe lies, for the HLS I-frame playlists
//! (`EXT-X-I-FRAMES-ONLY`, one `EXT-X-BYTERANGE` per keyframe into the very same segments).
//!
//! For fMP4 an I-frame's byte range starts at its Movie Fragment Box and runs to the end of
//! the keyframe's data in the Media Data Box that follows: the `moof` (the sample's size,
//! flags and timing), the `mdat` header and the keyframe's bytes. That is what players (and
//! ffmpeg, the init segment prepended) need to decode it, and what packagers that point into
//! their segments (Shaka Packager, MediaConvert, nginx-vod) write.
//!
//! The segmenter cuts at every keyframe (see [`super`]), so every segment opens with its one
//! keyframe: the first sample of its first fragment, which must be a sync sample. Its
//! I-frame's duration is the segment's.
//!
//! DASH cannot use these ranges: a DASH Representation's segments must be whole media
//! segments, and a range cut after the keyframe leaves a `moof` whose `trun` still declares
//! the whole group of pictures and an `mdat` shorter than its header says, which MSE players
//! reject. Its trick-mode tracks ([`super::trick_mode`]) rewrite the same keyframes
//! ([`opening_keyframe`]) as one-sample fragments of their own.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::fragments::{RunSample, SampleDefaults, TrackTiming, read_track_fragment};
use super::hls::{IFRAME_PLAYLIST, iframe_playlist_text};
use crate::media::mp4_boxes::{big_endian_u32, child, located_children};

/// One I-frame: bytes `offset..offset + length` of its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IFrameRange {
    pub offset: u64,
    pub length: u64,
}

/// A rendition's I-frame playlist and its bitrates (HLS `EXT-X-I-FRAME-STREAM-INF`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedIFrames {
    pub playlist: PathBuf,
    /// The largest I-frame range over its duration, in bits per second.
    pub peak_bitrate_bps: u64,
    /// All I-frame ranges' bytes over the rendition's duration, in bits per second.
    pub average_bitrate_bps: u64,
}

/// Finds the keyframe of each of `files` (the track's segments under `dir`, timed by
/// `timing`) and writes the I-frame playlist beside the media playlist.
/// `keys`: the track's `EXT-X-KEY` lines (empty when clear).
pub(super) fn write_iframe_playlist(dir: &Path, timing: &TrackTiming, files: &[String], keys: &str) -> Result<PackagedIFrames, String> {
    let mut ranges = Vec::with_capacity(files.len());
    let mut peak = 0u64;
    for (file, segment) in files.iter().zip(&timing.segments) {
        let range = segment_iframe(&dir.join(file), timing.init.sample_defaults).map_err(|error| format!("{file}: {error}"))?;
        let seconds = timing.seconds(segment.duration);
        if seconds > 0.0 {
            peak = peak.max((range.length as f64 * 8.0 / seconds) as u64);
        }
        ranges.push(range);
    }
    let seconds = timing.seconds(timing.end());
    let bytes: u64 = ranges.iter().map(|range| range.length).sum();
    let playlist = dir.join(IFRAME_PLAYLIST);
    std::fs::write(&playlist, iframe_playlist_text(timing, files, &ranges, keys)).map_err(|error| format!("writing {}: {error}", playlist.display()))?;
    Ok(PackagedIFrames { playlist, peak_bitrate_bps: peak, average_bitrate_bps: if seconds > 0.0 { (bytes as f64 * 8.0 / seconds) as u64 } else { 0 } })
}

/// The byte range of the keyframe that opens the segment at `path` (see the module docs).
pub fn segment_iframe(path: &Path, track_defaults: SampleDefaults) -> Result<IFrameRange, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    iframe_in(&bytes, track_defaults)
}

/// The byte range of the keyframe that opens the segment `bytes`.
fn iframe_in(bytes: &[u8], track_defaults: SampleDefaults) -> Result<IFrameRange, String> {
    let keyframe = opening_keyframe(bytes, track_defaults)?;
    Ok(IFrameRange { offset: keyframe.moof_start as u64, length: (keyframe.data.end - keyframe.moof_start) as u64 })
}

/// The keyframe that opens a segment: where its fragment starts, where its bytes lie, and its
/// timing as its fragment declares it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OpeningKeyframe {
    /// Offset of the segment's first `moof` box.
    pub moof_start: usize,
    /// Offsets of the keyframe's bytes, inside the `mdat` that follows that `moof`.
    pub data: Range<usize>,
    /// The fragment's `tfhd` track id.
    pub track_id: u32,
    /// The fragment's decode start (`tfdt`).
    pub decode_start: u64,
    /// The keyframe's duration, size, flags and composition offset.
    pub sample: RunSample,
}

/// The keyframe that opens the segment `bytes`: the first sample of its first fragment, which
/// must be a sync sample whose bytes lie inside the `mdat` after its `moof`.
pub(super) fn opening_keyframe(bytes: &[u8], track_defaults: SampleDefaults) -> Result<OpeningKeyframe, String> {
    let boxes = located_children(bytes)?;
    let moof_index = boxes.iter().position(|found| &found.kind == b"moof").ok_or("it has no moof box")?;
    let moof = &boxes[moof_index];
    let traf = child(moof.body, b"traf")?.ok_or("its first moof has no traf box")?;
    let track_id = child(traf, b"tfhd")?.and_then(|tfhd| big_endian_u32(tfhd, 4)).ok_or("its first track fragment has no complete tfhd box")?;
    let fragment = read_track_fragment(traf, track_defaults)?;
    let run = fragment.runs.first().ok_or("its first track fragment has no trun box")?;
    let keyframe = *run.samples.first().ok_or("its first trun holds no samples")?;
    if !keyframe.is_sync() {
        return Err("its first sample is not a keyframe (sync sample)".to_owned());
    }
    // The first run's data starts at the base (the moof, unless tfhd names another) plus its offset.
    let base = fragment.base_data_offset.map_or(Ok(moof.start as i64), i64::try_from).map_err(|_| "its tfhd base data offset is out of range")?;
    let start = base + run.data_offset.unwrap_or(0);
    let end = start + i64::from(keyframe.size);
    let mdat = boxes[moof_index + 1..].iter().find(|found| &found.kind == b"mdat").ok_or("no mdat box follows its first moof")?;
    let (mdat_start, mdat_end) = (mdat.body_start as i64, (mdat.body_start + mdat.body.len()) as i64);
    if keyframe.size == 0 || start < mdat_start || end > mdat_end {
        return Err(format!("its keyframe's data ({start}..{end}) is not inside the mdat box that follows its moof ({mdat_start}..{mdat_end})"));
    }
    Ok(OpeningKeyframe { moof_start: moof.start, data: start as usize..end as usize, track_id, decode_start: fragment.decode_start, sample: keyframe })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mp4_boxes::boxed;

    /// A segment: a moof whose run has samples of `sizes` (the first with `first_flags`, the
    /// rest non-sync) and data offset `data_offset`, then an mdat of the sizes' sum.
    fn segment(first_flags: u32, sizes: &[u32], data_offset: Option<i32>) -> Vec<u8> {
        let mut tfdt = vec![1u8, 0, 0, 0];
        tfdt.extend_from_slice(&0u64.to_be_bytes());
        let tfhd = [0u8, 0x02, 0, 0x20, 0, 0, 0, 1, 0x00, 0x01, 0, 0]; // default-base-is-moof, default flags: non-sync
        let mut trun = vec![1u8, 0, 0x02, 0x04 | u8::from(data_offset.is_some())];
        trun.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
        if let Some(offset) = data_offset {
            trun.extend_from_slice(&offset.to_be_bytes());
        }
        trun.extend_from_slice(&first_flags.to_be_bytes());
        for size in sizes {
            trun.extend_from_slice(&size.to_be_bytes());
        }
        let moof = boxed(b"moof", &boxed(b"traf", &[boxed(b"tfhd", &tfhd), boxed(b"tfdt", &tfdt), boxed(b"trun", &trun)].concat()));
        let data = vec![7u8; sizes.iter().sum::<u32>() as usize];
        [boxed(b"styp", b"msdhcmfs"), moof, boxed(b"mdat", &data)].concat()
    }

    #[test]
    fn the_range_runs_from_the_moof_through_the_keyframe() {
        // styp is 16 bytes; the moof follows; its data starts 8 bytes (the mdat header) after it.
        let probe = segment(0, &[100, 30, 20], Some(0));
        let moof_len = probe.len() - 16 - 8 - 150;
        let bytes = segment(0, &[100, 30, 20], Some(moof_len as i32 + 8));
        assert_eq!(iframe_in(&bytes, SampleDefaults::default()), Ok(IFrameRange { offset: 16, length: moof_len as u64 + 8 + 100 }));
    }

    #[test]
    fn a_segment_that_does_not_open_with_a_keyframe_or_points_outside_its_mdat_is_refused() {
        let probe = segment(0, &[100, 30], Some(0));
        let moof_len = (probe.len() - 16 - 8 - 130) as i32;
        let not_sync = iframe_in(&segment(0x0001_0000, &[100, 30], Some(moof_len + 8)), SampleDefaults::default());
        assert_eq!(not_sync, Err("its first sample is not a keyframe (sync sample)".to_owned()));
        let outside = iframe_in(&segment(0, &[100, 30], Some(moof_len + 40)), SampleDefaults::default()).unwrap_err();
        assert!(outside.contains("not inside the mdat"), "{outside}");
        let inside_moof = iframe_in(&segment(0, &[100, 30], None), SampleDefaults::default()).unwrap_err();
        assert!(inside_moof.contains("not inside the mdat"), "{inside_moof}");
    }
}
