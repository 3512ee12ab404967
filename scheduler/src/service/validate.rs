//! Checks on what clients and agents send, before anything is proposed. Each error names
//! the field, what was wrong, and what is accepted.

use shotfarm_proto::pipeline::Codec;
use shotfarm_proto::encryption::EncryptionOptions;
use shotfarm_proto::recipe::LadderRecipe;
use shotfarm_proto::thumbnails::ThumbnailOptions;
use shotfarm_proto::v1;
use tonic::Status;

use shotfarm_proto::storage::JobRoots;

use super::status::invalid;
use crate::callbacks::CallbackEndpoints;
use crate::callbacks::endpoints::parse_callback_url;
use crate::state::model::JobSpec;

const MAX_LABELS: usize = 64;
/// The cpu backend encodes at most this many outputs from one decode.
const MAX_RUNGS_PER_ENCODE: u32 = 8;

pub fn request_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid("request_id", "must be 1..=128 printable ASCII characters (a unique id you reuse when retrying)"));
    }
    Ok(())
}

/// Checks a spec; its URLs come back normalised (`shotfarm_proto::storage::StorageUrl`), and
/// each must lie within the configured roots of its side.
/// A callback URL must lie under one of the farm's callback endpoints.
pub fn job_spec(spec: Option<&v1::JobSpec>, roots: &JobRoots, callbacks: &CallbackEndpoints) -> Result<JobSpec, Status> {
    let spec = spec.ok_or_else(|| invalid("spec", "is missing"))?;
    let input_url = roots.input.check(&spec.input_url).map_err(|error| invalid("spec.input_url", error))?;
    let output_url = roots.output.check(&spec.output_url).map_err(|error| invalid("spec.output_url", error))?;
    let callback_url = match spec.callback_url.as_str() {
        "" => String::new(),
        url => callbacks.check(url).map_err(|error| invalid("spec.callback_url", error))?,
    };
    let mut checked = JobSpec { input_url: input_url.to_string(), output_url: output_url.to_string(), callback_url, ..job_settings(spec)? };
    if let Some(encryption) = checked.encryption.as_mut() {
        // The key file is read like the source: only from under the input roots.
        encryption.key_url = roots.input.check(&encryption.key_url).map_err(|error| invalid("spec.encryption.key_url", error))?.to_string();
    }
    Ok(checked)
}

/// Checks every field of a spec but its locations (which come back empty): a job's settings,
/// and what a saved recipe holds.
pub fn job_settings(spec: &v1::JobSpec) -> Result<JobSpec, Status> {
    if !(-100..=100).contains(&spec.priority) {
        return Err(invalid("spec.priority", format!("{} is outside -100..=100", spec.priority)));
    }
    let mut codecs = Vec::new();
    for name in &spec.codecs {
        let codec = Codec::parse(name).ok_or_else(|| invalid("spec.codecs", format!("{name:?} is not a codec; use h264, hevc or av1")))?;
        if !codecs.contains(&codec.as_str().to_owned()) {
            codecs.push(codec.as_str().to_owned());
        }
    }
    let bounds = |field: &str, value: u32| {
        if value != 0 && !(500..=600_000).contains(&value) {
            return Err(invalid(field, format!("{value} ms is outside 500..=600000 (or 0 for the default)")));
        }
        Ok(())
    };
    bounds("spec.chunk_min_ms", spec.chunk_min_ms)?;
    bounds("spec.chunk_max_ms", spec.chunk_max_ms)?;
    if spec.chunk_min_ms != 0 && spec.chunk_max_ms != 0 && spec.chunk_min_ms > spec.chunk_max_ms {
        return Err(invalid("spec.chunk_min_ms", format!("{} is above chunk_max_ms {}", spec.chunk_min_ms, spec.chunk_max_ms)));
    }
    if spec.rungs_per_encode > MAX_RUNGS_PER_ENCODE {
        return Err(invalid(
            "spec.rungs_per_encode",
            format!("{} is above {MAX_RUNGS_PER_ENCODE}; use 0 or 1 for one rung per encode task, up to {MAX_RUNGS_PER_ENCODE} to share a chunk's decode", spec.rungs_per_encode),
        ));
    }
    let quality_scoring = v1::QualityScoring::try_from(spec.quality_scoring)
        .map_err(|_| invalid("spec.quality_scoring", format!("{} is not a quality scoring mode; use 0 (full) or 1 (off)", spec.quality_scoring)))?;
    if spec.labels.len() > MAX_LABELS {
        return Err(invalid("spec.labels", format!("{} labels; at most {MAX_LABELS}", spec.labels.len())));
    }
    if let Some((key, _)) = spec.labels.iter().find(|(key, value)| key.is_empty() || key.len() > 64 || value.len() > 256) {
        return Err(invalid("spec.labels", format!("label {key:?}: keys are 1..=64 bytes, values at most 256")));
    }
    let recipe = LadderRecipe::from_wire(spec.recipe.as_ref()).map_err(|error| invalid(&format!("spec.recipe.{}", error.field), error.message))?;
    let thumbnails = ThumbnailOptions::from_wire(spec.thumbnails.as_ref()).map_err(|error| invalid("spec.thumbnails", error))?;
    let callback_url = match spec.callback_url.as_str() {
        "" => String::new(),
        url => parse_callback_url(url).map_err(|error| invalid("spec.callback_url", error))?,
    };
    let encryption = EncryptionOptions::from_wire(spec.encryption.as_ref()).map_err(|error| invalid("spec.encryption", error))?;
    Ok(JobSpec {
        callback_url,
        encryption,
        recipe,
        thumbnails,
        input_url: String::new(),
        output_url: String::new(),
        from_recipe: None,
        overwrite: spec.overwrite,
        priority: spec.priority,
        codecs,
        chunk_min_ms: spec.chunk_min_ms,
        chunk_max_ms: spec.chunk_max_ms,
        labels: spec.labels.clone().into_iter().collect(),
        rungs_per_encode: spec.rungs_per_encode.max(1),
        score_quality: quality_scoring == v1::QualityScoring::Full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use shotfarm_proto::storage::{RootSide, StorageRoots};

    fn check(spec: Option<&v1::JobSpec>) -> Result<JobSpec, Status> {
        job_spec(spec, &roots(), &CallbackEndpoints::default())
    }

    fn roots() -> JobRoots {
        JobRoots::parse(Some("file:///media/in,s3://bucket/in"), Some("file:///out")).unwrap()
    }

    #[test]
    fn urls_are_checked_against_the_roots() {
        let spec = |input: &str, output: &str| v1::JobSpec { input_url: input.into(), output_url: output.into(), ..Default::default() };
        let checked = check(Some(&spec("file:///media//in/./a%20b.mp4", "file:///out/x/"))).expect("inside");
        assert_eq!((checked.input_url.as_str(), checked.output_url.as_str()), ("file:///media/in/a%20b.mp4", "file:///out/x"));
        assert!(check(Some(&spec("s3://bucket/in/a.mov", "file:///out"))).is_ok());
        for (input, output, field) in [
            ("file:///etc/shadow", "file:///out", "spec.input_url"),
            ("file:///media/in/%2e%2e/secret", "file:///out", "spec.input_url"),
            ("file:///media/in/.%2E/secret", "file:///out", "spec.input_url"),
            ("file:///media/in\\..\\secret", "file:///out", "spec.input_url"),
            ("", "file:///out", "spec.input_url"),
            ("http://host/x", "file:///out", "spec.input_url"),
            ("file:///media/in/a.mp4", "file:///etc", "spec.output_url"),
            ("file:///media/in/a.mp4", "file:///out/../etc", "spec.output_url"),
        ] {
            let status = check(Some(&spec(input, output))).expect_err(input);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with(field), "{}", status.message());
        }
        let status = check(Some(&spec("file:///etc/passwd", "file:///out"))).unwrap_err();
        assert!(status.message().contains("outside the allowed input roots file:///media/in,s3://bucket/in; ask an operator to add a root with --allow-input"), "{}", status.message());
        let none = JobRoots { input: StorageRoots::none(RootSide::Input), ..roots() };
        let status = job_spec(Some(&spec("file:///media/in/a.mp4", "file:///out")), &none, &CallbackEndpoints::default()).unwrap_err();
        assert!(status.message().contains("no input roots are configured"), "{}", status.message());
    }

    #[test]
    fn specs_are_checked() {
        let mut spec = v1::JobSpec {
            input_url: "file:///media/in/in.mp4".into(),
            output_url: "file:///out/".into(),
            codecs: vec!["H264".into(), "avc".into()],
            ..Default::default()
        };
        let checked = check(Some(&spec)).expect("valid");
        assert_eq!(checked.codecs, vec!["h264".to_owned()]);
        assert_eq!(checked.thumbnails, Some(ThumbnailOptions::default()), "thumbnails are on unless disabled");
        spec.thumbnails = Some(v1::Thumbnails { tile_width: 99, ..Default::default() });
        let refused = check(Some(&spec)).unwrap_err();
        assert!(refused.message().starts_with("spec.thumbnails") && refused.message().contains("even width from 32 to 1280"), "{}", refused.message());
        spec.thumbnails = Some(v1::Thumbnails { disabled: true, ..Default::default() });
        assert_eq!(check(Some(&spec)).expect("valid").thumbnails, None);
        spec.thumbnails = None;
        assert_eq!(checked.output_url, "file:///out");
        spec.priority = 1000;
        assert!(check(Some(&spec)).is_err());
        spec.priority = 0;
        spec.codecs = vec!["mpeg2".into()];
        assert!(check(Some(&spec)).is_err());
        spec.codecs = vec![];
        spec.chunk_min_ms = 9000;
        spec.chunk_max_ms = 3000;
        assert!(check(Some(&spec)).is_err());
        spec.chunk_min_ms = 0;
        spec.chunk_max_ms = 0;
        assert_eq!(check(Some(&spec)).expect("valid").rungs_per_encode, 1, "0 means one rung per encode task");
        spec.rungs_per_encode = 9;
        assert!(check(Some(&spec)).unwrap_err().message().starts_with("spec.rungs_per_encode"));
        spec.rungs_per_encode = 0;
        spec.quality_scoring = 7;
        assert!(check(Some(&spec)).unwrap_err().message().starts_with("spec.quality_scoring"));
        spec.quality_scoring = v1::QualityScoring::Off as i32;
        assert!(!check(Some(&spec)).expect("valid").score_quality);
        assert!(check(None).is_err());
        spec.recipe = Some(v1::LadderRecipe { preset: "placebo".into(), ..Default::default() });
        let refused = check(Some(&spec)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().starts_with("spec.recipe.preset"), "{}", refused.message());
        spec.recipe = Some(v1::LadderRecipe { floor_kbps: 300, ..Default::default() });
        assert_eq!(check(Some(&spec)).expect("valid").recipe.floor_kbps, 300);
    }

    #[test]
    fn a_callback_url_must_be_under_an_endpoint_of_the_farm() {
        let dir = tempfile::tempdir().expect("dir");
        let secret = dir.path().join("hooks.secret");
        std::fs::write(&secret, "a-secret-of-sixteen-bytes").expect("write");
        let endpoints = CallbackEndpoints::parse(Some(&format!("http://127.0.0.1:8080/hooks/={}", secret.display()))).expect("parses");
        let spec = |callback_url: &str| v1::JobSpec {
            input_url: "file:///media/in/in.mp4".into(),
            output_url: "file:///out/".into(),
            callback_url: callback_url.into(),
            ..Default::default()
        };
        let checked = job_spec(Some(&spec("http://127.0.0.1:8080/hooks/a/../b")), &roots(), &endpoints).expect("under the endpoint");
        assert_eq!(checked.callback_url, "http://127.0.0.1:8080/hooks/b");
        assert_eq!(job_spec(Some(&spec("")), &roots(), &endpoints).expect("none").callback_url, "");
        for url in ["http://127.0.0.1:8080/admin", "http://169.254.169.254/latest/meta-data/", "gopher://127.0.0.1:8080/hooks/"] {
            let refused = job_spec(Some(&spec(url)), &roots(), &endpoints).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
            assert!(refused.message().starts_with("spec.callback_url"), "{}", refused.message());
        }
        let refused = check(Some(&spec("http://127.0.0.1:8080/hooks/b"))).unwrap_err();
        assert!(refused.message().contains("takes no callbacks"), "{}", refused.message());
    }

    #[test]
    fn an_encrypted_jobs_key_file_must_lie_under_the_input_roots() {
        let spec = |key_url: &str| v1::JobSpec {
            input_url: "file:///media/in/in.mp4".into(),
            output_url: "file:///out/".into(),
            encryption: Some(v1::Encryption { scheme: "cbcs".into(), key_url: key_url.into(), clear_lead_seconds: 0.0 }),
            ..Default::default()
        };
        let checked = check(Some(&spec("file:///media/in/keys//title.json"))).expect("under the input root");
        let encryption = checked.encryption.expect("encrypted");
        assert_eq!((encryption.scheme.as_str(), encryption.key_url.as_str()), ("cbcs", "file:///media/in/keys/title.json"));
        for (url, field) in [("file:///etc/keys.json", "spec.encryption.key_url"), ("file:///media/in/../../etc/k.json", "spec.encryption.key_url"), ("", "spec.encryption")] {
            let refused = check(Some(&spec(url))).unwrap_err();
            assert!(refused.message().starts_with(field), "{url:?}: {}", refused.message());
        }
    }
}
