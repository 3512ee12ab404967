//! The CPU of one child process, read when it exits and before it is reaped, so that
//! whoever owns its handle (tokio's or std's `Child`) still reaps it and gets its status.
//!
//! `waitid(P_PID, pid, WEXITED | WNOWAIT)` with the kernel's fifth argument, a `rusage`,
//! gives the user + system CPU of that child and of the children it reaped (`RUSAGE_BOTH`
//! of that process alone). `getrusage(RUSAGE_CHILDREN)` cannot serve: it sums every child
//! of the process, of every task running at the same time, and only once they are reaped.

use super::ledger::CpuLedger;

/// Blocks until child `pid` has exited (without reaping it) and adds its CPU to the calling
/// thread's current ledger, if the thread works for one. A child that is not ours, or is
/// already reaped, charges nothing.
pub fn charge_exited_child(pid: u32) {
    let Some(ledger) = CpuLedger::current() else { return };
    if let Some(micros) = exited_child_cpu_micros(pid) {
        ledger.add_micros(micros);
    }
}

/// Blocks until child `pid` has exited, leaves it unreaped, and returns its user + system
/// CPU in microseconds; `None` when `pid` is no waitable child of this process.
pub fn exited_child_cpu_micros(pid: u32) -> Option<u64> {
    let pid = libc::id_t::try_from(pid).ok()?;
    loop {
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: the raw waitid syscall writes one `siginfo_t` and one `rusage` into the
        // pointers it is given (both zero-initialised, properly sized) and nothing else;
        // WNOWAIT leaves the child waitable, so its owner's handle still reaps it.
        let status = unsafe {
            libc::syscall(libc::SYS_waitid, libc::P_PID, pid, info.as_mut_ptr(), libc::WEXITED | libc::WNOWAIT, usage.as_mut_ptr())
        };
        if status == 0 {
            // SAFETY: zero-initialised and, on success, filled by the kernel.
            let usage = unsafe { usage.assume_init() };
            let micros = |time: libc::timeval| (time.tv_sec.max(0) as u64).saturating_mul(1_000_000).saturating_add(time.tv_usec.max(0) as u64);
            return Some(micros(usage.ru_utime).saturating_add(micros(usage.ru_stime)));
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_child_is_charged_and_still_reaped_by_its_owner() {
        let mut child = std::process::Command::new("sh").args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 3"]).spawn().unwrap();
        let ledger = CpuLedger::new();
        {
            let _charge = ledger.enter();
            charge_exited_child(child.id());
        }
        let charged = ledger.total_micros();
        assert!(charged > 10_000, "the shell loop used CPU: {charged} µs");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "the owner still reaps the child and sees its status");
        assert_eq!(exited_child_cpu_micros(child.id()), None, "a reaped child is no longer waitable");
    }

    #[test]
    fn a_sleeping_child_costs_little_and_no_ledger_means_no_charge() {
        let mut child = std::process::Command::new("sleep").arg("0.2").spawn().unwrap();
        let used = exited_child_cpu_micros(child.id()).unwrap();
        assert!(used < 100_000, "{used} µs for a sleep");
        charge_exited_child(child.id());
        child.wait().unwrap();
    }
}
