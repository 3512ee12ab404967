//! How the process logs, to stderr (stdout stays for `--json` output): `SHOTFARM_LOG` picks
//! what (a `tracing` filter, `warn` unless set), `SHOTFARM_LOG_FORMAT` how — `text` (the
//! default) or `json`: one JSON object a line with the event's fields, its span, and every
//! span it is in with their fields (`replica`/`term` of the Raft driver, `node_id` of an
//! agent, `job_id`/`task_id` of an attempt), for log shippers.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// From `SHOTFARM_LOG_FORMAT`'s value (unset: text).
    pub fn parse(value: Option<&str>) -> Result<LogFormat, String> {
        match value.map(str::trim) {
            None | Some("" | "text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!("SHOTFARM_LOG_FORMAT={other:?} is not a log format: use text (the default) or json")),
        }
    }
}

/// Installs the process's subscriber.
pub fn install(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SHOTFARM_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(true).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_text_or_json_and_anything_else_says_so() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("json")), Ok(LogFormat::Json));
        let refusal = LogFormat::parse(Some("JSONL")).expect_err("not a format");
        assert!(refusal.contains("use text (the default) or json"), "{refusal}");
    }
}
