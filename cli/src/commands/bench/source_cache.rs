//! Synthesized bench sources, made once and kept: a 10-minute 1080p source takes minutes
//! to synthesize, so `bench pipeline` (and `bench ladder`'s corpus) keeps each under
//! `$XDG_CACHE_HOME/shotfarm/bench-sources` (or `~/.cache/…`), named by what makes it (size,
//! length, the recipe's version). A source is written under a temporary name and renamed, so a
//! killed bench leaves no half file.

use std::future::Future;
use std::path::{Path, PathBuf};

use crate::commands::dev::synthesize_sample;
use crate::exit::CommandError;

/// Changes whenever `synthesize_sample` makes different pictures, so old files are not reused.
const RECIPE_VERSION: u32 = 1;

/// Where cached sources live; `None` without a home or cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()).map(PathBuf::from).or_else(|| std::env::var_os("HOME").filter(|dir| !dir.is_empty()).map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("shotfarm").join("bench-sources"))
}

/// The file name of the source of these parameters.
pub fn source_name((width, height): (u32, u32), seconds: u32) -> String {
    format!("sample-{width}x{height}-{seconds}s-r{RECIPE_VERSION}.mp4")
}

/// The cached source of these parameters, synthesized into `dir` first if it is not there.
pub async fn cached_source(dir: &Path, size: (u32, u32), seconds: u32) -> Result<PathBuf, CommandError> {
    cached_file(dir, &source_name(size, seconds), |partial| async move { synthesize_sample(&partial, size, seconds).await }).await
}

/// `dir/name`, made first by `make` (given the temporary path to write) if it is not there.
pub async fn cached_file<Made>(dir: &Path, name: &str, make: impl FnOnce(PathBuf) -> Made) -> Result<PathBuf, CommandError>
where
    Made: Future<Output = Result<(), CommandError>>,
{
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|error| CommandError::from(anyhow::anyhow!("cannot create the bench-source cache {}: {error}", dir.display())))?;
    let partial = dir.join(format!("{name}.partial-{}.mp4", std::process::id()));
    make(partial.clone()).await?;
    std::fs::rename(&partial, &path).map_err(|error| CommandError::from(anyhow::anyhow!("cannot move {} into place: {error}", partial.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let first = runtime.block_on(cached_source(dir.path(), (160, 90), 3)).unwrap();
        assert_eq!(first.file_name().and_then(|name| name.to_str()), Some("sample-160x90-3s-r1.mp4"));
        let made = std::fs::metadata(&first).unwrap().modified().unwrap();
        let again = runtime.block_on(cached_source(dir.path(), (160, 90), 3)).unwrap();
        assert_eq!((again.clone(), std::fs::metadata(&again).unwrap().modified().unwrap()), (first, made), "the cached file is reused, not rewritten");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no partial file is left");
    }
}
