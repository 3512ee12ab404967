//! Decodes any file ffmpeg can read into raw 4:2:0 frames, streamed one at a time.
//!
//! `ffprobe` gives the first video stream's size and pixel format; then
//! `ffmpeg [input pins] -i FILE [-vf scale=W:H:flags=bicubic+accurate_rnd+bitexact,format=PIX] -pix_fmt PIX
//! -fps_mode passthrough -f rawvideo -` writes frames to a [`RawFramePipe`] read frame by frame.
//! A clip of another size is scaled to the requested size with swscale's bit-exact bicubic,
//! exactly as `shared/vmaf/scripts/regen_y4m.sh` builds the yardstick's distorted frames.
//! A failing ffmpeg or ffprobe becomes [`DecodeError::Ffmpeg`] with its command line, exit
//! status and stderr tail.

use std::path::Path;
use std::process::{Command, Stdio};

use super::decode_error::DecodeError;
use super::ffmpeg_programs::FfmpegPrograms;
use super::input_pins::INPUT_PINS;
use super::pixel_format::{decode_depth_of_pixel_format, raw_pixel_format};
use super::process_evidence::{ProcessFailure, StderrTail, command_line};
use super::raw_frame_pipe::RawFramePipe;
use crate::frame::FrameFormat;

/// Size and bit depth of the first video stream of `path`, as `ffprobe` reports it.
pub fn probe_format(ffprobe: &Path, path: &Path) -> Result<FrameFormat, DecodeError> {
    probe_stream_format(ffprobe, path, "v:0")
}

/// Size and bit depth of the stream `stream` (an ffprobe `-select_streams` specifier: `v:0`,
/// or a stream index such as `2`) of `path`.
pub fn probe_stream_format(ffprobe: &Path, path: &Path, stream: &str) -> Result<FrameFormat, DecodeError> {
    if !path.exists() {
        return Err(DecodeError::NotFound { path: path.to_path_buf() });
    }
    let mut cmd = Command::new(ffprobe);
    cmd.args(["-v", "error", "-select_streams", stream, "-show_entries", "stream=width,height,pix_fmt"])
        .args(["-of", "default=noprint_wrappers=1"])
        .args(INPUT_PINS)
        .arg("-i")
        .arg(path)
        .stdin(Stdio::null());
    let output = cmd.output().map_err(|source| DecodeError::Spawn { program: ffprobe.display().to_string(), source })?;
    if !output.status.success() {
        let mut stderr_tail = StderrTail::default();
        String::from_utf8_lossy(&output.stderr).lines().for_each(|line| stderr_tail.push(line));
        return Err(DecodeError::Ffmpeg {
            path: path.to_path_buf(),
            failure: ProcessFailure {
                command: command_line(cmd.get_program(), cmd.get_args()),
                status: Some(output.status),
                stderr_tail: stderr_tail.into_lines(),
            },
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::trim);
    let width = field("width").and_then(|v| v.parse::<usize>().ok());
    let height = field("height").and_then(|v| v.parse::<usize>().ok());
    let pix_fmt = field("pix_fmt").unwrap_or("yuv420p");
    match (width, height) {
        (Some(width), Some(height)) if width > 0 && height > 0 => {
            Ok(FrameFormat { width, height, bit_depth: decode_depth_of_pixel_format(pix_fmt) })
        }
        _ => Err(DecodeError::NoVideoStream { path: path.to_path_buf(), detail: text.trim().to_string() }),
    }
}

/// Decodes `path` at its own size and bit depth.
pub fn open(programs: &FfmpegPrograms, path: &Path) -> Result<RawFramePipe, DecodeError> {
    let native = probe_format(&programs.ffprobe, path)?;
    spawn(programs, path, native, native)
}

/// Decodes `path` converted to `target`: scaled with bit-exact bicubic when the size differs,
/// and converted to the target bit depth.
pub fn open_as(programs: &FfmpegPrograms, path: &Path, target: FrameFormat) -> Result<RawFramePipe, DecodeError> {
    let native = probe_format(&programs.ffprobe, path)?;
    spawn(programs, path, native, target)
}

fn spawn(programs: &FfmpegPrograms, path: &Path, native: FrameFormat, target: FrameFormat) -> Result<RawFramePipe, DecodeError> {
    let pix_fmt = raw_pixel_format(target.bit_depth);
    let mut args: Vec<std::ffi::OsString> = ["-hide_banner", "-loglevel", "error", "-nostdin"].map(Into::into).to_vec();
    args.extend(INPUT_PINS.map(Into::into));
    args.push("-i".into());
    args.push(path.into());
    if (native.width, native.height) != (target.width, target.height) {
        args.push("-vf".into());
        args.push(format!("scale={}:{}:flags=bicubic+accurate_rnd+bitexact,format={pix_fmt}", target.width, target.height).into());
    }
    args.extend(["-pix_fmt", pix_fmt, "-fps_mode", "passthrough", "-f", "rawvideo", "-"].map(Into::into));
    RawFramePipe::spawn(&programs.ffmpeg, &args, target, path, path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_not_found() {
        assert!(matches!(open(&FfmpegPrograms::on_path(), Path::new("/nonexistent/clip.mkv")), Err(DecodeError::NotFound { .. })));
    }

    #[test]
    fn undecodable_file_keeps_ffmpeg_evidence() {
        let dir = std::env::temp_dir().join(format!("shotfarm-kernels-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("garbage.mkv");
        std::fs::write(&bad, b"this is not a video").unwrap();
        let err = open(&FfmpegPrograms::on_path(), &bad).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let DecodeError::Ffmpeg { failure, .. } = err else { panic!("expected an ffmpeg failure, got {err}") };
        assert!(failure.command.starts_with("ffprobe"), "{}", failure.command);
        assert!(failure.status.is_some());
        assert!(!failure.stderr_tail.is_empty());
    }
}
