//! The sequence header OBU (AV1 §5.5): what later frame headers read from it.

use super::bits::BitReader;

/// What the sequence header says that frame headers depend on (§5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SequenceHeader {
    pub(super) reduced_still_picture_header: bool,
    /// `decoder_model_info`, when present.
    pub(super) decoder_model: Option<DecoderModel>,
    /// `timing_info`'s `equal_picture_interval` (false without timing info).
    pub(super) equal_picture_interval: bool,
    pub(super) operating_points: Vec<OperatingPoint>,
    pub(super) frame_width_bits: u32,
    pub(super) frame_height_bits: u32,
    pub(super) max_frame_width: u32,
    pub(super) max_frame_height: u32,
    pub(super) frame_ids: Option<FrameIdLengths>,
    pub(super) use_128x128_superblock: bool,
    pub(super) enable_warped_motion: bool,
    /// `OrderHintBits`: 0 when `enable_order_hint` is off.
    pub(super) order_hint_bits: u32,
    pub(super) enable_ref_frame_mvs: bool,
    pub(super) screen_content_tools: SequenceChoice,
    pub(super) integer_mv: SequenceChoice,
    pub(super) enable_superres: bool,
    pub(super) enable_cdef: bool,
    pub(super) enable_restoration: bool,
    pub(super) mono_chrome: bool,
    pub(super) subsampling_x: bool,
    pub(super) subsampling_y: bool,
    pub(super) separate_uv_delta_q: bool,
    pub(super) film_grain_params_present: bool,
}

/// `decoder_model_info` (§5.5.4): the lengths of the fields frame headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DecoderModel {
    pub(super) buffer_removal_time_length: u32,
    pub(super) frame_presentation_time_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OperatingPoint {
    pub(super) idc: u32,
    pub(super) decoder_model_present: bool,
}

/// `frame_id_numbers_present_flag`'s lengths: `delta_frame_id_minus_1` and frame ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameIdLengths {
    pub(super) delta: u32,
    pub(super) id: u32,
}

/// A tool the sequence either fixes for every frame or lets each frame header choose
/// (`SELECT_SCREEN_CONTENT_TOOLS`, `SELECT_INTEGER_MV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SequenceChoice {
    PerFrame,
    Fixed(bool),
}

impl SequenceHeader {
    pub(super) fn num_planes(&self) -> u32 {
        if self.mono_chrome { 1 } else { 3 }
    }

    /// `get_relative_dist` (§5.9.3).
    pub(super) fn relative_distance(&self, a: u32, b: u32) -> i64 {
        if self.order_hint_bits == 0 {
            return 0;
        }
        let diff = i64::from(a) - i64::from(b);
        let m = 1i64 << (self.order_hint_bits - 1);
        (diff & (m - 1)) - (diff & m)
    }
}

/// `sequence_header_obu` (§5.5.1), its trailing bits checked.
pub(super) fn read_sequence_header(payload: &[u8]) -> Result<SequenceHeader, String> {
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
