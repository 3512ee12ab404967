//! [`HostBuffer`]: the host emulation's device memory. The elements end where an
//! inaccessible page begins, so a kernel that reads or writes past a buffer's end faults
//! at once (the test dies with SIGSEGV) rather than reading a neighbour's data; the
//! kernels write through the elements' address while the device holds `&self`.

use std::ffi::c_void;

use shotfarm_kernels::cuda::CudaError;
use shotfarm_kernels::cuda::device::Element;

/// `len` elements of `T` right before a guard page, in a mapping of their own.
pub struct HostBuffer<T> {
    mapping: *mut c_void,
    mapping_bytes: usize,
    elements: *mut T,
    len: usize,
}

fn page_bytes() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096)
}

impl<T: Element> HostBuffer<T> {
    /// A buffer holding `values` (at least one element, like cudarc's allocations: a
    /// buffer of none holds one zero).
    pub fn new(values: &[T]) -> Result<Self, CudaError> {
        let len = values.len().max(1);
        let page = page_bytes();
        let bytes = len * size_of::<T>();
        let data_pages = bytes.div_ceil(page);
        let mapping_bytes = (data_pages + 1) * page;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let mapping = unsafe {
            libc::mmap(std::ptr::null_mut(), mapping_bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if mapping == libc::MAP_FAILED {
            return Err(CudaError(format!("host buffer of {bytes} bytes: mmap failed: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: `data_pages * page` is inside the mapping; the guard is its last page.
        let guard = unsafe { mapping.cast::<u8>().add(data_pages * page) };
        let buffer = HostBuffer {
            mapping,
            mapping_bytes,
            // `guard` is page-aligned and `bytes` a multiple of size_of::<T>(), which for
            // the integer elements is also their alignment.
            // SAFETY: `bytes` ≤ data_pages · page, so this stays inside the mapping.
            elements: unsafe { guard.sub(bytes) }.cast::<T>(),
            len,
        };
        // SAFETY: the guard page belongs to the mapping, which nothing else uses.
        if unsafe { libc::mprotect(guard.cast::<c_void>(), page, libc::PROT_NONE) } != 0 {
            return Err(CudaError(format!("host buffer guard page: mprotect failed: {}", std::io::Error::last_os_error())));
        }
        for i in 0..len {
            // SAFETY: i < len elements of the mapping, which is readable and writable.
            unsafe { buffer.elements.add(i).write(values.get(i).copied().unwrap_or_default()) };
        }
        Ok(buffer)
    }

    /// A copy of the elements.
    ///
    /// # Safety
    /// No kernel may be writing the buffer (launches on the host are over when they return).
    pub unsafe fn read(&self) -> Vec<T> {
        // SAFETY: `len` initialised elements; the caller rules out concurrent writes.
        unsafe { std::slice::from_raw_parts(self.elements, self.len) }.to_vec()
    }

    /// The address kernels see.
    pub fn address(&self) -> u64 {
        self.elements as u64
    }
}

impl<T> Drop for HostBuffer<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this size and is unmapped once.
        unsafe { libc::munmap(self.mapping, self.mapping_bytes) };
    }
}
