//! Milliseconds per frame of each VMAF stage (VIF, ADM, motion) on one thread, for
//! profiling the CPU path: `cargo bench -p shotfarm-kernels --bench vmaf_stages -- REF.y4m
//! DIS.y4m [FRAMES [LEVEL]]`
//! (LEVEL: `avx2` or `scalar`, default both). Both clips must share a format; `shotfarm bench vmaf` makes a pair
//! (1080p testsrc2 and its x264 CRF 28 encode). Each stage runs over all loaded frames
//! three times; the fastest pass is printed, for the detected SIMD level and scalar.

use std::path::Path;
use std::hint::black_box;
use std::time::Instant;

use shotfarm_kernels::decode::frame_source::FrameSource;
use shotfarm_kernels::decode::y4m::Y4mReader;
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::{Frame, adm, motion, vif};

fn load(path: &Path, frames: usize) -> Result<Vec<Frame>, Box<dyn std::error::Error>> {
    let mut reader = Y4mReader::open(path)?;
    let mut out = Vec::new();
    while out.len() < frames {
        match reader.next_frame()? {
            Some(f) => out.push(f),
            None => break,
        }
    }
    Ok(out)
}

/// Fastest of three passes of `stage` over every pair, in ms per pair.
fn ms_per_frame(pairs: &[(&Frame, &Frame)], mut stage: impl FnMut(&Frame, &Frame)) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for (r, d) in pairs {
                stage(r, d);
            }
            start.elapsed().as_secs_f64() * 1000.0 / pairs.len() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [reference, distorted, rest @ ..] = &args[..] else {
        eprintln!("usage: vmaf_stages REF.y4m DIS.y4m [FRAMES [avx2|scalar]]");
        return Ok(());
    };
    let frames = rest.first().map_or(Ok(30), |f| f.parse())?;
    let only = rest.get(1);
    let (reference, distorted) = (load(Path::new(reference), frames)?, load(Path::new(distorted), frames)?);
    let pairs: Vec<(&Frame, &Frame)> = reference.iter().zip(&distorted).collect();
    println!("{} frame pairs", pairs.len());
    for simd in SimdLevel::available().into_iter().rev().filter(|s| only.is_none_or(|o| o == s.name())) {
        let mut vif_scratch = vif::VifScratch::default();
        let mut adm_scratch = adm::AdmScratch::default();
        let mut motion_scratch = motion::MotionScratch::default();
        let vif_ms = ms_per_frame(&pairs, |r, d| match (r, d) {
            (Frame::Eight(r), Frame::Eight(d)) => {
                black_box(vif::vif(r.luma(), d.luma(), 8, simd, &mut vif_scratch));
            }
            (Frame::High(r), Frame::High(d)) => {
                black_box(vif::vif(r.luma(), d.luma(), r.bit_depth(), simd, &mut vif_scratch));
            }
            _ => {}
        });
        let adm_ms = ms_per_frame(&pairs, |r, d| match (r, d) {
            (Frame::Eight(r), Frame::Eight(d)) => {
                black_box(adm::adm_at(r.luma(), d.luma(), 8, simd, &mut adm_scratch));
            }
            (Frame::High(r), Frame::High(d)) => {
                black_box(adm::adm_at(r.luma(), d.luma(), r.bit_depth(), simd, &mut adm_scratch));
            }
            _ => {}
        });
        // Motion picks its level itself (detected); it blurs both reference lumas.
        let motion_ms = ms_per_frame(&pairs, |r, d| match (r, d) {
            (Frame::Eight(r), Frame::Eight(_)) => {
                black_box(motion::blurred_difference_sad(r.luma(), r.luma(), 8, &mut motion_scratch));
            }
            (Frame::High(r), Frame::High(_)) => {
                black_box(motion::blurred_difference_sad(r.luma(), r.luma(), r.bit_depth(), &mut motion_scratch));
            }
            _ => {}
        });
        println!("{:>6}: vif {vif_ms:6.2} ms  adm {adm_ms:6.2} ms  motion {motion_ms:5.2} ms  (per frame, 1 thread)", simd.name());
    }
    Ok(())
}
