//! ffmpeg's pixel-format names as the decoders use them: the raw 4:2:0 layout the kernels read
//! at each bit depth, and the depth a stream of a given format is decoded to.

/// ffmpeg's name of the raw 4:2:0 layout the kernels read at `bit_depth` (little-endian words
/// above 8 bits).
pub fn raw_pixel_format(bit_depth: u8) -> &'static str {
    match bit_depth {
        0..=8 => "yuv420p",
        9..=10 => "yuv420p10le",
        11..=12 => "yuv420p12le",
        _ => "yuv420p16le",
    }
}

/// Bit depth a stream of this ffmpeg pixel format is decoded to: 8, 10, 12 or 16.
pub fn decode_depth_of_pixel_format(pixel_format: &str) -> u8 {
    // Names such as yuv420p10le, yuv444p12be, p010le, gray10le, yuv420p.
    let digits: String = pixel_format
        .trim_end_matches("le")
        .trim_end_matches("be")
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let bits = match pixel_format {
        "p010le" | "p010be" => 10,
        "p016le" | "p016be" => 16,
        _ if pixel_format.starts_with("yuv") || pixel_format.starts_with("gray") => digits.parse::<u8>().unwrap_or(8),
        _ => 8,
    };
    match bits {
        0..=8 => 8,
        9..=10 => 10,
        11..=12 => 12,
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pix_fmt_depths() {
        assert_eq!(decode_depth_of_pixel_format("yuv420p"), 8);
        assert_eq!(decode_depth_of_pixel_format("yuvj420p"), 8);
        assert_eq!(decode_depth_of_pixel_format("yuv420p10le"), 10);
        assert_eq!(decode_depth_of_pixel_format("yuv422p12be"), 12);
        assert_eq!(decode_depth_of_pixel_format("p010le"), 10);
        assert_eq!(decode_depth_of_pixel_format("rgb24"), 8);
    }

    #[test]
    fn raw_layouts_follow_the_depth() {
        assert_eq!([8, 10, 12, 16].map(raw_pixel_format), ["yuv420p", "yuv420p10le", "yuv420p12le", "yuv420p16le"]);
    }
}
