//! The priority formula's history term: how often the same alert (name + cluster) was
//! diagnosed in the last 24 hours, from the stored reports; cached for a minute per alert.

use crate::AppState;
use aetherius_core::StandardEvent;
use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

/// How long a count is reused before PostgreSQL is asked again.
const TTL: Duration = Duration::from_secs(60);

type Cache = Mutex<HashMap<(String, String), (Instant, i64)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// Reports of `event`'s alert name on its cluster in the last 24 h (0 when PostgreSQL cannot
/// answer: a missing history never blocks a diagnosis).
pub(crate) async fn recent_occurrences(state: &AppState, event: &StandardEvent) -> i64 {
    let key = (event.cluster_id.clone(), event.alertname().to_owned());
    if let Some((at, n)) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && at.elapsed() < TTL
    {
        return *n;
    }
    let counted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "SELECT count(*) FROM reports WHERE alert_name = $1 AND cluster_id = $2 AND created_at > now() - interval '24 hours'",
    )
    .bind(&key.1)
    .bind(&key.0)
    .fetch_one(&state.pool)
    .await;
    match counted {
        Ok(n) => {
            let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 10_000 {
                cache.retain(|_, (at, _)| at.elapsed() < TTL);
            }
            cache.insert(key, (Instant::now(), n));
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, alertname = %key.1, cluster = %key.0, "could not count recent reports; history term 0");
            0
        }
    }
}
