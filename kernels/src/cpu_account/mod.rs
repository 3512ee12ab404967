//! CPU time charged to one unit of work (an agent's task attempt) while other units run
//! beside it in the same process: the threads that work for it add their own CPU clock, and
//! the child processes it waits for add their `rusage`, into one [`CpuLedger`].
//!
//! | module | what |
//! | --- | --- |
//! | [`ledger`] | the shared total, the thread's current ledger, and charging a thread's CPU to it |
//! | [`thread_clock`] | this thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`) |
//! | [`child_usage`] | an exited child's user + system CPU, read before it is reaped (`waitid` with `WNOWAIT`) |
//!
//! Counted: every thread while it runs inside [`CpuLedger::enter`] (the agent polls a task's
//! future so, and wraps the blocking closures and kernel threads it starts with
//! [`charged`]), and every child process waited for through [`charge_exited_child`] (the
//! agent's ffmpeg/ffprobe runs and the kernels' decoder pipes) with the CPU of the children
//! it reaped itself. Not counted: threads started without [`charged`] (stderr readers,
//! tokio's own I/O and `tokio::fs` threads), children run with `Command::output` (the
//! decoder's short ffprobe), and the agent's gRPC session, journal and runtime.

pub mod child_usage;
pub mod ledger;
pub mod thread_clock;

pub use child_usage::charge_exited_child;
pub use ledger::{CpuLedger, charged};
