//! Content keys, read from the job's key file (never from the job spec, so no key is ever in
//! the replicated state, a task spec or a log): JSON naming one key for every track, or one
//! for video and one for audio.
//!
//! ```json
//! { "keys": [
//!     { "track": "video", "kid": "0123456789abcdef0123456789abcdef", "key": "…32 hex digits…" },
//!     { "track": "audio", "kid": "…", "key": "…" } ] }
//! ```
//!
//! `track` is `all`, `video` or `audio`; key ids may be written as UUIDs (with dashes).

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

/// The key of each track type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentKeys {
    pub video: ContentKey,
    pub audio: ContentKey,
}

impl ContentKeys {
    /// The distinct key ids, video's first.
    pub fn kids(&self) -> Vec<[u8; 16]> {
        if self.video.kid == self.audio.kid { vec![self.video.kid] } else { vec![self.video.kid, self.audio.kid] }
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
    for (index, entry) in file.keys.iter().enumerate() {
        let key = ContentKey { kid: hex16(&entry.kid).map_err(|why| format!("keys[{index}].kid {why}"))?, key: hex16(&entry.key).map_err(|why| format!("keys[{index}].key {why}"))? };
        let slot = match entry.track.as_str() {
            "all" => &mut all,
            "video" => &mut video,
            "audio" => &mut audio,
            other => return Err(format!("keys[{index}].track is {other:?}; use all, video or audio")),
        };
        if slot.replace(key).is_some() {
            return Err(format!("keys[{index}]: a second key for track {:?}; give one key per track type", entry.track));
        }
    }
    match (all, video, audio) {
        (Some(all), None, None) => Ok(ContentKeys { video: all.clone(), audio: all }),
        (None, Some(video), Some(audio)) => Ok(ContentKeys { video, audio }),
        _ => Err("the key file needs one key with \"track\": \"all\", or one for \"video\" and one for \"audio\"".to_owned()),
    }
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
    fn bad_files_say_what_is_wrong_without_quoting_a_key() {
        for (text, why) in [
            (format!(r#"{{"keys":[{{"track":"video","kid":"{KID}","key":"{KEY}"}}]}}"#), "one for \"video\" and one for \"audio\""),
            (format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{}"}}]}}"#, &KEY[..30]), "30 hex digits"),
            (format!(r#"{{"keys":[{{"track":"all","kid":"{KID}","key":"{}zz"}}]}}"#, &KEY[..30]), "not hex"),
            (format!(r#"{{"keys":[{{"track":"subtitles","kid":"{KID}","key":"{KEY}"}}]}}"#), "use all, video or audio"),
            ("not json".to_owned(), "JSON"),
        ] {
            let error = parse_key_file(text.as_bytes()).expect_err(why);
            assert!(error.contains(why), "{error}");
            assert!(!error.contains(&KEY[..30]), "{error}");
        }
    }
}
