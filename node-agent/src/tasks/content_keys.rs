//! The content keys of a job that asked for encryption: its key file read from under the
//! input roots (like the source: symlinks refused, `s3://` through the object store) into
//! memory, and the scratch copy removed at once. Keys are never logged; errors name the file,
//! never its contents.

use shotfarm_proto::encryption::EncryptionOptions;
use shotfarm_proto::storage::Scheme;

use super::job_cache::{copy_local_source, download_source};
use super::{TaskContext, TaskError};
use crate::media::package::encryption::ContentProtection;
use crate::media::package::encryption::keys::{MAX_KEY_FILE_BYTES, parse_key_file};

/// Reads the key file `options` names; the protection the packager applies.
pub async fn read_protection(options: &EncryptionOptions, ctx: &TaskContext) -> Result<ContentProtection, TaskError> {
    let url = ctx.roots.input.check(&options.key_url).map_err(|error| TaskError::final_error(format!("the key file: {error}")))?;
    let file_name = url.segments().last().cloned().ok_or_else(|| TaskError::final_error(format!("the key file {url} names no file")))?;
    let scratch = ctx.scratch_dir.join("keys");
    tokio::fs::create_dir_all(&scratch).await.map_err(|error| TaskError::retryable(format!("creating {}: {error}", scratch.display())))?;
    let local = scratch.join("content-keys.json");
    let copied = match (url.scheme(), ctx.roots.input.root_of(&url).cloned()) {
        (Scheme::File, Some(root)) => copy_local_source(&url, &root, local.clone()).await,
        _ => download_source(&url, file_name, &local).await,
    };
    let bytes = copied.and_then(|size| {
        if size > MAX_KEY_FILE_BYTES as u64 {
            return Err(TaskError::final_error(format!("the key file {url} is {size} bytes; a key file is at most {MAX_KEY_FILE_BYTES}")));
        }
        std::fs::read(&local).map_err(|error| TaskError::retryable(format!("reading the key file's copy: {error}")))
    });
    let _ = std::fs::remove_file(&local);
    let keys = parse_key_file(&bytes?).map_err(|why| TaskError::final_error(format!("the key file {url}: {why}")))?;
    Ok(ContentProtection { scheme: options.scheme, keys, clear_lead_seconds: options.clear_lead_seconds })
}
