//! A child process (ffmpeg) writing raw 4:2:0 frames to its stdout, read one frame at a time.
//!
//! [`RawFramePipe::spawn`] starts the program with stdout piped and a thread that keeps the
//! tail of its stderr; each [`FrameSource::next_frame`] reads exactly one frame; at the end of
//! the stream the process is waited for, and a failure becomes [`DecodeError::Ffmpeg`] with its
//! [`ProcessFailure`] evidence. Dropping the pipe kills and reaps the process if reading stopped
//! early. Frames given back through [`FrameSource::recycle`] are decoded into again.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use super::decode_error::DecodeError;
use super::frame_pool::FramePool;
use super::frame_source::FrameSource;
use super::process_evidence::{ProcessFailure, StderrTail, command_line};
use crate::cpu_account::charge_exited_child;
use crate::frame::{Frame, FrameFormat};

/// Frames of one format streamed out of a child process.
#[derive(Debug)]
pub struct RawFramePipe {
    /// The file being decoded (for error messages).
    path: PathBuf,
    /// What [`FrameSource::name`] says.
    name: String,
    format: FrameFormat,
    command: String,
    child: Option<Child>,
    stdout: Option<BufReader<ChildStdout>>,
    stderr_tail: Option<JoinHandle<StderrTail>>,
    /// One frame's bytes as read from the pipe.
    raw: Vec<u8>,
    frames_read: u64,
    finished: bool,
    /// Frames given back by the consumer, converted into again.
    pool: FramePool,
}

impl RawFramePipe {
    /// Starts `program args…`, which must write frames of `format` (its raw layout) to stdout.
    /// `path` is the file it decodes and `name` what errors and [`FrameSource::name`] call it.
    pub fn spawn<A: AsRef<OsStr>>(program: &Path, args: &[A], format: FrameFormat, path: &Path, name: String) -> Result<Self, DecodeError> {
        let command = command_line(program.as_os_str(), args);
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DecodeError::Spawn { program: program.display().to_string(), source })?;
        let stdout = child.stdout.take().map(|stdout| BufReader::with_capacity(1 << 20, stdout));
        let stderr_tail = child.stderr.take().map(|stderr| {
            std::thread::spawn(move || {
                let mut tail = StderrTail::default();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    tail.push(&line);
                }
                tail
            })
        });
        Ok(Self {
            path: path.to_path_buf(),
            name,
            format,
            command,
            child: Some(child),
            stdout,
            stderr_tail,
            raw: vec![0; format.raw_frame_bytes()],
            frames_read: 0,
            finished: false,
            pool: FramePool::new(format),
        })
    }

    /// The command line this pipe runs.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Reads exactly one frame into `self.raw`: `Ok(false)` at a clean end of the stream.
    fn read_frame(&mut self) -> Result<bool, DecodeError> {
        if self.finished {
            return Ok(false);
        }
        let Some(stdout) = self.stdout.as_mut() else {
            self.finish()?;
            return Ok(false);
        };
        let expected = self.raw.len();
        let mut got = 0;
        while got < expected {
            match stdout.read(&mut self.raw[got..]) {
                Ok(0) => break,
                Ok(read) => got += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(DecodeError::Io { path: self.path.clone(), source }),
            }
        }
        if got == 0 {
            self.finish()?;
            return Ok(false);
        }
        if got < expected {
            self.finish()?;
            return Err(DecodeError::TruncatedFrame { source_name: self.name.clone(), frame: self.frames_read, got, expected });
        }
        self.frames_read += 1;
        Ok(true)
    }

    /// Waits for the process; its evidence when it failed.
    fn finish(&mut self) -> Result<(), DecodeError> {
        self.finished = true;
        self.stdout = None;
        let Some(mut child) = self.child.take() else { return Ok(()) };
        charge_exited_child(child.id());
        let status = child.wait().ok();
        let stderr_tail = self.stderr_tail.take().and_then(|handle| handle.join().ok()).unwrap_or_default().into_lines();
        match status {
            Some(status) if status.success() => Ok(()),
            status => Err(DecodeError::Ffmpeg { path: self.path.clone(), failure: ProcessFailure { command: self.command.clone(), status, stderr_tail } }),
        }
    }
}

impl FrameSource for RawFramePipe {
    fn format(&self) -> FrameFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if !self.read_frame()? {
            return Ok(None);
        }
        let mut frame = self.pool.take();
        Ok(self.format.copy_raw_into(&self.raw, &mut frame).then_some(frame))
    }

    fn recycle(&mut self, frame: Frame) {
        self.pool.give_back(frame);
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

impl Drop for RawFramePipe {
    fn drop(&mut self) {
        // Stop the process we started (by its own handle, i.e. its pid) if the caller stopped
        // reading early, then reap it.
        self.stdout = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            charge_exited_child(child.id());
            let _ = child.wait();
        }
    }
}
