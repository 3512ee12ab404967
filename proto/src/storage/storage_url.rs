//! [`StorageUrl`]: the one normal form of a media URL.
//!
//! A URL is `file:///absolute/path` (host empty or `localhost`) or `s3://bucket/key`. Its path
//! is split on `/` and each segment percent-decoded exactly once. Then:
//!
//! * fixed (they cannot change where the URL points): repeated and trailing slashes (empty
//!   segments) and `.` segments are dropped;
//! * refused, never "fixed": a `..` segment in any spelling (`..`, `%2e%2e`, `.%2E`), since
//!   below a symlink `a/b/..` need not be `a`; a backslash, raw or encoded (`\` and `%5c`
//!   separate segments on some systems and stores); an encoded `/` (`%2f`); NUL and other
//!   control characters; a `%` left after decoding (`%252e`: double encoding, which a second
//!   decoder elsewhere would turn into a dot); a bad `%` escape or bytes that are not UTF-8;
//!   a query or fragment; any other scheme.
//!
//! The normal form ([`StorageUrl::as_str`]) re-encodes each segment, so normalising it again
//! gives the same URL, and no accepted URL has a segment that leaves the one before it.

use std::fmt;

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 4096;

/// The stores a URL may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    File,
    S3,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::File => "file",
            Scheme::S3 => "s3",
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is empty; give file:///absolute/path or s3://bucket/key")]
    Empty,
    #[error("is {0} bytes long; at most {MAX_URL_BYTES}")]
    TooLong(usize),
    #[error("has an unsupported scheme; use file:///absolute/path or s3://bucket/key")]
    Scheme,
    #[error("names host {0:?}; file:// urls name a local path: file:///absolute/path")]
    FileHost(String),
    #[error("is not absolute; use file:///absolute/path")]
    Relative,
    #[error("has no valid bucket name (lowercase letters, digits, '-' and '.')")]
    Bucket,
    #[error("has a query or fragment ('?' or '#'); encode them as %3F and %23 if they are part of a name")]
    QueryOrFragment,
    #[error("has a bad percent escape at byte {0}; write '%' as %25 followed by two hex digits")]
    BadEscape(usize),
    #[error("has a segment that is not utf-8 once decoded")]
    NotUtf8,
    #[error("has a '..' segment (after decoding); name the path without climbing out of a directory")]
    ParentSegment,
    #[error("contains a backslash (raw or %5c); use '/' to separate segments")]
    Backslash,
    #[error("contains an encoded '/' (%2f) inside a segment")]
    EncodedSlash,
    #[error("joins an empty or '.' segment, which names no file")]
    NoSegment,
    #[error("contains a control character (NUL, newline, …)")]
    ControlCharacter,
    #[error("still contains '%' after decoding (double encoding such as %252e is refused)")]
    DoubleEncoding,
}

/// A normalised storage URL: a scheme, a bucket for `s3://`, and decoded path segments, none of
/// them empty, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageUrl {
    scheme: Scheme,
    /// The bucket of an `s3://` URL; empty for `file://`.
    bucket: String,
    segments: Vec<String>,
    /// The normal form, built once.
    text: String,
}

impl StorageUrl {
    /// Normalises `url`; see the module docs.
    pub fn parse(url: &str) -> Result<StorageUrl, UrlError> {
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        if url.len() > MAX_URL_BYTES {
            return Err(UrlError::TooLong(url.len()));
        }
        if url.chars().any(char::is_control) {
            return Err(UrlError::ControlCharacter);
        }
        if url.contains('\\') {
            return Err(UrlError::Backslash);
        }
        if url.contains(['?', '#']) {
            return Err(UrlError::QueryOrFragment);
        }
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => (Scheme::File, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("s3") => (Scheme::S3, rest),
            _ => return Err(UrlError::Scheme),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        let path_offset = url.len() - path.len();
        let bucket = match scheme {
            Scheme::File => {
                if !(authority.is_empty() || authority.eq_ignore_ascii_case("localhost")) {
                    return Err(UrlError::FileHost(authority.to_owned()));
                }
                if path.is_empty() {
                    return Err(UrlError::Relative);
                }
                String::new()
            }
            Scheme::S3 => {
                let valid = !authority.is_empty()
                    && authority.len() <= 63
                    && authority.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                    && authority.chars().any(|c| c.is_ascii_alphanumeric());
                if !valid {
                    return Err(UrlError::Bucket);
                }
                authority.to_owned()
            }
        };
        let mut segments = Vec::new();
        let mut offset = path_offset;
        for raw in path.split('/') {
            let segment = decode_segment(raw, offset)?;
            offset += raw.len() + 1;
            match segment.as_str() {
                "" | "." => {}
                ".." => return Err(UrlError::ParentSegment),
                _ => segments.push(segment),
            }
        }
        Ok(StorageUrl::from_parts(scheme, bucket, segments))
    }

    /// The `file://` URL of an absolute local path (each component percent-encoded as needed,
    /// then checked like any URL).
    pub fn from_local_path(path: &std::path::Path) -> Result<StorageUrl, UrlError> {
        if !path.is_absolute() {
            return Err(UrlError::Relative);
        }
        let mut text = String::from("file://");
        for component in path.components() {
            if let std::path::Component::Normal(name) = component {
                text.push('/');
                encode_segment(name.to_str().ok_or(UrlError::NotUtf8)?, &mut text);
            }
        }
        if text.len() == "file://".len() {
            text.push('/');
        }
        StorageUrl::parse(&text)
    }

    fn from_parts(scheme: Scheme, bucket: String, segments: Vec<String>) -> StorageUrl {
        let mut text = format!("{}://{bucket}", scheme.as_str());
        if segments.is_empty() && scheme == Scheme::File {
            text.push('/');
        }
        for segment in &segments {
            text.push('/');
            encode_segment(segment, &mut text);
        }
        StorageUrl { scheme, bucket, segments, text }
    }

    /// The normal form: `file:///a/b c` comes out as `file:///a/b%20c`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The bucket of an `s3://` URL; empty for `file://`.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The decoded path segments, none empty, `.` or `..`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The local path of a `file://` URL (`None` for other schemes).
    pub fn local_path(&self) -> Option<std::path::PathBuf> {
        (self.scheme == Scheme::File).then(|| {
            let mut path = std::path::PathBuf::from("/");
            path.extend(&self.segments);
            path
        })
    }

    /// Whether `self` is `root` or lies below it (whole segments: `/media/in` does not hold
    /// `/media/input`).
    pub fn is_within(&self, root: &StorageUrl) -> bool {
        self.scheme == root.scheme && self.bucket == root.bucket && self.segments.starts_with(&root.segments)
    }

    /// The segments below `root`, when `self` lies within it.
    pub fn relative_to(&self, root: &StorageUrl) -> Option<&[String]> {
        self.is_within(root).then(|| &self.segments[root.segments.len()..])
    }

    /// The URL one segment up; `None` at the top (`file:///`, `s3://bucket`).
    pub fn parent(&self) -> Option<StorageUrl> {
        let (_, parent) = self.segments.split_last()?;
        Some(StorageUrl::from_parts(self.scheme, self.bucket.clone(), parent.to_vec()))
    }

    /// This URL with one more segment (plain text, checked like a decoded one): `out` +
    /// `.shotfarm-work`.
    pub fn join(&self, segment: &str) -> Result<StorageUrl, UrlError> {
        let mut encoded = String::new();
        encode_segment(segment, &mut encoded);
        let checked = decode_segment(&encoded, self.text.len() + 1)?;
        match checked.as_str() {
            ".." => Err(UrlError::ParentSegment),
            "" | "." => Err(UrlError::NoSegment),
            _ => {
                let mut segments = self.segments.clone();
                segments.push(checked);
                Ok(StorageUrl::from_parts(self.scheme, self.bucket.clone(), segments))
            }
        }
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Decodes one segment once; `offset` is where it starts in the URL, for messages.
fn decode_segment(raw: &str, offset: usize) -> Result<String, UrlError> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).and_then(|pair| std::str::from_utf8(pair).ok());
            let value = hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()).ok_or(UrlError::BadEscape(offset + index))?;
            decoded.push(value);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    let segment = String::from_utf8(decoded).map_err(|_| UrlError::NotUtf8)?;
    if segment.chars().any(char::is_control) {
        return Err(UrlError::ControlCharacter);
    }
    if segment.contains('\\') {
        return Err(UrlError::Backslash);
    }
    if segment.contains('/') {
        return Err(UrlError::EncodedSlash);
    }
    if segment.contains('%') {
        return Err(UrlError::DoubleEncoding);
    }
    Ok(segment)
}

/// Percent-encodes what a path segment may not hold as it is (RFC 3986 `pchar`), and `,`,
/// which separates roots in `--allow-input` lists.
fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        let plain = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+;=:@".contains(&byte);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(url: &str) -> String {
        StorageUrl::parse(url).map(|url| url.as_str().to_owned()).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn harmless_oddities_are_normalised() {
        assert_eq!(normal("file:///media/in/clip.mp4"), "file:///media/in/clip.mp4");
        assert_eq!(normal("file://localhost//media///in/./clip.mp4"), "file:///media/in/clip.mp4");
        assert_eq!(normal("FILE:///media/in/"), "file:///media/in");
        assert_eq!(normal("file:///media/in/my%20clip.mp4"), "file:///media/in/my%20clip.mp4");
        assert_eq!(normal("file:///media/in/my clip.mp4"), "file:///media/in/my%20clip.mp4");
        assert_eq!(normal("file:///media/%2e/in/%61.mp4"), "file:///media/in/a.mp4");
        assert_eq!(normal("file:///"), "file:///");
        assert_eq!(normal("s3://bucket/in//a.mov"), "s3://bucket/in/a.mov");
        assert_eq!(normal("s3://bucket"), "s3://bucket");
        assert_eq!(normal("file:///media/名前/..hidden/a.."), "file:///media/%E5%90%8D%E5%89%8D/..hidden/a..");
        assert_eq!(StorageUrl::parse("file:///a/b%20c").unwrap().local_path().unwrap(), std::path::PathBuf::from("/a/b c"));
        assert_eq!(normal("file:///a,b/c"), "file:///a%2Cb/c");
        let odd = std::path::Path::new("/media/my #1, take?/clip.mp4");
        let url = StorageUrl::from_local_path(odd).unwrap();
        assert_eq!(url.as_str(), "file:///media/my%20%231%2C%20take%3F/clip.mp4");
        assert_eq!(url.local_path().unwrap(), odd);
        assert_eq!(StorageUrl::from_local_path(std::path::Path::new("/")).unwrap().as_str(), "file:///");
        assert_eq!(StorageUrl::from_local_path(std::path::Path::new("relative")), Err(UrlError::Relative));
    }

    #[test]
    fn escapes_are_refused_not_fixed() {
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::Empty),
            ("file:///media/in/../../etc/shadow", UrlError::ParentSegment),
            ("file:///media/in/%2e%2e/x", UrlError::ParentSegment),
            ("file:///media/in/.%2E/x", UrlError::ParentSegment),
            ("file:///media/in/%2E%2e", UrlError::ParentSegment),
            ("file:///media/in/a/..", UrlError::ParentSegment),
            ("file:///media/in\\..\\x", UrlError::Backslash),
            ("file:///media/in/%5c..%5cx", UrlError::Backslash),
            ("file:///media/in/%2f..%2fx", UrlError::EncodedSlash),
            ("file:///media/in/a%00b", UrlError::ControlCharacter),
            ("file:///media/in/a\nb", UrlError::ControlCharacter),
            ("file:///media/in/%252e%252e/x", UrlError::DoubleEncoding),
            ("file:///media/in/%zz", UrlError::BadEscape(17)),
            ("file:///media/in/%e", UrlError::BadEscape(17)),
            ("file:///media/in/%ff", UrlError::NotUtf8),
            ("file:///media/in/a.mp4?x=1", UrlError::QueryOrFragment),
            ("file://evil.example/etc/passwd", UrlError::FileHost("evil.example".into())),
            ("file://", UrlError::Relative),
            ("http://host/x", UrlError::Scheme),
            ("/etc/passwd", UrlError::Scheme),
            ("s3:///x", UrlError::Bucket),
            ("s3://Bad_Bucket/x", UrlError::Bucket),
            ("s3://../x", UrlError::Bucket),
        ];
        for (url, expected) in cases {
            assert_eq!(StorageUrl::parse(url).as_ref(), Err(expected), "{url:?}");
            assert!(expected.to_string().chars().next().is_some_and(char::is_lowercase), "{expected}");
        }
        assert_eq!(StorageUrl::parse(&format!("file:///{}", "a".repeat(MAX_URL_BYTES))), Err(UrlError::TooLong(MAX_URL_BYTES + 8)));
    }

    #[test]
    fn containment_is_by_whole_segments() {
        let root = StorageUrl::parse("file:///media/in").unwrap();
        assert!(StorageUrl::parse("file:///media/in/a/b.mp4").unwrap().is_within(&root));
        assert!(StorageUrl::parse("file:///media/in/").unwrap().is_within(&root));
        assert!(!StorageUrl::parse("file:///media/input/a.mp4").unwrap().is_within(&root));
        assert!(!StorageUrl::parse("s3://media/in/a.mp4").unwrap().is_within(&root));
        let inside = StorageUrl::parse("file:///media/in/a/b.mp4").unwrap();
        assert_eq!(inside.relative_to(&root).unwrap(), ["a".to_owned(), "b.mp4".to_owned()]);
        assert_eq!(root.join(".shotfarm-work").unwrap().as_str(), "file:///media/in/.shotfarm-work");
        assert_eq!(root.join("..").unwrap_err(), UrlError::ParentSegment);
        assert_eq!(root.join("a/b").unwrap_err(), UrlError::EncodedSlash);
        assert_eq!(StorageUrl::parse("file:///").unwrap().join("x y").unwrap().as_str(), "file:///x%20y");
        assert_eq!(StorageUrl::parse("s3://b").unwrap().join("x").unwrap().as_str(), "s3://b/x");
        assert_eq!(inside.parent().unwrap().as_str(), "file:///media/in/a");
        assert_eq!(StorageUrl::parse("s3://b/x").unwrap().parent().unwrap().as_str(), "s3://b");
        assert_eq!(StorageUrl::parse("s3://b").unwrap().parent(), None);
    }
}
