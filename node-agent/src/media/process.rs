//! Running ffmpeg and ffprobe: cancellable, with progress, and with the evidence kept when
//! they fail.
//!
//! [`run_tool`] spawns the program with piped stdout/stderr, hands stdout bytes to a
//! [`StdoutSink`] as they arrive, keeps the last
//! [`STDERR_TAIL_LINES`](shotfarm_kernels::decode::process_evidence::STDERR_TAIL_LINES) lines of stderr (and
//! passes every line to a callback, for parsers such as `showinfo`), and kills the child when
//! the [`CancellationToken`] fires. `kill_on_drop` is set, so a dropped future never leaves an
//! orphan ffmpeg behind.

use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shotfarm_kernels::cpu_account::{CpuLedger, charge_exited_child, charged};
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::decode::process_evidence::{ProcessFailure, StderrTail, command_line};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Which program to run; the binary is looked up on `PATH` unless overridden with
/// `SHOTFARM_FFMPEG` / `SHOTFARM_FFPROBE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ffmpeg,
    Ffprobe,
}

impl Tool {
    /// The tool's name, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
        }
    }

    pub fn program(self) -> PathBuf {
        let programs = FfmpegPrograms::from_env();
        match self {
            Tool::Ffmpeg => programs.ffmpeg,
            Tool::Ffprobe => programs.ffprobe,
        }
    }
}

/// A program and its arguments.
#[derive(Debug, Clone)]
pub struct ToolCommand {
    pub tool: Tool,
    pub args: Vec<String>,
}

impl ToolCommand {
    pub fn new(tool: Tool) -> Self {
        Self { tool, args: Vec::new() }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line as a shell would show it (for error messages and logs).
    pub fn command_line(&self) -> String {
        command_line(self.tool.program().as_os_str(), &self.args)
    }
}

/// Why a tool run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("could not start `{program}`: {source}; install ffmpeg or point SHOTFARM_FFMPEG/SHOTFARM_FFPROBE at it")]
    Spawn { program: String, source: std::io::Error },
    #[error("{0}")]
    Failed(Box<ProcessFailure>),
    #[error("`{command_line}` was cancelled after {elapsed:?}")]
    Cancelled { command_line: String, elapsed: Duration },
    #[error("reading the output of `{command_line}`: {source}")]
    Io { command_line: String, source: std::io::Error },
}

impl ToolError {
    pub fn failure(&self) -> Option<&ProcessFailure> {
        match self {
            ToolError::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, ToolError::Cancelled { .. })
    }
}

/// Where stdout goes.
pub trait StdoutSink: Send {
    /// Called with each chunk read from stdout, in order.
    fn consume(&mut self, bytes: &[u8]);
}

/// Throws stdout away.
#[derive(Debug, Default)]
pub struct DiscardStdout;

impl StdoutSink for DiscardStdout {
    fn consume(&mut self, _bytes: &[u8]) {}
}

/// Keeps all of stdout (for ffprobe's JSON, which is small).
#[derive(Debug, Default)]
pub struct CollectStdout(pub Vec<u8>);

impl StdoutSink for CollectStdout {
    fn consume(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Progress of an ffmpeg run, from its `-progress pipe:1` key=value blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolProgress {
    /// Frames written to the (first) output so far.
    pub frames_done: u64,
    /// Encoding speed ffmpeg reports, frames per second.
    pub fps: f32,
    /// `true` on the final block (`progress=end`).
    pub finished: bool,
}

/// Parses `-progress pipe:1` output and calls back once per block.
pub struct ProgressSink<'a> {
    pending_line: Vec<u8>,
    current: ToolProgress,
    on_progress: &'a mut (dyn FnMut(ToolProgress) + Send),
}

impl fmt::Debug for ProgressSink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgressSink").field("current", &self.current).finish()
    }
}

impl<'a> ProgressSink<'a> {
    pub fn new(on_progress: &'a mut (dyn FnMut(ToolProgress) + Send)) -> Self {
        Self { pending_line: Vec::new(), current: ToolProgress::default(), on_progress }
    }

    /// The last progress seen.
    pub fn last(&self) -> ToolProgress {
        self.current
    }

    fn line(&mut self, line: &str) {
        let Some((key, value)) = line.split_once('=') else { return };
        match key.trim() {
            "frame" => self.current.frames_done = value.trim().parse().unwrap_or(self.current.frames_done),
            "fps" => self.current.fps = value.trim().parse().unwrap_or(self.current.fps),
            "progress" => {
                self.current.finished = value.trim() == "end";
                (self.on_progress)(self.current);
            }
            _ => {}
        }
    }
}

impl StdoutSink for ProgressSink<'_> {
    fn consume(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                let line = String::from_utf8_lossy(&self.pending_line).into_owned();
                self.pending_line.clear();
                self.line(&line);
            } else {
                self.pending_line.push(byte);
            }
        }
    }
}

/// What a successful run leaves.
#[derive(Debug, Clone)]
pub struct ToolRun {
    pub command_line: String,
    pub stderr_tail: Vec<String>,
    pub elapsed: Duration,
}

/// Runs `command` to completion; see the module docs.
pub async fn run_tool(
    command: &ToolCommand,
    cancel: &CancellationToken,
    stdout_sink: &mut dyn StdoutSink,
    on_stderr_line: &mut (dyn FnMut(&str) + Send),
) -> Result<ToolRun, ToolError> {
    let command_line = command.command_line();
    let started = Instant::now();
    tracing::debug!(command = %command_line, "starting tool");
    let mut child = Command::new(command.tool.program())
        .args(&command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ToolError::Spawn { program: command.tool.program().display().to_string(), source })?;
    let io_error = |source| ToolError::Io { command_line: command_line.clone(), source };
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io_error(std::io::Error::other("child has no stdout/stderr pipe")));
    };
    let mut stderr_lines = BufReader::new(stderr).split(b'\n');
    let mut stderr_tail = StderrTail::default();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut stdout_open = true;
    let mut stderr_open = true;
    while stdout_open || stderr_open {
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                // Kill and reap; the error is what matters to the caller.
                let _ = child.kill().await;
                tracing::info!(command = %command_line, "tool cancelled");
                return Err(ToolError::Cancelled { command_line, elapsed: started.elapsed() });
            }
            read = stdout.read(&mut buffer), if stdout_open => {
                match read.map_err(io_error)? {
                    0 => stdout_open = false,
                    n => stdout_sink.consume(&buffer[..n]),
                }
            }
            line = stderr_lines.next_segment(), if stderr_open => {
                match line.map_err(io_error)? {
                    None => stderr_open = false,
                    Some(bytes) => {
                        let line = String::from_utf8_lossy(&bytes);
                        let line = line.trim_end_matches('\r');
                        on_stderr_line(line);
                        stderr_tail.push(line);
                    }
                }
            }
        }
    }
    let status: ExitStatus = tokio::select! {
        biased;
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(ToolError::Cancelled { command_line, elapsed: started.elapsed() });
        }
        status = wait_charging_cpu(&mut child) => status.map_err(io_error)?,
    };
    let stderr_tail = stderr_tail.into_lines();
    if !status.success() {
        let failure = ProcessFailure { command: command_line, status: Some(status), stderr_tail };
        tracing::warn!(command = %failure.command, %status, "tool failed");
        crate::metrics::process_counters::tool_failed(command.tool.name());
        return Err(ToolError::Failed(Box::new(failure)));
    }
    Ok(ToolRun { command_line, stderr_tail, elapsed: started.elapsed() })
}

/// Waits for the child to exit and reaps it; first, where this runs for a task's CPU ledger
/// (`shotfarm_kernels::cpu_account`), charges the child's CPU there, read before the reap.
async fn wait_charging_cpu(child: &mut tokio::process::Child) -> std::io::Result<ExitStatus> {
    if let (Some(_), Some(pid)) = (CpuLedger::current(), child.id()) {
        // Blocks until the child exits, leaving it for `wait` to reap.
        let _ = tokio::task::spawn_blocking(charged(move || charge_exited_child(pid))).await;
    }
    child.wait().await
}

/// Runs a command whose stdout is small (ffprobe JSON) and returns it.
pub async fn run_collecting_stdout(command: &ToolCommand, cancel: &CancellationToken) -> Result<(Vec<u8>, ToolRun), ToolError> {
    let mut sink = CollectStdout::default();
    let run = run_tool(command, cancel, &mut sink, &mut |_| {}).await?;
    Ok((sink.0, run))
}

/// Runs an ffmpeg command that has `-progress pipe:1` among its arguments, reporting progress.
pub async fn run_with_progress(
    command: &ToolCommand,
    cancel: &CancellationToken,
    on_progress: &mut (dyn FnMut(ToolProgress) + Send),
) -> Result<(ToolRun, ToolProgress), ToolError> {
    let mut sink = ProgressSink::new(on_progress);
    let run = run_tool(command, cancel, &mut sink, &mut |_| {}).await?;
    Ok((run, sink.last()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_blocks_are_parsed() {
        let mut seen = Vec::new();
        let mut callback = |progress: ToolProgress| seen.push(progress);
        let mut sink = ProgressSink::new(&mut callback);
        sink.consume(b"frame=12\nfps=30.5\nstream_0_0_q=28.0\nprogress=continue\nframe=2");
        sink.consume(b"4\nfps=31.0\nprogress=end\n");
        assert_eq!(
            seen,
            vec![
                ToolProgress { frames_done: 12, fps: 30.5, finished: false },
                ToolProgress { frames_done: 24, fps: 31.0, finished: true }
            ]
        );
    }

    #[test]
    fn command_lines_are_quoted_for_shells() {
        let command = ToolCommand::new(Tool::Ffmpeg).args(["-i", "my file.mp4", "-vf", "select='lt(n,3)'"]);
        assert!(command.command_line().ends_with(r"-i 'my file.mp4' -vf 'select='\''lt(n,3)'\'''"));
    }

    #[tokio::test]
    async fn a_crash_keeps_its_evidence() {
        let command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-i", "/nonexistent/shotfarm-input.mp4", "-f", "null", "-"]);
        let error = run_tool(&command, &CancellationToken::new(), &mut DiscardStdout, &mut |_| {}).await.unwrap_err();
        let failure = error.failure().expect("a failed run");
        assert_ne!(failure.exit_code(), Some(0));
        assert!(failure.command.contains("/nonexistent/shotfarm-input.mp4"));
        assert!(failure.stderr_tail.iter().any(|line| line.contains("No such file")), "{failure}");
    }

    #[tokio::test]
    async fn cancel_kills_a_running_ffmpeg() {
        // An endless synthetic source: only cancellation can end it.
        let command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25", "-f", "null", "-"]);
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let started = Instant::now();
        let error = run_tool(&command, &cancel, &mut DiscardStdout, &mut |_| {}).await.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
