//! A strict reader of the OpenMetrics text format (what `/metrics` serves and Prometheus
//! reads): every sample must belong to a family declared by `# TYPE` with a known type, carry
//! a number, and histograms must have non-decreasing cumulative buckets ending in `+Inf`
//! equal to their `_count`; the text must end with `# EOF`.

use std::collections::BTreeMap;

use anyhow::{Context, bail, ensure};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Info,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's full name (`…_total`, `…_bucket`, `…_count`, `…_sum`).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub struct Family {
    pub metric_type: MetricType,
    pub help: String,
    pub samples: Vec<Sample>,
}

/// Families by name.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    pub fn family(&self, name: &str) -> anyhow::Result<&Family> {
        self.families.get(name).with_context(|| format!("no metric family {name}"))
    }

    /// The value of `sample` (a full sample name) whose labels include `labels`; the sum when
    /// several match, an error when none does.
    pub fn value(&self, family: &str, sample: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
        let matching: Vec<f64> = self
            .family(family)?
            .samples
            .iter()
            .filter(|found| found.name == sample && labels.iter().all(|(key, value)| found.labels.get(*key).map(String::as_str) == Some(*value)))
            .map(|found| found.value)
            .collect();
        ensure!(!matching.is_empty(), "no sample {sample}{labels:?} in family {family}");
        Ok(matching.iter().sum())
    }

    pub fn metric_type(&self, family: &str) -> anyhow::Result<MetricType> {
        Ok(self.family(family)?.metric_type)
    }
}

/// Parses and checks `text`.
pub fn parse(text: &str) -> anyhow::Result<Exposition> {
    let mut exposition = Exposition::default();
    let mut ended = false;
    // HELP may come before or after its family's TYPE.
    let mut helps = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line:?}", number + 1);
        ensure!(!ended, "{}: text after # EOF", at());
        if line == "# EOF" {
            ended = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').with_context(at)?;
            let metric_type = match kind {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "info" => MetricType::Info,
                "unknown" => MetricType::Unknown,
                other => bail!("{}: unknown type {other}", at()),
            };
            let family = Family { metric_type, help: String::new(), samples: Vec::new() };
            ensure!(exposition.families.insert(name.to_owned(), family).is_none(), "{}: family declared twice", at());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').with_context(at)?;
            ensure!(helps.insert(name.to_owned(), help.to_owned()).is_none(), "{}: HELP given twice", at());
        } else if line.starts_with("# UNIT ") {
            continue;
        } else if line.starts_with('#') || line.is_empty() {
            bail!("{}: not a line of the format", at());
        } else {
            let sample = parse_sample(line).with_context(at)?;
            let family = family_of(&exposition, &sample.name).with_context(|| format!("{}: no declared family", at()))?;
            exposition.families.get_mut(&family).with_context(at)?.samples.push(sample);
        }
    }
    ensure!(ended, "the text does not end with # EOF");
    for (name, help) in helps {
        exposition.families.get_mut(&name).with_context(|| format!("HELP for {name}, which has no TYPE"))?.help = help;
    }
    for (name, family) in &exposition.families {
        check_family(name, family)?;
    }
    Ok(exposition)
}

/// The declared family a sample name belongs to: itself, or itself less a type's suffix.
fn family_of(exposition: &Exposition, sample: &str) -> Option<String> {
    if exposition.families.contains_key(sample) {
        return Some(sample.to_owned());
    }
    ["_total", "_created", "_bucket", "_count", "_sum", "_info"]
        .iter()
        .filter_map(|suffix| sample.strip_suffix(suffix))
        .find(|base| exposition.families.contains_key(*base))
        .map(str::to_owned)
}

fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let (name_and_labels, value) = if line.contains('{') {
        let close = line.rfind('}').context("unclosed label set")?;
        (&line[..=close], line[close + 1..].trim())
    } else {
        line.split_once(' ').context("no value")?
    };
    let (name, labels) = match name_and_labels.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').context("unclosed label set")?)?),
        None => (name_and_labels, BTreeMap::new()),
    };
    ensure!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "bad metric name {name:?}");
    // A timestamp may follow the value; exemplars are not used.
    let value_text = value.split(' ').next().context("no value")?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().with_context(|| format!("value {text:?} is not a number"))?,
    };
    Ok(Sample { name: name.to_owned(), labels, value })
}

fn parse_labels(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").context("a label is not key=\"value\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => bail!("a label value ends in a backslash"),
                },
                Some((at, '"')) => break at,
                Some((_, c)) => value.push(c),
                None => bail!("an unclosed label value"),
            }
        };
        ensure!(labels.insert(key.trim().to_owned(), value).is_none(), "label {key} twice");
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}

/// A histogram sample's labels without `le`: which series it belongs to.
type LabelsLessLe = Vec<(String, String)>;

fn check_family(name: &str, family: &Family) -> anyhow::Result<()> {
    for sample in &family.samples {
        let suffix = sample.name.strip_prefix(name).unwrap_or_default();
        let allowed: &[&str] = match family.metric_type {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Gauge | MetricType::Unknown => &[""],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
        };
        ensure!(allowed.contains(&suffix), "{}: a {:?} has no sample {}", name, family.metric_type, sample.name);
        if family.metric_type == MetricType::Counter && suffix == "_total" {
            ensure!(sample.value >= 0.0 && sample.value.is_finite(), "{}: counter value {}", sample.name, sample.value);
        }
    }
    if family.metric_type == MetricType::Histogram {
        // Per label set (less `le`): buckets cumulative, +Inf last and equal to _count.
        let mut series: BTreeMap<LabelsLessLe, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for sample in &family.samples {
            let key: LabelsLessLe = sample.labels.iter().filter(|(key, _)| *key != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            if sample.name.ends_with("_bucket") {
                let le = sample.labels.get("le").with_context(|| format!("{name}: a bucket without le"))?;
                let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().with_context(|| format!("{name}: le {le:?}"))? };
                series.entry(key).or_default().push((bound, sample.value));
            } else if sample.name.ends_with("_count") {
                counts.insert(key, sample.value);
            }
        }
        for (key, buckets) in &series {
            ensure!(buckets.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1), "{name}{key:?}: buckets not cumulative: {buckets:?}");
            let last = buckets.last().context("no buckets")?;
            ensure!(last.0 == f64::INFINITY, "{name}{key:?}: no +Inf bucket");
            ensure!(counts.get(key) == Some(&last.1), "{name}{key:?}: +Inf bucket {} but _count {:?}", last.1, counts.get(key));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP shotfarm_raft_term The term.\n# TYPE shotfarm_raft_term gauge\nshotfarm_raft_term 3\n\
        # TYPE shotfarm_x counter\nshotfarm_x_total{kind=\"encode\",outcome=\"a \\\"b\\\"\"} 2\n\
        # TYPE shotfarm_h_seconds histogram\nshotfarm_h_seconds_sum 0.5\nshotfarm_h_seconds_count 2\n\
        shotfarm_h_seconds_bucket{le=\"0.1\"} 1\nshotfarm_h_seconds_bucket{le=\"+Inf\"} 2\n# EOF\n";

    #[test]
    fn reads_families_labels_and_values() -> anyhow::Result<()> {
        let exposition = parse(GOOD)?;
        assert_eq!(exposition.metric_type("shotfarm_raft_term")?, MetricType::Gauge);
        assert_eq!(exposition.value("shotfarm_raft_term", "shotfarm_raft_term", &[])?, 3.0);
        assert_eq!(exposition.value("shotfarm_x", "shotfarm_x_total", &[("outcome", "a \"b\"")])?, 2.0);
        assert_eq!(exposition.value("shotfarm_h_seconds", "shotfarm_h_seconds_count", &[])?, 2.0);
        Ok(())
    }

    #[test]
    fn refuses_what_prometheus_would() {
        for (bad, why) in [
            (GOOD.replace("# EOF\n", ""), "no EOF"),
            (GOOD.replace("shotfarm_raft_term 3", "shotfarm_raft_term three"), "a value that is not a number"),
            (GOOD.replace("# TYPE shotfarm_x counter\n", ""), "a sample of no declared family"),
            (GOOD.replace("{le=\"+Inf\"} 2", "{le=\"+Inf\"} 0"), "buckets that go down"),
            (GOOD.replace("shotfarm_h_seconds_count 2", "shotfarm_h_seconds_count 3"), "+Inf bucket and count disagree"),
            (GOOD.replace("gauge", "gauges"), "an unknown type"),
            (GOOD.replace("shotfarm_x_total", "shotfarm_x_sum"), "a counter with a histogram's sample"),
        ] {
            assert!(parse(&bad).is_err(), "{why} was accepted");
        }
    }
}
