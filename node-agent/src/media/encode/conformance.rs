//! The checks every [`EncodeBackend`] must pass, run by the tests of each backend (the cpu one
//! in `tests/encode_conformance.rs`, the fake one there too; an NVENC one will join them).
//!
//! 1. **success**: every output exists with exactly the chunk's frame count; progress was reported.
//! 2. **capability mismatch**: a codec the backend does not offer fails with
//!    [`EncodeError::Unsupported`] before any work, leaving nothing behind.
//! 3. **corrupt input**: a source of random bytes fails with [`EncodeError::Input`], nothing left behind.
//! 4. **cancel mid-task**: cancelling after the first progress report returns
//!    [`EncodeError::Cancelled`] within seconds and leaves no output.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::backend::{ChunkOutput, EncodeBackend, EncodeChunkParams, EncodeError};
use shotfarm_proto::pipeline::Codec;
use crate::media::process::ToolProgress;

/// Inputs of the suite.
#[derive(Debug, Clone)]
pub struct ConformanceFixture {
    /// A request that succeeds on a real source (its outputs' paths are rewritten per check).
    pub request: EncodeChunkParams,
    /// A request slow enough (a second or more) that a cancel lands mid-task.
    pub slow_request: EncodeChunkParams,
    /// A file of random bytes.
    pub corrupt_source: PathBuf,
    /// Where outputs go.
    pub work_dir: PathBuf,
}

fn retarget(request: &EncodeChunkParams, dir: &Path) -> EncodeChunkParams {
    let mut request = request.clone();
    for (index, output) in request.outputs.iter_mut().enumerate() {
        output.path = dir.join(format!("out-{index}-{}.mp4", output.rung.name));
    }
    request
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Runs every check against `backend`; the error names the check and what happened.
pub async fn run_conformance(backend: &dyn EncodeBackend, fixture: &ConformanceFixture) -> Result<(), String> {
    let name = backend.name().to_owned();
    // 1. success
    let dir = fixture.work_dir.join(format!("{name}-success"));
    let request = retarget(&fixture.request, &dir);
    let reports = Arc::new(AtomicU64::new(0));
    let counter = reports.clone();
    let progress = move |_: ToolProgress| {
        counter.fetch_add(1, Ordering::Relaxed);
    };
    let result = backend
        .encode_chunk(&request, &progress, &CancellationToken::new())
        .await
        .map_err(|error| format!("{name}: success check failed: {error}"))?;
    let expected = request.chunk.frames.len();
    if result.outputs.len() != request.outputs.len() {
        return Err(format!("{name}: {} outputs for {} rungs", result.outputs.len(), request.outputs.len()));
    }
    for output in &result.outputs {
        if output.frames != expected || !output.path.is_file() {
            return Err(format!("{name}: output {output:?} should hold {expected} frames at an existing path"));
        }
    }
    if reports.load(Ordering::Relaxed) == 0 {
        return Err(format!("{name}: no progress was reported"));
    }

    // 2. capability mismatch
    let dir = fixture.work_dir.join(format!("{name}-unsupported"));
    let mut request = retarget(&fixture.request, &dir);
    let unsupported = [Codec::H264, Codec::Hevc, Codec::Av1].into_iter().find(|codec| !backend.capabilities().codecs.contains(codec));
    if let Some(codec) = unsupported {
        request.outputs[0].rung.codec = codec;
        match backend.encode_chunk(&request, &|_| {}, &CancellationToken::new()).await {
            Err(EncodeError::Unsupported { .. }) => {}
            other => return Err(format!("{name}: codec {codec:?} it does not offer gave {other:?}")),
        }
        if !leftovers(&dir).is_empty() {
            return Err(format!("{name}: capability mismatch left {:?}", leftovers(&dir)));
        }
    }
    let mut too_many = retarget(&fixture.request, &dir);
    let template: ChunkOutput = too_many.outputs[0].clone();
    too_many.outputs = (0..=backend.capabilities().max_outputs_per_call).map(|_| template.clone()).collect();
    if !matches!(backend.encode_chunk(&too_many, &|_| {}, &CancellationToken::new()).await, Err(EncodeError::InvalidRequest(_))) {
        return Err(format!("{name}: more outputs than max_outputs_per_call was not refused"));
    }

    // 3. corrupt input
    let dir = fixture.work_dir.join(format!("{name}-corrupt"));
    let mut request = retarget(&fixture.request, &dir);
    request.source = fixture.corrupt_source.clone();
    request.chunk.seek = None;
    match backend.encode_chunk(&request, &|_| {}, &CancellationToken::new()).await {
        Err(EncodeError::Input { .. }) => {}
        other => return Err(format!("{name}: corrupt input gave {other:?}; expected an input error")),
    }
    if !leftovers(&dir).is_empty() {
        return Err(format!("{name}: corrupt input left {:?}", leftovers(&dir)));
    }

    // 4. cancel mid-task
    let dir = fixture.work_dir.join(format!("{name}-cancel"));
    let request = retarget(&fixture.slow_request, &dir);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let on_progress = move |_: ToolProgress| trigger.cancel();
    let started = Instant::now();
    let outcome = backend.encode_chunk(&request, &on_progress, &cancel).await;
    let elapsed = started.elapsed();
    match outcome {
        Err(EncodeError::Cancelled { .. }) => {}
        other => return Err(format!("{name}: cancel mid-task gave {other:?} after {elapsed:?}; make the slow request slower if it finished")),
    }
    if elapsed > Duration::from_secs(20) {
        return Err(format!("{name}: cancel took {elapsed:?}"));
    }
    if !leftovers(&dir).is_empty() {
        return Err(format!("{name}: cancelled encode left {:?}", leftovers(&dir)));
    }
    Ok(())
}
