//! A ledger of CPU microseconds shared by everything that works for one unit of work, and
//! the thread's current ledger: code deep in a call (a child process reaped by a frame
//! source, a thread a kernel starts) charges whatever ledger the thread works for, without
//! every signature carrying it.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::thread_clock::thread_cpu_micros;

/// CPU microseconds charged so far; clones share the total.
#[derive(Debug, Clone, Default)]
pub struct CpuLedger(Arc<AtomicU64>);

thread_local! {
    static CURRENT: RefCell<Option<CpuLedger>> = const { RefCell::new(None) };
}

impl CpuLedger {
    pub fn new() -> CpuLedger {
        CpuLedger::default()
    }

    /// The ledger this thread works for now, if any.
    pub fn current() -> Option<CpuLedger> {
        CURRENT.with(|current| current.borrow().clone())
    }

    pub fn add_micros(&self, micros: u64) {
        self.0.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn total_micros(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Makes this the thread's current ledger until the guard drops, and charges it the
    /// thread's CPU in between. Entering the ledger the thread already works for charges
    /// nothing more (the outer guard counts that time).
    pub fn enter(&self) -> ThreadCharge {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        let nested = previous.as_ref().is_some_and(|previous| Arc::ptr_eq(&previous.0, &self.0));
        ThreadCharge { ledger: self.clone(), started: (!nested).then(thread_cpu_micros), previous }
    }
}

/// While alive, the thread works for `ledger`; see [`CpuLedger::enter`].
#[derive(Debug)]
pub struct ThreadCharge {
    ledger: CpuLedger,
    started: Option<u64>,
    previous: Option<CpuLedger>,
}

impl Drop for ThreadCharge {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            self.ledger.add_micros(thread_cpu_micros().saturating_sub(started));
        }
        let previous = self.previous.take();
        CURRENT.with(|current| current.replace(previous));
    }
}

/// `work`, made to run for the calling thread's current ledger on whatever thread runs it
/// (a blocking pool's, a scoped thread): that thread's CPU is charged there too.
pub fn charged<T>(work: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let ledger = CpuLedger::current();
    move || {
        let _charge = ledger.as_ref().map(CpuLedger::enter);
        work()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_account::thread_clock::spin_for_thread_cpu_micros;

    #[test]
    fn threads_started_with_charged_work_count_and_others_do_not() {
        let ledger = CpuLedger::new();
        let charge = ledger.enter();
        spin_for_thread_cpu_micros(20_000);
        let helper = std::thread::spawn(charged(|| spin_for_thread_cpu_micros(30_000)));
        let stranger = std::thread::spawn(|| spin_for_thread_cpu_micros(200_000));
        helper.join().unwrap();
        stranger.join().unwrap();
        drop(charge);
        let total = ledger.total_micros();
        assert!((50_000..200_000).contains(&total), "{total} µs: this thread's 20 ms and the helper's 30 ms, not the stranger's 200 ms");
        assert!(CpuLedger::current().is_none(), "the thread works for no ledger after the guard");
    }

    #[test]
    fn entering_the_same_ledger_twice_counts_once_and_restores_the_outer_one() {
        let (outer, inner) = (CpuLedger::new(), CpuLedger::new());
        let outer_charge = outer.enter();
        {
            let _again = outer.enter();
            spin_for_thread_cpu_micros(20_000);
        }
        {
            let _other = inner.enter();
            spin_for_thread_cpu_micros(10_000);
        }
        assert!(Arc::ptr_eq(&CpuLedger::current().unwrap().0, &outer.0));
        drop(outer_charge);
        let total = outer.total_micros();
        assert!((30_000..60_000).contains(&total), "{total} µs counted once, the inner ledger's share included");
        assert!(inner.total_micros() >= 10_000);
    }
}
