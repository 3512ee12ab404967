//! What the video track of a progressive MP4 holds, read from its box tree without starting
//! a process or decoding: how many samples (frames), their bytes, and its timeline.
//!
//! The encode and assemble stages check every file they write has exactly the chunk's (or
//! the source's) frame count. Asking ffprobe (`-count_packets`) costs a process start and a
//! demux of the whole file per output; this reader seeks from box header to box header
//! (`mdat` is skipped, never read), finds the `moov` box, the `trak` whose `hdlr` says
//! `vide`, and returns the sample count of its `stsz` (or `stz2`) table — or, for the analyze
//! stage's trials, the sum of the sample sizes there: the bytes of the video stream alone.
//! The validate stage's join check reads the whole timeline ([`video_timeline`]): each
//! sample's presentation time (`stts` durations plus `ctts` offsets, in the `mdhd` time
//! scale) and which samples are sync samples (`stss`; none: every one); and where each sample's
//! bytes lie ([`video_sample_locations`]: the sizes, `stsc`'s samples per chunk and the chunk
//! offsets of `stco` or `co64`), so [`super::sample_digest`] can read them.
//!
//! Only the progressive layout our stages write (`-f mp4`, with or without `+faststart`) is
//! understood: a fragmented file (`moov/mvex`) or one without a video track is an error, so a
//! count is never guessed. Box sizes are checked against their parent, so a damaged file
//! ends in an error, never a panic or a huge allocation.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::mp4_boxes::{big_endian_u32, child, children, read_header};

/// Largest `moov` box read into memory (its tables hold a few bytes per sample: 64 MiB is
/// hours of video).
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// Why the count could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Mp4SamplesError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a progressive MP4 we can read: {reason}")]
    Layout { path: String, reason: String },
}

/// The number of samples in the first video track of the MP4 at `path`.
pub fn video_sample_count(path: &Path) -> Result<u64, Mp4SamplesError> {
    read_size_table(path, |table| match table {
        SizeTable::Stsz(stsz) | SizeTable::Stz2(stsz) => big_endian_u32(stsz, 8).map(u64::from).ok_or_else(|| "its sample size box is truncated".to_owned()),
    })
}

/// The bytes of every sample of the first video track of the MP4 at `path` (the video
/// stream without its container).
pub fn video_bytes(path: &Path) -> Result<u64, Mp4SamplesError> {
    read_size_table(path, |table| Ok(sample_sizes(table)?.iter().map(|size| u64::from(*size)).sum()))
}

/// Every sample's size, in decode order.
fn sample_sizes(table: SizeTable<'_>) -> Result<Vec<u32>, String> {
    let truncated = || "its sample size box is truncated".to_owned();
    match table {
        SizeTable::Stsz(stsz) => {
            let (size, count) = (big_endian_u32(stsz, 4).ok_or_else(truncated)?, bounded_sample_count(&table)?);
            if size != 0 {
                return Ok(vec![size; count]);
            }
            let entries = stsz.get(12..12 + 4 * count).ok_or_else(truncated)?;
            Ok(entries.chunks_exact(4).map(|entry| u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]])).collect())
        }
        SizeTable::Stz2(stz2) => {
            let (field_bits, count) = (stz2.get(7).copied().ok_or_else(truncated)?, big_endian_u32(stz2, 8).ok_or_else(truncated)? as usize);
            let entries = stz2.get(12..).ok_or_else(truncated)?;
            let mut sizes: Vec<u32> = match field_bits {
                4 => entries.iter().flat_map(|byte| [u32::from(byte >> 4), u32::from(byte & 0x0f)]).collect(),
                8 => entries.iter().map(|&byte| u32::from(byte)).collect(),
                16 => entries.chunks_exact(2).map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]]))).collect(),
                other => return Err(format!("its stz2 box has {other}-bit sizes (4, 8 or 16 allowed)")),
            };
            if sizes.len() < count {
                return Err(truncated());
            }
            sizes.truncate(count);
            Ok(sizes)
        }
    }
}

/// The sample count a size table declares, refused above [`MAX_TIMELINE_SAMPLES`] before
/// anything is allocated for it.
fn bounded_sample_count(table: &SizeTable<'_>) -> Result<usize, String> {
    let (SizeTable::Stsz(body) | SizeTable::Stz2(body)) = table;
    let samples = big_endian_u32(body, 8).ok_or("its sample size box is truncated")?;
    if u64::from(samples) > MAX_TIMELINE_SAMPLES {
        return Err(format!("its video track claims {samples} samples (more than {MAX_TIMELINE_SAMPLES})"));
    }
    Ok(samples as usize)
}

/// Where one sample's bytes lie in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleLocation {
    pub offset: u64,
    pub size: u32,
}

/// Where each sample of the first video track of the MP4 at `path` lies, in decode order:
/// the samples of each chunk (`stsc`) one after another from its offset (`stco` or `co64`).
pub fn video_sample_locations(path: &Path) -> Result<Vec<SampleLocation>, Mp4SamplesError> {
    read_video_track(path, |track| {
        let sizes = sample_sizes(size_table(track.stbl)?)?;
        let offsets = chunk_offsets(track.stbl)?;
        // stsc: version/flags (4), entry count (4), (first chunk, samples per chunk, sample
        // description index) entries, first chunks 1-based and ascending.
        let stsc = child(track.stbl, b"stsc")?.ok_or("its video track has no stsc box")?;
        let entries = big_endian_u32(stsc, 4).ok_or("its stsc box is truncated")? as usize;
        let runs: Vec<(u32, u32)> = (0..entries)
            .map(|entry| Some((big_endian_u32(stsc, 8 + 12 * entry)?, big_endian_u32(stsc, 12 + 12 * entry)?)))
            .collect::<Option<_>>()
            .ok_or("its stsc box lists entries it does not hold")?;
        let mut locations = Vec::with_capacity(sizes.len());
        for (position, &(first_chunk, per_chunk)) in runs.iter().enumerate() {
            let next_first = runs.get(position + 1).map_or(offsets.len() as u64 + 1, |next| u64::from(next.0));
            if first_chunk == 0 || u64::from(first_chunk) >= next_first {
                return Err(format!("its stsc box's entry {position} starts at chunk {first_chunk}: not a chunk of the {} after the entry before", offsets.len()));
            }
            for chunk in u64::from(first_chunk)..next_first {
                let mut offset = *offsets.get(chunk as usize - 1).ok_or_else(|| format!("its stsc box names chunk {chunk} of {}", offsets.len()))?;
                for _ in 0..per_chunk {
                    let Some(&size) = sizes.get(locations.len()) else {
                        return Err(format!("its stsc box places more samples than its {} sizes", sizes.len()));
                    };
                    locations.push(SampleLocation { offset, size });
                    offset = offset.checked_add(u64::from(size)).ok_or_else(|| format!("its chunk {chunk}'s samples run past 2^64 bytes"))?;
                }
            }
        }
        if locations.len() != sizes.len() {
            return Err(format!("its stsc box places {} of its {} samples", locations.len(), sizes.len()));
        }
        Ok(locations)
    })
}

/// The chunk offsets of `stco` (32-bit) or `co64` (64-bit): version/flags (4), entry count
/// (4), offsets.
fn chunk_offsets(stbl: &[u8]) -> Result<Vec<u64>, String> {
    let (table, width) = match child(stbl, b"stco")? {
        Some(stco) => (stco, 4),
        None => (child(stbl, b"co64")?.ok_or("its video track has neither an stco nor a co64 box")?, 8),
    };
    let entries = big_endian_u32(table, 4).ok_or("its chunk offset box is truncated")? as usize;
    let body = table.get(8..8 + width * entries).ok_or("its chunk offset box lists offsets it does not hold")?;
    Ok(body
        .chunks_exact(width)
        .map(|entry| entry.iter().fold(0u64, |offset, byte| offset << 8 | u64::from(*byte)))
        .collect())
}

/// Most samples a timeline is read for (a day at 60 frames a second is 5.2 million): a
/// table claiming more is refused before anything is allocated for it.
const MAX_TIMELINE_SAMPLES: u64 = 20_000_000;

/// The video track's timeline, in decode order.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoTimeline {
    /// Ticks per second of the times below (`mdhd`).
    pub timescale: u32,
    /// Each sample's presentation time in ticks (decode time plus composition offset; edit
    /// lists are not applied, so only differences mean anything).
    pub presentation_ticks: Vec<i64>,
    /// Whether each sample is a sync sample (a keyframe decoding can start at).
    pub sync: Vec<bool>,
}

impl VideoTimeline {
    pub fn samples(&self) -> usize {
        self.presentation_ticks.len()
    }

    /// Presentation times in seconds from the earliest, in presentation order.
    pub fn presentation_seconds(&self) -> Vec<f64> {
        let mut ticks = self.presentation_ticks.clone();
        ticks.sort_unstable();
        let first = ticks.first().copied().unwrap_or(0);
        ticks.iter().map(|tick| (tick - first) as f64 / f64::from(self.timescale)).collect()
    }

    /// The keyframe decoding must start at to reach frame `frame` (in presentation order): the
    /// last sync sample presented at or before it, as its frame index and its time in seconds
    /// from the first frame (as [`Self::presentation_seconds`] gives it), with the time to the
    /// frame after it (the next frame's distance; none for the last frame). None when `frame`
    /// is past the last frame or no sync sample comes before it.
    pub fn keyframe_at_or_before(&self, frame: usize) -> Option<(usize, f64, Option<f64>)> {
        let mut presented: Vec<(i64, bool)> = self.presentation_ticks.iter().copied().zip(self.sync.iter().copied()).collect();
        presented.sort_unstable_by_key(|(tick, _)| *tick);
        let first = presented.first()?.0;
        let keyframe = presented.get(..=frame)?.iter().rposition(|(_, sync)| *sync)?;
        let seconds = |ticks: i64| ticks as f64 / f64::from(self.timescale);
        let next = presented.get(keyframe + 1).map(|(tick, _)| seconds(tick - presented[keyframe].0));
        Some((keyframe, seconds(presented[keyframe].0 - first), next))
    }
}

/// The timeline of the first video track of the MP4 at `path`.
pub fn video_timeline(path: &Path) -> Result<VideoTimeline, Mp4SamplesError> {
    read_video_track(path, |track| {
        let samples = bounded_sample_count(&size_table(track.stbl)?)?;
        // mdhd: version/flags (4), then creation and modification times (4 or 8 bytes each
        // by version), then the time scale.
        let mdhd = child(track.mdia, b"mdhd")?.ok_or("its video track has no mdhd box")?;
        let timescale_at = if mdhd.first() == Some(&1) { 20 } else { 12 };
        let timescale = big_endian_u32(mdhd, timescale_at).filter(|scale| *scale > 0).ok_or("its mdhd box is truncated or has no time scale")?;
        // stts: version/flags (4), entry count (4), (sample count, sample delta) entries.
        let stts = child(track.stbl, b"stts")?.ok_or("its video track has no stts box")?;
        let mut decode_ticks = Vec::with_capacity(samples);
        let mut tick = 0i64;
        for (count, delta) in table_entries(stts, "stts")? {
            if decode_ticks.len() + count as usize > samples {
                return Err(format!("its stts box times more than its {samples} samples"));
            }
            for _ in 0..count {
                decode_ticks.push(tick);
                tick += i64::from(delta);
            }
        }
        if decode_ticks.len() != samples {
            return Err(format!("its stts box times {} of its {samples} samples", decode_ticks.len()));
        }
        // ctts: the same layout, composition offsets (read signed, as ffmpeg writes and reads
        // them whatever the version); none: presentation is decode order.
        let mut presentation_ticks = decode_ticks;
        if let Some(ctts) = child(track.stbl, b"ctts")? {
            let mut at = 0usize;
            for (count, offset) in table_entries(ctts, "ctts")? {
                let end = at + count as usize;
                let times = presentation_ticks.get_mut(at..end).ok_or_else(|| format!("its ctts box offsets more than its {samples} samples"))?;
                for time in times {
                    *time += i64::from(offset as i32);
                }
                at = end;
            }
        }
        // stss: version/flags (4), entry count (4), 1-based sample numbers.
        let sync = match child(track.stbl, b"stss")? {
            None => vec![true; samples],
            Some(stss) => {
                let entries = big_endian_u32(stss, 4).ok_or("its stss box is truncated")? as usize;
                let mut sync = vec![false; samples];
                for entry in 0..entries {
                    let number = big_endian_u32(stss, 8 + 4 * entry).ok_or("its stss box is truncated")? as usize;
                    *number.checked_sub(1).and_then(|index| sync.get_mut(index)).ok_or_else(|| format!("its stss box names sample {number} of {samples}"))? = true;
                }
                sync
            }
        };
        Ok(VideoTimeline { timescale, presentation_ticks, sync })
    })
}

/// The (count, value) entries of an `stts` or `ctts` box body.
fn table_entries<'a>(body: &'a [u8], name: &str) -> Result<impl Iterator<Item = (u32, u32)> + 'a, String> {
    let entries = big_endian_u32(body, 4).ok_or_else(|| format!("its {name} box is truncated"))? as usize;
    let table = body.get(8..8 + 8 * entries).ok_or_else(|| format!("its {name} box lists {entries} entries it does not hold"))?;
    Ok(table.chunks_exact(8).map(|entry| (u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]), u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]))))
}

/// The video track's sample size box.
enum SizeTable<'a> {
    Stsz(&'a [u8]),
    Stz2(&'a [u8]),
}

/// The boxes of the video track a reader looks in.
struct VideoTrack<'a> {
    mdia: &'a [u8],
    stbl: &'a [u8],
}

/// Finds the `moov` box of the MP4 at `path` and hands its video track's size table to `read`.
fn read_size_table<T>(path: &Path, read: impl FnOnce(SizeTable<'_>) -> Result<T, String>) -> Result<T, Mp4SamplesError> {
    read_video_track(path, |track| size_table(track.stbl).and_then(read))
}

/// Finds the `moov` box of the MP4 at `path` and hands its video track to `read`.
fn read_video_track<T>(path: &Path, read: impl FnOnce(VideoTrack<'_>) -> Result<T, String>) -> Result<T, Mp4SamplesError> {
    let display = path.display().to_string();
    let io = |source| Mp4SamplesError::Io { path: display.clone(), source };
    let layout = |reason: String| Mp4SamplesError::Layout { path: display.clone(), reason };
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut offset = 0u64;
    while offset < file_len {
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let header = read_header(&mut file, file_len - offset).map_err(io)?.ok_or_else(|| layout(format!("a box header at byte {offset} runs past the end")))?;
        if header.size > file_len - offset {
            return Err(layout(format!("the {} box at byte {offset} claims {} bytes; {} remain", header.kind_text(), header.size, file_len - offset)));
        }
        if &header.kind == b"moov" {
            let body_len = header.size - header.header_len;
            if body_len > MAX_MOOV_BYTES {
                return Err(layout(format!("its moov box is {body_len} bytes (more than {MAX_MOOV_BYTES})")));
            }
            let mut moov = vec![0u8; body_len as usize];
            file.read_exact(&mut moov).map_err(io)?;
            return video_track_in_moov(&moov).and_then(read).map_err(layout);
        }
        offset += header.size;
    }
    Err(layout("it has no moov box".to_owned()))
}

fn video_track_in_moov(moov: &[u8]) -> Result<VideoTrack<'_>, String> {
    if child(moov, b"mvex")?.is_some() {
        return Err("it is fragmented (moov has an mvex box)".to_owned());
    }
    for (kind, trak) in children(moov)? {
        if &kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia")? else { continue };
        // hdlr: version/flags (4), pre_defined (4), handler_type (4).
        let is_video = child(mdia, b"hdlr")?.and_then(|hdlr| hdlr.get(8..12)).is_some_and(|handler| handler == b"vide");
        if !is_video {
            continue;
        }
        let stbl = child(mdia, b"minf")?.map(|minf| child(minf, b"stbl")).transpose()?.flatten().ok_or("its video track has no minf/stbl box")?;
        return Ok(VideoTrack { mdia, stbl });
    }
    Err("it has no video track".to_owned())
}

fn size_table(stbl: &[u8]) -> Result<SizeTable<'_>, String> {
    // stsz: version/flags (4), sample_size (4), sample_count (4), sizes; stz2:
    // version/flags (4), reserved + field_size (4), sample_count (4), sizes.
    match child(stbl, b"stsz")? {
        Some(stsz) => Ok(SizeTable::Stsz(stsz)),
        None => child(stbl, b"stz2")?.map(SizeTable::Stz2).ok_or_else(|| "its video track has neither an stsz nor an stz2 box".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mp4_boxes::boxed;

    fn track(handler: &[u8; 4], samples: u32) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 13]);
        let mut stsz = vec![0u8; 8];
        stsz.extend_from_slice(&samples.to_be_bytes());
        let stbl = boxed(b"stbl", &boxed(b"stsz", &stsz));
        let minf = boxed(b"minf", &stbl);
        let mdia = boxed(b"mdia", &[boxed(b"hdlr", &hdlr), minf].concat());
        boxed(b"trak", &mdia)
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bytes).expect("writes");
        file
    }

    #[test]
    fn the_video_tracks_count_is_found_past_mdat_and_other_tracks() {
        let moov = boxed(b"moov", &[track(b"soun", 470), track(b"vide", 96)].concat());
        let file = write(&[boxed(b"ftyp", b"isom\0\0\0\0"), boxed(b"mdat", &[7u8; 1000]), moov].concat());
        assert_eq!(video_sample_count(file.path()).expect("reads"), 96);
    }

    #[test]
    fn the_video_bytes_are_the_sum_of_its_sample_sizes() {
        let mut stsz = vec![0u8; 4];
        stsz.extend_from_slice(&0u32.to_be_bytes());
        stsz.extend_from_slice(&3u32.to_be_bytes());
        for size in [1000u32, 20, 7] {
            stsz.extend_from_slice(&size.to_be_bytes());
        }
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        let trak = boxed(b"trak", &boxed(b"mdia", &[boxed(b"hdlr", &hdlr), boxed(b"minf", &boxed(b"stbl", &boxed(b"stsz", &stsz)))].concat()));
        let file = write(&[boxed(b"mdat", &[0u8; 1027]), boxed(b"moov", &[track(b"soun", 9), trak].concat())].concat());
        assert_eq!(video_bytes(file.path()).expect("reads"), 1027);
        assert_eq!(video_sample_count(file.path()).expect("reads"), 3);
        // A table that lists fewer sizes than samples is an error, never a guess.
        let cut = write(&boxed(b"moov", &track(b"vide", 96)));
        assert!(video_bytes(cut.path()).is_err());
    }

    /// A video track of `samples` samples with the timeline boxes given.
    fn timed_track(samples: u32, timeline: &[Vec<u8>]) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        let mut mdhd = vec![0u8; 12];
        mdhd.extend_from_slice(&90_000u32.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mut stsz = vec![0u8; 8];
        stsz.extend_from_slice(&samples.to_be_bytes());
        let stbl = boxed(b"stbl", &[vec![boxed(b"stsz", &stsz)], timeline.to_vec()].concat().concat());
        boxed(b"trak", &boxed(b"mdia", &[boxed(b"hdlr", &hdlr), boxed(b"mdhd", &mdhd), boxed(b"minf", &stbl)].concat()))
    }

    /// An `stts`, `ctts` or `stss` box of `entries` (each a list of big-endian words).
    fn table(kind: &[u8; 4], entries: &[&[u32]]) -> Vec<u8> {
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for entry in entries {
            for word in *entry {
                body.extend_from_slice(&word.to_be_bytes());
            }
        }
        boxed(kind, &body)
    }

    #[test]
    fn a_frame_is_reached_from_the_last_keyframe_presented_at_or_before_it() {
        // Decode order I P B B | I P B (25 fps): presented I B B P | I B P.
        let timeline = VideoTimeline {
            timescale: 90_000,
            presentation_ticks: vec![0, 10_800, 3600, 7200, 14_400, 21_600, 18_000],
            sync: vec![true, false, false, false, true, false, false],
        };
        assert_eq!(timeline.keyframe_at_or_before(0), Some((0, 0.0, Some(0.04))));
        assert_eq!(timeline.keyframe_at_or_before(3), Some((0, 0.0, Some(0.04))));
        assert_eq!(timeline.keyframe_at_or_before(4), Some((4, 0.16, Some(0.04))));
        assert_eq!(timeline.keyframe_at_or_before(6), Some((4, 0.16, Some(0.04))));
        assert_eq!(timeline.keyframe_at_or_before(7), None, "past the last frame");
        let open = VideoTimeline { sync: vec![false, false, true], presentation_ticks: vec![0, 3600, 7200], timescale: 90_000 };
        assert_eq!(open.keyframe_at_or_before(1), None, "no keyframe before it");
        assert_eq!(open.keyframe_at_or_before(2), Some((2, 0.08, None)));
    }

    #[test]
    fn the_timeline_gives_presentation_times_and_sync_samples() {
        // Five frames at 25 fps (3600 ticks), decode order I P B B P: the P shown after the Bs.
        let stts = table(b"stts", &[&[5, 3600]]);
        let ctts = table(b"ctts", &[&[1, 3600], &[1, 10_800], &[2, 0], &[1, 3600]]);
        let stss = table(b"stss", &[&[1]]);
        let file = write(&boxed(b"moov", &timed_track(5, &[stts, ctts, stss])));
        let timeline = video_timeline(file.path()).expect("reads");
        assert_eq!(timeline.timescale, 90_000);
        assert_eq!(timeline.presentation_ticks, vec![3600, 14_400, 7200, 10_800, 18_000]);
        assert_eq!(timeline.sync, vec![true, false, false, false, false]);
        assert_eq!(timeline.presentation_seconds(), vec![0.0, 0.04, 0.08, 0.12, 0.16]);
        // Without ctts and stss: decode order is presentation order and every sample is sync.
        let plain = write(&boxed(b"moov", &timed_track(3, &[table(b"stts", &[&[3, 3600]])])));
        let timeline = video_timeline(plain.path()).expect("reads");
        assert_eq!((timeline.presentation_ticks, timeline.sync), (vec![0, 3600, 7200], vec![true; 3]));
        // Tables that time or name other samples than the file has are errors.
        for (what, boxes) in [
            ("stts short", vec![table(b"stts", &[&[2, 3600]])]),
            ("stts long", vec![table(b"stts", &[&[4, 3600]])]),
            ("ctts long", vec![table(b"stts", &[&[3, 3600]]), table(b"ctts", &[&[4, 0]])]),
            ("stss past the end", vec![table(b"stts", &[&[3, 3600]]), table(b"stss", &[&[4]])]),
            ("no stts", vec![]),
        ] {
            let file = write(&boxed(b"moov", &timed_track(3, &boxes)));
            assert!(matches!(video_timeline(file.path()), Err(Mp4SamplesError::Layout { .. })), "{what}");
        }
    }

    /// A video track of the sizes given (stsz) and the sample-to-chunk and offset boxes given.
    fn located_track(sizes: &[u32], tables: &[Vec<u8>]) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        let mut stsz = vec![0u8; 8];
        stsz.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
        for size in sizes {
            stsz.extend_from_slice(&size.to_be_bytes());
        }
        let stbl = boxed(b"stbl", &[vec![boxed(b"stsz", &stsz)], tables.to_vec()].concat().concat());
        boxed(b"trak", &boxed(b"mdia", &[boxed(b"hdlr", &hdlr), boxed(b"minf", &stbl)].concat()))
    }

    #[test]
    fn sample_locations_follow_the_chunks_of_stsc_from_stco_or_co64() {
        let sizes = [10, 20, 30, 40, 50];
        // Chunks 1 and 2 hold two samples each, chunk 3 one: (first chunk, per chunk, description).
        let stsc = table(b"stsc", &[&[1, 2, 1], &[3, 1, 1]]);
        let expected = [(100, 10), (110, 20), (500, 30), (530, 40), (900, 50)].map(|(offset, size)| SampleLocation { offset, size }).to_vec();
        let stco = table(b"stco", &[&[100], &[500], &[900]]);
        let file = write(&boxed(b"moov", &located_track(&sizes, &[stsc.clone(), stco])));
        assert_eq!(video_sample_locations(file.path()).expect("reads"), expected);
        let co64 = table(b"co64", &[&[0, 100], &[0, 500], &[0, 900]]);
        let file = write(&boxed(b"moov", &located_track(&sizes, &[stsc.clone(), co64])));
        assert_eq!(video_sample_locations(file.path()).expect("reads"), expected);
        // Tables that place other samples than the sizes list, or name missing chunks, are errors.
        for (what, tables) in [
            ("too few chunks", vec![stsc.clone(), table(b"stco", &[&[100], &[500]])]),
            ("too many samples", vec![table(b"stsc", &[&[1, 3, 1]]), table(b"stco", &[&[100], &[500]])]),
            ("chunks out of order", vec![table(b"stsc", &[&[2, 2, 1], &[1, 1, 1]]), table(b"stco", &[&[100], &[500], &[900]])]),
            ("no offsets", vec![stsc.clone()]),
            ("no stsc", vec![table(b"stco", &[&[100]])]),
            ("offsets past 2^64", vec![table(b"stsc", &[&[1, 5, 1]]), table(b"co64", &[&[u32::MAX, u32::MAX - 20]])]),
        ] {
            let file = write(&boxed(b"moov", &located_track(&sizes, &tables)));
            assert!(matches!(video_sample_locations(file.path()), Err(Mp4SamplesError::Layout { .. })), "{what}");
        }
    }

    #[test]
    fn damaged_and_foreign_files_are_errors() {
        let cases: [(&str, Vec<u8>); 4] = [
            ("no moov", boxed(b"mdat", &[1u8; 64])),
            ("no video", boxed(b"moov", &track(b"soun", 3))),
            ("truncated", boxed(b"moov", &track(b"vide", 3))[..30].to_vec()),
            ("fragmented", boxed(b"moov", &[boxed(b"mvex", &[]), track(b"vide", 3)].concat())),
        ];
        for (what, bytes) in cases {
            let error = video_sample_count(write(&bytes).path()).expect_err(what);
            assert!(matches!(error, Mp4SamplesError::Layout { .. }), "{what}: {error}");
        }
        let garbage = write(&[0xffu8; 3]);
        assert!(video_sample_count(garbage.path()).is_err());
    }
}
