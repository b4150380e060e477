//! Which steps to run: the first plan from the alert, then follow-ups from what the steps
//! found (owner chains, referenced objects, previous logs, scheduling context).

use super::observations::{Observations, s};
use aetherius_core::{Command, DiagnosticStep, StandardEvent, Target, command::ResourceKind};
use serde_json::Value;

/// Log lines fetched per container.
const LOG_TAIL: u32 = 200;

fn step(purpose: impl Into<String>, command: Command) -> DiagnosticStep {
    DiagnosticStep { purpose: purpose.into(), command }
}

/// First steps: read the object the alert names and its events.
pub fn initial_steps(event: &StandardEvent, target: Option<&Target>) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let Some(t) = target else { return vec![] };
    let Some(kind) = ResourceKind::lookup(&t.kind) else { return vec![] };
    let ns = if kind.namespaced { t.namespace.as_deref() } else { None };
    let mut steps = vec![
        step(format!("Read the {} the alert names", t.kind), Command::get(cluster, ns, kind.plural, &t.name)),
        step(format!("Events of the {}", t.kind), Command::events_for(cluster, ns, kind.kind, &t.name)),
    ];
    if t.kind == "Node" {
        let mut pods = Command::list(cluster, None, "pods", None);
        pods.flags.insert("all-namespaces".into(), "true".into());
        pods.flags.insert("field-selector".into(), format!("spec.nodeName={}", t.name));
        steps.push(step("Pods on the node", pods));
    }
    steps
}

/// Steps worth running next, given what has been read. Never repeats a command.
pub fn follow_ups(event: &StandardEvent, obs: &Observations<'_>, pending: &[DiagnosticStep]) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let mut out: Vec<DiagnosticStep> = vec![];
    let mut push = |st: DiagnosticStep| {
        let key = st.command.key();
        if !obs.executed.contains(&key) && !pending.iter().any(|p| p.command.key() == key) && !out.iter().any(|o| o.command.key() == key) {
            out.push(st);
        }
    };

    for pod in obs.all("Pod") {
        let ns = s(pod, "/metadata/namespace");
        let name = s(pod, "/metadata/name");
        push(step(format!("Events of pod {name}"), Command::events_for(cluster, Some(ns), "Pod", name)));
        if let Some((kind, owner)) = Observations::controller_of(pod)
            && let Some(r) = ResourceKind::lookup(&kind)
            && !obs.known(&kind, ns, &owner)
        {
            push(step(format!("Owner of pod {name}"), Command::get(cluster, Some(ns), r.plural, &owner)));
        }
        for cs in ["/status/initContainerStatuses", "/status/containerStatuses"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
        {
            let c = s(cs, "/name");
            let restarted = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0 || cs.pointer("/lastState/terminated").is_some();
            if restarted {
                push(step(format!("Logs of the crashed {c} container"), Command::logs(cluster, ns, name, c, true, LOG_TAIL)));
            }
            let running_unready = cs.pointer("/state/running").is_some() && !cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
            if running_unready {
                push(step(format!("Logs of the unready {c} container"), Command::logs(cluster, ns, name, c, false, LOG_TAIL)));
            }
            if s(cs, "/state/waiting/reason") == "CreateContainerConfigError" {
                for (res, obj) in config_refs(pod, c) {
                    if !obs.known(if res == "configmaps" { "ConfigMap" } else { "Secret" }, ns, &obj) {
                        push(step(format!("Referenced {res} {obj}"), Command::get(cluster, Some(ns), res, &obj)));
                    }
                }
            }
        }
        if s(pod, "/status/phase") == "Pending" {
            for claim in pod
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
            {
                push(step(format!("Claim {claim} the pod waits for"), Command::get(cluster, Some(ns), "persistentvolumeclaims", claim)));
            }
            if pod.pointer("/spec/nodeName").is_none() {
                push(step("Nodes the scheduler could use", Command::list(cluster, None, "nodes", None)));
            }
        }
    }

    for pvc in obs.all("PersistentVolumeClaim").filter(|p| s(p, "/status/phase") != "Bound") {
        let (ns, name) = (s(pvc, "/metadata/namespace"), s(pvc, "/metadata/name"));
        push(step(format!("Events of claim {name}"), Command::events_for(cluster, Some(ns), "PersistentVolumeClaim", name)));
        let class = s(pvc, "/spec/storageClassName");
        if !class.is_empty() && !obs.known("StorageClass", "", class) {
            push(step(format!("StorageClass {class} of claim {name}"), Command::get(cluster, None, "storageclasses", class)));
        }
    }

    for rs in obs.all("ReplicaSet") {
        let ns = s(rs, "/metadata/namespace");
        if let Some((kind, owner)) = Observations::controller_of(rs)
            && let Some(r) = ResourceKind::lookup(&kind)
            && !obs.known(&kind, ns, &owner)
        {
            push(step(format!("Owner of ReplicaSet {}", s(rs, "/metadata/name")), Command::get(cluster, Some(ns), r.plural, &owner)));
        }
    }

    for kind in ["Deployment", "StatefulSet", "DaemonSet", "Job"] {
        for w in obs.all(kind) {
            let ns = s(w, "/metadata/namespace");
            let name = s(w, "/metadata/name");
            let selector = crate::labels::match_labels_selector(w);
            let has_pods = obs.all("Pod").any(|p| s(p, "/metadata/namespace") == ns && matches_labels(p, w));
            if !has_pods && !selector.is_empty() {
                push(step(format!("Pods of {kind} {name}"), Command::list(cluster, Some(ns), "pods", Some(&selector))));
            }
            push(step(format!("Events of {kind} {name}"), Command::events_for(cluster, Some(ns), kind, name)));
            if kind == "Deployment" && !selector.is_empty() {
                push(step(format!("ReplicaSets of {name}"), Command::list(cluster, Some(ns), "replicasets", Some(&selector))));
            }
        }
    }
    for rs in obs.all("ReplicaSet") {
        let unavailable = rs.pointer("/status/replicas").and_then(Value::as_u64).unwrap_or(0)
            < rs.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(0);
        if unavailable {
            let (ns, name) = (s(rs, "/metadata/namespace"), s(rs, "/metadata/name"));
            push(step(format!("Events of ReplicaSet {name} (pod creation)"), Command::events_for(cluster, Some(ns), "ReplicaSet", name)));
        }
    }
    out
}

/// ConfigMaps and Secrets a container's env and envFrom reference.
fn config_refs(pod: &Value, container: &str) -> Vec<(&'static str, String)> {
    let Some(c) = ["/spec/initContainers", "/spec/containers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| s(c, "/name") == container)
    else {
        return vec![];
    };
    let mut refs = vec![];
    for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = e.pointer("/valueFrom/configMapKeyRef/name").and_then(Value::as_str) {
            refs.push(("configmaps", n.to_owned()));
        }
        if let Some(n) = e.pointer("/valueFrom/secretKeyRef/name").and_then(Value::as_str) {
            refs.push(("secrets", n.to_owned()));
        }
    }
    for e in c.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = e.pointer("/configMapRef/name").and_then(Value::as_str) {
            refs.push(("configmaps", n.to_owned()));
        }
        if let Some(n) = e.pointer("/secretRef/name").and_then(Value::as_str) {
            refs.push(("secrets", n.to_owned()));
        }
    }
    refs.sort();
    refs.dedup();
    refs
}

fn matches_labels(pod: &Value, w: &Value) -> bool {
    let Some(sel) = w.pointer("/spec/selector/matchLabels").and_then(Value::as_object) else { return false };
    !sel.is_empty() && sel.iter().all(|(k, v)| pod.pointer(&format!("/metadata/labels/{}", k.replace('~', "~0").replace('/', "~1"))) == Some(v))
}
