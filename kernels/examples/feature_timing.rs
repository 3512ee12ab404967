//! Times each VMAF feature on the first frames of a clip pair, per SIMD level.
//!
//! `cargo run --release -p shotfarm-kernels --example feature_timing -- REF DIST [FRAMES]`

use std::path::PathBuf;
use std::time::Instant;

use shotfarm_kernels::Frame;
use shotfarm_kernels::adm::{AdmScratch, adm_at};
use shotfarm_kernels::motion::{MotionScratch, blurred_difference_sad_at};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::vif::{VifScratch, vif};
use shotfarm_kernels::vmaf::open_source;

/// A stopwatch of this thread's time on a CPU (`/proc/thread-self/schedstat`, Linux), so
/// that other processes on a shared machine do not count; wall time elsewhere.
struct Stopwatch {
    wall: Instant,
    cpu_ns: Option<u64>,
}

impl Stopwatch {
    fn cpu_ns() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    fn start() -> Self {
        Self { wall: Instant::now(), cpu_ns: Self::cpu_ns() }
    }

    /// Seconds since `start`: on-CPU time where the system reports it.
    fn elapsed(&self) -> f64 {
        match (self.cpu_ns, Self::cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 * 1e-9,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(r), Some(d)) = (args.get(1), args.get(2)) else {
        return Err("usage: feature_timing REF DIST [FRAMES]".into());
    };
    let n: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(10);
    let programs = shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms::on_path();
    let mut rs = open_source(&programs, &PathBuf::from(r), None)?;
    let mut ds = open_source(&programs, &PathBuf::from(d), Some(rs.format()))?;
    let mut pairs = Vec::new();
    while pairs.len() < n {
        match (rs.next_frame()?, ds.next_frame()?) {
            (Some(Frame::Eight(a)), Some(Frame::Eight(b))) => pairs.push((a, b)),
            _ => break,
        }
    }
    // `TIMING_LEVEL=avx2` times one level only (for profilers).
    let only = std::env::var("TIMING_LEVEL").ok();
    for level in SimdLevel::available() {
        if only.as_deref().is_some_and(|o| o != level.name()) {
            continue;
        }
        let (mut vs, mut as_, mut ms) = (VifScratch::default(), AdmScratch::default(), MotionScratch::default());
        let t = Stopwatch::start();
        for (a, b) in &pairs {
            std::hint::black_box(vif(a.luma(), b.luma(), 8, level, &mut vs));
        }
        let t_vif = t.elapsed() / pairs.len() as f64;
        let t = Stopwatch::start();
        for (a, b) in &pairs {
            std::hint::black_box(adm_at(a.luma(), b.luma(), 8, level, &mut as_));
        }
        let t_adm = t.elapsed() / pairs.len() as f64;
        let t = Stopwatch::start();
        for w in pairs.windows(2) {
            std::hint::black_box(blurred_difference_sad_at(w[0].0.luma(), w[1].0.luma(), 8, level, &mut ms));
        }
        let t_motion = t.elapsed() / (pairs.len() - 1).max(1) as f64;
        println!(
            "{:<7} vif {:6.2} ms  adm {:6.2} ms  motion {:6.2} ms  total {:6.2} ms/frame",
            level.name(),
            t_vif * 1e3,
            t_adm * 1e3,
            t_motion * 1e3,
            (t_vif + t_adm + t_motion) * 1e3
        );
    }
    Ok(())
}
