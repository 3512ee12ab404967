//! What the agent tells the scheduler about itself: the capability report built from the
//! media probe (ffmpeg, encoders, CPU, memory) and the GPU probe.

use serde::Serialize;
use shotfarm_proto::v1;

use super::config::AgentConfig;
use super::gpu_probe::{GpuProbe, probe_gpus};
use crate::media::capabilities::MediaCapabilities;

/// Concurrent tasks per core when the operator sets no `--max-tasks`: the scheduler packs
/// tasks by their CPU and memory demands (a validation of a small rendition asks for a
/// quarter of a core), so this only bounds how many processes a node runs.
pub const TASKS_PER_CORE: u32 = 4;

/// The capability report, also printed by `shotfarm agent --probe`.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityReport {
    pub cpu_cores: u32,
    pub memory_bytes: u64,
    pub ffmpeg_version: String,
    pub encoders: Vec<String>,
    pub gpus: Vec<GpuProbe>,
    /// Why no GPU is listed, when none is.
    pub gpu_unavailable: Option<String>,
    /// `cpu` always; `cuda` when a GPU can run our kernels (a build with the `cuda` feature);
    /// `nvenc` when an NVENC session could be opened (a build with the `nvenc` feature).
    pub backends: Vec<String>,
    pub max_tasks: u32,
}

pub fn capability_report(config: &AgentConfig, media: &MediaCapabilities) -> CapabilityReport {
    let (gpus, gpu_unavailable) = match probe_gpus() {
        Ok(gpus) if gpus.is_empty() => (Vec::new(), Some("cuda driver present but no GPU found".to_owned())),
        Ok(gpus) => (gpus, None),
        Err(reason) => (Vec::new(), Some(reason)),
    };
    let mut backends = vec!["cpu".to_owned()];
    if !gpus.is_empty() && cfg!(feature = "cuda") {
        backends.push("cuda".to_owned());
    }
    if gpus.iter().any(|gpu| gpu.nvenc_sessions > 0) {
        backends.push("nvenc".to_owned());
    }
    let cpu_cores = if config.cpu_cores > 0 { config.cpu_cores } else { media.cpu_cores.max(1) as u32 };
    CapabilityReport {
        cpu_cores,
        memory_bytes: media.memory_total_bytes.max(64 << 20),
        ffmpeg_version: media.ffmpeg_version.clone(),
        encoders: media.encoders.clone(),
        gpus,
        gpu_unavailable,
        backends,
        max_tasks: if config.max_tasks > 0 { config.max_tasks } else { TASKS_PER_CORE * cpu_cores },
    }
}

impl CapabilityReport {
    pub fn to_wire(&self) -> v1::Capabilities {
        v1::Capabilities {
            cpu_cores: self.cpu_cores,
            memory_bytes: self.memory_bytes,
            gpus: self
                .gpus
                .iter()
                .map(|gpu| v1::Gpu {
                    index: gpu.index,
                    name: gpu.name.clone(),
                    memory_bytes: gpu.memory_bytes,
                    multiprocessors: gpu.multiprocessors,
                    nvenc_sessions: gpu.nvenc_sessions,
                    cuda: self.backends.iter().any(|backend| backend == "cuda"),
                })
                .collect(),
            backends: self.backends.clone(),
            encoders: self.encoders.clone(),
            ffmpeg_version: self.ffmpeg_version.clone(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            max_tasks: self.max_tasks,
        }
    }
}
