//! A real S3-protocol server for `s3://` tests: moto's standalone server (`moto_server`,
//! installed by `scripts/ensure-s3-server`; `SHOTFARM_S3_SERVER` names it), started on a free
//! loopback port and killed by its pid when dropped. Objects go in and out with `curl`'s own
//! SigV4 signing (`--aws-sigv4`), so the test's side of the store shares no code with the
//! agent's (`object_store`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::ports::free_ports;

/// The credentials the server is given and the agents sign with (moto accepts any).
pub const ACCESS_KEY_ID: &str = "shotfarm-test";
pub const SECRET_ACCESS_KEY: &str = "shotfarm-test-secret";
pub const REGION: &str = "us-east-1";

/// One `moto_server` process.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    log: PathBuf,
}

/// Where `moto_server` is: `$SHOTFARM_S3_SERVER`, else where `scripts/ensure-s3-server` puts it.
pub fn server_program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SHOTFARM_S3_SERVER") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".cache/shotfarm/moto-5.2.6/bin/moto_server");
    path.is_file().then_some(path)
}

impl S3Server {
    /// Starts the server, its log in `dir`, and waits until it accepts connections.
    pub fn start(program: &Path, dir: &Path) -> anyhow::Result<S3Server> {
        let port = free_ports(1)?[0];
        let log = dir.join("s3-server.log");
        let file = std::fs::File::create(&log)?;
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}"), log };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(started.elapsed() < Duration::from_secs(30), "the S3 server did not listen on port {port} within 30 s: {}", server.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `AWS_*` variables an agent needs to use this server.
    pub fn agent_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    /// A signed request with curl; returns the response body. `extra`: more curl arguments.
    fn curl(&self, method: &str, path: &str, extra: &[&str]) -> anyhow::Result<Vec<u8>> {
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "-X", method, "--aws-sigv4", &format!("aws:amz:{REGION}:s3")])
            .args(["--user", &format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"), "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args(extra)
            .arg(format!("{}{path}", self.endpoint))
            .output()
            .context("running curl")?;
        if !output.status.success() {
            bail!("{method} {path}: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(output.stdout)
    }

    pub fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        self.curl("PUT", &format!("/{bucket}"), &[]).map(drop)
    }

    pub fn put_file(&self, bucket: &str, key: &str, file: &Path) -> anyhow::Result<()> {
        let file = file.to_str().context("a file path that is UTF-8")?;
        self.curl("PUT", &format!("/{bucket}/{key}"), &["--upload-file", file]).map(drop)
    }

    /// The keys under `prefix`, all pages.
    pub fn list(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let continuation = token.as_ref().map(|token| format!("&continuation-token={}", percent_encoded(token))).unwrap_or_default();
            let body = String::from_utf8(self.curl("GET", &format!("/{bucket}?list-type=2&prefix={prefix}{continuation}"), &[])?)?;
            keys.extend(elements(&body, "Key"));
            token = elements(&body, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Downloads every object under `prefix` into `dir`, at its key's path below the prefix.
    pub fn download_prefix(&self, bucket: &str, prefix: &str, dir: &Path) -> anyhow::Result<usize> {
        let keys = self.list(bucket, prefix)?;
        for key in &keys {
            let relative = key.strip_prefix(prefix).unwrap_or(key).trim_start_matches('/');
            ensure!(!relative.split('/').any(|part| part == ".." || part.is_empty()), "odd key {key}");
            let path = dir.join(relative);
            std::fs::create_dir_all(path.parent().context("a key's folder")?)?;
            let path_text = path.to_str().context("a UTF-8 path")?;
            self.curl("GET", &format!("/{bucket}/{key}"), &["--output", path_text])?;
        }
        Ok(keys.len())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with every byte but unreserved ones (RFC 3986) as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The texts of every `<name>…</name>` element in `xml` (S3's listings have no nesting of
/// these and no attributes on them).
fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split(&close).next()).map(|text| text.replace("&amp;", "&")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_elements_are_read() {
        let xml = "<ListBucketResult><Contents><Key>out/a&amp;b.m4s</Key></Contents><Contents><Key>out/c</Key></Contents><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        assert_eq!(elements(xml, "Key"), vec!["out/a&b.m4s", "out/c"]);
        assert_eq!(elements(xml, "NextContinuationToken"), vec!["t1"]);
        assert!(elements(xml, "Missing").is_empty());
        assert_eq!(percent_encoded("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }
}
