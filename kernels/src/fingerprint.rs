//! Perceptual frame fingerprints: the evidence that an encoded rendition holds exactly the
//! source's frames, in order.
//!
//! A fingerprint is the luma plane reduced to a [`GRID_WIDTH`]×[`GRID_HEIGHT`] grid of block
//! means (area averaging, 8-bit). Block means survive lossy compression (the encoder keeps low
//! frequencies) and scaling (every rendition is reduced to the same grid), while moving content
//! changes them from one frame to the next. Both sides of a comparison must come from frames
//! decoded and area-scaled the same way (the agent decodes to a small gray frame first).
//!
//! Two sequences of fingerprints are compared frame by frame in [`crate::frame_sequence`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Columns of the block grid.
pub const GRID_WIDTH: usize = 16;
/// Rows of the block grid.
pub const GRID_HEIGHT: usize = 9;
/// Bytes in one fingerprint.
pub const FINGERPRINT_LEN: usize = GRID_WIDTH * GRID_HEIGHT;

/// Why a frame could not be fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("frame is {width}x{height}; a fingerprint needs at least {GRID_WIDTH}x{GRID_HEIGHT} pixels")]
    FrameTooSmall { width: usize, height: usize },
    #[error("luma plane has {found} bytes; {width}x{height} needs {expected}")]
    PlaneSize { width: usize, height: usize, expected: usize, found: usize },
    #[error("fingerprint text has {found} hex digits; expected {expected}")]
    HexLength { expected: usize, found: usize },
    #[error("fingerprint text has a non-hex character at position {position}")]
    HexDigit { position: usize },
}

/// The block means of one frame, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Fingerprint {
    /// Fingerprints an 8-bit luma plane of `width`×`height` pixels, rows packed (no padding).
    pub fn of_luma(luma: &[u8], width: usize, height: usize) -> Result<Self, FingerprintError> {
        if width < GRID_WIDTH || height < GRID_HEIGHT {
            return Err(FingerprintError::FrameTooSmall { width, height });
        }
        let expected = width * height;
        if luma.len() != expected {
            return Err(FingerprintError::PlaneSize { width, height, expected, found: luma.len() });
        }
        let mut cells = [0u8; FINGERPRINT_LEN];
        for row in 0..GRID_HEIGHT {
            let y0 = row * height / GRID_HEIGHT;
            let y1 = (row + 1) * height / GRID_HEIGHT;
            for col in 0..GRID_WIDTH {
                let x0 = col * width / GRID_WIDTH;
                let x1 = (col + 1) * width / GRID_WIDTH;
                let mut sum: u64 = 0;
                for y in y0..y1 {
                    let line = &luma[y * width + x0..y * width + x1];
                    sum += line.iter().map(|&p| u64::from(p)).sum::<u64>();
                }
                let count = ((y1 - y0) * (x1 - x0)) as u64;
                // Rounded mean; count > 0 because width >= GRID_WIDTH and height >= GRID_HEIGHT.
                cells[row * GRID_WIDTH + col] = ((sum + count / 2) / count) as u8;
            }
        }
        Ok(Self(cells))
    }

    /// Mean absolute difference of the block means, in 8-bit luma levels (0 = identical).
    pub fn distance(&self, other: &Fingerprint) -> f32 {
        let total: u32 = self.0.iter().zip(other.0.iter()).map(|(&a, &b)| u32::from(a.abs_diff(b))).sum();
        total as f32 / FINGERPRINT_LEN as f32
    }

    /// Lowercase hex, two digits per cell: the form fingerprints take in JSON artifacts.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(FINGERPRINT_LEN * 2);
        for &cell in &self.0 {
            text.push(DIGITS[usize::from(cell >> 4)] as char);
            text.push(DIGITS[usize::from(cell & 0xf)] as char);
        }
        text
    }

    /// Parses the output of [`Fingerprint::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self, FingerprintError> {
        let bytes = text.as_bytes();
        if bytes.len() != FINGERPRINT_LEN * 2 {
            return Err(FingerprintError::HexLength { expected: FINGERPRINT_LEN * 2, found: bytes.len() });
        }
        let nibble = |position: usize| -> Result<u8, FingerprintError> {
            match bytes[position] {
                c @ b'0'..=b'9' => Ok(c - b'0'),
                c @ b'a'..=b'f' => Ok(c - b'a' + 10),
                c @ b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(FingerprintError::HexDigit { position }),
            }
        };
        let mut cells = [0u8; FINGERPRINT_LEN];
        for (index, cell) in cells.iter_mut().enumerate() {
            *cell = (nibble(index * 2)? << 4) | nibble(index * 2 + 1)?;
        }
        Ok(Self(cells))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Fingerprint::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Synthetic frames for tests: a bar that moves one grid cell per frame.
#[cfg(test)]
pub(crate) mod test_frames {
    use super::*;

    /// A frame whose content depends on `phase`: a bright bar that moves one grid cell per step.
    pub(crate) fn moving_bar(phase: usize, width: usize, height: usize) -> Vec<u8> {
        let bar = (phase * width / GRID_WIDTH) % width;
        let bar_width = width / GRID_WIDTH * 2;
        let mut frame = vec![32u8; width * height];
        for y in 0..height {
            for x in 0..width {
                if x >= bar && x < bar + bar_width {
                    frame[y * width + x] = 220;
                } else {
                    frame[y * width + x] = (32 + (x * 64 / width) + (y * 32 / height)) as u8;
                }
            }
        }
        frame
    }

    pub(crate) fn sequence(frames: usize) -> Vec<Fingerprint> {
        (0..frames).map(|phase| Fingerprint::of_luma(&moving_bar(phase, 128, 72), 128, 72).unwrap()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_frames::moving_bar;
    use super::*;

    #[test]
    fn hex_round_trips() {
        let print = Fingerprint::of_luma(&moving_bar(3, 128, 72), 128, 72).unwrap();
        assert_eq!(Fingerprint::from_hex(&print.to_hex()).unwrap(), print);
        assert!(matches!(Fingerprint::from_hex("zz"), Err(FingerprintError::HexLength { .. })));
        let mut bad = print.to_hex();
        bad.replace_range(10..11, "g");
        assert_eq!(Fingerprint::from_hex(&bad), Err(FingerprintError::HexDigit { position: 10 }));
    }

    #[test]
    fn rejects_wrong_plane_sizes() {
        assert!(matches!(Fingerprint::of_luma(&[0; 8], 8, 1), Err(FingerprintError::FrameTooSmall { .. })));
        assert!(matches!(Fingerprint::of_luma(&[0; 10], 16, 9), Err(FingerprintError::PlaneSize { found: 10, .. })));
    }

    #[test]
    fn is_stable_under_scaling() {
        // The same picture at two sizes (nearest-neighbour doubled) gives the same fingerprint.
        let small = moving_bar(5, 64, 36);
        let mut large = vec![0u8; 128 * 72];
        for y in 0..72 {
            for x in 0..128 {
                large[y * 128 + x] = small[(y / 2) * 64 + x / 2];
            }
        }
        let a = Fingerprint::of_luma(&small, 64, 36).unwrap();
        let b = Fingerprint::of_luma(&large, 128, 72).unwrap();
        assert!(a.distance(&b) < 0.5, "distance {}", a.distance(&b));
    }

}
