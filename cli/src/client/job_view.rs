//! How a job is shown (one line for people, one JSON object for programs) and how a command
//! that waited for it ends when it did not succeed.

use shotfarm_proto::v1;

use crate::exit::CommandError;

pub use shotfarm_proto::state_names::job_state as state_name;

/// The error a job that did not succeed ends a waiting command with: exit 3 when its source
/// was inspected and rejected (the inspect task failed: fix the source), exit 1 otherwise.
pub fn unsuccessful(job: &v1::Job) -> CommandError {
    let rejected = job.tasks.iter().any(|task| task.kind == "inspect" && task.state == v1::TaskState::Failed as i32);
    let error = anyhow::anyhow!("job {} {}: {}", job.job_id, state_name(job.state), job.error);
    if rejected { CommandError::rejected(error) } else { CommandError::from(error) }
}

pub fn is_final(job: &v1::Job) -> bool {
    matches!(state_name(job.state), "succeeded" | "failed" | "cancelled")
}

pub fn json(job: &v1::Job) -> serde_json::Value {
    let spec = job.spec.clone().unwrap_or_default();
    serde_json::json!({
        "job_id": job.job_id,
        "state": state_name(job.state),
        "error": if job.error.is_empty() { serde_json::Value::Null } else { job.error.clone().into() },
        "input_url": spec.input_url,
        "output_url": spec.output_url,
        "priority": spec.priority,
        "tasks_total": job.tasks_total,
        "tasks_done": job.tasks_done,
        "created_at_ms": job.created_at_ms,
        "finished_at_ms": if job.finished_at_ms == 0 { serde_json::Value::Null } else { job.finished_at_ms.into() },
        "request_id": job.request_id,
        "recipe": if job.recipe.is_empty() { serde_json::Value::Null } else { serde_json::json!({ "name": job.recipe, "version": job.recipe_version }) },
        "callback": job.callback.as_ref().map(|callback| serde_json::json!({
            "url": callback.url,
            "events": callback.events,
            "delivered": callback.delivered,
            "given_up": callback.given_up,
            "failed_attempts": callback.failed_attempts,
            "last_error": callback.last_error,
            "next_attempt_at_ms": callback.next_attempt_at_ms,
        })),
        "tasks": job.tasks.iter().map(|task| serde_json::json!({
            "task_id": task.task_id,
            "kind": task.kind,
            "label": task.label,
            "state": shotfarm_proto::state_names::task_state(task.state),
            "attempt": task.attempt,
            "node_id": task.node_id,
            "backend": task.backend,
            "error": task.error,
        })).collect::<Vec<_>>(),
    })
}

pub fn line(job: &v1::Job) -> String {
    let spec = job.spec.clone().unwrap_or_default();
    let mut text = format!(
        "{:<10} {:<10} {:>4}/{:<4} {} -> {}",
        job.job_id,
        state_name(job.state),
        job.tasks_done,
        job.tasks_total,
        spec.input_url,
        spec.output_url
    );
    if !job.error.is_empty() {
        text.push_str(&format!("\n           error: {}", job.error));
    }
    if let Some(callback) = &job.callback {
        text.push_str(&format!("\n           {}", callback_line(callback)));
    }
    text
}

/// `callback: 3/4 events delivered to URL; event 4 refused 2 times (HTTP 503: …), next try in 3 s`.
fn callback_line(callback: &v1::CallbackDelivery) -> String {
    let mut text = format!("callback: {}/{} events delivered to {}", callback.delivered, callback.events, callback.url);
    if callback.given_up > 0 {
        text.push_str(&format!(", {} given up", callback.given_up));
    }
    let owed = callback.events.saturating_sub(callback.delivered + callback.given_up);
    if owed > 0 && callback.failed_attempts > 0 {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64);
        let wait_s = callback.next_attempt_at_ms.saturating_sub(now_ms).div_ceil(1000);
        text.push_str(&format!(
            "; event {} refused {} times ({}), next try in {wait_s} s",
            callback.delivered + callback.given_up + 1,
            callback.failed_attempts,
            callback.last_error
        ));
    } else if !callback.last_error.is_empty() {
        text.push_str(&format!(" (last error: {})", callback.last_error));
    }
    text
}
