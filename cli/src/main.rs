//! `shotfarm`: the one binary of the farm.
//!
//! `main` only parses flags, installs tracing and hands over to one module per
//! subcommand under [`commands`]; failures become exit codes in [`exit`].

mod commands;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "shotfarm", version, about = "A GPU-accelerated, Raft-replicated video encoding farm")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// VMAF (and PSNR/SSIM) of a distorted clip against its reference.
    Vmaf(commands::vmaf::VmafArgs),
    /// Micro-benchmarks.
    Bench(commands::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version on stdout with exit 0, and usage errors with exit 2.
            let _ = err.print();
            return if err.use_stderr() { exit::ExitKind::Usage.code() } else { ExitCode::SUCCESS };
        }
    };
    install_tracing();
    let outcome = match cli.command {
        Command::Vmaf(args) => commands::vmaf::run(args),
        Command::Bench(args) => commands::bench::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.kind.code()
        }
    }
}

/// Logs go to stderr so that `--json` output on stdout stays machine-readable.
fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHOTFARM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
