//! The result of a VMAF run: per-frame metrics and pooled values, and its JSON form in
//! libvmaf's layout (`frames[].frameNum`, `frames[].metrics{…}`, `pooled_metrics{…}`).

use serde_json::{Map, Value, json};

use crate::pooling::Pooled;

/// Metrics of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReport {
    pub frame_num: usize,
    pub vif: [f64; 4],
    pub adm2: f64,
    pub adm_scales: [f64; 4],
    pub motion: f64,
    pub motion2: f64,
    pub vmaf: f64,
    pub psnr: Option<[f64; 3]>,
    pub ssim: Option<f64>,
}

impl FrameReport {
    /// `(libvmaf name, value)` of every metric of this frame.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let mut m = Vec::with_capacity(20);
        if let Some(p) = self.psnr {
            m.extend([("psnr_y", p[0]), ("psnr_cb", p[1]), ("psnr_cr", p[2])]);
        }
        m.push(("integer_adm2", self.adm2));
        for (name, v) in
            ["integer_adm_scale0", "integer_adm_scale1", "integer_adm_scale2", "integer_adm_scale3"].iter().zip(self.adm_scales)
        {
            m.push((name, v));
        }
        m.push(("integer_motion", self.motion));
        for (name, v) in
            ["integer_vif_scale0", "integer_vif_scale1", "integer_vif_scale2", "integer_vif_scale3"].iter().zip(self.vif)
        {
            m.push((name, v));
        }
        if let Some(s) = self.ssim {
            m.push(("float_ssim", s));
        }
        m.push(("integer_motion2", self.motion2));
        m.push(("vmaf", self.vmaf));
        m
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct VmafReport {
    pub frames: Vec<FrameReport>,
    /// Frames per second of the metric computation (wall time of the run).
    pub fps: f64,
    /// Which backend computed it (`cpu/avx2`, `cpu/scalar`, …).
    pub backend: String,
}

impl VmafReport {
    /// Pooled statistics of one metric over all frames (`None` if absent or no frames).
    pub fn pooled(&self, metric: &str) -> Option<Pooled> {
        let values: Vec<f64> = self
            .frames
            .iter()
            .filter_map(|f| f.metrics().into_iter().find(|(n, _)| *n == metric).map(|(_, v)| v))
            .collect();
        if values.len() != self.frames.len() {
            return None;
        }
        Pooled::of(&values)
    }

    /// The pooled VMAF (`None` for an empty run).
    pub fn pooled_vmaf(&self) -> Option<Pooled> {
        self.pooled("vmaf")
    }

    /// libvmaf's JSON layout.
    pub fn to_json(&self) -> Value {
        let frames: Vec<Value> = self
            .frames
            .iter()
            .map(|f| {
                let metrics: Map<String, Value> = f.metrics().into_iter().map(|(n, v)| (n.to_string(), json!(v))).collect();
                json!({ "frameNum": f.frame_num, "metrics": metrics })
            })
            .collect();
        let mut pooled = Map::new();
        if let Some(first) = self.frames.first() {
            for (name, _) in first.metrics() {
                if let Some(p) = self.pooled(name) {
                    pooled.insert(name.to_string(), json!(p));
                }
            }
        }
        json!({
            "version": concat!("shotfarm-kernels ", env!("CARGO_PKG_VERSION")),
            "backend": self.backend,
            "fps": self.fps,
            "frames": frames,
            "pooled_metrics": pooled,
            "aggregate_metrics": {},
        })
    }
}
