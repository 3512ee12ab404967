//! Object keys that cannot escape their store's root.
//!
//! A key is a relative, `/`-separated path. Rejected, with the reason: empty keys, keys over
//! [`MAX_KEY_BYTES`], a leading `/` or `\` or a drive letter (absolute), empty segments (`a//b`,
//! a trailing `/`), `.` and `..` segments, backslashes, `%` (percent-encoded tricks such as
//! `%2e%2e` are refused outright rather than decoded), NUL and other control characters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest accepted key, in bytes (S3's limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("object key is empty; give a relative path such as jobs/42/source.mp4")]
    Empty,
    #[error("object key is {0} bytes long; the limit is {MAX_KEY_BYTES}")]
    TooLong(usize),
    #[error("object key {key:?} is absolute; keys are relative to the store's root (drop the leading {prefix:?})")]
    Absolute { key: String, prefix: String },
    #[error("object key {key:?} has an empty segment at byte {position}; remove the doubled or trailing '/'")]
    EmptySegment { key: String, position: usize },
    #[error("object key {key:?} has a {segment:?} segment; keys may not climb out of or refer to directories")]
    DotSegment { key: String, segment: String },
    #[error("object key {key:?} contains a backslash at byte {position}; use '/' to separate segments")]
    Backslash { key: String, position: usize },
    #[error("object key {key:?} contains '%' at byte {position}; percent-encoded keys are refused, use the plain characters")]
    PercentEncoding { key: String, position: usize },
    #[error("object key {key:?} contains control character {character:?} at byte {position}")]
    ControlCharacter { key: String, character: char, position: usize },
}

/// A validated object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong(key.len()));
        }
        if let Some((position, character)) = key.char_indices().find(|(_, c)| c.is_control()) {
            return Err(KeyError::ControlCharacter { key: key.escape_debug().to_string(), character, position });
        }
        if key.starts_with('/') || key.starts_with('\\') {
            return Err(KeyError::Absolute { key: key.to_owned(), prefix: key[..1].to_owned() });
        }
        let bytes = key.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return Err(KeyError::Absolute { key: key.to_owned(), prefix: key[..2].to_owned() });
        }
        if let Some(position) = key.find('\\') {
            return Err(KeyError::Backslash { key: key.to_owned(), position });
        }
        if let Some(position) = key.find('%') {
            return Err(KeyError::PercentEncoding { key: key.to_owned(), position });
        }
        let mut position = 0;
        for segment in key.split('/') {
            if segment.is_empty() {
                return Err(KeyError::EmptySegment { key: key.to_owned(), position });
            }
            if segment == "." || segment == ".." {
                return Err(KeyError::DotSegment { key: key.to_owned(), segment: segment.to_owned() });
            }
            position += segment.len() + 1;
        }
        Ok(Self(key.to_owned()))
    }

    /// Appends validated segments: `jobs/42` + `chunks/0001.mp4`.
    pub fn join(&self, rest: &str) -> Result<Self, KeyError> {
        Self::parse(&format!("{}/{rest}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in ["source.mp4", "jobs/42/chunks/0001.mp4", "a b/c-d_e.f", "ünïcode/名前.mp4", "..hidden/x", "a/b.."] {
            assert_eq!(ObjectKey::parse(key).unwrap().as_str(), key);
        }
    }

    /// A key and how its refusal must look.
    type Refused = (&'static str, fn(&KeyError) -> bool);

    #[test]
    fn refuses_every_escape_attempt() {
        let cases: &[Refused] = &[
            ("", |e| matches!(e, KeyError::Empty)),
            ("../etc/passwd", |e| matches!(e, KeyError::DotSegment { .. })),
            ("jobs/../../etc", |e| matches!(e, KeyError::DotSegment { .. })),
            ("jobs/./x", |e| matches!(e, KeyError::DotSegment { .. })),
            ("..", |e| matches!(e, KeyError::DotSegment { .. })),
            ("/etc/passwd", |e| matches!(e, KeyError::Absolute { .. })),
            ("\\windows\\system32", |e| matches!(e, KeyError::Absolute { .. })),
            ("C:/Windows", |e| matches!(e, KeyError::Absolute { .. })),
            ("jobs//x", |e| matches!(e, KeyError::EmptySegment { position: 5, .. })),
            ("jobs/x/", |e| matches!(e, KeyError::EmptySegment { .. })),
            ("jobs\\..\\x", |e| matches!(e, KeyError::Backslash { .. })),
            ("%2e%2e/etc", |e| matches!(e, KeyError::PercentEncoding { position: 0, .. })),
            ("jobs/%2F..", |e| matches!(e, KeyError::PercentEncoding { .. })),
            ("jobs/a\0b", |e| matches!(e, KeyError::ControlCharacter { character: '\0', .. })),
            ("jobs/a\nb", |e| matches!(e, KeyError::ControlCharacter { .. })),
            ("jobs/\u{7f}", |e| matches!(e, KeyError::ControlCharacter { .. })),
        ];
        for (key, expected) in cases {
            let error = ObjectKey::parse(key).unwrap_err();
            assert!(expected(&error), "{key:?} gave {error:?}");
            assert!(error.to_string().chars().next().unwrap().is_lowercase(), "{error}");
        }
        assert!(matches!(ObjectKey::parse(&"a".repeat(MAX_KEY_BYTES + 1)), Err(KeyError::TooLong(_))));
    }

    #[test]
    fn join_validates_too() {
        let base = ObjectKey::parse("jobs/42").unwrap();
        assert_eq!(base.join("out/master.m3u8").unwrap().as_str(), "jobs/42/out/master.m3u8");
        assert!(base.join("../43").is_err());
        assert!(serde_json::from_str::<ObjectKey>("\"../x\"").is_err());
    }
}
