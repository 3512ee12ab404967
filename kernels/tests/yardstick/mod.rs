//! Access to the libvmaf yardstick in `shared/vmaf` (reference scores of Netflix's libvmaf).
//!
//! Located as `../shared` relative to the workspace root, or `$SHOTFARM_SHARED_DIR`.
//! A missing yardstick fails the test with a clear message: it never passes silently.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `shared/vmaf`, or a panic explaining where it was looked for.
pub fn vmaf_dir() -> PathBuf {
    let shared = match std::env::var_os("SHOTFARM_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    let dir = shared.join("vmaf");
    assert!(
        dir.join("json").is_dir() && dir.join("ref").is_dir(),
        "the libvmaf yardstick is missing: expected {} (set SHOTFARM_SHARED_DIR to the folder holding vmaf/)",
        dir.display()
    );
    dir
}

/// Every distorted clip name (file stem), sorted.
pub fn distorted_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vmaf_dir().join("dist"))
        .expect("shared/vmaf/dist is readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "shared/vmaf/dist holds no clips");
    names
}

/// Path of a distorted clip and of its reference.
pub fn clip_paths(distorted: &str) -> (PathBuf, PathBuf) {
    let dir = vmaf_dir();
    let clip = distorted.split("__").next().expect("names are <clip>__<distortion>");
    let reference = dir.join("ref").join(format!("{clip}.mkv"));
    let dist = std::fs::read_dir(dir.join("dist"))
        .expect("dist readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.file_stem().is_some_and(|s| s == distorted))
        .expect("distorted clip exists");
    (reference, dist)
}

/// libvmaf's JSON for a clip from one of the `json/` runs.
pub fn libvmaf_json(run: &str, distorted: &str) -> Value {
    let path = vmaf_dir().join("json").join(run).join(format!("{distorted}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("libvmaf JSON parses")
}

/// `frames[i].metrics[name]`.
pub fn frame_metric(json: &Value, frame: usize, name: &str) -> f64 {
    json["frames"][frame]["metrics"][name].as_f64().unwrap_or_else(|| panic!("frame {frame} has no {name}"))
}

pub fn frame_count(json: &Value) -> usize {
    json["frames"].as_array().expect("frames array").len()
}
