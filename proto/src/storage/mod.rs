//! Where jobs may read and write: storage URLs normalised one way for every process, and the
//! roots an operator allows. The scheduler checks a job's URLs when it is submitted and every
//! agent checks them again before it touches a file, with the same code.
//!
//! | module | what |
//! | --- | --- |
//! | [`storage_url`] | [`StorageUrl`]: a `file://` or `s3://` URL percent-decoded once, `.` and empty segments dropped, anything that could climb out (`..` in any spelling, backslashes, NUL, double encoding) refused |
//! | [`storage_roots`] | [`StorageRoots`]: the allowed roots of one side (input or output) and the check of a URL against them; [`JobRoots`]: both sides |

pub mod storage_roots;
pub mod storage_url;

pub use storage_roots::{JobRoots, RootError, RootSide, StorageRoots};
pub use storage_url::{Scheme, StorageUrl, UrlError};
