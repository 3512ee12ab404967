//! A package's generation: the folder of the output location that one package attempt's media
//! files go under, and how a generation replaces the previous outputs.
//!
//! The folder is `<work area name>-a<attempt>` (the work area is named from the job's id and the
//! millisecond it was submitted, `job-3-1764968273000`, so the folder is `job-3-1764968273000-a1`):
//! unique to this job and attempt, never the folder of an earlier job's ladder. A location that
//! already holds a file there is refused, so a generation never writes over a file it did not
//! make. [`publish`] uploads every media file under it, then switches the two manifests at the
//! root, each replaced in one step (see `MediaStore::put_from_file`): a reader sees the previous
//! ladder, whole, until the new one is. Only then are the previous outputs removed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::job_locations::CheckedLocations;
use super::{TaskError, task_errors};
use crate::storage::{MediaStore, ObjectKey};

/// The HLS master playlist at the output's root.
pub const MASTER_PLAYLIST: &str = "master.m3u8";
/// The DASH manifest at the output's root.
pub const DASH_MANIFEST: &str = "manifest.mpd";
/// The manifests, in the order they are switched.
const MANIFESTS: [&str; 2] = [MASTER_PLAYLIST, DASH_MANIFEST];

/// The folder this package attempt writes its media under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// `<work area name>` of the job: every generation of the job starts with it.
    job: String,
    /// `<job>-a<attempt>`.
    folder: String,
}

impl Generation {
    /// The generation of `attempt` of the job whose work area `checked` names.
    pub fn of(checked: &CheckedLocations, attempt: u32) -> Result<Self, TaskError> {
        let job = checked.work.segments().last().cloned().unwrap_or_default();
        let plain = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
        if job.is_empty() || job.starts_with('.') || !job.bytes().all(plain) {
            return Err(TaskError::final_error(format!(
                "work area {} has a name that cannot name the ladder's folder (letters, digits, '-', '_', '.', not starting with '.'); submit the job again",
                checked.work
            )));
        }
        Ok(Self { folder: format!("{job}-a{attempt}"), job })
    }

    /// The folder's name, relative to the output location.
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// Whether `key` (relative to the output) lies in a generation of this job, of any attempt.
    pub fn is_this_jobs(&self, key: &str) -> bool {
        let first = key.split('/').next().unwrap_or_default();
        first.strip_prefix(self.job.as_str()).and_then(|rest| rest.strip_prefix("-a")).is_some_and(|attempt| !attempt.is_empty() && attempt.bytes().all(|byte| byte.is_ascii_digit()))
    }

    /// Refuses a location that already holds something at this generation's folder.
    pub fn check_unused(&self, existing: &[String], output_url: &str) -> Result<(), TaskError> {
        let inside = format!("{}/", self.folder);
        match existing.iter().find(|key| **key == self.folder || key.starts_with(&inside)) {
            Some(key) => Err(TaskError::final_error(format!(
                "output location {output_url} already holds {key}, inside the folder this package writes ({}); remove that folder or choose another location",
                self.folder
            ))),
            None => Ok(()),
        }
    }
}

/// Uploads the package directory `package_dir` (the media under the generation's folder, the
/// manifests at its root) to `store`, which held `previous`: every media file first, then the
/// manifests. Returns the keys written. A failure or cancellation before the first manifest is
/// switched removes the generation's folder (nothing names it) and leaves the previous outputs
/// as they were; so does a failure between the two manifests when the one switched was new
/// (removed again). A manifest that replaced a previous one stays, naming files all there.
pub async fn publish(package_dir: &Path, store: &MediaStore, generation: &Generation, previous: &[String], cancel: &CancellationToken) -> Result<BTreeSet<String>, TaskError> {
    let files = files_under(package_dir).await?;
    let inside = format!("{}/", generation.folder);
    let (manifests, media): (Vec<String>, Vec<String>) = files.into_iter().partition(|key| MANIFESTS.contains(&key.as_str()));
    if let Some(stray) = media.iter().find(|key| !key.starts_with(&inside)) {
        return Err(TaskError::final_error(format!("packaged file {stray} is outside the ladder's folder {}; nothing was published", generation.folder)));
    }
    let mut uploaded = Vec::with_capacity(media.len());
    for key in &media {
        let outcome = if cancel.is_cancelled() { Err(TaskError::Cancelled) } else { upload(package_dir, store, key).await };
        if let Err(error) = outcome {
            remove_unpublished(store, generation, &[]).await;
            return Err(error);
        }
        uploaded.push(key.clone());
    }
    // The switch: no cancellation between the two, so HLS and DASH never name two generations
    // because of a cancel.
    let mut switched: Vec<&str> = Vec::with_capacity(MANIFESTS.len());
    for manifest in MANIFESTS.iter().filter(|manifest| manifests.iter().any(|key| key == *manifest)) {
        if let Err(error) = upload(package_dir, store, manifest).await {
            if !switched.iter().any(|earlier| previous.iter().any(|key| key == earlier)) {
                remove_unpublished(store, generation, &switched).await;
            }
            return Err(error);
        }
        switched.push(manifest);
        uploaded.push((*manifest).to_owned());
    }
    Ok(uploaded.into_iter().collect())
}

async fn upload(package_dir: &Path, store: &MediaStore, key: &str) -> Result<(), TaskError> {
    let object = ObjectKey::parse(key).map_err(|error| task_errors::key("naming a packaged file", error))?;
    store
        .put_from_file(&package_dir.join(key), &object)
        .await
        .map_err(|error| task_errors::storage(&format!("uploading {key} to the output location"), error))?;
    Ok(())
}

/// Removes `manifests` (new ones, naming the generation) and then the generation's folder,
/// which nothing names any more; what cannot be removed is left for the next overwrite (it is
/// logged).
async fn remove_unpublished(store: &MediaStore, generation: &Generation, manifests: &[&str]) {
    for key in manifests.iter().copied().chain([generation.folder.as_str()]) {
        let removed = match ObjectKey::parse(key) {
            Ok(object) if key == generation.folder => store.delete_folder(&object).await.map_err(|error| error.to_string()),
            Ok(object) => store.delete(&object).await.map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = removed {
            tracing::warn!(%key, %error, "an unpublished output could not be removed");
        }
    }
}

/// Every file under `root`, as `/`-separated keys relative to it, sorted.
async fn files_under(root: &Path) -> Result<Vec<String>, TaskError> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let directory = root.join(&relative);
        let mut entries = tokio::fs::read_dir(&directory).await.map_err(|error| task_errors::local_io("listing", &directory, error))?;
        while let Some(entry) = entries.next_entry().await.map_err(|error| task_errors::local_io("listing", &directory, error))? {
            let file_type = entry.file_type().await.map_err(|error| task_errors::local_io("inspecting", &entry.path(), error))?;
            let child = relative.join(entry.file_name());
            if file_type.is_dir() {
                pending.push(child);
            } else if file_type.is_file() {
                let key = child.to_str().ok_or_else(|| TaskError::final_error(format!("packaged file {} has a name that is not utf-8", child.display())))?;
                files.push(key.to_owned());
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shotfarm_proto::pipeline::JobLocations;
    use shotfarm_proto::storage::JobRoots;

    fn generation(work: &str, attempt: u32) -> Result<Generation, TaskError> {
        let roots = JobRoots::parse(Some("file:///in"), Some("file:///out")).unwrap();
        let locations = JobLocations { input_url: "file:///in/a.mp4".into(), output_url: "file:///out/x".into(), work_url: format!("file:///out/x/.shotfarm-work/{work}"), overwrite: false };
        Generation::of(&super::super::job_locations::check_locations(&locations, &roots).unwrap(), attempt)
    }

    #[test]
    fn the_folder_is_the_jobs_and_the_attempts() {
        let second = generation("job-3-1764968273000", 2).unwrap();
        assert_eq!(second.folder(), "job-3-1764968273000-a2");
        for (key, own) in [
            ("job-3-1764968273000-a1/h264_360p/seg_00000.m4s", true),
            ("job-3-1764968273000-a2/audio/a0/init.mp4", true),
            ("job-3-1764968273000-a/x", false),
            ("job-3-1764968273000-a1x/x", false),
            ("job-3-1764968273001-a1/x", false),
            ("job-3-1764968273000/x", false),
            ("master.m3u8", false),
        ] {
            assert_eq!(second.is_this_jobs(key), own, "{key}");
        }
        let error = generation("job%20x", 1).unwrap_err();
        assert!(error.is_final() && error.to_string().contains("cannot name the ladder's folder"), "{error}");
    }

    #[test]
    fn a_folder_already_in_use_is_refused() {
        let first = generation("job-1-5", 1).unwrap();
        let existing = ["job-1-5-a10/x".to_owned(), "master.m3u8".to_owned()];
        first.check_unused(&existing, "file:///out/x").expect("another attempt's folder is not this one");
        for taken in ["job-1-5-a1", "job-1-5-a1/h264_360p/init.mp4"] {
            let error = first.check_unused(&[taken.to_owned()], "file:///out/x").unwrap_err();
            assert!(error.is_final() && error.to_string().contains(&format!("already holds {taken}")), "{error}");
        }
    }
}
