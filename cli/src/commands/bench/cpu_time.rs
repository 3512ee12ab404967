//! CPU time used so far by this process and by its children that have exited and been
//! reaped (user plus system, from `getrusage`), so a benchmark can say how much work a run
//! did besides how long it took.

/// Seconds of CPU used by this process (every thread) and by its reaped children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTime {
    pub own: f64,
    pub children: f64,
}

impl CpuTime {
    pub fn now() -> CpuTime {
        CpuTime { own: used(libc::RUSAGE_SELF), children: used(libc::RUSAGE_CHILDREN) }
    }

    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime { own: self.own - earlier.own, children: self.children - earlier.children }
    }

    pub fn total(self) -> f64 {
        self.own + self.children
    }
}

fn used(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given and nothing else.
    let status = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if status != 0 {
        return f64::NAN;
    }
    // SAFETY: zero-initialised and, on success, filled by getrusage.
    let usage = unsafe { usage.assume_init() };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_process_and_a_reaped_child() {
        let before = CpuTime::now();
        // Spin until the clock moves (a loaded machine may give this thread little of the
        // wall time), bounded so a broken clock fails rather than hangs.
        let mut spin = 0u64;
        let started = std::time::Instant::now();
        while CpuTime::now().since(before).own < 0.05 && started.elapsed() < std::time::Duration::from_secs(20) {
            for _ in 0..10_000 {
                spin = spin.wrapping_add(std::hint::black_box(1));
            }
        }
        std::hint::black_box(spin);
        let status = std::process::Command::new("sh").args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"]).status().unwrap();
        assert!(status.success());
        let used = CpuTime::now().since(before);
        assert!(used.own >= 0.05, "{used:?}");
        assert!(used.children > 0.0, "{used:?}");
    }
}
