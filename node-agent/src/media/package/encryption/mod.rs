//! Common Encryption (ISO/IEC 23001-7) of a packaged ladder: `cbcs` (the scheme FairPlay,
//! and Widevine and PlayReady too, take; HLS `SAMPLE-AES`) or `cenc` (AES-CTR; DASH's
//! classic). After the segmenter wrote a track's clear CMAF files, [`protect_track`] rewrites
//! its init segment (protected sample entry, `pssh`) and each media segment (samples encrypted
//! in place, `senc`/`saiz`/`saio`), so everything read later — timing, I-frame byte ranges,
//! bitrates — is the protected files'. The manifests signal it: [`hls_key_lines`] and
//! [`dash_content_protection`].
//!
//! Keys come from the job's key file ([`keys`]), one per track type; neither keys nor the key
//! file's contents are logged, reported or stored: the report names the scheme and key ids.
//!
//! | module | what |
//! | --- | --- |
//! | [`keys`] | the key file: one key for all tracks, or one for video and one for audio, and keys per video resolution class |
//! | [`samples`] | encrypting one sample: CTR or CBC pattern, subsamples by NAL unit or AV1 tile |
//! | [`av1`] | where an AV1 sample's tile data lies: its OBUs, sequence and frame headers, tile groups, and the reference state kept across a track's frames |
//! | [`init_segment`] | `encv`/`enca` with `sinf` (`frma`, `schm`, `tenc`), `pssh` boxes |
//! | [`media_segment`] | each fragment's samples encrypted in place; `senc`, `saiz`, `saio`; moved data offsets |
//! | [`pssh`] | the systems' headers: W3C common (Clear Key), Widevine, PlayReady |

pub mod av1;
pub mod init_segment;
pub mod keys;
pub mod media_segment;
pub mod pssh;
pub mod samples;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use self::init_segment::{TrackProtection, protect_init};
use self::keys::{ContentKey, ContentKeys};
use self::media_segment::{clear_segment, protect_segment};
use self::pssh::{COMMON_SYSTEM_ID, PLAYREADY_SYSTEM_ID, SystemHeader, WIDEVINE_SYSTEM_ID, base64, system_headers, uuid_text};
use self::samples::{SampleEncryptor, Scheme};
use super::fragments::read_init;

/// How a ladder is protected: the scheme, the keys (in memory only) and the clear lead.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentProtection {
    pub scheme: Scheme,
    pub keys: ContentKeys,
    /// Each segment that starts within this many seconds is left clear (0: none).
    pub clear_lead_seconds: f64,
}

impl ContentProtection {
    /// The DRM systems' headers naming every key id.
    pub fn headers(&self) -> Vec<SystemHeader> {
        system_headers(self.scheme, &self.keys.kids())
    }

    /// What the report says of it: scheme, key ids, systems; no key.
    pub fn summary(&self) -> ProtectionSummary {
        ProtectionSummary {
            scheme: self.scheme,
            video_kid: uuid_text(&self.keys.video.kid),
            audio_kid: uuid_text(&self.keys.audio.kid),
            video_class_kids: self.keys.video_classes.iter().map(|(class, key)| (class.track().to_owned(), uuid_text(&key.kid))).collect(),
            systems: self.headers().iter().map(|header| uuid_text(&header.system_id)).collect(),
            clear_lead_seconds: self.clear_lead_seconds,
        }
    }
}

/// The protection of a packaged ladder as the report and the package result record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectionSummary {
    pub scheme: Scheme,
    pub video_kid: String,
    pub audio_kid: String,
    /// The key ids of the video resolution classes with keys of their own (`video-sd`,
    /// `video-hd`, `video-uhd`); their renditions use these instead of `video_kid`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub video_class_kids: BTreeMap<String, String>,
    /// System ids with a `pssh` in every init segment and a `ContentProtection` in the MPD.
    pub systems: Vec<String>,
    /// The clear lead asked for: each segment that starts within it is clear.
    #[serde(default)]
    pub clear_lead_seconds: f64,
}

/// Which key of [`ContentKeys`] a track takes: a video rendition's by its height (its
/// resolution class), or audio's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackType {
    Video { height: u32 },
    Audio,
}

impl ContentKeys {
    pub fn for_track(&self, track: TrackType) -> &ContentKey {
        match track {
            TrackType::Video { height } => self.video_key(height),
            TrackType::Audio => &self.audio,
        }
    }
}

/// Protects the track in `dir` (its `init.mp4` and the segment files of `groups`) in place,
/// each file replaced whole. Each group is a run of segments in playback order — the media
/// track's, and its trick-mode track's (see [`super::trick_mode`]) — whose first `clear`
/// files (the clear lead) keep their samples clear.
pub fn protect_track(dir: &Path, groups: &[&[String]], clear: usize, protection: &ContentProtection, track: TrackType) -> Result<(), String> {
    let key = protection.keys.for_track(track);
    let init_path = dir.join("init.mp4");
    let defaults = read_init(&init_path)?.sample_defaults;
    let init = std::fs::read(&init_path).map_err(|err| format!("reading {}: {err}", init_path.display()))?;
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut iv);
    if protection.scheme == Scheme::Cenc {
        // The per-sample IVs count up from a random 8-byte start; the low half is the counter.
        iv[8..].fill(0);
    }
    let headers: Vec<Vec<u8>> = protection.headers().into_iter().map(|header| header.pssh).collect();
    let (protected_init, layout) = protect_init(&init, &TrackProtection { scheme: protection.scheme, kid: key.kid, constant_iv: iv }, &headers)?;
    // One encryptor reads the whole track: AV1 frame headers depend on the frames before them.
    // (A clear lead's samples go unread: the first protected segment starts, as every segment
    // does, at a random access point, whose sequence header and shown key frame replace all
    // that earlier frames left.)
    let mut encryptor = SampleEncryptor::new(protection.scheme, key.key, layout, iv);
    for (index, file) in groups.iter().flat_map(|files| files.iter().enumerate()) {
        let path = dir.join(file);
        let segment = std::fs::read(&path).map_err(|err| format!("reading {}: {err}", path.display()))?;
        let rewritten = if index < clear { clear_segment(&segment, defaults) } else { protect_segment(&segment, &mut encryptor, defaults) };
        replace(&path, &rewritten.map_err(|why| format!("{file}: {why}"))?)?;
    }
    replace(&init_path, &protected_init)
}

/// Writes `bytes` beside `path`, then renames it over `path`.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let staged = path.with_extension("protecting");
    std::fs::write(&staged, bytes).map_err(|err| format!("writing {}: {err}", staged.display()))?;
    std::fs::rename(&staged, path).map_err(|err| format!("replacing {}: {err}", path.display()))
}

/// A media (or I-frame) playlist's `EXT-X-KEY` lines for a track with `kid`: FairPlay
/// (`skd://`, `cbcs` only), W3C Clear Key (`org.w3.clearkey`: the key id as a data URI, which
/// is where hls.js reads a Clear Key id from, and as `KEYID`), Widevine and PlayReady with
/// their headers as data URIs.
pub fn hls_key_lines(protection: &ContentProtection, kid: &[u8; 16]) -> String {
    let method = match protection.scheme {
        Scheme::Cbcs => "SAMPLE-AES",
        Scheme::Cenc => "SAMPLE-AES-CTR",
    };
    let kid_hex = hex::encode(kid);
    let mut text = String::new();
    if protection.scheme == Scheme::Cbcs {
        let _ = writeln!(text, "#EXT-X-KEY:METHOD={method},URI=\"skd://{kid_hex}\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"");
    }
    for header in protection.headers() {
        let (format, uri) = match header.system_id {
            COMMON_SYSTEM_ID => ("org.w3.clearkey".to_owned(), format!("data:text/plain;base64,{}", base64(kid))),
            WIDEVINE_SYSTEM_ID => (format!("urn:uuid:{}", uuid_text(&WIDEVINE_SYSTEM_ID)), format!("data:text/plain;base64,{}", base64(&header.pssh))),
            PLAYREADY_SYSTEM_ID => ("com.microsoft.playready".to_owned(), format!("data:text/plain;charset=UTF-16;base64,{}", base64(pssh_data(&header.pssh)))),
            _ => continue,
        };
        let _ = writeln!(text, "#EXT-X-KEY:METHOD={method},URI=\"{uri}\",KEYID=0x{kid_hex},KEYFORMAT=\"{format}\",KEYFORMATVERSIONS=\"1\"");
    }
    text
}

/// An MPD AdaptationSet's `ContentProtection` elements for a track with `kid`: the scheme
/// with the default key id, then each system with its `cenc:pssh`.
pub fn dash_content_protection(protection: &ContentProtection, kid: &[u8; 16], indent: &str) -> String {
    let mut xml = format!(
        "{indent}<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{}\" cenc:default_KID=\"{}\"/>\n",
        protection.scheme.as_str(),
        uuid_text(kid)
    );
    for header in protection.headers() {
        let _ = writeln!(
            xml,
            "{indent}<ContentProtection schemeIdUri=\"urn:uuid:{}\"><cenc:pssh>{}</cenc:pssh></ContentProtection>",
            uuid_text(&header.system_id),
            base64(&header.pssh)
        );
    }
    xml
}

/// The data of a version-1 `pssh` box (after its key ids).
fn pssh_data(pssh: &[u8]) -> &[u8] {
    let kids = pssh.get(28..32).map_or(0, |count| u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize);
    pssh.get(36 + 16 * kids..).unwrap_or_default()
}
