//! Encrypted packaging judged by a real decryptor: ffmpeg's mp4 demuxer, given the key
//! (`-decryption_key`), decodes every video and audio rendition of a `cbcs` and of a `cenc`
//! ladder to exactly the frames and samples of the same ladder packaged in the clear, and
//! without the key it does not. The boxes are checked against ISO/IEC 23001-7: the protected
//! sample entry (`encv`/`enca` → `sinf` → `frma`, `schm`, `tenc` with the key id, IV size or
//! constant IV and pattern), a `pssh` per system naming the key ids, and in every fragment a
//! `senc` with one entry per sample whose subsamples add up to the sample, `saiz` sizes and a
//! `saio` offset that points at the `senc` entries. The manifests signal the scheme and key
//! ids, and no key appears in any file written. A key file's resolution-class key (`video-hd`)
//! encrypts only that class's renditions, and the manifests name each rendition's own key.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use shotfarm_agent::media::package::encryption::ContentProtection;
use shotfarm_agent::media::package::encryption::keys::{ContentKey, ContentKeys, VideoClass};
use shotfarm_agent::media::package::{AudioPackaging, PackageParams, PackageRendition, PackageResult, package_ladder};
use shotfarm_agent::media::probe::Rational;
use shotfarm_proto::encryption::Scheme;
use tokio_util::sync::CancellationToken;

const VIDEO_KEY: ContentKey = ContentKey { kid: [0x11; 16], key: *b"video-key-16byte" };
const AUDIO_KEY: ContentKey = ContentKey { kid: [0x22; 16], key: *b"audio-key-16byte" };
const HD_KEY: ContentKey = ContentKey { kid: [0x33; 16], key: *b"hd-video-key-16b" };

fn source(dir: &Path) -> PathBuf {
    let path = dir.join("source.mp4");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=2.4", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2.4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path.to_str().unwrap(),
    ]);
    path
}

async fn package(dir: &Path, source: &Path, renditions: &[PackageRendition], protection: Option<ContentProtection>) -> (PathBuf, PackageResult) {
    let params = PackageParams {
        output_dir: dir.to_owned(),
        renditions: renditions.to_vec(),
        frame_rate: Rational { num: 25, den: 1 },
        frames: 60,
        audio: Some(AudioPackaging { source: source.to_owned(), bitrate_kbps: 96, segment_seconds: 0.48 }),
        subtitles_source: None,
        media_folder: "media".to_owned(),
        thumbnails: None,
        protection,
    };
    let result = package_ladder(&params, &CancellationToken::new()).await.unwrap();
    (dir.join("media"), result)
}

fn segment_files(track: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(track.join("playlist.m3u8")).unwrap();
    text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).map(str::to_owned).collect()
}

/// A video track's DASH trick-mode segment files, in order (none for audio).
fn trick_files(track: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(track).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).filter(|name| name.starts_with("trick_") && name.ends_with(".m4s")).collect();
    files.sort();
    files
}

/// Each of a track's segment `files` with the init segment before it, as a player fetches
/// them. (They are decrypted one by one: ffmpeg 5.1's demuxer picks the encryption entries of
/// the last fragment it parsed, not of the packet's own, once a file holds more than two
/// fragments.)
fn segments_with_init(track: &Path, files: &[String]) -> Vec<PathBuf> {
    let init = std::fs::read(track.join("init.mp4")).unwrap();
    files
        .iter()
        .map(|file| {
            let path = track.join(format!("{file}.whole.mp4"));
            std::fs::write(&path, [init.clone(), std::fs::read(track.join(file)).unwrap()].concat()).unwrap();
            path
        })
        .collect()
}

/// ffmpeg's MD5 of every packet (`copy`: the samples as stored, decrypted when a key is
/// given) or of every decoded frame, of the track's first stream, segment by segment; its
/// error when it fails.
fn hashed(track: &Path, decode: bool, key: Option<&[u8; 16]>) -> Result<Vec<String>, String> {
    hashed_files(&segments_with_init(track, &segment_files(track)), decode, key)
}

/// [`hashed`] of some of a track's segments (each with its init segment before it).
fn hashed_files(paths: &[PathBuf], decode: bool, key: Option<&[u8; 16]>) -> Result<Vec<String>, String> {
    let mut hashes = Vec::new();
    for path in paths {
        let mut command = Command::new("ffmpeg");
        command.args(["-v", "error", "-xerror"]);
        if let Some(key) = key {
            command.args(["-decryption_key", &hex::encode(key)]);
        }
        command.arg("-i").arg(path).args(["-map", "0:0"]);
        if !decode {
            command.args(["-c", "copy"]);
        }
        let output = command.args(["-f", "framemd5", "-"]).output().unwrap();
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let text = String::from_utf8(output.stdout).unwrap();
        // stream, dts, pts, duration, size, hash[, side data…]: the protected first packet
        // also carries the key's side data.
        hashes.extend(text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split(',').nth(5)).map(|hash| hash.trim().to_owned()));
    }
    Ok(hashes)
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The boxes directly inside `body`: (kind, start of the box, its body).
fn boxes(body: &[u8]) -> Vec<([u8; 4], usize, &[u8])> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + 8 <= body.len() {
        let size = be32(body, at) as usize;
        assert!(size >= 8 && at + size <= body.len(), "a box overruns its parent");
        found.push((body[at + 4..at + 8].try_into().unwrap(), at, &body[at + 8..at + size]));
        at += size;
    }
    assert_eq!(at, body.len(), "trailing bytes after the last box");
    found
}

fn only<'a>(body: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
    let matching: Vec<&[u8]> = boxes(body).into_iter().filter(|(found, _, _)| found == kind).map(|(_, _, body)| body).collect();
    assert_eq!(matching.len(), 1, "one {} box", String::from_utf8_lossy(kind));
    matching[0]
}

/// Checks a protected init segment; the original sample entry's four characters.
fn check_init(init: &[u8], scheme: Scheme, key: &ContentKey, video: bool) -> [u8; 4] {
    let moov = only(init, b"moov");
    let systems: Vec<[u8; 16]> = boxes(moov)
        .into_iter()
        .filter(|(kind, _, _)| kind == b"pssh")
        .map(|(_, _, pssh)| {
            let kids = be32(pssh, 20) as usize;
            assert!((0..kids).any(|index| pssh[24 + 16 * index..40 + 16 * index] == key.kid), "every pssh names the track's key id");
            pssh[4..20].try_into().unwrap()
        })
        .collect();
    assert_eq!(systems.len(), 3, "common, Widevine and PlayReady headers");
    let stsd = only(only(only(only(only(moov, b"trak"), b"mdia"), b"minf"), b"stbl"), b"stsd");
    let entries = boxes(&stsd[8..]);
    assert_eq!(entries.len(), 1);
    let (kind, _, entry) = entries[0];
    assert_eq!(&kind, if video { b"encv" } else { b"enca" });
    let sinf = only(&entry[if video { 78 } else { 28 }..], b"sinf");
    let original: [u8; 4] = only(sinf, b"frma").try_into().unwrap();
    let schm = only(sinf, b"schm");
    assert_eq!((&schm[4..8], be32(schm, 8)), (&scheme.fourcc()[..], 0x0001_0000));
    let tenc = only(only(sinf, b"schi"), b"tenc");
    assert_eq!((tenc[6], &tenc[8..24]), (1, &key.kid[..]), "protected by default, with the track's key id");
    match scheme {
        Scheme::Cenc => assert_eq!((tenc[0], tenc[7]), (0, 8), "cenc: version 0, 8-byte IVs"),
        Scheme::Cbcs => {
            assert_eq!((tenc[0], tenc[7], tenc[24]), (1, 0, 16), "cbcs: version 1, a constant 16-byte IV");
            assert_eq!(tenc[5], if video { 0x19 } else { 0 }, "video 1:9, audio whole blocks");
        }
    }
    original
}

/// Checks each fragment's `senc`/`saiz`/`saio` against its `trun`; the protected bytes seen.
fn check_segment(segment: &[u8], scheme: Scheme, video: bool) -> u64 {
    let mut protected_bytes = 0u64;
    for (kind, moof_start, moof) in boxes(segment) {
        if &kind != b"moof" {
            continue;
        }
        let (traf_start, traf) = boxes(moof).into_iter().find(|(kind, _, _)| kind == b"traf").map(|(_, start, body)| (start, body)).unwrap();
        let trun = only(traf, b"trun");
        let trun_flags = be32(trun, 0) & 0xff_ffff;
        let count = be32(trun, 4) as usize;
        assert_ne!(trun_flags & 0x200, 0, "ffmpeg's truns carry sample sizes");
        let fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|bit| trun_flags & **bit != 0).count();
        let mut at = 8 + if trun_flags & 1 != 0 { 4 } else { 0 } + if trun_flags & 4 != 0 { 4 } else { 0 };
        let size_index = [0x100].iter().filter(|bit| trun_flags & **bit != 0).count();
        let sizes: Vec<usize> = (0..count).map(|_| {
            let size = be32(trun, at + 4 * size_index) as usize;
            at += 4 * fields;
            size
        }).collect();
        let senc = only(traf, b"senc");
        let subsamples = be32(senc, 0) & 2 != 0;
        assert_eq!(subsamples, video, "video in subsamples, audio whole");
        assert_eq!(be32(senc, 4) as usize, count, "one senc entry per sample");
        let iv_size = if scheme == Scheme::Cenc { 8 } else { 0 };
        let mut at = 8;
        let mut entry_sizes = Vec::new();
        for sample_size in &sizes {
            let start = at;
            at += iv_size;
            if subsamples {
                let ranges = u16::from_be_bytes([senc[at], senc[at + 1]]) as usize;
                at += 2;
                let mut total = 0;
                for _ in 0..ranges {
                    let clear = u16::from_be_bytes([senc[at], senc[at + 1]]) as usize;
                    let protected = be32(senc, at + 2) as usize;
                    assert_eq!(protected % 16, 0, "whole protected blocks");
                    total += clear + protected;
                    protected_bytes += protected as u64;
                    at += 6;
                }
                assert_eq!(total, *sample_size, "subsamples add up to the sample");
            } else {
                protected_bytes += *sample_size as u64;
            }
            entry_sizes.push(at - start);
        }
        assert_eq!(at, senc.len(), "the senc holds exactly its entries");
        let saiz = only(traf, b"saiz");
        assert_eq!(be32(saiz, 5) as usize, count);
        if saiz[4] == 0 {
            assert_eq!(saiz[9..].iter().map(|size| usize::from(*size)).collect::<Vec<_>>(), entry_sizes);
        } else {
            assert!(entry_sizes.iter().all(|size| *size == usize::from(saiz[4])));
        }
        let saio = only(traf, b"saio");
        assert_eq!(be32(saio, 4), 1);
        let offset = be32(saio, 8) as usize;
        // The offset counts from the moof's first byte; the senc's entries follow its header,
        // version and flags, and sample count.
        let senc_start = boxes(traf).into_iter().find(|(kind, _, _)| kind == b"senc").map(|(_, start, _)| start).unwrap();
        assert_eq!(offset, 8 + traf_start + 8 + senc_start + 16, "saio points at the first senc entry");
        assert_eq!(&segment[moof_start + offset - 12..moof_start + offset - 8], b"senc");
    }
    protected_bytes
}

/// The source, its two H.264 renditions and their clear packaging (its media folder), in `dir`.
async fn clear_ladder(dir: &Path) -> (PathBuf, Vec<PackageRendition>, PathBuf) {
    let source = source(dir);
    let renditions = common::ladder::h264_renditions(dir, &source);
    let (clear, _) = package(&dir.join("clear"), &source, &renditions, None).await;
    (source, renditions, clear)
}

/// Each packaged track: its name, whether it is video, and the key it takes (one video key,
/// one audio key).
fn tracks_and_keys(renditions: &[PackageRendition], result: &PackageResult) -> Vec<(String, bool, &'static ContentKey)> {
    let mut tracks: Vec<(String, bool, &ContentKey)> = renditions.iter().map(|rendition| (rendition.rung.name.clone(), true, &VIDEO_KEY)).collect();
    tracks.extend(result.audio_renditions.iter().map(|audio| (audio.rendition.name.clone(), false, &AUDIO_KEY)));
    tracks
}

#[tokio::test]
async fn encrypted_ladders_decrypt_to_the_clear_frames_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (source, renditions, clear) = clear_ladder(dir.path()).await;
    let keys = ContentKeys::new(VIDEO_KEY, AUDIO_KEY);
    for scheme in [Scheme::Cbcs, Scheme::Cenc] {
        let out = dir.path().join(scheme.as_str());
        let (media, result) = package(&out, &source, &renditions, Some(ContentProtection { scheme, keys: keys.clone(), clear_lead_seconds: 0.0 })).await;
        let summary = result.protection.as_ref().unwrap();
        assert_eq!((summary.scheme, summary.video_kid.as_str()), (scheme, "11111111-1111-1111-1111-111111111111"));

        let tracks = tracks_and_keys(&renditions, &result);
        assert!(tracks.iter().any(|(_, video, _)| !video), "an audio rendition");
        for (name, video, key) in tracks {
            let track = media.join(&name);
            let original = check_init(&std::fs::read(track.join("init.mp4")).unwrap(), scheme, key, video);
            assert_eq!(&original, if video { b"avc1" } else { b"mp4a" });
            let protected: u64 = segment_files(&track).iter().map(|file| check_segment(&std::fs::read(track.join(file)).unwrap(), scheme, video)).sum();
            assert!(protected > 0, "{scheme:?} {name}: nothing was protected");
            // The trick-mode segments (each segment's keyframe alone) are protected as well.
            let trick = trick_files(&track);
            assert_eq!(trick.len(), if video { segment_files(&track).len() } else { 0 }, "{scheme:?} {name}: one trick-mode segment per video segment");
            for file in &trick {
                assert!(check_segment(&std::fs::read(track.join(file)).unwrap(), scheme, video) > 0, "{scheme:?} {name} {file}: nothing was protected");
            }
            if video {
                let expected = hashed_files(&segments_with_init(&clear.join(&name), &trick), true, None).unwrap();
                let decrypted = hashed_files(&segments_with_init(&track, &trick), true, Some(&key.key)).unwrap_or_else(|error| panic!("{scheme:?} {name}: ffmpeg could not decrypt its trick-mode segments: {error}"));
                assert_eq!((decrypted.len(), &decrypted), (trick.len(), &expected), "{scheme:?} {name}: one decrypted keyframe per trick-mode segment, the clear packaging's");
            }

            // The samples, byte for byte, and (video) the decoded frames.
            for decode in if video { vec![false, true] } else { vec![false] } {
                let expected = hashed(&clear.join(&name), decode, None).unwrap();
                let decrypted = hashed(&track, decode, Some(&key.key)).unwrap_or_else(|error| panic!("{scheme:?} {name}: ffmpeg could not decrypt it: {error}"));
                assert_eq!(decrypted.len(), expected.len(), "{scheme:?} {name}: sample count");
                assert_eq!(decrypted, expected, "{scheme:?} {name}: decrypted {} differ from the clear packaging", if decode { "frames" } else { "samples" });
                if !decode {
                    assert_ne!(hashed(&track, false, Some(&[0x55; 16])).ok(), Some(expected.clone()), "{scheme:?} {name}: a wrong key gave the clear samples");
                    assert_ne!(hashed(&track, false, None).ok(), Some(expected), "{scheme:?} {name}: the samples are stored in the clear");
                }
            }
        }

        let playlist = std::fs::read_to_string(media.join(&renditions[0].rung.name).join("playlist.m3u8")).unwrap();
        let method = if scheme == Scheme::Cbcs { "METHOD=SAMPLE-AES," } else { "METHOD=SAMPLE-AES-CTR," };
        assert!(playlist.lines().filter(|line| line.starts_with("#EXT-X-KEY:")).all(|line| line.contains(method) && line.contains("KEYFORMAT=")), "{playlist}");
        assert_eq!(playlist.contains("skd://11111111111111111111111111111111"), scheme == Scheme::Cbcs, "FairPlay for cbcs only");
        assert!(
            playlist.contains("URI=\"data:text/plain;base64,EREREREREREREREREREREQ==\",KEYID=0x11111111111111111111111111111111,KEYFORMAT=\"org.w3.clearkey\""),
            "Clear Key names the key id as hls.js reads it: {playlist}"
        );
        let iframes = std::fs::read_to_string(media.join(&renditions[0].rung.name).join("iframes.m3u8")).unwrap();
        assert!(iframes.contains(method), "the I-frame playlist names the keys too");
        let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
        assert!(mpd.contains(&format!("value=\"{}\" cenc:default_KID=\"11111111-1111-1111-1111-111111111111\"", scheme.as_str())), "{mpd}");
        assert!(mpd.contains("cenc:default_KID=\"22222222-2222-2222-2222-222222222222\""), "the audio set names its own key");
        assert_eq!(mpd.matches("<cenc:pssh>").count(), 9, "three systems for video, its trick-mode set and audio");

        for entry in walk(&out) {
            let bytes = std::fs::read(&entry).unwrap();
            for key in [&VIDEO_KEY.key, &AUDIO_KEY.key] {
                assert!(!bytes.windows(16).any(|window| window == key), "{} holds a key", entry.display());
                assert!(!String::from_utf8_lossy(&bytes).contains(&hex::encode(key)), "{} holds a key in hex", entry.display());
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[tokio::test]
async fn an_hd_key_encrypts_the_hd_renditions_and_the_video_key_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path());
    let mut renditions = common::ladder::h264_renditions(dir.path(), &source);
    let hd_path = dir.path().join("720p.mp4");
    common::ffmpeg(&[
        "-i", source.to_str().unwrap(), "-map", "0:v", "-fps_mode", "passthrough", "-vf", "scale=1280:720",
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "12", "-keyint_min", "12", "-sc_threshold", "0", "-x264-params", "b-adapt=0",
        hd_path.to_str().unwrap(),
    ]);
    let hd_rung = shotfarm_proto::pipeline::Rung { name: "720p".into(), width: 1280, height: 720, codec: shotfarm_proto::pipeline::Codec::H264, bitrate_kbps: 900, maxrate_kbps: 1350, bufsize_kbps: 1800 };
    renditions.insert(0, PackageRendition { rung: hd_rung, path: hd_path });
    let (clear, _) = package(&dir.path().join("clear"), &source, &renditions, None).await;
    let keys = ContentKeys { video_classes: vec![(VideoClass::Hd, HD_KEY)], ..ContentKeys::new(VIDEO_KEY, AUDIO_KEY) };
    let out = dir.path().join("cenc");
    let (media, result) = package(&out, &source, &renditions, Some(ContentProtection { scheme: Scheme::Cenc, keys, clear_lead_seconds: 0.0 })).await;
    let summary = result.protection.as_ref().unwrap();
    assert_eq!(summary.video_kid, "11111111-1111-1111-1111-111111111111");
    assert_eq!(summary.video_class_kids.get("video-hd").map(String::as_str), Some("33333333-3333-3333-3333-333333333333"), "{summary:?}");

    for (name, key, other) in [("720p", &HD_KEY, &VIDEO_KEY), ("180p", &VIDEO_KEY, &HD_KEY), ("90p", &VIDEO_KEY, &HD_KEY)] {
        let track = media.join(name);
        check_init(&std::fs::read(track.join("init.mp4")).unwrap(), Scheme::Cenc, key, true);
        let expected = hashed(&clear.join(name), true, None).unwrap();
        assert_eq!(hashed(&track, true, Some(&key.key)).unwrap(), expected, "{name}: its own key decrypts it to the clear frames");
        let samples = hashed(&clear.join(name), false, None).unwrap();
        assert_ne!(hashed(&track, false, Some(&other.key)).ok(), Some(samples), "{name}: another rendition's key decrypted it");
        let playlist = std::fs::read_to_string(track.join("playlist.m3u8")).unwrap();
        let kid_hex = hex::encode(key.kid);
        assert!(playlist.lines().filter(|line| line.starts_with("#EXT-X-KEY:") && line.contains("KEYID=")).all(|line| line.contains(&kid_hex)), "{name}: {playlist}");
    }
    // Renditions of different keys in one AdaptationSet: each Representation names its own.
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    let video_set = mpd.split("<AdaptationSet").find(|set| set.contains("contentType=\"video\"")).unwrap();
    let (set_head, representations) = video_set.split_once("<Representation").unwrap();
    assert!(!set_head.contains("default_KID"), "the set names no single key: {video_set}");
    for (name, kid) in [("720p", "33333333-3333-3333-3333-333333333333"), ("180p", "11111111-1111-1111-1111-111111111111")] {
        let representation = representations.split("<Representation").find(|text| text.contains(&format!("id=\"{name}\""))).unwrap_or_else(|| panic!("{name}: {mpd}"));
        assert!(representation.contains(&format!("cenc:default_KID=\"{kid}\"")) && representation.contains("<cenc:pssh>"), "{name}: {representation}");
    }
}

#[tokio::test]
async fn a_clear_lead_leaves_the_first_segments_clear_under_a_protected_sample_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (source, renditions, clear) = clear_ladder(dir.path()).await;
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        let out = dir.path().join(format!("{}-lead", scheme.as_str()));
        let protection = ContentProtection { scheme, keys: ContentKeys::new(VIDEO_KEY, AUDIO_KEY), clear_lead_seconds: 1.0 };
        let (media, result) = package(&out, &source, &renditions, Some(protection)).await;
        assert_eq!(result.protection.as_ref().map(|summary| summary.clear_lead_seconds), Some(1.0));
        let tracks = tracks_and_keys(&renditions, &result);
        for (name, video, key) in tracks {
            let track = media.join(&name);
            check_init(&std::fs::read(track.join("init.mp4")).unwrap(), scheme, key, video);
            let playlist = std::fs::read_to_string(track.join("playlist.m3u8")).unwrap();
            let starts: Vec<f64> = playlist.lines().filter_map(|line| line.strip_prefix("#EXTINF:")).scan(0.0, |at, rest| {
                let start = *at;
                *at += rest.trim_end_matches(',').parse::<f64>().unwrap();
                Some(start)
            }).collect();
            let media_files = segment_files(&track);
            assert_eq!(starts.len(), media_files.len(), "{playlist}");
            let lead = starts.iter().filter(|start| **start < 1.0).count();
            assert!(lead >= 1 && lead < media_files.len(), "{scheme:?} {name}: a lead and a protected rest: {starts:?}");
            // A video track's trick-mode segments keep the same lead.
            for files in [media_files, trick_files(&track)].iter().filter(|files| !files.is_empty()) {
                for (index, file) in files.iter().enumerate() {
                    let segment = std::fs::read(track.join(file)).unwrap();
                    let clear_segment = std::fs::read(clear.join(&name).join(file)).unwrap();
                    let mdat = |bytes: &[u8]| boxes(bytes).into_iter().filter(|(kind, _, _)| kind == b"mdat").map(|(_, _, body)| body.to_vec()).collect::<Vec<_>>();
                    let trafs: Vec<Vec<u8>> = boxes(&segment).into_iter().filter(|(kind, _, _)| kind == b"moof").map(|(_, _, moof)| only(moof, b"traf").to_vec()).collect();
                    if index < lead {
                        assert_eq!(mdat(&segment), mdat(&clear_segment), "{scheme:?} {name} {file}: a lead segment's samples are the clear ones");
                        for traf in &trafs {
                            let kinds: Vec<[u8; 4]> = boxes(traf).into_iter().map(|(kind, _, _)| kind).collect();
                            assert!(!kinds.contains(b"senc") && !kinds.contains(b"saio"), "{scheme:?} {name} {file}: {kinds:?}");
                            let sgpd = only(traf, b"sgpd");
                            assert_eq!((&sgpd[4..8], be32(sgpd, 8), be32(sgpd, 12)), (&b"seig"[..], 20, 1), "one 20-byte seig entry");
                            assert_eq!(sgpd[16 + 2], 0, "isProtected is 0");
                            let sbgp = only(traf, b"sbgp");
                            let samples = be32(only(traf, b"trun"), 4);
                            assert_eq!((&sbgp[4..8], be32(sbgp, 8), be32(sbgp, 12), be32(sbgp, 16)), (&b"seig"[..], 1, samples, 0x10001), "every sample in the fragment's own entry");
                        }
                    } else {
                        assert_ne!(mdat(&segment), mdat(&clear_segment), "{scheme:?} {name} {file}: after the lead the samples are protected");
                        check_segment(&segment, scheme, video);
                    }
                }
                // The lead reads as the clear packaging with no key, the rest decrypts with the key.
                // (ffmpeg 5.1 ignores `seig` groups: given a key, it would decrypt the lead too.)
                let (protected_files, clear_files) = (segments_with_init(&track, files), segments_with_init(&clear.join(&name), files));
                let ((lead_files, rest), (clear_lead, clear_rest)) = (protected_files.split_at(lead), clear_files.split_at(lead));
                for decode in if video { vec![false, true] } else { vec![false] } {
                    assert_eq!(hashed_files(lead_files, decode, None).unwrap(), hashed_files(clear_lead, decode, None).unwrap(), "{scheme:?} {name}: the lead, decode {decode}");
                    assert_eq!(hashed_files(rest, decode, Some(&key.key)).unwrap(), hashed_files(clear_rest, decode, None).unwrap(), "{scheme:?} {name}: after the lead, decode {decode}");
                }
            }
        }
    }
}
