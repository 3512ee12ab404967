//! Decodes any file ffmpeg can read into raw 4:2:0 frames, streamed one at a time.
//!
//! `ffprobe` gives the first video stream's size and pixel format; then
//! `ffmpeg -i FILE [-vf scale=W:H:flags=bicubic+accurate_rnd+bitexact,format=PIX] -pix_fmt PIX
//! -fps_mode passthrough -f rawvideo -` writes frames to a pipe that we read frame by frame.
//! A clip of another size is scaled to the requested size with swscale's bit-exact bicubic,
//! exactly as `shared/vmaf/scripts/regen_y4m.sh` builds the yardstick's distorted frames.
//! A failing ffmpeg becomes [`DecodeError::Ffmpeg`] with its command line, exit status
//! and stderr tail.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use crate::decode::decode_error::{DecodeError, ProcessFailure};
use crate::frame::{Frame, FrameFormat};
use crate::decode::frame_pool::FramePool;
use crate::decode::frame_source::FrameSource;

/// How many stderr lines a failure keeps.
const STDERR_TAIL_LINES: usize = 20;

/// The ffmpeg pixel format we ask for at a given bit depth.
fn raw_pix_fmt(bit_depth: u8) -> &'static str {
    match bit_depth {
        0..=8 => "yuv420p",
        9..=10 => "yuv420p10le",
        11..=12 => "yuv420p12le",
        _ => "yuv420p16le",
    }
}

/// Bit depth we decode a stream of this ffmpeg pixel format to: 8, 10, 12 or 16.
fn decode_depth_of_pix_fmt(pix_fmt: &str) -> u8 {
    // Names such as yuv420p10le, yuv444p12be, p010le, gray10le, yuv420p.
    let digits: String = pix_fmt
        .trim_end_matches("le")
        .trim_end_matches("be")
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let bits = match pix_fmt {
        "p010le" | "p010be" => 10,
        "p016le" | "p016be" => 16,
        _ if pix_fmt.starts_with("yuv") || pix_fmt.starts_with("gray") => digits.parse::<u8>().unwrap_or(8),
        _ => 8,
    };
    match bits {
        0..=8 => 8,
        9..=10 => 10,
        11..=12 => 12,
        _ => 16,
    }
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Size and bit depth of the first video stream of `path`, as ffprobe reports it.
pub fn probe_format(path: &Path) -> Result<FrameFormat, DecodeError> {
    if !path.exists() {
        return Err(DecodeError::NotFound { path: path.to_path_buf() });
    }
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,pix_fmt"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .stdin(Stdio::null());
    let output =
        cmd.output().map_err(|source| DecodeError::Spawn { program: "ffprobe".into(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail = stderr.lines().rev().take(STDERR_TAIL_LINES).collect::<Vec<_>>();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(DecodeError::Ffmpeg {
            path: path.to_path_buf(),
            failure: ProcessFailure::new(command_line(&cmd), Some(output.status), tail),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::trim)
    };
    let width = field("width").and_then(|v| v.parse::<usize>().ok());
    let height = field("height").and_then(|v| v.parse::<usize>().ok());
    let pix_fmt = field("pix_fmt").unwrap_or("yuv420p");
    match (width, height) {
        (Some(width), Some(height)) if width > 0 && height > 0 => {
            Ok(FrameFormat { width, height, bit_depth: decode_depth_of_pix_fmt(pix_fmt) })
        }
        _ => Err(DecodeError::NoVideoStream { path: path.to_path_buf(), detail: text.trim().to_string() }),
    }
}

/// Streams decoded frames out of an `ffmpeg` child process.
#[derive(Debug)]
pub struct FfmpegDecoder {
    path: PathBuf,
    format: FrameFormat,
    command: String,
    child: Option<Child>,
    stdout: Option<BufReader<ChildStdout>>,
    stderr_reader: Option<JoinHandle<VecDeque<String>>>,
    raw: Vec<u8>,
    frames_read: u64,
    finished: bool,
    /// Frames given back by the consumer, converted into again.
    pool: FramePool,
}

impl FfmpegDecoder {
    /// Decodes `path` at its own size and bit depth.
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        let native = probe_format(path)?;
        Self::spawn(path, native, native)
    }

    /// Decodes `path` converted to `target`: scaled with bit-exact bicubic when the size
    /// differs, and converted to the target bit depth.
    pub fn open_as(path: &Path, target: FrameFormat) -> Result<Self, DecodeError> {
        let native = probe_format(path)?;
        Self::spawn(path, native, target)
    }

    fn spawn(path: &Path, native: FrameFormat, target: FrameFormat) -> Result<Self, DecodeError> {
        let pix_fmt = raw_pix_fmt(target.bit_depth);
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"]).arg(path);
        if (native.width, native.height) != (target.width, target.height) {
            cmd.arg("-vf").arg(format!(
                "scale={}:{}:flags=bicubic+accurate_rnd+bitexact,format={pix_fmt}",
                target.width, target.height
            ));
        }
        cmd.args(["-pix_fmt", pix_fmt, "-fps_mode", "passthrough", "-f", "rawvideo", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = command_line(&cmd);
        let mut child = cmd.spawn().map_err(|source| DecodeError::Spawn { program: "ffmpeg".into(), source })?;
        let stdout = child.stdout.take().map(|s| BufReader::with_capacity(1 << 20, s));
        let stderr_reader = child.stderr.take().map(|stderr| {
            std::thread::spawn(move || {
                let mut tail = VecDeque::with_capacity(STDERR_TAIL_LINES);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                tail
            })
        });
        Ok(Self {
            path: path.to_path_buf(),
            format: target,
            command,
            child: Some(child),
            stdout,
            stderr_reader,
            raw: vec![0; target.raw_frame_bytes()],
            frames_read: 0,
            finished: false,
            pool: FramePool::new(target),
        })
    }

    /// The command line this decoder runs.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Waits for ffmpeg; an error if it failed.
    fn finish(&mut self) -> Result<(), DecodeError> {
        self.finished = true;
        self.stdout = None;
        let status = match self.child.take() {
            Some(mut child) => child.wait().ok(),
            None => return Ok(()),
        };
        let tail = self.stderr_reader.take().and_then(|h| h.join().ok()).unwrap_or_default();
        match status {
            Some(s) if s.success() => Ok(()),
            status => Err(DecodeError::Ffmpeg {
                path: self.path.clone(),
                failure: ProcessFailure::new(self.command.clone(), status, Vec::from(tail).join("\n")),
            }),
        }
    }
}

impl FrameSource for FfmpegDecoder {
    fn format(&self) -> FrameFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.finished {
            return Ok(None);
        }
        let Some(stdout) = self.stdout.as_mut() else {
            self.finish()?;
            return Ok(None);
        };
        let expected = self.raw.len();
        let mut got = 0;
        while got < expected {
            match stdout.read(&mut self.raw[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(DecodeError::Io { path: self.path.clone(), source }),
            }
        }
        if got == 0 {
            self.finish()?;
            return Ok(None);
        }
        if got < expected {
            self.finish()?;
            return Err(DecodeError::TruncatedFrame {
                source_name: self.path.display().to_string(),
                frame: self.frames_read,
                got,
                expected,
            });
        }
        self.frames_read += 1;
        let mut frame = self.pool.take();
        Ok(self.format.copy_raw_into(&self.raw, &mut frame).then_some(frame))
    }

    fn recycle(&mut self, frame: Frame) {
        self.pool.give_back(frame);
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for FfmpegDecoder {
    fn drop(&mut self) {
        // Stop the ffmpeg we started (by its own handle, i.e. its pid) if the caller
        // stopped reading early, then reap it.
        self.stdout = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pix_fmt_depths() {
        assert_eq!(decode_depth_of_pix_fmt("yuv420p"), 8);
        assert_eq!(decode_depth_of_pix_fmt("yuvj420p"), 8);
        assert_eq!(decode_depth_of_pix_fmt("yuv420p10le"), 10);
        assert_eq!(decode_depth_of_pix_fmt("yuv422p12be"), 12);
        assert_eq!(decode_depth_of_pix_fmt("p010le"), 10);
        assert_eq!(decode_depth_of_pix_fmt("rgb24"), 8);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("scale=1:2:flags=bicubic+x,format=yuv420p"), "scale=1:2:flags=bicubic+x,format=yuv420p");
    }

    #[test]
    fn missing_file_is_not_found() {
        assert!(matches!(
            FfmpegDecoder::open(Path::new("/nonexistent/clip.mkv")),
            Err(DecodeError::NotFound { .. })
        ));
    }

    #[test]
    fn undecodable_file_keeps_ffmpeg_evidence() {
        let dir = std::env::temp_dir().join(format!("shotfarm-kernels-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("garbage.mkv");
        std::fs::write(&bad, b"this is not a video").unwrap();
        let err = FfmpegDecoder::open(&bad).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let DecodeError::Ffmpeg { failure, .. } = err else { panic!("expected an ffmpeg failure, got {err}") };
        assert!(failure.command.starts_with("ffprobe"), "{}", failure.command);
        assert!(failure.status.is_some());
        assert!(!failure.stderr_tail.is_empty());
    }
}
