//! Which ffmpeg and ffprobe binaries to run: an input of every decoder, so that one process
//! never mixes the binary a caller configured with whatever is first on `PATH`.

use std::path::PathBuf;

/// The ffmpeg and ffprobe programs (a path, or a name looked up on `PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegPrograms {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl FfmpegPrograms {
    /// `ffmpeg` and `ffprobe`, looked up on `PATH`.
    pub fn on_path() -> Self {
        Self { ffmpeg: PathBuf::from("ffmpeg"), ffprobe: PathBuf::from("ffprobe") }
    }

    /// The programs `SHOTFARM_FFMPEG` / `SHOTFARM_FFPROBE` name, else `ffmpeg` / `ffprobe` on
    /// `PATH`: what the `shotfarm` binary runs, its agents' stages included.
    pub fn from_env() -> Self {
        let on_path = Self::on_path();
        let named = |variable: &str, default: PathBuf| std::env::var_os(variable).map(PathBuf::from).unwrap_or(default);
        Self { ffmpeg: named("SHOTFARM_FFMPEG", on_path.ffmpeg), ffprobe: named("SHOTFARM_FFPROBE", on_path.ffprobe) }
    }
}
