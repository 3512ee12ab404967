//! `shotfarm bench vmaf --libvmaf PATH`: Netflix's `vmaf` tool and `shotfarm vmaf`, head to
//! head on the same .y4m pair, as whole processes.
//!
//! At each thread count the two commands run alternately (libvmaf first, then ours, `runs`
//! times), so that the load of a shared machine falls on both alike; the medians of their
//! wall times give frames/s, and the pooled VMAF of both runs' JSON must agree. The
//! medians of their CPU seconds (user + system, `getrusage` of the reaped child) are
//! reported too: on a machine shared with other work they move less than wall time.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use shotfarm_kernels::simd::SimdLevel;

use super::cpu_time::CpuTime;
use super::statistics::median;

/// Largest difference of the pooled scores accepted as agreement (the yardstick's per-frame
/// tolerance; the integer features are bit-exact, the model runs in `f64` on both sides).
const SCORE_TOLERANCE: f64 = 1e-4;

/// What to race: the two clips, how many frames they hold, and our SIMD level.
pub struct HeadToHead<'a> {
    pub libvmaf: &'a Path,
    pub reference: &'a Path,
    pub distorted: &'a Path,
    pub runs: u32,
    pub simd: Option<SimdLevel>,
    pub scratch: &'a Path,
}

/// One thread count's result.
#[derive(Debug, Clone, Copy)]
pub struct Race {
    pub threads: usize,
    pub libvmaf_seconds: f64,
    pub ours_seconds: f64,
    pub libvmaf_cpu_seconds: f64,
    pub ours_cpu_seconds: f64,
    pub libvmaf_score: f64,
    pub ours_score: f64,
}

impl Race {
    pub fn libvmaf_fps(&self, frames: u32) -> f64 {
        f64::from(frames) / self.libvmaf_seconds
    }

    pub fn ours_fps(&self, frames: u32) -> f64 {
        f64::from(frames) / self.ours_seconds
    }

    /// Our frames/s over libvmaf's (above 1 = faster than libvmaf).
    pub fn speed_ratio(&self) -> f64 {
        self.libvmaf_seconds / self.ours_seconds
    }

    /// libvmaf's CPU seconds over ours (above 1 = we use less CPU for the same frames).
    pub fn cpu_ratio(&self) -> f64 {
        self.libvmaf_cpu_seconds / self.ours_cpu_seconds
    }

    pub fn scores_agree(&self) -> bool {
        (self.libvmaf_score - self.ours_score).abs() <= SCORE_TOLERANCE
    }

    pub fn to_json(self, frames: u32) -> Value {
        json!({
            "threads": self.threads,
            "libvmaf_seconds": self.libvmaf_seconds,
            "ours_seconds": self.ours_seconds,
            "libvmaf_fps": self.libvmaf_fps(frames),
            "ours_fps": self.ours_fps(frames),
            "ours_over_libvmaf": self.speed_ratio(),
            "libvmaf_cpu_seconds": self.libvmaf_cpu_seconds,
            "ours_cpu_seconds": self.ours_cpu_seconds,
            "libvmaf_over_ours_cpu": self.cpu_ratio(),
            "libvmaf_pooled_vmaf": self.libvmaf_score,
            "ours_pooled_vmaf": self.ours_score,
            "scores_agree": self.scores_agree(),
        })
    }
}

impl HeadToHead<'_> {
    /// Checks that the `vmaf` tool starts, before anything is timed.
    pub fn check_tool(&self) -> anyhow::Result<()> {
        let out = Command::new(self.libvmaf).arg("--version").output().with_context(|| {
            format!("cannot run the libvmaf tool {}: build it with kernels/scripts/build-libvmaf.sh PREFIX", self.libvmaf.display())
        })?;
        if !out.status.success() {
            bail!("`{} --version` ended with {}: is it libvmaf's `vmaf` tool?", self.libvmaf.display(), out.status);
        }
        Ok(())
    }

    /// Alternating runs at `threads` threads; the medians and the last runs' pooled scores.
    pub fn race(&self, threads: usize) -> anyhow::Result<Race> {
        let libvmaf_json = self.scratch.join(format!("libvmaf-{threads}.json"));
        let ours_json = self.scratch.join(format!("ours-{threads}.json"));
        let (mut libvmaf, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..self.runs {
            libvmaf.push(timed(self.libvmaf_command(threads, &libvmaf_json))?);
            ours.push(timed(self.ours_command(threads, &ours_json)?)?);
        }
        let medians = |runs: &[(f64, f64)]| (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()));
        let ((libvmaf_seconds, libvmaf_cpu_seconds), (ours_seconds, ours_cpu_seconds)) = (medians(&libvmaf), medians(&ours));
        Ok(Race {
            threads,
            libvmaf_seconds,
            ours_seconds,
            libvmaf_cpu_seconds,
            ours_cpu_seconds,
            libvmaf_score: pooled_vmaf(&libvmaf_json)?,
            ours_score: pooled_vmaf(&ours_json)?,
        })
    }

    fn libvmaf_command(&self, threads: usize, json: &Path) -> Command {
        let mut cmd = Command::new(self.libvmaf);
        cmd.arg("-r").arg(self.reference).arg("-d").arg(self.distorted);
        cmd.args(["--model", "version=vmaf_v0.6.1", "--threads", &threads.to_string(), "--json", "--quiet", "-o"]).arg(json);
        cmd
    }

    fn ours_command(&self, threads: usize, json: &Path) -> anyhow::Result<Command> {
        let exe = std::env::current_exe().context("cannot find this shotfarm executable to time `shotfarm vmaf`")?;
        let mut cmd = Command::new(exe);
        cmd.arg("vmaf").arg("-r").arg(self.reference).arg("-d").arg(self.distorted);
        cmd.args(["--backend", "cpu", "--threads", &threads.to_string(), "--json"]).arg(json);
        if let Some(level) = self.simd {
            cmd.args(["--simd", level.name()]);
        }
        Ok(cmd)
    }
}

/// Runs `cmd` to its end, its output captured; its wall time and its CPU time in seconds.
fn timed(mut cmd: Command) -> anyhow::Result<(f64, f64)> {
    let shown = format!("{cmd:?}");
    let (start, cpu) = (Instant::now(), CpuTime::now());
    let out = cmd.output().with_context(|| format!("cannot start {shown}"))?;
    let seconds = (start.elapsed().as_secs_f64(), CpuTime::now().since(cpu).children);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        bail!("{shown} ended with {}: {}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    Ok(seconds)
}

/// `pooled_metrics.vmaf.mean` of a JSON report in libvmaf's layout (both tools write it).
pub fn pooled_vmaf(path: &Path) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    value["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .ok_or_else(|| anyhow!("{} has no pooled_metrics.vmaf.mean", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_vmaf_reads_libvmafs_layout_and_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(&good, r#"{"frames": [], "pooled_metrics": {"vmaf": {"min": 1.0, "mean": 94.866936}}}"#).unwrap();
        assert_eq!(pooled_vmaf(&good).unwrap(), 94.866936);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"pooled_metrics": {}}"#).unwrap();
        assert!(pooled_vmaf(&bad).unwrap_err().to_string().contains("pooled_metrics.vmaf.mean"));
    }

    #[test]
    fn the_ratio_is_ours_over_libvmafs_frames_per_second() {
        let race = Race {
            threads: 1,
            libvmaf_seconds: 6.0,
            ours_seconds: 4.0,
            libvmaf_cpu_seconds: 5.0,
            ours_cpu_seconds: 4.0,
            libvmaf_score: 90.0,
            ours_score: 90.00005,
        };
        assert_eq!(race.speed_ratio(), 1.5);
        assert_eq!(race.cpu_ratio(), 1.25);
        assert_eq!(race.ours_fps(240), 60.0);
        assert!(race.scores_agree());
        assert!(!Race { ours_score: 90.001, ..race }.scores_agree());
    }
}
