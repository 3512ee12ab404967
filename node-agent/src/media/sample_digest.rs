//! A video track's samples as a digest: what the encode task records of a chunk it verified
//! and what validation finds again in the assembled rendition, so the join check shows a
//! chunk's frames are in the rendition byte for byte without decoding them.
//!
//! The digest of a run of samples is SHA-256 over each sample, in decode order, read where the
//! sample tables put them ([`super::mp4_samples::video_sample_locations`]): its NAL units but
//! the parameter sets (H.264 SPS and PPS; HEVC VPS, SPS and PPS), each with its length, then
//! the sample's length so hashed. The parameter sets are left out because the join moves them:
//! ffmpeg's concat demuxer turns an H.264 stream to Annex B and back on the way, which writes
//! the chunk's SPS and PPS into every keyframe. Validation decodes each chunk's first frame,
//! which shows the parameter sets in force are the chunk's own. An AV1 sample (OBUs, which
//! the join copies as they are) is hashed whole.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use sha2::{Digest, Sha256};
use shotfarm_proto::pipeline::Codec;

use super::mp4_samples::{Mp4SamplesError, SampleLocation, video_sample_locations};

#[derive(Debug, thiserror::Error)]
pub enum SampleDigestError {
    #[error(transparent)]
    Layout(#[from] Mp4SamplesError),
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} has {samples} video samples; samples {start}..{end} were asked for")]
    OutOfRange { path: String, samples: usize, start: usize, end: usize },
}

/// The digest (lowercase hex) of each run of samples (decode-order indices) of the first video
/// track of the `codec` MP4 at `path`.
pub fn digest_sample_runs(path: &Path, codec: Codec, runs: &[Range<usize>]) -> Result<Vec<String>, SampleDigestError> {
    digest_runs_at(path, &video_sample_locations(path)?, codec, runs)
}

/// The digest of every sample of the `codec` MP4 at `path`: what an encoded chunk's
/// verification records.
pub fn digest_all_samples(path: &Path, codec: Codec) -> Result<String, SampleDigestError> {
    let locations = video_sample_locations(path)?;
    let whole = 0..locations.len();
    let mut digests = digest_runs_at(path, &locations, codec, std::slice::from_ref(&whole))?;
    Ok(digests.pop().unwrap_or_default())
}

/// [`digest_sample_runs`] with the samples' `locations` read already.
fn digest_runs_at(path: &Path, locations: &[SampleLocation], codec: Codec, runs: &[Range<usize>]) -> Result<Vec<String>, SampleDigestError> {
    let display = path.display().to_string();
    let io = |source| SampleDigestError::Io { path: display.clone(), source };
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut bytes = Vec::new();
    let mut digests = Vec::with_capacity(runs.len());
    for run in runs {
        let samples = locations.get(run.clone()).ok_or_else(|| SampleDigestError::OutOfRange { path: display.clone(), samples: locations.len(), start: run.start, end: run.end })?;
        let mut hasher = Sha256::new();
        for sample in samples {
            if sample.offset.saturating_add(u64::from(sample.size)) > file_len {
                let past_end = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("a sample of {} bytes at byte {} runs past the end ({file_len} bytes)", sample.size, sample.offset));
                return Err(io(past_end));
            }
            bytes.resize(sample.size as usize, 0);
            file.seek(SeekFrom::Start(sample.offset)).map_err(io)?;
            file.read_exact(&mut bytes).map_err(io)?;
            hash_sample(&mut hasher, codec, &bytes);
        }
        digests.push(hex::encode(hasher.finalize()));
    }
    Ok(digests)
}

/// Feeds one sample to `hasher`: its NAL units (4-byte lengths, as ffmpeg's MP4 muxer writes
/// them) but the parameter sets, then the length hashed; a sample that does not parse as
/// such, or an AV1 one, whole.
fn hash_sample(hasher: &mut Sha256, codec: Codec, sample: &[u8]) {
    let is_parameter_set: fn(u8) -> bool = match codec {
        Codec::H264 => |header| matches!(header & 0x1f, 7 | 8),
        Codec::Hevc => |header| matches!((header >> 1) & 0x3f, 32..=34),
        Codec::Av1 => {
            hasher.update((sample.len() as u64).to_be_bytes());
            hasher.update(sample);
            return;
        }
    };
    let Some(units) = nal_units(sample) else {
        hasher.update((sample.len() as u64).to_be_bytes());
        hasher.update(sample);
        return;
    };
    let mut kept = 0u64;
    for unit in units.into_iter().filter(|unit| !is_parameter_set(unit[0])) {
        hasher.update((unit.len() as u32).to_be_bytes());
        hasher.update(unit);
        kept += 4 + unit.len() as u64;
    }
    hasher.update(kept.to_be_bytes());
}

/// The NAL units of a sample of 4-byte-length-prefixed units, none empty; `None` when the
/// lengths do not tile the sample exactly.
fn nal_units(sample: &[u8]) -> Option<Vec<&[u8]>> {
    let mut units = Vec::new();
    let mut rest = sample;
    while !rest.is_empty() {
        let (length, after) = rest.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if length == 0 || length > after.len() {
            return None;
        }
        let (unit, next) = after.split_at(length);
        units.push(unit);
        rest = next;
    }
    Some(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(list: &[&[u8]]) -> Vec<u8> {
        list.iter().flat_map(|unit| [(unit.len() as u32).to_be_bytes().to_vec(), unit.to_vec()].concat()).collect()
    }

    fn digest(codec: Codec, sample: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hash_sample(&mut hasher, codec, sample);
        hex::encode(hasher.finalize())
    }

    #[test]
    fn parameter_sets_the_join_repeats_do_not_change_a_samples_digest_and_anything_else_does() {
        let (sei, idr): (&[u8], &[u8]) = (&[0x06, 1, 2, 3], &[0x65, 9, 9, 9, 9]);
        let (sps, pps): (&[u8], &[u8]) = (&[0x67, 0x64, 0, 0x0c], &[0x68, 0xeb]);
        let encoded = units(&[sei, idr]);
        assert_eq!(digest(Codec::H264, &encoded), digest(Codec::H264, &units(&[sei, sps, pps, idr])), "SPS and PPS written in by the join");
        assert_ne!(digest(Codec::H264, &encoded), digest(Codec::H264, &units(&[sei, &[0x65, 9, 9, 9, 8]])), "a changed slice");
        assert_ne!(digest(Codec::H264, &encoded), digest(Codec::H264, &units(&[idr])), "a unit dropped");
        assert_ne!(digest(Codec::H264, &encoded), digest(Codec::H264, &units(&[idr, sei])), "units reordered");
        // HEVC: VPS (32), SPS (33), PPS (34) in the type bits of the first header byte.
        let hevc_idr: &[u8] = &[0x26, 0x01, 7, 7];
        assert_eq!(digest(Codec::Hevc, &units(&[hevc_idr])), digest(Codec::Hevc, &units(&[&[0x40, 0x01], &[0x42, 0x01], &[0x44, 0x01], hevc_idr])));
        // AV1 and samples that are not length-prefixed units are hashed whole.
        assert_ne!(digest(Codec::Av1, &units(&[sei, idr])), digest(Codec::Av1, &units(&[sei, sps, idr])));
        assert_ne!(digest(Codec::H264, &[0, 0, 0, 9, 1]), digest(Codec::H264, &[0, 0, 0, 9, 2]));
    }
}
