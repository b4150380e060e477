//! Step outputs kept by reference: a step whose result is too large for workflow history
//! is stored whole here (already redacted), and history carries a capped copy with the
//! sha256 of the whole ([`StepResult::output_ref`]).

use aetherius_core::{HISTORY_STEP_BYTES, StepResult, output_digest};

/// One stored step output.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOutput {
    /// The step's activity id.
    pub step_id: String,
    /// kubectl-equivalent line.
    pub command: String,
    /// The whole output text.
    pub output: String,
    /// The whole list of objects.
    pub objects: Vec<serde_json::Value>,
    /// SHA-256 (hex) of output and objects, as [`output_digest`] computes it.
    pub sha256: String,
}

/// `result` as history may carry it: unchanged when it fits in [`HISTORY_STEP_BYTES`];
/// else stored whole in `step_outputs` (when `pool` is given and the write succeeds:
/// `output_ref` then names it) and capped with a marker.
pub async fn bound(pool: Option<&sqlx::PgPool>, workflow_id: &str, step_id: &str, result: StepResult) -> StepResult {
    let size = result.output.len() + result.objects.iter().map(|o| o.to_string().len()).sum::<usize>();
    if size <= HISTORY_STEP_BYTES {
        return result;
    }
    let mut output_ref = None;
    if let Some(pool) = pool {
        let sha = output_digest(&result.output, &result.objects);
        match store(pool, workflow_id, step_id, &result, &sha).await {
            Ok(()) => output_ref = Some(sha),
            Err(e) => tracing::warn!(error = %e, workflow_id, step_id, "step output not stored; history keeps the capped copy only"),
        }
    }
    let mut capped = result.capped(HISTORY_STEP_BYTES);
    capped.truncated = true;
    capped.output.push_str(&match &output_ref {
        Some(sha) => format!("\n[... cut to fit workflow history: the whole {size} bytes are in step_outputs (step {step_id}, sha256 {sha}) ...]"),
        None => format!("\n[... cut to fit workflow history from {size} bytes; the whole was not kept ...]"),
    });
    capped.output_ref = output_ref;
    capped
}

/// Stores (or replaces, on a retried attempt) a step's whole output.
pub async fn store(pool: &sqlx::PgPool, workflow_id: &str, step_id: &str, result: &StepResult, sha256: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO step_outputs (workflow_id, step_id, command, output, objects, sha256) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workflow_id, step_id) DO UPDATE SET command = EXCLUDED.command, output = EXCLUDED.output,
           objects = EXCLUDED.objects, sha256 = EXCLUDED.sha256, created_at = now()",
    )
    .bind(workflow_id)
    .bind(step_id)
    .bind(result.command.to_string())
    .bind(&result.output)
    .bind(serde_json::Value::Array(result.objects.clone()))
    .bind(sha256)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Deletes outputs stored more than `days` days ago (the audit retention: an audit row's
/// `result_digest` names its output, so both go together); returns how many. `days` 0 is
/// refused: keeping everything is the caller's choice, by not calling this.
pub async fn prune(pool: &sqlx::PgPool, days: u32) -> sqlx::Result<u64> {
    if days == 0 {
        return Err(sqlx::Error::Protocol("step output retention must be at least 1 day".into()));
    }
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    // In batches, so a first run over a year of outputs holds no long lock.
    let mut deleted = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM step_outputs WHERE ctid IN (
                 SELECT ctid FROM step_outputs WHERE created_at < now() - make_interval(days => $1) LIMIT 5000)",
        )
        .bind(days)
        .execute(pool)
        .await?;
        deleted += done.rows_affected();
        if done.rows_affected() == 0 {
            return Ok(deleted);
        }
    }
}

/// A workflow's stored step outputs, in the order they were stored.
pub async fn load(pool: &sqlx::PgPool, workflow_id: &str) -> sqlx::Result<Vec<StoredOutput>> {
    let rows: Vec<(String, String, String, serde_json::Value, String)> = sqlx::query_as(
        "SELECT step_id, command, output, objects, sha256 FROM step_outputs WHERE workflow_id = $1 ORDER BY created_at, step_id",
    )
    .bind(workflow_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(step_id, command, output, objects, sha256)| StoredOutput {
            step_id,
            command,
            output,
            objects: match objects {
                serde_json::Value::Array(a) => a,
                _ => vec![],
            },
            sha256,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherius_core::{Command, StepStatus};

    fn log_step(text: String) -> StepResult {
        let command = Command::logs("c", "ns", "p", "app", true, 200);
        StepResult { command, status: StepStatus::Success, output: text, objects: vec![], error: None, truncated: false, duration_ms: 3, output_ref: None }
    }

    #[tokio::test]
    async fn a_small_result_goes_to_history_unchanged() {
        let r = log_step("fatal: boom\n".into());
        assert_eq!(bound(None, "wf", "3", r.clone()).await, r);
    }

    #[tokio::test]
    async fn without_a_store_a_large_result_is_capped_and_says_the_whole_was_not_kept() {
        let r = bound(None, "wf", "3", log_step("noise\n".repeat(100_000) + "fatal: boom\n")).await;
        assert!(r.truncated && r.output_ref.is_none());
        assert!(r.output.len() < HISTORY_STEP_BYTES + 1024, "{}", r.output.len());
        assert!(r.output.contains("fatal: boom\n") && r.output.ends_with("the whole was not kept ...]"), "{}", &r.output[r.output.len() - 200..]);
    }
}
