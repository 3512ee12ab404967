//! How many samples (frames) the video track of a progressive MP4 holds, read from its box
//! tree without starting a process.
//!
//! The encode and assemble stages check every file they write has exactly the chunk's (or
//! the source's) frame count. Asking ffprobe (`-count_packets`) costs a process start and a
//! demux of the whole file per output; this reader seeks from box header to box header
//! (`mdat` is skipped, never read), finds the `moov` box, the `trak` whose `hdlr` says
//! `vide`, and returns the sample count of its `stsz` (or `stz2`) table.
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
            return sample_count_in_moov(&moov).map_err(layout);
        }
        offset += header.size;
    }
    Err(layout("it has no moov box".to_owned()))
}

fn sample_count_in_moov(moov: &[u8]) -> Result<u64, String> {
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
        // stsz: version/flags (4), sample_size (4), sample_count (4); stz2: version/flags (4),
        // reserved + field_size (4), sample_count (4).
        let table = match child(stbl, b"stsz")? {
            Some(stsz) => stsz,
            None => child(stbl, b"stz2")?.ok_or("its video track has neither an stsz nor an stz2 box")?,
        };
        return big_endian_u32(table, 8).map(u64::from).ok_or_else(|| "its sample size box is truncated".to_owned());
    }
    Err("it has no video track".to_owned())
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
