//! Sample encryption as ISO/IEC 23001-7 (Common Encryption) defines it, for the two schemes
//! players take: `cenc` (AES-128 CTR, an 8-byte IV per sample, the counter running on across
//! a sample's protected ranges) and `cbcs` (AES-128 CBC with one constant IV restarted at each
//! protected range, video in a 1:9 pattern — one block encrypted, nine left clear — and
//! audio whole blocks; a range's last partial block stays clear).
//!
//! H.264 and HEVC samples are split into subsamples by NAL unit: parameter sets, SEI and
//! other non-VCL units stay clear, and a slice keeps its length prefix, NAL header and slice
//! header clear ([`CLEAR_SLICE_HEAD`] bytes, which covers the slice headers our encoders
//! write), the rest protected in whole 16-byte blocks.
//!
//! AV1 samples are split by tile, as the AV1 ISOBMFF binding's "Common Encryption" section
//! requires: only each tile's data is protected ([`super::av1`] finds it), everything else —
//! OBU headers and sizes, sequence and frame headers, metadata, tile group headers and tile
//! sizes — stays clear. Under `cenc` a tile's protected bytes are its whole 16-byte blocks
//! ending on its last byte (a tile under 16 bytes stays clear, in the surrounding clear run);
//! under `cbcs` they are the whole tile, from its first byte, one subsample per tile however
//! small, the pattern leaving its last partial block clear.
//!
//! Audio samples are protected whole, without subsamples.

use aes::Aes128;
use aes::cipher::{BlockEncryptMut, KeyIvInit, StreamCipher, generic_array::GenericArray};
pub use shotfarm_proto::encryption::Scheme;

use super::av1::{Av1Stream, TileGroup};

/// Bytes at the start of each slice NAL unit (after its length prefix) left clear: its NAL
/// header and slice header, which decoders and hardware paths read before decryption.
pub const CLEAR_SLICE_HEAD: usize = 32;
/// A subsample's clear byte count is 16 bits: longer clear runs take several subsamples.
const MAX_CLEAR: usize = u16::MAX as usize;
/// `cbcs` video pattern: blocks encrypted, then blocks skipped.
pub const CBCS_CRYPT_BLOCKS: u8 = 1;
pub const CBCS_SKIP_BLOCKS: u8 = 9;

/// What a track's samples are: how they are cut into NAL units or OBUs, if at all.
#[derive(Debug, Clone)]
pub enum SampleLayout {
    /// AVC: NAL units with a `length_size`-byte length prefix; VCL types 1..=5.
    Avc { length_size: usize },
    /// HEVC: the same with HEVC's two-byte NAL header; VCL types 0..=31.
    Hevc { length_size: usize },
    /// AV1: OBUs, read in decoding order by the track's `stream` to find each tile.
    Av1 { stream: Box<Av1Stream> },
    /// AAC and every other sample protected whole.
    Whole,
}

/// One subsample: clear bytes, then protected bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// How one sample was encrypted: its per-sample IV (`cenc`; empty for `cbcs`) and subsamples
/// (empty: the whole sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleInfo {
    pub iv: Vec<u8>,
    pub subsamples: Vec<Subsample>,
}

/// A track's encryptor: its scheme, key, layout and IVs.
pub struct SampleEncryptor {
    scheme: Scheme,
    key: [u8; 16],
    layout: SampleLayout,
    /// `cenc`: the next sample's 8-byte IV (incremented per sample); `cbcs`: the constant IV.
    iv: [u8; 16],
}

impl SampleEncryptor {
    /// `iv`: for `cenc` the first 8 bytes start the per-sample IVs; for `cbcs` all 16 are
    /// the constant IV (written into the track's `tenc`).
    pub fn new(scheme: Scheme, key: [u8; 16], layout: SampleLayout, iv: [u8; 16]) -> SampleEncryptor {
        SampleEncryptor { scheme, key, layout, iv }
    }

    /// Whether this track's samples are protected in subsamples.
    pub fn uses_subsamples(&self) -> bool {
        !matches!(self.layout, SampleLayout::Whole)
    }

    /// Encrypts one sample in place.
    pub fn encrypt(&mut self, sample: &mut [u8]) -> Result<SampleInfo, String> {
        let ranges = match &mut self.layout {
            SampleLayout::Whole => vec![Subsample { clear: 0, protected: sample.len() as u32 }],
            SampleLayout::Avc { length_size } => nal_subsamples(sample, *length_size, is_avc_slice)?,
            SampleLayout::Hevc { length_size } => nal_subsamples(sample, *length_size, is_hevc_slice)?,
            SampleLayout::Av1 { stream } => tile_subsamples(sample.len(), &stream.tile_groups(sample)?, self.scheme),
        };
        let info = match self.scheme {
            Scheme::Cenc => {
                let iv = self.iv[..8].to_vec();
                let mut counter = [0u8; 16];
                counter[..8].copy_from_slice(&iv);
                let mut cipher = ctr::Ctr128BE::<Aes128>::new(&self.key.into(), &counter.into());
                for (start, end) in protected_spans(&ranges) {
                    cipher.apply_keystream(&mut sample[start..end]);
                }
                let next = u64::from_be_bytes(self.iv[..8].try_into().unwrap_or_default()).wrapping_add(1);
                self.iv[..8].copy_from_slice(&next.to_be_bytes());
                SampleInfo { iv, subsamples: ranges }
            }
            Scheme::Cbcs => {
                let (crypt, skip) = if self.uses_subsamples() { (CBCS_CRYPT_BLOCKS, CBCS_SKIP_BLOCKS) } else { (0, 0) };
                for (start, end) in protected_spans(&ranges) {
                    cbcs_range(&self.key, &self.iv, &mut sample[start..end], crypt, skip);
                }
                SampleInfo { iv: Vec::new(), subsamples: ranges }
            }
        };
        let subsamples = if self.uses_subsamples() { info.subsamples } else { Vec::new() };
        Ok(SampleInfo { iv: info.iv, subsamples })
    }
}

/// The protected byte ranges of a sample laid out as `ranges`.
fn protected_spans(ranges: &[Subsample]) -> Vec<(usize, usize)> {
    let mut at = 0usize;
    let mut spans = Vec::with_capacity(ranges.len());
    for range in ranges {
        at += usize::from(range.clear);
        spans.push((at, at + range.protected as usize));
        at += range.protected as usize;
    }
    spans
}

/// One `cbcs` protected range: CBC from the constant IV over the pattern's encrypted blocks
/// (`crypt` 0: every whole block), the trailing partial block left clear.
fn cbcs_range(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8], crypt: u8, skip: u8) {
    let mut cipher = cbc::Encryptor::<Aes128>::new(key.into(), iv.into());
    let period = usize::from(crypt) + usize::from(skip);
    for (index, block) in data.chunks_exact_mut(16).enumerate() {
        if crypt == 0 || index % period < usize::from(crypt) {
            cipher.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }
}

/// Subsamples built from the front of a sample: clear runs and protected ranges in turn.
#[derive(Default)]
struct SubsampleMap {
    ranges: Vec<Subsample>,
    /// Clear bytes not yet given a subsample.
    clear: usize,
}

impl SubsampleMap {
    fn clear(&mut self, bytes: usize) {
        self.clear += bytes;
    }

    /// `bytes` protected after the clear run so far, which takes as many subsamples of no
    /// protected bytes before it as its 16-bit count needs. (A sample's size is 32 bits in
    /// `trun`, so `bytes` fits `BytesOfProtectedData`.)
    fn protect(&mut self, bytes: usize) {
        while self.clear > MAX_CLEAR {
            self.ranges.push(Subsample { clear: MAX_CLEAR as u16, protected: 0 });
            self.clear -= MAX_CLEAR;
        }
        self.ranges.push(Subsample { clear: self.clear as u16, protected: bytes as u32 });
        self.clear = 0;
    }

    /// The subsamples, the last clear run included.
    fn finish(mut self) -> Vec<Subsample> {
        while self.clear > 0 {
            let part = self.clear.min(MAX_CLEAR);
            self.ranges.push(Subsample { clear: part as u16, protected: 0 });
            self.clear -= part;
        }
        self.ranges
    }
}

/// Whether an H.264 NAL unit with this first byte is a slice (VCL types 1..=5).
fn is_avc_slice(header: u8) -> bool {
    (1..=5).contains(&(header & 0x1f))
}

/// Whether an HEVC NAL unit with this first byte is a slice (VCL types 0..=31).
fn is_hevc_slice(header: u8) -> bool {
    (header >> 1) & 0x3f < 32
}

/// A video sample's subsamples: each NAL unit's `length_size`-byte length prefix and, for a
/// slice, its head clear, the rest of a slice protected in whole blocks (the remainder joins
/// the clear part).
fn nal_subsamples(sample: &[u8], length_size: usize, is_slice: fn(u8) -> bool) -> Result<Vec<Subsample>, String> {
    let mut map = SubsampleMap::default();
    let mut at = 0usize;
    while at < sample.len() {
        let prefix = sample.get(at..at + length_size).ok_or_else(|| format!("a NAL length prefix runs past the sample's {} bytes", sample.len()))?;
        let length = prefix.iter().fold(0usize, |value, byte| (value << 8) | usize::from(*byte));
        let body_start = at + length_size;
        let end = body_start.checked_add(length).filter(|end| *end <= sample.len()).ok_or_else(|| {
            format!("a NAL unit of {length} bytes at offset {at} runs past the sample's {} bytes", sample.len())
        })?;
        let protectable = if length > 0 && is_slice(sample[body_start]) { length.saturating_sub(CLEAR_SLICE_HEAD) } else { 0 };
        // Whole blocks for both schemes: `cbcs` needs them, `cenc` players expect them.
        let protected = protectable / 16 * 16;
        map.clear(length_size + length - protected);
        if protected > 0 {
            map.protect(protected);
        }
        at = end;
    }
    Ok(map.finish())
}

/// An AV1 sample's subsamples (see the module docs): `tile_groups` of a sample of
/// `sample_len` bytes, each tile protected as `scheme` wants it under the AV1 ISOBMFF binding.
fn tile_subsamples(sample_len: usize, tile_groups: &[TileGroup], scheme: Scheme) -> Vec<Subsample> {
    let mut map = SubsampleMap::default();
    let mut at = 0;
    for tile in tile_groups.iter().flat_map(|group| &group.tiles) {
        let protected = match scheme {
            Scheme::Cenc => tile.len() / 16 * 16,
            Scheme::Cbcs => tile.len(),
        };
        if protected == 0 {
            continue;
        }
        map.clear(tile.end - protected - at);
        map.protect(protected);
        at = tile.end;
    }
    map.clear(sample_len - at);
    map.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockDecryptMut;

    fn nal(kind: u8, length: usize) -> Vec<u8> {
        let mut unit = (length as u32).to_be_bytes().to_vec();
        unit.push(kind);
        unit.extend((1..length).map(|byte| byte as u8));
        unit
    }

    #[test]
    fn parameter_sets_stay_clear_and_slices_keep_their_head() {
        // SPS (7), PPS (8), then an IDR slice (5) of 100 bytes.
        let sample = [nal(0x67, 20), nal(0x68, 6), nal(0x65, 100)].concat();
        let ranges = nal_subsamples(&sample, 4, is_avc_slice).expect("parses");
        // 100 - 32 = 68 protectable: 64 protected; clear = 24 + 10 + 4 + 36.
        assert_eq!(ranges, vec![Subsample { clear: 74, protected: 64 }]);
        let total: usize = ranges.iter().map(|range| usize::from(range.clear) + range.protected as usize).sum();
        assert_eq!(total, sample.len());
        assert!(nal_subsamples(&sample[..sample.len() - 1], 4, is_avc_slice).is_err(), "a cut NAL unit is an error");
    }

    #[test]
    fn cenc_is_ctr_from_the_per_sample_iv_across_the_protected_ranges() {
        let key = [7u8; 16];
        let original = [nal(0x41, 80), nal(0x06, 10), nal(0x41, 120)].concat();
        let mut sample = original.clone();
        let mut encryptor = SampleEncryptor::new(Scheme::Cenc, key, SampleLayout::Avc { length_size: 4 }, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        let info = encryptor.encrypt(&mut sample).expect("encrypts");
        assert_eq!(info.iv, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        // Decrypt: one keystream over the protected bytes joined.
        let spans = protected_spans(&info.subsamples);
        let mut joined: Vec<u8> = spans.iter().flat_map(|(start, end)| sample[*start..*end].to_vec()).collect();
        let mut counter = [0u8; 16];
        counter[..8].copy_from_slice(&info.iv);
        ctr::Ctr128BE::<Aes128>::new(&key.into(), &counter.into()).apply_keystream(&mut joined);
        let mut restored = sample.clone();
        let mut offset = 0;
        for (start, end) in spans {
            restored[start..end].copy_from_slice(&joined[offset..offset + end - start]);
            offset += end - start;
        }
        assert_eq!(restored, original);
        assert_ne!(sample, original);
        let next = encryptor.encrypt(&mut original.clone()).expect("encrypts");
        assert_eq!(next.iv, vec![1, 2, 3, 4, 5, 6, 7, 9], "each sample its own IV");
    }

    #[test]
    fn cbcs_encrypts_one_block_in_ten_from_the_constant_iv_in_each_range() {
        let (key, iv) = ([9u8; 16], [3u8; 16]);
        let original = nal(0x65, 32 + 16 * 12);
        let mut sample = original.clone();
        let mut encryptor = SampleEncryptor::new(Scheme::Cbcs, key, SampleLayout::Avc { length_size: 4 }, iv);
        let info = encryptor.encrypt(&mut sample).expect("encrypts");
        assert!(info.iv.is_empty());
        assert_eq!(info.subsamples, vec![Subsample { clear: 36, protected: 192 }]);
        let protected = &sample[36..];
        let clear_blocks: Vec<usize> = (0..12).filter(|block| protected[block * 16..block * 16 + 16] == original[36 + block * 16..36 + block * 16 + 16]).collect();
        assert_eq!(clear_blocks, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 11], "blocks 0 and 10 encrypted");
        let mut first = protected[..16].to_vec();
        cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into()).decrypt_block_mut(GenericArray::from_mut_slice(&mut first));
        assert_eq!(first, original[36..52]);
    }

    #[test]
    fn av1_tiles_are_protected_as_the_binding_says() {
        let tiles = |ranges: &[(usize, usize)]| vec![TileGroup { header: 0..0, tiles: ranges.iter().map(|(start, end)| *start..*end).collect() }];
        // Tiles of 40, 10 and 48 bytes, with headers and sizes around them, in 140 bytes.
        let groups = tiles(&[(10, 50), (60, 70), (80, 128)]);
        // cenc: the whole blocks ending on each tile's last byte; the 10-byte tile stays clear.
        assert_eq!(
            tile_subsamples(140, &groups, Scheme::Cenc),
            vec![Subsample { clear: 18, protected: 32 }, Subsample { clear: 30, protected: 48 }, Subsample { clear: 12, protected: 0 }]
        );
        // cbcs: each whole tile from its first byte, however small.
        assert_eq!(
            tile_subsamples(140, &groups, Scheme::Cbcs),
            vec![Subsample { clear: 10, protected: 40 }, Subsample { clear: 10, protected: 10 }, Subsample { clear: 10, protected: 48 }, Subsample { clear: 12, protected: 0 }]
        );
        // A show_existing_frame sample has no tiles: all clear.
        assert_eq!(tile_subsamples(3, &[], Scheme::Cbcs), vec![Subsample { clear: 3, protected: 0 }]);
        // Clear runs longer than 16 bits take subsamples of their own.
        assert_eq!(
            tile_subsamples(70_200, &tiles(&[(70_000, 70_100)]), Scheme::Cenc),
            vec![Subsample { clear: 65_535, protected: 0 }, Subsample { clear: 4_469, protected: 96 }, Subsample { clear: 100, protected: 0 }]
        );
    }

    #[test]
    fn audio_is_protected_whole_with_its_last_partial_block_clear_under_cbcs() {
        let original: Vec<u8> = (0..70u8).collect();
        let mut sample = original.clone();
        let info = SampleEncryptor::new(Scheme::Cbcs, [1; 16], SampleLayout::Whole, [2; 16]).encrypt(&mut sample).expect("encrypts");
        assert!(info.subsamples.is_empty());
        assert_ne!(sample[..64], original[..64]);
        assert_eq!(sample[64..], original[64..]);
    }
}
