//! Sources synthesised with the real ffmpeg, into temp dirs.
#![allow(dead_code, clippy::unwrap_used)]

pub mod ladder;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs ffmpeg with `args`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let output = Command::new("ffmpeg").args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]).args(args).output().unwrap();
    assert!(output.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Three hard-cut shots (moving test pattern 1.2 s, mandelbrot zoom 1 s, negated pattern
/// `tail` s) at `width`x`height`, 25 fps, H.264 with B-frames and a keyframe every 12 frames,
/// plus a sine when `audio`.
pub fn three_shots(dir: &Path, name: &str, width: u32, height: u32, tail: f64, audio: bool) -> PathBuf {
    let path = dir.join(name);
    let size = format!("{width}x{height}");
    let graph = format!(
        "testsrc2=s={size}:r=25:d=1.2[a];mandelbrot=s={size}:r=25,trim=duration=1,setpts=PTS-STARTPTS[b];testsrc2=s={size}:r=25:d={tail},negate,hue=h=90[c];[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]"
    );
    let mut args: Vec<String> = vec!["-filter_complex".into(), graph];
    if audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"].map(String::from));
    }
    args.extend(["-map", "[v]"].map(String::from));
    if audio {
        args.extend(["-map", "0:a", "-c:a", "aac", "-shortest"].map(String::from));
    }
    args.extend(["-c:v", "libx264", "-preset", "veryfast", "-g", "12", "-keyint_min", "12", "-sc_threshold", "0", "-bf", "2"].map(String::from));
    args.push(path.display().to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&refs);
    path
}

/// A moving pattern of `seconds` at `size` and `rate`, H.264 in `container` (by extension).
pub fn pattern(dir: &Path, name: &str, size: &str, rate: u32, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r={rate}:d={seconds}"),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
        path.to_str().unwrap(),
    ]);
    path
}

/// A file of `len` pseudo-random bytes (seeded).
pub fn random_bytes(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Frames a decoder reads from the first video stream of `path` (a file or a playlist).
pub fn frame_count(path: &Path) -> u64 {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    // The HLS demuxer lists the stream once per program; every listing counts the same frames.
    String::from_utf8_lossy(&output.stdout).lines().map(str::trim).find(|line| !line.is_empty()).unwrap().parse().unwrap()
}

/// Width and height of the first video stream of `path`.
pub fn dimensions(path: &Path) -> (u32, u32) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let (width, height) = text.trim().split_once(',').unwrap();
    (width.parse().unwrap(), height.parse().unwrap())
}

/// A complete variable-frame-rate AVI with skip frames: a 25 fps pattern of `seconds` at `size`
/// that keeps frames irregularly (3 of every 10, plus every 7th), written by the AVI muxer with
/// `-fps_mode vfr`, which lists each missing frame as an empty "repeat the previous frame" index
/// entry (MPEG-4 part 2, as old cameras wrote).
pub fn vfr_avi_with_skip_frames(dir: &Path, name: &str, size: &str, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=25:d={seconds}"),
        "-vf", "select='lt(mod(n\\,10)\\,3)+eq(mod(n\\,7)\\,0)'", "-fps_mode", "vfr", "-r", "25",
        "-c:v", "mpeg4", "-q:v", "4", path.to_str().unwrap(),
    ]);
    path
}

/// The first video stream's declared frame count (`nb_frames`, when the container states one)
/// and the packets a demuxer reads from it.
pub fn declared_and_read_frames(path: &Path) -> (Option<u64>, u64) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_frames,nb_read_packets", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let (declared, read) = text.split_once(',').unwrap();
    (declared.parse().ok(), read.parse().unwrap())
}

/// An anamorphic source: `seconds` of a 25 fps pattern stored at `size` with sample aspect
/// ratio `sar` (`32/27`), H.264 with a keyframe every 10 frames.
pub fn anamorphic(dir: &Path, name: &str, size: &str, sar: &str, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=25:d={seconds}"), "-vf", &format!("setsar={sar}"),
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", path.to_str().unwrap(),
    ]);
    path
}

/// Frame times that jitter by up to 32 ms around a 25 fps grid (for [`retimed`]).
pub const JITTERED_PTS: &str = "(N+0.4*mod(N*7\\,3))/25/TB";
/// Frames in pairs with the same timestamp (for [`retimed`]).
pub const REPEATED_PTS: &str = "floor(N/2)*80/1000/TB";

/// `seconds` of a 25 fps pattern at `size`, retimed by the `setpts` expression `pts` in a
/// millisecond time base and kept as timed, H.264 without B-frames in `name`'s container.
pub fn retimed(dir: &Path, name: &str, size: &str, seconds: f64, pts: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=25:d={seconds}"), "-vf", &format!("settb=1/1000,setpts='{pts}'"),
        "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-video_track_timescale", "1000", path.to_str().unwrap(),
    ]);
    path
}
