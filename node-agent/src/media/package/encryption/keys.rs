//! Content keys, read from the job's key file (never from the job spec, so no key is ever in
//! the replicated state, a task spec or a log): JSON naming one key for every track, or one
//! for video and one for audio; and, on top, keys of their own for the video renditions of a
//! resolution class (licences often grant SD, HD and UHD at different security levels, so
//! each class is encrypted with its own key).
//!
//! ```json
//! { "keys": [
//!     { "track": "video", "kid": "0123456789abcdef0123456789abcdef", "key": "…32 hex digits…" },
//!     { "track": "video-hd", "kid": "…", "key": "…" },
//!     { "track": "audio", "kid": "…", "key": "…" } ] }
//! ```
//!
//! `track` is `all`, `video`, `audio`, `video-sd` (up to 576 lines), `video-hd` (577 to 1080)
//! or `video-uhd` (above 1080); a rendition of a class without a key of its own takes the video
//! key. Key ids may be written as UUIDs (with dashes).

use std::fmt;

use serde::Deserialize;

/// Key files are small; a larger one is refused before it is parsed.
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;

#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: [u8; 16],
    pub key: [u8; 16],
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentKey {{ kid: {}, key: .. }}", hex::encode(self.kid))
    }
}

/// The resolution class of a video rendition, by its height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VideoClass {
    Sd,
    Hd,
    Uhd,
}

impl VideoClass {
    pub const ALL: [VideoClass; 3] = [VideoClass::Sd, VideoClass::Hd, VideoClass::Uhd];

    pub fn of_height(height: u32) -> VideoClass {
        match height {
            0..=576 => VideoClass::Sd,
            577..=1080 => VideoClass::Hd,
            _ => VideoClass::Uhd,
        }
    }

    /// Its name as a key file's `track`.
    pub fn track(self) -> &'static str {
        match self {
            VideoClass::Sd => "video-sd",
            VideoClass::Hd => "video-hd",
            VideoClass::Uhd => "video-uhd",
        }
    }
}

/// The key of each track type, and of each video resolution class that has one of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentKeys {
    pub video: ContentKey,
    pub audio: ContentKey,
    /// Keys of their own for the video renditions of these classes (each class at most once).
    pub video_classes: Vec<(VideoClass, ContentKey)>,
}

impl ContentKeys {
    /// One key for video and one for audio.
    pub fn new(video: ContentKey, audio: ContentKey) -> ContentKeys {
        ContentKeys { video, audio, video_classes: Vec::new() }
    }

    /// The key of a video rendition `height` lines high: its class's, else the video key.
    pub fn video_key(&self, height: u32) -> &ContentKey {
        let class = VideoClass::of_height(height);
        self.video_classes.iter().find(|(of, _)| *of == class).map_or(&self.video, |(_, key)| key)
    }

    /// The distinct key ids: video's first, then the classes', then audio's.
    pub fn kids(&self) -> Vec<[u8; 16]> {
        let mut kids = vec![self.video.kid];
        for kid in self.video_classes.iter().map(|(_, key)| key.kid).chain([self.audio.kid]) {
            if !kids.contains(&kid) {
                kids.push(kid);
            }
        }
        kids
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    track: String,
    kid: String,
    key: String,
}

/// Parses a key file; errors say what is wrong without quoting any key.
pub fn parse_key_file(bytes: &[u8]) -> Result<ContentKeys, String> {
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(format!("the key file is {} bytes; at most {MAX_KEY_FILE_BYTES}", bytes.len()));
    }
    // serde_json's message may quote a value (a key): only where it went wrong is said.
    let file: KeyFile = serde_json::from_slice(bytes).map_err(|err| {
        format!("the key file is not {{\"keys\": [{{\"track\", \"kid\", \"key\"}}, …]}} JSON (line {}, column {})", err.line(), err.column())
    })?;
    let (mut all, mut video, mut audio) = (None, None, None);
    let mut classes: [Option<ContentKey>; 3] = [None, None, None];
    for (index, entry) in file.keys.iter().enumerate() {
        let key = ContentKey { kid: hex16(&entry.kid).map_err(|why| format!("keys[{index}].kid {why}"))?, key: hex16(&entry.key).map_err(|why| format!("keys[{index}].key {why}"))? };
        let slot = match entry.track.as_str() {
            "all" => &mut all,
            "video" => &mut video,
            "audio" => &mut audio,
            other => match VideoClass::ALL.iter().position(|class| class.track() == other) {
                Some(class) => &mut classes[class],
                None => return Err(format!("keys[{index}].track is {other:?}; use all, video, audio, video-sd, video-hd or video-uhd")),
            },
        };
        if slot.replace(key).is_some() {
            return Err(format!("keys[{index}]: a second key for track {:?}; give one key per track type", entry.track));
        }
    }
    let video_classes: Vec<(VideoClass, ContentKey)> = VideoClass::ALL.into_iter().zip(classes).filter_map(|(class, key)| Some((class, key?))).collect();
    let mut keys = match (all, video, audio) {
        (Some(all), None, None) => ContentKeys::new(all.clone(), all),
        (None, Some(video), Some(audio)) => ContentKeys::new(video, audio),
        _ => {
            return Err("the key file needs one key with \"track\": \"all\", or one for \"video\" and one for \"audio\" (video-sd, video-hd and video-uhd keys come on top of those)".to_owned());
        }
    };
    // Two tracks sharing a key id must share the key too: a key id names one key.
    for (class, key) in &video_classes {
        if let Some(other) = [&keys.video, &keys.audio].into_iter().chain(video_classes.iter().filter(|(of, _)| of != class).map(|(_, key)| key)).find(|other| other.kid == key.kid && other.key != key.key) {
            return Err(format!("the {} key reuses the key id {} with a different key; give each key its own key id", class.track(), hex::encode(other.kid)));
        }
    }
    keys.video_classes = video_classes;
    Ok(keys)
}

/// 16 bytes from 32 hex digits (dashes allowed, as in a UUID).
fn hex16(text: &str) -> Result<[u8; 16], String> {
    let digits: String = text.chars().filter(|digit| *digit != '-').collect();
    if digits.len() != 32 {
        return Err(format!("has {} hex digits; a key and a key id have 32", digits.len()));
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(&digits, &mut out).map_err(|_| "is not hex".to_owned())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: &str = "0123456789abcdef0123456789abcdef";
    const KEY: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn one_key_for_all_or_one_per_track_type() {
        let all = parse_key_file(format!(r#"{{"keys":[{{"track":"all","kid":"01234567-89ab-cdef-0123-456789abcdef","key":"{KEY}"}}]}}"#).as_bytes()).expect("parses");
        assert_eq!(all.video, all.audio);
        assert_eq!(all.kids().len(), 1);
        let split = parse_key_file(
            format!(r#"{{"keys":[{{"track":"video","kid":"{KID}","key":"{KEY}"}},{{"track":"audio","kid":"{}","key":"{KEY}"}}]}}"#, "f".repeat(32)).as_bytes(),
        )
        .expect("parses");
        assert_eq!(split.kids().len(), 2);
        assert!(!format!("{split:?}").contains(KEY), "Debug never shows a key");
    }

    #[test]
    fn resolution_classes_take_their_own_keys_and_the_rest_the_video_key() {
        let (sd, hd) = ("a".repeat(32), "b".repeat(32));
        let keys = parse_key_file(
            format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{KEY}"}},{{"track":"video-sd","kid":"{sd}","key":"{KEY}"}},{{"track":"video-hd","kid":"{hd}","key":"{KEY}"}}]}}"#).as_bytes(),
        )
        .expect("parses");
        let kid = |height: u32| hex::encode(keys.video_key(height).kid);
        assert_eq!([kid(144), kid(576), kid(720), kid(1080), kid(2160)], [sd.clone(), sd.clone(), hd.clone(), hd.clone(), KID.to_owned()]);
        assert_eq!(keys.kids().len(), 3, "all's key id, then SD's and HD's");
    }

    #[test]
    fn bad_files_say_what_is_wrong_without_quoting_a_key() {
        for (text, why) in [
            (format!(r#"{{"keys":[{{"track":"video","kid":"{KID}","key":"{KEY}"}}]}}"#), "one for \"video\" and one for \"audio\""),
            (format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{}"}}]}}"#, &KEY[..30]), "30 hex digits"),
            (format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{}zz"}}]}}"#, &KEY[..30]), "not hex"),
            (format!(r#"{{"keys":[{{"track":"subtitles","kid":"{KID}","key":"{KEY}"}}]}}"#), "use all, video, audio, video-sd, video-hd or video-uhd"),
            (format!(r#"{{"keys":[{{"track":"video-hd","kid":"{KID}","key":"{KEY}"}}]}}"#), "come on top of those"),
            (
                format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{KEY}"}},{{"track":"video-hd","kid":"{KID}","key":"{}"}}]}}"#, "e".repeat(32)),
                "reuses the key id",
            ),
            (
                format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{KEY}"}},{{"track":"video-sd","kid":"{}","key":"{KEY}"}},{{"track":"video-sd","kid":"{}","key":"{KEY}"}}]}}"#, "a".repeat(32), "b".repeat(32)),
                "a second key for track \"video-sd\"",
            ),
            ("not json".to_owned(), "JSON"),
        ] {
            let error = parse_key_file(text.as_bytes()).expect_err(why);
            assert!(error.contains(why), "{error}");
            assert!(!error.contains(&KEY[..30]), "{error}");
        }
    }
}
