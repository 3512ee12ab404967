//! Where an AV1 sample's tile data lies. The AV1 ISOBMFF binding
//! (<https://aomediacodec.github.io/av1-isobmff/>, "Common Encryption" and its "General
//! Subsample Encryption constraints") protects only the `decode_tile` data of tile group and
//! frame OBUs: OBU headers and `obu_size` fields, temporal delimiters, sequence headers,
//! metadata, frame headers (inside a frame OBU too), redundant frame headers and padding stay
//! clear, and so do each tile group's header and its `tile_size_minus_1` fields. Finding the
//! tiles takes reading every frame header to its end, and how long a frame header is depends
//! on the sequence header and on the frames before it, so an [`Av1Stream`] reads a track's
//! samples in order, the way a decoder does up to where tile decoding starts. Section numbers
//! below are the AV1 specification's (<https://aomediacodec.github.io/av1-spec/>).
//!
//! - OBUs (§5.3): a header, then `obu_size` as leb128 (§4.10.5). In ISOBMFF every OBU of a
//!   sample carries its size except possibly the last, which then fills the sample (the
//!   binding's "AV1 Sample Format"); a sample is one temporal unit, without its temporal
//!   delimiter.
//! - The sequence header (§5.5): the sample entry's `av1C` configOBUs may carry one; a
//!   sequence header OBU in a sample replaces it.
//! - The frame header (§5.9): the uncompressed header read field by field to its end
//!   (§5.9.2–§5.9.31) — frame size with refs, superres, tile info, quantizer, segmentation,
//!   loop filter, CDEF, loop restoration, skip mode, global motion and film grain parameters
//!   all change its length. A frame header OBU's trailing bits (§5.3.4) and the byte
//!   alignment ending it in a frame OBU (§5.10) must be what they should, which catches a
//!   header read to the wrong length. `show_existing_frame` headers carry no tiles; a frame
//!   header repeated while its frame is incomplete (a redundant frame header, §5.9.1) is a
//!   copy and is skipped.
//! - The tile group (§5.11.1): `tg_start`/`tg_end`, byte alignment, then each tile with a
//!   `tile_size_minus_1` of `TileSizeBytes` (from the tile info) before every tile but the
//!   group's last, which runs to the end of the OBU.
//! - Across frames: each of the 8 reference slots' `RefValid`, frame type, order hint, size
//!   and segmentation quantizer deltas — what later headers read: `frame_refs_short_signaling`
//!   (the set frame refs process, §7.8), `frame_size_with_refs` (§5.9.7), skip mode (§5.9.22),
//!   and `load_previous` for segmentation (lossless frames read shorter headers). They are
//!   reset by a shown key frame (§5.9.2), stored by the reference frame update process when a
//!   frame's last tile is read (§7.20), and copied to every slot when an existing key frame is
//!   shown (§7.21).
//!
//! A sample that breaks any of this — cut short, an `obu_size` past its end, a frame before
//! any sequence header, a reference to an empty slot (a track that does not start with a key
//! frame), tiles that overrun their OBU — is an error naming the OBU and what was wrong.
//! Every read is checked against its OBU's length; nothing here indexes past the data.

use std::ops::Range;

/// OBU types (§6.2.2).
const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_TILE_GROUP: u8 = 4;
const OBU_METADATA: u8 = 5;
const OBU_FRAME: u8 = 6;
const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
const OBU_TILE_LIST: u8 = 8;
const OBU_PADDING: u8 = 15;

/// Reference slots (`NUM_REF_FRAMES`) and the references a frame names (`REFS_PER_FRAME`).
const NUM_REF_FRAMES: usize = 8;
const REFS_PER_FRAME: usize = 7;
/// `refresh_frame_flags` refreshing every slot.
const ALL_FRAMES: u32 = 0xff;
/// `primary_ref_frame` naming none.
const PRIMARY_REF_NONE: u32 = 7;
const MAX_SEGMENTS: usize = 8;
/// The segmentation features' value bits and whether they are signed (§5.9.14,
/// `Segmentation_Feature_Bits` and `_Signed`); feature 0 is the quantizer delta
/// (`SEG_LVL_ALT_Q`), its `Segmentation_Feature_Max` 255.
const SEGMENT_FEATURE_BITS: [u32; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
const SEGMENT_FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
const SEGMENT_ALT_Q_MAX: i32 = 255;
/// Tile limits (§3).
const MAX_TILE_WIDTH: u32 = 4096;
const MAX_TILE_AREA: u32 = 4096 * 2304;
const MAX_TILE_ROWS: u32 = 64;
const MAX_TILE_COLS: u32 = 64;

/// One tile group of a sample, as byte ranges of the sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGroup {
    /// The tile group header (`tile_start_and_end_present_flag`, `tg_start`, `tg_end` and
    /// byte alignment): it starts where the frame header ends in a frame OBU, or after the
    /// OBU header and `obu_size` in a tile group OBU, and ends where the first tile's
    /// `tile_size_minus_1` (or, for a group's only tile, its data) begins.
    pub header: Range<usize>,
    /// Each tile's `decode_tile` data, trailing bits included, without its size field.
    pub tiles: Vec<Range<usize>>,
}

/// An AV1 track's OBUs as a decoder reads them up to its tile decoding: the sequence header
/// in force, the reference slots and the frame whose tile groups are being read. One per
/// track, given its samples in decoding order.
#[derive(Debug, Clone, Default)]
pub struct Av1Stream {
    sequence_header: Option<SequenceHeader>,
    references: [ReferenceFrame; NUM_REF_FRAMES],
    /// The frame whose header was read and whose tiles are not all read yet
    /// (`SeenFrameHeader`).
    frame: Option<FrameInProgress>,
}

impl Av1Stream {
    /// A track's stream, from its sample entry's `av1C` body (an
    /// `AV1CodecConfigurationRecord`): the sequence header among its configOBUs, if any,
    /// applies until a sample carries one.
    pub fn from_config_record(record: &[u8]) -> Result<Av1Stream, String> {
        let marker_and_version = *record.first().ok_or("its av1C is empty")?;
        if marker_and_version != 0x81 {
            return Err(format!("its av1C is not an AV1CodecConfigurationRecord version 1 (first byte {marker_and_version:#04x})"));
        }
        let config_obus = record.get(4..).ok_or("its av1C is shorter than its 4 fixed bytes")?;
        let mut stream = Av1Stream::default();
        for (index, obu) in split_obus(config_obus).map_err(|why| format!("its av1C configOBUs: {why}"))?.iter().enumerate() {
            if obu.kind == OBU_SEQUENCE_HEADER {
                let header = read_sequence_header(obu.payload).map_err(|why| format!("its av1C configOBU {}: {why}", index + 1))?;
                stream.sequence_header = Some(header);
            }
        }
        Ok(stream)
    }

    /// The tile groups of `sample` (one temporal unit), in order, each tile as a byte range of
    /// the sample; the stream's state moves on past the sample.
    pub fn tile_groups(&mut self, sample: &[u8]) -> Result<Vec<TileGroup>, String> {
        // A sample starts where the temporal delimiter that ISOBMFF leaves out would stand.
        self.frame = None;
        let mut groups = Vec::new();
        for (index, obu) in split_obus(sample)?.iter().enumerate() {
            self.read_obu(obu, &mut groups)
                .map_err(|why| format!("OBU {} ({}, at byte {} of {}): {why}", index + 1, obu_type_name(obu.kind), obu.start, sample.len()))?;
        }
        match &self.frame {
            Some(frame) => Err(format!("the sample ends before tiles {} to {} of its last frame", frame.next_tile, frame.tiling.count() - 1)),
            None => Ok(groups),
        }
    }

    fn read_obu(&mut self, obu: &Obu<'_>, groups: &mut Vec<TileGroup>) -> Result<(), String> {
        match obu.kind {
            OBU_SEQUENCE_HEADER => self.sequence_header = Some(read_sequence_header(obu.payload)?),
            OBU_TEMPORAL_DELIMITER => self.frame = None,
            // A frame header while its frame still lacks tiles is a copy of it (§5.9.1).
            OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER if self.frame.is_some() => {}
            OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER => {
                let mut reader = BitReader::new(obu.payload, "frame header");
                self.read_frame_header(&mut reader, obu.layer)?;
                reader.trailing_bits()?;
            }
            OBU_FRAME => {
                if let Some(frame) = &self.frame {
                    return Err(format!("a frame OBU while the previous frame still lacks tiles {} to {}", frame.next_tile, frame.tiling.count() - 1));
                }
                let mut reader = BitReader::new(obu.payload, "frame header");
                self.read_frame_header(&mut reader, obu.layer)?;
                if self.frame.is_none() {
                    return Err("a frame OBU with show_existing_frame set (it has no tiles)".to_owned());
                }
                reader.byte_alignment()?;
                groups.push(self.read_tile_group(&mut reader, obu.payload_start)?);
            }
            OBU_TILE_GROUP => {
                let mut reader = BitReader::new(obu.payload, "tile group header");
                groups.push(self.read_tile_group(&mut reader, obu.payload_start)?);
            }
            OBU_TILE_LIST => return Err("tile list OBUs are not allowed in ISOBMFF".to_owned()),
            // Metadata, padding and reserved types carry nothing a frame header depends on.
            _ => {}
        }
        Ok(())
    }

    /// `frame_header_obu` (§5.9.1) when it is not a copy: the uncompressed header. A shown
    /// existing frame is wrapped up at once (§7.4); a new frame's tile groups are expected.
    fn read_frame_header(&mut self, reader: &mut BitReader<'_>, layer: Layer) -> Result<(), String> {
        let sequence = self.sequence_header.as_ref().ok_or("a frame header before any sequence header (none in the av1C nor in the samples before it)")?;
        match read_uncompressed_header(reader, sequence, &mut self.references, layer)? {
            FrameHeader::ShowExisting { slot } => {
                // Showing an existing key frame loads it (§7.21) and refreshes every slot with
                // it (§7.20); any other shown frame changes nothing.
                let shown = self.references[slot];
                if shown.frame_type == FrameType::Key {
                    self.references = [shown; NUM_REF_FRAMES];
                }
            }
            FrameHeader::New(frame) => self.frame = Some(frame),
        }
        Ok(())
    }

    /// `tile_group_obu` (§5.11.1) from the reader's position (byte aligned) to the end of its
    /// OBU, whose payload starts `payload_start` bytes into the sample.
    fn read_tile_group(&mut self, reader: &mut BitReader<'_>, payload_start: usize) -> Result<TileGroup, String> {
        let frame = self.frame.as_mut().ok_or("a tile group without a frame header before it")?;
        let tiling = frame.tiling;
        let count = tiling.count();
        let header_start = reader.byte_position();
        reader.reading = "tile group header";
        let (first, last) = if count > 1 && reader.flag()? {
            let bits = tiling.columns_log2 + tiling.rows_log2;
            (reader.bits(bits)?, reader.bits(bits)?)
        } else {
            (0, count - 1)
        };
        reader.byte_alignment()?;
        if first != frame.next_tile || last < first || last >= count {
            return Err(format!("it holds tiles {first} to {last}, but tile {} of the frame's {count} comes next", frame.next_tile));
        }
        let payload = reader.bytes;
        let mut at = reader.byte_position();
        let header = payload_start + header_start..payload_start + at;
        let mut tiles = Vec::new();
        for tile in first..=last {
            let size = if tile == last {
                payload.len() - at
            } else {
                let field = payload.get(at..at + tiling.size_bytes).ok_or_else(|| format!("the size of tile {tile} runs past the OBU's {} bytes", payload.len()))?;
                at += tiling.size_bytes;
                // le(TileSizeBytes) (§4.10.4): little-endian.
                field.iter().rev().fold(0usize, |value, byte| (value << 8) | usize::from(*byte)) + 1
            };
            if size == 0 {
                return Err(format!("tile {tile}, the last of its group, has no bytes"));
            }
            let end = at.checked_add(size).filter(|end| *end <= payload.len()).ok_or_else(|| {
                format!("tile {tile} of {size} bytes at byte {at} runs past the OBU's {} bytes", payload.len())
            })?;
            tiles.push(payload_start + at..payload_start + end);
            at = end;
        }
        frame.next_tile = last + 1;
        if frame.next_tile == count {
            // The frame's last tile: decode_frame_wrapup (§7.4) and the reference frame update
            // process (§7.20).
            let decoded = frame.decoded;
            for (slot, reference) in self.references.iter_mut().enumerate() {
                if frame.refresh_frame_flags & (1 << slot) != 0 {
                    *reference = decoded;
                }
            }
            self.frame = None;
        }
        Ok(TileGroup { header, tiles })
    }
}

/// An OBU of a sample: its type, layer, where it starts and its payload.
struct Obu<'a> {
    kind: u8,
    layer: Layer,
    /// Offset of its header in the sample.
    start: usize,
    /// Offset of its payload in the sample.
    payload_start: usize,
    payload: &'a [u8],
}

/// An OBU's `temporal_id` and `spatial_id` (§5.3.3; 0 without an extension header).
#[derive(Debug, Clone, Copy, Default)]
struct Layer {
    temporal_id: u32,
    spatial_id: u32,
}

/// The OBUs of `bytes` (§5.3.1): each with `obu_size`, but for a last one without it, which
/// runs to the end.
fn split_obus(bytes: &[u8]) -> Result<Vec<Obu<'_>>, String> {
    let mut obus = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let what = || format!("OBU {} (at byte {start} of {})", obus.len() + 1, bytes.len());
        let header = bytes[start];
        if header & 0x80 != 0 {
            return Err(format!("{}: its forbidden bit is set (not an OBU header: {header:#04x})", what()));
        }
        let kind = (header >> 3) & 0x0f;
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let mut at = start + 1;
        let mut layer = Layer::default();
        if has_extension {
            let extension = *bytes.get(at).ok_or_else(|| format!("{}: its extension header is cut off", what()))?;
            layer = Layer { temporal_id: u32::from(extension >> 5), spatial_id: u32::from((extension >> 3) & 0x03) };
            at += 1;
        }
        let size = if has_size {
            let (size, length) = leb128(bytes, at).map_err(|why| format!("{}: its obu_size {why}", what()))?;
            at += length;
            size
        } else {
            bytes.len() - at
        };
        let end = at.checked_add(size).filter(|end| *end <= bytes.len()).ok_or_else(|| {
            format!("{}: its obu_size of {size} bytes runs past the end ({} bytes left after its header)", what(), bytes.len() - at)
        })?;
        obus.push(Obu { kind, layer, start, payload_start: at, payload: &bytes[at..end] });
        start = end;
    }
    Ok(obus)
}

/// `leb128()` (§4.10.5) at `at`: the value and how many bytes it took (at most 8; the value
/// fits 32 bits).
fn leb128(bytes: &[u8], at: usize) -> Result<(usize, usize), String> {
    let mut value = 0u64;
    for index in 0..8 {
        let byte = *bytes.get(at + index).ok_or("runs past the end")?;
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let value = u32::try_from(value).map_err(|_| format!("of {value} exceeds 2^32 - 1"))?;
            return Ok((value as usize, index + 1));
        }
    }
    Err("has more than 8 bytes".to_owned())
}

fn obu_type_name(kind: u8) -> &'static str {
    match kind {
        OBU_SEQUENCE_HEADER => "sequence header",
        OBU_TEMPORAL_DELIMITER => "temporal delimiter",
        OBU_FRAME_HEADER => "frame header",
        OBU_TILE_GROUP => "tile group",
        OBU_METADATA => "metadata",
        OBU_FRAME => "frame",
        OBU_REDUNDANT_FRAME_HEADER => "redundant frame header",
        OBU_TILE_LIST => "tile list",
        OBU_PADDING => "padding",
        _ => "reserved type",
    }
}

/// A bit reader over one OBU payload (§4.10, §8.1: most significant bit first); reading past
/// its end is an error naming what was being read.
struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// What is being read, for the error when the payload ends first.
    reading: &'static str,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8], reading: &'static str) -> Self {
        BitReader { bytes, position: 0, reading }
    }

    fn past_the_end(&self) -> String {
        format!("its {} runs past the end of the OBU's {} bytes", self.reading, self.bytes.len())
    }

    fn bit(&mut self) -> Result<u32, String> {
        let byte = self.bytes.get(self.position / 8).ok_or_else(|| self.past_the_end())?;
        let bit = (byte >> (7 - self.position % 8)) & 1;
        self.position += 1;
        Ok(u32::from(bit))
    }

    /// `f(n)`, n at most 32.
    fn bits(&mut self, count: u32) -> Result<u32, String> {
        (0..count).try_fold(0u32, |value, _| Ok((value << 1) | self.bit()?))
    }

    fn flag(&mut self) -> Result<bool, String> {
        Ok(self.bit()? == 1)
    }

    fn skip(&mut self, count: u32) -> Result<(), String> {
        let end = self.position + count as usize;
        if end > self.bytes.len() * 8 {
            return Err(self.past_the_end());
        }
        self.position = end;
        Ok(())
    }

    /// `su(n)` (§4.10.6).
    fn signed(&mut self, count: u32) -> Result<i32, String> {
        let value = i64::from(self.bits(count)?);
        let sign = 1i64 << (count - 1);
        Ok((if value & sign != 0 { value - 2 * sign } else { value }) as i32)
    }

    /// `ns(n)` (§4.10.7): a value below `n`.
    fn non_symmetric(&mut self, n: u32) -> Result<u32, String> {
        let width = floor_log2(n) + 1;
        let m = (1u64 << width) - u64::from(n);
        let value = u64::from(self.bits(width - 1)?);
        if value < m {
            return Ok(value as u32);
        }
        Ok(((value << 1) - m + u64::from(self.bit()?)) as u32)
    }

    /// `uvlc()` (§4.10.3), its value not needed.
    fn skip_uvlc(&mut self) -> Result<(), String> {
        let mut leading_zeros = 0;
        while !self.flag()? {
            leading_zeros += 1;
        }
        if leading_zeros < 32 { self.skip(leading_zeros) } else { Ok(()) }
    }

    /// `byte_alignment()` (§5.3.5): zero bits to the next byte.
    fn byte_alignment(&mut self) -> Result<(), String> {
        while !self.position.is_multiple_of(8) {
            if self.flag()? {
                return Err(format!("a bit of the byte alignment after its {} is set: the header does not end where it was read to end", self.reading));
            }
        }
        Ok(())
    }

    /// `trailing_bits()` (§5.3.4) to the end of the payload: a one, then zeros.
    fn trailing_bits(&mut self) -> Result<(), String> {
        let wrong = |reader: &Self| format!("its {} is not followed by trailing bits (a one, then zeros to the end of the OBU)", reader.reading);
        if !self.flag().map_err(|_| wrong(self))? {
            return Err(wrong(self));
        }
        while self.position < self.bytes.len() * 8 {
            if self.flag()? {
                return Err(wrong(self));
            }
        }
        Ok(())
    }

    /// The byte the reader is in (the next one once aligned).
    fn byte_position(&self) -> usize {
        self.position.div_ceil(8)
    }
}

fn floor_log2(value: u32) -> u32 {
    31 - value.max(1).leading_zeros()
}

/// `tile_log2(blkSize, target)` (§5.9.16): the smallest k with `blkSize << k >= target`.
fn tile_log2(block_size: u32, target: u32) -> u32 {
    let mut k = 0;
    while (u64::from(block_size) << k) < u64::from(target) {
        k += 1;
    }
    k
}

/// What the sequence header says that frame headers depend on (§5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SequenceHeader {
    reduced_still_picture_header: bool,
    /// `decoder_model_info`, when present.
    decoder_model: Option<DecoderModel>,
    /// `timing_info`'s `equal_picture_interval` (false without timing info).
    equal_picture_interval: bool,
    operating_points: Vec<OperatingPoint>,
    frame_width_bits: u32,
    frame_height_bits: u32,
    max_frame_width: u32,
    max_frame_height: u32,
    frame_ids: Option<FrameIdLengths>,
    use_128x128_superblock: bool,
    enable_warped_motion: bool,
    /// `OrderHintBits`: 0 when `enable_order_hint` is off.
    order_hint_bits: u32,
    enable_ref_frame_mvs: bool,
    screen_content_tools: SequenceChoice,
    integer_mv: SequenceChoice,
    enable_superres: bool,
    enable_cdef: bool,
    enable_restoration: bool,
    mono_chrome: bool,
    subsampling_x: bool,
    subsampling_y: bool,
    separate_uv_delta_q: bool,
    film_grain_params_present: bool,
}

/// `decoder_model_info` (§5.5.4): the lengths of the fields frame headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DecoderModel {
    buffer_removal_time_length: u32,
    frame_presentation_time_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OperatingPoint {
    idc: u32,
    decoder_model_present: bool,
}

/// `frame_id_numbers_present_flag`'s lengths: `delta_frame_id_minus_1` and frame ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameIdLengths {
    delta: u32,
    id: u32,
}

/// A tool the sequence either fixes for every frame or lets each frame header choose
/// (`SELECT_SCREEN_CONTENT_TOOLS`, `SELECT_INTEGER_MV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SequenceChoice {
    PerFrame,
    Fixed(bool),
}

impl SequenceHeader {
    fn num_planes(&self) -> u32 {
        if self.mono_chrome { 1 } else { 3 }
    }

    /// `get_relative_dist` (§5.9.3).
    fn relative_distance(&self, a: u32, b: u32) -> i64 {
        if self.order_hint_bits == 0 {
            return 0;
        }
        let diff = i64::from(a) - i64::from(b);
        let m = 1i64 << (self.order_hint_bits - 1);
        (diff & (m - 1)) - (diff & m)
    }
}

/// `sequence_header_obu` (§5.5.1), its trailing bits checked.
fn read_sequence_header(payload: &[u8]) -> Result<SequenceHeader, String> {
    let mut reader = BitReader::new(payload, "sequence header");
    let profile = reader.bits(3)?;
    if profile > 2 {
        return Err(format!("seq_profile {profile} is reserved"));
    }
    reader.skip(1)?; // still_picture
    let reduced_still_picture_header = reader.flag()?;
    let mut decoder_model = None;
    let mut buffer_delay_length = 0;
    let mut equal_picture_interval = false;
    let mut operating_points = Vec::new();
    if reduced_still_picture_header {
        reader.skip(5)?; // seq_level_idx[0]
        operating_points.push(OperatingPoint { idc: 0, decoder_model_present: false });
    } else {
        if reader.flag()? {
            // timing_info (§5.5.3)
            reader.skip(64)?; // num_units_in_display_tick, time_scale
            equal_picture_interval = reader.flag()?;
            if equal_picture_interval {
                reader.skip_uvlc()?; // num_ticks_per_picture_minus_1
            }
            if reader.flag()? {
                // decoder_model_info (§5.5.4)
                buffer_delay_length = reader.bits(5)? + 1;
                reader.skip(32)?; // num_units_in_decoding_tick
                let buffer_removal_time_length = reader.bits(5)? + 1;
                let frame_presentation_time_length = reader.bits(5)? + 1;
                decoder_model = Some(DecoderModel { buffer_removal_time_length, frame_presentation_time_length });
            }
        }
        let initial_display_delay_present = reader.flag()?;
        let count = reader.bits(5)? + 1;
        for _ in 0..count {
            let idc = reader.bits(12)?;
            let level = reader.bits(5)?;
            if level > 7 {
                reader.skip(1)?; // seq_tier
            }
            let mut decoder_model_present = false;
            if decoder_model.is_some() {
                decoder_model_present = reader.flag()?;
                if decoder_model_present {
                    // operating_parameters_info (§5.5.5)
                    reader.skip(2 * buffer_delay_length + 1)?;
                }
            }
            if initial_display_delay_present && reader.flag()? {
                reader.skip(4)?; // initial_display_delay_minus_1
            }
            operating_points.push(OperatingPoint { idc, decoder_model_present });
        }
    }
    let frame_width_bits = reader.bits(4)? + 1;
    let frame_height_bits = reader.bits(4)? + 1;
    let max_frame_width = reader.bits(frame_width_bits)? + 1;
    let max_frame_height = reader.bits(frame_height_bits)? + 1;
    let mut frame_ids = None;
    if !reduced_still_picture_header && reader.flag()? {
        let delta = reader.bits(4)? + 2;
        let additional = reader.bits(3)? + 1;
        frame_ids = Some(FrameIdLengths { delta, id: delta + additional });
    }
    let use_128x128_superblock = reader.flag()?;
    reader.skip(2)?; // enable_filter_intra, enable_intra_edge_filter
    let (mut enable_warped_motion, mut order_hint_bits, mut enable_ref_frame_mvs) = (false, 0, false);
    let (mut screen_content_tools, mut integer_mv) = (SequenceChoice::PerFrame, SequenceChoice::PerFrame);
    if !reduced_still_picture_header {
        reader.skip(2)?; // enable_interintra_compound, enable_masked_compound
        enable_warped_motion = reader.flag()?;
        reader.skip(1)?; // enable_dual_filter
        let enable_order_hint = reader.flag()?;
        if enable_order_hint {
            reader.skip(1)?; // enable_jnt_comp
            enable_ref_frame_mvs = reader.flag()?;
        }
        if !reader.flag()? {
            screen_content_tools = SequenceChoice::Fixed(reader.flag()?);
        }
        if screen_content_tools != SequenceChoice::Fixed(false) && !reader.flag()? {
            integer_mv = SequenceChoice::Fixed(reader.flag()?);
        }
        if enable_order_hint {
            order_hint_bits = reader.bits(3)? + 1;
        }
    }
    let enable_superres = reader.flag()?;
    let enable_cdef = reader.flag()?;
    let enable_restoration = reader.flag()?;
    // color_config (§5.5.2)
    let high_bitdepth = reader.flag()?;
    let twelve_bit = profile == 2 && high_bitdepth && reader.flag()?;
    let mono_chrome = profile != 1 && reader.flag()?;
    let (mut primaries, mut transfer, mut matrix) = (2, 2, 2);
    if reader.flag()? {
        (primaries, transfer, matrix) = (reader.bits(8)?, reader.bits(8)?, reader.bits(8)?);
    }
    let (subsampling_x, subsampling_y, separate_uv_delta_q);
    if mono_chrome {
        reader.skip(1)?; // color_range
        (subsampling_x, subsampling_y, separate_uv_delta_q) = (true, true, false);
    } else {
        // BT.709 primaries, sRGB transfer, identity matrix: 4:4:4, full range, no flags.
        if (primaries, transfer, matrix) == (1, 13, 0) {
            (subsampling_x, subsampling_y) = (false, false);
        } else {
            reader.skip(1)?; // color_range
            (subsampling_x, subsampling_y) = match profile {
                0 => (true, true),
                1 => (false, false),
                _ if twelve_bit => {
                    let x = reader.flag()?;
                    (x, x && reader.flag()?)
                }
                _ => (true, false),
            };
            if subsampling_x && subsampling_y {
                reader.skip(2)?; // chroma_sample_position
            }
        }
        separate_uv_delta_q = reader.flag()?;
    }
    let film_grain_params_present = reader.flag()?;
    reader.trailing_bits()?;
    Ok(SequenceHeader {
        reduced_still_picture_header,
        decoder_model,
        equal_picture_interval,
        operating_points,
        frame_width_bits,
        frame_height_bits,
        max_frame_width,
        max_frame_height,
        frame_ids,
        use_128x128_superblock,
        enable_warped_motion,
        order_hint_bits,
        enable_ref_frame_mvs,
        screen_content_tools,
        integer_mv,
        enable_superres,
        enable_cdef,
        enable_restoration,
        mono_chrome,
        subsampling_x,
        subsampling_y,
        separate_uv_delta_q,
        film_grain_params_present,
    })
}

/// `frame_type` (§6.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum FrameType {
    #[default]
    Key,
    Inter,
    IntraOnly,
    Switch,
}

/// The quantizer delta (`SEG_LVL_ALT_Q`) of each segment that has one.
type SegmentQuantizerDeltas = [Option<i32>; MAX_SEGMENTS];

/// What a reference slot keeps that later frame headers read (§7.20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ReferenceFrame {
    /// `RefValid`.
    valid: bool,
    frame_type: FrameType,
    order_hint: u32,
    upscaled_width: u32,
    frame_height: u32,
    segment_quantizer_deltas: SegmentQuantizerDeltas,
}

/// `tile_info` (§5.9.15): the frame's tile grid and the size of each `tile_size_minus_1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tiling {
    columns: u32,
    rows: u32,
    columns_log2: u32,
    rows_log2: u32,
    /// `TileSizeBytes` (unused with one tile).
    size_bytes: usize,
}

impl Tiling {
    fn count(&self) -> u32 {
        self.columns * self.rows
    }
}

/// A frame whose header was read: its tiles, which of them come next, and what the
/// reference update stores once its last tile is read.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    tiling: Tiling,
    next_tile: u32,
    refresh_frame_flags: u32,
    decoded: ReferenceFrame,
}

enum FrameHeader {
    /// `show_existing_frame`: the slot shown.
    ShowExisting { slot: usize },
    New(FrameInProgress),
}

/// The frame's size: `UpscaledWidth`, `FrameWidth` (after superres) and `FrameHeight`.
#[derive(Debug, Clone, Copy)]
struct FrameSize {
    upscaled_width: u32,
    frame_width: u32,
    frame_height: u32,
}

/// `uncompressed_header` (§5.9.2). Changes `references` as the header does (a shown key
/// frame empties them; an error-resilient frame's `ref_order_hint` may invalidate some).
fn read_uncompressed_header(reader: &mut BitReader<'_>, sequence: &SequenceHeader, references: &mut [ReferenceFrame; NUM_REF_FRAMES], layer: Layer) -> Result<FrameHeader, String> {
    let frame_presentation_time = sequence.decoder_model.filter(|_| !sequence.equal_picture_interval).map(|model| model.frame_presentation_time_length);
    let (frame_type, show_frame, showable_frame, error_resilient_mode);
    if sequence.reduced_still_picture_header {
        (frame_type, show_frame, showable_frame, error_resilient_mode) = (FrameType::Key, true, false, true);
    } else {
        if reader.flag()? {
            // show_existing_frame
            let slot = reader.bits(3)? as usize;
            if let Some(length) = frame_presentation_time {
                reader.skip(length)?;
            }
            if let Some(ids) = sequence.frame_ids {
                reader.skip(ids.id)?; // display_frame_id
            }
            if !references[slot].valid {
                return Err(format!("it shows the frame in reference slot {slot}, which holds none"));
            }
            return Ok(FrameHeader::ShowExisting { slot });
        }
        frame_type = match reader.bits(2)? {
            0 => FrameType::Key,
            1 => FrameType::Inter,
            2 => FrameType::IntraOnly,
            _ => FrameType::Switch,
        };
        show_frame = reader.flag()?;
        if show_frame && let Some(length) = frame_presentation_time {
            reader.skip(length)?;
        }
        showable_frame = if show_frame { frame_type != FrameType::Key } else { reader.flag()? };
        error_resilient_mode = frame_type == FrameType::Switch || (frame_type == FrameType::Key && show_frame) || reader.flag()?;
    }
    let frame_is_intra = matches!(frame_type, FrameType::Key | FrameType::IntraOnly);
    if frame_type == FrameType::Key && show_frame {
        for reference in references.iter_mut() {
            reference.valid = false;
            reference.order_hint = 0;
        }
    }
    let disable_cdf_update = reader.flag()?;
    let allow_screen_content_tools = match sequence.screen_content_tools {
        SequenceChoice::PerFrame => reader.flag()?,
        SequenceChoice::Fixed(value) => value,
    };
    // Read by intra frames too, which always use integer motion vectors.
    let force_integer_mv = allow_screen_content_tools
        && match sequence.integer_mv {
            SequenceChoice::PerFrame => reader.flag()?,
            SequenceChoice::Fixed(value) => value,
        };
    if let Some(ids) = sequence.frame_ids {
        reader.skip(ids.id)?; // current_frame_id
    }
    let frame_size_override_flag = frame_type == FrameType::Switch || (!sequence.reduced_still_picture_header && reader.flag()?);
    let order_hint = reader.bits(sequence.order_hint_bits)?;
    let primary_ref_frame = if frame_is_intra || error_resilient_mode { PRIMARY_REF_NONE } else { reader.bits(3)? };
    if let Some(model) = sequence.decoder_model
        && reader.flag()?
    {
        // buffer_removal_time_present_flag
        for point in sequence.operating_points.iter().filter(|point| point.decoder_model_present) {
            let in_temporal_layer = (point.idc >> layer.temporal_id) & 1 == 1;
            let in_spatial_layer = (point.idc >> (layer.spatial_id + 8)) & 1 == 1;
            if point.idc == 0 || (in_temporal_layer && in_spatial_layer) {
                reader.skip(model.buffer_removal_time_length)?;
            }
        }
    }
    let refresh_frame_flags = if frame_type == FrameType::Switch || (frame_type == FrameType::Key && show_frame) { ALL_FRAMES } else { reader.bits(8)? };
    if (!frame_is_intra || refresh_frame_flags != ALL_FRAMES) && error_resilient_mode && sequence.order_hint_bits > 0 {
        for reference in references.iter_mut() {
            if reader.bits(sequence.order_hint_bits)? != reference.order_hint {
                reference.valid = false;
            }
        }
    }
    let mut ref_frame_idx = [0usize; REFS_PER_FRAME];
    let size;
    let mut allow_intrabc = false;
    let mut allow_high_precision_mv = false;
    if frame_is_intra {
        size = read_frame_size(reader, sequence, frame_size_override_flag)?;
        skip_render_size(reader)?;
        if allow_screen_content_tools && size.upscaled_width == size.frame_width {
            allow_intrabc = reader.flag()?;
        }
    } else {
        let frame_refs_short_signaling = sequence.order_hint_bits > 0 && reader.flag()?;
        if frame_refs_short_signaling {
            let last = reader.bits(3)? as usize;
            let gold = reader.bits(3)? as usize;
            ref_frame_idx = set_frame_refs(sequence, references, last, gold, order_hint);
        }
        for slot in ref_frame_idx.iter_mut() {
            if !frame_refs_short_signaling {
                *slot = reader.bits(3)? as usize;
            }
            if let Some(ids) = sequence.frame_ids {
                reader.skip(ids.delta)?; // delta_frame_id_minus_1
            }
        }
        if let Some((index, slot)) = ref_frame_idx.iter().enumerate().find(|(_, slot)| !references[**slot].valid) {
            return Err(format!("reference {} of the frame is slot {slot}, which holds no frame (does the track start with a key frame?)", index + 1));
        }
        size = if frame_size_override_flag && !error_resilient_mode {
            read_frame_size_with_refs(reader, sequence, references, &ref_frame_idx)?
        } else {
            let size = read_frame_size(reader, sequence, frame_size_override_flag)?;
            skip_render_size(reader)?;
            size
        };
        allow_high_precision_mv = !force_integer_mv && reader.flag()?;
        if !reader.flag()? {
            reader.skip(2)?; // interpolation_filter, when not switchable
        }
        reader.skip(1)?; // is_motion_mode_switchable
        if !error_resilient_mode && sequence.enable_ref_frame_mvs {
            reader.skip(1)?; // use_ref_frame_mvs
        }
    }
    if !(sequence.reduced_still_picture_header || disable_cdf_update) {
        reader.skip(1)?; // disable_frame_end_update_cdf
    }
    // load_previous() takes the primary reference's segmentation parameters;
    // setup_past_independence() clears them.
    let mut segment_quantizer_deltas =
        if primary_ref_frame == PRIMARY_REF_NONE { [None; MAX_SEGMENTS] } else { references[ref_frame_idx[primary_ref_frame as usize]].segment_quantizer_deltas };
    let mi_cols = 2 * ((size.frame_width + 7) >> 3);
    let mi_rows = 2 * ((size.frame_height + 7) >> 3);
    let tiling = read_tile_info(reader, sequence, mi_cols, mi_rows)?;
    let quantizer = read_quantization_params(reader, sequence)?;
    read_segmentation_params(reader, primary_ref_frame == PRIMARY_REF_NONE, &mut segment_quantizer_deltas)?;
    // delta_q_params (§5.9.17) and delta_lf_params (§5.9.18)
    let delta_q_present = quantizer.base_q_idx > 0 && reader.flag()?;
    if delta_q_present {
        reader.skip(2)?; // delta_q_res
        if !allow_intrabc && reader.flag()? {
            reader.skip(3)?; // delta_lf_res, delta_lf_multi
        }
    }
    let coded_lossless = quantizer.dc_and_chroma_deltas_zero
        && segment_quantizer_deltas.iter().all(|delta| delta.map_or(quantizer.base_q_idx, |delta| (quantizer.base_q_idx as i32 + delta).clamp(0, 255) as u32) == 0);
    let all_lossless = coded_lossless && size.frame_width == size.upscaled_width;
    if !(coded_lossless || allow_intrabc) {
        skip_loop_filter_params(reader, sequence)?;
    }
    if !(coded_lossless || allow_intrabc || !sequence.enable_cdef) {
        skip_cdef_params(reader, sequence)?;
    }
    if !(all_lossless || allow_intrabc || !sequence.enable_restoration) {
        skip_lr_params(reader, sequence)?;
    }
    if !coded_lossless {
        reader.skip(1)?; // tx_mode_select
    }
    let reference_select = !frame_is_intra && reader.flag()?;
    if reference_select && sequence.order_hint_bits > 0 && skip_mode_allowed(sequence, references, &ref_frame_idx, order_hint) {
        reader.skip(1)?; // skip_mode_present
    }
    if !(frame_is_intra || error_resilient_mode || !sequence.enable_warped_motion) {
        reader.skip(1)?; // allow_warped_motion
    }
    reader.skip(1)?; // reduced_tx_set
    if !frame_is_intra {
        skip_global_motion_params(reader, allow_high_precision_mv)?;
    }
    if sequence.film_grain_params_present && (show_frame || showable_frame) {
        skip_film_grain_params(reader, sequence, frame_type)?;
    }
    let decoded = ReferenceFrame { valid: true, frame_type, order_hint, upscaled_width: size.upscaled_width, frame_height: size.frame_height, segment_quantizer_deltas };
    Ok(FrameHeader::New(FrameInProgress { tiling, next_tile: 0, refresh_frame_flags, decoded }))
}

/// `frame_size` (§5.9.5) with `superres_params` (§5.9.8).
fn read_frame_size(reader: &mut BitReader<'_>, sequence: &SequenceHeader, frame_size_override_flag: bool) -> Result<FrameSize, String> {
    let (width, frame_height) = if frame_size_override_flag {
        (reader.bits(sequence.frame_width_bits)? + 1, reader.bits(sequence.frame_height_bits)? + 1)
    } else {
        (sequence.max_frame_width, sequence.max_frame_height)
    };
    read_superres_params(reader, sequence, width, frame_height)
}

/// `superres_params` (§5.9.8): the coded width of a frame `upscaled_width` wide.
fn read_superres_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader, upscaled_width: u32, frame_height: u32) -> Result<FrameSize, String> {
    const SUPERRES_NUM: u32 = 8;
    let denominator = if sequence.enable_superres && reader.flag()? { reader.bits(3)? + 9 } else { SUPERRES_NUM };
    let frame_width = (upscaled_width * SUPERRES_NUM + denominator / 2) / denominator;
    Ok(FrameSize { upscaled_width, frame_width, frame_height })
}

/// `render_size` (§5.9.6): nothing in it changes what follows.
fn skip_render_size(reader: &mut BitReader<'_>) -> Result<(), String> {
    if reader.flag()? {
        reader.skip(32)?; // render_width_minus_1, render_height_minus_1
    }
    Ok(())
}

/// `frame_size_with_refs` (§5.9.7): a reference's size, or one of its own.
fn read_frame_size_with_refs(reader: &mut BitReader<'_>, sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], ref_frame_idx: &[usize; REFS_PER_FRAME]) -> Result<FrameSize, String> {
    for slot in ref_frame_idx {
        if reader.flag()? {
            let reference = references[*slot];
            return read_superres_params(reader, sequence, reference.upscaled_width, reference.frame_height);
        }
    }
    let size = read_frame_size(reader, sequence, true)?;
    skip_render_size(reader)?;
    Ok(size)
}

/// The set frame refs process (§7.8): the seven references from `LAST_FRAME`'s and
/// `GOLDEN_FRAME`'s slots and the slots' order hints.
fn set_frame_refs(sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], last: usize, gold: usize, order_hint: u32) -> [usize; REFS_PER_FRAME] {
    const LAST: usize = 0;
    const LAST2: usize = 1;
    const LAST3: usize = 2;
    const GOLDEN: usize = 3;
    const BWDREF: usize = 4;
    const ALTREF2: usize = 5;
    const ALTREF: usize = 6;
    let mut chosen: [Option<usize>; REFS_PER_FRAME] = [None; REFS_PER_FRAME];
    chosen[LAST] = Some(last);
    chosen[GOLDEN] = Some(gold);
    let mut used = [false; NUM_REF_FRAMES];
    used[last] = true;
    used[gold] = true;
    // Each slot's output order, shifted so that the current frame's is `current`.
    let current = 1i64 << (sequence.order_hint_bits - 1);
    let shifted = references.map(|reference| current + sequence.relative_distance(reference.order_hint, order_hint));
    // The unused slot after the current frame in output order (`backward`) or before it,
    // the latest or the earliest of them: find_latest_backward, find_earliest_backward and
    // find_latest_forward, where equal hints go to the later slot only when looking for the
    // latest.
    let find = |used: &[bool; NUM_REF_FRAMES], backward: bool, latest: bool| {
        let mut best: Option<(usize, i64)> = None;
        for (slot, hint) in shifted.iter().copied().enumerate() {
            if used[slot] || (hint >= current) != backward {
                continue;
            }
            if best.is_none_or(|(_, best_hint)| if latest { hint >= best_hint } else { hint < best_hint }) {
                best = Some((slot, hint));
            }
        }
        best.map(|(slot, _)| slot)
    };
    for (reference, latest) in [(ALTREF, true), (BWDREF, false), (ALTREF2, false)] {
        if let Some(slot) = find(&used, true, latest) {
            chosen[reference] = Some(slot);
            used[slot] = true;
        }
    }
    for reference in [LAST2, LAST3, BWDREF, ALTREF2, ALTREF] {
        if chosen[reference].is_none()
            && let Some(slot) = find(&used, false, true)
        {
            chosen[reference] = Some(slot);
            used[slot] = true;
        }
    }
    // Whatever is left takes the slot of the earliest output order, used or not (the first
    // of equals).
    let earliest = shifted.iter().enumerate().fold((0, i64::MAX), |best, (slot, hint)| if *hint < best.1 { (slot, *hint) } else { best }).0;
    chosen.map(|slot| slot.unwrap_or(earliest))
}

/// `tile_info` (§5.9.15) for a frame of `mi_cols` × `mi_rows` mode info units.
fn read_tile_info(reader: &mut BitReader<'_>, sequence: &SequenceHeader, mi_cols: u32, mi_rows: u32) -> Result<Tiling, String> {
    let (sb_cols, sb_rows, sb_shift) =
        if sequence.use_128x128_superblock { ((mi_cols + 31) >> 5, (mi_rows + 31) >> 5, 5) } else { ((mi_cols + 15) >> 4, (mi_rows + 15) >> 4, 4) };
    if sb_cols == 0 {
        return Err("its frame is 0 pixels wide once superres divides its width".to_owned());
    }
    let sb_size = sb_shift + 2;
    let max_tile_width_sb = MAX_TILE_WIDTH >> sb_size;
    let mut max_tile_area_sb = MAX_TILE_AREA >> (2 * sb_size);
    let min_log2_tile_cols = tile_log2(max_tile_width_sb, sb_cols);
    let max_log2_tile_cols = tile_log2(1, sb_cols.min(MAX_TILE_COLS));
    let max_log2_tile_rows = tile_log2(1, sb_rows.min(MAX_TILE_ROWS));
    let min_log2_tiles = min_log2_tile_cols.max(tile_log2(max_tile_area_sb, sb_rows * sb_cols));
    let (columns, rows, columns_log2, rows_log2);
    if reader.flag()? {
        // uniform_tile_spacing_flag
        let mut log2 = min_log2_tile_cols;
        while log2 < max_log2_tile_cols && reader.flag()? {
            log2 += 1;
        }
        columns_log2 = log2;
        let tile_width_sb = (sb_cols + (1 << columns_log2) - 1) >> columns_log2;
        columns = sb_cols.div_ceil(tile_width_sb);
        let mut log2 = min_log2_tiles.saturating_sub(columns_log2);
        while log2 < max_log2_tile_rows && reader.flag()? {
            log2 += 1;
        }
        rows_log2 = log2;
        let tile_height_sb = (sb_rows + (1 << rows_log2) - 1) >> rows_log2;
        rows = sb_rows.div_ceil(tile_height_sb);
    } else {
        let (mut widest_tile_sb, mut start_sb, mut count) = (0, 0, 0);
        while start_sb < sb_cols {
            let size_sb = reader.non_symmetric((sb_cols - start_sb).min(max_tile_width_sb))? + 1;
            widest_tile_sb = widest_tile_sb.max(size_sb);
            start_sb += size_sb;
            count += 1;
        }
        columns = count;
        columns_log2 = tile_log2(1, columns);
        max_tile_area_sb = if min_log2_tiles > 0 { (sb_rows * sb_cols) >> (min_log2_tiles + 1) } else { sb_rows * sb_cols };
        let max_tile_height_sb = (max_tile_area_sb / widest_tile_sb).max(1);
        let (mut start_sb, mut count) = (0, 0);
        while start_sb < sb_rows {
            start_sb += reader.non_symmetric((sb_rows - start_sb).min(max_tile_height_sb))? + 1;
            count += 1;
        }
        rows = count;
        rows_log2 = tile_log2(1, rows);
    }
    if columns > MAX_TILE_COLS || rows > MAX_TILE_ROWS {
        return Err(format!("its tile grid of {columns}x{rows} exceeds AV1's 64x64"));
    }
    let mut size_bytes = 4;
    if columns_log2 > 0 || rows_log2 > 0 {
        reader.skip(columns_log2 + rows_log2)?; // context_update_tile_id
        size_bytes = reader.bits(2)? as usize + 1;
    }
    Ok(Tiling { columns, rows, columns_log2, rows_log2, size_bytes })
}

/// What of `quantization_params` (§5.9.12) decides whether the frame is lossless.
struct Quantizer {
    base_q_idx: u32,
    /// `DeltaQYDc`, `DeltaQUDc`, `DeltaQUAc`, `DeltaQVDc` and `DeltaQVAc` are all 0.
    dc_and_chroma_deltas_zero: bool,
}

fn read_quantization_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<Quantizer, String> {
    // read_delta_q (§5.9.13)
    let delta_q = |reader: &mut BitReader<'_>| -> Result<i32, String> { if reader.flag()? { reader.signed(7) } else { Ok(0) } };
    let base_q_idx = reader.bits(8)?;
    let mut deltas = vec![delta_q(reader)?];
    if sequence.num_planes() > 1 {
        let diff_uv_delta = sequence.separate_uv_delta_q && reader.flag()?;
        deltas.push(delta_q(reader)?);
        deltas.push(delta_q(reader)?);
        if diff_uv_delta {
            deltas.push(delta_q(reader)?);
            deltas.push(delta_q(reader)?);
        }
    }
    if reader.flag()? {
        // using_qmatrix: qm_y, qm_u and, with separate chroma deltas, qm_v
        reader.skip(if sequence.separate_uv_delta_q { 12 } else { 8 })?;
    }
    Ok(Quantizer { base_q_idx, dc_and_chroma_deltas_zero: deltas.iter().all(|delta| *delta == 0) })
}

/// `segmentation_params` (§5.9.14): `deltas` (loaded from the primary reference, or cleared)
/// updated with the frame's own, or cleared when segmentation is off.
fn read_segmentation_params(reader: &mut BitReader<'_>, no_primary_reference: bool, deltas: &mut SegmentQuantizerDeltas) -> Result<(), String> {
    if !reader.flag()? {
        *deltas = [None; MAX_SEGMENTS];
        return Ok(());
    }
    let update_data = no_primary_reference || {
        if reader.flag()? {
            reader.skip(1)?; // segmentation_temporal_update, with segmentation_update_map
        }
        reader.flag()?
    };
    if update_data {
        for delta in deltas.iter_mut() {
            *delta = None;
            for feature in 0..SEGMENT_FEATURE_BITS.len() {
                if !reader.flag()? {
                    continue;
                }
                let bits = SEGMENT_FEATURE_BITS[feature];
                let value = if SEGMENT_FEATURE_SIGNED[feature] { reader.signed(1 + bits)? } else { reader.bits(bits)? as i32 };
                if feature == 0 {
                    *delta = Some(value.clamp(-SEGMENT_ALT_Q_MAX, SEGMENT_ALT_Q_MAX));
                }
            }
        }
    }
    Ok(())
}

/// `loop_filter_params` (§5.9.11), when the frame has them.
fn skip_loop_filter_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
    let levels = [reader.bits(6)?, reader.bits(6)?];
    if sequence.num_planes() > 1 && levels != [0, 0] {
        reader.skip(12)?; // loop_filter_level[2], [3]
    }
    reader.skip(3)?; // loop_filter_sharpness
    if reader.flag()? && reader.flag()? {
        // loop_filter_delta_enabled and _update: 8 reference deltas, 2 mode deltas
        for _ in 0..10 {
            if reader.flag()? {
                reader.skip(7)?;
            }
        }
    }
    Ok(())
}

/// `cdef_params` (§5.9.19), when the frame has them.
fn skip_cdef_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
    reader.skip(2)?; // cdef_damping_minus_3
    let strengths = 1 << reader.bits(2)?;
    let bits = if sequence.num_planes() > 1 { 12 } else { 6 };
    reader.skip(strengths * bits)
}

/// `lr_params` (§5.9.20), when the frame has them.
fn skip_lr_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
    let mut uses_lr = false;
    let mut uses_chroma_lr = false;
    for plane in 0..sequence.num_planes() {
        if reader.bits(2)? != 0 {
            uses_lr = true;
            uses_chroma_lr |= plane > 0;
        }
    }
    if uses_lr {
        // lr_unit_shift, and lr_unit_extra_shift with 64x64 superblocks when it is set
        if sequence.use_128x128_superblock || reader.flag()? {
            reader.skip(1)?;
        }
        if sequence.subsampling_x && sequence.subsampling_y && uses_chroma_lr {
            reader.skip(1)?; // lr_uv_shift
        }
    }
    Ok(())
}

/// Whether `skip_mode_present` is read (§5.9.22): a forward reference and a backward one, or
/// two forward ones.
fn skip_mode_allowed(sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], ref_frame_idx: &[usize; REFS_PER_FRAME], order_hint: u32) -> bool {
    let hints: Vec<u32> = ref_frame_idx.iter().map(|slot| references[*slot].order_hint).collect();
    let mut forward: Option<u32> = None;
    let mut backward = false;
    for hint in &hints {
        let distance = sequence.relative_distance(*hint, order_hint);
        if distance < 0 {
            if forward.is_none_or(|best| sequence.relative_distance(*hint, best) > 0) {
                forward = Some(*hint);
            }
        } else if distance > 0 {
            backward = true;
        }
    }
    match forward {
        None => false,
        Some(_) if backward => true,
        Some(forward) => hints.iter().any(|hint| sequence.relative_distance(*hint, forward) < 0),
    }
}

/// `global_motion_params` (§5.9.24–§5.9.28): each parameter's length depends only on its
/// warp type and `allow_high_precision_mv`, not on the reference's values.
fn skip_global_motion_params(reader: &mut BitReader<'_>, allow_high_precision_mv: bool) -> Result<(), String> {
    const GM_ABS_ALPHA_BITS: u32 = 12;
    const GM_ABS_TRANS_ONLY_BITS: u32 = 9;
    const GM_ABS_TRANS_BITS: u32 = 12;
    for _ in 0..REFS_PER_FRAME {
        // is_global, is_rot_zoom, is_translation: identity, translation, rot-zoom or affine.
        let (rotation_zoom, affine, translation_only) = if !reader.flag()? {
            continue;
        } else if reader.flag()? {
            (true, false, false)
        } else if reader.flag()? {
            (false, false, true)
        } else {
            (true, true, false)
        };
        let parameters = if affine { 4 } else if rotation_zoom { 2 } else { 0 };
        for _ in 0..parameters {
            skip_subexp(reader, 2 * (1 << GM_ABS_ALPHA_BITS) + 1)?;
        }
        let translation_bits = if translation_only { GM_ABS_TRANS_ONLY_BITS - u32::from(!allow_high_precision_mv) } else { GM_ABS_TRANS_BITS };
        for _ in 0..2 {
            skip_subexp(reader, 2 * (1 << translation_bits) + 1)?;
        }
    }
    Ok(())
}

/// `decode_subexp(numSyms)` (§5.9.28).
fn skip_subexp(reader: &mut BitReader<'_>, symbols: u32) -> Result<(), String> {
    let (mut i, mut mk, k) = (0, 0, 3);
    loop {
        let b2 = if i > 0 { k + i - 1 } else { k };
        let a = 1 << b2;
        if symbols <= mk + 3 * a {
            return reader.non_symmetric(symbols - mk).map(|_| ());
        }
        if !reader.flag()? {
            return reader.skip(b2);
        }
        i += 1;
        mk += a;
    }
}

/// `film_grain_params` (§5.9.30), for a frame that may be shown.
fn skip_film_grain_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader, frame_type: FrameType) -> Result<(), String> {
    if !reader.flag()? {
        return Ok(()); // apply_grain
    }
    reader.skip(16)?; // grain_seed
    if frame_type == FrameType::Inter && !reader.flag()? {
        return reader.skip(3); // film_grain_params_ref_idx, without update_grain
    }
    let y_points = reader.bits(4)?;
    reader.skip(16 * y_points)?;
    let chroma_scaling_from_luma = !sequence.mono_chrome && reader.flag()?;
    let (mut cb_points, mut cr_points) = (0, 0);
    if !(sequence.mono_chrome || chroma_scaling_from_luma || (sequence.subsampling_x && sequence.subsampling_y && y_points == 0)) {
        cb_points = reader.bits(4)?;
        reader.skip(16 * cb_points)?;
        cr_points = reader.bits(4)?;
        reader.skip(16 * cr_points)?;
    }
    reader.skip(2)?; // grain_scaling_minus_8
    let lag = reader.bits(2)?;
    let luma_positions = 2 * lag * (lag + 1);
    let chroma_positions = luma_positions + u32::from(y_points > 0);
    if y_points > 0 {
        reader.skip(8 * luma_positions)?;
    }
    if chroma_scaling_from_luma || cb_points > 0 {
        reader.skip(8 * chroma_positions)?;
    }
    if chroma_scaling_from_luma || cr_points > 0 {
        reader.skip(8 * chroma_positions)?;
    }
    reader.skip(4)?; // ar_coeff_shift_minus_6, grain_scale_shift
    if cb_points > 0 {
        reader.skip(25)?; // cb_mult, cb_luma_mult, cb_offset
    }
    if cr_points > 0 {
        reader.skip(25)?;
    }
    reader.skip(2) // overlap_flag, clip_to_restricted_range
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits written most significant first, as AV1 reads them.
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        length: usize,
    }

    impl Bits {
        fn put(mut self, value: u32, count: u32) -> Self {
            for index in (0..count).rev() {
                if self.length.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                if (value >> index) & 1 == 1 {
                    *self.bytes.last_mut().unwrap() |= 0x80 >> (self.length % 8);
                }
                self.length += 1;
            }
            self
        }

        /// Ended by `byte_alignment()`: zeros to the next byte.
        fn aligned(self) -> Vec<u8> {
            self.bytes
        }

        /// Ended by `trailing_bits()`: a one, then zeros to the next byte.
        fn trailed(self) -> Vec<u8> {
            self.put(1, 1).bytes
        }
    }

    /// An OBU of `kind` with `obu_size` in one leb128 byte or more.
    fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![(kind << 3) | 0x02];
        let mut size = payload.len();
        loop {
            let low = (size & 0x7f) as u8;
            size >>= 7;
            bytes.push(if size > 0 { low | 0x80 } else { low });
            if size == 0 {
                break;
            }
        }
        bytes.extend_from_slice(payload);
        bytes
    }

    /// A sequence header for 128x64 frames (two 64x64 superblocks side by side), 8-bit 4:2:0,
    /// 7-bit order hints, none of the tools frame headers would signal.
    fn sequence_header() -> Vec<u8> {
        Bits::default()
            .put(0, 3) // seq_profile
            .put(0, 2) // still_picture, reduced_still_picture_header
            .put(0, 2) // timing_info_present_flag, initial_display_delay_present_flag
            .put(0, 5) // operating_points_cnt_minus_1
            .put(0, 12) // operating_point_idc[0]
            .put(0, 5) // seq_level_idx[0]
            .put(7, 4) // frame_width_bits_minus_1
            .put(6, 4) // frame_height_bits_minus_1
            .put(127, 8) // max_frame_width_minus_1
            .put(63, 7) // max_frame_height_minus_1
            .put(0, 1) // frame_id_numbers_present_flag
            .put(0, 3) // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
            .put(0, 4) // enable_interintra_compound, _masked_compound, _warped_motion, _dual_filter
            .put(0b100, 3) // enable_order_hint, enable_jnt_comp, enable_ref_frame_mvs
            .put(0, 2) // seq_choose_screen_content_tools, seq_force_screen_content_tools
            .put(6, 3) // order_hint_bits_minus_1
            .put(0, 3) // enable_superres, enable_cdef, enable_restoration
            .put(0, 3) // high_bitdepth, mono_chrome, color_description_present_flag
            .put(0, 4) // color_range, chroma_sample_position, separate_uv_delta_q
            .put(0, 1) // film_grain_params_present
            .trailed()
    }

    /// `TileSizeBytes` of the frames with two tiles.
    const TILE_SIZE_BYTES: usize = 2;

    /// A frame header from its tile info on: one tile or two side by side; base_q_idx 100,
    /// no segmentation, no loop filter; inter frames with no compound references or global
    /// motion.
    fn header_tail(bits: Bits, two_tiles: bool, inter: bool) -> Bits {
        let bits = bits.put(1, 1); // uniform_tile_spacing_flag
        let bits = if two_tiles {
            // increment_tile_cols_log2, context_update_tile_id, tile_size_bytes_minus_1
            bits.put(1, 1).put(0, 1).put(TILE_SIZE_BYTES as u32 - 1, 2)
        } else {
            bits.put(0, 1)
        };
        let bits = bits
            .put(100, 8) // base_q_idx
            .put(0, 3) // delta_q_y_dc, delta_q_u_dc, delta_q_u_ac: not coded
            .put(0, 1) // using_qmatrix
            .put(0, 1) // segmentation_enabled
            .put(0, 1) // delta_q_present
            .put(0, 12) // loop_filter_level[0], [1]
            .put(0, 4) // loop_filter_sharpness, loop_filter_delta_enabled
            .put(1, 1); // tx_mode_select
        let bits = if inter { bits.put(0, 1) } else { bits }; // reference_select
        let bits = bits.put(0, 1); // reduced_tx_set
        if inter { bits.put(0, 7) } else { bits } // is_global of each reference
    }

    /// A key frame header, shown (refreshing every slot) or not (refreshing `refresh`).
    fn key_frame_header(show: bool, refresh: u32, two_tiles: bool) -> Bits {
        let mut bits = Bits::default().put(0, 1).put(0, 2).put(u32::from(show), 1); // show_existing_frame, KEY_FRAME, show_frame
        if !show {
            bits = bits.put(1, 1).put(0, 1); // showable_frame, error_resilient_mode
        }
        bits = bits.put(0, 2).put(0, 7); // disable_cdf_update, frame_size_override_flag, order_hint
        if !show {
            bits = bits.put(refresh, 8);
        }
        bits = bits.put(0, 2); // render_and_frame_size_different, disable_frame_end_update_cdf
        header_tail(bits, two_tiles, false)
    }

    /// An inter frame header, shown or not, refreshing `refresh`, its references in `slots`.
    fn inter_frame_header(show: bool, order_hint: u32, refresh: u32, slots: [u32; 7], two_tiles: bool) -> Bits {
        let mut bits = Bits::default().put(0, 1).put(1, 2).put(u32::from(show), 1); // show_existing_frame, INTER_FRAME, show_frame
        if !show {
            bits = bits.put(1, 1); // showable_frame
        }
        bits = bits
            .put(0, 3) // error_resilient_mode, disable_cdf_update, frame_size_override_flag
            .put(order_hint, 7)
            .put(PRIMARY_REF_NONE, 3)
            .put(refresh, 8)
            .put(0, 1); // frame_refs_short_signaling
        for slot in slots {
            bits = bits.put(slot, 3); // ref_frame_idx
        }
        // render_and_frame_size_different, allow_high_precision_mv, is_filter_switchable,
        // is_motion_mode_switchable, disable_frame_end_update_cdf
        bits = bits.put(0b00100, 5);
        header_tail(bits, two_tiles, true)
    }

    /// A frame header showing the frame in `slot`.
    fn show_existing(slot: u32) -> Vec<u8> {
        obu(OBU_FRAME_HEADER, &Bits::default().put(1, 1).put(slot, 3).trailed())
    }

    /// A frame OBU: `header`, then one tile group holding `tiles` (data of these lengths);
    /// and where its tiles lie within it.
    fn frame_obu(header: Bits, tiles: &[usize]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut payload = header.aligned();
        if tiles.len() > 1 {
            payload.extend(Bits::default().put(0, 1).aligned()); // tile_start_and_end_present_flag
        }
        let ranges = tile_data(&mut payload, tiles);
        let whole = obu(OBU_FRAME, &payload);
        let header_len = whole.len() - payload.len();
        (whole, ranges.into_iter().map(|range| range.start + header_len..range.end + header_len).collect())
    }

    /// Appends tiles of these lengths, each but the last after its `tile_size_minus_1`; where
    /// each tile's data lies in `payload`.
    fn tile_data(payload: &mut Vec<u8>, tiles: &[usize]) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        for (index, length) in tiles.iter().enumerate() {
            if index + 1 < tiles.len() {
                payload.extend_from_slice(&((length - 1) as u16).to_le_bytes()[..TILE_SIZE_BYTES]);
            }
            ranges.push(payload.len()..payload.len() + length);
            payload.extend((0..*length).map(|byte| byte as u8 ^ 0x5a));
        }
        ranges
    }

    fn tiles_of(groups: &[TileGroup]) -> Vec<Range<usize>> {
        groups.iter().flat_map(|group| group.tiles.iter().cloned()).collect()
    }

    /// An `av1C` body carrying `config_obus`.
    fn config_record(config_obus: &[u8]) -> Vec<u8> {
        [&[0x81, 0x00, 0x0c, 0x00][..], config_obus].concat()
    }

    #[test]
    fn obu_sizes_are_leb128_of_any_length_and_the_last_obu_may_run_to_the_end() {
        // A temporal delimiter; padding whose size takes a padded 3-byte leb128 (5 = 0x85 0x80
        // 0x00); metadata with an extension header (temporal 5, spatial 2); and a last OBU
        // without obu_size.
        let sample = [
            vec![0x12, 0x00],
            vec![0x7a, 0x85, 0x80, 0x00, 1, 2, 3, 4, 5],
            vec![0x2e, 0xb0, 0x02, 9, 9],
            vec![0x78, 7, 7, 7],
        ]
        .concat();
        let obus = split_obus(&sample).unwrap();
        let found: Vec<_> = obus.iter().map(|obu| (obu.kind, obu.start, obu.payload_start, obu.payload, obu.layer.temporal_id, obu.layer.spatial_id)).collect();
        assert_eq!(
            found,
            vec![
                (OBU_TEMPORAL_DELIMITER, 0, 2, &[][..], 0, 0),
                (OBU_PADDING, 2, 6, &[1, 2, 3, 4, 5][..], 0, 0),
                (OBU_METADATA, 11, 14, &[9, 9][..], 5, 2),
                (OBU_PADDING, 16, 17, &[7, 7, 7][..], 0, 0),
            ]
        );
        assert_eq!(leb128(&[0xff, 0xff, 0xff, 0xff, 0x0f], 0), Ok((u32::MAX as usize, 5)), "the largest size");
        assert_eq!(Av1Stream::default().tile_groups(&sample), Ok(Vec::new()), "nothing in it is a tile");
    }

    #[test]
    fn broken_obu_framing_is_refused_naming_the_obu() {
        for (sample, why) in [
            (vec![0x12, 0x00, 0x92, 0x00], "OBU 2 (at byte 2 of 4): its forbidden bit is set"),
            (vec![0x7a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], "OBU 1 (at byte 0 of 10): its obu_size has more than 8 bytes"),
            (vec![0x7a, 0x80, 0x80, 0x80, 0x80, 0x10], "its obu_size of 4294967296 exceeds 2^32 - 1"),
            (vec![0x7a, 0x85], "its obu_size runs past the end"),
            (vec![0x7a, 0x05, 1, 2, 3], "its obu_size of 5 bytes runs past the end (3 bytes left after its header)"),
            (vec![0x7e], "its extension header is cut off"),
        ] {
            let error = Av1Stream::default().tile_groups(&sample).unwrap_err();
            assert!(error.contains(why), "{sample:02x?}: {error}");
        }
    }

    #[test]
    fn tiles_follow_the_frame_header_and_their_sizes_with_the_sequence_header_from_the_av1c_or_the_sample() {
        let (frame, tiles) = frame_obu(key_frame_header(true, 0, true), &[40, 300]);
        let (single, single_tiles) = frame_obu(key_frame_header(true, 0, false), &[33]);
        let header = obu(OBU_SEQUENCE_HEADER, &sequence_header());

        // The sequence header in the av1C; a frame of two tiles in one frame OBU.
        let mut stream = Av1Stream::from_config_record(&config_record(&header)).unwrap();
        let groups = stream.tile_groups(&frame).unwrap();
        assert_eq!(groups.len(), 1);
        let size_field = tiles[0].start - TILE_SIZE_BYTES;
        assert_eq!(groups[0].header, size_field - 1..size_field, "the tile group header: tile_start_and_end_present_flag and alignment");
        assert_eq!(groups[0].tiles, tiles);
        assert_eq!(tiles[1].end, frame.len(), "the last tile runs to the end of its OBU");

        // The sequence header in the sample: the tiles move by its OBU.
        let sample = [header.clone(), single.clone()].concat();
        let groups = Av1Stream::default().tile_groups(&sample).unwrap();
        let moved: Vec<Range<usize>> = single_tiles.iter().map(|tile| tile.start + header.len()..tile.end + header.len()).collect();
        assert_eq!(tiles_of(&groups), moved);
        assert_eq!(groups[0].header.len(), 0, "one tile: no tile group header");

        let error = Av1Stream::from_config_record(&config_record(&[])).unwrap().tile_groups(&single).unwrap_err();
        assert!(error.contains("a frame header before any sequence header"), "{error}");
        let error = Av1Stream::from_config_record(&[0x01, 0, 0, 0]).unwrap_err();
        assert!(error.contains("not an AV1CodecConfigurationRecord version 1"), "{error}");
    }

    #[test]
    fn a_frame_in_tile_groups_with_a_redundant_frame_header_between_them() {
        let mut stream = Av1Stream::default();
        let (key, _) = frame_obu(key_frame_header(true, 0, false), &[20]);
        stream.tile_groups(&[obu(OBU_SEQUENCE_HEADER, &sequence_header()), key].concat()).unwrap();

        // A frame header OBU, then each tile in a tile group of its own (tg_start, tg_end), a
        // redundant copy of the header and padding between them.
        let header = inter_frame_header(true, 1, 0x02, [0; 7], true).trailed();
        let groups = [(0, 50), (1, 17)].map(|(tile, length)| {
            let mut payload = Bits::default().put(1, 1).put(tile, 1).put(tile, 1).aligned(); // tile_start_and_end_present_flag, tg_start, tg_end
            let range = tile_data(&mut payload, &[length]).remove(0);
            (obu(OBU_TILE_GROUP, &payload), range)
        });
        let parts = [obu(OBU_FRAME_HEADER, &header), groups[0].0.clone(), obu(OBU_REDUNDANT_FRAME_HEADER, &header), obu(OBU_PADDING, &[0; 3]), groups[1].0.clone()];
        let starts: Vec<usize> = parts.iter().scan(0, |at, part| Some(std::mem::replace(at, *at + part.len()))).collect();
        let sample = parts.concat();
        let found = stream.tile_groups(&sample).unwrap();
        let expected: Vec<Range<usize>> = [(1, &groups[0].1), (4, &groups[1].1)].iter().map(|(part, range)| starts[*part] + 2 + range.start..starts[*part] + 2 + range.end).collect();
        assert_eq!(tiles_of(&found), expected);
        assert_eq!(found.iter().map(|group| group.header.clone()).collect::<Vec<_>>(), vec![starts[1] + 2..starts[1] + 3, starts[4] + 2..starts[4] + 3]);

        // The same frame with its second tile group missing, or the groups in the wrong order.
        let cut = [&parts[..2], &parts[2..4]].concat().concat();
        assert!(stream.tile_groups(&cut).unwrap_err().contains("the sample ends before tiles 1 to 1 of its last frame"));
        let swapped = [parts[0].clone(), groups[1].0.clone(), groups[0].0.clone()].concat();
        assert!(stream.tile_groups(&swapped).unwrap_err().contains("it holds tiles 1 to 1, but tile 0 of the frame's 2 comes next"));
    }

    #[test]
    fn references_persist_across_samples_through_hidden_and_shown_existing_frames() {
        let header = obu(OBU_SEQUENCE_HEADER, &sequence_header());
        let all_slots = [0, 1, 2, 3, 4, 5, 6];
        let (key, _) = frame_obu(key_frame_header(true, 0, false), &[30]);
        let (hidden, hidden_tiles) = frame_obu(inter_frame_header(false, 4, 0x02, all_slots, false), &[25]);
        let (shown, shown_tiles) = frame_obu(inter_frame_header(true, 1, 0x01, [1, 0, 0, 0, 0, 0, 0], true), &[18, 22]);

        let mut stream = Av1Stream::default();
        stream.tile_groups(&[header.clone(), key].concat()).unwrap();
        // A hidden frame and a shown one in a sample; the hidden one shown in the next.
        let sample = [hidden.clone(), shown.clone()].concat();
        let moved: Vec<Range<usize>> = shown_tiles.iter().map(|tile| tile.start + hidden.len()..tile.end + hidden.len()).collect();
        assert_eq!(tiles_of(&stream.tile_groups(&sample).unwrap()), [hidden_tiles.clone(), moved].concat());
        assert_eq!(stream.tile_groups(&show_existing(1)).unwrap(), Vec::new());

        // A track that starts with an inter frame has nothing in its reference slots.
        let error = Av1Stream::default().tile_groups(&[header.clone(), hidden.clone()].concat()).unwrap_err();
        assert!(error.contains("reference 1 of the frame is slot 0, which holds no frame"), "{error}");
        let error = Av1Stream::default().tile_groups(&[header.clone(), show_existing(3)].concat()).unwrap_err();
        assert!(error.contains("it shows the frame in reference slot 3, which holds none"), "{error}");

        // A hidden key frame in slot 5 only; shown, it fills every slot, so an inter frame
        // may refer to any.
        let (hidden_key, _) = frame_obu(key_frame_header(false, 0x20, false), &[40]);
        let mut stream = Av1Stream::default();
        stream.tile_groups(&[header.clone(), hidden_key].concat()).unwrap();
        assert!(stream.tile_groups(&hidden).unwrap_err().contains("slot 0, which holds no frame"));
        stream.tile_groups(&show_existing(5)).unwrap();
        assert_eq!(tiles_of(&stream.tile_groups(&hidden).unwrap()), hidden_tiles);
    }

    #[test]
    fn short_signalled_references_are_chosen_as_the_set_frame_refs_process_does() {
        let sequence = read_sequence_header(&sequence_header()).unwrap();
        let slots = |hints: [u32; NUM_REF_FRAMES]| hints.map(|order_hint| ReferenceFrame { valid: true, order_hint, ..ReferenceFrame::default() });
        // Worked by hand from §7.8, the result in LAST, LAST2, LAST3, GOLDEN, BWDREF, ALTREF2,
        // ALTREF order. The frame at 15: ALTREF the latest frame after it (slot 4, at 20),
        // BWDREF and ALTREF2 the next earliest after it (slots 3 and 7), LAST2 and LAST3 the
        // latest before it not yet taken (slots 1 and 0).
        assert_eq!(set_frame_refs(&sequence, &slots([10, 12, 14, 16, 20, 8, 6, 18]), 2, 6, 15), [2, 1, 0, 6, 3, 7, 4]);
        // Every slot holding the same earlier frame: equal hints go to the later slot.
        assert_eq!(set_frame_refs(&sequence, &slots([10; 8]), 0, 1, 11), [0, 7, 6, 1, 5, 4, 3]);
        // No earlier frame left for LAST2 and LAST3: they take the earliest slot (GOLDEN's).
        assert_eq!(set_frame_refs(&sequence, &slots([9, 5, 11, 12, 13, 14, 15, 16]), 0, 1, 10), [0, 1, 1, 1, 2, 3, 7]);
        // Order hints wrap at 7 bits: for the frame at 1, 123 to 127 and 0 come before it, 2
        // and 3 after: ALTREF 3, BWDREF 2, no third later frame, so ALTREF2 joins LAST2 and
        // LAST3 in taking the latest earlier ones (0, then 126, then 125).
        assert_eq!(set_frame_refs(&sequence, &slots([126, 127, 2, 3, 0, 125, 124, 123]), 1, 7, 1), [1, 4, 0, 7, 2, 5, 3]);
    }

    #[test]
    fn obus_out_of_place_are_refused() {
        let header = obu(OBU_SEQUENCE_HEADER, &sequence_header());
        let (key, _) = frame_obu(key_frame_header(true, 0, true), &[20, 20]);
        let existing_in_frame_obu = obu(OBU_FRAME, &Bits::default().put(1, 1).put(0, 3).aligned());
        let key_header = obu(OBU_FRAME_HEADER, &key_frame_header(true, 0, true).trailed());
        for (sample, why) in [
            ([header.clone(), obu(OBU_TILE_GROUP, &[0; 8])].concat(), "OBU 2 (tile group, at byte"),
            ([header.clone(), obu(OBU_TILE_GROUP, &[0; 8])].concat(), "a tile group without a frame header before it"),
            ([header.clone(), key.clone(), existing_in_frame_obu].concat(), "a frame OBU with show_existing_frame set"),
            ([header.clone(), key_header, key.clone()].concat(), "a frame OBU while the previous frame still lacks tiles 0 to 1"),
            ([header.clone(), obu(OBU_TILE_LIST, &[0; 4])].concat(), "tile list OBUs are not allowed in ISOBMFF"),
            ([header.clone(), obu(OBU_FRAME_HEADER, &key_frame_header(true, 0, true).aligned())].concat(), "its frame header is not followed by trailing bits"),
            (obu(OBU_SEQUENCE_HEADER, &[0xe0; 4]), "seq_profile 7 is reserved"),
        ] {
            let error = Av1Stream::default().tile_groups(&sample).unwrap_err();
            assert!(error.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn cut_or_garbled_samples_are_refused_without_panicking() {
        let header = obu(OBU_SEQUENCE_HEADER, &sequence_header());
        let (key, _) = frame_obu(key_frame_header(true, 0, true), &[60, 45]);
        let (inter, _) = frame_obu(inter_frame_header(true, 1, 0x01, [0; 7], true), &[30, 20]);
        let sample = [header.clone(), key.clone(), inter].concat();
        let mut stream = Av1Stream::default();
        assert_eq!(tiles_of(&stream.tile_groups(&sample).unwrap()).len(), 4);

        // Cut anywhere but between OBUs, the sample is refused.
        let boundaries = [header.len(), header.len() + key.len()];
        for length in 0..sample.len() {
            let result = Av1Stream::default().tile_groups(&sample[..length]);
            assert_eq!(result.is_ok(), length == 0 || boundaries.contains(&length), "cut at {length}: {result:?}");
        }
        // Any bit flipped or byte replaced: an answer either way, never a panic.
        for index in 0..sample.len() {
            for change in (0..8).map(|bit| 1u8 << bit).chain([0xff]) {
                let mut garbled = sample.clone();
                garbled[index] ^= change;
                let _ = Av1Stream::default().tile_groups(&garbled);
                let _ = stream.clone().tile_groups(&garbled);
            }
        }
        // Noise, as OBUs of every type: refused, never a panic.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let noise: Vec<u8> = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            for kind in [OBU_SEQUENCE_HEADER, OBU_FRAME_HEADER, OBU_FRAME, OBU_TILE_GROUP] {
                let _ = stream.clone().tile_groups(&obu(kind, &noise));
                let _ = Av1Stream::from_config_record(&config_record(&obu(kind, &noise)));
            }
        }
    }
}
