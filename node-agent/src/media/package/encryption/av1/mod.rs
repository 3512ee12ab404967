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
//!
//! | module | what |
//! | --- | --- |
//! | [`obu`] | a sample's OBUs and their types |
//! | [`bits`] | the bit reader and the spec's descriptors |
//! | [`sequence_header`] | the sequence header |
//! | [`frame_header`] | the frame header and the reference slots |

mod bits;
mod frame_header;
mod obu;
mod sequence_header;

use std::ops::Range;

use self::bits::BitReader;
use self::frame_header::{FrameHeader, FrameInProgress, FrameType, NUM_REF_FRAMES, ReferenceFrame, read_uncompressed_header};
use self::obu::{Layer, OBU_FRAME, OBU_FRAME_HEADER, OBU_REDUNDANT_FRAME_HEADER, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, OBU_TILE_GROUP, OBU_TILE_LIST, Obu, obu_type_name, split_obus};
use self::sequence_header::{SequenceHeader, read_sequence_header};

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


#[cfg(test)]
mod tests {
    use super::frame_header::{PRIMARY_REF_NONE, set_frame_refs};
    use super::obu::{OBU_METADATA, OBU_PADDING, leb128};
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

