//! The frame header (AV1 §5.9): the uncompressed header read field by field to its end,
//! and the reference slots' state it reads and updates across frames.

use super::bits::{BitReader, tile_log2};
use super::obu::Layer;
use super::sequence_header::{SequenceChoice, SequenceHeader};

/// Reference slots (`NUM_REF_FRAMES`) and the references a frame names (`REFS_PER_FRAME`).
pub(super) const NUM_REF_FRAMES: usize = 8;
pub(super) const REFS_PER_FRAME: usize = 7;
/// `refresh_frame_flags` refreshing every slot.
pub(super) const ALL_FRAMES: u32 = 0xff;
/// `primary_ref_frame` naming none.
pub(super) const PRIMARY_REF_NONE: u32 = 7;
pub(super) const MAX_SEGMENTS: usize = 8;
/// The segmentation features' value bits and whether they are signed (§5.9.14,
/// `Segmentation_Feature_Bits` and `_Signed`); feature 0 is the quantizer delta
/// (`SEG_LVL_ALT_Q`), its `Segmentation_Feature_Max` 255.
pub(super) const SEGMENT_FEATURE_BITS: [u32; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
pub(super) const SEGMENT_FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
pub(super) const SEGMENT_ALT_Q_MAX: i32 = 255;
/// Tile limits (§3).
pub(super) const MAX_TILE_WIDTH: u32 = 4096;
pub(super) const MAX_TILE_AREA: u32 = 4096 * 2304;
pub(super) const MAX_TILE_ROWS: u32 = 64;
pub(super) const MAX_TILE_COLS: u32 = 64;

/// `frame_type` (§6.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum FrameType {
    #[default]
    Key,
    Inter,
    IntraOnly,
    Switch,
}

/// The quantizer delta (`SEG_LVL_ALT_Q`) of each segment that has one.
pub(super) type SegmentQuantizerDeltas = [Option<i32>; MAX_SEGMENTS];

/// What a reference slot keeps that later frame headers read (§7.20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ReferenceFrame {
    /// `RefValid`.
    pub(super) valid: bool,
    pub(super) frame_type: FrameType,
    pub(super) order_hint: u32,
    pub(super) upscaled_width: u32,
    pub(super) frame_height: u32,
    pub(super) segment_quantizer_deltas: SegmentQuantizerDeltas,
}

/// `tile_info` (§5.9.15): the frame's tile grid and the size of each `tile_size_minus_1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tiling {
    pub(super) columns: u32,
    pub(super) rows: u32,
    pub(super) columns_log2: u32,
    pub(super) rows_log2: u32,
    /// `TileSizeBytes` (unused with one tile).
    pub(super) size_bytes: usize,
}

impl Tiling {
    pub(super) fn count(&self) -> u32 {
        self.columns * self.rows
    }
}

/// A frame whose header was read: its tiles, which of them come next, and what the
/// reference update stores once its last tile is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameInProgress {
    pub(super) tiling: Tiling,
    pub(super) next_tile: u32,
    pub(super) refresh_frame_flags: u32,
    pub(super) decoded: ReferenceFrame,
}

pub(super) enum FrameHeader {
    /// `show_existing_frame`: the slot shown.
    ShowExisting { slot: usize },
    New(FrameInProgress),
}

/// The frame's size: `UpscaledWidth`, `FrameWidth` (after superres) and `FrameHeight`.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameSize {
    pub(super) upscaled_width: u32,
    pub(super) frame_width: u32,
    pub(super) frame_height: u32,
}

/// `uncompressed_header` (§5.9.2). Changes `references` as the header does (a shown key
/// frame empties them; an error-resilient frame's `ref_order_hint` may invalidate some).
pub(super) fn read_uncompressed_header(reader: &mut BitReader<'_>, sequence: &SequenceHeader, references: &mut [ReferenceFrame; NUM_REF_FRAMES], layer: Layer) -> Result<FrameHeader, String> {
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
pub(super) fn read_frame_size(reader: &mut BitReader<'_>, sequence: &SequenceHeader, frame_size_override_flag: bool) -> Result<FrameSize, String> {
    let (width, frame_height) = if frame_size_override_flag {
        (reader.bits(sequence.frame_width_bits)? + 1, reader.bits(sequence.frame_height_bits)? + 1)
    } else {
        (sequence.max_frame_width, sequence.max_frame_height)
    };
    read_superres_params(reader, sequence, width, frame_height)
}

/// `superres_params` (§5.9.8): the coded width of a frame `upscaled_width` wide.
pub(super) fn read_superres_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader, upscaled_width: u32, frame_height: u32) -> Result<FrameSize, String> {
    const SUPERRES_NUM: u32 = 8;
    let denominator = if sequence.enable_superres && reader.flag()? { reader.bits(3)? + 9 } else { SUPERRES_NUM };
    let frame_width = (upscaled_width * SUPERRES_NUM + denominator / 2) / denominator;
    Ok(FrameSize { upscaled_width, frame_width, frame_height })
}

/// `render_size` (§5.9.6): nothing in it changes what follows.
pub(super) fn skip_render_size(reader: &mut BitReader<'_>) -> Result<(), String> {
    if reader.flag()? {
        reader.skip(32)?; // render_width_minus_1, render_height_minus_1
    }
    Ok(())
}

/// `frame_size_with_refs` (§5.9.7): a reference's size, or one of its own.
pub(super) fn read_frame_size_with_refs(reader: &mut BitReader<'_>, sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], ref_frame_idx: &[usize; REFS_PER_FRAME]) -> Result<FrameSize, String> {
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
pub(super) fn set_frame_refs(sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], last: usize, gold: usize, order_hint: u32) -> [usize; REFS_PER_FRAME] {
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
pub(super) fn read_tile_info(reader: &mut BitReader<'_>, sequence: &SequenceHeader, mi_cols: u32, mi_rows: u32) -> Result<Tiling, String> {
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
pub(super) struct Quantizer {
    pub(super) base_q_idx: u32,
    /// `DeltaQYDc`, `DeltaQUDc`, `DeltaQUAc`, `DeltaQVDc` and `DeltaQVAc` are all 0.
    pub(super) dc_and_chroma_deltas_zero: bool,
}

pub(super) fn read_quantization_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<Quantizer, String> {
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
pub(super) fn read_segmentation_params(reader: &mut BitReader<'_>, no_primary_reference: bool, deltas: &mut SegmentQuantizerDeltas) -> Result<(), String> {
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
pub(super) fn skip_loop_filter_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
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
pub(super) fn skip_cdef_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
    reader.skip(2)?; // cdef_damping_minus_3
    let strengths = 1 << reader.bits(2)?;
    let bits = if sequence.num_planes() > 1 { 12 } else { 6 };
    reader.skip(strengths * bits)
}

/// `lr_params` (§5.9.20), when the frame has them.
pub(super) fn skip_lr_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader) -> Result<(), String> {
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
pub(super) fn skip_mode_allowed(sequence: &SequenceHeader, references: &[ReferenceFrame; NUM_REF_FRAMES], ref_frame_idx: &[usize; REFS_PER_FRAME], order_hint: u32) -> bool {
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
pub(super) fn skip_global_motion_params(reader: &mut BitReader<'_>, allow_high_precision_mv: bool) -> Result<(), String> {
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
pub(super) fn skip_subexp(reader: &mut BitReader<'_>, symbols: u32) -> Result<(), String> {
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
pub(super) fn skip_film_grain_params(reader: &mut BitReader<'_>, sequence: &SequenceHeader, frame_type: FrameType) -> Result<(), String> {
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
