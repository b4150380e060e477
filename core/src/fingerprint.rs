//! Alert identity: the fingerprint of a label set and the workflow id derived from it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A stable 16-hex-digit fingerprint of a label set (order-independent), used when the
/// alert carries no Alertmanager fingerprint.
pub fn of_labels(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in labels {
        // Separators that cannot appear in label names keep ("a","bc") apart from ("ab","c").
        hasher.update(k.as_bytes());
        hasher.update([0xff]);
        hasher.update(v.as_bytes());
        hasher.update([0xfe]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// The diagnosis workflow id for one firing episode of an alert.
///
/// Cluster + fingerprint identify the alert; `starts_at` identifies the episode, so
/// Alertmanager's repeated notifications of the same firing alert map to the same id (and
/// Temporal refuses a second run), while the same alert firing again next week gets a new
/// diagnosis.
pub fn workflow_id(cluster: &str, fingerprint: &str, starts_at: DateTime<Utc>) -> String {
    let cluster: String = cluster
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .collect();
    format!("diag-{cluster}-{fingerprint}-{}", starts_at.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fingerprint_ignores_insertion_order_but_not_values() {
        let a = of_labels(&labels(&[("alertname", "X"), ("pod", "p")]));
        let b = of_labels(&labels(&[("pod", "p"), ("alertname", "X")]));
        let c = of_labels(&labels(&[("alertname", "X"), ("pod", "q")]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn fingerprint_separates_shifted_boundaries() {
        assert_ne!(
            of_labels(&labels(&[("a", "bc")])),
            of_labels(&labels(&[("ab", "c")]))
        );
    }

    #[test]
    fn workflow_id_is_stable_per_episode() {
        let t = "2026-11-20T10:00:00Z".parse().unwrap();
        let t2 = "2026-11-27T10:00:00Z".parse().unwrap();
        assert_eq!(workflow_id("demo", "ab", t), workflow_id("demo", "ab", t));
        assert_ne!(workflow_id("demo", "ab", t), workflow_id("demo", "ab", t2));
        assert_ne!(workflow_id("demo", "ab", t), workflow_id("prod", "ab", t));
        assert_eq!(workflow_id("a b/c", "ab", t), "diag-a_b_c-ab-1795168800");
    }
}
