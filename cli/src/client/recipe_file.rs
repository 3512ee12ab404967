//! A recipe file (`shotfarm recipes create NAME --from-file recipe.toml|.json`, and what
//! `recipes show` prints): the settings of a job spec, without its locations. Unknown keys
//! are refused; a key left out means its default, as a zero value does on the wire. The
//! scheduler checks every value (`shotfarm recipes create` answers what to change).
//!
//! ```toml
//! codecs = ["h264", "hevc"]
//! chunk_max_ms = 6000
//! quality_scoring = "off"
//! [labels]
//! team = "web"
//! [ladder]
//! kind = "per-title"
//! target_vmaf = 93.0
//! preset = "slow"
//! [thumbnails]
//! interval_seconds = 5
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use shotfarm_proto::v1;

use super::recipe_flags::{format_rung, parse_rung};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecipeFile {
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub priority: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub chunk_min_ms: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub chunk_max_ms: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub rungs_per_encode: u32,
    /// `full` (the default) or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_scoring: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub overwrite: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ladder: Option<LadderSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<ThumbnailSection>,
    /// Where the jobs of this recipe POST their state changes (under one of the farm's
    /// callback endpoints).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub callback_url: String,
    /// Common Encryption of every job of this recipe: scheme and key file URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionSection>,
}

/// `v1::Encryption`: `scheme` (cbcs or cenc), `key_url` and `clear_lead_seconds`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionSection {
    pub scheme: String,
    pub key_url: String,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub clear_lead_seconds: f64,
}

/// `v1::LadderRecipe`, its `ladder` field named `kind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LadderSection {
    /// fixed, custom, per-title or per-shot.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub target_vmaf: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub floor_kbps: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub ceiling_kbps: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_rungs: u32,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub spacing: f64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preset: String,
    /// `WIDTHxHEIGHT@KBPS[:PEAK_KBPS[:BUFFER_KBPS]]`, as `--rung` takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<String>,
}

/// `v1::Thumbnails`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThumbnailSection {
    #[serde(skip_serializing_if = "is_false")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval_seconds: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub tile_width: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub columns: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub rows: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_seconds: Option<f64>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}

fn is_zero_f64(value: &f64) -> bool {
    *value == 0.0
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a recipe file: {why}")]
    Parse { path: String, why: String },
    #[error("quality_scoring = {0:?}: use \"full\" or \"off\"")]
    QualityScoring(String),
    #[error("ladder.rungs: {0}")]
    Rung(String),
}

impl RecipeFile {
    /// Reads a `.json` file as JSON, anything else as TOML.
    pub fn read(path: &Path) -> Result<RecipeFile, RecipeFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RecipeFileError::Read { path: shown.clone(), source })?;
        let parsed = if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("json")) {
            serde_json::from_str(&text).map_err(|error| error.to_string())
        } else {
            toml::from_str(&text).map_err(|error| error.to_string())
        };
        parsed.map_err(|why| RecipeFileError::Parse { path: shown, why })
    }

    pub fn to_wire(&self) -> Result<v1::JobSpec, RecipeFileError> {
        let quality_scoring = match self.quality_scoring.as_deref() {
            None | Some("full") => v1::QualityScoring::Full,
            Some("off") => v1::QualityScoring::Off,
            Some(other) => return Err(RecipeFileError::QualityScoring(other.to_owned())),
        };
        let rungs = match &self.ladder {
            Some(ladder) => ladder.rungs.iter().map(|rung| parse_rung(rung)).collect::<Result<Vec<_>, _>>().map_err(RecipeFileError::Rung)?,
            None => Vec::new(),
        };
        Ok(v1::JobSpec {
            priority: self.priority,
            codecs: self.codecs.clone(),
            chunk_min_ms: self.chunk_min_ms,
            chunk_max_ms: self.chunk_max_ms,
            labels: self.labels.clone().into_iter().collect(),
            rungs_per_encode: self.rungs_per_encode,
            quality_scoring: quality_scoring as i32,
            overwrite: self.overwrite,
            recipe: self.ladder.as_ref().map(|ladder| v1::LadderRecipe {
                version: shotfarm_proto::recipe::RECIPE_VERSION,
                ladder: ladder.kind.clone(),
                target_vmaf: ladder.target_vmaf,
                floor_kbps: ladder.floor_kbps,
                ceiling_kbps: ladder.ceiling_kbps,
                max_rungs: ladder.max_rungs,
                spacing: ladder.spacing,
                preset: ladder.preset.clone(),
                rungs,
            }),
            thumbnails: self.thumbnails.clone().map(|ThumbnailSection { disabled, interval_seconds, tile_width, columns, rows, poster_seconds }| {
                v1::Thumbnails { disabled, interval_seconds, tile_width, columns, rows, poster_seconds }
            }),
            callback_url: self.callback_url.clone(),
            encryption: self.encryption.clone().map(|EncryptionSection { scheme, key_url, clear_lead_seconds }| v1::Encryption { scheme, key_url, clear_lead_seconds }),
            ..Default::default()
        })
    }

    /// The file that says what `spec` says (its locations left out).
    pub fn from_wire(spec: &v1::JobSpec) -> RecipeFile {
        let default_thumbnails = v1::Thumbnails::default();
        RecipeFile {
            priority: spec.priority,
            codecs: spec.codecs.clone(),
            chunk_min_ms: spec.chunk_min_ms,
            chunk_max_ms: spec.chunk_max_ms,
            rungs_per_encode: spec.rungs_per_encode,
            quality_scoring: (spec.quality_scoring == v1::QualityScoring::Off as i32).then(|| "off".to_owned()),
            overwrite: spec.overwrite,
            labels: spec.labels.clone().into_iter().collect(),
            ladder: spec.recipe.as_ref().map(|recipe| LadderSection {
                kind: recipe.ladder.clone(),
                target_vmaf: recipe.target_vmaf,
                floor_kbps: recipe.floor_kbps,
                ceiling_kbps: recipe.ceiling_kbps,
                max_rungs: recipe.max_rungs,
                spacing: recipe.spacing,
                preset: recipe.preset.clone(),
                rungs: recipe.rungs.iter().map(format_rung).collect(),
            }).filter(|ladder| *ladder != LadderSection::default()),
            thumbnails: spec.thumbnails.filter(|thumbnails| *thumbnails != default_thumbnails).map(
                |v1::Thumbnails { disabled, interval_seconds, tile_width, columns, rows, poster_seconds }| ThumbnailSection {
                    disabled,
                    interval_seconds,
                    tile_width,
                    columns,
                    rows,
                    poster_seconds,
                },
            ),
            callback_url: spec.callback_url.clone(),
            encryption: spec.encryption.clone().map(|v1::Encryption { scheme, key_url, clear_lead_seconds }| EncryptionSection { scheme, key_url, clear_lead_seconds }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
codecs = ["h264", "hevc"]
chunk_max_ms = 6000
quality_scoring = "off"
[labels]
team = "web"
[ladder]
kind = "custom"
preset = "slow"
rungs = ["640x360@800", "320x180@300:450:600"]
[thumbnails]
interval_seconds = 5
"#;

    fn written(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("written");
        (dir, path)
    }

    #[test]
    fn a_toml_file_becomes_the_spec_it_says_and_back() {
        let (_dir, path) = written("web.toml", EXAMPLE);
        let file = RecipeFile::read(&path).expect("reads");
        let spec = file.to_wire().expect("converts");
        assert_eq!(spec.codecs, vec!["h264".to_owned(), "hevc".to_owned()]);
        assert_eq!((spec.chunk_max_ms, spec.quality_scoring), (6000, v1::QualityScoring::Off as i32));
        let ladder = spec.recipe.clone().expect("a ladder");
        assert_eq!((ladder.ladder.as_str(), ladder.preset.as_str(), ladder.rungs.len()), ("custom", "slow", 2));
        assert_eq!((ladder.rungs[1].width, ladder.rungs[1].maxrate_kbps, ladder.rungs[1].bufsize_kbps), (320, 450, 600));
        assert_eq!(spec.thumbnails.as_ref().map(|thumbnails| thumbnails.interval_seconds), Some(5));
        assert_eq!(RecipeFile::from_wire(&spec), file, "show prints what create read");
        let (_dir, json) = written("web.json", &serde_json::to_string(&file).expect("encodes"));
        assert_eq!(RecipeFile::read(&json).expect("reads JSON"), file);
    }

    #[test]
    fn unknown_keys_and_values_are_refused_with_the_place() {
        let (_dir, path) = written("bad.toml", "codec = [\"h264\"]\n");
        let error = RecipeFile::read(&path).unwrap_err().to_string();
        assert!(error.contains("bad.toml is not a recipe file") && error.contains("unknown field `codec`"), "{error}");
        let file = RecipeFile { quality_scoring: Some("some".to_owned()), ..RecipeFile::default() };
        assert!(file.to_wire().unwrap_err().to_string().contains("use \"full\" or \"off\""));
        let file = RecipeFile { ladder: Some(LadderSection { rungs: vec!["640x360".to_owned()], ..LadderSection::default() }), ..RecipeFile::default() };
        let error = file.to_wire().unwrap_err().to_string();
        assert!(error.starts_with("ladder.rungs: \"640x360\": a rung is WIDTHxHEIGHT@KBPS"), "{error}");
    }
}
