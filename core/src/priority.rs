//! The seed's priority formula: severity + cluster weight + namespace weight + history.

use std::collections::BTreeMap;

/// Weights an operator configures; unknown clusters and namespaces weigh 0.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PriorityWeights {
    /// Extra priority per cluster id.
    #[serde(default)]
    pub clusters: BTreeMap<String, i64>,
    /// Extra priority per namespace.
    #[serde(default)]
    pub namespaces: BTreeMap<String, i64>,
}

/// Base priority of a severity label. Prometheus stacks say critical / warning / info;
/// the seed says critical / high / medium / low; both are understood.
pub fn severity_weight(severity: &str) -> i64 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" | "page" | "emergency" | "fatal" => 100,
        "high" | "error" | "major" => 50,
        "warning" | "medium" | "minor" => 10,
        "low" | "info" | "informational" => 1,
        _ => 0,
    }
}

/// Priority score: larger is more urgent. `recent_occurrences` is how often this alert name
/// fired recently; frequent problems (more than 5) gain twice their count, as in the seed.
pub fn score(
    severity: &str,
    cluster: &str,
    namespace: Option<&str>,
    recent_occurrences: i64,
    weights: &PriorityWeights,
) -> i64 {
    let mut p = severity_weight(severity);
    p += weights.clusters.get(cluster).copied().unwrap_or(0);
    if let Some(ns) = namespace {
        p += weights.namespaces.get(ns).copied().unwrap_or(0);
    }
    if recent_occurrences > 5 {
        p += recent_occurrences * 2;
    }
    p
}

/// Temporal task priority key (1 = most urgent, 5 = least) for a score.
pub fn temporal_priority_key(score: i64) -> u32 {
    match score {
        s if s >= 100 => 1,
        s if s >= 50 => 2,
        s if s >= 10 => 3,
        s if s > 0 => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_outranks_warning_and_weights_add_up() {
        let mut w = PriorityWeights::default();
        w.clusters.insert("prod".into(), 30);
        w.namespaces.insert("payments".into(), 20);
        assert_eq!(score("critical", "dev", None, 0, &w), 100);
        assert_eq!(score("warning", "prod", Some("payments"), 0, &w), 60);
        assert_eq!(score("warning", "dev", None, 6, &w), 22);
        assert_eq!(score("warning", "dev", None, 5, &w), 10);
        assert_eq!(score("Critical", "dev", None, 0, &w), 100);
    }

    #[test]
    fn scores_map_to_temporal_priority_keys() {
        assert_eq!(temporal_priority_key(130), 1);
        assert_eq!(temporal_priority_key(60), 2);
        assert_eq!(temporal_priority_key(10), 3);
        assert_eq!(temporal_priority_key(1), 4);
        assert_eq!(temporal_priority_key(0), 5);
    }
}
