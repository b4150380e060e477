//! Everything the steps have read so far, indexed the way an SRE looks things up.

use aetherius_core::{StepResult, StepStatus};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// (kind, namespace or "", name).
pub type ObjectKey = (String, String, String);

/// An index over step results.
#[derive(Default)]
pub struct Observations<'a> {
    /// Objects read, by key (latest read wins).
    pub objects: BTreeMap<ObjectKey, &'a Value>,
    /// Events read, deduplicated by uid/name.
    pub events: Vec<&'a Value>,
    /// (namespace, pod, container, previous) → log text.
    pub logs: BTreeMap<(String, String, String, bool), &'a str>,
    /// Objects a get answered 404 for.
    pub missing: BTreeSet<ObjectKey>,
    /// Keys of every command already run.
    pub executed: BTreeSet<String>,
    /// Commands the identity was not allowed to run (403 / RBAC pre-check), as kubectl lines.
    pub denied: Vec<String>,
    /// Namespaces whose Warning events were listed (whatever they were about).
    pub warnings_listed: BTreeSet<String>,
}

/// Field accessor that never fails.
pub fn s<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Key of an object.
pub fn key_of(v: &Value) -> ObjectKey {
    (s(v, "/kind").to_owned(), s(v, "/metadata/namespace").to_owned(), s(v, "/metadata/name").to_owned())
}

impl<'a> Observations<'a> {
    /// Indexes `results`.
    pub fn new(results: &'a [StepResult]) -> Self {
        let mut obs = Observations::default();
        let mut seen_events = BTreeSet::new();
        for r in results {
            obs.executed.insert(r.command.key());
            let ns = r.command.namespace.clone().unwrap_or_default();
            match (r.command.action.as_str(), r.status) {
                ("logs", StepStatus::Success) => {
                    let pod = r.command.args.first().cloned().unwrap_or_default();
                    let container = r.command.flag("container").unwrap_or_default().to_owned();
                    let previous = r.command.flag("previous") == Some("true");
                    obs.logs.insert((ns, pod, container, previous), r.output.as_str());
                }
                (_, StepStatus::Success) => {
                    if r.command.action == "events" && r.command.flag("for").is_none() && r.command.flag("field-selector").is_some_and(|f| f.contains("type=Warning")) {
                        obs.warnings_listed.insert(ns.clone());
                    }
                    for o in &r.objects {
                        if s(o, "/kind") == "Event" {
                            // The same event read by two steps; uid first, as names may repeat in snapshots.
                            let uid = s(o, "/metadata/uid");
                            let id = if uid.is_empty() { format!("{}/{}", s(o, "/metadata/namespace"), s(o, "/metadata/name")) } else { uid.to_owned() };
                            if seen_events.insert(id) {
                                obs.events.push(o);
                            }
                        } else {
                            obs.objects.insert(key_of(o), o);
                        }
                    }
                }
                (_, StepStatus::Forbidden) => obs.denied.push(r.command.to_string()),
                ("get", StepStatus::NotFound) => {
                    if let (Some(r#kind), Some(name)) = (r.command.resource(), r.command.name()) {
                        let ns = if r#kind.namespaced { ns } else { String::new() };
                        obs.missing.insert((r#kind.kind.to_owned(), ns, name.to_owned()));
                    }
                }
                _ => {}
            }
        }
        obs
    }

    /// An object by kind/namespace/name.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
        self.objects.get(&(kind.to_owned(), namespace.to_owned(), name.to_owned())).copied()
    }

    /// Whether a get of this object was answered (found or 404).
    pub fn known(&self, kind: &str, namespace: &str, name: &str) -> bool {
        let k = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        self.objects.contains_key(&k) || self.missing.contains(&k)
    }

    /// Whether this command already ran.
    pub fn ran(&self, cmd: &aetherius_core::Command) -> bool {
        self.executed.contains(&cmd.key())
    }

    /// A container's log: the previous instance's when read, else the current one.
    pub fn log(&self, namespace: &str, pod: &str, container: &str) -> Option<(&'a str, bool)> {
        let key = |previous| (namespace.to_owned(), pod.to_owned(), container.to_owned(), previous);
        self.logs.get(&key(true)).map(|l| (*l, true)).or_else(|| self.logs.get(&key(false)).map(|l| (*l, false)))
    }

    /// The Service whose ClusterIP is `ip` (a client that dialled the address, not the name).
    pub fn service_by_cluster_ip(&self, ip: &str) -> Option<&'a Value> {
        self.all("Service").find(|svc| {
            s(svc, "/spec/clusterIP") == ip || svc.pointer("/spec/clusterIPs").and_then(Value::as_array).into_iter().flatten().any(|i| i.as_str() == Some(ip))
        })
    }

    /// Every object of a kind.
    pub fn all<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'a Value> + 's {
        self.objects.iter().filter(move |((k, _, _), _)| k == kind).map(|(_, v)| *v)
    }

    /// Events about an object (by kind and name, same namespace).
    pub fn events_for(&self, kind: &str, namespace: &str, name: &str) -> Vec<&'a Value> {
        self.events
            .iter()
            .copied()
            .filter(|e| {
                s(e, "/involvedObject/kind") == kind
                    && s(e, "/involvedObject/name") == name
                    && (namespace.is_empty() || s(e, "/involvedObject/namespace") == namespace || s(e, "/metadata/namespace") == namespace)
            })
            .collect()
    }

    /// The controlling owner (kind, name) of an object.
    pub fn controller_of(obj: &Value) -> Option<(String, String)> {
        obj.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)?
            .iter()
            .find(|o| o.get("controller").and_then(Value::as_bool).unwrap_or(false))
            .map(|o| (s(o, "/kind").to_owned(), s(o, "/name").to_owned()))
    }

    /// The object a human edits to change this pod: Deployment (through its ReplicaSet),
    /// StatefulSet, DaemonSet, Job (or its CronJob's Job), or the Pod itself.
    pub fn workload_of(&self, pod: &Value) -> (String, String, String) {
        let ns = s(pod, "/metadata/namespace").to_owned();
        match Self::controller_of(pod) {
            Some((kind, name)) if kind == "ReplicaSet" => {
                if let Some(rs) = self.get("ReplicaSet", &ns, &name) {
                    if let Some((okind, oname)) = Self::controller_of(rs) {
                        return (okind, ns, oname);
                    }
                    return ("ReplicaSet".into(), ns, name);
                }
                // Not read yet: a Deployment-made ReplicaSet is `<deployment>-<pod-template-hash>`.
                let hash = s(pod, "/metadata/labels/pod-template-hash");
                match name.strip_suffix(&format!("-{hash}")) {
                    Some(deploy) if !hash.is_empty() => ("Deployment".into(), ns, deploy.to_owned()),
                    _ => ("ReplicaSet".into(), ns, name),
                }
            }
            Some((kind, name)) => (kind, ns, name),
            None => ("Pod".into(), ns, s(pod, "/metadata/name").to_owned()),
        }
    }
}
