//! The first symptom a step's objects show: the earliest moment something went wrong, as
//! the API server recorded it. Read from the fields every Kubernetes distribution fills:
//! a Warning event's `firstTimestamp` / `eventTime` (core/v1 and events.k8s.io/v1), a
//! container's `terminated.startedAt`/`finishedAt` with a failure, and a condition that
//! went bad (`Ready`-like `False`, `*Pressure` `True`) at its `lastTransitionTime`.
//! List items carry no `kind`, so objects are recognised by their fields, not their kind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// When something first went wrong, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symptom {
    /// When the API server recorded it.
    pub at: DateTime<Utc>,
    /// What it was, with the object it is about.
    pub what: String,
}

/// The earliest symptom among `objects` (single objects or Lists), if any.
pub fn first_symptom(objects: &[Value]) -> Option<Symptom> {
    let mut found = vec![];
    for o in objects {
        collect(o, &mut found);
    }
    found.into_iter().min_by_key(|s| s.at)
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str).unwrap_or("")
}

fn name_of(o: &Value) -> String {
    let (ns, name) = (str_at(o, &["metadata", "namespace"]), str_at(o, &["metadata", "name"]));
    if ns.is_empty() { name.to_owned() } else { format!("{ns}/{name}") }
}

fn collect(o: &Value, found: &mut Vec<Symptom>) {
    if let Some(items) = o.get("items").and_then(Value::as_array) {
        for item in items {
            collect(item, found);
        }
        return;
    }
    // An event: core/v1 (`involvedObject`) or events.k8s.io/v1 (`regarding`).
    if let Some(about) = o.get("involvedObject").or_else(|| o.get("regarding")) {
        if o.get("type").and_then(Value::as_str) == Some("Warning") {
            let at = ["firstTimestamp", "deprecatedFirstTimestamp", "eventTime", "lastTimestamp"].iter().find_map(|k| o.get(*k).and_then(time));
            if let Some(at) = at {
                let message = o.get("message").or_else(|| o.get("note")).and_then(Value::as_str).unwrap_or("").trim();
                found.push(Symptom {
                    at,
                    what: format!("Warning {} on {}/{}: {message}", str_at(o, &["reason"]), str_at(about, &["kind"]), str_at(about, &["name"])),
                });
            }
        }
        return;
    }
    let name = name_of(o);
    let status = o.get("status");
    for key in ["initContainerStatuses", "containerStatuses"] {
        for c in status.and_then(|s| s.get(key)).and_then(Value::as_array).into_iter().flatten() {
            for state in ["lastState", "state"] {
                let Some(t) = c.get(state).and_then(|s| s.get("terminated")) else { continue };
                let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                let reason = str_at(t, &["reason"]);
                if code == 0 && reason != "OOMKilled" {
                    continue;
                }
                // A crash loop's earliest visible failure is when the failed run ended.
                if let Some(at) = t.get("finishedAt").and_then(time).or_else(|| t.get("startedAt").and_then(time)) {
                    found.push(Symptom {
                        at,
                        what: format!("container {} of {name} terminated: {reason} (exit code {code})", str_at(c, &["name"])),
                    });
                }
            }
        }
    }
    for c in status.and_then(|s| s.get("conditions")).and_then(Value::as_array).into_iter().flatten() {
        let (kind, value) = (str_at(c, &["type"]), str_at(c, &["status"]));
        let bad = match kind {
            "Ready" | "ContainersReady" | "PodScheduled" | "Available" | "Initialized" => value == "False",
            k if k.ends_with("Pressure") || k == "NetworkUnavailable" || k == "ReplicaFailure" => value == "True",
            _ => false,
        };
        if bad && let Some(at) = c.get("lastTransitionTime").and_then(time) {
            let reason = str_at(c, &["reason"]);
            found.push(Symptom {
                at,
                what: format!("{kind}={value} on {name}{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_earliest_of_events_terminations_and_conditions_wins() {
        // As `kubectl get pods -o json` and `kubectl get events -o json` answer: List items without `kind`.
        let pods = json!({"kind": "PodList", "apiVersion": "v1", "items": [{
            "metadata": {"name": "checkout-7d9f-abcde", "namespace": "shop"},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": "2026-03-01T10:02:00Z"},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-03-01T09:00:00Z"}
                ],
                "containerStatuses": [{"name": "checkout", "restartCount": 9,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-03-01T10:09:00Z", "finishedAt": "2026-03-01T10:09:01Z"}}}]
            }}]});
        let events = json!({"kind": "EventList", "apiVersion": "v1", "items": [
            {"type": "Normal", "reason": "Pulled", "involvedObject": {"kind": "Pod", "name": "checkout-7d9f-abcde"}, "firstTimestamp": "2026-03-01T09:59:00Z", "message": "pulled"},
            {"type": "Warning", "reason": "BackOff", "involvedObject": {"kind": "Pod", "name": "checkout-7d9f-abcde"},
             "firstTimestamp": "2026-03-01T10:01:30Z", "lastTimestamp": "2026-03-01T10:09:30Z", "message": "Back-off restarting failed container checkout"}
        ]});
        let s = first_symptom(&[pods, events]).expect("a symptom");
        assert_eq!(s.at, time(&json!("2026-03-01T10:01:30Z")).unwrap());
        assert_eq!(s.what, "Warning BackOff on Pod/checkout-7d9f-abcde: Back-off restarting failed container checkout");
    }

    #[test]
    fn events_k8s_io_notes_oom_kills_and_node_pressure_count() {
        let event = json!({"type": "Warning", "reason": "FailedScheduling", "regarding": {"kind": "Pod", "name": "web-0"},
                           "eventTime": "2026-03-01T08:00:00.123456Z", "note": "0/3 nodes are available"});
        assert_eq!(first_symptom(std::slice::from_ref(&event)).unwrap().what, "Warning FailedScheduling on Pod/web-0: 0/3 nodes are available");
        let pod = json!({"metadata": {"name": "api", "namespace": "a"}, "status": {"containerStatuses": [{"name": "api",
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-03-01T07:00:00Z"}}}]}});
        assert_eq!(first_symptom(&[pod]).unwrap().what, "container api of a/api terminated: OOMKilled (exit code 137)");
        let node = json!({"metadata": {"name": "node-1"}, "status": {"conditions": [
            {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory", "lastTransitionTime": "2026-03-01T06:00:00Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-03-01T01:00:00Z"}]}});
        assert_eq!(first_symptom(&[node]).unwrap().what, "MemoryPressure=True on node-1 (KubeletHasInsufficientMemory)");
    }

    #[test]
    fn healthy_objects_and_clean_exits_show_no_symptom() {
        let pod = json!({"metadata": {"name": "job-x"}, "status": {
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-03-01T06:00:00Z"}],
            "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-03-01T06:01:00Z"}}}]}});
        let normal = json!({"type": "Normal", "reason": "Started", "involvedObject": {"kind": "Pod", "name": "job-x"}, "firstTimestamp": "2026-03-01T05:00:00Z"});
        assert_eq!(first_symptom(&[pod, normal, json!({"items": []})]), None);
    }
}
