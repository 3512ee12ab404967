//! The job's output location, guarded so a job never destroys a user's files:
//!
//! * [`existing_files`] lists what the location holds besides this job's own work area, and
//!   refuses (non-retryable) a location that is reached through a symlink or holds one
//!   anywhere: outputs are never written through a symlink.
//! * [`check_output_free`] (the inspect task, before anything is written) refuses a location
//!   that holds anything but this job's work area, unless the job says `overwrite`;
//!   [`refuse_unless_empty`] is its refusal, which the package task repeats.
//! * [`remove_stale`] (the package task, after the new manifests are in place) deletes the
//!   previous outputs the new ones did not replace; the work areas (`.shotfarm-work/`) of this
//!   and other jobs are left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shotfarm_proto::storage::{JobRoots, Scheme, StorageUrl};

use super::job_locations::{CheckedLocations, WORK_FOLDER};
use super::{TaskError, task_errors};
use crate::storage::{MediaStore, ObjectKey};

/// Files named in a refusal, at most.
const FILES_NAMED: usize = 3;

/// Every file under the output location outside this job's work area, as keys relative to the
/// output, sorted. A symlink anywhere on the way or inside is a final error.
pub async fn existing_files(checked: &CheckedLocations, roots: &JobRoots) -> Result<Vec<String>, TaskError> {
    let own_work = checked.work.relative_to(&checked.output).map(|segments| segments.join("/")).unwrap_or_default();
    let mut files = match (checked.output.scheme(), roots.output.root_of(&checked.output)) {
        (Scheme::File, Some(root)) => {
            let (root, output) = (root.local_path().unwrap_or_default(), checked.output.local_path().unwrap_or_default());
            let url = checked.output.to_string();
            tokio::task::spawn_blocking(move || scan_local(&root, &output, &url))
                .await
                .map_err(|error| TaskError::retryable(format!("scanning the output location stopped: {error}")))??
        }
        _ => {
            let store = MediaStore::open(checked.output.as_str()).map_err(|error| task_errors::storage("opening the job's output location", error))?;
            store.list(None).await.map_err(|error| task_errors::storage("listing the job's output location", error))?.into_iter().map(|object| object.key).collect()
        }
    };
    files.retain(|key| !key.starts_with(&format!("{own_work}/")));
    files.sort();
    Ok(files)
}

/// Refuses an output location holding anything but this job's work area, unless `overwrite`.
pub async fn check_output_free(checked: &CheckedLocations, roots: &JobRoots, overwrite: bool) -> Result<(), TaskError> {
    let files = existing_files(checked, roots).await?;
    if overwrite {
        return Ok(());
    }
    refuse_unless_empty(&checked.output, &files)
}

/// Refuses (non-retryable) an output location holding `files`, naming a few of them.
pub fn refuse_unless_empty(output: &StorageUrl, files: &[String]) -> Result<(), TaskError> {
    if files.is_empty() {
        return Ok(());
    }
    let named: Vec<&str> = files.iter().take(FILES_NAMED).map(String::as_str).collect();
    let more = if files.len() > FILES_NAMED { format!(" and {} more", files.len() - FILES_NAMED) } else { String::new() };
    Err(TaskError::final_error(format!(
        "output location {} is not empty (it holds {}{more}); choose an empty or new location, or submit with --overwrite to replace what is there",
        output,
        named.join(", ")
    )))
}

/// Deletes `previous` files the package did not write again (`written`), outside every work area.
pub async fn remove_stale(store: &MediaStore, previous: &[String], written: &BTreeSet<String>) -> Result<usize, TaskError> {
    let mut removed = 0;
    for key in previous.iter().filter(|key| !written.contains(*key) && !key.starts_with(&format!("{WORK_FOLDER}/"))) {
        let key = ObjectKey::parse(key).map_err(|error| task_errors::key("naming a stale output", error))?;
        store.delete(&key).await.map_err(|error| task_errors::storage(&format!("removing the stale output {key}"), error))?;
        removed += 1;
    }
    Ok(removed)
}

/// Walks a local output directory without following symlinks: the directories from the root
/// down to it, then everything inside. A missing output is empty (it is created when written).
fn scan_local(root: &Path, output: &Path, url: &str) -> Result<Vec<String>, TaskError> {
    let symlink = |path: &Path| {
        TaskError::final_error(format!(
            "output location {url} goes through or contains the symlink {}; outputs are never written through symlinks: remove it or choose another location",
            path.display()
        ))
    };
    let below_root = output.strip_prefix(root).map_err(|_| TaskError::final_error(format!("output location {url} is not below its root {}", root.display())))?;
    let mut step = root.to_path_buf();
    for component in below_root.components() {
        step.push(component);
        match std::fs::symlink_metadata(&step) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink(&step)),
            Ok(meta) if !meta.is_dir() => return Err(TaskError::final_error(format!("output location {url}: {} is not a directory", step.display()))),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(task_errors::local_io("inspecting", &step, error)),
        }
    }
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let directory = output.join(&relative);
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            // The output root itself may not exist yet.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && relative.as_os_str().is_empty() => return Ok(Vec::new()),
            Err(error) => return Err(task_errors::local_io("listing", &directory, error)),
        };
        for entry in entries {
            let entry = entry.map_err(|error| task_errors::local_io("listing", &directory, error))?;
            let kind = entry.file_type().map_err(|error| task_errors::local_io("inspecting", &entry.path(), error))?;
            let child = relative.join(entry.file_name());
            if kind.is_symlink() {
                return Err(symlink(&entry.path()));
            } else if kind.is_dir() {
                pending.push(child);
            } else {
                files.push(child.to_string_lossy().into_owned());
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shotfarm_proto::pipeline::JobLocations;

    fn checked(dir: &Path) -> (CheckedLocations, JobRoots) {
        let out = format!("file://{}/out/job", dir.display());
        let roots = JobRoots::parse(Some("file:///in"), Some(&format!("file://{}/out", dir.display()))).unwrap();
        let locations = JobLocations { input_url: "file:///in/a.mp4".into(), work_url: format!("{out}/.shotfarm-work/job-1-7"), output_url: out, overwrite: false };
        (super::super::job_locations::check_locations(&locations, &roots).unwrap(), roots)
    }

    #[tokio::test]
    async fn only_the_own_work_area_may_be_there() {
        let dir = tempfile::tempdir().unwrap();
        let (checked, roots) = checked(dir.path());
        check_output_free(&checked, &roots, false).await.expect("a missing output is free");
        let job = dir.path().join("out/job");
        std::fs::create_dir_all(job.join(".shotfarm-work/job-1-7/inspection")).unwrap();
        std::fs::write(job.join(".shotfarm-work/job-1-7/inspection/a1.json"), b"{}").unwrap();
        check_output_free(&checked, &roots, false).await.expect("the job's own work area does not count");
        std::fs::create_dir_all(job.join(".shotfarm-work/job-1")).unwrap();
        std::fs::write(job.join(".shotfarm-work/job-1/mine.txt"), b"user").unwrap();
        let error = check_output_free(&checked, &roots, false).await.unwrap_err();
        assert!(error.is_final() && error.to_string().contains("is not empty (it holds .shotfarm-work/job-1/mine.txt)"), "{error}");
        assert!(error.to_string().contains("--overwrite"), "{error}");
        check_output_free(&checked, &roots, true).await.expect("overwrite allows it");
    }

    #[tokio::test]
    async fn symlinks_are_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let (checked, roots) = checked(dir.path());
        std::fs::create_dir_all(dir.path().join("out/job")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("out/job/h264_360p")).unwrap();
        let error = check_output_free(&checked, &roots, true).await.unwrap_err();
        assert!(error.is_final() && error.to_string().contains("symlink"), "{error}");
        std::fs::remove_file(dir.path().join("out/job/h264_360p")).unwrap();
        std::fs::remove_dir(dir.path().join("out/job")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("out/job")).unwrap();
        let error = check_output_free(&checked, &roots, true).await.unwrap_err();
        assert!(error.to_string().contains("goes through or contains the symlink"), "{error}");
    }

    #[tokio::test]
    async fn stale_files_go_and_work_areas_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&format!("file://{}", dir.path().display())).unwrap();
        for key in ["old/seg_00009.m4s", "master.m3u8", ".shotfarm-work/job-9/x"] {
            let path = dir.path().join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        let previous: Vec<String> = ["old/seg_00009.m4s", "master.m3u8", ".shotfarm-work/job-9/x"].map(String::from).to_vec();
        let written = BTreeSet::from(["master.m3u8".to_owned()]);
        assert_eq!(remove_stale(&store, &previous, &written).await.unwrap(), 1);
        assert!(!dir.path().join("old/seg_00009.m4s").exists());
        assert!(dir.path().join("master.m3u8").exists() && dir.path().join(".shotfarm-work/job-9/x").exists());
    }
}
