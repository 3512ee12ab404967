//! The backend conformance suite against every backend: cpu (real ffmpeg) and fake.
#![allow(clippy::unwrap_used)]

mod common;

use shotfarm_agent::media::capabilities::probe_capabilities;
use shotfarm_agent::media::chunking::FrameRange;
use shotfarm_agent::media::encode::conformance::{ConformanceFixture, run_conformance};
use shotfarm_agent::media::encode::{ChunkOutput, CpuBackend, EncodeChunkParams, EncoderSettings, FakeBackend};
use shotfarm_agent::media::inspect::{InspectParams, inspect_source};
use shotfarm_proto::pipeline::{Codec, Rung};
use tokio_util::sync::CancellationToken;

async fn fixture(dir: &std::path::Path) -> ConformanceFixture {
    let source = common::three_shots(dir, "source.mp4", 320, 180, 2.0, false);
    let report = inspect_source(
        &InspectParams { source: source.clone(), artifact_dir: dir.join("inspect"), chunking: Default::default(), shot_detection: Default::default(), limits: Default::default(), segments: Default::default() },
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let rung = Rung { name: "180p".into(), width: 320, height: 180, codec: Codec::H264, bitrate_kbps: 400, maxrate_kbps: 600, bufsize_kbps: 800 };
    let mut chunk = report.chunks[0].clone();
    chunk.frames = FrameRange { start: 0, end: 30 };
    let artifact = shotfarm_agent::media::artifacts::FrameArtifact::read(&report.frame_artifact).await.unwrap();
    chunk.last_fingerprint = artifact.frames[29].fingerprint.clone();
    let request = EncodeChunkParams {
        source: source.clone(),
        chunk: chunk.clone(),
        frame_rate: report.source.video.frame_rate,
        outputs: vec![ChunkOutput::new(rung.clone(), dir.join("unused.mp4"))],
        settings: EncoderSettings { preset: "ultrafast".into(), keyframe_interval_frames: 12 },
        picture: report.source.video.picture.clone(),
    };
    // The whole source, three rungs at placebo: seconds of work, so a cancel lands mid-task.
    let mut slow_chunk = chunk;
    slow_chunk.frames = FrameRange { start: 0, end: report.source.video.frames };
    slow_chunk.last_fingerprint = artifact.frames.last().unwrap().fingerprint.clone();
    let slow_request = EncodeChunkParams {
        chunk: slow_chunk,
        outputs: (0..3).map(|_| ChunkOutput::new(rung.clone(), dir.join("unused.mp4"))).collect(),
        settings: EncoderSettings { preset: "placebo".into(), keyframe_interval_frames: 12 },
        ..request.clone()
    };
    ConformanceFixture { request, slow_request, corrupt_source: common::random_bytes(dir, "corrupt.mp4", 32 * 1024, 3), work_dir: dir.join("work") }
}

#[tokio::test]
async fn cpu_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(dir.path()).await;
    let backend = CpuBackend::new(&probe_capabilities(&CancellationToken::new()).await.unwrap());
    run_conformance(&backend, &fixture).await.unwrap();
}

#[tokio::test]
async fn fake_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(dir.path()).await;
    run_conformance(&FakeBackend::default(), &fixture).await.unwrap();
}
