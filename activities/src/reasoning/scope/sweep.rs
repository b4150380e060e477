//! The sweep of a namespace for alerts that name no object: every object read there that
//! is not healthy, with what is wrong and when its trouble began, nearest the alert's
//! `startsAt` first. An old restart or a long-failed Job ranks below what broke as the
//! alert started.

use super::super::{
    k8s,
    observations::{Observations, s},
};
use aetherius_core::target::resource_ref;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Suspects kept, at most.
const MAX_SUSPECTS: usize = 10;

/// An unhealthy object of a swept namespace.
#[derive(Debug, Clone)]
pub struct Suspect<'a> {
    /// The object as read.
    pub object: &'a Value,
    /// `<namespace>/<Kind>/<name>`.
    pub resource: String,
    /// What is wrong with it.
    pub trouble: String,
    /// When its trouble showed, nearest the alert's start among what the object and its
    /// Warning events tell; `None` when nothing dates it.
    pub at: Option<DateTime<Utc>>,
}

fn time(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s(v, pointer)).ok().map(|t| t.with_timezone(&Utc))
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"].into_iter().filter_map(|p| pod.pointer(p).and_then(Value::as_array)).flatten()
}

/// What is wrong with a pod, and the times its status gives.
pub(super) fn pod_trouble(pod: &Value) -> Option<(String, Vec<DateTime<Utc>>)> {
    let phase = s(pod, "/status/phase");
    if phase == "Succeeded" {
        return None;
    }
    let mut what = vec![];
    let mut times = vec![];
    for c in statuses(pod) {
        let name = s(c, "/name");
        let reason = s(c, "/state/waiting/reason");
        if !reason.is_empty() && reason != "PodInitializing" {
            what.push(format!("{name} waiting: {reason}"));
        }
        let restarts = c.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
        if restarts > 0 {
            what.push(format!("{name} restarted {restarts}x (last {} exit {})", s(c, "/lastState/terminated/reason"), c.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or_default()));
            times.extend(time(c, "/lastState/terminated/finishedAt"));
        }
        if c.pointer("/state/terminated/exitCode").and_then(Value::as_i64).is_some_and(|x| x != 0) {
            what.push(format!("{name} terminated: {}", s(c, "/state/terminated/reason")));
            times.extend(time(c, "/state/terminated/finishedAt"));
        }
    }
    if phase == "Failed" {
        what.push(format!("Failed: {} {}", s(pod, "/status/reason"), s(pod, "/status/message")).trim_end().to_owned());
    }
    for (cond, label) in [("PodScheduled", "unschedulable"), ("Ready", "not Ready")] {
        if let Some(c) = k8s::condition(pod, cond).filter(|c| s(c, "/status") == "False") {
            what.push(format!("{label}: {}", s(c, "/message")).trim_end_matches([':', ' ']).to_owned());
            times.extend(time(c, "/lastTransitionTime"));
        }
    }
    what.dedup();
    (!what.is_empty()).then(|| (what.join("; "), times))
}

/// What is wrong with a workload, and the times its conditions give.
fn workload_trouble(w: &Value) -> Option<(String, Vec<DateTime<Utc>>)> {
    let int = |p: &str| w.pointer(p).and_then(Value::as_i64);
    let mut what = vec![];
    let mut times = vec![];
    for c in w.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten() {
        let bad = match s(c, "/type") {
            "Available" | "Progressing" | "Complete" => s(c, "/status") == "False",
            "ReplicaFailure" | "Failed" => s(c, "/status") == "True",
            _ => false,
        };
        if bad {
            what.push(format!("{} {}: {}", s(c, "/type"), s(c, "/reason"), s(c, "/message")));
            times.extend(time(c, "/lastTransitionTime"));
        }
    }
    let (want, ready) = match s(w, "/kind") {
        "DaemonSet" => (int("/status/desiredNumberScheduled"), int("/status/numberReady")),
        "Job" => (None, None),
        _ => (Some(int("/spec/replicas").unwrap_or(1)), Some(int("/status/readyReplicas").unwrap_or(0))),
    };
    if let (Some(want), Some(ready)) = (want, ready)
        && ready < want
    {
        what.push(format!("{ready}/{want} replicas ready"));
    }
    (!what.is_empty()).then(|| (what.join("; "), times))
}

/// When Warning events about an object were seen.
fn warning_times(obs: &Observations<'_>, kind: &str, ns: &str, name: &str) -> Vec<DateTime<Utc>> {
    obs.events_for(kind, ns, name)
        .into_iter()
        .filter(|e| s(e, "/type") == "Warning")
        .flat_map(|e| ["/lastTimestamp", "/eventTime", "/series/lastObservedTime", "/deprecatedLastTimestamp", "/firstTimestamp"].into_iter().filter_map(move |p| time(e, p)))
        .collect()
}

/// Unhealthy objects read in `namespaces`, nearest `starts_at` first (those without a
/// time last), at most `MAX_SUSPECTS`.
pub fn suspects<'a>(obs: &Observations<'a>, namespaces: &[String], starts_at: DateTime<Utc>) -> Vec<Suspect<'a>> {
    let mut out = vec![];
    for kind in ["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job"] {
        for o in obs.all(kind).filter(|o| namespaces.iter().any(|n| n == s(o, "/metadata/namespace"))) {
            let (ns, name) = (s(o, "/metadata/namespace"), s(o, "/metadata/name"));
            let Some((trouble, mut times)) = (if kind == "Pod" { pod_trouble(o) } else { workload_trouble(o) }) else { continue };
            times.extend(warning_times(obs, kind, ns, name));
            let at = times.into_iter().min_by_key(|t| (*t - starts_at).num_seconds().abs());
            out.push(Suspect { object: o, resource: resource_ref(Some(ns), kind, name), trouble, at });
        }
    }
    out.sort_by_key(|x| x.at.map_or(i64::MAX, |t| (t - starts_at).num_seconds().abs()));
    out.truncate(MAX_SUSPECTS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherius_core::{Command, StepResult, StepStatus};
    use serde_json::json;

    fn read(objects: Vec<Value>) -> Vec<StepResult> {
        let command = Command::list("c", Some("shop"), "pods", None);
        vec![StepResult { command, status: StepStatus::Success, output: String::new(), objects, error: None, truncated: false, duration_ms: 0, output_ref: None }]
    }

    fn pod(name: &str, restarts: u64, finished: &str, ready: bool) -> Value {
        json!({"kind": "Pod", "metadata": {"namespace": "shop", "name": name},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": finished}],
                "containerStatuses": [{"name": "app", "ready": ready, "restartCount": restarts,
                    "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": finished}}}]}})
    }

    #[test]
    fn trouble_nearest_the_alert_ranks_first_and_healthy_objects_are_not_suspects() {
        let starts = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().with_timezone(&Utc);
        let results = read(vec![
            pod("old-oom", 1, "2026-11-17T03:00:00Z", true),
            pod("fresh-crash", 4, "2026-11-20T09:57:00Z", false),
            json!({"kind": "Pod", "metadata": {"namespace": "shop", "name": "fine"}, "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}}),
            json!({"kind": "Deployment", "metadata": {"namespace": "shop", "name": "api"}, "spec": {"replicas": 2},
                "status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}}),
            pod("elsewhere", 3, "2026-11-20T09:59:00Z", false),
        ]);
        let obs = Observations::new(&results);
        let got = suspects(&obs, &["shop".to_owned()], starts);
        let names: Vec<&str> = got.iter().map(|x| x.resource.as_str()).collect();
        assert_eq!(names, ["shop/Pod/elsewhere", "shop/Pod/fresh-crash", "shop/Pod/old-oom"]);
        assert!(got[1].trouble.contains("restarted 4x"), "{}", got[1].trouble);
        assert!(suspects(&obs, &["other".to_owned()], starts).is_empty());
    }
}
