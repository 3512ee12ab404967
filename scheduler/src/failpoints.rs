//! Crash points for tests: named sites in the Ready loop where a test can make the process
//! die abruptly, to prove that what the replica persisted is enough to recover; and one
//! fault site, where a test makes a durable write fail as a full disk would.
//!
//! Compiled in only with the `failpoints` feature (the `shotfarm` binary turns it on by
//! default) **and** debug assertions, so every test build of the binary has them and no
//! release build does; elsewhere [`crash_point`] is an empty inline function.
//!
//! Configured per process by the `FAILPOINTS` environment variable, in the `fail` crate's
//! format (`site=actions;site=actions`, as `fail::FailScenario` reads it), e.g.
//! `FAILPOINTS=after_log_append=return` or `FAILPOINTS=before_log_append=20*off->return`
//! (the 21st time). The `return` action aborts the process on the spot
//! (`std::process::abort`: no destructors, no flushing — as a `kill -9` would); the
//! crate's other actions (`panic`, `sleep(ms)`, `pause`, `print`, `off`) work as documented.
//!
//! | site | where |
//! | --- | --- |
//! | [`BEFORE_LOG_APPEND`] | new log entries are about to be written durably |
//! | [`AFTER_LOG_APPEND`] | they were written (fsynced), nothing sent or acknowledged yet |
//! | [`LEADER_AFTER_LOG_APPEND`] | the same point, counted only while the replica leads: a sitting leader dies with entries on its disk that no follower has seen |
//! | [`AFTER_APPLY_BEFORE_PERSIST`] | entries were applied to the in-memory state; the rows and applied index are not written yet |
//! | [`DURING_SNAPSHOT_INSTALL`] | a snapshot from the leader replaced the in-memory state; the store still holds the old one |
//!
//! | fault site | where; what `return` does |
//! | --- | --- |
//! | [`STORE_WRITE_FAILS`] | a batch is about to be written to the store; the write fails with "no space left on device" instead ([`injected_storage_error`]) |

pub const BEFORE_LOG_APPEND: &str = "before_log_append";
pub const AFTER_LOG_APPEND: &str = "after_log_append";
pub const LEADER_AFTER_LOG_APPEND: &str = "leader_after_log_append";
pub const AFTER_APPLY_BEFORE_PERSIST: &str = "after_apply_before_persist";
pub const DURING_SNAPSHOT_INSTALL: &str = "during_snapshot_install";

pub const STORE_WRITE_FAILS: &str = "store_write_fails";

/// Every crash point.
pub const SITES: [&str; 5] = [BEFORE_LOG_APPEND, AFTER_LOG_APPEND, LEADER_AFTER_LOG_APPEND, AFTER_APPLY_BEFORE_PERSIST, DURING_SNAPSHOT_INSTALL];
/// Every fault site.
pub const FAULT_SITES: [&str; 1] = [STORE_WRITE_FAILS];

/// Whether this build has the crash points.
pub const ENABLED: bool = cfg!(all(feature = "failpoints", debug_assertions));

/// Configures the crash points from `FAILPOINTS`. A malformed value is an error (not a
/// panic, as in `fail::FailScenario::setup`); so is a value given to a build without them.
pub fn configure_from_env() -> Result<(), String> {
    let Ok(text) = std::env::var("FAILPOINTS") else { return Ok(()) };
    if text.trim().is_empty() {
        return Ok(());
    }
    if !ENABLED {
        return Err(format!(
            "FAILPOINTS={text:?} is set, but this build has no failpoints (they need a debug build with the `failpoints` feature)"
        ));
    }
    for part in text.split(';').map(str::trim).filter(|part| !part.is_empty()) {
        let (name, actions) = part.split_once('=').ok_or_else(|| format!("FAILPOINTS entry {part:?} is not SITE=ACTIONS"))?;
        if !SITES.contains(&name.trim()) && !FAULT_SITES.contains(&name.trim()) {
            return Err(format!("FAILPOINTS names {name:?}, which is not a site; the sites are {}, {}", SITES.join(", "), FAULT_SITES.join(", ")));
        }
        configure(name.trim(), actions.trim())?;
    }
    Ok(())
}

#[cfg(all(feature = "failpoints", debug_assertions))]
fn configure(name: &str, actions: &str) -> Result<(), String> {
    fail::cfg(name, actions).map_err(|err| format!("FAILPOINTS {name}={actions}: {err}"))
}

#[cfg(not(all(feature = "failpoints", debug_assertions)))]
fn configure(_name: &str, _actions: &str) -> Result<(), String> {
    Ok(())
}

/// A crash point: aborts the process here when `name` is configured with `return`.
#[cfg(all(feature = "failpoints", debug_assertions))]
pub fn crash_point(name: &str) {
    fail::fail_point!(name, |_| {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort()
    });
}

/// A crash point (compiled out in this build).
#[cfg(not(all(feature = "failpoints", debug_assertions)))]
#[inline(always)]
pub fn crash_point(_name: &str) {}

/// A fault site: the storage error a test injects here (`return`), else none.
#[cfg(all(feature = "failpoints", debug_assertions))]
pub fn injected_storage_error(name: &str) -> Option<std::io::Error> {
    fail::fail_point!(name, |_| Some(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device (injected by FAILPOINTS)")));
    None
}

/// A fault site (compiled out in this build).
#[cfg(not(all(feature = "failpoints", debug_assertions)))]
#[inline(always)]
pub fn injected_storage_error(_name: &str) -> Option<std::io::Error> {
    None
}
