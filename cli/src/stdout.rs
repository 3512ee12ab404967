//! What the subcommands print: [`outln!`] writes a line to stdout, and a closed stdout
//! (`shotfarm jobs | head -1`) ends the process quietly, killed by SIGPIPE as Unix tools are,
//! instead of `println!`'s panic. SIGPIPE itself stays ignored, as Rust sets it: a scheduler
//! that closes a TLS connection mid-write (refusing a client certificate, say) or a child
//! process that dies while its pipe is written must be errors the process handles, not its
//! end.

use std::io::Write as _;

/// `println!` that ends the process quietly on a closed stdout.
macro_rules! outln {
    () => { $crate::stdout::write_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::stdout::write_line(format_args!($($arg)*)) };
}

pub(crate) use outln;

pub fn write_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            end_by_sigpipe();
        }
        // Anything else (a full disk under a redirect): say so once, then stop.
        eprintln!("error: cannot write to stdout: {err}");
        std::process::exit(1);
    }
}

/// Ends the process as the default SIGPIPE action would.
fn end_by_sigpipe() -> ! {
    // SAFETY: restores the default disposition of one signal and raises it in this thread; no
    // handler runs Rust code, and the default action ends the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}
