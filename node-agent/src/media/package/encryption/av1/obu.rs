//! A sample's OBUs (AV1 §5.3): their headers, `obu_size` as leb128 (§4.10.5), and the
//! OBU types this reader knows.

/// OBU types (§6.2.2).
pub(super) const OBU_SEQUENCE_HEADER: u8 = 1;
pub(super) const OBU_TEMPORAL_DELIMITER: u8 = 2;
pub(super) const OBU_FRAME_HEADER: u8 = 3;
pub(super) const OBU_TILE_GROUP: u8 = 4;
pub(super) const OBU_METADATA: u8 = 5;
pub(super) const OBU_FRAME: u8 = 6;
pub(super) const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
pub(super) const OBU_TILE_LIST: u8 = 8;
pub(super) const OBU_PADDING: u8 = 15;

/// An OBU of a sample: its type, layer, where it starts and its payload.
pub(super) struct Obu<'a> {
    pub(super) kind: u8,
    pub(super) layer: Layer,
    /// Offset of its header in the sample.
    pub(super) start: usize,
    /// Offset of its payload in the sample.
    pub(super) payload_start: usize,
    pub(super) payload: &'a [u8],
}

/// An OBU's `temporal_id` and `spatial_id` (§5.3.3; 0 without an extension header).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Layer {
    pub(super) temporal_id: u32,
    pub(super) spatial_id: u32,
}

/// The OBUs of `bytes` (§5.3.1): each with `obu_size`, but for a last one without it, which
/// runs to the end.
pub(super) fn split_obus(bytes: &[u8]) -> Result<Vec<Obu<'_>>, String> {
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
pub(super) fn leb128(bytes: &[u8], at: usize) -> Result<(usize, usize), String> {
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

pub(super) fn obu_type_name(kind: u8) -> &'static str {
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
