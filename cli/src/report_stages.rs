//! A job's stage times as its `report.json` gives them (`timings.stages`: seconds from a
//! stage's first task starting to its last one ending), in pipeline order, and their
//! one-line form. Stages that ran side by side (encodes and scores) overlap.

use shotfarm_proto::pipeline::TaskKind;

/// `(stage, seconds)` in pipeline order ([`TaskKind::ALL`]; a stage this build does not know
/// comes last), or `None` when the report has no stage times.
pub fn stage_times(report: &serde_json::Value) -> Option<Vec<(String, f64)>> {
    let stages = report["timings"]["stages"].as_object()?;
    let mut named: Vec<(String, f64)> = stages.iter().filter_map(|(name, seconds)| Some((name.clone(), seconds.as_f64()?))).collect();
    named.sort_by_key(|(name, _)| TaskKind::parse(name).map_or(usize::MAX, TaskKind::pipeline_position));
    Some(named)
}

/// "inspect 2.3 s, encode 19.9 s, …"
pub fn one_line(stages: &[(String, f64)]) -> String {
    stages.iter().map(|(name, seconds)| format!("{name} {seconds:.1} s")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_times_come_out_in_pipeline_order() {
        let report = serde_json::json!({"timings": {"stages": {"validate": 2.0, "encode": 20.0, "inspect": 2.5, "package": 0.4, "assemble": 0.3, "audio": 0.6, "later": 1.0}}});
        let stages = stage_times(&report).unwrap();
        assert_eq!(one_line(&stages), "inspect 2.5 s, encode 20.0 s, assemble 0.3 s, validate 2.0 s, audio 0.6 s, package 0.4 s, later 1.0 s");
        assert!(stage_times(&serde_json::json!({"timings": {}})).is_none());
    }
}
