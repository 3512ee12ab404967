//! `shotfarm vmaf --simd` and `shotfarm bench vmaf`'s refusals, on the real binary: each
//! SIMD level this CPU has gives the same JSON scores as the scalar reference on a small
//! ffmpeg-made pair (a level it lacks is refused with exit 2), and a missing libvmaf tool
//! is a clear exit 2.

use std::process::Command;

use shotfarm_cluster_tests::cluster::shotfarm_binary;
use shotfarm_cluster_tests::media::run_tool;

fn run(args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let output = Command::new(shotfarm_binary()?).args(args).output()?;
    Ok((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned()))
}

#[test]
fn every_simd_level_scores_a_pair_as_the_scalar_reference_does() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (reference, encoded, distorted) = (path("ref.y4m"), path("dist.mp4"), path("dist.y4m"));
    let ffmpeg = |args: &[&str]| -> anyhow::Result<()> {
        let full: Vec<String> = ["-hide_banner", "-loglevel", "error", "-y"].iter().chain(args).map(|a| a.to_string()).collect();
        tokio::runtime::Runtime::new()?.block_on(run_tool("ffmpeg", &full)).map(drop)
    };
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=97x61:rate=10", "-frames:v", "4", "-pix_fmt", "yuv420p", &reference])?;
    ffmpeg(&["-i", &reference, "-c:v", "libx264", "-crf", "35", &encoded])?;
    ffmpeg(&["-i", &encoded, "-pix_fmt", "yuv420p", &distorted])?;
    // The scores of one level; `None` where this CPU lacks it (refused with exit 2).
    let scores = |level: &str| -> anyhow::Result<Option<serde_json::Value>> {
        let json = path(&format!("{level}.json"));
        let (code, _, stderr) = run(&["vmaf", "-r", &reference, "-d", &distorted, "--backend", "cpu", "--simd", level, "--json", &json])?;
        if code == 2 && stderr.contains(&format!("--simd {level}: this CPU supports")) {
            return Ok(None);
        }
        anyhow::ensure!(code == 0, "vmaf --simd {level} exited {code}: {stderr}");
        let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        // Only the scores: frames/s and the backend's description name the level.
        if let Some(object) = value.as_object_mut() {
            object.retain(|key, _| key == "frames" || key == "pooled_metrics");
        }
        Ok(Some(value))
    };
    let scalar = scores("scalar")?.ok_or_else(|| anyhow::anyhow!("--simd scalar was refused"))?;
    assert!(scalar["pooled_metrics"]["vmaf"]["mean"].as_f64().is_some(), "no pooled VMAF: {scalar}");
    for level in ["avx2", "avx512"] {
        if let Some(value) = scores(level)? {
            assert_eq!(value, scalar, "--simd {level} differs from --simd scalar");
        }
    }
    Ok(())
}

#[test]
fn bench_vmaf_without_a_libvmaf_tool_says_how_to_build_one() -> anyhow::Result<()> {
    let (code, _, stderr) = run(&["bench", "vmaf", "--libvmaf", "/nonexistent/vmaf", "--frames", "2", "--runs", "1"])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot run the libvmaf tool /nonexistent/vmaf") && stderr.contains("build-libvmaf.sh"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    Ok(())
}
