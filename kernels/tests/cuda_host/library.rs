//! The host libraries: every `kernels/cuda/*.cu` compiled with g++ into a shared library
//! of its own (as NVRTC makes one module per `.cu`), `cuda_host.h` and `launcher.cpp`
//! around it, registering the kernels [`Kernel::ALL`] says the file defines (and likewise
//! the launcher's own checks, `emulator_checks.cu`); loaded with libloading. Libraries
//! are kept under the cargo target's temporary folder, named by a hash of everything that
//! goes into them, so an unchanged source is compiled once.

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use libloading::Library;
use shotfarm_kernels::cuda::{CudaError, Kernel};
use shotfarm_kernels::cuda::device::LaunchShape;

/// `g++` flags: C++17; IEEE doubles rounded like the GPU's with `--fmad=false`; no
/// `_FORTIFY_SOURCE` (some distributions' default), whose checked longjmp refuses the
/// launcher's jumps between fiber stacks; UBSan, aborting at the first undefined
/// behaviour (signed overflow, shifts out of range, indexes past a fixed-size array such
/// as a shared one), which NVRTC's optimiser may exploit differently from g++'s.
const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-shared",
    "-ffp-contract=off",
    "-fno-fast-math",
    "-fvisibility=hidden",
    "-U_FORTIFY_SOURCE",
    "-fsanitize=undefined",
    "-fno-sanitize-recover=undefined",
];

/// Why there are no host libraries.
#[derive(Debug, Clone)]
pub enum BuildError {
    /// `g++` is not installed: the tests skip (or fail with `REQUIRE_HOST_CUDA=1`).
    NoCompiler,
    /// A source does not compile, or a library does not load: always a failure.
    Failed(String),
}

type LaunchFn = unsafe extern "C" fn(*const c_char, u32, u32, u32, u32, u32, u32, *mut *mut c_void) -> i32;
type KernelCountFn = unsafe extern "C" fn() -> u32;
type KernelSymbolFn = unsafe extern "C" fn(u32) -> *const c_char;

/// One `.cu` source, loaded.
struct SourceLibrary {
    file: String,
    launch: LaunchFn,
    kernel_count: KernelCountFn,
    kernel_symbol: KernelSymbolFn,
    /// Keeps the three functions above mapped.
    _library: Library,
}

/// `.cu` sources compiled for the host and loaded, one library each.
pub struct HostLibraries {
    sources: Vec<SourceLibrary>,
}

/// The libraries of `kernels/cuda/*.cu`, built on first use by whichever test asks first.
pub fn host_libraries() -> Result<&'static HostLibraries, BuildError> {
    static LIBRARIES: OnceLock<Result<HostLibraries, BuildError>> = OnceLock::new();
    LIBRARIES.get_or_init(HostLibraries::build_cuda_sources).as_ref().map_err(Clone::clone)
}

/// The library of `emulator_checks.cu` beside this file: kernels that check the launcher
/// itself (barriers, coordinates, refused launches), not Shotfarm's.
pub fn emulator_check_libraries() -> Result<&'static HostLibraries, BuildError> {
    static LIBRARIES: OnceLock<Result<HostLibraries, BuildError>> = OnceLock::new();
    LIBRARIES
        .get_or_init(|| {
            let symbols = ["reverse_through_shared", "sum_of_live_threads", "coordinates", "divergent_barrier"].map(String::from);
            HostLibraries::build(&[(host_dir().join(EMULATOR_CHECKS), symbols.to_vec())])
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The file of [`emulator_check_libraries`].
pub const EMULATOR_CHECKS: &str = "emulator_checks.cu";

/// This folder: `cuda_host.h`, `launcher.cpp`, `emulator_checks.cu`.
fn host_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cuda_host")
}

/// The folder of the `.cu` sources.
pub fn cuda_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cuda")
}

/// Every `.cu` file name in [`cuda_source_dir`], sorted.
pub fn cuda_source_files() -> Result<Vec<String>, BuildError> {
    let dir = cuda_source_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| BuildError::Failed(format!("cannot list {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| BuildError::Failed(format!("cannot list {}: {e}", dir.display())))?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".cu") {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

/// What `shotfarm_host_launch` returned (`LaunchStatus` in launcher.cpp), as a result.
fn launch_status(status: i32, file: &str, symbol: &str) -> Result<(), CudaError> {
    let why = match status {
        0 => return Ok(()),
        1 => "unknown kernel",
        2 => "threads of one block waited at different __syncthreads()",
        3 => "bad launch shape (a block of 0 or more than 1024 threads, or an empty grid)",
        4 => "out of memory for the fibers' stacks",
        _ => "unknown launch status",
    };
    Err(CudaError(format!("host launch of {symbol} ({file}): {why} (status {status})")))
}

impl HostLibraries {
    /// Every `.cu` of [`cuda_source_dir`] with the kernels [`Kernel::ALL`] puts in it.
    fn build_cuda_sources() -> Result<HostLibraries, BuildError> {
        let files = cuda_source_files()?;
        for kernel in Kernel::ALL {
            if !files.iter().any(|f| f == kernel.source()) {
                return Err(BuildError::Failed(format!(
                    "kernel {} names source {}, which is not in {}",
                    kernel.symbol(),
                    kernel.source(),
                    cuda_source_dir().display()
                )));
            }
        }
        let sources: Vec<(PathBuf, Vec<String>)> = files
            .iter()
            .map(|file| {
                let symbols = Kernel::ALL.iter().filter(|k| k.source() == file).map(|k| k.symbol().to_string()).collect();
                (cuda_source_dir().join(file), symbols)
            })
            .collect();
        HostLibraries::build(&sources)
    }

    /// One library per `(source, kernel symbols it registers)`.
    fn build(sources: &[(PathBuf, Vec<String>)]) -> Result<HostLibraries, BuildError> {
        match Command::new("g++").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BuildError::NoCompiler),
            Err(e) => return Err(BuildError::Failed(format!("cannot run g++: {e}"))),
            Ok(_) => {}
        }
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cuda_host");
        std::fs::create_dir_all(&out_dir).map_err(|e| BuildError::Failed(format!("cannot create {}: {e}", out_dir.display())))?;
        // One test process builds at a time (nextest runs every test in a process of its
        // own); the others then find the libraries. Released when `lock` drops.
        let lock_path = out_dir.join("build.lock");
        let lock = std::fs::File::create(&lock_path).map_err(|e| BuildError::Failed(format!("cannot create {}: {e}", lock_path.display())))?;
        lock.lock().map_err(|e| BuildError::Failed(format!("cannot lock {}: {e}", lock_path.display())))?;
        // Every compiler runs at once; each writes a private file renamed when done, so a
        // build cut short never leaves a library that looks finished.
        let mut builds = Vec::new();
        for (source, symbols) in sources {
            builds.push(start_build(source, symbols, &out_dir)?);
        }
        let mut libraries = Vec::new();
        for build in builds {
            let file = build.file.clone();
            let path = build.finish()?;
            libraries.push(load(file, &path)?);
        }
        Ok(HostLibraries { sources: libraries })
    }

    fn source(&self, file: &str) -> Result<&SourceLibrary, CudaError> {
        self.sources.iter().find(|s| s.file == file).ok_or_else(|| CudaError(format!("no host library for {file}")))
    }

    /// The `.cu` files, in the order they were built.
    pub fn files(&self) -> Vec<&str> {
        self.sources.iter().map(|s| s.file.as_str()).collect()
    }

    /// The kernel symbols the library of `file` registers.
    pub fn registered_symbols(&self, file: &str) -> Result<Vec<String>, CudaError> {
        let source = self.source(file)?;
        // SAFETY: both functions take and return plain values; a symbol is a static
        // NUL-terminated string of the library, which `source` keeps loaded.
        let symbols = unsafe {
            (0..(source.kernel_count)())
                .map(|i| {
                    let symbol = (source.kernel_symbol)(i);
                    assert!(!symbol.is_null(), "{file}: kernel {i} has no symbol");
                    CStr::from_ptr(symbol).to_string_lossy().into_owned()
                })
                .collect()
        };
        Ok(symbols)
    }

    /// Launches `symbol` of the library of `file`.
    ///
    /// # Safety
    /// `params[i]` must point to a value of the kernel's i-th parameter type, and every
    /// pointer among those values must cover what the kernel touches for `shape`.
    pub unsafe fn launch(&self, file: &str, symbol: &str, shape: LaunchShape, params: &mut [*mut c_void]) -> Result<(), CudaError> {
        let source = self.source(file)?;
        let name = CString::new(symbol).map_err(|e| CudaError(format!("kernel symbol {symbol:?}: {e}")))?;
        let ((gx, gy, gz), (bx, by, bz)) = (shape.grid, shape.block);
        // SAFETY: the caller vouches for `params`; the library reads nothing else.
        let status = unsafe { (source.launch)(name.as_ptr(), gx, gy, gz, bx, by, bz, params.as_mut_ptr()) };
        launch_status(status, file, symbol)
    }
}

/// A g++ process compiling one `.cu`, or the library it already made.
struct Build {
    file: String,
    path: PathBuf,
    compiling: Option<(Child, PathBuf, String)>,
}

/// Starts compiling `source`, registering `symbols`, into `out_dir` unless a library of
/// the same inputs is there.
fn start_build(source: &Path, symbols: &[String], out_dir: &Path) -> Result<Build, BuildError> {
    let host_dir = host_dir();
    let file = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let registrations: String = symbols.iter().map(|s| format!("KERNEL({s}) ")).collect();
    let args: Vec<String> = CXX_FLAGS
        .iter()
        .map(|f| f.to_string())
        .chain([
            format!("-I{}", host_dir.display()),
            format!("-DSHOTFARM_CU_SOURCE=\"{}\"", source.display()),
            format!("-DSHOTFARM_KERNELS(KERNEL)={}", registrations.trim_end()),
            host_dir.join("launcher.cpp").display().to_string(),
        ])
        .collect();
    let mut fingerprint = args.join("\n");
    for input in [source.to_path_buf(), host_dir.join("cuda_host.h"), host_dir.join("launcher.cpp")] {
        let text = std::fs::read_to_string(&input).map_err(|e| BuildError::Failed(format!("cannot read {}: {e}", input.display())))?;
        fingerprint.push_str(&text);
    }
    let stem = file.trim_end_matches(".cu");
    let path = out_dir.join(format!("{stem}-{:016x}.so", fnv1a(fingerprint.as_bytes())));
    if path.exists() {
        return Ok(Build { file, path, compiling: None });
    }
    let partial = out_dir.join(format!("{stem}.{}.so.partial", std::process::id()));
    let command_line = format!("g++ {} -o {}", args.join(" "), partial.display());
    let child = Command::new("g++")
        .args(&args)
        .arg("-o")
        .arg(&partial)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::Failed(format!("cannot start `{command_line}`: {e}")))?;
    Ok(Build { file, path, compiling: Some((child, partial, command_line)) })
}

impl Build {
    /// Waits for the compiler; the library's path, or the command line and its output.
    fn finish(self) -> Result<PathBuf, BuildError> {
        let Some((child, partial, command_line)) = self.compiling else {
            return Ok(self.path);
        };
        let output = child.wait_with_output().map_err(|e| BuildError::Failed(format!("`{command_line}`: {e}")))?;
        if !output.status.success() {
            return Err(BuildError::Failed(format!(
                "`{command_line}` failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        std::fs::rename(&partial, &self.path)
            .map_err(|e| BuildError::Failed(format!("cannot move {} to {}: {e}", partial.display(), self.path.display())))?;
        Ok(self.path)
    }
}

/// Loads the library of `file` built by [`start_build`].
fn load(file: String, path: &Path) -> Result<SourceLibrary, BuildError> {
    let failed = |e: libloading::Error| BuildError::Failed(format!("{}: {e}", path.display()));
    // SAFETY: the library is launcher.cpp and one .cu, built just now or by an earlier run
    // from the same inputs; loading it runs only the C++ runtime's static initialisers.
    let library = unsafe { Library::new(path) }.map_err(failed)?;
    // SAFETY: the types are those of the `extern "C"` definitions in launcher.cpp.
    let (launch, kernel_count, kernel_symbol) = unsafe {
        (
            *library.get::<LaunchFn>(b"shotfarm_host_launch\0").map_err(failed)?,
            *library.get::<KernelCountFn>(b"shotfarm_host_kernel_count\0").map_err(failed)?,
            *library.get::<KernelSymbolFn>(b"shotfarm_host_kernel_symbol\0").map_err(failed)?,
        )
    };
    Ok(SourceLibrary { file, launch, kernel_count, kernel_symbol, _library: library })
}

/// 64-bit FNV-1a: names a library by its inputs (stable across runs and toolchains).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
