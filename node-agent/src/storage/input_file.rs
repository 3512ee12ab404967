//! Opening a job's input on the local filesystem without being led outside its root, into a
//! FIFO or a device, and without creating anything.
//!
//! The root (an operator's `--allow-input` directory) is opened first; the path below it is
//! resolved by the kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (Linux 5.6+):
//! symlinks that stay inside the root are followed, any step that would leave it (`..`, an
//! absolute or escaping symlink, a `/proc` magic link) fails with `EXDEV`/`ELOOP`, and a race
//! that swaps a directory for a symlink mid-walk cannot win. The file is first opened
//! `O_PATH` (no open of the object itself: a FIFO does not block, a device is not touched)
//! and its type checked with `fstat`; only a regular file is then opened for reading
//! (`O_NONBLOCK`, so a file swapped for a FIFO in between cannot block either), and both opens
//! must name the same inode.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why an input could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    #[error("input root {root} cannot be opened: {source}; ask an operator to check --allow-input")]
    Root { root: PathBuf, source: io::Error },
    #[error("input {path} does not exist; check the job's input url")]
    NotFound { path: PathBuf },
    #[error("input {path} leads outside its root {root} (a symlink or '..' that escapes it); give the real path of a file inside the root")]
    Escapes { path: PathBuf, root: PathBuf },
    #[error("input {path} is a {kind}, not a regular file; give the path of a video file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("input {path} changed while it was being opened; resubmit once it is stable")]
    Changed { path: PathBuf },
    #[error("input {path} cannot be read: permission denied; make it readable by the agent")]
    PermissionDenied { path: PathBuf },
    #[error("this kernel has no openat2 (Linux 5.6 or later), which the agent needs to open inputs beneath their root")]
    NoOpenat2,
    #[error("opening input {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl InputFileError {
    /// Whether another attempt could succeed (a passing I/O error); the rest is the job's own.
    pub fn is_retryable(&self) -> bool {
        matches!(self, InputFileError::Io { .. } | InputFileError::Root { .. } | InputFileError::NoOpenat2)
    }
}

/// Opens `root/relative` for reading, if it is a regular file beneath `root`; see the module docs.
pub fn open_regular_beneath(root: &Path, relative: &[String]) -> Result<File, InputFileError> {
    let path = relative.iter().fold(root.to_path_buf(), |path, segment| path.join(segment));
    if relative.is_empty() || relative.iter().any(|segment| segment.is_empty() || segment == "." || segment == ".." || segment.contains(['/', '\0'])) {
        return Err(InputFileError::NotRegular { path, kind: "directory" });
    }
    let root_dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)
        .map_err(|source| InputFileError::Root { root: root.to_owned(), source })?;
    let below = std::ffi::CString::new(relative.join("/").as_bytes()).map_err(|_| InputFileError::NotRegular { path: path.clone(), kind: "name with NUL" })?;
    let classify = |error: io::Error| match error.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => InputFileError::NotFound { path: path.clone() },
        Some(libc::EXDEV) | Some(libc::ELOOP) => InputFileError::Escapes { path: path.clone(), root: root.to_owned() },
        Some(libc::EACCES) | Some(libc::EPERM) => InputFileError::PermissionDenied { path: path.clone() },
        Some(libc::ENOSYS) => InputFileError::NoOpenat2,
        _ => InputFileError::Io { path: path.clone(), source: error },
    };
    let located = openat2_beneath(&root_dir, &below, libc::O_PATH | libc::O_CLOEXEC).map_err(classify)?;
    let first = fstat(&located).map_err(|source| InputFileError::Io { path: path.clone(), source })?;
    check_regular(&path, &first)?;
    let opened = openat2_beneath(&root_dir, &below, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC).map_err(classify)?;
    let second = fstat(&opened).map_err(|source| InputFileError::Io { path: path.clone(), source })?;
    check_regular(&path, &second)?;
    if (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino) {
        return Err(InputFileError::Changed { path });
    }
    Ok(File::from(opened))
}

fn check_regular(path: &Path, stat: &libc::stat) -> Result<(), InputFileError> {
    let kind = match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => return Ok(()),
        libc::S_IFIFO => "fifo",
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        libc::S_IFDIR => "directory",
        libc::S_IFSOCK => "socket",
        libc::S_IFLNK => "symlink",
        _ => "special file",
    };
    Err(InputFileError::NotRegular { path: path.to_owned(), kind })
}

fn openat2_beneath(dir: &File, path: &std::ffi::CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `open_how` is three integers; all-zero is its documented "no options" value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `dir` is an open directory, `path` a NUL-terminated string and `how` a valid
    // `open_how` whose size is passed with it; the kernel reads them and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), path.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("openat2 returned an fd out of range"))?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: `stat` is plain integers; fstat fills it in completely on success.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open (an O_PATH fd is accepted by fstat since Linux 3.6) and `stat` is
    // valid for writes.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn regular_files_beneath_the_root_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/clip.mp4"), b"video").unwrap();
        std::os::unix::fs::symlink("b/clip.mp4", root.join("a/inside")).unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut open_regular_beneath(&root, &segments("a/b/clip.mp4")).unwrap(), &mut text).unwrap();
        assert_eq!(text, "video");
        assert!(open_regular_beneath(&root, &segments("a/inside")).is_ok(), "a symlink that stays inside is followed");
    }

    #[test]
    fn escapes_and_special_files_are_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("absolute")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("relative")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("folder")).unwrap();
        let fifo = std::ffi::CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        for escape in ["absolute", "relative", "folder/secret.txt"] {
            let error = open_regular_beneath(&root, &segments(escape)).unwrap_err();
            assert!(matches!(error, InputFileError::Escapes { .. }), "{escape}: {error}");
            assert!(!error.is_retryable());
        }
        let started = std::time::Instant::now();
        let error = open_regular_beneath(&root, &segments("fifo")).unwrap_err();
        assert!(matches!(error, InputFileError::NotRegular { kind: "fifo", .. }), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "a fifo must not block");
        assert!(matches!(open_regular_beneath(&root, &segments("sub")), Err(InputFileError::NotRegular { kind: "directory", .. })));
        assert!(matches!(open_regular_beneath(Path::new("/dev"), &segments("null")), Err(InputFileError::NotRegular { kind: "character device", .. })));
        let deep: Vec<String> = (0..50).map(|index| format!("d{index}")).chain(["clip.mp4".to_owned()]).collect();
        assert!(matches!(open_regular_beneath(&root, &deep), Err(InputFileError::NotFound { .. })));
        assert!(!root.join("d0").exists(), "nothing is created on the input side");
        assert!(matches!(open_regular_beneath(&dir.path().join("missing-root"), &segments("x")), Err(InputFileError::Root { .. })));
        assert!(!dir.path().join("missing-root").exists());
    }
}
