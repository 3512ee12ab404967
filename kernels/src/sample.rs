//! The two sample types a plane can hold: `u8` (8-bit video) and `u16` (9 to 16 bits).

/// A pixel sample. Kernels are generic over it and widen to `u32`/`i32` at once.
pub trait Sample: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    /// The sample as an unsigned 32-bit value.
    fn to_u32(self) -> u32;
    /// The sample as a signed 32-bit value.
    fn to_i32(self) -> i32 {
        self.to_u32() as i32
    }
    /// The samples as bytes when `Self` is `u8` (for the 8-bit SIMD paths), else `None`.
    fn as_u8(data: &[Self]) -> Option<&[u8]> {
        let _ = data;
        None
    }
    /// The samples as 16-bit words when `Self` is `u16` (for the high-depth SIMD paths).
    fn as_u16(data: &[Self]) -> Option<&[u16]> {
        let _ = data;
        None
    }
}

impl Sample for u8 {
    #[inline(always)]
    fn to_u32(self) -> u32 {
        u32::from(self)
    }
    fn as_u8(data: &[Self]) -> Option<&[u8]> {
        Some(data)
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn to_u32(self) -> u32 {
        u32::from(self)
    }
    fn as_u16(data: &[Self]) -> Option<&[u16]> {
        Some(data)
    }
}
