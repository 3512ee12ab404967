//! The per-job cache on this agent (`TaskContext::job_cache_dir`): the source, downloaded once
//! per job, and local copies of the inspection. Several tasks of one job run here at once, so
//! each entry is filled under a lock of its own (one download, the others wait and reuse it),
//! through a temporary name renamed into place: a file under its final name is complete.
//!
//! ```text
//! <job_cache_dir>/source/<file name of input_url>       a copy: later stages never read the user's file
//! <job_cache_dir>/inspection/a<attempt>.json          the downloaded inspection artifact
//! <job_cache_dir>/inspection/a<attempt>.frames.json   its frames, as validation reads them
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use shotfarm_proto::storage::{Scheme, StorageUrl};

use super::{TaskContext, TaskError, task_errors};
use crate::storage::input_file::open_regular_beneath;
use crate::storage::{MediaStore, ObjectKey};

/// One lock per cache path, shared by every task of this process.
fn entry_lock(path: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    let mut locks = match locks.lock() {
        Ok(guard) => guard,
        // A panic elsewhere while holding the map cannot leave it inconsistent (insert/remove only).
        Err(poisoned) => poisoned.into_inner(),
    };
    // Entries nobody holds any more are dropped, so the map stays as small as the running work.
    locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    Arc::clone(locks.entry(path.to_owned()).or_default())
}

/// Fills `path` with `fill(temporary)` unless it already exists; concurrent callers for the
/// same path wait for the first. `fill` must write the complete file at the path it is given.
pub async fn fill_once<F, Fut>(path: &Path, fill: F) -> Result<(), TaskError>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = Result<(), TaskError>>,
{
    let lock = entry_lock(path);
    let _guard = lock.lock().await;
    if tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|error| task_errors::local_io("creating", parent, error))?;
    }
    let mut temporary_name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    temporary_name.push(format!(".filling-{}", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    match fill(temporary.clone()).await {
        Ok(()) => tokio::fs::rename(&temporary, path).await.map_err(|error| task_errors::local_io("renaming into", path, error)),
        Err(error) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            Err(error)
        }
    }
}

/// The job's source as a local file, copied into the job cache on first use. The input URL is
/// checked against this agent's input roots first (whatever the scheduler accepted); a local
/// source is opened beneath its root, regular files only, and nothing is created on the input
/// side ([`crate::storage::input_file`]).
pub async fn local_source(input_url: &str, ctx: &TaskContext) -> Result<PathBuf, TaskError> {
    let input = ctx.roots.input.check(input_url).map_err(|error| TaskError::final_error(error.to_string()))?;
    let file_name = input.segments().last().cloned().ok_or_else(|| TaskError::final_error(format!("input {input} names no file; give the path of a video file")))?;
    ObjectKey::parse(&file_name).map_err(|error| task_errors::key("the input file name", error))?;
    let local = ctx.job_cache_dir.join("source").join(&file_name);
    let root = ctx.roots.input.root_of(&input).cloned();
    fill_once(&local, |temporary| async move {
        let started = std::time::Instant::now();
        let bytes = match (input.scheme(), root) {
            (Scheme::File, Some(root)) => copy_local_source(&input, &root, temporary).await?,
            _ => download_source(&input, file_name, &temporary).await?,
        };
        tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, input_url = %input, bytes, seconds = started.elapsed().as_secs_f64(), "source copied");
        Ok(())
    })
    .await?;
    Ok(local)
}

/// Copies a `file://` source from beneath its root (a kernel-side copy where the filesystems
/// allow it: `std::io::copy` between files uses `copy_file_range`).
pub(super) async fn copy_local_source(input: &StorageUrl, root: &StorageUrl, temporary: PathBuf) -> Result<u64, TaskError> {
    let root_path = root.local_path().ok_or_else(|| TaskError::final_error(format!("input root {root} is not a local directory")))?;
    let relative = input.relative_to(root).map(<[String]>::to_vec).unwrap_or_default();
    let copy = tokio::task::spawn_blocking(move || {
        let mut source = open_regular_beneath(&root_path, &relative).map_err(|error| {
            if error.is_retryable() { TaskError::retryable(error.to_string()) } else { TaskError::final_error(error.to_string()) }
        })?;
        let mut copy = std::fs::File::create(&temporary).map_err(|error| task_errors::local_io("creating", &temporary, error))?;
        std::io::copy(&mut source, &mut copy).map_err(|error| task_errors::local_io("copying the source into", &temporary, error))
    });
    copy.await.map_err(|error| TaskError::retryable(format!("copying the source stopped: {error}")))?
}

/// Downloads an object-store source (`s3://bucket/dir/name`: the store `s3://bucket/dir`).
pub(super) async fn download_source(input: &StorageUrl, file_name: String, temporary: &std::path::Path) -> Result<u64, TaskError> {
    let directory = input.parent().ok_or_else(|| TaskError::final_error(format!("input {input} names no object inside a bucket")))?;
    let store = MediaStore::open(directory.as_str()).map_err(|error| task_errors::storage("opening the source's store", error))?;
    let key = ObjectKey::parse(&file_name).map_err(|error| task_errors::key("the input file name", error))?;
    store.get_to_file(&key, temporary).await.map_err(|error| match error {
        crate::storage::StoreError::NotFound { .. } => TaskError::final_error(format!("the source {input} does not exist; check the job's input url")),
        other => task_errors::storage(&format!("downloading the source {input}"), other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_fills_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("entry.bin");
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut handles = Vec::new();
        for _ in 0..4 {
            let (target, runs) = (target.clone(), Arc::clone(&runs));
            handles.push(tokio::spawn(async move {
                fill_once(&target, |temporary| async move {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    tokio::fs::write(&temporary, b"whole").await.map_err(|error| task_errors::local_io("writing", &temporary, error))
                })
                .await
            }));
        }
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }
}
