//! Where callbacks may go, and the secret that signs them: the operator's callback endpoints
//! (`--callback-endpoint URL_PREFIX=SECRET_FILE`, several comma-separated). A job's callback
//! URL must lie under one of them; that endpoint's secret signs its events, so each team or
//! pipeline the operator allows has its own secret, and the secrets stay in files on the
//! replicas: never in the replicated state, a job, a recipe, a log or an API answer.
//!
//! Nothing else is reachable: a farm with no endpoint takes no callback, so a submitter
//! cannot make the replicas POST into the network they sit in.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use url::Url;

/// Secrets shorter than this are refused.
const MIN_SECRET_BYTES: usize = 16;
/// Longer callback URLs are refused.
const MAX_URL_BYTES: usize = 2048;

/// A signing secret; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSecret(Arc<[u8]>);

impl CallbackSecret {
    pub fn new(bytes: &[u8]) -> Result<CallbackSecret, String> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(format!("holds {} bytes; a callback secret needs at least {MIN_SECRET_BYTES}", bytes.len()));
        }
        Ok(CallbackSecret(bytes.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CallbackEndpoint {
    /// Normalised (`Url`'s serialisation): scheme, host, port and path prefix.
    prefix: String,
    secret: CallbackSecret,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackEndpoints {
    endpoints: Vec<CallbackEndpoint>,
}

impl CallbackEndpoints {
    /// `URL_PREFIX=SECRET_FILE,…` (the file's trailing whitespace is not part of the secret).
    pub fn parse(text: Option<&str>) -> Result<CallbackEndpoints, String> {
        let mut endpoints = Vec::new();
        for part in text.unwrap_or_default().split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (prefix, file) = part.rsplit_once('=').ok_or_else(|| {
                format!("--callback-endpoint {part:?} is not URL_PREFIX=SECRET_FILE (callbacks under URL_PREFIX, signed with the secret in SECRET_FILE)")
            })?;
            let prefix = parse_prefix(prefix.trim()).map_err(|why| format!("--callback-endpoint {part:?}: {why}"))?;
            let secret = read_secret(Path::new(file.trim())).map_err(|why| format!("--callback-endpoint {part:?}: secret file {file}: {why}"))?;
            if endpoints.iter().any(|known: &CallbackEndpoint| known.prefix == prefix) {
                return Err(format!("--callback-endpoint lists {prefix} twice; give each prefix once"));
            }
            endpoints.push(CallbackEndpoint { prefix, secret });
        }
        Ok(CallbackEndpoints { endpoints })
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The URL, normalised, when it may receive callbacks; else what is wrong with it.
    pub fn check(&self, url: &str) -> Result<String, String> {
        let normalised = parse_callback_url(url)?;
        if self.is_empty() {
            return Err(format!(
                "{url:?} cannot be called: this farm takes no callbacks (its operator has configured no --callback-endpoint); \
                 leave callback_url empty and watch the job (WatchJob), or ask the operator for an endpoint"
            ));
        }
        if self.endpoint_for(&normalised).is_none() {
            let allowed: Vec<&str> = self.endpoints.iter().map(|endpoint| endpoint.prefix.as_str()).collect();
            return Err(format!("{normalised:?} is under none of this farm's callback endpoints ({}); use a URL under one of them", allowed.join(", ")));
        }
        Ok(normalised)
    }

    /// The secret that signs callbacks to `url` (normalised): the longest prefix's.
    pub fn secret_for(&self, url: &str) -> Option<&CallbackSecret> {
        self.endpoint_for(url).map(|endpoint| &endpoint.secret)
    }

    fn endpoint_for(&self, url: &str) -> Option<&CallbackEndpoint> {
        self.endpoints.iter().filter(|endpoint| under(url, &endpoint.prefix)).max_by_key(|endpoint| endpoint.prefix.len())
    }
}

/// Whether `url` is `prefix` or lies below it: a prefix that does not end in `/` only
/// matches whole path segments, so `https://h/hook` never admits `https://h/hooked`.
fn under(url: &str, prefix: &str) -> bool {
    let Some(rest) = url.strip_prefix(prefix) else { return false };
    rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/') || rest.starts_with('?')
}

fn parse_prefix(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|err| format!("{text:?} is not a URL ({err})"))?;
    check_parts(&url)?;
    if url.query().is_some() {
        return Err("a prefix has no query (?…); give scheme, host, port and path".to_owned());
    }
    Ok(url.to_string())
}

/// A job's callback URL, checked for its form (not yet against the endpoints) and
/// normalised: dot segments resolved, host lower-cased, default port dropped.
pub fn parse_callback_url(text: &str) -> Result<String, String> {
    if text.len() > MAX_URL_BYTES {
        return Err(format!("is {} bytes long; at most {MAX_URL_BYTES}", text.len()));
    }
    let url = Url::parse(text).map_err(|err| format!("{text:?} is not a URL ({err}); give http://HOST/PATH or https://HOST/PATH"))?;
    check_parts(&url)?;
    Ok(url.to_string())
}

fn check_parts(url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url} is a {} URL; callbacks go to http:// or https://", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a callback URL carries no user or password (it would be stored and shown); receivers check the signature instead".to_owned());
    }
    if url.fragment().is_some() {
        return Err(format!("{url} has a #fragment, which is never sent; drop it"));
    }
    Ok(())
}

fn read_secret(path: &Path) -> Result<CallbackSecret, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot be read ({err})"))?;
    let end = bytes.iter().rposition(|byte| !byte.is_ascii_whitespace()).map_or(0, |last| last + 1);
    CallbackSecret::new(&bytes[..end]).map_err(|why| format!("{why} (make one with `head -c 32 /dev/urandom | base64 > {}`)", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(dir: &Path, spec: &[(&str, &str)]) -> Result<CallbackEndpoints, String> {
        let parts: Vec<String> = spec
            .iter()
            .enumerate()
            .map(|(n, (prefix, secret))| {
                let file = dir.join(format!("secret{n}"));
                std::fs::write(&file, format!("{secret}\n")).expect("write");
                format!("{prefix}={}", file.display())
            })
            .collect();
        CallbackEndpoints::parse(Some(&parts.join(",")))
    }

    #[test]
    fn urls_under_an_endpoint_are_allowed_and_signed_by_the_longest_prefix() {
        let dir = tempfile::tempdir().expect("dir");
        let farm = endpoints(dir.path(), &[("https://hooks.example.com/", "a-secret-of-the-team"), ("https://hooks.example.com/web/", "the-web-teams-secret")]).expect("parses");
        assert_eq!(farm.check("https://HOOKS.example.com:443/ci/../web/done?x=1"), Ok("https://hooks.example.com/web/done?x=1".to_owned()));
        assert_eq!(farm.secret_for("https://hooks.example.com/web/done?x=1").map(CallbackSecret::bytes), Some(&b"the-web-teams-secret"[..]));
        assert_eq!(farm.secret_for("https://hooks.example.com/ci").map(CallbackSecret::bytes), Some(&b"a-secret-of-the-team"[..]));
        assert!(!format!("{farm:?}").contains("secret-of"), "Debug shows no secret");
    }

    #[test]
    fn everything_else_is_refused_saying_why() {
        let dir = tempfile::tempdir().expect("dir");
        let farm = endpoints(dir.path(), &[("http://127.0.0.1:8080/hook", "sixteen-bytes-ok")]).expect("parses");
        assert!(farm.check("http://127.0.0.1:8080/hook").is_ok());
        assert!(farm.check("http://127.0.0.1:8080/hook/job?id=1").is_ok());
        for (url, why) in [
            ("http://127.0.0.1:8080/hooked", "under none"),
            ("http://127.0.0.1:8081/hook", "under none"),
            ("http://127.0.0.1:8080/hook/../admin", "under none"),
            ("http://127.0.0.1.evil.example:8080/hook", "under none"),
            ("ftp://127.0.0.1:8080/hook", "http:// or https://"),
            ("http://user:pw@127.0.0.1:8080/hook", "no user or password"),
            ("http://127.0.0.1:8080/hook#x", "fragment"),
            ("not a url", "not a URL"),
        ] {
            let error = farm.check(url).expect_err(url);
            assert!(error.contains(why), "{url}: {error}");
        }
        let error = CallbackEndpoints::default().check("http://127.0.0.1:8080/hook").unwrap_err();
        assert!(error.contains("no --callback-endpoint"), "{error}");
    }

    #[test]
    fn a_bad_endpoint_is_refused_with_what_to_change() {
        let dir = tempfile::tempdir().expect("dir");
        for (spec, why) in [
            (vec![("https://hooks.example.com/", "short")], "at least 16"),
            (vec![("file:///etc/", "sixteen-bytes-ok")], "http:// or https://"),
            (vec![("https://h.example/", "sixteen-bytes-ok"), ("https://H.example/", "sixteen-bytes-ok")], "twice"),
        ] {
            let error = endpoints(dir.path(), &spec).expect_err(why);
            assert!(error.contains(why), "{error}");
        }
        let error = CallbackEndpoints::parse(Some("https://h.example/")).unwrap_err();
        assert!(error.contains("URL_PREFIX=SECRET_FILE"), "{error}");
        let error = CallbackEndpoints::parse(Some("https://h.example/=/no/such/file")).unwrap_err();
        assert!(error.contains("cannot be read"), "{error}");
    }
}
