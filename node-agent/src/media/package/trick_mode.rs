//! DASH trick-mode tracks (DASH-IF IOP §3.2.9, `http://dashif.org/guidelines/trickmode`):
//! for fast forward, rewind and scrubbing, a Representation whose segments each hold one
//! keyframe, decodable alone.
//!
//! HLS gets trick play from byte ranges into the media segments (see [`super::iframes`]); a
//! DASH segment must be a whole media segment, so each trick-mode segment is written as a file
//! of its own: segment `k`'s opening keyframe as a one-sample fragment (`moof` with `mfhd`,
//! `tfhd`, `tfdt` and a one-sample `trun`, then an `mdat` with the keyframe's bytes). The
//! sample keeps its decode time and composition offset and lasts the whole of segment `k`, so
//! the trick track's timeline is the media track's, segment for segment, and its samples are
//! presented at the media's keyframe times. It shares the media track's init segment (same
//! sample entry, same track id).
//!
//! They are written from the clear segments, before encryption, and protected with the media
//! segments (same key, same clear lead), so a protected ladder's trick tracks are protected too.
//!
//! Which renditions get one: each rendition of at most [`TRICK_MODE_MAX_HEIGHT`] lines, and
//! the smallest of each codec when all of its renditions are taller. Scrubbing shows one
//! picture per segment, which needs neither more lines nor the bytes of the larger rungs
//! (a trick track holds every keyframe of its rendition: about a tenth of its bytes at
//! two-second segments).

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::fragments::{SampleDefaults, TrackTiming};
use super::iframes::opening_keyframe;
use crate::media::mp4_boxes::{boxed, children, full_boxed};
use crate::media::probe::Rational;
use shotfarm_proto::pipeline::Rung;

/// Renditions up to this height get a trick-mode track of their own.
pub const TRICK_MODE_MAX_HEIGHT: u32 = 720;

/// `tfhd` flag: sample data offsets count from the `moof`.
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data offset, and each sample's duration, size, flags and composition offset.
const ONE_SAMPLE_RUN_FLAGS: u32 = 0x00_0f01;

/// The file of trick-mode segment `index` (`$Number%05d$` in the MPD's template).
pub fn trick_segment_file(index: usize) -> String {
    format!("trick_{index:05}.m4s")
}

/// The MPD's `media` template for the trick-mode segments.
pub const TRICK_SEGMENT_TEMPLATE: &str = "trick_$Number%05d$.m4s";

/// A rendition's trick-mode track as the MPD and the report describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedTrickMode {
    pub segments: usize,
    /// The largest segment over its duration, in bits per second (the MPD's `bandwidth`).
    pub peak_bitrate_bps: u64,
    /// All segments' bytes over the rendition's duration, in bits per second.
    pub average_bitrate_bps: u64,
    /// Keyframes per second: the frame rate over the average frames per segment.
    pub frame_rate: Rational,
    /// Playing every keyframe at this rate shows the title this many times faster
    /// (`maxPlayoutRate`): the average frames per segment.
    pub max_playout_rate: u32,
}

/// Which of `rungs` get a trick-mode track (see the module docs), in their order.
pub fn trick_mode_rungs(rungs: &[&Rung]) -> Vec<bool> {
    rungs
        .iter()
        .map(|rung| {
            let smallest_of_codec = rungs.iter().filter(|other| other.codec == rung.codec).map(|other| other.height).min() == Some(rung.height);
            rung.height <= TRICK_MODE_MAX_HEIGHT || smallest_of_codec
        })
        .collect()
}

/// Writes a trick-mode segment beside each of the clear media segments `files` in `dir`
/// (timed by `timing`); their file names, in order.
pub fn write_trick_segments(dir: &Path, files: &[String], timing: &TrackTiming) -> Result<Vec<String>, String> {
    let mut written = Vec::with_capacity(files.len());
    for (index, (file, segment)) in files.iter().zip(&timing.segments).enumerate() {
        let bytes = std::fs::read(dir.join(file)).map_err(|error| format!("reading {file}: {error}"))?;
        let trick = trick_segment(&bytes, index, segment.duration, timing.init.sample_defaults).map_err(|error| format!("{file}: {error}"))?;
        let name = trick_segment_file(index);
        std::fs::write(dir.join(&name), trick).map_err(|error| format!("writing {name}: {error}"))?;
        written.push(name);
    }
    Ok(written)
}

/// Reads back the (possibly protected) trick-mode segments `files` of the track timed by
/// `media`: checks that their timeline is the media's and gives their bitrates and rates.
pub fn read_trick_mode(dir: &Path, files: &[String], media: &TrackTiming, frame_rate: Rational) -> Result<PackagedTrickMode, String> {
    let trick = TrackTiming::read(dir, files)?;
    for (index, (trick_segment, media_segment)) in trick.segments.iter().zip(&media.segments).enumerate() {
        if trick_segment.samples != 1 || trick_segment.decode_start != media_segment.decode_start || trick_segment.duration != media_segment.duration {
            return Err(format!(
                "trick-mode segment {index} holds {} samples from {} for {} ticks; its media segment starts at {} for {} ticks",
                trick_segment.samples, trick_segment.decode_start, trick_segment.duration, media_segment.decode_start, media_segment.duration
            ));
        }
    }
    let mut bytes = 0u64;
    let mut peak = 0u64;
    for (file, segment) in files.iter().zip(&trick.segments) {
        let size = std::fs::metadata(dir.join(file)).map_err(|error| format!("reading {file}: {error}"))?.len();
        bytes += size;
        let seconds = trick.seconds(segment.duration);
        if seconds > 0.0 {
            peak = peak.max((size as f64 * 8.0 / seconds) as u64);
        }
    }
    let seconds = media.seconds(media.end());
    let frames_per_segment = (media.samples() as f64 / files.len().max(1) as f64).round().max(1.0) as u32;
    Ok(PackagedTrickMode {
        segments: files.len(),
        peak_bitrate_bps: peak,
        average_bitrate_bps: if seconds > 0.0 { (bytes as f64 * 8.0 / seconds) as u64 } else { 0 },
        frame_rate: Rational { num: frame_rate.num, den: frame_rate.den.saturating_mul(frames_per_segment) },
        max_playout_rate: frames_per_segment,
    })
}

/// Segment number `index` of the trick track: the keyframe that opens `segment` as a
/// one-sample fragment lasting `duration` ticks (the whole media segment).
fn trick_segment(segment: &[u8], index: usize, duration: u64, defaults: SampleDefaults) -> Result<Vec<u8>, String> {
    let keyframe = opening_keyframe(segment, defaults)?;
    let duration = u32::try_from(duration).map_err(|_| format!("it lasts {duration} ticks, more than a trun sample can"))?;
    let composition_offset = i32::try_from(keyframe.sample.composition_offset).map_err(|_| "its keyframe's composition offset is out of range".to_owned())?;
    let sequence = u32::try_from(index + 1).map_err(|_| "too many segments".to_owned())?;
    let moof = |data_offset: i32| {
        let mut run = Vec::with_capacity(24);
        run.extend_from_slice(&1u32.to_be_bytes());
        run.extend_from_slice(&data_offset.to_be_bytes());
        for field in [duration, keyframe.sample.size, keyframe.sample.flags] {
            run.extend_from_slice(&field.to_be_bytes());
        }
        run.extend_from_slice(&composition_offset.to_be_bytes());
        let traf = [
            full_boxed(b"tfhd", 0, DEFAULT_BASE_IS_MOOF, &keyframe.track_id.to_be_bytes()),
            full_boxed(b"tfdt", 1, 0, &keyframe.decode_start.to_be_bytes()),
            full_boxed(b"trun", 1, ONE_SAMPLE_RUN_FLAGS, &run),
        ]
        .concat();
        boxed(b"moof", &[full_boxed(b"mfhd", 0, 0, &sequence.to_be_bytes()), boxed(b"traf", &traf)].concat())
    };
    // The sample's data starts right after the moof and the mdat's 8-byte header.
    let moof_len = moof(0).len();
    let data_offset = i32::try_from(moof_len + 8).map_err(|_| "its fragment header is too large".to_owned())?;
    let styp = children(segment)?.into_iter().find(|(kind, _)| kind == b"styp").map(|(_, body)| boxed(b"styp", body)).unwrap_or_default();
    Ok([styp, moof(data_offset), boxed(b"mdat", &segment[keyframe.data])].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::package::fragments::read_track_fragment;
    use crate::media::mp4_boxes::{child, located_children};
    use shotfarm_proto::pipeline::Codec;

    /// Sample flags: a sync sample that depends on no other, and a non-sync one.
    const SYNC: u32 = 0x0200_0000;
    const NON_SYNC: u32 = 0x0101_0000;

    /// A media segment: a moof whose run has three samples (100 bytes with `first_flags`,
    /// presented `offset` ticks after its decode time, then two non-sync ones), each 512
    /// ticks, then an mdat.
    fn media_segment(decode_start: u64, offset: i32, first_flags: u32) -> Vec<u8> {
        let sizes = [100u32, 30, 20];
        let tfhd = [0u8, 0x02, 0, 0, 0, 0, 0, 7]; // default-base-is-moof, track 7
        let mut tfdt = vec![1u8, 0, 0, 0];
        tfdt.extend_from_slice(&decode_start.to_be_bytes());
        let run = |data_offset: i32| {
            let mut trun = vec![1u8, 0, 0x0f, 0x01];
            trun.extend_from_slice(&3u32.to_be_bytes());
            trun.extend_from_slice(&data_offset.to_be_bytes());
            for (index, size) in sizes.iter().enumerate() {
                let flags = if index == 0 { first_flags } else { NON_SYNC };
                for field in [512u32, *size, flags] {
                    trun.extend_from_slice(&field.to_be_bytes());
                }
                trun.extend_from_slice(&(if index == 0 { offset } else { 0 }).to_be_bytes());
            }
            boxed(b"moof", &boxed(b"traf", &[boxed(b"tfhd", &tfhd), boxed(b"tfdt", &tfdt), boxed(b"trun", &trun)].concat()))
        };
        let moof_len = run(0).len() as i32;
        let mut data: Vec<u8> = (0..150u32).map(|byte| byte as u8).collect();
        data[0] = 0xab;
        [boxed(b"styp", b"msdh\0\0\0\0msdhmsix"), run(moof_len + 8), boxed(b"mdat", &data)].concat()
    }

    #[test]
    fn a_trick_segment_is_its_segments_keyframe_alone_for_the_whole_segment() {
        let media = media_segment(3 * 1536, -512, SYNC);
        let trick = trick_segment(&media, 3, 1536, SampleDefaults::default()).expect("writes");
        let boxes = located_children(&trick).expect("boxes");
        let kinds: Vec<&[u8; 4]> = boxes.iter().map(|found| &found.kind).collect();
        assert_eq!(kinds, [b"styp", b"moof", b"mdat"]);
        let moof = boxes[1].body;
        assert_eq!(child(moof, b"mfhd").expect("moof").expect("mfhd")[4..8], 4u32.to_be_bytes());
        let traf = child(moof, b"traf").expect("moof").expect("traf");
        assert_eq!(child(traf, b"tfhd").expect("traf").expect("tfhd")[4..8], 7u32.to_be_bytes());
        let fragment = read_track_fragment(traf, SampleDefaults::default()).expect("reads");
        assert_eq!(fragment.decode_start, 3 * 1536);
        let sample = fragment.runs[0].samples[0];
        assert_eq!((fragment.runs.len(), fragment.runs[0].samples.len()), (1, 1));
        assert_eq!((sample.duration, sample.size, sample.composition_offset, sample.is_sync()), (1536, 100, -512, true));
        let data_at = boxes[1].start + fragment.runs[0].data_offset.expect("offset") as usize;
        assert_eq!(data_at, boxes[2].body_start);
        let keyframe: Vec<u8> = (0..100u32).map(|byte| if byte == 0 { 0xab } else { byte as u8 }).collect();
        assert_eq!(&trick[data_at..data_at + 100], keyframe.as_slice());
        assert_eq!(boxes[2].body.len(), 100);
    }

    #[test]
    fn a_segment_without_a_keyframe_first_or_too_long_for_one_sample_is_refused() {
        let media = media_segment(0, 0, NON_SYNC);
        assert_eq!(trick_segment(&media, 0, 1536, SampleDefaults::default()), Err("its first sample is not a keyframe (sync sample)".to_owned()));
        let long = trick_segment(&media_segment(0, 0, SYNC), 0, u64::from(u32::MAX) + 1, SampleDefaults::default()).unwrap_err();
        assert!(long.contains("more than a trun sample can"), "{long}");
    }

    #[test]
    fn renditions_up_to_720_lines_and_the_smallest_of_each_codec_get_trick_tracks() {
        let rung = |height: u32, codec: Codec| Rung { name: format!("{height}p"), codec, width: height * 16 / 9, height, bitrate_kbps: 1000, maxrate_kbps: 1500, bufsize_kbps: 2000 };
        let ladder = [rung(1080, Codec::H264), rung(720, Codec::H264), rung(360, Codec::H264), rung(2160, Codec::Hevc), rung(1440, Codec::Hevc)];
        let rungs: Vec<&Rung> = ladder.iter().collect();
        assert_eq!(trick_mode_rungs(&rungs), [false, true, true, false, true]);
    }
}
