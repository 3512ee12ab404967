//! The per-job cache on this agent (`TaskContext::job_cache_dir`): the source, downloaded once
//! per job, and local copies of the inspection. Several tasks of one job run here at once, so
//! each entry is filled under a lock of its own (one download, the others wait and reuse it),
//! through a temporary name renamed into place: a file under its final name is complete.
//!
//! ```text
//! <job_cache_dir>/source/<file name of input_url>
//! <job_cache_dir>/inspection/a<attempt>.json          the downloaded inspection artifact
//! <job_cache_dir>/inspection/a<attempt>.frames.json   its frames, as validation reads them
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use url::Url;

use super::{TaskContext, TaskError, task_errors};
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

/// Where a source URL points: the store holding it and its key there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub store_url: String,
    pub key: String,
    pub file_name: String,
}

/// Splits `input_url` (`file:///dir/in.mp4`, `s3://bucket/path/in.mp4`) into its directory's
/// store and the object's key.
pub fn source_location(input_url: &str) -> Result<SourceLocation, TaskError> {
    let bad = |reason: &str| TaskError::final_error(format!("input url {input_url:?} {reason}; give file:///absolute/path/to/video or s3://bucket/key"));
    let parsed = Url::parse(input_url).map_err(|error| bad(&format!("is not a url ({error})")))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    let (store_url, file_name) = match parsed.scheme() {
        "file" => {
            let path = parsed.to_file_path().map_err(|()| bad("is not an absolute local path"))?;
            let file_name = path.file_name().and_then(|name| name.to_str()).ok_or_else(|| bad("does not name a file"))?.to_owned();
            let directory = path.parent().ok_or_else(|| bad("has no directory"))?;
            let directory_url = Url::from_directory_path(directory).map_err(|()| bad("has a directory that is not absolute"))?;
            (directory_url.to_string(), file_name)
        }
        scheme => {
            let host = parsed.host_str().filter(|host| !host.is_empty()).ok_or_else(|| bad("names no bucket"))?;
            let path = parsed.path();
            let (directory, file_name) = path.rsplit_once('/').ok_or_else(|| bad("does not name an object inside a bucket"))?;
            if file_name.is_empty() {
                return Err(bad("does not name an object inside a bucket"));
            }
            (format!("{scheme}://{host}{directory}"), file_name.to_owned())
        }
    };
    ObjectKey::parse(&file_name).map_err(|error| task_errors::key("the input file name", error))?;
    Ok(SourceLocation { store_url, key: file_name.clone(), file_name })
}

/// The job's source as a local file, downloaded into the job cache on first use.
pub async fn local_source(input_url: &str, ctx: &TaskContext) -> Result<PathBuf, TaskError> {
    let location = source_location(input_url)?;
    let local = ctx.job_cache_dir.join("source").join(&location.file_name);
    fill_once(&local, |temporary| async move {
        let store = MediaStore::open(&location.store_url).map_err(|error| task_errors::storage("opening the source's store", error))?;
        let key = ObjectKey::parse(&location.key).map_err(|error| task_errors::key("the input file name", error))?;
        let started = std::time::Instant::now();
        let bytes = store.get_to_file(&key, &temporary).await.map_err(|error| match error {
            crate::storage::StoreError::NotFound { .. } => TaskError::final_error(format!("the source {input_url} does not exist; check the job's input url")),
            other => task_errors::storage(&format!("downloading the source {input_url}"), other),
        })?;
        tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, input_url, bytes, seconds = started.elapsed().as_secs_f64(), "source downloaded");
        Ok(())
    })
    .await?;
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_urls_split_into_store_and_key() {
        let file = source_location("file:///data/in/my%20clip.mp4").unwrap();
        assert_eq!((file.store_url.as_str(), file.key.as_str()), ("file:///data/in/", "my clip.mp4"));
        let s3 = source_location("s3://bucket/sources/a.mov").unwrap();
        assert_eq!((s3.store_url.as_str(), s3.key.as_str()), ("s3://bucket/sources", "a.mov"));
        assert_eq!(source_location("s3://bucket/a.mov").unwrap().store_url, "s3://bucket");
        assert!(source_location("s3://bucket").unwrap_err().is_final());
        assert!(source_location("s3://bucket/dir/").unwrap_err().is_final());
        assert!(source_location("file:///data/in.mp4?version=2").unwrap_err().is_final());
        assert!(source_location("not a url").unwrap_err().is_final());
        assert!(source_location("file:///data/in/100%25.mp4").unwrap_err().is_final());
    }

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
