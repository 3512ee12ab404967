//! The CPU time the calling thread has used, from `CLOCK_THREAD_CPUTIME_ID`.

/// Microseconds of CPU (user + system) this thread has used; 0 where the clock is missing.
pub fn thread_cpu_micros() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one `timespec` into the pointer it is given and nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return 0;
    }
    (now.tv_sec.max(0) as u64).saturating_mul(1_000_000).saturating_add(now.tv_nsec.max(0) as u64 / 1000)
}

/// Keeps this thread busy until it has used `micros` more of CPU: a known amount of work,
/// for the tests of whatever counts CPU (here and in the agent).
pub fn spin_for_thread_cpu_micros(micros: u64) {
    let before = thread_cpu_micros();
    let mut spin = 0u64;
    while thread_cpu_micros().saturating_sub(before) < micros {
        spin = spin.wrapping_add(std::hint::black_box(1));
    }
    std::hint::black_box(spin);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_with_this_threads_work_and_not_with_sleep() {
        let before = thread_cpu_micros();
        spin_for_thread_cpu_micros(20_000);
        assert!(thread_cpu_micros() - before >= 20_000);
        let worked = thread_cpu_micros();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(thread_cpu_micros() - worked < 20_000, "sleeping costs no CPU");
    }
}
