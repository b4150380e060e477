//! Turning what a read returned into a [`StepResult`]: pruned objects for the analyzers,
//! readable text for humans and LLMs; both redacted and capped.

use super::kube_read::Read;
use crate::redact::{redact, redact_value};
use aetherius_core::{Command, StepResult, StepStatus};
use serde_json::Value;
use std::fmt::Write;

pub(crate) fn success(command: Command, read: Read, max_bytes: usize) -> StepResult {
    // Blank by what was asked for, never by what the objects say they are.
    let secrets = command.resource().is_some_and(|r| r.plural == "secrets");
    let (objects, text, cut_read) = match read {
        Read::Objects { objects, cut } => {
            let objects: Vec<Value> = objects
                .into_iter()
                .map(|o| {
                    let mut o = prune(o, secrets);
                    redact_value(&mut o);
                    o
                })
                .collect();
            let mut text = objects.iter().map(summarize).collect::<Vec<_>>().join("\n");
            if text.is_empty() {
                text = "No resources found.".to_owned();
            }
            if cut {
                let _ = write!(text, "\n[... list stopped after {} items; more exist ...]", objects.len());
            }
            (objects, text, cut)
        }
        Read::Log { text, cut } => (vec![], text, cut),
    };
    let (output, cut_text) = cap(redact(&text), max_bytes);
    let (objects, cut_objects) = cap_objects(objects, max_bytes);
    StepResult {
        command,
        status: StepStatus::Success,
        output,
        objects,
        error: None,
        truncated: cut_read || cut_text || cut_objects,
        duration_ms: 0,
        output_ref: None,
    }
}

pub(crate) fn failure(command: Command, status: StepStatus, message: String) -> StepResult {
    StepResult {
        command,
        status,
        output: String::new(),
        objects: vec![],
        error: Some(redact(&message)),
        truncated: false,
        duration_ms: 0,
        output_ref: None,
    }
}

/// Drops what never helps a diagnosis and must never leave: managedFields, the
/// last-applied annotation (a full copy of the spec, secrets included) and, when the
/// command read Secrets, any value field (they are read as metadata only; this is the
/// second guard).
fn prune(mut obj: Value, secrets: bool) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if secrets && let Some(map) = obj.as_object_mut() {
        for field in ["data", "stringData", "binaryData"] {
            map.remove(field);
        }
    }
    obj
}

fn cap(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_owned();
    let _ = write!(out, "\n[... output truncated at {max} bytes of {} ...]", text.len());
    (out, true)
}

fn cap_objects(objects: Vec<Value>, max: usize) -> (Vec<Value>, bool) {
    let mut size = 0;
    let total = objects.len();
    let kept: Vec<Value> = objects
        .into_iter()
        .take_while(|o| {
            size += o.to_string().len();
            size <= max
        })
        .collect();
    let cut = kept.len() < total;
    (kept, cut)
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// One readable paragraph per object.
fn summarize(obj: &Value) -> String {
    let kind = s(obj, "/kind");
    let ns = s(obj, "/metadata/namespace");
    let name = s(obj, "/metadata/name");
    let id = if ns.is_empty() { format!("{kind}/{name}") } else { format!("{kind} {ns}/{name}") };
    let mut out = String::new();
    match kind {
        "Event" => {
            let when = ["/lastTimestamp", "/eventTime", "/firstTimestamp"]
                .iter()
                .map(|p| s(obj, p))
                .find(|t| !t.is_empty())
                .unwrap_or("");
            let count = obj.get("count").and_then(Value::as_u64).or_else(|| obj.pointer("/series/count").and_then(Value::as_u64));
            let _ = write!(
                out,
                "{when} {} {} {}/{}: {}",
                s(obj, "/type"),
                s(obj, "/reason"),
                s(obj, "/involvedObject/kind"),
                s(obj, "/involvedObject/name"),
                s(obj, "/message").trim()
            );
            if let Some(c) = count.filter(|c| *c > 1) {
                let _ = write!(out, " (x{c})");
            }
        }
        "Pod" => {
            let _ = write!(out, "{id} phase={} node={}", s(obj, "/status/phase"), s(obj, "/spec/nodeName"));
            for path in ["/status/initContainerStatuses", "/status/containerStatuses"] {
                for cs in obj.pointer(path).and_then(Value::as_array).into_iter().flatten() {
                    let _ = write!(
                        out,
                        "\n  container {}: {} ready={} restarts={}",
                        s(cs, "/name"),
                        state_text(cs.get("state")),
                        cs.get("ready").and_then(Value::as_bool).unwrap_or(false),
                        cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0)
                    );
                    if cs.pointer("/lastState/terminated").is_some() {
                        let _ = write!(out, " last={}", state_text(cs.get("lastState")));
                    }
                }
            }
            conditions(obj, &mut out);
        }
        _ => {
            let _ = write!(out, "{id}");
            facts(kind, obj, &mut out);
            conditions(obj, &mut out);
        }
    }
    out
}

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn joined(v: &Value, pointer: &str, f: impl Fn(&Value) -> String) -> String {
    v.pointer(pointer).and_then(Value::as_array).map(|a| a.iter().map(f).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn map_text(v: Option<&Value>) -> String {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// The facts `kubectl describe` leads with, per kind, on one or two lines.
fn facts(kind: &str, o: &Value, out: &mut String) {
    let images = |base: &str| joined(o, &format!("{base}/containers"), |c| format!("{}={}", s(c, "/name"), s(c, "/image")));
    let _ = match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => write!(
            out,
            " replicas desired={} updated={} ready={} available={} selector={} images: {}",
            num(o, "/spec/replicas"),
            num(o, "/status/updatedReplicas"),
            num(o, "/status/readyReplicas"),
            num(o, "/status/availableReplicas"),
            map_text(o.pointer("/spec/selector/matchLabels")),
            images("/spec/template/spec")
        ),
        "DaemonSet" => write!(
            out,
            " desired={} ready={} available={} images: {}",
            num(o, "/status/desiredNumberScheduled"),
            num(o, "/status/numberReady"),
            num(o, "/status/numberAvailable"),
            images("/spec/template/spec")
        ),
        "Job" => write!(
            out,
            " completions={} succeeded={} failed={} active={} backoffLimit={}",
            num(o, "/spec/completions"),
            num(o, "/status/succeeded"),
            num(o, "/status/failed"),
            num(o, "/status/active"),
            num(o, "/spec/backoffLimit")
        ),
        "Service" => write!(
            out,
            " type={} clusterIP={} selector={} ports: {}",
            s(o, "/spec/type"),
            s(o, "/spec/clusterIP"),
            map_text(o.pointer("/spec/selector")),
            joined(o, "/spec/ports", |p| format!(
                "{}{}->{}",
                p.get("name").and_then(Value::as_str).map(|n| format!("{n}:")).unwrap_or_default(),
                p.get("port").map(Value::to_string).unwrap_or_default(),
                p.get("targetPort").map(|t| t.as_str().map(str::to_owned).unwrap_or_else(|| t.to_string())).unwrap_or_default()
            ))
        ),
        "Endpoints" => write!(
            out,
            " ready={} notReady={}",
            joined(o, "/subsets", |ss| joined(ss, "/addresses", |a| s(a, "/ip").to_owned())),
            joined(o, "/subsets", |ss| joined(ss, "/notReadyAddresses", |a| s(a, "/ip").to_owned()))
        ),
        "Node" => write!(
            out,
            " kubelet={} unschedulable={} taints: {} allocatable cpu={} memory={} pods={}",
            s(o, "/status/nodeInfo/kubeletVersion"),
            o.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false),
            joined(o, "/spec/taints", |t| format!("{}={}:{}", s(t, "/key"), s(t, "/value"), s(t, "/effect"))),
            s(o, "/status/allocatable/cpu"),
            s(o, "/status/allocatable/memory"),
            s(o, "/status/allocatable/pods")
        ),
        "PersistentVolumeClaim" => write!(
            out,
            " phase={} storageClass={} volume={} requested={}",
            s(o, "/status/phase"),
            s(o, "/spec/storageClassName"),
            s(o, "/spec/volumeName"),
            s(o, "/spec/resources/requests/storage")
        ),
        "HorizontalPodAutoscaler" => write!(
            out,
            " target={}/{} min={} max={} current={} desired={}",
            s(o, "/spec/scaleTargetRef/kind"),
            s(o, "/spec/scaleTargetRef/name"),
            num(o, "/spec/minReplicas"),
            num(o, "/spec/maxReplicas"),
            num(o, "/status/currentReplicas"),
            num(o, "/status/desiredReplicas")
        ),
        "Ingress" => write!(
            out,
            " class={} backends: {}",
            s(o, "/spec/ingressClassName"),
            joined(o, "/spec/rules", |r| joined(r, "/http/paths", |p| format!(
                "{}{} -> {}:{}",
                s(r, "/host"),
                s(p, "/path"),
                s(p, "/backend/service/name"),
                p.pointer("/backend/service/port/number").map(Value::to_string).unwrap_or_else(|| s(p, "/backend/service/port/name").to_owned())
            )))
        ),
        "NetworkPolicy" => write!(
            out,
            " podSelector={} policyTypes={}",
            map_text(o.pointer("/spec/podSelector/matchLabels")),
            joined(o, "/spec/policyTypes", |t| t.as_str().unwrap_or_default().to_owned())
        ),
        "Secret" => write!(out, " (metadata only: values are never read)"),
        "ConfigMap" => write!(
            out,
            " keys: {}",
            ["/data", "/binaryData", "/stringData"]
                .iter()
                .filter_map(|p| o.pointer(p).and_then(Value::as_object))
                .flat_map(|m| m.keys().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => Ok(()),
    };
}

fn state_text(state: Option<&Value>) -> String {
    let Some(state) = state.and_then(Value::as_object) else { return "unknown".into() };
    match state.iter().next() {
        Some((phase, detail)) => {
            let reason = s(detail, "/reason");
            let code = detail.get("exitCode").and_then(Value::as_i64);
            match (reason.is_empty(), code) {
                (true, None) => phase.clone(),
                (false, None) => format!("{phase}({reason})"),
                (_, Some(c)) => format!("{phase}({reason} exit={c})"),
            }
        }
        None => "unknown".into(),
    }
}

fn conditions(obj: &Value, out: &mut String) {
    for c in obj.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten() {
        let status = s(c, "/status");
        let message = s(c, "/message");
        if status != "True" || !message.is_empty() {
            let _ = write!(out, "\n  condition {}={status} {} {}", s(c, "/type"), s(c, "/reason"), message.trim());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_read_loses_every_value_field_whatever_the_objects_say_they_are() {
        // A list item carries no kind: blanking goes by the command's resource.
        let item = json!({"metadata": {"name": "db", "managedFields": [{}]}, "data": {"password": "aHVudGVyMg=="}, "stringData": {"x": "y"}});
        let secret = prune(item.clone(), true);
        assert!(secret.get("data").is_none() && secret.get("stringData").is_none(), "{secret}");
        assert!(secret["metadata"].get("managedFields").is_none());
        assert_eq!(prune(item, false)["data"]["password"], "aHVudGVyMg==");
        let cmd = Command::get("c", Some("shop"), "secrets", "db");
        let read = Read::Objects { objects: vec![json!({"metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}})], cut: false };
        let result = success(cmd, read, 1 << 20);
        assert!(!serde_json::to_string(&result).unwrap().contains("aHVudGVyMg=="), "{result:?}");
    }

    #[test]
    fn a_bounded_read_is_marked_truncated() {
        let cmd = Command::get("c", Some("shop"), "pods", "x");
        let read = Read::Objects { objects: vec![json!({"kind": "Pod", "metadata": {"name": "a"}})], cut: true };
        let result = success(cmd, read, 1 << 20);
        assert!(result.truncated && result.output.contains("list stopped after 1 items"), "{}", result.output);
    }

    #[test]
    fn output_over_the_cap_is_cut_with_a_marker() {
        let (out, cut) = cap("x".repeat(100), 10);
        assert!(cut);
        assert!(out.starts_with("xxxxxxxxxx\n[... output truncated at 10 bytes of 100"));
    }

    #[test]
    fn describe_facts_lead_with_what_a_human_needs() {
        let svc = json!({"kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
        let text = summarize(&svc);
        assert!(text.contains("selector=app=web") && text.contains("http:80->8080"), "{text}");
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "minReplicas": 2, "maxReplicas": 2}});
        assert!(summarize(&hpa).contains("target=Deployment/api min=2 max=2"));
    }

    #[test]
    fn pods_summarize_container_states() {
        let pod = json!({"kind": "Pod", "metadata": {"namespace": "shop", "name": "p"},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
              "state": {"waiting": {"reason": "CrashLoopBackOff"}},
              "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}});
        let text = summarize(&pod);
        assert!(text.contains("container app: waiting(CrashLoopBackOff) ready=false restarts=4 last=terminated(Error exit=1)"), "{text}");
    }
}
