//! The VMAF model: libvmaf's JSON model format (here `vmaf_v0.6.1`, embedded), and
//! the prediction step of `predict.c` + libsvm's `svm_predict` for nu-SVR with an RBF
//! kernel: normalise (linear rescale), Σ coef·exp(−γ‖x − sv‖²) − ρ, denormalise,
//! optional polynomial transform, clip. Everything in double, in libsvm's order.

use serde::Deserialize;

/// Netflix's vmaf_v0.6.1 model (BSD-2-Clause-Patent, see `models/LICENSE.vmaf`).
pub const VMAF_V061_JSON: &str = include_str!("../models/vmaf_v0.6.1.json");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model JSON is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model uses norm_type `{0}`; only linear_rescale is supported")]
    UnsupportedNormalisation(String),
    #[error("model is a `{0}`; only LIBSVMNUSVR is supported")]
    UnsupportedModelType(String),
    #[error("model needs feature `{0}`, which shotfarm does not compute")]
    UnsupportedFeature(String),
    #[error("libsvm model text is malformed: {0}")]
    BadSvm(String),
    #[error("model has {features} features but {slopes} slopes and {intercepts} intercepts (expected features + 1 each)")]
    Inconsistent { features: usize, slopes: usize, intercepts: usize },
}

/// A feature a model can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFeature {
    Adm2,
    Motion2,
    VifScale(usize),
}

impl ModelFeature {
    fn from_libvmaf_name(name: &str) -> Option<Self> {
        Some(match name {
            "VMAF_integer_feature_adm2_score" => ModelFeature::Adm2,
            "VMAF_integer_feature_motion2_score" => ModelFeature::Motion2,
            "VMAF_integer_feature_vif_scale0_score" => ModelFeature::VifScale(0),
            "VMAF_integer_feature_vif_scale1_score" => ModelFeature::VifScale(1),
            "VMAF_integer_feature_vif_scale2_score" => ModelFeature::VifScale(2),
            "VMAF_integer_feature_vif_scale3_score" => ModelFeature::VifScale(3),
            _ => return None,
        })
    }
}

/// The elementary features of one frame the model reads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelInputs {
    pub adm2: f64,
    pub motion2: f64,
    pub vif: [f64; 4],
}

impl ModelInputs {
    fn get(&self, feature: ModelFeature) -> f64 {
        match feature {
            ModelFeature::Adm2 => self.adm2,
            ModelFeature::Motion2 => self.motion2,
            ModelFeature::VifScale(k) => self.vif[k],
        }
    }
}

#[derive(Debug, Deserialize)]
struct ModelFile {
    model_dict: ModelDict,
}

#[derive(Debug, Deserialize)]
struct ModelDict {
    model: String,
    model_type: String,
    norm_type: String,
    feature_names: Vec<String>,
    slopes: Vec<f64>,
    intercepts: Vec<f64>,
    #[serde(default)]
    score_clip: Option<[f64; 2]>,
    #[serde(default)]
    score_transform: Option<ScoreTransformJson>,
}

#[derive(Debug, Deserialize)]
struct ScoreTransformJson {
    #[serde(default)]
    enabled: Option<serde_json::Value>,
    p0: Option<f64>,
    p1: Option<f64>,
    p2: Option<f64>,
    #[serde(default)]
    out_gte_in: Option<serde_json::Value>,
}

/// `p0 + p1·y + p2·y²`, optionally not below the input.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ScoreTransform {
    p: [f64; 3],
    out_gte_in: bool,
}

fn json_true(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// One support vector: its coefficient and its sparse (index, value) nodes, indices ascending.
#[derive(Debug, Clone)]
struct SupportVector {
    coef: f64,
    nodes: Vec<(usize, f64)>,
}

/// A loaded VMAF model.
#[derive(Debug, Clone)]
pub struct VmafModel {
    features: Vec<ModelFeature>,
    slopes: Vec<f64>,
    intercepts: Vec<f64>,
    gamma: f64,
    rho: f64,
    support_vectors: Vec<SupportVector>,
    clip: Option<[f64; 2]>,
    transform: Option<ScoreTransform>,
}

impl VmafModel {
    /// The embedded vmaf_v0.6.1 model.
    pub fn v061() -> Result<Self, ModelError> {
        Self::from_json(VMAF_V061_JSON)
    }

    /// Parses a libvmaf JSON model. The score transform is applied only when the model
    /// says `"enabled": true`, as libvmaf does by default.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let file: ModelFile = serde_json::from_str(text)?;
        let md = file.model_dict;
        if md.model_type != "LIBSVMNUSVR" {
            return Err(ModelError::UnsupportedModelType(md.model_type));
        }
        if md.norm_type != "linear_rescale" {
            return Err(ModelError::UnsupportedNormalisation(md.norm_type));
        }
        let features = md
            .feature_names
            .iter()
            .map(|n| ModelFeature::from_libvmaf_name(n).ok_or_else(|| ModelError::UnsupportedFeature(n.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        if md.slopes.len() != features.len() + 1 || md.intercepts.len() != features.len() + 1 {
            return Err(ModelError::Inconsistent {
                features: features.len(),
                slopes: md.slopes.len(),
                intercepts: md.intercepts.len(),
            });
        }
        let (gamma, rho, support_vectors) = parse_libsvm(&md.model)?;
        let transform = md.score_transform.as_ref().filter(|t| json_true(&t.enabled)).map(|t| ScoreTransform {
            p: [t.p0.unwrap_or(0.0), t.p1.unwrap_or(0.0), t.p2.unwrap_or(0.0)],
            out_gte_in: json_true(&t.out_gte_in),
        });
        Ok(Self {
            features,
            slopes: md.slopes,
            intercepts: md.intercepts,
            gamma,
            rho,
            support_vectors,
            clip: md.score_clip,
            transform,
        })
    }

    /// The VMAF score of one frame.
    pub fn predict(&self, inputs: &ModelInputs) -> f64 {
        // Normalised feature vector; libsvm node indices are 1-based.
        let x: Vec<(usize, f64)> = self
            .features
            .iter()
            .enumerate()
            .map(|(k, &f)| (k + 1, self.slopes[k + 1] * inputs.get(f) + self.intercepts[k + 1]))
            .collect();
        let mut sum = 0.0;
        for sv in &self.support_vectors {
            sum += sv.coef * (-self.gamma * squared_distance(&x, &sv.nodes)).exp();
        }
        sum -= self.rho;
        let mut score = (sum - self.intercepts[0]) / self.slopes[0];
        if let Some(t) = self.transform {
            let transformed = t.p[0] + t.p[1] * score + t.p[2] * score * score;
            score = if t.out_gte_in { transformed.max(score) } else { transformed };
        }
        if let Some([lo, hi]) = self.clip {
            score = score.clamp(lo, hi);
        }
        score
    }
}

/// libsvm's RBF `k_function` distance: a merge over the two sparse vectors in index order.
fn squared_distance(x: &[(usize, f64)], y: &[(usize, f64)]) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < x.len() && j < y.len() {
        if x[i].0 == y[j].0 {
            let d = x[i].1 - y[j].1;
            sum += d * d;
            i += 1;
            j += 1;
        } else if x[i].0 > y[j].0 {
            sum += y[j].1 * y[j].1;
            j += 1;
        } else {
            sum += x[i].1 * x[i].1;
            i += 1;
        }
    }
    for &(_, v) in &x[i..] {
        sum += v * v;
    }
    for &(_, v) in &y[j..] {
        sum += v * v;
    }
    sum
}

/// Parses the libsvm text model: header (`svm_type`, `kernel_type`, `gamma`, `rho`…), `SV`, rows.
fn parse_libsvm(text: &str) -> Result<(f64, f64, Vec<SupportVector>), ModelError> {
    let bad = |s: String| ModelError::BadSvm(s);
    let mut lines = text.lines();
    let (mut gamma, mut rho) = (None, None);
    for line in lines.by_ref() {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("SV") => break,
            Some("svm_type") if parts.next() != Some("nu_svr") => return Err(bad(format!("`{line}`: need nu_svr"))),
            Some("kernel_type") if parts.next() != Some("rbf") => return Err(bad(format!("`{line}`: need rbf"))),
            Some("gamma") => gamma = parts.next().and_then(|v| v.parse::<f64>().ok()),
            Some("rho") => rho = parts.next().and_then(|v| v.parse::<f64>().ok()),
            _ => {}
        }
    }
    let gamma = gamma.ok_or_else(|| bad("no gamma".into()))?;
    let rho = rho.ok_or_else(|| bad("no rho".into()))?;
    let mut svs = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let coef = parts.next().and_then(|v| v.parse::<f64>().ok()).ok_or_else(|| bad(format!("`{line}`")))?;
        let mut nodes = Vec::new();
        for p in parts {
            let (i, v) = p.split_once(':').ok_or_else(|| bad(format!("node `{p}`")))?;
            let i = i.parse::<usize>().map_err(|_| bad(format!("node `{p}`")))?;
            let v = v.parse::<f64>().map_err(|_| bad(format!("node `{p}`")))?;
            nodes.push((i, v));
        }
        svs.push(SupportVector { coef, nodes });
    }
    if svs.is_empty() {
        return Err(bad("no support vectors".into()));
    }
    Ok((gamma, rho, svs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_loads_without_transform() {
        let m = VmafModel::v061().unwrap();
        assert_eq!(m.support_vectors.len(), 211);
        assert_eq!(m.features.len(), 6);
        assert!(m.transform.is_none());
        assert_eq!(m.gamma, 0.04);
    }

    #[test]
    fn predicts_a_libvmaf_frame() {
        // c01_testsrc2_1080p__540p_crf28 frame 1, full-precision features from libvmaf.
        let m = VmafModel::v061().unwrap();
        let inputs = ModelInputs {
            adm2: 0.9022833010006944,
            motion2: 1.7712507478690442,
            vif: [0.6164748668670654, 0.8954818844795227, 0.9395565390586853, 0.964263379573822],
        };
        assert!((m.predict(&inputs) - 73.2009610226098).abs() < 1e-9);
    }

    #[test]
    fn rejects_unknown_features() {
        let text = VMAF_V061_JSON.replace("VMAF_integer_feature_adm2_score", "float_adm2");
        assert!(matches!(VmafModel::from_json(&text), Err(ModelError::UnsupportedFeature(_))));
    }
}
