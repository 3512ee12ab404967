//! Sources synthesised with the real ffmpeg, into temp dirs.
#![allow(dead_code, clippy::unwrap_used)]

pub mod browser;
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
    // A stream with side data (a display matrix) gets an empty field after the count.
    String::from_utf8_lossy(&output.stdout).lines().map(|line| line.split(',').next().unwrap_or("").trim()).find(|count| !count.is_empty()).unwrap().parse().unwrap()
}

/// Presentation time in seconds of every frame a decoder reads from the first video stream of
/// `path`, in order.
pub fn frame_times(path: &Path) -> Vec<f64> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    // A frame with side data (x264's encoder settings) gets a blank line after its own.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split(',').next().unwrap_or("").trim())
        .filter(|time| !time.is_empty())
        .map(|time| time.parse().unwrap_or_else(|_| panic!("{}: frame time {time:?}", path.display())))
        .collect()
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

/// A 25 fps moving pattern at `size`, H.264 with a keyframe every 10 frames, stored turned:
/// `rotate` is the legacy clockwise tag that ffmpeg 5.1's mp4 muxer turns into a display
/// matrix (a stream copy, so the stored picture is the unturned one).
pub fn rotated(dir: &Path, name: &str, size: &str, seconds: f64, rotate: u32) -> PathBuf {
    let upright = pattern(dir, &format!("unturned-{name}"), size, 25, seconds);
    let path = dir.join(name);
    ffmpeg(&["-i", upright.to_str().unwrap(), "-c", "copy", "-metadata:s:v", &format!("rotate={rotate}"), path.to_str().unwrap()]);
    path
}

/// An interlaced (top field first) 25 fps H.264 source at `size`: 50 fps motion woven into
/// frames by `tinterlace`, coded with interlaced DCT and motion estimation.
pub fn interlaced(dir: &Path, name: &str, size: &str, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=50:d={seconds}"),
        "-vf", "tinterlace=interleave_top,setfield=tff",
        "-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme", "-g", "10", "-pix_fmt", "yuv420p",
        path.to_str().unwrap(),
    ]);
    path
}

/// `seconds` of a 160x90 H.264 MPEG-TS with a third of its payload overwritten (the 188-byte
/// packets' sync bytes kept): MPEG-TS has no index, so the damage reaches the decoder.
#[allow(dead_code)] // not every test binary damages a source
pub fn damaged_ts(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    let ts = dir.join(name);
    ffmpeg(&["-f", "lavfi", "-i", &format!("testsrc2=s=160x90:r=25:d={seconds}"), "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", ts.to_str().unwrap()]);
    let mut bytes = std::fs::read(&ts).unwrap();
    let len = bytes.len();
    for (offset, byte) in bytes[len / 3..len * 2 / 3].iter_mut().enumerate() {
        if offset % 188 != 0 {
            *byte = (offset * 131 % 251) as u8;
        }
    }
    std::fs::write(&ts, &bytes).unwrap();
    ts
}

/// `path` cut to `len` bytes, next to it (`cut-<name>`).
#[allow(dead_code)] // not every test binary cuts a source short
pub fn cut_short(path: &Path, len: usize) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let cut = path.with_file_name(format!("cut-{}", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&cut, &bytes[..len]).unwrap();
    cut
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

/// `path`'s first video stream as ffprobe's JSON describes it (`-show_streams`).
pub fn video_stream_json(path: &Path) -> serde_json::Value {
    let output = Command::new("ffprobe").args(["-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json"]).arg(path).output().unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    value["streams"][0].take()
}

/// The first `frames` frames of `path` as 8-bit gray pictures at `width`x`height`, decoded by
/// ffmpeg with `input_options` (none: its defaults, the display matrix applied) after `filters`
/// (empty for none).
pub fn gray_frames(path: &Path, input_options: &[&str], filters: &str, width: u32, height: u32, frames: usize) -> Vec<Vec<u8>> {
    let graph = if filters.is_empty() { format!("scale={width}:{height}:flags=bicubic") } else { format!("{filters},scale={width}:{height}:flags=bicubic") };
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(input_options)
        .arg("-i")
        .arg(path)
        .args(["-map", "0:v:0", "-vf", &graph, "-frames:v", &frames.to_string(), "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout.chunks((width * height) as usize).map(<[u8]>::to_vec).collect()
}

/// Mean absolute difference of two gray pictures of the same size.
pub fn mean_abs_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

/// A 10-bit HEVC source at `size`, 25 fps, keyframe every 10 frames, tagged BT.2020 with
/// `transfer` (`smpte2084` for HDR10 with its mastering display and max-cll 1000,400 SEI;
/// `arib-std-b67` for HLG).
pub fn hdr_hevc(dir: &Path, name: &str, size: &str, seconds: f64, transfer: &str) -> PathBuf {
    let path = dir.join(name);
    let hdr10 = if transfer == "smpte2084" { ":hdr10=1:repeat-headers=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400" } else { "" };
    ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s={size}:r=25:d={seconds}"),
        "-vf", &format!("format=yuv420p10le,setparams=color_primaries=bt2020:color_trc={transfer}:colorspace=bt2020nc:range=tv"),
        "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
        "-x265-params", &format!("log-level=error:keyint=10:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc{hdr10}"),
        path.to_str().unwrap(),
    ]);
    path
}

/// A chunk of a rendition as the join check takes it, from what its chunk check verified.
#[allow(dead_code)] // not every test binary joins chunks
pub fn joined_chunk(index: u32, frames: shotfarm_agent::media::chunking::FrameRange, verified: shotfarm_agent::media::chunk_check::VerifiedChunk) -> shotfarm_agent::media::validate::JoinedChunk {
    shotfarm_agent::media::validate::JoinedChunk {
        index,
        frames,
        verified_frames: verified.frames,
        first_fingerprint: verified.first_fingerprint,
        last_fingerprint: verified.last_fingerprint,
        samples_sha256: verified.samples_sha256,
    }
}
