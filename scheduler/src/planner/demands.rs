//! What each task kind asks of a node, per backend, in order of preference: GPU backends
//! first where the work is faster there (NVENC for encodes, our CUDA kernels for scoring),
//! the CPU fallback last.
//!
//! CPU demands say how much of a node a task keeps busy, so that a node runs as many tasks
//! at once as it has cores for: a validation decodes one frame of each chunk of its rendition
//! and hashes the rest of its bytes, an assembly only copies packets.

use shotfarm_proto::pipeline::{Codec, Rung, TaskKind};

use crate::state::model::{BackendOption, Demand};

const fn cpu_only(cpu_milli: u32, memory_mb: u32) -> Demand {
    Demand { cpu_milli, memory_mb, nvenc_sessions: 0, gpu_memory_mb: 0, cuda_share: 0 }
}

/// A validation's CPU demand, whatever its rendition's size: the five of `shotfarm dev`'s
/// 10 s 1080p ladder kept 0.30 to 0.55 of a core busy while they ran (0.21 to 0.39 CPU-s
/// each, measured when each chunk's first frame took a process of its own; now up to 32 share
/// one, each input decoding on one thread; the hashing reads the rendition once), and five of
/// them fit a 2-core node together.
const VALIDATION_MILLI: u32 = 400;

/// The backend options of a task of `kind` working on `rungs` (none for job-wide tasks; for
/// encodes each rung is an NVENC session and its own encoder state, for scores a decoder).
pub fn options_for(kind: TaskKind, rungs: &[Rung]) -> Vec<BackendOption> {
    let codec = rungs.first().map(|rung| rung.codec);
    let extra_rungs = (rungs.len() as u32).saturating_sub(1).min(16);
    let cpu = |demand: Demand, encoder: Option<&str>| BackendOption {
        backend: "cpu".to_owned(),
        encoder: encoder.map(str::to_owned),
        demand,
    };
    match kind {
        TaskKind::Encode => {
            let codec = codec.unwrap_or(Codec::H264);
            vec![
                BackendOption {
                    backend: "nvenc".to_owned(),
                    encoder: Some(codec.nvenc_encoder().to_owned()),
                    demand: Demand {
                        cpu_milli: 500,
                        memory_mb: 512 + 256 * extra_rungs,
                        nvenc_sessions: 1 + extra_rungs,
                        gpu_memory_mb: 256 * (1 + extra_rungs),
                        cuda_share: 0,
                    },
                },
                // x264 uses every core it is given; two cores' worth keeps a 2-core node to one
                // encode at a time. Measured on `bench pipeline --quick` (10 s 1080p, five rungs
                // per task, one 2-core agent): one encode keeps 1.6 to 1.9 cores busy (less
                // while its lookahead fills, its last frames drain and its chunk is checked), and
                // a demand of one core, two encodes at once, took the job from 31.2 to 30.0 s
                // (ratio 1.39 to 1.27, one run each); kept at two because the task-graph replay,
                // which gives each task its measured wall time, would then model every encode at
                // the speed it had sharing its cores (parallelism 3.0 to 1.9).
                cpu(cpu_only(2000, 1024 + 512 * extra_rungs), Some(codec.software_encoder())),
            ]
        }
        // Each further rung scored is one more decoder and its frames in flight.
        TaskKind::Score => vec![
            BackendOption {
                backend: "cuda".to_owned(),
                encoder: None,
                demand: Demand { cpu_milli: 500, memory_mb: 1024 + 256 * extra_rungs, nvenc_sessions: 0, gpu_memory_mb: 1024 + 256 * extra_rungs, cuda_share: 25 },
            },
            cpu(cpu_only(1000, 1024 + 256 * extra_rungs), None),
        ],
        TaskKind::Inspect | TaskKind::InspectSegment => vec![cpu(cpu_only(1000, 512), None)],
        TaskKind::Analyze => vec![cpu(cpu_only(2000, 1024), None)],
        TaskKind::Ladder | TaskKind::Report => vec![cpu(cpu_only(100, 64), None)],
        TaskKind::Assemble => vec![cpu(cpu_only(250, 256), None)],
        TaskKind::Validate => vec![cpu(cpu_only(VALIDATION_MILLI, 512), None)],
        TaskKind::Package => vec![cpu(cpu_only(1000, 512), None)],
        // The renditions are encoded one after the other, each an ffmpeg decoding the track
        // and running the (single-threaded) AAC encoder.
        TaskKind::Audio => vec![cpu(cpu_only(1000, 256), None)],
        // One ffmpeg per text track, demuxing the source and converting its cues: mostly
        // reading the file.
        TaskKind::Subtitles => vec![cpu(cpu_only(250, 128), None)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(width: u32, height: u32) -> Rung {
        Rung { name: format!("h264_{height}p"), codec: Codec::H264, width, height, bitrate_kbps: 1000, maxrate_kbps: 1500, bufsize_kbps: 2000 }
    }

    fn cpu_milli(kind: TaskKind, rungs: &[Rung]) -> u32 {
        options_for(kind, rungs).last().expect("a cpu option").demand.cpu_milli
    }

    #[test]
    fn validations_ask_for_the_same_share_of_a_core_whatever_their_size() {
        let ladder = [rung(3840, 2160), rung(1920, 1080), rung(1280, 720), rung(960, 540), rung(640, 360), rung(426, 240)];
        for rung in &ladder {
            assert_eq!(cpu_milli(TaskKind::Validate, std::slice::from_ref(rung)), VALIDATION_MILLI, "{}", rung.name);
        }
        // A 1080p ladder's five validations fit a two-core node together.
        let total: u32 = ladder[1..].iter().map(|rung| cpu_milli(TaskKind::Validate, std::slice::from_ref(rung))).sum();
        assert!(total <= 2000, "{total}");
    }

    #[test]
    fn encodes_of_several_rungs_ask_for_a_session_and_memory_per_rung() {
        let options = options_for(TaskKind::Encode, &[rung(1920, 1080), rung(1280, 720), rung(640, 360)]);
        assert_eq!(options[0].backend, "nvenc");
        assert_eq!(options[0].demand.nvenc_sessions, 3);
        assert_eq!(options[1].backend, "cpu");
        assert_eq!(options[1].demand.memory_mb, 1024 + 512 * 2);
    }

    #[test]
    fn scores_of_several_rungs_ask_for_memory_per_rung() {
        let options = options_for(TaskKind::Score, &[rung(1920, 1080), rung(1280, 720), rung(640, 360)]);
        assert_eq!((options[0].backend.as_str(), options[0].demand.memory_mb, options[0].demand.gpu_memory_mb), ("cuda", 1024 + 256 * 2, 1024 + 256 * 2));
        assert_eq!((options[1].backend.as_str(), options[1].demand.cpu_milli, options[1].demand.memory_mb), ("cpu", 1000, 1024 + 256 * 2));
    }
}
