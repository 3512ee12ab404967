//! The job's work area (`JobLocations.work_url`): the keys of every intermediate artifact, each
//! carrying the attempt that wrote it, and the transfers between it and local files.
//!
//! | key | written by | content |
//! | --- | --- | --- |
//! | `inspection/a<attempt>.json` | inspect | [`super::inspection::InspectionDocument`] |
//! | `inspection/segments/<index:05>.a<attempt>.json` | inspect_segment | one segment's decode (`media::inspect::SegmentDecode`) |
//! | `chunks/<rung>/<chunk:05>.a<attempt>.mp4` | encode | one encoded chunk |
//! | `renditions/<rung>.a<attempt>.mp4` | assemble | the assembled rendition |
//! | `validation/<rung>.a<attempt>.json` | validate | the full `ValidationReport` (for report.json) |
//! | `audio/a<N>[-stereo].a<attempt>.mp4` | audio | one audio rendition encoded whole (its name, then the attempt) |
//! | `subtitles/s<N>.a<attempt>.vtt` | subtitles | one text subtitle track as WebVTT (its name, then the attempt) |
//! | `package/a<attempt>.json` | package | the `PackageResult` with output-relative paths (for report.json) |
//! | `analysis/<codec>/<chunk:05>/<w>x<h>.q<setting>.json` | analyze | one scored trial's `TrialOutcome`, kept for a retry |
//!
//! An upload appears complete or not at all (object stores publish an object when its upload
//! finishes; the local store renames a staged file), so a key that exists is a whole artifact.

use std::path::Path;

use shotfarm_proto::pipeline::Artifact;
use shotfarm_proto::storage::StorageUrl;

use super::{TaskError, task_errors};
use crate::storage::{MediaStore, ObjectKey};

/// The work area of one job.
#[derive(Debug, Clone)]
pub struct WorkArea {
    store: MediaStore,
}

impl WorkArea {
    pub fn open(work_url: &str) -> Result<Self, TaskError> {
        refuse_symlinked_folders(work_url)?;
        let store = MediaStore::open(work_url).map_err(|error| task_errors::storage("opening the job's work area", error))?;
        Ok(Self { store })
    }

    pub fn store(&self) -> &MediaStore {
        &self.store
    }

    pub fn url(&self) -> &str {
        self.store.url()
    }

    pub fn inspection_key(attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("inspection/a{attempt}.json"))
    }

    pub fn segment_key(index: u32, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("inspection/segments/{index:05}.a{attempt}.json"))
    }

    pub fn chunk_key(rung: &str, chunk: u32, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("chunks/{rung}/{chunk:05}.a{attempt}.mp4"))
    }

    pub fn rendition_key(rung: &str, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("renditions/{rung}.a{attempt}.mp4"))
    }

    pub fn validation_key(rung: &str, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("validation/{rung}.a{attempt}.json"))
    }

    /// An audio rendition named `audio/a<N>` or `audio/a<N>-stereo` (packaging's folder for it).
    pub fn audio_key(rendition: &str, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("{rendition}.a{attempt}.mp4"))
    }

    /// A subtitle rendition named `subtitles/s<N>` (packaging's folder for it).
    pub fn subtitles_key(rendition: &str, attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("{rendition}.a{attempt}.vtt"))
    }

    pub fn package_facts_key(attempt: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("package/a{attempt}.json"))
    }

    /// Where the trials of one chunk and codec are kept: any attempt's are as good as another's
    /// (a trial is the same encode and score whoever runs it), so the key names no attempt.
    pub fn trials_prefix(codec: &str, chunk: u32) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("analysis/{codec}/{chunk:05}"))
    }

    /// One scored trial, under [`WorkArea::trials_prefix`].
    pub fn trial_key(codec: &str, chunk: u32, width: u32, height: u32, setting: f64) -> Result<ObjectKey, TaskError> {
        parse_key(&format!("{}/{width}x{height}.q{setting}.json", Self::trials_prefix(codec, chunk)?))
    }

    /// The keys under `prefix` that exist.
    pub async fn keys_under(&self, prefix: &ObjectKey) -> Result<Vec<String>, TaskError> {
        let objects = self.store.list(Some(prefix)).await.map_err(|error| task_errors::storage(&format!("listing {prefix} in the work area"), error))?;
        Ok(objects.into_iter().map(|object| object.key).collect())
    }

    /// Uploads `local` as `key`; the artifact to put in the task's output.
    pub async fn upload(&self, local: &Path, key: &ObjectKey) -> Result<Artifact, TaskError> {
        let bytes = self
            .store
            .put_from_file(local, key)
            .await
            .map_err(|error| task_errors::storage(&format!("uploading {key} to the work area"), error))?;
        Ok(Artifact { key: key.to_string(), bytes })
    }

    /// Downloads an artifact another task reported (its key as the scheduler passed it on).
    pub async fn download(&self, artifact: &Artifact, local: &Path) -> Result<u64, TaskError> {
        let key = ObjectKey::parse(&artifact.key).map_err(|error| task_errors::key("the artifact key in the task spec", error))?;
        self.download_key(&key, local).await
    }

    pub async fn download_key(&self, key: &ObjectKey, local: &Path) -> Result<u64, TaskError> {
        self.store
            .get_to_file(key, local)
            .await
            .map_err(|error| task_errors::storage(&format!("downloading {key} from the work area"), error))
    }

    /// Writes `value` as JSON under `key` (through a scratch file, so it streams like the rest).
    pub async fn put_json<T: serde::Serialize>(&self, value: &T, key: &ObjectKey, scratch_dir: &Path) -> Result<Artifact, TaskError> {
        let json = serde_json::to_vec(value).map_err(|error| TaskError::retryable(format!("encoding {key}: {error}")))?;
        let local = scratch_dir.join(key.as_str().replace('/', "__"));
        write_local(&local, &json).await?;
        let artifact = self.upload(&local, key).await;
        let _ = tokio::fs::remove_file(&local).await;
        artifact
    }

    /// Reads the JSON object `key` (through a scratch file).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &ObjectKey, scratch_dir: &Path) -> Result<T, TaskError> {
        let local = scratch_dir.join(key.as_str().replace('/', "__"));
        self.download_key(key, &local).await?;
        let bytes = tokio::fs::read(&local).await.map_err(|error| task_errors::local_io("reading", &local, error))?;
        let _ = tokio::fs::remove_file(&local).await;
        serde_json::from_slice(&bytes).map_err(|error| TaskError::final_error(format!("{key} in the work area is not what this agent expects: {error}")))
    }

    /// The attempts of `<prefix>/<stem>.a<attempt>.<extension>` objects that exist, highest first.
    pub async fn attempts_of(&self, prefix: &str, stem: &str, extension: &str) -> Result<Vec<u32>, TaskError> {
        let keys = self.keys_under(&parse_key(prefix)?).await?;
        let mut attempts: Vec<u32> = keys
            .iter()
            .filter_map(|key| {
                let name = key.strip_prefix(prefix)?.strip_prefix('/')?;
                let rest = name.strip_prefix(stem)?.strip_prefix(".a").or_else(|| if stem.is_empty() { name.strip_prefix('a') } else { None })?;
                rest.strip_suffix(extension)?.strip_suffix('.')?.parse().ok()
            })
            .collect();
        attempts.sort_unstable_by(|a, b| b.cmp(a));
        Ok(attempts)
    }
}

/// The work area's own folders (`.shotfarm-work` and the job's) must not be symlinks: one
/// planted there would lead every artifact written, and the report's removal of the work area,
/// somewhere else. (The output location above them is checked by `super::output_location`.)
fn refuse_symlinked_folders(work_url: &str) -> Result<(), TaskError> {
    // A URL that does not parse is refused when the store is opened.
    let Some(path) = StorageUrl::parse(work_url).ok().and_then(|url| url.local_path()) else { return Ok(()) };
    for folder in [path.parent(), Some(path.as_path())].into_iter().flatten() {
        if std::fs::symlink_metadata(folder).is_ok_and(|meta| meta.file_type().is_symlink()) {
            return Err(TaskError::final_error(format!(
                "the job's work area goes through the symlink {}; artifacts are never written through symlinks: remove it and resubmit",
                folder.display()
            )));
        }
    }
    Ok(())
}

fn parse_key(key: &str) -> Result<ObjectKey, TaskError> {
    ObjectKey::parse(key).map_err(|error| task_errors::key("building a work area key", error))
}

/// Writes a small local file (creating its directory).
pub async fn write_local(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|error| task_errors::local_io("creating", parent, error))?;
    }
    tokio::fs::write(path, bytes).await.map_err(|error| task_errors::local_io("writing", path, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_attempt() {
        assert_eq!(WorkArea::chunk_key("h264_720p", 3, 2).unwrap().as_str(), "chunks/h264_720p/00003.a2.mp4");
        assert_eq!(WorkArea::rendition_key("h264_720p", 1).unwrap().as_str(), "renditions/h264_720p.a1.mp4");
        assert_eq!(WorkArea::inspection_key(4).unwrap().as_str(), "inspection/a4.json");
        assert!(WorkArea::chunk_key("..", 0, 1).is_err());
    }

    #[test]
    fn a_symlinked_work_area_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("out/.shotfarm-work")).unwrap();
        let error = WorkArea::open(&format!("file://{}/out/.shotfarm-work/job-1-5", dir.path().display())).unwrap_err();
        assert!(error.is_final() && error.to_string().contains("symlink"), "{error}");
        assert!(!dir.path().join("elsewhere/job-1-5").exists(), "nothing created through the symlink");
        WorkArea::open(&format!("file://{}/out/.shotfarm-work-real/job-1-5", dir.path().display())).unwrap();
    }

    #[tokio::test]
    async fn attempts_are_listed_highest_first() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let area = WorkArea::open(&url).unwrap();
        for (key, body) in [("inspection/a1.json", "{}"), ("inspection/a3.json", "{}"), ("inspection/a2.json.partial", "x"), ("validation/h264_240p.a2.json", "{}")] {
            let path = dir.path().join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        assert_eq!(area.attempts_of("inspection", "", "json").await.unwrap(), vec![3, 1]);
        assert_eq!(area.attempts_of("validation", "h264_240p", "json").await.unwrap(), vec![2]);
        assert_eq!(area.attempts_of("validation", "h264_480p", "json").await.unwrap(), Vec::<u32>::new());
    }
}
