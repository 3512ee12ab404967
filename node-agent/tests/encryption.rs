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
//!
//! AV1 (SVT-AV1 as the farm runs it and with superres and film grain, libaom with tiles and
//! lossless in tile groups, rav1e with segmentation: `common::ladder::av1_renditions`) is
//! judged by ffmpeg's own AV1 parser too: for every sample, the tile group headers and tiles
//! found by the packager's parser are those of `trace_headers` (its bit positions, its tile
//! counts, and the `tile_size_minus_1` fields where it says they are); the `senc` subsamples
//! protect exactly those tiles as the AV1 ISOBMFF binding says — whole blocks ending on each
//! tile's last byte under `cenc`, each whole tile under `cbcs`; and both decrypt to the clear
//! packaging's samples and frames.
#![allow(clippy::unwrap_used)]

mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use shotfarm_agent::media::package::encryption::ContentProtection;
use shotfarm_agent::media::package::encryption::av1::{Av1Stream, TileGroup};
use shotfarm_agent::media::package::encryption::keys::{ContentKey, ContentKeys, VideoClass};
use shotfarm_agent::media::package::{PackageParams, PackageRendition, PackageResult, package_ladder};
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
        audio: common::ladder::audio_packaging(source, (60, Rational { num: 25, den: 1 }), 0.48, &dir.join("audio")).await,
        subtitles: Vec::new(),
        media_folder: "media".to_owned(),
        thumbnails: None,
        shot_starts: Vec::new(),
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
    let (kind, entry) = sample_entry(init);
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

/// The single sample entry of an init segment: its four characters and body.
fn sample_entry(init: &[u8]) -> ([u8; 4], &[u8]) {
    let moov = only(init, b"moov");
    let stsd = only(only(only(only(only(moov, b"trak"), b"mdia"), b"minf"), b"stbl"), b"stsd");
    let entries = boxes(&stsd[8..]);
    assert_eq!(entries.len(), 1);
    let (kind, _, entry) = entries[0];
    (kind, entry)
}

/// The sizes of a `trun`'s samples.
fn trun_sample_sizes(trun: &[u8]) -> Vec<usize> {
    let trun_flags = be32(trun, 0) & 0xff_ffff;
    let count = be32(trun, 4) as usize;
    assert_ne!(trun_flags & 0x200, 0, "ffmpeg's truns carry sample sizes");
    let fields = [0x100, 0x200, 0x400, 0x800].iter().filter(|bit| trun_flags & **bit != 0).count();
    let mut at = 8 + if trun_flags & 1 != 0 { 4 } else { 0 } + if trun_flags & 4 != 0 { 4 } else { 0 };
    let size_index = [0x100].iter().filter(|bit| trun_flags & **bit != 0).count();
    (0..count).map(|_| {
        let size = be32(trun, at + 4 * size_index) as usize;
        at += 4 * fields;
        size
    }).collect()
}

/// Each sample of a media segment, where its fragment's `trun` puts it (from the `moof`).
fn segment_samples(segment: &[u8]) -> Vec<&[u8]> {
    let mut samples = Vec::new();
    for (kind, moof_start, moof) in boxes(segment) {
        if &kind != b"moof" {
            continue;
        }
        let trun = only(only(moof, b"traf"), b"trun");
        assert_ne!(be32(trun, 0) & 1, 0, "the trun has a data offset");
        let mut at = moof_start + be32(trun, 8) as usize;
        for size in trun_sample_sizes(trun) {
            samples.push(&segment[at..at + size]);
            at += size;
        }
    }
    samples
}

/// Checks each fragment's `senc`/`saiz`/`saio` against its `trun`; each sample's subsamples
/// (clear bytes, protected bytes), a sample protected whole as one.
fn check_segment(segment: &[u8], scheme: Scheme, video: bool) -> Vec<Vec<(usize, usize)>> {
    let mut samples = Vec::new();
    for (kind, moof_start, moof) in boxes(segment) {
        if &kind != b"moof" {
            continue;
        }
        let (traf_start, traf) = boxes(moof).into_iter().find(|(kind, _, _)| kind == b"traf").map(|(_, start, body)| (start, body)).unwrap();
        let sizes = trun_sample_sizes(only(traf, b"trun"));
        let count = sizes.len();
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
                let sample: Vec<(usize, usize)> = (0..ranges).map(|index| (u16::from_be_bytes([senc[at + 6 * index], senc[at + 6 * index + 1]]) as usize, be32(senc, at + 6 * index + 2) as usize)).collect();
                at += 6 * ranges;
                assert_eq!(sample.iter().map(|(clear, protected)| clear + protected).sum::<usize>(), *sample_size, "subsamples add up to the sample");
                samples.push(sample);
            } else {
                samples.push(vec![(0, *sample_size)]);
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
    samples
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
            let subsamples: Vec<(usize, usize)> = segment_files(&track).iter().flat_map(|file| check_segment(&std::fs::read(track.join(file)).unwrap(), scheme, video)).flatten().collect();
            if video {
                assert!(subsamples.iter().all(|(_, protected)| protected % 16 == 0), "{scheme:?} {name}: whole protected blocks");
            }
            assert!(subsamples.iter().any(|(_, protected)| *protected > 0), "{scheme:?} {name}: nothing was protected");
            // The trick-mode segments (each segment's keyframe alone) are protected as well.
            let trick = trick_files(&track);
            assert_eq!(trick.len(), if video { segment_files(&track).len() } else { 0 }, "{scheme:?} {name}: one trick-mode segment per video segment");
            for file in &trick {
                let protected = check_segment(&std::fs::read(track.join(file)).unwrap(), scheme, video).into_iter().flatten().any(|(_, protected)| protected > 0);
                assert!(protected, "{scheme:?} {name} {file}: nothing was protected");
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

/// One OBU of a packet as ffmpeg's `trace_headers` prints it (bit positions count from the
/// OBU's first byte).
#[derive(Default)]
struct TracedObu {
    /// Where its payload starts: the end of its header and `obu_size`.
    header_end_bits: usize,
    obu_size: Option<usize>,
    /// The end of its frame header, byte alignment included (a frame OBU's).
    frame_header_end_bits: usize,
    tile_group: Option<TracedTileGroup>,
}

struct TracedTileGroup {
    start_bits: usize,
    end_bits: usize,
    /// `tg_start` and `tg_end`, when present.
    first_and_last: Option<(usize, usize)>,
    /// Its frame's tile count and `TileSizeBytes`.
    frame_tiles: usize,
    tile_size_bytes: usize,
}

/// Every sample's tile groups as ffmpeg's own AV1 parser finds them: `trace_headers` on the
/// clear segment `path` (its init segment before it), whose packets are `samples`. Each tile
/// group header lies where the trace's bit positions put it; the tile count comes from the
/// frame's tile info (`tiles RxC` in the debug log) or the group's `tg_start`/`tg_end`, and
/// each tile but a group's last begins with `tile_size_minus_1` (`TileSizeBytes` long, from the
/// trace) read here from the sample.
fn traced_tile_groups(path: &Path, samples: &[&[u8]]) -> Vec<Vec<TileGroup>> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-v", "debug", "-i"])
        .arg(path)
        .args(["-map", "0:v", "-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(output.status.success(), "trace_headers of {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let log = String::from_utf8_lossy(&output.stderr);
    let mut packets: Vec<Vec<TracedObu>> = Vec::new();
    let (mut frame_tiles, mut tile_size_bytes, mut section) = (1, 4, String::new());
    // `[trace_headers @ 0x…] 42          tile_cols_log2         10 = 1`, a section name, a
    // packet, or cbs's `Frame N: … tiles RxC.`; the extradata before the first packet is skipped.
    for line in log.lines().filter_map(|line| line.strip_prefix("[trace_headers @ ")?.split_once("] ").map(|(_, line)| line)) {
        if line.starts_with("Packet:") {
            packets.push(Vec::new());
            continue;
        }
        let Some(packet) = packets.last_mut() else { continue };
        if let Some(grid) = line.strip_prefix("Frame ").and_then(|rest| rest.split(" tiles ").nth(1)) {
            let (rows, columns) = grid.trim_end_matches('.').split_once('x').unwrap();
            frame_tiles = rows.parse::<usize>().unwrap() * columns.parse::<usize>().unwrap();
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Ok(position) = tokens[0].parse::<usize>() else {
            section = line.to_owned();
            if section == "OBU header" {
                packet.push(TracedObu::default());
            }
            let obu = packet.last_mut().unwrap();
            if section == "Tile Group" {
                let start_bits = if obu.frame_header_end_bits > 0 { obu.frame_header_end_bits } else { obu.header_end_bits };
                obu.tile_group = Some(TracedTileGroup { start_bits, end_bits: start_bits, first_and_last: None, frame_tiles, tile_size_bytes });
            }
            continue;
        };
        let (name, bits) = (tokens[1], if tokens[2] == "=" { "" } else { tokens[2] });
        // (Signed fields print negative values; the ones used here are not.)
        let value = tokens.last().unwrap().parse::<i64>().unwrap() as usize;
        let end = position + bits.len();
        let obu = packet.last_mut().unwrap();
        match section.as_str() {
            "OBU header" => {
                obu.header_end_bits = obu.header_end_bits.max(end);
                if name == "obu_size" {
                    obu.obu_size = Some(value);
                }
            }
            "Frame Header" | "Redundant Frame Header (used as Frame Header)" => {
                obu.frame_header_end_bits = obu.frame_header_end_bits.max(end);
                if name == "tile_size_bytes_minus1" {
                    tile_size_bytes = value + 1;
                }
            }
            "Tile Group" => {
                let group = obu.tile_group.as_mut().unwrap();
                group.end_bits = group.end_bits.max(end);
                match name {
                    "tg_start" => group.first_and_last = Some((value, 0)),
                    "tg_end" => group.first_and_last.as_mut().unwrap().1 = value,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(packets.len(), samples.len(), "{}: ffmpeg's packets are the samples", path.display());
    packets
        .iter()
        .zip(samples)
        .map(|(obus, sample)| {
            let mut groups = Vec::new();
            let mut obu_start = 0;
            for obu in obus {
                let payload_start = obu_start + obu.header_end_bits / 8;
                let obu_end = payload_start + obu.obu_size.unwrap_or(sample.len() - payload_start);
                if let Some(group) = &obu.tile_group {
                    let header = obu_start + group.start_bits.div_ceil(8)..obu_start + group.end_bits.div_ceil(8);
                    let count = group.first_and_last.map_or(group.frame_tiles, |(first, last)| last - first + 1);
                    let mut at = header.end;
                    let mut tiles = Vec::new();
                    for index in 0..count {
                        if index + 1 == count {
                            tiles.push(at..obu_end);
                        } else {
                            let field = &sample[at..at + group.tile_size_bytes];
                            let size = field.iter().rev().fold(0, |value, byte| (value << 8) | usize::from(*byte)) + 1;
                            at += group.tile_size_bytes;
                            tiles.push(at..at + size);
                            at += size;
                        }
                    }
                    groups.push(TileGroup { header, tiles });
                }
                obu_start = obu_end;
            }
            groups
        })
        .collect()
}

/// The protected byte ranges of a sample with these subsamples.
fn protected_ranges(subsamples: &[(usize, usize)]) -> Vec<Range<usize>> {
    let mut at = 0;
    let mut ranges = Vec::new();
    for (clear, protected) in subsamples {
        at += clear;
        if *protected > 0 {
            ranges.push(at..at + protected);
        }
        at += protected;
    }
    ranges
}

#[tokio::test]
async fn av1_ladders_protect_exactly_the_tiles_ffmpeg_finds_and_decrypt_to_the_clear_frames() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path());
    let renditions = common::ladder::av1_renditions(dir.path(), &source);
    let (clear, _) = package(&dir.path().join("clear"), &source, &renditions, None).await;

    // Every sample's tile groups, by ffmpeg's parser and by ours: one stream per track, from
    // its av1C, through all of its segments.
    let mut traced: Vec<Vec<Vec<TileGroup>>> = Vec::new();
    for rendition in &renditions {
        let name = &rendition.rung.name;
        let track = clear.join(name);
        let init = std::fs::read(track.join("init.mp4")).unwrap();
        let (kind, entry) = sample_entry(&init);
        assert_eq!(&kind, b"av01");
        let mut stream = Av1Stream::from_config_record(only(&entry[78..], b"av1C")).unwrap();
        let mut track_groups = Vec::new();
        for (file, whole) in segment_files(&track).iter().zip(segments_with_init(&track, &segment_files(&track))) {
            let segment = std::fs::read(track.join(file)).unwrap();
            let samples = segment_samples(&segment);
            for (index, (sample, expected)) in samples.iter().zip(traced_tile_groups(&whole, &samples)).enumerate() {
                let found = stream.tile_groups(sample).unwrap_or_else(|why| panic!("{name} {file} sample {index}: {why}"));
                assert_eq!(found, expected, "{name} {file} sample {index}: the tile group headers and tiles differ from ffmpeg's");
                track_groups.push(expected);
            }
        }
        let groups = track_groups.iter().map(Vec::len).sum::<usize>();
        let tiles = track_groups.iter().flatten().map(|group| group.tiles.len()).sum::<usize>();
        eprintln!("{name}: {} samples, {groups} tile groups, {tiles} tiles as ffmpeg finds them", track_groups.len());
        let most_tiles = track_groups.iter().flatten().map(|group| group.tiles.len()).max().unwrap();
        let most_groups = track_groups.iter().map(Vec::len).max().unwrap();
        match name.as_str() {
            "svt" | "svt-superres-grain" => assert!(track_groups.iter().any(Vec::is_empty) && most_groups > 1, "{name}: hidden frames and show_existing_frame samples"),
            "aom-lossless-tile-groups" => assert!(most_tiles == 2 && most_groups >= 4, "{name}: frames in two groups of 2 tiles"),
            _ => assert_eq!(most_tiles, 4, "{name}: 2x2 tiles"),
        }
        traced.push(track_groups);
    }

    // The clear packaging's samples and frames, as ffmpeg reads them.
    let clear_hashes: Vec<[Vec<String>; 2]> = renditions.iter().map(|rendition| [false, true].map(|decode| hashed(&clear.join(&rendition.rung.name), decode, None).unwrap())).collect();
    let keys = ContentKeys::new(VIDEO_KEY, AUDIO_KEY);
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        let (media, _) = package(&dir.path().join(scheme.as_str()), &source, &renditions, Some(ContentProtection { scheme, keys: keys.clone(), clear_lead_seconds: 0.0 })).await;
        for ((rendition, track_groups), [clear_samples, clear_frames]) in renditions.iter().zip(&traced).zip(&clear_hashes) {
            let name = &rendition.rung.name;
            let track = media.join(name);
            assert_eq!(&check_init(&std::fs::read(track.join("init.mp4")).unwrap(), scheme, &VIDEO_KEY, true), b"av01");
            let subsamples: Vec<Vec<(usize, usize)>> = segment_files(&track).iter().flat_map(|file| check_segment(&std::fs::read(track.join(file)).unwrap(), scheme, true)).collect();
            assert_eq!(subsamples.len(), track_groups.len(), "{scheme:?} {name}: samples");
            // The binding: under cenc each tile's whole blocks, ending on its last byte (none
            // for a tile under 16 bytes); under cbcs each whole tile, the pattern's concern.
            for (index, (sample, groups)) in subsamples.iter().zip(track_groups).enumerate() {
                let tiles = groups.iter().flat_map(|group| group.tiles.iter().cloned());
                let expected: Vec<Range<usize>> = match scheme {
                    Scheme::Cenc => tiles.filter(|tile| tile.len() >= 16).map(|tile| tile.end - tile.len() / 16 * 16..tile.end).collect(),
                    Scheme::Cbcs => tiles.collect(),
                };
                assert_eq!(protected_ranges(sample), expected, "{scheme:?} {name} sample {index}: protected bytes other than the tiles'");
            }
            for (decode, expected) in [(false, clear_samples), (true, clear_frames)] {
                let decrypted = hashed(&track, decode, Some(&VIDEO_KEY.key)).unwrap_or_else(|error| panic!("{scheme:?} {name}: ffmpeg could not decrypt it: {error}"));
                assert_eq!(&decrypted, expected, "{scheme:?} {name}: decrypted {} differ from the clear packaging", if decode { "frames" } else { "samples" });
            }
            assert_ne!(hashed(&track, false, None).ok().as_ref(), Some(clear_samples), "{scheme:?} {name}: the samples are stored in the clear");
            // Its trick-mode segments (each segment's key frame alone) decrypt to the clear ones.
            let trick = trick_files(&track);
            let clear_trick = hashed_files(&segments_with_init(&clear.join(name), &trick), true, None).unwrap();
            let decrypted = hashed_files(&segments_with_init(&track, &trick), true, Some(&VIDEO_KEY.key)).unwrap_or_else(|error| panic!("{scheme:?} {name}: ffmpeg could not decrypt its trick-mode segments: {error}"));
            assert_eq!((trick.len(), &decrypted), (segment_files(&track).len(), &clear_trick), "{scheme:?} {name}: trick-mode key frames");
        }
    }
}
