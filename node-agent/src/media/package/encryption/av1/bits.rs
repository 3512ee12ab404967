//! Reading an OBU's payload bit by bit, most significant first, with the AV1 spec's
//! descriptors (§4.10) and its helper functions; every read checked against the payload's end.

/// A bit reader over one OBU payload (§4.10, §8.1: most significant bit first); reading past
/// its end is an error naming what was being read.
pub(super) struct BitReader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) position: usize,
    /// What is being read, for the error when the payload ends first.
    pub(super) reading: &'static str,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(bytes: &'a [u8], reading: &'static str) -> Self {
        BitReader { bytes, position: 0, reading }
    }

    pub(super) fn past_the_end(&self) -> String {
        format!("its {} runs past the end of the OBU's {} bytes", self.reading, self.bytes.len())
    }

    pub(super) fn bit(&mut self) -> Result<u32, String> {
        let byte = self.bytes.get(self.position / 8).ok_or_else(|| self.past_the_end())?;
        let bit = (byte >> (7 - self.position % 8)) & 1;
        self.position += 1;
        Ok(u32::from(bit))
    }

    /// `f(n)`, n at most 32.
    pub(super) fn bits(&mut self, count: u32) -> Result<u32, String> {
        (0..count).try_fold(0u32, |value, _| Ok((value << 1) | self.bit()?))
    }

    pub(super) fn flag(&mut self) -> Result<bool, String> {
        Ok(self.bit()? == 1)
    }

    pub(super) fn skip(&mut self, count: u32) -> Result<(), String> {
        let end = self.position + count as usize;
        if end > self.bytes.len() * 8 {
            return Err(self.past_the_end());
        }
        self.position = end;
        Ok(())
    }

    /// `su(n)` (§4.10.6).
    pub(super) fn signed(&mut self, count: u32) -> Result<i32, String> {
        let value = i64::from(self.bits(count)?);
        let sign = 1i64 << (count - 1);
        Ok((if value & sign != 0 { value - 2 * sign } else { value }) as i32)
    }

    /// `ns(n)` (§4.10.7): a value below `n`.
    pub(super) fn non_symmetric(&mut self, n: u32) -> Result<u32, String> {
        let width = floor_log2(n) + 1;
        let m = (1u64 << width) - u64::from(n);
        let value = u64::from(self.bits(width - 1)?);
        if value < m {
            return Ok(value as u32);
        }
        Ok(((value << 1) - m + u64::from(self.bit()?)) as u32)
    }

    /// `uvlc()` (§4.10.3), its value not needed.
    pub(super) fn skip_uvlc(&mut self) -> Result<(), String> {
        let mut leading_zeros = 0;
        while !self.flag()? {
            leading_zeros += 1;
        }
        if leading_zeros < 32 { self.skip(leading_zeros) } else { Ok(()) }
    }

    /// `byte_alignment()` (§5.3.5): zero bits to the next byte.
    pub(super) fn byte_alignment(&mut self) -> Result<(), String> {
        while !self.position.is_multiple_of(8) {
            if self.flag()? {
                return Err(format!("a bit of the byte alignment after its {} is set: the header does not end where it was read to end", self.reading));
            }
        }
        Ok(())
    }

    /// `trailing_bits()` (§5.3.4) to the end of the payload: a one, then zeros.
    pub(super) fn trailing_bits(&mut self) -> Result<(), String> {
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
    pub(super) fn byte_position(&self) -> usize {
        self.position.div_ceil(8)
    }
}

pub(super) fn floor_log2(value: u32) -> u32 {
    31 - value.max(1).leading_zeros()
}

/// `tile_log2(blkSize, target)` (§5.9.16): the smallest k with `blkSize << k >= target`.
pub(super) fn tile_log2(block_size: u32, target: u32) -> u32 {
    let mut k = 0;
    while (u64::from(block_size) << k) < u64::from(target) {
        k += 1;
    }
    k
}
