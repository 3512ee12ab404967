//! The binary's answers to bad input: a clear message and exit code 2 (3 for a source that is
//! not a video), never a panic; and
//! `shotfarm cluster --json` against a live group.

use std::process::Command;
use std::time::Duration;

use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary};
use shotfarm_cluster_tests::media::run_tool;
use shotfarm_security::Role;

fn run(args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let output = Command::new(shotfarm_binary()?).args(args).output()?;
    Ok((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned()))
}

/// A refused command line: exit 2, a message naming `expected`, no panic.
fn assert_usage_error(args: &[&str], code: i32, stderr: &str, expected: &str) {
    assert_eq!(code, 2, "{args:?} → {code}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: stderr lacks {expected:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
}

#[test]
fn bad_scheduler_flags_exit_2_with_a_message() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_default();
    let file = dir.path().join("file");
    std::fs::write(&file, "x")?;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["scheduler", "--listen", "127.0.0.1:1", "--data-dir", data], "--id"),
        (vec!["scheduler", "--id", "1", "--listen", "nowhere", "--data-dir", data], "--listen"),
        (vec!["scheduler", "--id", "2", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--data-dir", data], "does not list"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=nope", "--data-dir", data], "HOST:PORT"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", file.to_str().unwrap_or_default(), "--insecure"], "data directory"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data], "TLS is on by default"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data, "--insecure", "--ca", "/x.pem"], "exclude each other"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data, "--ca", "/nonexistent/ca.pem", "--cert", "/c", "--key", "/k"], "--ca /nonexistent/ca.pem"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data, "--ca", "/x.pem", "--cert", "/c"], "--cert is given without --key"),
        (vec!["jobs", "--scheduler", "127.0.0.1:1"], "TLS is on by default"),
        (vec!["jobs", "--scheduler", "127.0.0.1:1", "--insecure", "--token", "sft_x"], "--token is not sent without TLS"),
        (vec!["certs", "issue", "--dir", data, "--role", "root", "--name", "x"], "unknown role"),
        (vec!["certs", "issue", "--dir", data, "--role", "replica", "--name", "1"], "--host"),
        (vec!["certs", "issue", "--dir", data, "--role", "agent", "--name", "a b"], "names are 1..=128"),
        (vec!["certs", "issue", "--dir", data, "--role", "agent", "--name", "a1"], "certs init"),
        (vec!["scheduler", "--config", "/nonexistent.toml"], "cannot read config"),
        (vec!["scheduler", "--bogus"], "--bogus"),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data, "--allow-input", "ftp://host/in", "--insecure"], "--allow-input root \"ftp://host/in\""),
        (vec!["scheduler", "--id", "1", "--listen", "127.0.0.1:1", "--data-dir", data, "--allow-output", "file:///out/%2e%2e", "--insecure"], "--allow-output root"),
        (vec!["submit", "--scheduler", "nohost", "in.mp4", "--out", "/tmp/o"], "--scheduler"),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = run(&args)?;
        assert_usage_error(&args, code, &stderr, expected);
    }
    Ok(())
}

#[test]
fn a_peer_list_that_disagrees_with_the_stored_membership_is_refused() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut cluster = SchedulerCluster::start(1, &[])?;
    runtime.block_on(cluster.wait_for_leader(Duration::from_secs(10)))?;
    cluster.kill(1)?;
    let replica = &cluster.replicas[&1];
    let data = replica.data_dir.to_str().unwrap_or_default();
    let peers = format!("1={},2=127.0.0.1:9", replica.addr);
    let tls = cluster.tls_args(Role::Replica, "1")?;
    let mut args = vec!["scheduler", "--id", "1", "--listen", &replica.addr, "--peers", &peers, "--data-dir", data];
    args.extend(tls.iter().map(String::as_str));
    let (code, _, stderr) = run(&args)?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("disagrees with the membership stored"), "{stderr}");
    Ok(())
}

#[test]
fn cluster_json_lists_members_roles_and_the_leader() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let cluster = SchedulerCluster::start(3, &[])?;
    let (leader, _) = runtime.block_on(cluster.wait_for_leader(Duration::from_secs(15)))?;
    let tls = cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?;
    let first = cluster.addrs()[0].clone();
    let mut args = vec!["cluster", "--scheduler", &first, "--json"];
    args.extend(tls.iter().map(String::as_str));
    let (code, stdout, stderr) = run(&args)?;
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(status["leader_id"], leader);
    assert!(status["term"].as_u64().is_some_and(|term| term >= 1));
    let members = status["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 3);
    let leaders = members.iter().filter(|member| member["role"] == "leader").count();
    assert_eq!(leaders, 1, "{stdout}");
    assert!(members.iter().all(|member| member["addr"].as_str().is_some_and(|addr| addr.starts_with("127.0.0.1:"))));
    Ok(())
}

#[test]
fn bad_ladder_recipes_exit_2_naming_the_field() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let cluster = SchedulerCluster::start(1, &[])?;
    let (_, leader) = runtime.block_on(cluster.wait_for_leader(Duration::from_secs(15)))?;
    let tls = cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?;
    let cases: [(&[&str], &str); 8] = [
        (&["--preset", "placebo"], "spec.recipe.preset"),
        (&["--floor-kbps", "5000", "--ceiling-kbps", "1000"], "above the ceiling"),
        (&["--ladder", "best"], "fixed, per-title, per-shot"),
        (&["--ladder", "per-shot", "--rung", "640x360@800"], "ladder custom"),
        (&["--ladder", "fixed", "--rung", "640x360@800"], "ladder custom"),
        (&["--rung", "640x360"], "WIDTHxHEIGHT@KBPS"),
        (&["--encryption", "cenc", "--key-url", "file:///sim/keys.json", "--clear-lead-seconds", "900"], "clear_lead_seconds is 900"),
        (&["--clear-lead-seconds", "5"], "--encryption"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["submit", "--scheduler", &leader, "file:///sim/in.mp4", "--out", "file:///sim/out"];
        args.extend(flags.iter().copied());
        args.extend(tls.iter().map(String::as_str));
        let (code, _, stderr) = run(&args)?;
        assert_usage_error(&args, code, &stderr, expected);
    }
    Ok(())
}

#[test]
fn bad_agent_settings_exit_2_with_a_message() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let work = dir.path().join("work");
    let work = work.to_str().unwrap_or_default();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "schedulers = \"127.0.0.1:1\"\n")?;
    let unknown = unknown.to_str().unwrap_or_default();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["agent", "--work-dir", work], "--scheduler HOST:PORT"),
        (vec!["agent", "--scheduler", "127.0.0.1:1"], "--work-dir DIR is required"),
        (vec!["agent", "--scheduler", "nohost", "--work-dir", work], "--scheduler"),
        (vec!["agent", "--scheduler", "127.0.0.1:1", "--work-dir", work, "--labels", "rack"], "not key=value"),
        (vec!["agent", "--config", "/nonexistent.toml"], "cannot read config"),
        (vec!["agent", "--config", unknown], "unknown field `schedulers`"),
        (vec!["agent", "--scheduler", "127.0.0.1:1", "--work-dir", work], "TLS is on by default"),
        (vec!["agent", "--scheduler", "127.0.0.1:1", "--work-dir", work, "--ca", "/nonexistent.pem"], "TLS is on by default"),
        (vec!["agent", "--scheduler", "127.0.0.1:1", "--work-dir", work, "--allow-input", "file:///in\\..\\etc", "--insecure"], "--allow-input root"),
    ];
    for (args, expected) in cases {
        let output = Command::new(shotfarm_binary()?).args(&args).env_remove("SHOTFARM_SCHEDULER").env_remove("SHOTFARM_WORK_DIR").output()?;
        assert_usage_error(&args, output.status.code().unwrap_or(-1), &String::from_utf8_lossy(&output.stderr), expected);
    }
    Ok(())
}

#[test]
fn agent_settings_layer_file_then_environment_then_flags() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("agent.toml");
    let work = dir.path().join("work");
    std::fs::write(&config, format!("scheduler = \"127.0.0.1:1\"\nwork_dir = {:?}\nmax_tasks = 3\n", work.to_str().unwrap_or_default()))?;
    let config = config.to_str().unwrap_or_default();
    let probed_max_tasks = |environment: Option<&str>, flag: Option<&str>| -> anyhow::Result<serde_json::Value> {
        let mut command = Command::new(shotfarm_binary()?);
        command.args(["agent", "--config", config, "--probe", "--insecure"]).env_remove("SHOTFARM_MAX_TASKS");
        if let Some(value) = environment {
            command.env("SHOTFARM_MAX_TASKS", value);
        }
        if let Some(value) = flag {
            command.args(["--max-tasks", value]);
        }
        let output = command.output()?;
        anyhow::ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        Ok(report["max_tasks"].clone())
    };
    assert_eq!(probed_max_tasks(None, None)?, 3);
    assert_eq!(probed_max_tasks(Some("5"), None)?, 5);
    assert_eq!(probed_max_tasks(Some("5"), Some("7"))?, 7);
    assert!(work.is_dir(), "the work directory named in the file was not created");
    Ok(())
}

#[test]
fn a_closed_stdout_ends_a_printing_command_quietly() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let cluster = SchedulerCluster::start(1, &[])?;
    runtime.block_on(cluster.wait_for_leader(Duration::from_secs(10)))?;
    // `shotfarm cluster --json | head -0`: the reader is gone before the first write.
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let output = Command::new(shotfarm_binary()?)
        .args(["cluster", "--scheduler", &cluster.addrs()[0], "--json"])
        .args(cluster.tls_args(Role::Operator, HARNESS_OPERATOR)?)
        .stdout(writer)
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    Ok(())
}

#[test]
fn a_start_that_fails_on_a_busy_port_stores_nothing() -> anyhow::Result<()> {
    let busy = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = busy.local_addr()?.to_string();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let peers = format!("1={addr}");
    let (code, _, stderr) = run(&["scheduler", "--id", "1", "--listen", &addr, "--peers", &peers, "--data-dir", data.to_str().unwrap_or_default(), "--insecure"])?;
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
    let stored: Vec<_> = std::fs::read_dir(&data).map(|entries| entries.flatten().map(|entry| entry.file_name()).collect()).unwrap_or_default();
    assert!(stored.is_empty(), "the failed start stored {stored:?}");
    Ok(())
}

#[test]
fn a_picture_or_a_song_is_refused_with_exit_3_and_its_own_code() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let picture = dir.path().join("picture.png");
    let song = dir.path().join("song.mp3");
    let (picture, song) = (picture.to_str().unwrap_or_default(), song.to_str().unwrap_or_default());
    let ffmpeg = |args: &[&str]| {
        let args: Vec<String> = ["-loglevel", "error", "-y"].iter().chain(args).map(|arg| (*arg).to_owned()).collect();
        tokio::runtime::Runtime::new()?.block_on(run_tool("ffmpeg", &args)).map(drop)
    };
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", picture])?;
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=1.5", "-i", picture, "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic", song])?;
    let out = dir.path().join("out");
    let out = out.to_str().unwrap_or_default();
    for (file, expected) in [(picture, "still_image): the file is a single 320x240 PNG image"), (song, "no_video_stream): the file has no video stream: it holds audio (mp3, 1.5 s) with a cover picture")] {
        for args in [vec!["inspect", file], vec!["dev", file, "--out", out]] {
            let (code, _, stderr) = run(&args)?;
            assert_eq!(code, 3, "{args:?} → {code}: {stderr}");
            assert!(stderr.contains(expected), "{args:?}: stderr lacks {expected:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        }
    }
    Ok(())
}
