//! What the analyze step asks the knowledge base: "do we know this alert?"

use super::{Entry, Error, KnowledgeBase, ListFilter};
use aetherius_core::StandardEvent;
use serde::Serialize;
use std::collections::BTreeMap;

/// A match at this score or above makes a knowledge-based analysis (seed).
pub const KNOWLEDGE_BASED_MIN_SCORE: f64 = 0.8;

/// An entry that may explain an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertMatch {
    /// The entry.
    pub entry: Entry,
    /// 1 - cosine distance between the alert's text ([`alert_text`]) and the entry.
    pub score: f64,
    /// The entry is the runbook written for this very alert name (its
    /// `metadata.alertname`): it applies whatever its score.
    pub same_alertname: bool,
}

impl AlertMatch {
    /// Whether the analysis can rest on this entry (seed: score >= 0.8), or the entry is the
    /// alert's own runbook.
    pub fn is_knowledge_based(&self) -> bool {
        self.same_alertname || self.score >= KNOWLEDGE_BASED_MIN_SCORE
    }
}

/// Splits `KubePodCrashLooping` into `Kube Pod Crash Looping` and `CPUThrottlingHigh` into
/// `CPU Throttling High`: the model knows words, not alert names.
fn words_of(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && c.is_uppercase() && (chars[i - 1].is_lowercase() || (chars[i - 1].is_uppercase() && next_lower)) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Labels that say what kind of trouble it is (not which object): worth embedding.
const TELLING_LABELS: [&str; 3] = ["reason", "condition", "phase"];

/// The text an alert is searched by: its name in words, its summary and description
/// (or message), and the labels that describe the trouble. Object names and other
/// identifiers are left out: they would only pull the vector towards noise.
pub fn alert_text(alertname: &str, labels: &BTreeMap<String, String>, annotations: &BTreeMap<String, String>) -> String {
    let mut parts = vec![format!("{} ({alertname})", words_of(alertname))];
    for key in ["summary", "description", "message"] {
        if let Some(v) = annotations.get(key).filter(|v| !v.trim().is_empty()) {
            parts.push(v.trim().to_owned());
        }
    }
    for key in TELLING_LABELS {
        if let Some(v) = labels.get(key) {
            parts.push(format!("{key}: {v}"));
        }
    }
    parts.join("\n")
}

impl KnowledgeBase {
    /// Entries that may explain `event`, best first: the alert's own runbook (by
    /// `metadata.alertname`) when there is one, then the nearest entries by meaning with a
    /// score of at least the configured threshold (0.7), at most the configured top_k (5).
    ///
    /// `first().filter(|m| m.is_knowledge_based())` is the seed's rule for a
    /// knowledge-based analysis.
    pub async fn match_alert(&self, event: &StandardEvent) -> Result<Vec<AlertMatch>, Error> {
        self.match_alert_parts(event.alertname(), &event.labels, &event.annotations).await
    }

    /// [`match_alert`](Self::match_alert) from the parts of an alert.
    pub async fn match_alert_parts(
        &self,
        alertname: &str,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Vec<AlertMatch>, Error> {
        let vector = self.embed_query(&alert_text(alertname, labels, annotations)).await?;
        let top_k = self.options.top_k.clamp(1, 100);
        let similar = self.search_by_vector(&vector, top_k, self.options.threshold, &ListFilter::default()).await?;
        let own: Vec<(Entry, f64)> = if alertname.is_empty() {
            vec![]
        } else {
            sqlx::query_as::<_, super::Scored>(self.sql(
                "SELECT {COLS}, embedding <=> $1::real[]::vector AS distance FROM {E}
                 WHERE metadata->>'alertname' = $2 AND embedding_model = $3 ORDER BY embedding <=> $1::real[]::vector LIMIT 1",
            ))
            .bind(vector.as_slice())
            .bind(alertname)
            .bind(self.embedder.model_id())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|s| (s.entry, 1.0 - s.distance))
            .collect()
        };
        let mut out: Vec<AlertMatch> =
            own.into_iter().map(|(entry, score)| AlertMatch { entry, score, same_alertname: true }).collect();
        for m in similar {
            if !out.iter().any(|o| o.entry.id == m.entry.id) {
                out.push(AlertMatch { entry: m.entry, score: m.score, same_alertname: false });
            }
        }
        out.truncate(top_k);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_become_words() {
        assert_eq!(words_of("KubePodCrashLooping"), "Kube Pod Crash Looping");
        assert_eq!(words_of("CPUThrottlingHigh"), "CPU Throttling High");
        assert_eq!(words_of("KubeAPIErrorBudgetBurn"), "Kube API Error Budget Burn");
        assert_eq!(words_of("TargetDown"), "Target Down");
    }

    #[test]
    fn alert_text_keeps_the_meaning_and_drops_identifiers() {
        let labels = BTreeMap::from([
            ("pod".to_owned(), "api-7d9f-x2".to_owned()),
            ("namespace".to_owned(), "shop".to_owned()),
            ("reason".to_owned(), "CrashLoopBackOff".to_owned()),
        ]);
        let annotations = BTreeMap::from([("summary".to_owned(), "Pod is crash looping.".to_owned())]);
        let text = alert_text("KubePodCrashLooping", &labels, &annotations);
        assert_eq!(text, "Kube Pod Crash Looping (KubePodCrashLooping)\nPod is crash looping.\nreason: CrashLoopBackOff");
    }
}
