//! What an operator installs: the example configs of a 3-replica farm load and validate as
//! the scheduler and the agent read them (certificates issued where the examples point), and
//! the Debian package — built by `cargo deb` from the binary the tests run — holds the binary,
//! the systemd units (which `systemd-analyze` accepts), the examples and the README, depends on
//! ffmpeg, makes the services' user, and its binary runs.
//!
//! The package needs `cargo-deb` (`scripts/ensure-cargo-deb`, whose path `SHOTFARM_CARGO_DEB`
//! names); without it that test skips with the reason, or fails under `REQUIRE_CARGO_DEB=1`
//! (as `scripts/test` sets).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::cluster::shotfarm_binary;
use shotfarm_scheduler::config::SchedulerSettings;
use shotfarm_security::Role;
use shotfarm_security::local_farm::LocalFarmCertificates;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An example config with its certificate directory moved to `certs`.
fn example_with_certs(name: &str, certs: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(workspace().join("packaging/examples").join(name))?;
    ensure!(text.contains("/etc/shotfarm/certs/"), "{name} names no certificate under /etc/shotfarm/certs");
    let path = into.join(name);
    std::fs::write(&path, text.replace("/etc/shotfarm/certs/", &format!("{}/", certs.display())))?;
    Ok(path)
}

#[test]
fn the_example_configs_of_a_three_replica_farm_load_and_validate() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cert_dir = dir.path().join("certs");
    let certs = LocalFarmCertificates::open(&cert_dir)?;
    let mut peers = Vec::new();
    for id in 1..=3u64 {
        certs.files(Role::Replica, &id.to_string())?;
        let path = example_with_certs(&format!("scheduler-{id}.toml"), &cert_dir, dir.path())?;
        let config = SchedulerSettings::from_file(&path)?.validate().with_context(|| format!("scheduler-{id}.toml"))?;
        ensure!(config.id == id && config.http_listen.is_some(), "scheduler-{id}.toml: {config:?}");
        peers.push(config.peers.clone());
    }
    ensure!(peers.windows(2).all(|pair| pair[0] == pair[1]) && peers[0].len() == 3, "the replicas disagree on their peers: {peers:?}");

    certs.files(Role::Agent, "encoder-1")?;
    let agent = example_with_certs("agent.toml", &cert_dir, dir.path())?;
    let work = dir.path().join("work");
    let output = Command::new(shotfarm_binary()?)
        .args(["agent", "--config", agent.to_str().context("path")?, "--work-dir", work.to_str().context("path")?, "--probe"])
        .env_remove("SHOTFARM_SCHEDULER")
        .output()?;
    ensure!(output.status.success(), "agent.toml: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

/// `cargo-deb`, or why there is none.
fn cargo_deb() -> Result<PathBuf, String> {
    let path = std::env::var_os("SHOTFARM_CARGO_DEB").map(PathBuf::from).ok_or("SHOTFARM_CARGO_DEB is not set (scripts/ensure-cargo-deb installs cargo-deb and prints its path)")?;
    if path.is_file() { Ok(path) } else { Err(format!("{} is missing: run scripts/ensure-cargo-deb", path.display())) }
}

#[test]
fn the_debian_package_holds_the_binary_units_and_examples_and_its_binary_runs() -> anyhow::Result<()> {
    let cargo_deb = match cargo_deb() {
        Ok(path) => path,
        Err(why) if std::env::var("REQUIRE_CARGO_DEB").is_ok_and(|value| value == "1") => anyhow::bail!("REQUIRE_CARGO_DEB=1 but {why}"),
        Err(why) => {
            eprintln!("SKIPPED: the Debian package test: {why}");
            return Ok(());
        }
    };
    let dir = tempfile::tempdir()?;
    // From the debug binary the tests run (cargo-deb warns that it is meant for releases).
    let built = Command::new(&cargo_deb)
        .current_dir(workspace())
        .args(["-p", "shotfarm", "--no-build", "--profile", "dev", "--no-strip", "--fast", "-o"])
        .arg(dir.path())
        .output()?;
    ensure!(built.status.success(), "cargo deb: {}", String::from_utf8_lossy(&built.stderr));
    let package = String::from_utf8(built.stdout)?.lines().last().map(PathBuf::from).context("cargo deb printed no package")?;

    let info = dpkg_deb(&["--info"], &package)?;
    for expected in ["Package: shotfarm", "Section: video", "Depends: adduser, ffmpeg"] {
        ensure!(info.contains(expected), "no {expected:?} in:\n{info}");
    }
    let contents = dpkg_deb(&["--contents"], &package)?;
    for path in [
        "./usr/bin/shotfarm",
        "./usr/lib/systemd/system/shotfarm-scheduler.service",
        "./usr/lib/systemd/system/shotfarm-agent.service",
        "./usr/share/doc/shotfarm/README.md",
        "./usr/share/doc/shotfarm/examples/scheduler-1.toml",
        "./usr/share/doc/shotfarm/examples/agent.toml",
    ] {
        ensure!(contents.lines().any(|line| line.ends_with(path)), "{path} is not in the package:\n{contents}");
    }
    let control = dir.path().join("control");
    ensure!(Command::new("dpkg-deb").arg("--control").arg(&package).arg(&control).status()?.success(), "dpkg-deb --control");
    let postinst = std::fs::read_to_string(control.join("postinst"))?;
    ensure!(postinst.contains("adduser --system") && postinst.contains("/etc/shotfarm/certs"), "postinst:\n{postinst}");
    // The units are installed, not enabled or started: an operator configures first. (An
    // upgrade keeps a unit enabled that the operator had enabled: `was-enabled` guards it.)
    let lines: Vec<&str> = postinst.lines().map(str::trim).collect();
    for (at, line) in lines.iter().enumerate() {
        if line.starts_with("deb-systemd-helper enable") {
            ensure!(lines[at.saturating_sub(2)..at].iter().any(|before| before.contains("was-enabled")), "an unconditional enable in postinst:\n{postinst}");
        }
        ensure!(!line.starts_with("deb-systemd-invoke start") && !line.contains("systemctl start") && !line.contains("systemctl enable"), "postinst starts or enables a unit: {line}");
    }

    let root = dir.path().join("root");
    ensure!(Command::new("dpkg-deb").arg("-x").arg(&package).arg(&root).status()?.success(), "dpkg-deb -x");
    let version = Command::new(root.join("usr/bin/shotfarm")).arg("--version").output()?;
    ensure!(version.status.success() && String::from_utf8_lossy(&version.stdout).contains("shotfarm"), "{version:?}");
    for example in ["scheduler-1.toml", "scheduler-2.toml", "scheduler-3.toml", "agent.toml"] {
        let packaged = std::fs::read(root.join("usr/share/doc/shotfarm/examples").join(example))?;
        ensure!(packaged == std::fs::read(workspace().join("packaging/examples").join(example))?, "{example} differs from packaging/examples");
    }
    if Command::new("systemd-analyze").arg("--version").output().is_ok_and(|output| output.status.success()) {
        for unit in ["shotfarm-scheduler.service", "shotfarm-agent.service"] {
            let path = root.join("usr/lib/systemd/system").join(unit);
            let verified = Command::new("systemd-analyze").arg("verify").arg(&path).output()?;
            // The unit's ExecStart names /usr/bin/shotfarm, which is not installed here.
            let complaints: Vec<String> = String::from_utf8_lossy(&verified.stderr)
                .lines()
                .filter(|line| !line.contains("/usr/bin/shotfarm") && !line.trim().is_empty())
                .map(str::to_owned)
                .collect();
            ensure!(complaints.is_empty(), "systemd-analyze verify {unit}: {complaints:?}");
        }
    }
    Ok(())
}

/// `dpkg-deb ARGS PACKAGE`'s standard output.
fn dpkg_deb(args: &[&str], package: &Path) -> anyhow::Result<String> {
    let output = Command::new("dpkg-deb").args(args).arg(package).output()?;
    ensure!(output.status.success(), "dpkg-deb {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}
