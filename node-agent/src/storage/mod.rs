//! Where media lives: an object store addressed by URL.
//!
//! | module | what it does |
//! | --- | --- |
//! | [`object_key`] | validated relative keys: no `..`, no absolute paths, no empty segments, no percent-encoding, no control characters |
//! | [`input_file`] | a job's local input opened beneath its root (`openat2 RESOLVE_BENEATH`), regular files only, nothing created |
//! | [`media_store`] | [`MediaStore`]: open from `file://` or `s3://` (feature `s3`), stream objects to and from local files, list, exists |
//!
//! `s3://` needs the agent's `s3` cargo feature (object_store's `aws`, which builds aws-lc-rs
//! with cmake); without it an `s3://` URL is refused with a message saying so.

pub mod input_file;
pub mod media_store;
pub mod object_key;

pub use media_store::{MediaStore, StoreError};
pub use object_key::{KeyError, ObjectKey};
