//! Checks on what clients and agents send, before anything is proposed. Each error names
//! the field, what was wrong, and what is accepted.

use shotfarm_proto::pipeline::Codec;
use shotfarm_proto::v1;
use tonic::Status;

use super::status::invalid;
use crate::state::model::JobSpec;

const MAX_URL: usize = 4096;
const MAX_LABELS: usize = 64;
/// The cpu backend encodes at most this many outputs from one decode.
const MAX_RUNGS_PER_ENCODE: u32 = 8;

/// `file:///absolute/path` or `s3://bucket/key`, with no `..` segment and no control characters.
pub fn media_url(field: &str, url: &str) -> Result<(), Status> {
    if url.is_empty() {
        return Err(invalid(field, "is empty; give file:///absolute/path or s3://bucket/key"));
    }
    if url.len() > MAX_URL {
        return Err(invalid(field, format!("is {} bytes long; at most {MAX_URL}", url.len())));
    }
    if url.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    let path = if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(invalid(field, format!("{url:?} is not absolute; use file:///absolute/path")));
        }
        path
    } else if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(invalid(field, format!("{url:?} has no valid bucket name (lowercase letters, digits, '-' and '.')")));
        }
        key
    } else {
        return Err(invalid(field, format!("{url:?} has an unsupported scheme; use file:// or s3://")));
    };
    if path.split('/').any(|segment| segment == "..") || path.contains("%2e%2e") || path.contains("%2E%2E") {
        return Err(invalid(field, format!("{url:?} contains a '..' segment")));
    }
    Ok(())
}

pub fn request_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid("request_id", "must be 1..=128 printable ASCII characters (a unique id you reuse when retrying)"));
    }
    Ok(())
}

pub fn job_spec(spec: Option<&v1::JobSpec>) -> Result<JobSpec, Status> {
    let spec = spec.ok_or_else(|| invalid("spec", "is missing"))?;
    media_url("spec.input_url", &spec.input_url)?;
    media_url("spec.output_url", &spec.output_url)?;
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
    Ok(JobSpec {
        input_url: spec.input_url.clone(),
        output_url: spec.output_url.trim_end_matches('/').to_owned(),
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

    #[test]
    fn urls_are_checked() {
        assert!(media_url("u", "file:///data/in.mp4").is_ok());
        assert!(media_url("u", "s3://bucket/path/in.mp4").is_ok());
        for bad in ["", "in.mp4", "file://relative/x", "http://host/x", "file:///a/../etc/passwd", "s3:///x", "s3://Bad_Bucket/x", "file:///a\n"] {
            let status = media_url("spec.input_url", bad).expect_err(bad);
            assert!(status.message().starts_with("spec.input_url"), "{}", status.message());
        }
    }

    #[test]
    fn specs_are_checked() {
        let mut spec = v1::JobSpec {
            input_url: "file:///in.mp4".into(),
            output_url: "file:///out/".into(),
            codecs: vec!["H264".into(), "avc".into()],
            ..Default::default()
        };
        let checked = job_spec(Some(&spec)).expect("valid");
        assert_eq!(checked.codecs, vec!["h264".to_owned()]);
        assert_eq!(checked.output_url, "file:///out");
        spec.priority = 1000;
        assert!(job_spec(Some(&spec)).is_err());
        spec.priority = 0;
        spec.codecs = vec!["mpeg2".into()];
        assert!(job_spec(Some(&spec)).is_err());
        spec.codecs = vec![];
        spec.chunk_min_ms = 9000;
        spec.chunk_max_ms = 3000;
        assert!(job_spec(Some(&spec)).is_err());
        spec.chunk_min_ms = 0;
        spec.chunk_max_ms = 0;
        assert_eq!(job_spec(Some(&spec)).expect("valid").rungs_per_encode, 1, "0 means one rung per encode task");
        spec.rungs_per_encode = 9;
        assert!(job_spec(Some(&spec)).unwrap_err().message().starts_with("spec.rungs_per_encode"));
        spec.rungs_per_encode = 0;
        spec.quality_scoring = 7;
        assert!(job_spec(Some(&spec)).unwrap_err().message().starts_with("spec.quality_scoring"));
        spec.quality_scoring = v1::QualityScoring::Off as i32;
        assert!(!job_spec(Some(&spec)).expect("valid").score_quality);
        assert!(job_spec(None).is_err());
    }
}
