//! The packaged ladder played in real players: hls.js and dash.js in headless Chromium
//! (player-tests/play.mjs, driven by puppeteer-core), served over HTTP on 127.0.0.1 by a
//! small static server this test starts and stops. Each player starts on the lowest
//! rendition, switches to the highest after two segments, and must play through to `ended`
//! with no error and no stall, every track buffered as one range from 0 to the end, exactly
//! the source's frames decoded, both audio tracks offered with their languages and the
//! subtitle cues shown at the source's times. A variable-rate camera clip, whose renditions
//! keep each frame's own time, plays through the same way; so do encrypted H.264 and AV1
//! ladders with Clear Key. Shaka Player fast-forwards a ladder on its DASH trick-mode track.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), `node` and `player-tests/node_modules`
//! (`scripts/ensure-browser` installs them). Without them the test skips with the reason,
//! or fails under `CI` or `REQUIRE_BROWSER=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use common::browser::{browser_available, player_tests_dir};
use common::ladder::streaming_rung;
use shotfarm_agent::media::package::encryption::ContentProtection;
use shotfarm_agent::media::package::encryption::keys::{ContentKey, ContentKeys, VideoClass};
use shotfarm_proto::encryption::Scheme;
use shotfarm_proto::pipeline::Codec;

/// Serves the files under a folder over HTTP/1.1 GET (one thread per connection, closed after
/// each response, `Access-Control-Allow-Origin: *`), until dropped.
struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    fn start(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for connection in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(connection) = connection else { continue };
                let root = root.clone();
                std::thread::spawn(move || respond(connection, &root));
            }
        });
        Self { port, stop, thread: Some(thread) }
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(mut connection: TcpStream, root: &Path) {
    let mut reader = BufReader::new(connection.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|read| read > 0) && !header.trim().is_empty() {
        header.clear();
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let relative = target.split('?').next().unwrap_or("").trim_start_matches('/');
    let file = (!relative.split('/').any(|part| part == ".." || part.is_empty())).then(|| root.join(relative)).filter(|path| path.is_file());
    let cors = "Access-Control-Allow-Origin: *\r\nConnection: close\r\n";
    match (method, file) {
        ("GET", Some(path)) => {
            let body = std::fs::read(&path).unwrap();
            let kind = match path.extension().and_then(|extension| extension.to_str()) {
                Some("m3u8") => "application/vnd.apple.mpegurl",
                Some("mpd") => "application/dash+xml",
                Some("mp4" | "m4s") => "video/mp4",
                Some("vtt") => "text/vtt",
                _ => "application/octet-stream",
            };
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{cors}\r\n", body.len());
            let _ = connection.write_all(head.as_bytes()).and_then(|()| connection.write_all(&body));
        }
        _ => {
            let _ = connection.write_all(format!("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n{cors}\r\n").as_bytes());
        }
    }
}

/// One playback's report from play.mjs.
fn play(player: &str, url: &str) -> serde_json::Value {
    play_with(player, url, &[])
}

/// One playback's report from play.mjs, with extra arguments (`--clearkeys`).
fn play_with(player: &str, url: &str, extra: &[&str]) -> serde_json::Value {
    let output = Command::new("node")
        .arg(player_tests_dir().join("play.mjs"))
        .args(["--player", player, "--url", url, "--rate", "2", "--timeout-ms", "30000"])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "play.mjs {player} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("play.mjs printed no report ({error}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn ranges(value: &serde_json::Value) -> Vec<(f64, f64)> {
    value.as_array().unwrap().iter().map(|range| (range[0].as_f64().unwrap(), range[1].as_f64().unwrap())).collect()
}

#[tokio::test]
async fn hls_js_and_dash_js_play_the_ladder_through_with_every_frame() {
    if !browser_available("the real-player test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 4 s (100 frames) at 320x180, three shots, with an English sine (default), a French one
    // and English subtitles from an SRT file.
    let shots = common::three_shots(dir.path(), "shots.mp4", 320, 180, 1.8, true);
    let srt = dir.path().join("cues.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\nHello\n\n2\n00:00:02,000 --> 00:00:03,250\nWorld\n").unwrap();
    let source = dir.path().join("source.mp4");
    common::ffmpeg(&[
        "-i", shots.to_str().unwrap(), "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=4", "-i", srt.to_str().unwrap(),
        "-map", "0:v", "-map", "0:a", "-map", "1:a", "-map", "2:s", "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "aac", "-c:s", "mov_text",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:s:0", "language=eng",
        "-disposition:a:0", "default", "-disposition:a:1", "0",
        source.to_str().unwrap(),
    ]);
    let source_frames = common::frame_count(&source);
    let rung = |name: &str, width, height, bitrate_kbps| streaming_rung(name, width, height, Codec::H264, bitrate_kbps);
    let rungs = [rung("180p", 320, 180, 600), rung("144p", 256, 144, 300), rung("90p", 160, 90, 120)];
    let (report, _) = common::ladder::package_source(&source, &rungs, dir.path()).await;
    assert_eq!(report.source.video.frames, source_frames);
    let duration = source_frames as f64 / 25.0;
    let server = StaticServer::start(dir.path().join("out"));

    for (player, manifest) in [("hls", "master.m3u8"), ("dash", "manifest.mpd")] {
        let played = play(player, &server.url(manifest));
        let context = format!("{player}: {played}");
        assert_played_through(&played, duration, source_frames, &context);
        let heights: Vec<u64> = played["renditionsBuffered"].as_array().unwrap().iter().map(|height| height.as_u64().unwrap()).collect();
        assert!(heights.first() == Some(&90) && heights.last() == Some(&180), "played from the lowest to the highest: {heights:?}; {context}");
        // Both audio renditions and the subtitles are offered, the cues at the source's times.
        let languages: Vec<&str> = played["audioTracks"].as_array().unwrap().iter().map(|track| track["lang"].as_str().unwrap_or("")).collect();
        assert_eq!(languages, ["en", "fr"], "{context}");
        assert_eq!(played["subtitleTracks"].as_array().unwrap().len(), 1, "{context}");
        let cues: Vec<(f64, f64)> = played["cues"].as_array().unwrap().iter().map(|cue| (cue[0].as_f64().unwrap(), cue[1].as_f64().unwrap())).collect();
        assert_eq!(cues.len(), 2, "{context}");
        for ((start, end), (expected_start, expected_end)) in cues.iter().zip([(0.5, 1.5), (2.0, 3.25)]) {
            assert!((start - expected_start).abs() < 1e-3 && (end - expected_end).abs() < 1e-3, "cue {start}–{end}, the source has {expected_start}–{expected_end}; {context}");
        }
    }
}

/// A played-through playback: no error, no stall, `ended`, the declared duration, every frame
/// decoded, and every track (video and audio) buffered as one range from 0 to the end.
fn assert_played_through(played: &serde_json::Value, duration: f64, frames: u64, context: &str) {
    assert_eq!(played["errors"].as_array().unwrap().len(), 0, "{context}");
    assert!(played["ended"].as_bool().unwrap(), "ended never fired; {context}");
    assert_eq!(played["waitingWhilePlaying"].as_array().unwrap().len(), 0, "stalled; {context}");
    assert!((played["duration"].as_f64().unwrap() - duration).abs() < 1e-3, "{context}");
    assert_eq!(played["totalVideoFrames"].as_u64().unwrap(), frames, "frames decoded; {context}");
    let buffers = played["sourceBuffers"].as_array().unwrap();
    assert_eq!(buffers.len(), 2, "{context}");
    for buffer in buffers {
        let buffered = ranges(&buffer["buffered"]);
        assert_eq!(buffered.len(), 1, "a gap in {}: {buffered:?}; {context}", buffer["mime"]);
        let (start, end) = buffered[0];
        assert!(start.abs() < 1e-3, "{} starts at {start}; {context}", buffer["mime"]);
        assert!(end <= duration + 1e-3 && duration - end < 1024.0 / 48000.0 + 1e-3, "{} ends at {end}; {context}", buffer["mime"]);
    }
}

/// The playback started below the top rendition and ended on it (`top`: its height).
fn assert_switched_up(played: &serde_json::Value, top: u32, context: &str) {
    let heights: Vec<u64> = played["renditionsBuffered"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_u64).collect();
    assert!(heights.first().is_some_and(|first| *first < u64::from(top)) && heights.last() == Some(&u64::from(top)), "switched from a lower rendition to the top one: {heights:?}; {context}");
}

#[tokio::test]
async fn a_variable_rate_camera_clip_plays_through_at_its_own_frame_times() {
    if !browser_available("the real-player test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // An old camera's AVI: 25 fps slots of which about half hold a frame (empty "repeat" index
    // entries between), with PCM sound.
    let source = dir.path().join("camera.avi");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=4",
        "-map", "0:v", "-map", "1:a", "-vf", "select='lt(mod(n\\,10)\\,4)+eq(mod(n\\,7)\\,0)'", "-fps_mode", "vfr", "-r", "25",
        "-c:v", "mpeg4", "-q:v", "4", "-c:a", "pcm_s16le", source.to_str().unwrap(),
    ]);
    let source_frames = common::frame_count(&source);
    let rung = |name: &str, width, height, bitrate_kbps| streaming_rung(name, width, height, Codec::H264, bitrate_kbps);
    let rungs = [rung("240p", 320, 240, 500), rung("144p", 192, 144, 200)];
    let (report, _) = common::ladder::package_source(&source, &rungs, dir.path()).await;
    assert!(report.source.video.keeps_frame_times && report.source.video.frames == source_frames, "{:?}", report.source.video);
    let duration = report.source.video.duration_seconds;
    let server = StaticServer::start(dir.path().join("out"));
    for (player, manifest) in [("hls", "master.m3u8"), ("dash", "manifest.mpd")] {
        // At normal speed: at twice it, dash.js's 2 s buffer ran dry once in a while just
        // before the end of this 4 s clip on a busy machine (a fetch late, not a gap).
        let played = play_with(player, &server.url(manifest), &["--rate", "1"]);
        assert_played_through(&played, duration, source_frames, &format!("{player}: {played}"));
    }
}

#[tokio::test]
async fn an_encrypted_ladder_plays_through_in_hls_js_and_dash_js_with_clear_key() {
    if !browser_available("the real-player test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.mp4");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=3", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", source.to_str().unwrap(),
    ]);
    let rung = |name: &str, width, height, bitrate_kbps| streaming_rung(name, width, height, Codec::H264, bitrate_kbps);
    let keys = ContentKeys::new(ContentKey { kid: [0x1a; 16], key: [0x2b; 16] }, ContentKey { kid: [0x3c; 16], key: [0x4d; 16] });
    let clearkeys = format!("{}:{},{}:{},{}:{}", "1a".repeat(16), "2b".repeat(16), "3c".repeat(16), "4d".repeat(16), "5e".repeat(16), "6f".repeat(16));
    // cbcs with an HD key of its own: the players switch from an SD rendition to an HD one,
    // from one key to another, mid-stream.
    let hd_keys = ContentKeys { video_classes: vec![(VideoClass::Hd, ContentKey { kid: [0x5e; 16], key: [0x6f; 16] })], ..keys.clone() };
    // cenc with a clear lead: its first second plays before (and without) a licence.
    for (scheme, keys, rungs, clear_lead_seconds) in [
        (Scheme::Cenc, keys, [rung("180p", 320, 180, 500), rung("90p", 160, 90, 150)], 1.0),
        (Scheme::Cbcs, hd_keys, [rung("720p", 1280, 720, 900), rung("90p", 160, 90, 150)], 0.0),
    ] {
        let out = dir.path().join(scheme.as_str());
        let (report, result) = common::ladder::package_source_protected(&source, &rungs, &out, Some(ContentProtection { scheme, keys: keys.clone(), clear_lead_seconds })).await;
        assert_eq!(result.protection.map(|protection| protection.scheme), Some(scheme));
        let server = StaticServer::start(out.join("out"));
        let played = play_with("dash", &server.url("manifest.mpd"), &["--clearkeys", &clearkeys]);
        let context = format!("dash.js {scheme:?} with Clear Key: {played}");
        assert_played_through(&played, report.source.video.duration_seconds, report.source.video.frames, &context);
        assert_switched_up(&played, rungs[0].height, &context);
        // hls.js finds the Clear Key id in the playlists' `EXT-X-KEY` and asks a license server
        // (answered by play.mjs) for the video's and the audio's key.
        let played = play_with("hls", &server.url("master.m3u8"), &["--clearkeys", &clearkeys]);
        let context = format!("hls.js {scheme:?} with Clear Key: {played}");
        assert_played_through(&played, report.source.video.duration_seconds, report.source.video.frames, &context);
        assert_switched_up(&played, rungs[0].height, &context);
        let asked: Vec<&str> = played["licenseRequests"].as_array().into_iter().flatten().flat_map(|kids| kids.as_array().into_iter().flatten()).filter_map(|kid| kid.as_str()).collect();
        let kids: &[&str] = if scheme == Scheme::Cbcs { &["GhoaGhoaGhoaGhoaGhoaGg", "PDw8PDw8PDw8PDw8PDw8PA", "Xl5eXl5eXl5eXl5eXl5eXg"] } else { &["GhoaGhoaGhoaGhoaGhoaGg", "PDw8PDw8PDw8PDw8PDw8PA"] };
        for kid in kids {
            assert!(asked.contains(kid), "hls.js never asked for key {kid}: {context}");
        }
        // Without the keys the same ladder does not play: nothing at all, or only its clear
        // lead (the segments that start within its first second: 3 of 12 frames each).
        let locked = play_with("dash", &server.url("manifest.mpd"), &["--timeout-ms", "4000"]);
        let decoded = locked["totalVideoFrames"].as_u64().unwrap_or(u64::MAX);
        assert!(!locked["ended"].as_bool().unwrap_or(true), "it played through without its keys: {locked}");
        if clear_lead_seconds > 0.0 {
            assert!((20..=36).contains(&decoded), "the clear lead plays without a licence, and only it: {decoded} frames; {locked}");
        } else {
            assert_eq!(decoded, 0, "no frame decodes without the keys: {locked}");
        }
    }
}

#[tokio::test]
async fn an_encrypted_av1_ladder_plays_through_in_dash_js_and_hls_js_with_clear_key() {
    if !browser_available("the real-player test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.mp4");
    common::ffmpeg(&[
        // 4 s: dash.js buffers 2 s ahead, and with less than that left it was seen to end the
        // stream on the lowest rendition before the switch up reopened it, then stall or
        // never fire `ended`.
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=4", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", source.to_str().unwrap(),
    ]);
    let rung = |name: &str, width, height, bitrate_kbps| streaming_rung(name, width, height, Codec::Av1, bitrate_kbps);
    let keys = ContentKeys::new(ContentKey { kid: [0x1a; 16], key: [0x2b; 16] }, ContentKey { kid: [0x3c; 16], key: [0x4d; 16] });
    let clearkeys = format!("{}:{},{}:{}", "1a".repeat(16), "2b".repeat(16), "3c".repeat(16), "4d".repeat(16));
    // The samples' tiles protected, their OBU and frame headers clear: the browser's decryptor
    // and decoder must agree with the packager on where each tile lies.
    let rungs = [rung("180p", 320, 180, 300), rung("90p", 160, 90, 100)];
    let out = dir.path().join("cenc");
    let (report, result) = common::ladder::package_source_protected(&source, &rungs, &out, Some(ContentProtection { scheme: Scheme::Cenc, keys, clear_lead_seconds: 0.0 })).await;
    assert!(result.renditions.iter().all(|rendition| rendition.codecs.starts_with("av01.")), "{:?}", result.renditions);
    let server = StaticServer::start(out.join("out"));
    for (player, manifest) in [("dash", "manifest.mpd"), ("hls", "master.m3u8")] {
        let played = play_with(player, &server.url(manifest), &["--clearkeys", &clearkeys]);
        let context = format!("{player} AV1 cenc with Clear Key: {played}");
        assert_played_through(&played, report.source.video.duration_seconds, report.source.video.frames, &context);
        assert_switched_up(&played, rungs[0].height, &context);
    }
    // Without the keys not one frame decodes.
    let locked = play_with("dash", &server.url("manifest.mpd"), &["--timeout-ms", "4000"]);
    assert!(!locked["ended"].as_bool().unwrap_or(true) && locked["totalVideoFrames"].as_u64() == Some(0), "it played without its keys: {locked}");
}

#[tokio::test]
async fn shaka_player_fast_forwards_on_the_dash_trick_mode_track() {
    if !browser_available("the trick-play test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = common::pattern(dir.path(), "pattern.mp4", "320x180", 25, 12.0);
    let rung = |name: &str, width, height, bitrate_kbps| streaming_rung(name, width, height, Codec::H264, bitrate_kbps);
    let rungs = [rung("180p", 320, 180, 400), rung("90p", 160, 90, 120)];
    let (report, result) = common::ladder::package_source(&source, &rungs, dir.path()).await;
    assert!(result.renditions.iter().all(|rendition| rendition.trick_mode.is_some()), "{:?}", result.renditions);
    let server = StaticServer::start(dir.path().join("out"));
    let output = Command::new("node")
        .arg(player_tests_dir().join("trick-play.mjs"))
        .args(["--url", &server.url("manifest.mpd"), "--rate", "4", "--timeout-ms", "30000"])
        .output()
        .unwrap();
    assert!(output.status.success(), "trick-play.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    let played: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("trick-play.mjs printed no report ({error}): {}", String::from_utf8_lossy(&output.stdout)));
    let context = format!("shaka: {played}");
    assert_eq!(played["errors"].as_array().unwrap().len(), 0, "{context}");
    assert!(played["ended"].as_bool().unwrap(), "ended never fired; {context}");
    assert!((played["currentTime"].as_f64().unwrap() - report.source.video.duration_seconds).abs() < 0.05, "{context}");
    assert!(played["playbackRates"].as_array().unwrap().iter().any(|rate| rate.as_f64() == Some(4.0)), "{context}");
    // Each video stream has its own rendition's trick-mode track.
    let tracks: Vec<(u64, Option<u64>)> = played["trickModeVideos"].as_array().unwrap().iter().map(|track| (track["video"].as_u64().unwrap(), track["trickMode"].as_u64())).collect();
    assert_eq!(tracks.len(), 2, "{context}");
    assert!(tracks.iter().all(|(video, trick)| Some(*video) == *trick), "{context}");
    // After trickPlay(), the rest of the title came from trick-mode segments, each once, to
    // the last one (responses arrive in any order); only media segments already asked for
    // before the switch may follow it.
    let segments = result.renditions.iter().map(|rendition| rendition.segments).max().unwrap();
    let from = played["trickPlayFrom"]["segments"].as_u64().unwrap() as usize;
    let fetched: Vec<&str> = played["segments"].as_array().unwrap()[from..].iter().map(|segment| segment["uri"].as_str().unwrap()).collect();
    let number = |uri: &str, prefix: &str| uri.rsplit('/').next().and_then(|file| file.strip_prefix(prefix)).and_then(|rest| rest.strip_suffix(".m4s")).map(|digits| digits.parse::<usize>().unwrap());
    let mut tricks: Vec<usize> = fetched.iter().filter_map(|uri| number(uri, "trick_")).collect();
    tricks.sort_unstable();
    let (first, last) = (*tricks.first().unwrap_or_else(|| panic!("no trick-mode segment fetched; {context}")), *tricks.last().unwrap());
    assert_eq!(tricks, (first..=last).collect::<Vec<_>>(), "{context}");
    assert_eq!(last, segments - 1, "{context}");
    assert!(tricks.len() * 2 >= segments, "most of the title fast-forwarded on trick-mode segments; {context}");
    assert!(fetched.iter().filter_map(|uri| number(uri, "seg_")).all(|media| media < first), "{context}");
}
