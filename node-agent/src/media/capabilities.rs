//! What this machine can do for the media pipeline: ffmpeg/ffprobe versions, the encoders
//! ffmpeg offers, CPU cores and memory. The agent advertises this when it registers; GPUs and
//! NVENC sessions are probed elsewhere (by opening them, never from a name).

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::process::{Tool, ToolCommand, ToolError, run_collecting_stdout};

/// Encoders the pipeline knows how to drive, in the order they are reported.
pub const KNOWN_ENCODERS: &[&str] = &["libx264", "libx265", "libsvtav1", "libvpx-vp9", "libaom-av1", "h264_nvenc", "hevc_nvenc", "av1_nvenc", "aac"];

/// The probe's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaCapabilities {
    /// First line of `ffmpeg -version`, e.g. `ffmpeg version 5.1.9-0+deb12u1`.
    pub ffmpeg_version: String,
    pub ffprobe_version: String,
    /// The subset of [`KNOWN_ENCODERS`] this ffmpeg was built with.
    pub encoders: Vec<String>,
    pub cpu_cores: usize,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
}

impl MediaCapabilities {
    pub fn has_encoder(&self, name: &str) -> bool {
        self.encoders.iter().any(|encoder| encoder == name)
    }
}

/// Why probing failed: ffmpeg is not usable at all.
#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    #[error("probing media tools: {0}")]
    Tool(#[from] ToolError),
    #[error("`{program} -version` printed no version line; is it really ffmpeg?")]
    NoVersion { program: String },
}

/// Probes ffmpeg, ffprobe, CPU and memory.
pub async fn probe_capabilities(cancel: &CancellationToken) -> Result<MediaCapabilities, CapabilityError> {
    let ffmpeg_version = tool_version(Tool::Ffmpeg, cancel).await?;
    let ffprobe_version = tool_version(Tool::Ffprobe, cancel).await?;
    let (listing, _) = run_collecting_stdout(&ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-encoders"]), cancel).await?;
    let encoders = parse_encoder_listing(&String::from_utf8_lossy(&listing));
    let cpu_cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let (memory_total_bytes, memory_available_bytes) =
        std::fs::read_to_string("/proc/meminfo").map(|text| parse_meminfo(&text)).unwrap_or((0, 0));
    let capabilities = MediaCapabilities { ffmpeg_version, ffprobe_version, encoders, cpu_cores, memory_total_bytes, memory_available_bytes };
    tracing::info!(ffmpeg = %capabilities.ffmpeg_version, encoders = ?capabilities.encoders, cpu_cores, "media capabilities probed");
    Ok(capabilities)
}

async fn tool_version(tool: Tool, cancel: &CancellationToken) -> Result<String, CapabilityError> {
    let (stdout, _) = run_collecting_stdout(&ToolCommand::new(tool).arg("-version"), cancel).await?;
    let text = String::from_utf8_lossy(&stdout);
    let line = text.lines().next().unwrap_or_default();
    let version: String = line.split(" Copyright").next().unwrap_or_default().trim().to_owned();
    if !version.contains("version") {
        return Err(CapabilityError::NoVersion { program: tool.program().display().to_string() });
    }
    Ok(version)
}

/// Picks the known encoders out of `ffmpeg -encoders` (lines like ` V....D libx264  ...`).
pub fn parse_encoder_listing(listing: &str) -> Vec<String> {
    let available: Vec<&str> = listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let flags = fields.next()?;
            let name = fields.next()?;
            (flags.len() == 6 && flags.starts_with(['V', 'A', 'S'])).then_some(name)
        })
        .collect();
    KNOWN_ENCODERS.iter().filter(|known| available.contains(known)).map(|known| (*known).to_owned()).collect()
}

/// `(MemTotal, MemAvailable)` in bytes from `/proc/meminfo` text.
pub fn parse_meminfo(text: &str) -> (u64, u64) {
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_listing_is_filtered_to_known_names() {
        let listing = "Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264\n V....D h264_nvenc  NVIDIA\n A..... aac  AAC\n V..... mpeg4 MPEG-4\n";
        assert_eq!(parse_encoder_listing(listing), vec!["libx264", "h264_nvenc", "aac"]);
    }

    #[test]
    fn meminfo_is_parsed() {
        assert_eq!(parse_meminfo("MemTotal:       2048 kB\nMemFree: 1 kB\nMemAvailable:   1024 kB\n"), (2048 * 1024, 1024 * 1024));
    }

    #[tokio::test]
    async fn probes_this_machine() {
        let capabilities = probe_capabilities(&CancellationToken::new()).await.unwrap();
        assert!(capabilities.ffmpeg_version.starts_with("ffmpeg version"), "{capabilities:?}");
        assert!(capabilities.has_encoder("libx264"), "{capabilities:?}");
        assert!(capabilities.cpu_cores >= 1 && capabilities.memory_total_bytes > 0);
    }
}
