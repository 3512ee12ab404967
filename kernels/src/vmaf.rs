//! The library entry point: VMAF (and optionally PSNR/SSIM) of a distorted stream
//! against a reference stream ([`vmaf_streams`]), or of several distorted streams against one
//! reference in one pass ([`vmaf_streams_against_one_reference`]: the reference is decoded once
//! and its own work — motion, VIF's reference pyramid and the filter passes of its own
//! moments, ADM's reference DWT, SSIM's reference side — done once per frame for all of them),
//! frame by frame, spread over threads.
//!
//! Parallelism is per frame with `std::thread::scope`: a reader thread decodes a reference
//! frame and the same frame of every distorted stream (the decoders themselves are ffmpeg
//! processes running alongside) into a bounded channel, and N workers each take a whole
//! reference frame with its distorted frames, with their own scratch memory. Frames
//! are independent once the previous reference is attached for motion, so the hot
//! loops need no synchronisation, each worker's buffers stay in its own cache, and the
//! result is identical for any thread count by construction. Rayon would give the same
//! but adds a dependency and a global pool for what is one bounded producer/consumer.
//! Frames travel back too: a worker done with a frame sends its frames (a reference once
//! the frame after it is done with it as well) to the reader, which gives them to their
//! source to decode into again ([`FrameSource::recycle`]), so nothing is allocated
//! per frame once the pipeline is full.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::backend::{self, Backend, BackendError, BackendRequest};
use crate::cpu_account::charged;
use crate::decode::decode_error::DecodeError;
use crate::decode::ffmpeg_decoder;
use crate::decode::ffmpeg_programs::FfmpegPrograms;
use crate::frame::Frame;
use crate::frame_features::{self, FeatureScratch, FeatureSelection, FrameFeatures, MetricError, PreparedReference};
use crate::decode::frame_source::FrameSource;
use crate::model::{ModelError, ModelInputs, VmafModel};
use crate::motion;
use crate::report::{FrameReport, VmafReport};
use crate::decode::y4m::Y4mReader;
use crate::simd::SimdLevel;

#[derive(Debug, thiserror::Error)]
pub enum VmafError {
    #[error("cannot decode the reference: {0}")]
    Reference(#[source] DecodeError),
    #[error("cannot decode the distorted clip: {0}")]
    Distorted(#[source] DecodeError),
    #[error("frame count mismatch: the reference has {reference} frames but the distorted clip has {distorted}")]
    FrameCountMismatch { reference: u64, distorted: u64 },
    #[error("frame {frame}: {source}")]
    Metric {
        frame: u64,
        #[source]
        source: MetricError,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("no frames to compare")]
    Empty,
    #[error("a worker thread panicked")]
    WorkerPanicked,
    /// What went wrong with one of several distorted streams scored against one reference
    /// ([`vmaf_streams_against_one_reference`]; `stream` is its index in the list given).
    #[error("distorted stream {stream}: {source}")]
    Stream {
        stream: usize,
        #[source]
        source: Box<VmafError>,
    },
}

impl VmafError {
    fn of_stream(stream: usize, error: VmafError) -> Self {
        Self::Stream { stream, source: Box::new(error) }
    }

    /// The error itself, without the distorted stream it is about.
    fn without_stream(self) -> Self {
        match self {
            Self::Stream { source, .. } => *source,
            other => other,
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct VmafOptions {
    /// Worker threads (0 = one per available core).
    pub threads: usize,
    pub features: FeatureSelection,
    pub backend: BackendRequest,
    /// Force a SIMD level (tests, benchmarks); `None` = detected.
    pub simd: Option<SimdLevel>,
    /// Stop after this many frames (`None` = all).
    pub max_frames: Option<u64>,
    /// Score every n-th frame only (libvmaf's `--subsample`): VIF, ADM, PSNR and SSIM of
    /// frames 0, n, 2n…, but motion of every frame, so each scored frame's VMAF is exactly
    /// what a full run gives it. 0 and 1 score every frame.
    pub subsample: u64,
}

impl Default for VmafOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            features: FeatureSelection { psnr: false, ssim: false },
            backend: BackendRequest::Auto,
            simd: None,
            max_frames: None,
            subsample: 1,
        }
    }
}

impl VmafOptions {
    fn worker_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// Opens a file as a frame source: `.y4m` is read directly, anything else through ffmpeg.
/// With `target`, the clip is converted (scaled with bit-exact bicubic) to that format.
pub fn open_source(programs: &FfmpegPrograms, path: &Path, target: Option<crate::frame::FrameFormat>) -> Result<Box<dyn FrameSource>, DecodeError> {
    let is_y4m = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
    if is_y4m {
        let reader = Y4mReader::open(path)?;
        if target.is_none_or(|t| t == reader.format()) {
            return Ok(Box::new(reader));
        }
    }
    Ok(match target {
        Some(t) => Box::new(ffmpeg_decoder::open_as(programs, path, t)?),
        None => Box::new(ffmpeg_decoder::open(programs, path)?),
    })
}

/// VMAF of two files; the distorted clip is scaled to the reference's size if needed. Files
/// other than `.y4m` are decoded with the `programs` given.
pub fn vmaf_files(programs: &FfmpegPrograms, reference: &Path, distorted: &Path, options: &VmafOptions) -> Result<VmafReport, VmafError> {
    let reference = open_source(programs, reference, None).map_err(VmafError::Reference)?;
    let distorted = open_source(programs, distorted, Some(reference.format())).map_err(VmafError::Distorted)?;
    vmaf_streams(reference, distorted, options)
}

/// One unit of work: a reference frame, the frame of every distorted stream scored against
/// it, and the reference before it.
struct Job {
    index: u64,
    reference: Arc<Frame>,
    /// One frame of each distorted stream, in the order of the streams.
    distorted: Vec<Frame>,
    previous_reference: Option<Arc<Frame>>,
    /// False for a frame a subsampled run leaves out: only its motion is measured.
    scored: bool,
}

/// What was measured on one frame pair.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FrameMeasure {
    Scored(FrameFeatures),
    /// A frame left out of a subsampled run: its motion only.
    MotionOnly(f64),
}

impl FrameMeasure {
    fn motion(&self) -> f64 {
        match self {
            Self::Scored(features) => features.motion,
            Self::MotionOnly(motion) => *motion,
        }
    }
}

/// Which source a frame given back came from.
#[derive(Debug, Clone, Copy)]
enum Side {
    Reference,
    /// The distorted stream of this index.
    Distorted(usize),
}

/// Frames the workers are done with, on their way back to the reader (bounded: a frame
/// that finds the channel full is freed instead).
type Returns = SyncSender<(Side, Frame)>;

/// Sends the frames of a finished job back, each reference frame only by the last job
/// holding it (its Arc's last owner).
fn give_back(job: Job, returns: &Returns) {
    let Job { reference, distorted, previous_reference, .. } = job;
    for (stream, frame) in distorted.into_iter().enumerate() {
        let _ = returns.try_send((Side::Distorted(stream), frame));
    }
    for shared in std::iter::once(reference).chain(previous_reference) {
        if let Some(frame) = Arc::into_inner(shared) {
            let _ = returns.try_send((Side::Reference, frame));
        }
    }
}

/// What the reader found at the end.
enum ReaderOutcome {
    Done,
    Failed(VmafError),
}

fn read_frames(
    mut reference: Box<dyn FrameSource>,
    mut distorted: Vec<Box<dyn FrameSource>>,
    max_frames: Option<u64>,
    subsample: u64,
    jobs: SyncSender<Job>,
    returns: Receiver<(Side, Frame)>,
) -> ReaderOutcome {
    let mut previous: Option<Arc<Frame>> = None;
    let mut index = 0u64;
    loop {
        if max_frames.is_some_and(|m| index >= m) {
            return ReaderOutcome::Done;
        }
        while let Ok((side, frame)) = returns.try_recv() {
            match side {
                Side::Reference => reference.recycle(frame),
                Side::Distorted(stream) => distorted[stream].recycle(frame),
            }
        }
        let r = match reference.next_frame() {
            Ok(f) => f,
            Err(e) => return ReaderOutcome::Failed(VmafError::Reference(e)),
        };
        let mut frames = Vec::with_capacity(distorted.len());
        for (stream, source) in distorted.iter_mut().enumerate() {
            let d = match source.next_frame() {
                Ok(f) => f,
                Err(e) => return ReaderOutcome::Failed(VmafError::of_stream(stream, VmafError::Distorted(e))),
            };
            match (&r, d) {
                (Some(_), Some(d)) => frames.push(d),
                (None, None) => {}
                (Some(_), None) => {
                    let reference_count = match count_rest(reference.as_mut()) {
                        Ok(rest) => index + 1 + rest,
                        Err(e) => return ReaderOutcome::Failed(VmafError::Reference(e)),
                    };
                    return ReaderOutcome::Failed(VmafError::of_stream(stream, VmafError::FrameCountMismatch { reference: reference_count, distorted: index }));
                }
                (None, Some(_)) => {
                    let distorted_count = match count_rest(source.as_mut()) {
                        Ok(rest) => index + 1 + rest,
                        Err(e) => return ReaderOutcome::Failed(VmafError::of_stream(stream, VmafError::Distorted(e))),
                    };
                    return ReaderOutcome::Failed(VmafError::of_stream(stream, VmafError::FrameCountMismatch { reference: index, distorted: distorted_count }));
                }
            }
        }
        let Some(r) = r else { return ReaderOutcome::Done };
        let r = Arc::new(r);
        let scored = index.is_multiple_of(subsample.max(1));
        let job = Job { index, reference: Arc::clone(&r), distorted: frames, previous_reference: previous.take(), scored };
        if jobs.send(job).is_err() {
            // Workers stopped on an error; theirs is the one to report.
            return ReaderOutcome::Done;
        }
        previous = Some(r);
        index += 1;
    }
}

fn count_rest(source: &mut dyn FrameSource) -> Result<u64, DecodeError> {
    let mut n = 0;
    while source.next_frame()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// What one job measured: each distorted stream's frame, in the order of the streams.
fn measure_job(job: &Job, selection: FeatureSelection, simd: SimdLevel, prepared: &mut PreparedReference, scratch: &mut FeatureScratch) -> Result<Vec<FrameMeasure>, VmafError> {
    let metric = |source| VmafError::Metric { frame: job.index, source };
    prepared.prepare(&job.reference, job.previous_reference.as_deref(), job.scored.then_some(selection), simd, scratch).map_err(metric)?;
    if !job.scored {
        return Ok(vec![FrameMeasure::MotionOnly(prepared.motion()); job.distorted.len()]);
    }
    let distorted: Vec<&Frame> = job.distorted.iter().collect();
    frame_features::features_against_each(&job.reference, prepared, &distorted, simd, scratch)
        .into_iter()
        .enumerate()
        .map(|(stream, features)| features.map(FrameMeasure::Scored).map_err(|source| VmafError::of_stream(stream, metric(source))))
        .collect()
}

/// Runs every job of the channel on `workers` threads; results indexed by frame.
fn run_workers(
    jobs: Receiver<Job>,
    workers: usize,
    selection: FeatureSelection,
    simd: SimdLevel,
    backend: &Backend,
    returns: &Returns,
) -> Result<Vec<(u64, Vec<FrameMeasure>)>, VmafError> {
    let jobs = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    // The error of the earliest frame that failed, so which one is reported does not depend on
    // which worker got there first (frames are taken in order, so every earlier frame is
    // measured before the workers stop).
    let earliest_error: Mutex<Option<(u64, VmafError)>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(charged(|| {
                let mut scratch = FeatureScratch::for_backend(backend);
                let mut prepared = PreparedReference::default();
                loop {
                    let job = match jobs.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let outcome = measure_job(&job, selection, simd, &mut prepared, &mut scratch);
                    let index = job.index;
                    give_back(job, returns);
                    match outcome {
                        Ok(measures) => {
                            if let Ok(mut r) = results.lock() {
                                r.push((index, measures));
                            }
                        }
                        Err(error) => {
                            if let Ok(mut earliest) = earliest_error.lock()
                                && earliest.as_ref().is_none_or(|(at, _)| index < *at)
                            {
                                *earliest = Some((index, error));
                            }
                            return;
                        }
                    }
                }
            }));
        }
    });
    if let Some((_, error)) = earliest_error.into_inner().map_err(|_| VmafError::WorkerPanicked)? {
        return Err(error);
    }
    let mut results = results.into_inner().map_err(|_| VmafError::WorkerPanicked)?;
    results.sort_by_key(|(i, _)| *i);
    Ok(results)
}

/// Features of every frame pair of two streams (no model step).
pub fn frame_features_of_streams(
    reference: Box<dyn FrameSource>,
    distorted: Box<dyn FrameSource>,
    options: &VmafOptions,
    simd: SimdLevel,
) -> Result<Vec<FrameFeatures>, VmafError> {
    frame_features_on(reference, distorted, options, simd, &Backend::Cpu(simd))
}

/// Features of every frame pair on `backend` (CUDA parts on the GPU where it is one); the
/// options' `subsample` does not apply.
pub fn frame_features_on(
    reference: Box<dyn FrameSource>,
    distorted: Box<dyn FrameSource>,
    options: &VmafOptions,
    simd: SimdLevel,
    backend: &Backend,
) -> Result<Vec<FrameFeatures>, VmafError> {
    let every_frame = VmafOptions { subsample: 1, ..options.clone() };
    // Every frame is scored at subsample 1: nothing is left out here.
    let mut measures = measure_streams(reference, vec![distorted], &every_frame, simd, backend).map_err(VmafError::without_stream)?;
    Ok(measures
        .pop()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|measure| match measure {
            FrameMeasure::Scored(features) => Some(features),
            FrameMeasure::MotionOnly(_) => None,
        })
        .collect())
}

/// What every frame pair of each distorted stream measures against the reference on
/// `backend`, one list per stream in frame order: all features of the frames the options'
/// `subsample` scores, the motion of the others.
fn measure_streams(
    reference: Box<dyn FrameSource>,
    distorted: Vec<Box<dyn FrameSource>>,
    options: &VmafOptions,
    simd: SimdLevel,
    backend: &Backend,
) -> Result<Vec<Vec<FrameMeasure>>, VmafError> {
    let streams = distorted.len();
    let workers = options.worker_count();
    // Each job holds a frame of every stream: fewer queued jobs the more streams there are.
    let (tx, rx) = sync_channel::<Job>((2 * workers / streams.max(1)).max(workers));
    // Room for every frame in flight: the queued jobs' and the running ones'.
    let (returns, returned) = sync_channel::<(Side, Frame)>((3 * workers + 2) * (streams + 1));
    let (max_frames, subsample) = (options.max_frames, options.subsample);
    let (outcome, results) = std::thread::scope(|scope| {
        let reader = scope.spawn(charged(move || read_frames(reference, distorted, max_frames, subsample, tx, returned)));
        let results = run_workers(rx, workers, options.features, simd, backend, &returns);
        (reader.join(), results)
    });
    let results = results?;
    match outcome {
        Ok(ReaderOutcome::Done) => {}
        Ok(ReaderOutcome::Failed(e)) => return Err(e),
        Err(_) => return Err(VmafError::WorkerPanicked),
    }
    if results.iter().enumerate().any(|(i, (idx, measures))| *idx != i as u64 || measures.len() != streams) {
        return Err(VmafError::WorkerPanicked);
    }
    let mut per_stream: Vec<Vec<FrameMeasure>> = (0..streams).map(|_| Vec::with_capacity(results.len())).collect();
    for (_, measures) in results {
        for (stream, measure) in per_stream.iter_mut().zip(measures) {
            stream.push(measure);
        }
    }
    Ok(per_stream)
}

/// Turns per-frame features into the report: motion2, the model, pooling.
pub fn score_features(features: &[FrameFeatures], model: &VmafModel) -> Vec<FrameReport> {
    let measures: Vec<FrameMeasure> = features.iter().copied().map(FrameMeasure::Scored).collect();
    score_measures(&measures, model)
}

/// The report of the scored frames: motion2 from every frame's motion, the model.
fn score_measures(measures: &[FrameMeasure], model: &VmafModel) -> Vec<FrameReport> {
    let motion: Vec<f64> = measures.iter().map(FrameMeasure::motion).collect();
    let motion2 = motion::motion2_from_motion(&motion);
    measures
        .iter()
        .zip(motion2)
        .enumerate()
        .filter_map(|(i, (measure, motion2))| match measure {
            FrameMeasure::Scored(features) => Some((i, (features, motion2))),
            FrameMeasure::MotionOnly(_) => None,
        })
        .map(|(i, (f, motion2))| {
            let vif = [f.vif.scale(0), f.vif.scale(1), f.vif.scale(2), f.vif.scale(3)];
            let inputs = ModelInputs { adm2: f.adm.adm2, motion2, vif };
            FrameReport {
                frame_num: i,
                vif,
                adm2: f.adm.adm2,
                adm_scales: [f.adm.scale(0), f.adm.scale(1), f.adm.scale(2), f.adm.scale(3)],
                motion: f.motion,
                motion2,
                vmaf: model.predict(&inputs),
                psnr: f.psnr,
                ssim: f.ssim,
            }
        })
        .collect()
}

/// VMAF of two frame streams of the same format.
pub fn vmaf_streams(
    reference: Box<dyn FrameSource>,
    distorted: Box<dyn FrameSource>,
    options: &VmafOptions,
) -> Result<VmafReport, VmafError> {
    let mut reports = vmaf_streams_against_one_reference(reference, vec![distorted], options).map_err(VmafError::without_stream)?;
    reports.pop().ok_or(VmafError::Empty)
}

/// VMAF of each distorted stream against one reference stream, all of the reference's
/// format, in one pass: the reference is decoded once, and the work on a reference frame
/// alone (its motion, SSIM's reference side) is done once for every stream. One report per
/// distorted stream, in their order, each identical, every feature of every frame, to what
/// [`vmaf_streams`] gives that pair. `options` apply to every stream (`subsample` included:
/// the distorted streams' left-out frames are decoded and skipped). An error about one
/// stream (its decoding, its frame count, a metric of its frame) is
/// [`VmafError::Stream`] naming it, and ends the whole run; no streams give no reports.
pub fn vmaf_streams_against_one_reference(
    reference: Box<dyn FrameSource>,
    distorted: Vec<Box<dyn FrameSource>>,
    options: &VmafOptions,
) -> Result<Vec<VmafReport>, VmafError> {
    if distorted.is_empty() {
        return Ok(Vec::new());
    }
    let backend = backend::resolve(options.backend)?;
    let simd = options.simd.unwrap_or(backend.simd()).min(SimdLevel::hardware());
    let model = VmafModel::v061()?;
    let start = Instant::now();
    let per_stream = measure_streams(reference, distorted, options, simd, &backend)?;
    if per_stream.first().is_none_or(Vec::is_empty) {
        return Err(VmafError::Empty);
    }
    let described = match backend {
        Backend::Cpu(_) => Backend::Cpu(simd).describe(),
        #[cfg(feature = "cuda")]
        Backend::Cuda(..) => backend.describe(),
    };
    let reports: Vec<Vec<FrameReport>> = per_stream.iter().map(|measures| score_measures(measures, &model)).collect();
    let elapsed = start.elapsed().as_secs_f64();
    Ok(reports
        .into_iter()
        .map(|frames| VmafReport { fps: frames.len() as f64 / elapsed.max(1e-9), frames, backend: described.clone() })
        .collect())
}
