//! What each task kind asks of a node, per backend, in order of preference: GPU backends
//! first where the work is faster there (NVENC for encodes, our CUDA kernels for scoring),
//! the CPU fallback last.

use shotfarm_proto::pipeline::{Codec, TaskKind};

use crate::state::model::{BackendOption, Demand};

const fn cpu_only(cpu_milli: u32, memory_mb: u32) -> Demand {
    Demand { cpu_milli, memory_mb, nvenc_sessions: 0, gpu_memory_mb: 0, cuda_share: 0 }
}

/// The backend options of a task of `kind` (and `codec` and the number of rungs it
/// produces, for encodes: each rung is an NVENC session and its own encoder state).
pub fn options_for(kind: TaskKind, codec: Option<Codec>, rungs: u32) -> Vec<BackendOption> {
    let extra_rungs = rungs.saturating_sub(1).min(16);
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
                // encode at a time, which is faster overall than two encodes fighting.
                cpu(cpu_only(2000, 1024 + 512 * extra_rungs), Some(codec.software_encoder())),
            ]
        }
        TaskKind::Score => vec![
            BackendOption {
                backend: "cuda".to_owned(),
                encoder: None,
                demand: Demand { cpu_milli: 500, memory_mb: 1024, nvenc_sessions: 0, gpu_memory_mb: 1024, cuda_share: 25 },
            },
            cpu(cpu_only(1000, 1024), None),
        ],
        TaskKind::Inspect => vec![cpu(cpu_only(1000, 512), None)],
        TaskKind::Analyze => vec![cpu(cpu_only(2000, 1024), None)],
        TaskKind::Ladder | TaskKind::Report => vec![cpu(cpu_only(100, 64), None)],
        TaskKind::Assemble => vec![cpu(cpu_only(500, 256), None)],
        TaskKind::Validate | TaskKind::Package => vec![cpu(cpu_only(1000, 512), None)],
    }
}
