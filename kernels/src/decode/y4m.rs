//! A YUV4MPEG2 (`.y4m`) reader for 4:2:0 streams, 8-bit and high bit depth.
//!
//! Header: `YUV4MPEG2 W<w> H<h> [F..] [I..] [A..] [C<colorspace>] [X..]`, then frames, each
//! `FRAME[ params]\n` followed by the raw planes (little-endian 16-bit words above 8 bits).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::decode::decode_error::DecodeError;
use crate::frame::{Frame, FrameFormat};
use crate::decode::frame_pool::FramePool;
use crate::decode::frame_source::FrameSource;

/// Longest header or frame line accepted; real ones are under 100 bytes.
const MAX_LINE: usize = 4096;

/// Reads frames from any byte stream holding y4m.
pub struct Y4mReader<R> {
    input: BufReader<R>,
    format: FrameFormat,
    source_name: String,
    frames_read: u64,
    /// One raw frame of a high bit depth stream (empty at 8 bits).
    raw: Vec<u8>,
    /// Frames given back by the consumer, decoded into again.
    pool: FramePool,
}

impl<R> std::fmt::Debug for Y4mReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Y4mReader")
            .field("format", &self.format)
            .field("source_name", &self.source_name)
            .field("frames_read", &self.frames_read)
            .finish()
    }
}

impl Y4mReader<File> {
    /// Opens a `.y4m` file and reads its header.
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        let file = File::open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                DecodeError::NotFound { path: path.to_path_buf() }
            } else {
                DecodeError::Io { path: path.to_path_buf(), source }
            }
        })?;
        Self::new(file, path.display().to_string())
    }
}

fn read_line<R: Read>(input: &mut BufReader<R>, source_name: &str) -> Result<Option<Vec<u8>>, DecodeError> {
    let mut line = Vec::new();
    let io_err = |source| DecodeError::Io { path: source_name.into(), source };
    let n = input.by_ref().take(MAX_LINE as u64).read_until(b'\n', &mut line).map_err(io_err)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(DecodeError::BadY4mHeader {
            source_name: source_name.into(),
            detail: format!("line without end of line after {} bytes", line.len()),
        });
    }
    line.pop();
    Ok(Some(line))
}

/// Bit depth from a y4m `C` tag, or `None` if it is not a 4:2:0 layout.
fn bit_depth_of_colorspace(tag: &str) -> Option<u8> {
    match tag {
        "420" | "420jpeg" | "420paldv" | "420mpeg2" => Some(8),
        "420p9" => Some(9),
        "420p10" => Some(10),
        "420p12" => Some(12),
        "420p14" => Some(14),
        "420p16" => Some(16),
        _ => None,
    }
}

impl<R: Read + Send> Y4mReader<R> {
    /// Reads the stream header from `input`; `source_name` is used in errors.
    pub fn new(input: R, source_name: String) -> Result<Self, DecodeError> {
        let mut input = BufReader::with_capacity(1 << 20, input);
        let bad = |detail: String| DecodeError::BadY4mHeader { source_name: source_name.clone(), detail };
        let line = read_line(&mut input, &source_name)?.ok_or_else(|| bad("empty input".into()))?;
        let text = String::from_utf8_lossy(&line);
        let mut tokens = text.split(' ').filter(|t| !t.is_empty());
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(bad("does not start with YUV4MPEG2".into()));
        }
        let (mut width, mut height, mut bit_depth) = (None, None, 8u8);
        for token in tokens {
            let (tag, value) = token.split_at(1);
            match tag {
                "W" => width = value.parse::<usize>().ok(),
                "H" => height = value.parse::<usize>().ok(),
                "C" => {
                    bit_depth = bit_depth_of_colorspace(value).ok_or_else(|| {
                        DecodeError::UnsupportedY4mColorspace {
                            source_name: source_name.clone(),
                            colorspace: value.to_string(),
                        }
                    })?;
                }
                _ => {}
            }
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Err(bad(format!("no valid W and H in `{text}`")));
        };
        if width == 0 || height == 0 || width > 1 << 15 || height > 1 << 15 {
            return Err(DecodeError::UnsupportedFormat { source_name, width, height, bit_depth });
        }
        let format = FrameFormat { width, height, bit_depth };
        // Only high bit depths go through a whole-frame buffer (their words are converted).
        let raw = if bit_depth > 8 { vec![0; format.raw_frame_bytes()] } else { Vec::new() };
        Ok(Self { input, format, source_name, frames_read: 0, raw, pool: FramePool::new(format) })
    }
}

/// Where [`Y4mReader::fill`] reads to.
enum Buffer<'a> {
    /// The reader's whole-frame buffer.
    Raw,
    /// One plane's samples.
    Plane(&'a mut [u8]),
}

impl<R: Read + Send> Y4mReader<R> {
    /// Reads until `buffer` is full or the input ends; returns `got` plus the bytes read.
    fn fill(&mut self, buffer: Buffer<'_>, got: usize) -> Result<usize, DecodeError> {
        let buffer = match buffer {
            Buffer::Raw => &mut self.raw[..],
            Buffer::Plane(plane) => plane,
        };
        let mut filled = 0;
        while filled < buffer.len() {
            match self.input.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(DecodeError::Io { path: self.source_name.clone().into(), source }),
            }
        }
        Ok(got + filled)
    }

    fn check_complete(&self, got: usize, expected: usize) -> Result<(), DecodeError> {
        if got < expected {
            return Err(DecodeError::TruncatedFrame {
                source_name: self.source_name.clone(),
                frame: self.frames_read,
                got,
                expected,
            });
        }
        Ok(())
    }
}

impl<R: Read + Send> FrameSource for Y4mReader<R> {
    fn format(&self) -> FrameFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        let Some(marker) = read_line(&mut self.input, &self.source_name)? else {
            return Ok(None);
        };
        if !marker.starts_with(b"FRAME") {
            return Err(DecodeError::BadFrameMarker { source_name: self.source_name.clone(), frame: self.frames_read });
        }
        let expected = self.format.raw_frame_bytes();
        // A frame given back earlier (or a new one): decoded into, nothing allocated.
        let mut frame = self.pool.take();
        let complete = match &mut frame {
            Frame::High(_) => {
                let got = self.fill(Buffer::Raw, 0)?;
                self.check_complete(got, expected)?;
                self.format.copy_raw_into(&self.raw, &mut frame)
            }
            Frame::Eight(f) => {
                // 8-bit samples are the bytes themselves: read each plane into its own
                // memory, with no copy from a frame buffer.
                let mut got = 0;
                for plane in 0..3 {
                    got = self.fill(Buffer::Plane(f.plane_mut(plane).data_mut()), got)?;
                }
                self.check_complete(got, expected)?;
                true
            }
        };
        self.frames_read += 1;
        if !complete {
            return Err(DecodeError::TruncatedFrame {
                source_name: self.source_name.clone(),
                frame: self.frames_read,
                got: expected,
                expected,
            });
        }
        Ok(Some(frame))
    }

    fn recycle(&mut self, frame: Frame) {
        self.pool.give_back(frame);
    }

    fn name(&self) -> String {
        self.source_name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_two_odd_sized_frames() {
        let mut bytes = b"YUV4MPEG2 W3 H3 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".to_vec();
        for value in [7u8, 9] {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend(std::iter::repeat_n(value, 9 + 2 * 4));
        }
        let mut r = Y4mReader::new(&bytes[..], "mem".into()).unwrap();
        assert_eq!(r.format(), FrameFormat { width: 3, height: 3, bit_depth: 8 });
        let Some(Frame::Eight(f)) = r.next_frame().unwrap() else { panic!() };
        assert_eq!(f.plane(2).data(), &[7; 4]);
        assert!(r.next_frame().unwrap().is_some());
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn a_recycled_frame_is_decoded_into_again() {
        for (tag, bytes_per_sample) in [("C420jpeg", 1usize), ("C420p10", 2)] {
            let mut bytes = format!("YUV4MPEG2 W4 H2 {tag}\n").into_bytes();
            for value in [3u8, 5] {
                bytes.extend_from_slice(b"FRAME\n");
                bytes.extend(if bytes_per_sample == 1 { vec![value; 12] } else { [value, 0].repeat(12) });
            }
            let mut r = Y4mReader::new(&bytes[..], "mem".into()).unwrap();
            let first = r.next_frame().unwrap().unwrap();
            let luma = |f: &Frame| match f {
                Frame::Eight(f) => u16::from(f.luma().data()[0]),
                Frame::High(f) => f.luma().data()[0],
            };
            assert_eq!(luma(&first), 3);
            r.recycle(first);
            assert_eq!(r.pool.spare_count(), 1);
            let second = r.next_frame().unwrap().unwrap();
            assert_eq!(r.pool.spare_count(), 0, "{tag}: the spare frame was used");
            assert_eq!(luma(&second), 5);
            assert!(second.width() == 4 && second.height() == 2);
        }
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut bytes = b"YUV4MPEG2 W4 H2 C420p10\nFRAME\n".to_vec();
        bytes.extend([0u8; 5]);
        let mut r = Y4mReader::new(&bytes[..], "mem".into()).unwrap();
        assert_eq!(r.format().bit_depth, 10);
        assert!(matches!(r.next_frame(), Err(DecodeError::TruncatedFrame { got: 5, .. })));
    }

    #[test]
    fn truncated_8bit_frame_counts_the_bytes_of_every_plane() {
        let mut bytes = b"YUV4MPEG2 W4 H2\nFRAME\n".to_vec();
        bytes.extend([0u8; 9]);
        let mut r = Y4mReader::new(&bytes[..], "mem".into()).unwrap();
        assert!(matches!(r.next_frame(), Err(DecodeError::TruncatedFrame { got: 9, expected: 12, .. })));
    }

    #[test]
    fn rejects_422() {
        let bytes = b"YUV4MPEG2 W4 H2 C422\n";
        assert!(matches!(
            Y4mReader::new(&bytes[..], "mem".into()),
            Err(DecodeError::UnsupportedY4mColorspace { .. })
        ));
    }
}
