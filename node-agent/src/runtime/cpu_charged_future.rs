//! A task attempt's future, polled so that the CPU its polls use — on whichever runtime
//! thread runs each one — is charged to the attempt's [`CpuLedger`], and so that anything
//! it starts while polled (a blocking closure wrapped in `charged`, an ffmpeg child it waits
//! for) finds that ledger as the thread's current one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use shotfarm_kernels::cpu_account::CpuLedger;

pub struct CpuChargedFuture<F> {
    inner: Pin<Box<F>>,
    ledger: CpuLedger,
}

impl<F: Future> CpuChargedFuture<F> {
    pub fn new(inner: F, ledger: CpuLedger) -> CpuChargedFuture<F> {
        CpuChargedFuture { inner: Box::pin(inner), ledger }
    }
}

impl<F: Future> Future for CpuChargedFuture<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _charge = this.ledger.enter();
        this.inner.as_mut().poll(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::process::{DiscardStdout, Tool, ToolCommand, run_tool};
    use shotfarm_kernels::cpu_account::charged;
    use shotfarm_kernels::cpu_account::thread_clock::spin_for_thread_cpu_micros;
    use tokio_util::sync::CancellationToken;

    /// CPU of this test process's reaped children, in microseconds (the test runs alone in
    /// its process under nextest, so only its own ffmpeg).
    fn reaped_children_micros() -> u64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) }, 0);
        // SAFETY: filled by getrusage.
        let usage = unsafe { usage.assume_init() };
        let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
        micros(usage.ru_utime) + micros(usage.ru_stime)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polls_blocking_work_and_ffmpeg_children_are_charged_and_a_neighbour_task_is_not() {
        let ledger = CpuLedger::new();
        let neighbour = tokio::spawn(async { spin_for_thread_cpu_micros(300_000) });
        let children_before = reaped_children_micros();
        CpuChargedFuture::new(
            async {
                spin_for_thread_cpu_micros(20_000);
                tokio::task::yield_now().await;
                spin_for_thread_cpu_micros(20_000);
                tokio::task::spawn_blocking(charged(|| spin_for_thread_cpu_micros(30_000))).await.unwrap();
                let ffmpeg = ToolCommand::new(Tool::Ffmpeg)
                    .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=2", "-f", "null", "-"]);
                run_tool(&ffmpeg, &CancellationToken::new(), &mut DiscardStdout, &mut |_| {}).await.unwrap();
            },
            ledger.clone(),
        )
        .await;
        let ffmpeg = reaped_children_micros() - children_before;
        neighbour.await.unwrap();
        let total = ledger.total_micros();
        let expected = 70_000 + ffmpeg;
        assert!(ffmpeg > 0, "ffmpeg used CPU");
        assert!(total >= expected, "{total} µs charged; the polls' 40 ms, the blocking closure's 30 ms and ffmpeg's {ffmpeg} µs expected");
        assert!(total < expected + 100_000, "{total} µs charged, {expected} expected: the neighbour's 300 ms must not count");
    }
}
