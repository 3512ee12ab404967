//! `shotfarm vmaf --simd` and `shotfarm bench vmaf`'s refusals, on the real binary: each
//! SIMD level this CPU has gives the same JSON scores as the scalar reference on a small
//! ffmpeg-made pair (a level it lacks is refused with exit 2), and a missing libvmaf tool
//! is a clear exit 2; `bench vmaf` measures a pair of the user's own and refuses a mismatched one.

use std::process::Command;

use shotfarm_cluster_tests::cluster::shotfarm_binary;
use shotfarm_cluster_tests::media::run_tool;

fn run(args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let output = Command::new(shotfarm_binary()?).args(args).output()?;
    Ok((output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned()))
}

fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let full: Vec<String> = ["-hide_banner", "-loglevel", "error", "-y"].iter().chain(args).map(|a| a.to_string()).collect();
    tokio::runtime::Runtime::new()?.block_on(run_tool("ffmpeg", &full)).map(drop)
}

/// A small .y4m pair in `dir`: 4 frames of `testsrc2` at `size` and their x264 CRF 35 encode.
fn small_pair(dir: &std::path::Path, size: &str) -> anyhow::Result<(String, String)> {
    let path = |name: &str| dir.join(format!("{size}-{name}")).to_string_lossy().into_owned();
    let (reference, encoded, distorted) = (path("ref.y4m"), path("dist.mp4"), path("dist.y4m"));
    ffmpeg(&["-f", "lavfi", "-i", &format!("testsrc2=size={size}:rate=10"), "-frames:v", "4", "-pix_fmt", "yuv420p", &reference])?;
    ffmpeg(&["-i", &reference, "-c:v", "libx264", "-crf", "35", &encoded])?;
    ffmpeg(&["-i", &encoded, "-pix_fmt", "yuv420p", &distorted])?;
    Ok((reference, distorted))
}

#[test]
fn every_simd_level_scores_a_pair_as_the_scalar_reference_does() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (reference, distorted) = small_pair(dir.path(), "97x61")?;
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

#[test]
fn bench_vmaf_measures_a_pair_of_your_own_and_refuses_a_mismatched_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (reference, distorted) = small_pair(dir.path(), "97x61")?;
    let (code, stdout, stderr) = run(&["bench", "vmaf", "--reference", &reference, "--distorted", &distorted, "--no-x264", "--threads", "1,2", "--json"])?;
    assert_eq!(code, 0, "{stderr}");
    let document: serde_json::Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(document["frames"], 4, "{document}");
    let measured: Vec<(u64, f64)> = document["in_memory"].as_array().into_iter().flatten().map(|row| (row["threads"].as_u64().unwrap_or(0), row["fps"].as_f64().unwrap_or(0.0))).collect();
    assert!(measured.len() == 2 && measured[0].0 == 1 && measured[1].0 == 2 && measured.iter().all(|(_, fps)| *fps > 0.0), "{document}");
    assert!(document.get("x264_yardstick").is_none(), "--no-x264 ran the yardstick: {document}");

    let (other_reference, _) = small_pair(dir.path(), "64x48")?;
    let (code, _, stderr) = run(&["bench", "vmaf", "--reference", &other_reference, "--distorted", &distorted, "--no-x264"])?;
    assert!(code != 0 && stderr.contains("differ: a pair needs the same size"), "{code}: {stderr}");
    for (args, says) in [
        (vec!["--reference", reference.as_str()], "--distorted"),
        (vec!["--no-x264"], "--no-x264 goes with --reference"),
        (vec!["--reference", &reference, "--distorted", &distorted, "--threads", "0"], "thread counts of 1 or more"),
    ] {
        let (code, _, stderr) = run(&[&["bench", "vmaf"], args.as_slice()].concat())?;
        assert!(code == 2 && stderr.contains(says), "{args:?}: {code}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    Ok(())
}
