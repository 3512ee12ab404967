//! The timing of a packaged track, read from its fMP4 boxes rather than from what the
//! segmenter printed: the init segment's timescale and whether it carries an edit list
//! (`moov/trak/edts/elst`), and per media segment its base decode time (`tfdt`), sample
//! count, summed sample durations (`trun`, else `tfhd`, else `trex` defaults) and earliest
//! presentation time (decode time plus the composition offset, signed in a version-1 `trun`).
//! The same reading of a track fragment ([`read_track_fragment`]: each sample's duration,
//! size, flags and composition offset, and where its run's data lies) finds the keyframes the
//! I-frame playlists point at (see [`super::iframes`]).
//!
//! Packaging checks with it that every track starts at presentation time 0 with no edit list
//! and that segments follow each other without a gap, and writes the playlists' and the
//! MPD's durations from it, so they equal the media's.

use std::path::Path;

use crate::media::mp4_boxes::{big_endian_u32, big_endian_u64, child, children, descend};

/// What a track's `init.mp4` says about timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitTiming {
    /// Ticks per second of the track (`mdhd`).
    pub timescale: u32,
    /// An `edts/elst` box is present (players that ignore it would show other times).
    pub has_edit_list: bool,
    /// The `trex` defaults, used when a fragment names none.
    pub sample_defaults: SampleDefaults,
}

/// What a sample is when its fragment says nothing of it: the track's `trex` values,
/// overridden per fragment by `tfhd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleDefaults {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

/// One sample of a `trun`, the defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSample {
    pub duration: u32,
    /// Bytes of its data in the `mdat`.
    pub size: u32,
    /// ISO-BMFF sample flags.
    pub flags: u32,
    pub composition_offset: i64,
}

impl RunSample {
    /// A sync sample (a keyframe): `sample_is_non_sync_sample` clear.
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

/// One `trun`: where its data starts and its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Its data's offset from the fragment's base (the `moof` unless `tfhd` names one).
    pub data_offset: Option<i64>,
    /// Version 1: signed composition offsets.
    pub signed_offsets: bool,
    pub samples: Vec<RunSample>,
}

/// One track fragment (`traf`) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFragment {
    /// `tfdt`: the decode time of its first sample.
    pub decode_start: u64,
    /// `tfhd`'s base data offset (from the start of the file), when it names one.
    pub base_data_offset: Option<u64>,
    pub runs: Vec<Run>,
}

/// One media segment's timing, in the track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentTiming {
    /// `tfdt`: the decode time of its first sample.
    pub decode_start: u64,
    pub samples: u32,
    /// Sum of its samples' durations.
    pub duration: u64,
    /// The smallest decode time plus composition offset over its samples.
    pub earliest_presentation: i64,
    /// Whether any `trun` is version 1 (signed composition offsets).
    pub signed_offsets: bool,
}

/// A whole track: its init segment and its media segments in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackTiming {
    pub init: InitTiming,
    pub segments: Vec<SegmentTiming>,
}

impl TrackTiming {
    /// Reads `init.mp4` and each named segment under `dir`.
    pub fn read(dir: &Path, segment_files: &[String]) -> Result<Self, String> {
        let init = read_init(&dir.join("init.mp4"))?;
        let segments =
            segment_files.iter().map(|file| read_segment(&dir.join(file), init.sample_defaults).map_err(|error| format!("{file}: {error}"))).collect::<Result<_, _>>()?;
        Ok(Self { init, segments })
    }

    pub fn samples(&self) -> u64 {
        self.segments.iter().map(|segment| u64::from(segment.samples)).sum()
    }

    /// Where the last segment ends, in ticks.
    pub fn end(&self) -> u64 {
        self.segments.last().map_or(0, |last| last.decode_start + last.duration)
    }

    pub fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 / f64::from(self.init.timescale)
    }

    /// The first problem with this track's timing for players that ignore edit lists: an
    /// edit list, a first sample not presented at 0, or a segment that does not start where
    /// the previous one ended.
    pub fn timing_fault(&self) -> Option<String> {
        if self.init.has_edit_list {
            return Some("its init segment has an edit list (players that ignore it show other times)".to_owned());
        }
        let first = self.segments.first()?;
        if first.earliest_presentation != 0 {
            return Some(format!(
                "its first sample is presented at {} ticks of {} per second, not at 0",
                first.earliest_presentation, self.init.timescale
            ));
        }
        let mut expected = 0u64;
        for (index, segment) in self.segments.iter().enumerate() {
            if segment.decode_start != expected {
                return Some(format!("segment {index} starts at {} ticks; the previous one ended at {expected}", segment.decode_start));
            }
            expected = segment.decode_start + segment.duration;
        }
        None
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))
}

/// The timing facts of an fMP4 init segment (its first track).
pub fn read_init(path: &Path) -> Result<InitTiming, String> {
    let bytes = read_file(path)?;
    let moov = child(&bytes, b"moov")?.ok_or("it has no moov box")?;
    let trak = child(moov, b"trak")?.ok_or("its moov has no trak box")?;
    let has_edit_list = descend(trak, &[b"edts", b"elst"])?.is_some();
    let mdhd = descend(trak, &[b"mdia", b"mdhd"])?.ok_or("its track has no mdia/mdhd box")?;
    // mdhd: version/flags (4), then creation and modification times (4 or 8 each), timescale.
    let timescale_at = if mdhd.first() == Some(&1) { 20 } else { 12 };
    let timescale = big_endian_u32(mdhd, timescale_at).filter(|scale| *scale > 0).ok_or("its mdhd box has no timescale")?;
    // trex: version/flags (4), track_ID (4), default_sample_description_index (4), then the
    // default sample duration, size and flags (4 each).
    let trex = descend(moov, &[b"mvex", b"trex"])?;
    let field = |at: usize| trex.and_then(|trex| big_endian_u32(trex, at)).unwrap_or(0);
    let sample_defaults = SampleDefaults { duration: field(12), size: field(16), flags: field(20) };
    Ok(InitTiming { timescale, has_edit_list, sample_defaults })
}

/// The timing of one media segment (`moof` boxes, first track fragment of each).
pub fn read_segment(path: &Path, track_defaults: SampleDefaults) -> Result<SegmentTiming, String> {
    let bytes = read_file(path)?;
    let mut timing: Option<SegmentTiming> = None;
    for (kind, moof) in children(&bytes)? {
        if &kind != b"moof" {
            continue;
        }
        let traf = child(moof, b"traf")?.ok_or("a moof has no traf box")?;
        let fragment = read_track_fragment(traf, track_defaults)?;
        let mut summary = SegmentTiming { decode_start: fragment.decode_start, samples: 0, duration: 0, earliest_presentation: i64::MAX, signed_offsets: false };
        for run in &fragment.runs {
            summary.signed_offsets |= run.signed_offsets;
            for sample in &run.samples {
                let decode_time = (summary.decode_start + summary.duration) as i64;
                summary.earliest_presentation = summary.earliest_presentation.min(decode_time + sample.composition_offset);
                summary.duration += u64::from(sample.duration);
                summary.samples += 1;
            }
        }
        match &mut timing {
            None => timing = Some(summary),
            Some(total) => {
                total.samples += summary.samples;
                total.duration += summary.duration;
                total.earliest_presentation = total.earliest_presentation.min(summary.earliest_presentation);
                total.signed_offsets |= summary.signed_offsets;
            }
        }
    }
    let timing = timing.ok_or("it has no moof box")?;
    if timing.samples == 0 {
        return Err("it holds no samples".to_owned());
    }
    Ok(timing)
}

/// A track fragment's decode start, base data offset and runs (`tfdt`, `tfhd`, `trun`s), its
/// samples' missing values taken from `tfhd`, else `track_defaults`.
pub fn read_track_fragment(traf: &[u8], track_defaults: SampleDefaults) -> Result<TrackFragment, String> {
    let tfdt = child(traf, b"tfdt")?.ok_or("a traf has no tfdt box")?;
    let decode_start = if tfdt.first() == Some(&1) { big_endian_u64(tfdt, 4) } else { big_endian_u32(tfdt, 4).map(u64::from) }.ok_or("its tfdt box is truncated")?;
    let (base_data_offset, defaults) = match child(traf, b"tfhd")? {
        Some(tfhd) => read_tfhd(tfhd, track_defaults)?,
        None => (None, track_defaults),
    };
    let runs = children(traf)?.into_iter().filter(|(kind, _)| kind == b"trun").map(|(_, trun)| read_run(trun, defaults)).collect::<Result<_, _>>()?;
    Ok(TrackFragment { decode_start, base_data_offset, runs })
}

/// `tfhd`'s base data offset and its defaults over `track_defaults`, as its flags say.
fn read_tfhd(tfhd: &[u8], track_defaults: SampleDefaults) -> Result<(Option<u64>, SampleDefaults), String> {
    let truncated = || "its tfhd box is truncated".to_owned();
    let flags = big_endian_u32(tfhd, 0).ok_or_else(truncated)? & 0x00ff_ffff;
    // version/flags (4), track_ID (4), then the optional fields in order.
    let mut at = 8;
    let mut base_data_offset = None;
    if flags & 0x01 != 0 {
        base_data_offset = Some(big_endian_u64(tfhd, at).ok_or_else(truncated)?);
        at += 8;
    }
    if flags & 0x02 != 0 {
        at += 4; // sample_description_index
    }
    let mut defaults = track_defaults;
    for (bit, field) in [(0x08, &mut defaults.duration), (0x10, &mut defaults.size), (0x20, &mut defaults.flags)] {
        if flags & bit != 0 {
            *field = big_endian_u32(tfhd, at).ok_or_else(truncated)?;
            at += 4;
        }
    }
    Ok((base_data_offset, defaults))
}

/// One `trun`'s data offset and samples.
fn read_run(trun: &[u8], defaults: SampleDefaults) -> Result<Run, String> {
    let truncated = || "its trun box is truncated".to_owned();
    let header = big_endian_u32(trun, 0).ok_or_else(truncated)?;
    let version = header >> 24;
    let flags = header & 0x00ff_ffff;
    let count = big_endian_u32(trun, 4).ok_or_else(truncated)?;
    let mut at = 8;
    let mut data_offset = None;
    if flags & 0x001 != 0 {
        data_offset = Some(i64::from(big_endian_u32(trun, at).ok_or_else(truncated)? as i32));
        at += 4;
    }
    let mut first_sample_flags = None;
    if flags & 0x004 != 0 {
        first_sample_flags = Some(big_endian_u32(trun, at).ok_or_else(truncated)?);
        at += 4;
    }
    let fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|bit| flags & **bit != 0).count();
    if trun.len() < at + fields * 4 * count as usize {
        return Err(truncated());
    }
    let mut samples = Vec::with_capacity(count as usize);
    for index in 0..count {
        let mut sample = RunSample { duration: defaults.duration, size: defaults.size, flags: defaults.flags, composition_offset: 0 };
        for bit in [0x100, 0x200, 0x400, 0x800] {
            if flags & bit == 0 {
                continue;
            }
            let value = big_endian_u32(trun, at).ok_or_else(truncated)?;
            at += 4;
            match bit {
                0x100 => sample.duration = value,
                0x200 => sample.size = value,
                0x400 => sample.flags = value,
                _ if version == 1 => sample.composition_offset = i64::from(value as i32),
                _ => sample.composition_offset = i64::from(value),
            }
        }
        if index == 0
            && let Some(flags) = first_sample_flags
        {
            sample.flags = flags;
        }
        samples.push(sample);
    }
    Ok(Run { data_offset, signed_offsets: version == 1, samples })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mp4_boxes::boxed;

    fn init(edit_list: bool) -> Vec<u8> {
        let mut mdhd = vec![0u8; 12];
        mdhd.extend_from_slice(&12800u32.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mut trak = Vec::new();
        if edit_list {
            trak.extend(boxed(b"edts", &boxed(b"elst", &[0u8; 24])));
        }
        trak.extend(boxed(b"mdia", &boxed(b"mdhd", &mdhd)));
        let trex = [0u32, 1, 1, 512, 0, 0].iter().flat_map(|word| word.to_be_bytes()).collect::<Vec<u8>>();
        boxed(b"moov", &[boxed(b"trak", &trak), boxed(b"mvex", &boxed(b"trex", &trex))].concat())
    }

    /// A segment at `start` whose samples have the trex duration (512) and these offsets.
    fn segment(start: u64, version: u8, offsets: &[i32]) -> Vec<u8> {
        let mut tfdt = vec![1u8, 0, 0, 0];
        tfdt.extend_from_slice(&start.to_be_bytes());
        let mut trun = vec![version, 0, 0x08, 0x00];
        trun.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
        for offset in offsets {
            trun.extend_from_slice(&offset.to_be_bytes());
        }
        let tfhd = [0u8, 0, 0, 0, 0, 0, 0, 1];
        boxed(b"moof", &boxed(b"traf", &[boxed(b"tfhd", &tfhd), boxed(b"tfdt", &tfdt), boxed(b"trun", &trun)].concat()))
    }

    fn track(edit_list: bool, segments: &[Vec<u8>]) -> TrackTiming {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("init.mp4"), init(edit_list)).expect("writes");
        let mut files = Vec::new();
        for (index, bytes) in segments.iter().enumerate() {
            let name = format!("seg_{index}.m4s");
            std::fs::write(dir.path().join(&name), bytes).expect("writes");
            files.push(name);
        }
        TrackTiming::read(dir.path(), &files).expect("reads")
    }

    #[test]
    fn signed_offsets_put_the_first_frame_at_zero() {
        // I P B B in decode order, presented I B B P.
        let timing = track(false, &[segment(0, 1, &[0, 1536, -512, -512]), segment(2048, 1, &[0, 512])]);
        assert_eq!(timing.init.timescale, 12800);
        assert_eq!(timing.segments[0], SegmentTiming { decode_start: 0, samples: 4, duration: 2048, earliest_presentation: 0, signed_offsets: true });
        assert_eq!((timing.samples(), timing.end()), (6, 3072));
        assert_eq!(timing.timing_fault(), None);
    }

    #[test]
    fn what_ffmpeg_writes_by_default_is_a_fault() {
        // ffmpeg 5.1's default: unsigned offsets (the first frame at 1024 ticks) and an edit list.
        let late = track(false, &[segment(0, 0, &[1024, 2048, 512, 512])]);
        assert!(late.timing_fault().is_some_and(|fault| fault.contains("presented at 1024 ticks")), "{:?}", late.timing_fault());
        let edited = track(true, &[segment(0, 1, &[0, 1536, -512, -512])]);
        assert!(edited.timing_fault().is_some_and(|fault| fault.contains("edit list")));
        let gap = track(false, &[segment(0, 1, &[0, 512]), segment(1536, 1, &[0])]);
        assert!(gap.timing_fault().is_some_and(|fault| fault.contains("segment 1 starts at 1536")), "{:?}", gap.timing_fault());
    }

    #[test]
    fn damaged_segments_are_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.m4s");
        let mut bytes = segment(0, 1, &[0, 512]);
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).expect("writes");
        let defaults = SampleDefaults { duration: 512, ..SampleDefaults::default() };
        assert!(read_segment(&path, defaults).is_err());
        std::fs::write(&path, boxed(b"mdat", &[0u8; 16])).expect("writes");
        assert_eq!(read_segment(&path, defaults), Err("it has no moof box".to_owned()));
    }
}
