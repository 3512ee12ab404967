//! The headless browser the page tests drive: Debian's Chromium through puppeteer-core in
//! `player-tests/` (`scripts/ensure-browser` installs them). Without them a test skips with
//! the reason, or fails under `CI` or `REQUIRE_BROWSER=1`. (The cluster tests use this file
//! too, for the dashboard.)

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn player_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../player-tests")
}

/// Why the browser cannot run here, if it cannot.
pub fn missing_browser() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).is_file() {
        return Some(format!("{chromium} is missing"));
    }
    if Command::new("node").arg("--version").output().map_or(true, |output| !output.status.success()) {
        return Some("node is missing".to_owned());
    }
    if !player_tests_dir().join("node_modules/puppeteer-core").is_dir() {
        return Some("player-tests/node_modules is missing (npm ci there)".to_owned());
    }
    None
}

pub fn browser_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var("REQUIRE_BROWSER").is_ok_and(|value| value == "1")
}

/// Whether `test` can run: `false` (after saying why) where no browser is and none is required;
/// a panic where one is required.
pub fn browser_available(test: &str) -> bool {
    match missing_browser() {
        None => true,
        Some(reason) => {
            assert!(!browser_required(), "{test} needs a browser: {reason}; run scripts/ensure-browser");
            eprintln!("SKIPPED: {test} needs a browser: {reason}; run scripts/ensure-browser");
            false
        }
    }
}
