//! [`StorageRoots`] (and [`JobRoots`], both sides): the URL roots one side of a job (its input or its output) may name, as an
//! operator configured them (`--allow-input`, `--allow-output`, comma-separated).
//!
//! No roots configured means nothing is allowed: every job is refused with a message naming
//! the flag to pass. A farm that reads and writes anywhere must say so (`--allow-input
//! file:///`), it is never the default.

use std::fmt;

use super::storage_url::{StorageUrl, UrlError};

/// Which side of a job a set of roots guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootSide {
    Input,
    Output,
}

impl RootSide {
    /// `input` or `output`.
    pub fn as_str(self) -> &'static str {
        match self {
            RootSide::Input => "input",
            RootSide::Output => "output",
        }
    }

    /// The flag that configures this side: `--allow-input` or `--allow-output`.
    pub fn flag(self) -> &'static str {
        match self {
            RootSide::Input => "--allow-input",
            RootSide::Output => "--allow-output",
        }
    }

    /// The environment variable that configures this side.
    pub fn env_var(self) -> &'static str {
        match self {
            RootSide::Input => "SHOTFARM_ALLOW_INPUT",
            RootSide::Output => "SHOTFARM_ALLOW_OUTPUT",
        }
    }
}

impl fmt::Display for RootSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a URL (or a configured root) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    #[error("{side} {url:?} {reason}")]
    Malformed { side: RootSide, url: String, reason: UrlError },
    #[error("{side} {url} is refused: no {side} roots are configured; ask an operator to allow a root with {flag} (or {env})", flag = side.flag(), env = side.env_var())]
    NoRoots { side: RootSide, url: String },
    #[error("{side} {url} is outside the allowed {side} roots {roots}; ask an operator to add a root with {flag}", flag = side.flag())]
    Outside { side: RootSide, url: String, roots: String },
    #[error("{flag} root {root:?} {reason}", flag = side.flag())]
    BadRoot { side: RootSide, root: String, reason: UrlError },
}

/// The allowed roots of one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRoots {
    side: RootSide,
    roots: Vec<StorageUrl>,
}

impl StorageRoots {
    /// No roots: everything on this side is refused.
    pub fn none(side: RootSide) -> StorageRoots {
        StorageRoots { side, roots: Vec::new() }
    }

    /// `file:///media/in,s3://bucket/in` (blank entries skipped; each root normalised).
    pub fn parse(side: RootSide, list: &str) -> Result<StorageRoots, RootError> {
        let mut roots: Vec<StorageUrl> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let root = StorageUrl::parse(entry).map_err(|reason| RootError::BadRoot { side, root: entry.to_owned(), reason })?;
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        Ok(StorageRoots { side, roots })
    }

    pub fn side(&self) -> RootSide {
        self.side
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    pub fn roots(&self) -> &[StorageUrl] {
        &self.roots
    }

    /// Normalises `url` and checks it lies within one of the roots.
    pub fn check(&self, url: &str) -> Result<StorageUrl, RootError> {
        let side = self.side;
        let normalised = StorageUrl::parse(url).map_err(|reason| RootError::Malformed { side, url: url.to_owned(), reason })?;
        self.check_normalised(&normalised)?;
        Ok(normalised)
    }

    /// The root `url` lies within (the first, when roots nest).
    pub fn root_of(&self, url: &StorageUrl) -> Option<&StorageUrl> {
        self.roots.iter().find(|root| url.is_within(root))
    }

    fn check_normalised(&self, url: &StorageUrl) -> Result<(), RootError> {
        if self.roots.is_empty() {
            return Err(RootError::NoRoots { side: self.side, url: url.to_string() });
        }
        if self.root_of(url).is_none() {
            return Err(RootError::Outside { side: self.side, url: url.to_string(), roots: self.to_string() });
        }
        Ok(())
    }
}

/// Both sides: where jobs may read (`--allow-input`) and write (`--allow-output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRoots {
    pub input: StorageRoots,
    pub output: StorageRoots,
}

impl JobRoots {
    /// The two comma-separated lists as configured (`None`: no roots on that side).
    pub fn parse(input: Option<&str>, output: Option<&str>) -> Result<JobRoots, RootError> {
        Ok(JobRoots {
            input: StorageRoots::parse(RootSide::Input, input.unwrap_or_default())?,
            output: StorageRoots::parse(RootSide::Output, output.unwrap_or_default())?,
        })
    }

    /// Logs a warning for each side with no roots: every job will be refused.
    pub fn warn_if_empty(&self) {
        for roots in [&self.input, &self.output] {
            if roots.is_empty() {
                let side = roots.side();
                tracing::warn!(flag = side.flag(), "no {side} roots are configured: every job will be refused; pass {} (or {})", side.flag(), side.env_var());
            }
        }
    }
}

impl fmt::Display for StorageRoots {
    /// The roots, comma-separated (as `--allow-input` takes them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, root) in self.roots.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(root.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_within_a_root_pass_normalised() {
        let roots = StorageRoots::parse(RootSide::Input, "file:///media/in/, s3://bucket/in,,file:///media/in").unwrap();
        assert_eq!(roots.to_string(), "file:///media/in,s3://bucket/in");
        assert_eq!(roots.check("file:///media//in/./a.mp4").unwrap().as_str(), "file:///media/in/a.mp4");
        assert_eq!(roots.check("s3://bucket/in/x/y.mov").unwrap().as_str(), "s3://bucket/in/x/y.mov");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let roots = StorageRoots::parse(RootSide::Input, "file:///media/in").unwrap();
        let outside = roots.check("file:///etc/shadow").unwrap_err();
        assert_eq!(
            outside.to_string(),
            "input file:///etc/shadow is outside the allowed input roots file:///media/in; ask an operator to add a root with --allow-input"
        );
        assert!(matches!(roots.check("file:///media/input/a.mp4"), Err(RootError::Outside { .. })));
        assert!(matches!(roots.check("s3://media/in/a.mp4"), Err(RootError::Outside { .. })));
        let escape = roots.check("file:///media/in/%2e%2e/secret").unwrap_err();
        assert_eq!(escape.to_string(), "input \"file:///media/in/%2e%2e/secret\" has a '..' segment (after decoding); name the path without climbing out of a directory");
        let none = StorageRoots::none(RootSide::Output).check("file:///out").unwrap_err();
        assert_eq!(
            none.to_string(),
            "output file:///out is refused: no output roots are configured; ask an operator to allow a root with --allow-output (or SHOTFARM_ALLOW_OUTPUT)"
        );
        let bad_root = StorageRoots::parse(RootSide::Output, "file:///ok,ftp://x").unwrap_err();
        assert!(bad_root.to_string().starts_with("--allow-output root \"ftp://x\" has an unsupported scheme"), "{bad_root}");
    }

    #[test]
    fn the_filesystem_root_allows_every_local_path() {
        let roots = StorageRoots::parse(RootSide::Output, "file:///").unwrap();
        assert!(roots.check("file:///anywhere/at/all").is_ok());
        assert!(roots.check("s3://bucket/x").is_err());
    }
}
