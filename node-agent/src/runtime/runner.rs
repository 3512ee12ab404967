//! Runs assigned attempts: at most `slots` at once, each with its own scratch directory and
//! cancellation token, its result journaled before it is reported.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use shotfarm_kernels::cpu_account::CpuLedger;
use shotfarm_proto::pipeline::{TaskKind, TaskOutput, TaskSpec};
use shotfarm_proto::storage::JobRoots;
use shotfarm_proto::v1;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::cpu_charged_future::CpuChargedFuture;
use super::journal::{FinishedAttempt, FinishedOutcome, Journal};
use crate::media::capabilities::MediaCapabilities;
use crate::metrics::{AgentMetrics, AttemptOutcome};
use crate::tasks::{ProgressFn, TaskContext, TaskError};

/// What executes a task: the media handlers in production (`crate::tasks::execute`).
pub type Executor =
    Arc<dyn Fn(TaskSpec, TaskContext, ProgressFn, CancellationToken) -> BoxFuture<'static, Result<TaskOutput, TaskError>> + Send + Sync>;

/// The production executor.
pub fn media_executor() -> Executor {
    Arc::new(|spec, ctx, progress, cancel| Box::pin(async move { crate::tasks::execute(spec, &ctx, progress, &cancel).await }))
}

/// Progress messages sent at most this often per task.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

struct RunningAttempt {
    attempt: u32,
    cancel: CancellationToken,
}

pub struct Runner {
    work_dir: PathBuf,
    /// Where tasks may read and write, checked by every task before it touches a file.
    roots: Arc<JobRoots>,
    slots: Arc<Semaphore>,
    slot_count: u32,
    running: Arc<Mutex<HashMap<u64, RunningAttempt>>>,
    journal: Arc<Journal>,
    executor: Executor,
    capabilities: Arc<MediaCapabilities>,
    /// Finished attempts, for the session to report.
    finished: mpsc::UnboundedSender<FinishedAttempt>,
    /// Progress, for the session to forward; dropped when the session is slow.
    progress: mpsc::Sender<v1::Progress>,
    /// Cancelled on a second signal: every attempt stops now.
    abort: CancellationToken,
    metrics: Arc<AgentMetrics>,
}

impl Runner {
    #[expect(clippy::too_many_arguments, reason = "wiring of the runtime's parts, done once")]
    pub fn new(
        work_dir: PathBuf,
        roots: Arc<JobRoots>,
        slot_count: u32,
        journal: Arc<Journal>,
        executor: Executor,
        capabilities: Arc<MediaCapabilities>,
        finished: mpsc::UnboundedSender<FinishedAttempt>,
        progress: mpsc::Sender<v1::Progress>,
        abort: CancellationToken,
        metrics: Arc<AgentMetrics>,
    ) -> Runner {
        let slot_count = slot_count.max(1);
        Runner {
            work_dir,
            roots,
            slots: Arc::new(Semaphore::new(slot_count as usize)),
            slot_count,
            running: Arc::new(Mutex::new(HashMap::new())),
            journal,
            executor,
            capabilities,
            finished,
            progress,
            abort,
            metrics,
        }
    }

    /// The attempts running (or waiting for a slot) now: each heartbeat renews their leases.
    pub fn running(&self) -> Vec<v1::TaskRef> {
        let running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        running.iter().map(|(task, attempt)| v1::TaskRef { task_id: *task, attempt: attempt.attempt }).collect()
    }

    pub fn free_slots(&self) -> u32 {
        self.slots.available_permits() as u32
    }

    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    pub fn is_idle(&self) -> bool {
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).is_empty()
    }

    /// Stops an attempt (the scheduler cancelled it, or a newer attempt replaced it).
    pub fn cancel(&self, task_id: u64, attempt: u32) {
        let running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = running.get(&task_id).filter(|found| found.attempt <= attempt) {
            found.cancel.cancel();
        }
    }

    /// Stops every attempt: the scheduler declared this node down (or forgot it), which ended
    /// all of its leases, so nothing they produce can be accepted — and an attempt that kept
    /// going would still write its artifacts into the job's work area, possibly after the job
    /// finished and removed it.
    pub fn cancel_all(&self) {
        let running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for found in running.values() {
            found.cancel.cancel();
        }
    }

    /// Starts an assignment unless this attempt already runs or has finished.
    pub fn start(&self, assignment: v1::Assignment) {
        let Some(task) = assignment.task else { return };
        let (task_id, attempt) = (task.task_id, task.attempt);
        if self.journal.contains(task_id, attempt) {
            return; // finished already; the session re-reports it
        }
        {
            let mut running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(existing) = running.get(&task_id) {
                if existing.attempt >= attempt {
                    return;
                }
                existing.cancel.cancel();
            }
            running.insert(task_id, RunningAttempt { attempt, cancel: self.abort.child_token() });
        }
        let cancel = {
            let running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            running.get(&task_id).map(|found| found.cancel.clone()).unwrap_or_default()
        };
        let spec: Result<TaskSpec, String> =
            serde_json::from_slice(&assignment.spec_json).map_err(|err| format!("the task spec is not understood ({err}); is this agent older than the scheduler?"));
        let context = TaskContext {
            task_id,
            attempt,
            job_id: assignment.job_id.clone(),
            backend: assignment.backend.clone(),
            gpu_index: assignment.gpu_index,
            scratch_dir: self.work_dir.join("tasks").join(format!("{task_id}-a{attempt}")),
            job_cache_dir: self.work_dir.join("jobs").join(sanitize(&assignment.job_id)),
            capabilities: self.capabilities.clone(),
            roots: self.roots.clone(),
        };
        let slots = self.slots.clone();
        let running = self.running.clone();
        let journal = self.journal.clone();
        let executor = self.executor.clone();
        let finished = self.finished.clone();
        let kind = spec.as_ref().ok().map(TaskSpec::kind);
        let progress = self.progress_fn(task_id, attempt, kind);
        let metrics = self.metrics.clone();
        // The attempt's span is part of its job's trace when the job was traced.
        let span = tracing::info_span!("attempt", task_id, attempt, job_id = %assignment.job_id, kind = %assignment.kind);
        if !assignment.traceparent.is_empty() {
            shotfarm_proto::trace_context::set_parent(&span, &assignment.traceparent);
        }
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match spec {
                Err(error) => FinishedOutcome::Failed { error, retryable: false },
                Ok(spec) => {
                    let is_report = spec.kind() == TaskKind::Report;
                    let permit = tokio::select! {
                        permit = slots.acquire_owned() => permit.ok(),
                        () = cancel.cancelled() => None,
                    };
                    let outcome = match permit {
                        None => FinishedOutcome::Failed { error: "cancelled before it started".to_owned(), retryable: true },
                        Some(_permit) => {
                            let (_busy, ran) = (metrics.slot_taken(), Instant::now());
                            let kind = spec.kind();
                            let _ = tokio::fs::create_dir_all(&context.scratch_dir).await;
                            let _ = tokio::fs::create_dir_all(&context.job_cache_dir).await;
                            tracing::info!(task_id, attempt, kind = spec.kind().as_str(), "task started");
                            let ledger = CpuLedger::new();
                            let result = CpuChargedFuture::new(executor(spec, context.clone(), progress, cancel.clone()), ledger.clone()).await;
                            let _ = tokio::fs::remove_dir_all(&context.scratch_dir).await;
                            let outcome = into_outcome(result, &context.backend, started.elapsed(), ledger.total_micros());
                            let ended = if matches!(outcome, FinishedOutcome::Succeeded { .. }) { AttemptOutcome::Succeeded } else { AttemptOutcome::Failed };
                            metrics.attempt_finished(kind, &context.backend, ended, ran.elapsed());
                            outcome
                        }
                    };
                    if is_report && matches!(outcome, FinishedOutcome::Succeeded { .. }) {
                        let _ = tokio::fs::remove_dir_all(&context.job_cache_dir).await;
                    }
                    outcome
                }
            };
            running.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&task_id);
            let finished_attempt = FinishedAttempt { task_id, attempt, outcome };
            match &finished_attempt.outcome {
                FinishedOutcome::Succeeded { elapsed_ms, .. } => tracing::info!(task_id, attempt, elapsed_ms, "task succeeded"),
                FinishedOutcome::Failed { error, retryable } => tracing::warn!(task_id, attempt, retryable, %error, "task failed"),
            }
            if let Err(err) = journal.record(&finished_attempt) {
                tracing::error!(task_id, attempt, %err, "cannot journal a result; reporting it anyway");
            }
            let _ = finished.send(finished_attempt);
        }
        .instrument(span));
    }

    fn progress_fn(&self, task_id: u64, attempt: u32, kind: Option<TaskKind>) -> ProgressFn {
        let sender = self.progress.clone();
        let metrics = self.metrics.clone();
        let last = Mutex::new(None::<Instant>);
        Arc::new(move |frames_done, frames_total, fps| {
            let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            if last.is_some_and(|at| now.duration_since(at) < PROGRESS_EVERY) && frames_done < frames_total {
                return;
            }
            *last = Some(now);
            if let Some(kind) = kind {
                metrics.frames_per_second(kind, fps);
            }
            let _ = sender.try_send(v1::Progress {
                task: Some(v1::TaskRef { task_id, attempt }),
                frames_done,
                frames_total,
                fps: if fps.is_finite() { fps } else { 0.0 },
            });
        })
    }
}

fn into_outcome(result: Result<TaskOutput, TaskError>, backend: &str, elapsed: Duration, cpu_micros: u64) -> FinishedOutcome {
    match result {
        Ok(output) => match serde_json::to_string(&output) {
            Ok(output_json) => FinishedOutcome::Succeeded { output_json, backend: backend.to_owned(), elapsed_ms: elapsed.as_millis() as u64, cpu_micros },
            Err(err) => FinishedOutcome::Failed { error: format!("cannot encode the task output: {err}"), retryable: false },
        },
        Err(TaskError::Retryable(error)) => FinishedOutcome::Failed { error, retryable: true },
        Err(TaskError::Final(error)) => FinishedOutcome::Failed { error, retryable: false },
        Err(TaskError::Cancelled) => FinishedOutcome::Failed { error: "cancelled".to_owned(), retryable: true },
    }
}

/// A job id as a directory name.
fn sanitize(job_id: &str) -> String {
    job_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(task_id: u64) -> v1::Assignment {
        let locations = shotfarm_proto::pipeline::JobLocations {
            input_url: "file:///in.mp4".to_owned(),
            output_url: "file:///out".to_owned(),
            work_url: "file:///out/.shotfarm-work/job-1".to_owned(),
            overwrite: false,
        };
        let spec = serde_json::to_vec(&TaskSpec::Inspect { locations, chunk_min_ms: 0, chunk_max_ms: 0, segments: Vec::new() }).expect("spec encodes");
        v1::Assignment { task: Some(v1::TaskRef { task_id, attempt: 1 }), job_id: "job-1".to_owned(), kind: "inspect".to_owned(), spec_json: spec, backend: "cpu".to_owned(), gpu_index: 0, traceparent: String::new(), ready_at_ms: 0 }
    }

    #[tokio::test]
    async fn cancel_all_stops_every_running_attempt() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = Arc::new(Journal::open(&dir.path().join("journal")).expect("journal"));
        // Every attempt runs until it is cancelled.
        let executor: Executor = Arc::new(|_, _, _, cancel: CancellationToken| {
            Box::pin(async move {
                cancel.cancelled().await;
                Err(TaskError::Cancelled)
            })
        });
        let capabilities = Arc::new(MediaCapabilities {
            ffmpeg_version: String::new(),
            ffprobe_version: String::new(),
            encoders: Vec::new(),
            cpu_cores: 2,
            memory_total_bytes: 1 << 30,
            memory_available_bytes: 1 << 30,
        });
        let (finished_sender, mut finished) = mpsc::unbounded_channel();
        let (progress_sender, _progress) = mpsc::channel(16);
        let runner = Runner::new(dir.path().to_path_buf(), Arc::new(JobRoots::parse(None, None).expect("no roots")), 4, journal, executor, capabilities, finished_sender, progress_sender, CancellationToken::new(), Arc::default());
        runner.start(assignment(1));
        runner.start(assignment(2));
        assert_eq!(runner.running().len(), 2);
        runner.cancel_all();
        let mut stopped = Vec::new();
        for _ in 0..2 {
            let attempt = tokio::time::timeout(Duration::from_secs(5), finished.recv()).await.expect("stops in time").expect("reported");
            // Cancelled while running, or before it took its slot: both stop it.
            assert!(matches!(&attempt.outcome, FinishedOutcome::Failed { error, .. } if error.starts_with("cancelled")), "{attempt:?}");
            stopped.push(attempt.task_id);
        }
        stopped.sort_unstable();
        assert_eq!(stopped, vec![1, 2]);
        assert!(runner.is_idle());
    }
}
