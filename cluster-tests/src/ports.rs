//! Loopback ports for processes the tests start, restart and kill.
//!
//! A port the harness hands to a scheduler or an agent must stay free from the moment it is
//! picked until the process binds it, and again between a `kill -9` and the restart that
//! binds it anew. Two things can take it meanwhile:
//! - another test process picking ports at the same time (nextest runs tests in parallel,
//!   each in a process of its own);
//! - any outgoing connection on the machine: its local port comes from the kernel's
//!   ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default),
//!   so a port picked by binding `127.0.0.1:0` — also in that range — can be handed to a
//!   client socket while the replica that owns it is down ("Address already in use" on
//!   its restart).
//!
//! So ports come from a band below the ephemeral range, and each is claimed by an exclusive
//! `flock` on a file named after it in a folder every test process shares: the claim holds
//! until the claiming test process exits (the kernel drops its locks then, also after a
//! crash), and a port is handed out only if it can be bound right now.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, bail};

/// The band ports are picked from when the ephemeral range starts above it.
const BAND: std::ops::Range<u16> = 20_000..32_000;

/// The claims of this process: open files holding their `flock`, kept until it exits.
static CLAIMS: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// `count` distinct loopback ports, free now and claimed by this test process for its life.
pub fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let band = band();
    let folder = std::env::temp_dir().join("shotfarm-test-ports");
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let span = u32::from(band.end - band.start);
    // Start where this process's id points, so parallel tests rarely contend for a port.
    let start = std::process::id() * 7919 % span;
    let mut ports = Vec::with_capacity(count);
    let mut claims = CLAIMS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for step in 0..span {
        if ports.len() == count {
            break;
        }
        let port = band.start + ((start + step) % span) as u16;
        if let Some(claim) = claim(&folder.join(port.to_string()))?
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            claims.push(claim);
            ports.push(port);
        }
    }
    if ports.len() < count {
        bail!("only {} of {count} loopback ports in {band:?} are free and unclaimed (claims in {})", ports.len(), folder.display());
    }
    Ok(ports)
}

/// The file at `path` under an exclusive `flock`, or `None` when another process holds it.
fn claim(path: &Path) -> anyhow::Result<Option<File>> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(error)) => Err(error).with_context(|| format!("locking {}", path.display())),
    }
}

/// [`BAND`], or the ports just below the ephemeral range where that starts lower.
fn band() -> std::ops::Range<u16> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_start >= BAND.end {
        BAND
    } else {
        let end = ephemeral_start.max(2_048);
        end.saturating_sub(8_000).max(1_024)..end
    }
}
