//! The report pool: render the diagnosis, store it in PostgreSQL with its audit rows.

pub mod audit;
pub mod render;

pub use render::{Format, ReportView, markdown, md_escape, render};

use crate::llm::{Prices, UsageStore};
use aetherius_core::{ReportInput, StoredReport, queues::activity};
use sqlx::PgPool;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Activities of the report pool.
pub struct ReportActivities {
    pool: PgPool,
    prices: Prices,
}

impl ReportActivities {
    /// Stores reports in `pool`.
    pub fn new(pool: PgPool) -> Self {
        ReportActivities { pool, prices: Prices::default() }
    }

    /// Prices the report's LLM use with `prices` (`[llm.prices]`).
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    /// Renders and stores a report, with the diagnosis' LLM use from the usage ledger
    /// (every call, priced where `[llm.prices]` knows the model). Idempotent per workflow
    /// id, so Temporal's retries never store a report twice; the audit rows are keyed, so
    /// never written twice.
    pub async fn store(&self, input: &ReportInput) -> Result<StoredReport, sqlx::Error> {
        // The ledger only adds figures: when it cannot be read (a database not yet migrated),
        // the report still goes out, with the first analysis' figures.
        let spend = UsageStore::Postgres(self.pool.clone()).task_spend(&input.workflow_id).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, workflow_id = %input.workflow_id, "the LLM usage ledger could not be read; the report states the first analysis' tokens only");
            vec![]
        });
        let input = &ReportInput { llm_usage: spend.into_iter().map(|s| self.prices.priced(s)).collect(), ..input.clone() };
        let md = markdown(input);
        let d = &input.diagnosis;
        let report = serde_json::to_value(input).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut tx = self.pool.begin().await?;
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO reports (id, workflow_id, cluster_id, namespace, alert_name, severity, root_cause, resource, summary, confidence, report, markdown)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (workflow_id) DO UPDATE SET report = EXCLUDED.report, markdown = EXCLUDED.markdown,
                root_cause = EXCLUDED.root_cause, resource = EXCLUDED.resource, summary = EXCLUDED.summary,
                confidence = EXCLUDED.confidence
             RETURNING id",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(&input.workflow_id)
        .bind(&input.event.cluster_id)
        .bind(&input.event.namespace)
        .bind(input.event.alertname())
        .bind(&input.event.severity)
        .bind(d.root_cause.as_str())
        .bind(&d.resource)
        .bind(&d.summary)
        .bind(d.confidence)
        .bind(&report)
        .bind(&md)
        .fetch_one(&mut *tx)
        .await?;
        for entry in audit::entries(input) {
            audit::record(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(StoredReport { report_id: id.to_string() })
    }
}

#[activities]
impl ReportActivities {
    /// Renders and stores the report.
    #[activity(name = activity::REPORT)]
    pub async fn report(self: Arc<Self>, ctx: ActivityContext, input: ReportInput) -> Result<StoredReport, ActivityError> {
        crate::heartbeat::heartbeating(&ctx, self.store(&input)).await?.map_err(|e| {
            tracing::warn!(error = %e, workflow_id = %input.workflow_id, "storing the report failed, Temporal will retry");
            ActivityError::from(e)
        })
    }
}
