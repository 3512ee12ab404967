//! `shotfarm vmaf`: VMAF (vmaf_v0.6.1) of a distorted clip against its reference,
//! optionally with PSNR and SSIM, printed as a one-line summary and written as JSON in
//! libvmaf's layout.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use shotfarm_kernels::backend::BackendError;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::{BackendRequest, FeatureSelection, VmafError, VmafOptions, VmafReport};

use crate::exit::{CommandError, CommandResult};
use crate::stdout::outln;

/// Extra metrics besides VMAF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtraFeature {
    /// PSNR of Y, Cb and Cr (libvmaf's `psnr`).
    Psnr,
    /// SSIM of the luma (libvmaf's `float_ssim`).
    #[value(alias = "float_ssim")]
    Ssim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Auto,
    Cpu,
    Cuda,
}

#[derive(Debug, clap::Args)]
pub struct VmafArgs {
    /// The reference clip (.y4m, or anything ffmpeg decodes).
    #[arg(long, short = 'r')]
    pub reference: PathBuf,
    /// The distorted clip; scaled to the reference's size (bicubic) if it differs.
    #[arg(long, short = 'd')]
    pub distorted: PathBuf,
    /// Write per-frame and pooled metrics as JSON here (`-` for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where to compute: auto (CUDA if available, else CPU), cpu, or cuda.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Also compute this metric (repeatable).
    #[arg(long = "feature", value_enum)]
    pub features: Vec<ExtraFeature>,
    /// Vector instructions of the CPU kernels: scalar, avx2 or avx512 (default: the best this
    /// CPU has). Every level gives the same scores; this is for tests and benchmarks.
    #[arg(long, value_enum)]
    pub simd: Option<SimdArg>,
    /// Score every n-th frame only, as libvmaf's `--subsample` (motion still reads every
    /// frame, so each scored frame gets the VMAF a full run gives it).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub subsample: u64,
}

/// A SIMD level the CPU kernels may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimdArg {
    Scalar,
    Avx2,
    Avx512,
}

impl SimdArg {
    pub fn level(self) -> SimdLevel {
        match self {
            SimdArg::Scalar => SimdLevel::Scalar,
            SimdArg::Avx2 => SimdLevel::Avx2,
            SimdArg::Avx512 => SimdLevel::Avx512,
        }
    }

    /// The level, refused with a usage error when this CPU lacks it.
    pub fn checked_level(self) -> Result<SimdLevel, CommandError> {
        let (level, hardware) = (self.level(), SimdLevel::hardware());
        if level > hardware {
            return Err(CommandError::usage(anyhow!(
                "--simd {}: this CPU supports {} at most; pick a lower level or leave --simd out",
                level.name(),
                hardware.name()
            )));
        }
        Ok(level)
    }
}

fn check_readable(path: &Path, what: &str) -> Result<(), CommandError> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| CommandError::usage(anyhow!("cannot read the {what} {}: {e}", path.display())))
}

pub fn run(args: VmafArgs) -> CommandResult {
    check_readable(&args.reference, "reference")?;
    check_readable(&args.distorted, "distorted clip")?;
    let options = VmafOptions {
        threads: args.threads,
        features: FeatureSelection {
            psnr: args.features.contains(&ExtraFeature::Psnr),
            ssim: args.features.contains(&ExtraFeature::Ssim),
        },
        backend: match args.backend {
            BackendArg::Auto => BackendRequest::Auto,
            BackendArg::Cpu => BackendRequest::Cpu,
            BackendArg::Cuda => BackendRequest::Cuda,
        },
        simd: args.simd.map(SimdArg::checked_level).transpose()?,
        subsample: args.subsample,
        ..VmafOptions::default()
    };
    let report = shotfarm_kernels::vmaf_files(&FfmpegPrograms::from_env(), &args.reference, &args.distorted, &options).map_err(|e| match e {
        VmafError::Backend(BackendError::CudaUnavailable { .. }) => CommandError::usage(e),
        other => CommandError::from(anyhow::Error::new(other)),
    })?;
    let summary = summary_line(&report, options.threads);
    match args.json.as_deref() {
        Some(p) if p == Path::new("-") => {
            outln!("{:#}", report.to_json());
            eprintln!("{summary}");
        }
        Some(p) => {
            let text = serde_json::to_string_pretty(&report.to_json()).context("serialising the report")?;
            std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
            outln!("{summary}");
        }
        None => outln!("{summary}"),
    }
    Ok(())
}

/// `VMAF 93.12 (harmonic 93.01, min 90.10, max 95.20) over 60 frames; PSNR-Y …; [cpu/avx2, 58.1 frames/s]`
fn summary_line(report: &VmafReport, threads: usize) -> String {
    let mut line = match report.pooled_vmaf() {
        Some(p) => format!(
            "VMAF {:.6} (harmonic mean {:.6}, min {:.6}, max {:.6}) over {} frames",
            p.mean,
            p.harmonic_mean,
            p.min,
            p.max,
            report.frames.len()
        ),
        None => "no frames".to_string(),
    };
    for (name, label) in [("psnr_y", "PSNR-Y"), ("psnr_cb", "PSNR-Cb"), ("psnr_cr", "PSNR-Cr"), ("float_ssim", "SSIM")] {
        if let Some(p) = report.pooled(name) {
            line.push_str(&format!("; {label} {:.6}", p.mean));
        }
    }
    let threads = if threads == 0 { "all cores".to_string() } else { format!("{threads} threads") };
    line.push_str(&format!(" [{}, {threads}, {:.1} frames/s]", report.backend, report.fps));
    line
}
