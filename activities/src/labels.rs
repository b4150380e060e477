//! Label selectors as workloads write them.

use serde_json::Value;

/// `spec.selector.matchLabels` of a workload as a label-selector string (`a=b,c=d`); empty
/// when it has none.
pub fn match_labels_selector(workload: &Value) -> String {
    workload
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}
