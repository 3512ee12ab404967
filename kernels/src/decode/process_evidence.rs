//! What a child process (ffmpeg, ffprobe) leaves behind for an error message: its command line
//! quoted for a shell, the last lines of its stderr, and how it ended.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::process::ExitStatus;

/// How many stderr lines a failure keeps.
pub const STDERR_TAIL_LINES: usize = 30;

/// An external process that failed, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFailure {
    /// The command line, quoted enough to paste into a shell.
    pub command: String,
    /// How it ended (`None` if it could not be waited for).
    pub status: Option<ExitStatus>,
    /// The last [`STDERR_TAIL_LINES`] lines of its stderr.
    pub stderr_tail: Vec<String>,
}

impl ProcessFailure {
    /// The exit code; `None` when a signal ended it or it could not be waited for.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|status| status.code())
    }
}

impl std::fmt::Display for ProcessFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.status {
            Some(status) => write!(f, "`{}` failed ({status})", self.command)?,
            None => write!(f, "`{}` did not finish", self.command)?,
        }
        if !self.stderr_tail.is_empty() {
            write!(f, "; stderr tail:\n  {}", self.stderr_tail.join("\n  "))?;
        }
        Ok(())
    }
}

/// The last [`STDERR_TAIL_LINES`] lines a process wrote on stderr.
#[derive(Debug, Clone, Default)]
pub struct StderrTail {
    lines: VecDeque<String>,
}

impl StderrTail {
    /// Keeps `line`, forgetting the oldest one when full.
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == STDERR_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.trim_end_matches('\r').to_owned());
    }

    /// The kept lines, oldest first.
    pub fn into_lines(self) -> Vec<String> {
        self.lines.into()
    }
}

/// `program` and `args` as one line a shell would run unchanged: an argument with anything but
/// `[A-Za-z0-9-_./:=,+@%]` in it is single-quoted.
pub fn command_line<A: AsRef<OsStr>>(program: &OsStr, args: impl IntoIterator<Item = A>) -> String {
    let mut line = shell_quote(&program.to_string_lossy());
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quote(&arg.as_ref().to_string_lossy()));
    }
    line
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("scale=1:2:flags=bicubic+x,format=yuv420p"), "scale=1:2:flags=bicubic+x,format=yuv420p");
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let mut tail = StderrTail::default();
        for index in 0..STDERR_TAIL_LINES + 3 {
            tail.push(&format!("line {index}\r"));
        }
        let lines = tail.into_lines();
        assert_eq!(lines.len(), STDERR_TAIL_LINES);
        assert_eq!(lines[0], "line 3");
    }
}
