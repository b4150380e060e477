//! Token accounting: what each diagnosis (task = workflow id) and each UTC day spent, from
//! the `usage` field of every answer. In PostgreSQL (`llm_usage_task`, `llm_usage_daily`)
//! so the daily budget survives restarts and is shared by every replica; in memory for
//! tools and tests that have no database.

use aetherius_core::ModelSpend;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::{collections::HashMap, sync::Mutex};

/// Tokens one answer used (the response's `usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Total.
    pub total_tokens: u64,
}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    /// The diagnosis' own budget.
    Task,
    /// All diagnoses of the UTC day.
    Day,
}

impl std::fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BudgetScope::Task => "task",
            BudgetScope::Day => "day",
        })
    }
}

/// Tokens spent so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spent {
    /// By this task.
    pub task: u64,
    /// By every task of the day.
    pub day: u64,
}

/// `INSERT ... ON CONFLICT` adding one answer to a usage row keyed by `keys` (bound first,
/// then prompt, completion and total tokens): per task, per task and model, per day and model.
static ADD_ANSWER: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    let sql = |table: &str, keys: &[&str]| {
        let n = keys.len();
        let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let add = |col: &str| format!("{col} = {table}.{col} + EXCLUDED.{col}");
        format!(
            "INSERT INTO {table} ({k}, requests, prompt_tokens, completion_tokens, total_tokens) VALUES ({v}, 1, ${}, ${}, ${})
             ON CONFLICT ({k}) DO UPDATE SET requests = {table}.requests + 1, {}, {}, {}, updated_at = now()",
            n + 1,
            n + 2,
            n + 3,
            add("prompt_tokens"),
            add("completion_tokens"),
            add("total_tokens"),
            k = keys.join(", "),
            v = placeholders.join(", "),
        )
    };
    [sql("llm_usage_task", &["task_id"]), sql("llm_usage_task_model", &["task_id", "model"]), sql("llm_usage_daily", &["day", "model"])]
});

/// The "model" of tokens the task ledger counted but the per-model ledger did not (calls
/// recorded before it existed).
pub const UNATTRIBUTED: &str = "(model not recorded)";

/// Where usage is kept.
pub enum UsageStore {
    /// Shared by replicas, kept across restarts.
    Postgres(PgPool),
    /// This process only (tools, tests without a database).
    Memory(Mutex<MemoryUsage>),
}

/// In-memory totals.
#[derive(Debug, Default)]
pub struct MemoryUsage {
    tasks: HashMap<String, u64>,
    days: HashMap<NaiveDate, u64>,
    by_model: HashMap<(String, String), ModelSpend>,
}

impl UsageStore {
    /// An empty in-memory store.
    pub fn memory() -> UsageStore {
        UsageStore::Memory(Mutex::new(MemoryUsage::default()))
    }

    /// Tokens spent by `task` and on `day`.
    pub async fn spent(&self, task: &str, day: NaiveDate) -> Result<Spent, sqlx::Error> {
        match self {
            UsageStore::Postgres(pool) => {
                let task_total: Option<i64> =
                    sqlx::query_scalar("SELECT total_tokens FROM llm_usage_task WHERE task_id = $1").bind(task).fetch_optional(pool).await?;
                let day_total: Option<i64> =
                    sqlx::query_scalar("SELECT SUM(total_tokens)::BIGINT FROM llm_usage_daily WHERE day = $1").bind(day).fetch_one(pool).await?;
                Ok(Spent { task: task_total.unwrap_or(0).max(0) as u64, day: day_total.unwrap_or(0).max(0) as u64 })
            }
            UsageStore::Memory(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                Ok(Spent { task: m.tasks.get(task).copied().unwrap_or(0), day: m.days.get(&day).copied().unwrap_or(0) })
            }
        }
    }

    /// Adds one answer's usage to `task` and `day` (atomically per row, so concurrent
    /// replicas add up).
    pub async fn record(&self, task: &str, day: NaiveDate, model: &str, usage: &TokenUsage) -> Result<(), sqlx::Error> {
        match self {
            UsageStore::Postgres(pool) => {
                let (p, c, t) = (usage.prompt_tokens as i64, usage.completion_tokens as i64, usage.total_tokens as i64);
                let mut tx = pool.begin().await?;
                let [per_task, per_task_model, per_day] = &*ADD_ANSWER;
                for (sql, keys) in [(per_task, vec![task]), (per_task_model, vec![task, model])] {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for k in keys {
                        q = q.bind(k);
                    }
                    q.bind(p).bind(c).bind(t).execute(&mut *tx).await?;
                }
                sqlx::query(sqlx::AssertSqlSafe(per_day.as_str())).bind(day).bind(model).bind(p).bind(c).bind(t).execute(&mut *tx).await?;
                tx.commit().await
            }
            UsageStore::Memory(m) => {
                let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
                *m.tasks.entry(task.to_owned()).or_default() += usage.total_tokens;
                *m.days.entry(day).or_default() += usage.total_tokens;
                let spend = m
                    .by_model
                    .entry((task.to_owned(), model.to_owned()))
                    .or_insert_with(|| ModelSpend { model: model.to_owned(), ..ModelSpend::default() });
                spend.requests += 1;
                spend.prompt_tokens += usage.prompt_tokens;
                spend.completion_tokens += usage.completion_tokens;
                spend.total_tokens += usage.total_tokens;
                Ok(())
            }
        }
    }

    /// What `task` spent, per model (most tokens first), without prices.
    pub async fn task_spend(&self, task: &str) -> Result<Vec<ModelSpend>, sqlx::Error> {
        let mut spends = match self {
            UsageStore::Postgres(pool) => {
                let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT model, requests, prompt_tokens, completion_tokens, total_tokens
                     FROM llm_usage_task_model WHERE task_id = $1",
                )
                .bind(task)
                .fetch_all(pool)
                .await?;
                let n = |v: i64| v.max(0) as u64;
                let mut spends: Vec<ModelSpend> = rows
                    .into_iter()
                    .map(|(model, r, p, c, t)| ModelSpend {
                        model,
                        requests: n(r),
                        prompt_tokens: n(p),
                        completion_tokens: n(c),
                        total_tokens: n(t),
                        cost_usd: None,
                    })
                    .collect();
                // Calls counted for the task but not per model (recorded by a version from
                // before the per-model ledger): shown as such, never spread over a model.
                let task: Option<(i64, i64, i64, i64)> =
                    sqlx::query_as("SELECT requests, prompt_tokens, completion_tokens, total_tokens FROM llm_usage_task WHERE task_id = $1")
                        .bind(task)
                        .fetch_optional(pool)
                        .await?;
                if let Some((r, p, c, t)) = task {
                    let sum = |f: fn(&ModelSpend) -> u64| spends.iter().map(f).sum::<u64>();
                    let rest = ModelSpend {
                        model: UNATTRIBUTED.to_owned(),
                        requests: n(r).saturating_sub(sum(|m| m.requests)),
                        prompt_tokens: n(p).saturating_sub(sum(|m| m.prompt_tokens)),
                        completion_tokens: n(c).saturating_sub(sum(|m| m.completion_tokens)),
                        total_tokens: n(t).saturating_sub(sum(|m| m.total_tokens)),
                        cost_usd: None,
                    };
                    if rest.total_tokens > 0 {
                        spends.push(rest);
                    }
                }
                spends
            }
            UsageStore::Memory(m) => {
                let m = m.lock().unwrap_or_else(|p| p.into_inner());
                m.by_model.iter().filter(|((t, _), _)| t == task).map(|(_, s)| s.clone()).collect::<Vec<_>>()
            }
        };
        spends.sort_by(|a, b| b.total_tokens.cmp(&a.total_tokens).then_with(|| a.model.cmp(&b.model)));
        Ok(spends)
    }

    /// Deletes the per-diagnosis usage (task and per-model rows) last written more than
    /// `days` ago (the audit retention; the daily totals stay). Returns the rows deleted.
    pub async fn prune_tasks(pool: &PgPool, days: u32) -> Result<u64, sqlx::Error> {
        if days == 0 {
            return Err(sqlx::Error::Protocol("LLM usage retention must be at least 1 day".into()));
        }
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        let mut deleted = 0;
        for sql in [
            "DELETE FROM llm_usage_task_model WHERE updated_at < now() - make_interval(days => $1)",
            "DELETE FROM llm_usage_task WHERE updated_at < now() - make_interval(days => $1)",
        ] {
            deleted += sqlx::query(sql).bind(days).execute(pool).await?.rows_affected();
        }
        Ok(deleted)
    }

    /// Checks that the store can be read (the migration ran).
    pub async fn check(&self) -> Result<(), sqlx::Error> {
        if let UsageStore::Postgres(pool) = self {
            sqlx::query("SELECT 1 FROM llm_usage_daily LIMIT 1").execute(pool).await?;
            sqlx::query("SELECT 1 FROM llm_usage_task LIMIT 1").execute(pool).await?;
            sqlx::query("SELECT 1 FROM llm_usage_task_model LIMIT 1").execute(pool).await?;
        }
        Ok(())
    }
}

/// Rough token count of a text (about 4 bytes a token, rounded up): for the budget check
/// before a call, never for accounting when the server reports usage.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}
