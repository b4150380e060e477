//! What an alert is about, and which of the objects read belong to it. Stock alerts are
//! read through the rule catalogue (`aetherius_core::target::catalog`): the label the rule
//! keeps names the object, never the scraper's own `pod`. Blackbox probes only carry a URL
//! (`instance`), which names a Service (`<svc>.<ns>.svc...`) or a public host an Ingress
//! serves. Alerts that name no object get a sweep of their namespace (`sweep`).

mod sweep;

pub use sweep::{Suspect, suspects};

use super::{
    k8s,
    observations::{Observations, s},
};
use aetherius_core::{
    StandardEvent, Target,
    target::{Subject, catalog},
};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(?:https?|tcp|grpc|wss?)://([a-z0-9.-]+)(?::(\d{1,5}))?([^\s\]\)'\x22,]*)").expect("regex"));
static SVC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.svc(?:\.[a-z0-9.-]+)?\.?$").expect("regex"));

/// A URL an alert probes: from the `instance` / `target` / `url` label, or the annotations
/// (blackbox alerts print their labels into the description).
pub fn probed_url(event: &StandardEvent) -> Option<(String, Option<u16>, String)> {
    let sources = ["instance", "target", "url", "probe_url", "endpoint"]
        .iter()
        .filter_map(|l| event.labels.get(*l))
        .chain(["description", "summary", "message"].iter().filter_map(|a| event.annotations.get(*a)));
    for text in sources {
        if let Some(c) = URL.captures(text) {
            return Some((c[1].to_lowercase(), c.get(2).and_then(|p| p.as_str().parse().ok()), c.get(3).map(|p| p.as_str().to_owned()).unwrap_or_default()));
        }
    }
    None
}

/// What the alert is about, by the catalogue for stock alerts, else by its labels.
pub fn subject(event: &StandardEvent) -> Subject {
    aetherius_core::target::subject(event.alertname(), &event.labels)
}

/// The application name (and namespace, if kept) an alert gives instead of an object.
pub fn named(event: &StandardEvent) -> Option<(Option<String>, String)> {
    match subject(event) {
        Subject::Named { namespace, name } => Some((namespace, name)),
        _ => None,
    }
}

/// Kinds an application name is matched against, in this order.
const NAMED_WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// The object an application name stands for among what was read: the Deployment,
/// StatefulSet or DaemonSet of that name, else one whose pods carry it as
/// `app.kubernetes.io/name` or `app`, else the Service, else the CronJob of that name.
/// In `namespace` when the alert keeps one, else in any namespace read.
pub fn resolve_named(obs: &Observations<'_>, namespace: Option<&str>, name: &str) -> Option<Target> {
    let in_ns = |o: &&Value| namespace.is_none_or(|n| s(o, "/metadata/namespace") == n);
    let target = |kind: &str, o: &Value| Target { namespace: Some(s(o, "/metadata/namespace").to_owned()), kind: kind.to_owned(), name: s(o, "/metadata/name").to_owned() };
    for kind in NAMED_WORKLOADS {
        if let Some(o) = obs.all(kind).filter(in_ns).find(|o| s(o, "/metadata/name") == name) {
            return Some(target(kind, o));
        }
    }
    for kind in NAMED_WORKLOADS {
        let carries = |o: &&Value| ["app.kubernetes.io/name", "app"].iter().any(|l| o.pointer("/spec/template/metadata/labels").and_then(|m| m.get(*l)).and_then(Value::as_str) == Some(name));
        if let Some(o) = obs.all(kind).filter(in_ns).find(carries) {
            return Some(target(kind, o));
        }
    }
    ["Service", "CronJob"].iter().find_map(|kind| obs.all(kind).filter(in_ns).find(|o| s(o, "/metadata/name") == name).map(|o| target(kind, o)))
}

/// The name to match against applications when the alert's own object cannot be read: an
/// application name, or a Service a custom alert names that does not exist (its `service`
/// label is then the application's name, not a Service's).
fn app_name_to_resolve(event: &StandardEvent, obs: &Observations<'_>) -> Option<(Option<String>, String)> {
    if let Some(n) = named(event) {
        return Some(n);
    }
    let t = alert_target(event).filter(|t| t.kind == "Service" && catalog::lookup(event.alertname()).is_none())?;
    obs.missing.contains(&("Service".to_owned(), t.namespace.clone().unwrap_or_default(), t.name.clone())).then_some((t.namespace, t.name))
}

/// The object the alert is about: from its labels, else the Service its probed URL names.
pub fn alert_target(event: &StandardEvent) -> Option<Target> {
    match subject(event) {
        Subject::Object(t) => return Some(t),
        Subject::Informational | Subject::NodeAddress(_) | Subject::Named { .. } => return None,
        Subject::Url(_) | Subject::Namespace(_) | Subject::Cluster => {}
    }
    let (host, _, _) = probed_url(event)?;
    let c = SVC.captures(&host)?;
    Some(Target { namespace: Some(c[2].to_owned()), kind: "Service".into(), name: c[1].to_owned() })
}

static DEPLOY_POD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$").expect("regex"));
static STS_POD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(.+)-\d+$").expect("regex"));

/// The workload a pod name implies (`<deployment>-<hash>-<id>`, `<statefulset>-<ordinal>`),
/// for when the pod is gone and only its name is left.
pub fn owner_from_pod_name(t: &Target) -> Option<Target> {
    if t.kind != "Pod" {
        return None;
    }
    let (kind, name) = if let Some(c) = DEPLOY_POD.captures(&t.name) {
        ("Deployment", c[1].to_owned())
    } else if let Some(c) = STS_POD.captures(&t.name) {
        ("StatefulSet", c[1].to_owned())
    } else {
        return None;
    };
    Some(Target { namespace: t.namespace.clone(), kind: kind.into(), name })
}

/// The node address (`instance` host) of a node-exporter alert, when it names no node.
pub fn node_address(event: &StandardEvent) -> Option<String> {
    match subject(event) {
        Subject::NodeAddress(a) => Some(a),
        _ => None,
    }
}

/// The node among those read that has `address` (InternalIP, ExternalIP or Hostname), or
/// that runs the exporter pod the alert was scraped from.
pub fn node_at(event: &StandardEvent, obs: &Observations<'_>, address: &str) -> Option<Target> {
    let by_address = obs.all("Node").find(|n| {
        n.pointer("/status/addresses").and_then(Value::as_array).into_iter().flatten().any(|a| s(a, "/address") == address)
    });
    let name = match by_address {
        Some(n) => s(n, "/metadata/name"),
        None => {
            let ns = event.labels.get("namespace").map(String::as_str).unwrap_or_default();
            let pod = obs.get("Pod", ns, event.labels.get("pod").map(String::as_str).unwrap_or_default())?;
            s(pod, "/spec/nodeName")
        }
    };
    (!name.is_empty()).then(|| Target { namespace: None, kind: "Node".into(), name: name.to_owned() })
}

/// The alert's target, or, when it names a pod that no longer exists, the workload that
/// replaced it (once read); a node known by address once the nodes are read.
pub fn effective_target(event: &StandardEvent, obs: &Observations<'_>) -> Option<Target> {
    if let Some(address) = node_address(event) {
        return node_at(event, obs, &address);
    }
    if let Some((ns, name)) = app_name_to_resolve(event, obs) {
        return resolve_named(obs, ns.as_deref(), &name).or_else(|| alert_target(event));
    }
    let t = alert_target(event)?;
    let ns = t.namespace.clone().unwrap_or_default();
    if t.kind == "Pod"
        && obs.missing.contains(&("Pod".to_owned(), ns.clone(), t.name.clone()))
        && let Some(owner) = owner_from_pod_name(&t)
        && obs.get(&owner.kind, &ns, &owner.name).is_some()
    {
        return Some(owner);
    }
    Some(t)
}

/// A public host name the alert probes (served by an Ingress), when it names no Service.
pub fn external_host(event: &StandardEvent) -> Option<String> {
    if alert_target(event).is_some() {
        return None;
    }
    let (host, _, _) = probed_url(event)?;
    (host.contains('.') && host.parse::<std::net::IpAddr>().is_err() && !SVC.is_match(&host)).then_some(host)
}

/// Whether an Ingress rule host (`shop.example.com`, `*.example.com`) serves `host`.
pub fn host_matches(rule_host: &str, host: &str) -> bool {
    match rule_host.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => rule_host.eq_ignore_ascii_case(host),
    }
}

/// Backend Services of an Ingress: (service name, port number or name).
pub fn ingress_backends(ing: &Value) -> Vec<(String, Value)> {
    let mut out = vec![];
    let mut add = |b: &Value| {
        if let Some(svc) = b.get("service") {
            let port = svc.pointer("/port/number").cloned().or_else(|| svc.pointer("/port/name").cloned()).unwrap_or(Value::Null);
            let entry = (s(svc, "/name").to_owned(), port);
            if !entry.0.is_empty() && !out.contains(&entry) {
                out.push(entry);
            }
        }
    };
    if let Some(b) = ing.pointer("/spec/defaultBackend") {
        add(b);
    }
    for rule in ing.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
        for path in rule.pointer("/http/paths").and_then(Value::as_array).into_iter().flatten() {
            if let Some(b) = path.get("backend") {
                add(b);
            }
        }
    }
    out
}

/// Services a route sends to, in its own namespace: an OpenShift Route's `spec.to` and
/// `spec.alternateBackends`; a Traefik IngressRoute's `spec.routes[].services` (those of
/// kind Service; a TraefikService or another namespace's Service is not followed).
pub fn route_backends(route: &Value) -> Vec<String> {
    let ns = s(route, "/metadata/namespace");
    let backends: Vec<&Value> = if s(route, "/kind") == "IngressRoute" {
        route.pointer("/spec/routes").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.get("services").and_then(Value::as_array)).flatten().filter(|b| s(b, "/namespace").is_empty() || s(b, "/namespace") == ns).collect()
    } else {
        let to = route.pointer("/spec/to").into_iter();
        let alternates = route.pointer("/spec/alternateBackends").and_then(Value::as_array).into_iter().flatten();
        to.chain(alternates).collect()
    };
    let mut out: Vec<String> = backends.into_iter().filter(|b| matches!(s(b, "/kind"), "" | "Service")).map(|b| s(b, "/name").to_owned()).filter(|n| !n.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

/// The hosts of a Traefik IngressRoute: every name in its rules' `Host(...)` matchers
/// (`Host(\`a\`)` in v3, `Host(\`a\`, \`b\`)` in v2).
pub fn traefik_hosts(route: &Value) -> Vec<String> {
    let mut hosts = vec![];
    for rule in route.pointer("/spec/routes").and_then(Value::as_array).into_iter().flatten() {
        let matcher = s(rule, "/match");
        let mut rest = matcher;
        while let Some(at) = rest.find("Host(") {
            let args = &rest[at + "Host(".len()..];
            let end = args.find(')').unwrap_or(args.len());
            hosts.extend(args[..end].split('`').skip(1).step_by(2).map(str::to_owned));
            rest = &args[end..];
        }
    }
    hosts
}

/// OpenShift Routes and Traefik IngressRoutes that serve `host`.
pub fn routes_for_host<'a>(obs: &Observations<'a>, host: &str) -> Vec<&'a Value> {
    obs.all("Route")
        .filter(|r| host_matches(s(r, "/spec/host"), host))
        .chain(obs.all("IngressRoute").filter(|r| traefik_hosts(r).iter().any(|h| host_matches(h, host))))
        .collect()
}

/// The objects that belong to the alert.
#[derive(Default)]
pub struct Scope<'a> {
    /// What the alert names.
    pub target: Option<Target>,
    /// Public host it probes, when no object is named.
    pub external_host: Option<String>,
    /// Pods whose health the alert is about.
    pub pods: Vec<&'a Value>,
    /// Workloads it is about.
    pub workloads: Vec<&'a Value>,
    /// Services it is about.
    pub services: Vec<&'a Value>,
    /// Ingresses it is about.
    pub ingresses: Vec<&'a Value>,
    /// OpenShift Routes it is about (a probed host a Route serves).
    pub routes: Vec<&'a Value>,
    /// HPAs about the alert: those that scale its workloads, and, when none does, those of
    /// its namespace whose scale target is gone (left behind by a rename, they scale nothing).
    pub hpas: Vec<&'a Value>,
    /// Unhealthy objects of the swept namespaces, closest trouble to the alert's start first.
    pub suspects: Vec<Suspect<'a>>,
}

/// Namespaces to sweep for unhealthy objects: those of alerts that name no object (custom
/// SLO, latency and error-rate alerts keep only `namespace` and maybe `service`), and those
/// of the Service or Ingresses behind a probed URL.
pub fn sweep_namespaces(event: &StandardEvent, obs: &Observations<'_>) -> Vec<String> {
    let probe = catalog::lookup(event.alertname()).is_some_and(|a| a.names == catalog::Names::ProbedUrl);
    let custom = catalog::lookup(event.alertname()).is_none();
    let mut out: Vec<String> = match (subject(event), alert_target(event)) {
        (Subject::Namespace(ns), _) => vec![ns],
        (Subject::Informational | Subject::Cluster | Subject::NodeAddress(_), _) => vec![],
        (_, Some(t)) if (t.kind == "Service" && (custom || probe)) || t.kind == "ResourceQuota" => t.namespace.into_iter().collect(),
        (_, Some(t)) if custom && healthy_reporter(event, obs, &t) => t.namespace.into_iter().collect(),
        (_, Some(_)) => vec![],
        (Subject::Named { namespace: Some(ns), .. }, _) => vec![ns],
        (Subject::Named { namespace: None, name }, _) => resolve_named(obs, None, &name).and_then(|t| t.namespace).into_iter().collect(),
        (_, None) => match external_host(event) {
            Some(host) => ingresses_for_host(obs, &host).into_iter().chain(routes_for_host(obs, &host)).map(|i| s(i, "/metadata/namespace").to_owned()).collect(),
            None => vec![],
        },
    };
    out.sort();
    out.dedup();
    out
}

/// Whether a custom alert carries the labels Prometheus gives a scrape target (the
/// Operator's ServiceMonitor / PodMonitor: `endpoint` or `job`, with `instance`): its `pod`
/// is then the process that exported the metric, which may describe something else that
/// process watches (a backup, a Job, a sibling agent) rather than the pod itself.
fn scraped(event: &StandardEvent) -> bool {
    let has = |l: &str| event.labels.get(l).is_some_and(|v| !v.is_empty());
    has("pod") && has("instance") && (has("endpoint") || has("job"))
}

/// `t` is the pod a scraped custom alert names, read, and showing no trouble (no waiting
/// reason, restart, failed exit or bad condition the namespace sweep would count): the
/// metric's subject is elsewhere, so its namespace is swept.
fn healthy_reporter(event: &StandardEvent, obs: &Observations<'_>, t: &Target) -> bool {
    t.kind == "Pod" && scraped(event) && obs.get("Pod", t.namespace.as_deref().unwrap_or(""), &t.name).is_some_and(|p| sweep::pod_trouble(p).is_none())
}

/// HPAs that scale `workloads`; when none does, the HPAs of their namespaces whose scale
/// target is not there (`AbleToScale=False`, `FailedGetScale`, or the target read as missing).
pub fn hpas_of<'a>(obs: &Observations<'a>, workloads: &[&'a Value]) -> Vec<&'a Value> {
    let scales = |h: &Value, w: &Value| {
        s(h, "/metadata/namespace") == s(w, "/metadata/namespace") && s(h, "/spec/scaleTargetRef/kind") == s(w, "/kind") && s(h, "/spec/scaleTargetRef/name") == s(w, "/metadata/name")
    };
    let direct: Vec<&Value> = obs.all("HorizontalPodAutoscaler").filter(|h| workloads.iter().any(|w| scales(h, w))).collect();
    if !direct.is_empty() {
        return direct;
    }
    let namespaces: Vec<&str> = workloads.iter().map(|w| s(w, "/metadata/namespace")).collect();
    obs.all("HorizontalPodAutoscaler")
        .filter(|h| namespaces.contains(&s(h, "/metadata/namespace")))
        .filter(|h| {
            let (ns, kind, name) = (s(h, "/metadata/namespace"), s(h, "/spec/scaleTargetRef/kind"), s(h, "/spec/scaleTargetRef/name"));
            obs.missing.contains(&(kind.to_owned(), ns.to_owned(), name.to_owned()))
                || k8s::condition(h, "AbleToScale").is_some_and(|c| s(c, "/status") == "False" && s(c, "/reason") == "FailedGetScale" && s(c, "/message").contains("not found"))
        })
        .collect()
}

/// Pods of `ns` a workload's `spec.selector` selects.
pub fn pods_of_workload<'a>(obs: &Observations<'a>, w: &Value) -> Vec<&'a Value> {
    let ns = s(w, "/metadata/namespace");
    let Some(sel) = w.pointer("/spec/selector").filter(|v| v.is_object() && v.as_object().is_some_and(|m| !m.is_empty())) else { return vec![] };
    obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == ns && k8s::label_selector_matches(sel, k8s::labels(p))).collect()
}

/// Pods of `ns` a Service selects.
pub fn pods_of_service<'a>(obs: &Observations<'a>, svc: &Value) -> Vec<&'a Value> {
    let ns = s(svc, "/metadata/namespace");
    let Some(sel) = svc.pointer("/spec/selector").and_then(Value::as_object) else { return vec![] };
    obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == ns && k8s::map_selects(sel, k8s::labels(p))).collect()
}

/// Ingresses whose rules serve `host`.
pub fn ingresses_for_host<'a>(obs: &Observations<'a>, host: &str) -> Vec<&'a Value> {
    obs.all("Ingress")
        .filter(|i| {
            i.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten().any(|r| host_matches(s(r, "/host"), host))
        })
        .collect()
}

/// Whether a pod can only run on `node`: bound to it (`spec.nodeName`), nominated for it
/// by preemption, or pinned by a `metadata.name` node affinity (how the DaemonSet
/// controller places each of its pods).
pub fn wants_node(pod: &Value, node: &str) -> bool {
    let pinned = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|t| t.get("matchFields").and_then(Value::as_array).into_iter().flatten())
        .any(|f| s(f, "/key") == "metadata.name" && s(f, "/operator") == "In" && f.get("values").and_then(Value::as_array).is_some_and(|v| v.iter().any(|x| x.as_str() == Some(node))));
    s(pod, "/spec/nodeName") == node || s(pod, "/status/nominatedNodeName") == node || pinned
}

/// What belongs to the alert among what was read.
pub fn scope<'a>(event: &StandardEvent, obs: &Observations<'a>) -> Scope<'a> {
    let target = effective_target(event, obs);
    let mut sc = Scope { external_host: external_host(event), ..Default::default() };
    let push_unique = |v: &mut Vec<&'a Value>, o: &'a Value| {
        if !v.iter().any(|x| std::ptr::eq(*x, o)) {
            v.push(o);
        }
    };
    match &target {
        Some(t) => {
            let ns = t.namespace.as_deref().unwrap_or("");
            match t.kind.as_str() {
                "Pod" => {
                    if let Some(pod) = obs.get("Pod", ns, &t.name) {
                        sc.pods.push(pod);
                        // Siblings from the same controller share its fate and its fix.
                        if let Some(owner) = Observations::controller_of(pod) {
                            for p in obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == ns && Observations::controller_of(p).as_ref() == Some(&owner)) {
                                push_unique(&mut sc.pods, p);
                            }
                        }
                    }
                }
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "PodDisruptionBudget" => {
                    if let Some(w) = obs.get(&t.kind, ns, &t.name) {
                        sc.workloads.push(w);
                        sc.pods = pods_of_workload(obs, w);
                    }
                }
                "CronJob" => {
                    for job in obs.all("Job").filter(|j| Observations::controller_of(j).is_some_and(|(k, n)| k == "CronJob" && n == t.name)) {
                        sc.workloads.push(job);
                        sc.pods.extend(pods_of_workload(obs, job));
                    }
                }
                "Service" => {
                    if let Some(svc) = obs.get("Service", ns, &t.name) {
                        sc.services.push(svc);
                        sc.pods = pods_of_service(obs, svc);
                        // A custom alert about a Service is about the application behind it:
                        // the workloads its pods belong to (their HPAs, their rollouts).
                        if catalog::lookup(event.alertname()).is_none() {
                            for p in sc.pods.clone() {
                                let (kind, wns, name) = obs.workload_of(p);
                                if let Some(w) = obs.get(&kind, &wns, &name).filter(|_| kind != "Pod") {
                                    push_unique(&mut sc.workloads, w);
                                }
                            }
                        }
                    }
                }
                // A claim filling up or failing: the pods that mount it.
                "PersistentVolumeClaim" => {
                    let mounts = |p: &&'a Value| {
                        s(p, "/metadata/namespace") == ns
                            && p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().any(|v| s(v, "/persistentVolumeClaim/claimName") == t.name)
                    };
                    sc.pods = obs.all("Pod").filter(mounts).collect();
                }
                // A quota governs every workload of its namespace: theirs are the pods it blocks.
                "ResourceQuota" => {
                    let in_ns = |o: &&'a Value| s(o, "/metadata/namespace") == ns;
                    sc.workloads = ["Deployment", "StatefulSet", "DaemonSet", "Job"].iter().flat_map(|k| obs.all(k)).filter(in_ns).collect();
                    sc.pods = obs.all("Pod").filter(in_ns).collect();
                }
                "Ingress" => {
                    if let Some(ing) = obs.get("Ingress", ns, &t.name) {
                        sc.ingresses.push(ing);
                    }
                }
                "HorizontalPodAutoscaler" => {
                    if let Some(hpa) = obs.get("HorizontalPodAutoscaler", ns, &t.name)
                        && let Some(w) = obs.get(s(hpa, "/spec/scaleTargetRef/kind"), ns, s(hpa, "/spec/scaleTargetRef/name"))
                    {
                        sc.workloads.push(w);
                        sc.pods = pods_of_workload(obs, w);
                    }
                }
                // A node's problem is the node's: its pods are read for evictions, not as
                // suspects of their own. Pods waiting for that node are what it refuses.
                "Node" => {
                    for p in obs.all("Pod").filter(|p| s(p, "/status/phase") == "Pending" && wants_node(p, &t.name)) {
                        push_unique(&mut sc.pods, p);
                        let (kind, wns, name) = obs.workload_of(p);
                        if let Some(w) = obs.get(&kind, &wns, &name).filter(|_| kind != "Pod") {
                            push_unique(&mut sc.workloads, w);
                        }
                    }
                }
                _ => {}
            }
        }
        None => {
            if let Some(host) = &sc.external_host {
                sc.ingresses = ingresses_for_host(obs, host);
                sc.routes = routes_for_host(obs, host);
            } else {
                sc.pods = obs.all("Pod").collect();
                sc.workloads = ["Deployment", "StatefulSet", "DaemonSet", "Job"].iter().flat_map(|k| obs.all(k)).collect();
            }
        }
    }
    for ing in sc.ingresses.clone() {
        let ns = s(ing, "/metadata/namespace");
        for (svc, _) in ingress_backends(ing) {
            if let Some(svc) = obs.get("Service", ns, &svc) {
                push_unique(&mut sc.services, svc);
                for p in pods_of_service(obs, svc) {
                    push_unique(&mut sc.pods, p);
                }
            }
        }
    }
    for route in sc.routes.clone() {
        let ns = s(route, "/metadata/namespace");
        for svc in route_backends(route) {
            if let Some(svc) = obs.get("Service", ns, &svc) {
                push_unique(&mut sc.services, svc);
                for p in pods_of_service(obs, svc) {
                    push_unique(&mut sc.pods, p);
                }
            }
        }
    }
    // An application known by name: its Service of that name too, and the pods it selects.
    if let (Some(t), Some((_, name))) = (&target, app_name_to_resolve(event, obs))
        && t.kind != "Service"
        && let Some(svc) = obs.get("Service", t.namespace.as_deref().unwrap_or(""), &name)
    {
        push_unique(&mut sc.services, svc);
    }
    sc.hpas = hpas_of(obs, &sc.workloads);
    sc.target = target;
    let namespaces = sweep_namespaces(event, obs);
    sc.suspects = suspects(obs, &namespaces, event.timestamp);
    // A healthy exporter named by a scraped custom alert: the sweep's nearest suspect pod is
    // what the alert is about (after the exporter, which stays the alert's target).
    if let Some(t) = sc.target.clone()
        && catalog::lookup(event.alertname()).is_none()
        && healthy_reporter(event, obs, &t)
        && let Some(first) = sc.suspects.iter().find(|x| s(x.object, "/kind") == "Pod")
    {
        let pod = first.object;
        push_unique(&mut sc.pods, pod);
        let (kind, wns, name) = obs.workload_of(pod);
        if let Some(w) = obs.get(&kind, &wns, &name).filter(|_| kind != "Pod") {
            push_unique(&mut sc.workloads, w);
        }
    }
    if sc.target.is_none() && sc.external_host.is_none() {
        // Nothing named: the suspects come first, nearest the alert's start.
        let rank = |o: &Value| sc.suspects.iter().position(|x| std::ptr::eq(x.object, o)).unwrap_or(usize::MAX);
        sc.pods.sort_by_key(|p| rank(p));
        sc.workloads.sort_by_key(|w| rank(w));
    }
    sc
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherius_core::AlertmanagerAlert;

    fn event(labels: &[(&str, &str)], description: &str) -> StandardEvent {
        let alert: AlertmanagerAlert = serde_json::from_value(serde_json::json!({
            "status": "firing",
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
            "annotations": {"description": description},
            "startsAt": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        StandardEvent::from_alertmanager(&alert, "default")
    }

    #[test]
    fn a_blackbox_probe_of_a_cluster_url_targets_the_service() {
        let e = event(
            &[("alertname", "BlackboxProbeFailed"), ("job", "probe/monitoring/x")],
            "Probe failed\n  LABELS = map[__name__:probe_success instance:http://inventory.warehouse.svc.cluster.local:8080/healthz job:x]",
        );
        assert_eq!(alert_target(&e).unwrap().resource_ref(), "warehouse/Service/inventory");
        assert_eq!(external_host(&e), None);
    }

    /// A pod of namespace `velero` as a step result carries it, owned by `owner`.
    fn pod(name: &str, owner: (&str, &str), status: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": "velero", "name": name,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner.0, "name": owner.1, "controller": true}]},
            "spec": {"containers": [{"name": "c"}]}, "status": status})
    }

    #[test]
    fn a_scraped_custom_alert_on_a_healthy_exporter_sweeps_its_namespace() {
        use aetherius_core::{Command, StepResult, StepStatus};
        let running = serde_json::json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-12-01T00:00:00Z"}}}]});
        let killed = serde_json::json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 1, "state": {"running": {"startedAt": "2025-12-31T23:58:40Z"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2025-12-31T23:58:38Z"}}}]});
        let exporter = pod("velero-5d9c8b7f46-xw2pk", ("ReplicaSet", "velero-5d9c8b7f46"), running);
        let agent = pod("node-agent-7xk2p", ("DaemonSet", "node-agent"), killed);
        let list = |objects| StepResult {
            command: Command::list("default", Some("velero"), "pods", None),
            status: StepStatus::Success,
            output: String::new(),
            objects,
            error: None,
            truncated: false,
            duration_ms: 1,
            output_ref: None,
        };
        let results = [list(vec![exporter, agent])];
        let obs = Observations::new(&results);
        // What the Prometheus Operator adds to a ServiceMonitor's series: the exporter's pod.
        let scraped = [
            ("alertname", "VeleroBackupPartialFailures"),
            ("namespace", "velero"),
            ("pod", "velero-5d9c8b7f46-xw2pk"),
            ("service", "velero"),
            ("endpoint", "http-monitoring"),
            ("job", "velero"),
            ("instance", "192.168.21.15:8085"),
        ];
        let e = event(&scraped, "1 backup ended PartiallyFailed");
        assert_eq!(sweep_namespaces(&e, &obs), ["velero"]);
        let sc = scope(&e, &obs);
        let names: Vec<&str> = sc.pods.iter().map(|p| s(p, "/metadata/name")).collect();
        assert_eq!(names, ["velero-5d9c8b7f46-xw2pk", "node-agent-7xk2p"], "the exporter, then the sweep's nearest suspect");
        assert_eq!(sc.target.as_ref().map(|t| t.name.as_str()), Some("velero-5d9c8b7f46-xw2pk"));

        // A custom alert that names a pod without scrape labels is about that pod alone.
        let named = event(&[("alertname", "PodNotHappy"), ("namespace", "velero"), ("pod", "velero-5d9c8b7f46-xw2pk")], "");
        assert!(sweep_namespaces(&named, &obs).is_empty());
        assert_eq!(scope(&named, &obs).pods.len(), 1);
        // A stock alert keeps the catalogue's reading; an exporter in trouble is its own story.
        let stock = event(&[("alertname", "KubePodNotReady"), ("namespace", "velero"), ("pod", "velero-5d9c8b7f46-xw2pk"), ("job", "kube-state-metrics"), ("instance", "10.0.0.9:8080"), ("endpoint", "http")], "");
        assert!(sweep_namespaces(&stock, &obs).is_empty());
    }

    #[test]
    fn a_gone_pods_name_implies_its_workload() {
        let t = |n: &str| Target { namespace: Some("a".into()), kind: "Pod".into(), name: n.into() };
        assert_eq!(owner_from_pod_name(&t("web-7d9f8c6b5-x2x9k")).unwrap().resource_ref(), "a/Deployment/web");
        assert_eq!(owner_from_pod_name(&t("db-0")).unwrap().resource_ref(), "a/StatefulSet/db");
        assert!(owner_from_pod_name(&t("standalone")).is_none());
    }

    #[test]
    fn a_blackbox_probe_of_a_public_url_names_the_host() {
        let e = event(&[("alertname", "BlackboxProbeFailed"), ("instance", "https://shop.example.com/")], "Probe failed");
        assert!(alert_target(&e).is_none());
        assert_eq!(external_host(&e).as_deref(), Some("shop.example.com"));
        assert!(host_matches("*.example.com", "shop.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
    }

    #[test]
    fn traefik_ingressroutes_give_their_hosts_and_service_backends() {
        let ir = serde_json::json!({"kind": "IngressRoute", "metadata": {"namespace": "web", "name": "site"}, "spec": {"routes": [
            {"match": "Host(`a.example.org`, `b.example.org`) && PathPrefix(`/api`)", "services": [{"name": "api", "port": 8080}, {"kind": "TraefikService", "name": "canary"}]},
            {"match": "Host(`c.example.org`) || HostRegexp(`{sub:[a-z]+}.example.net`)", "services": [{"kind": "Service", "name": "site", "port": 80}, {"name": "elsewhere", "namespace": "other"}]}
        ]}});
        assert_eq!(traefik_hosts(&ir), ["a.example.org", "b.example.org", "c.example.org"]);
        assert_eq!(route_backends(&ir), ["api", "site"], "Services of its own namespace only; a TraefikService is not a Service");
    }

    #[test]
    fn ingress_backends_cover_rules_and_default() {
        let ing = serde_json::json!({"spec": {
            "defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
            "rules": [{"host": "a", "http": {"paths": [{"backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]
        }});
        let b = ingress_backends(&ing);
        assert_eq!(b, vec![("fallback".to_owned(), serde_json::json!("http")), ("web".to_owned(), serde_json::json!(80))]);
    }

    #[test]
    fn an_application_name_resolves_to_its_workload_then_its_pods_label_then_its_service() {
        use aetherius_core::{Command, StepResult, StepStatus};
        let objects = vec![
            serde_json::json!({"kind": "Deployment", "metadata": {"namespace": "a", "name": "web-v2"}, "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}}}}),
            serde_json::json!({"kind": "Service", "metadata": {"namespace": "a", "name": "web"}}),
            serde_json::json!({"kind": "Service", "metadata": {"namespace": "b", "name": "api"}}),
            serde_json::json!({"kind": "StatefulSet", "metadata": {"namespace": "b", "name": "db"}}),
        ];
        let results = vec![StepResult { command: Command::list("c", None, "pods", None), status: StepStatus::Success, output: String::new(), objects, error: None, truncated: false, duration_ms: 0, output_ref: None }];
        let obs = Observations::new(&results);
        let r = |ns: Option<&str>, n: &str| resolve_named(&obs, ns, n).map(|t| t.resource_ref());
        assert_eq!(r(Some("a"), "web").as_deref(), Some("a/Deployment/web-v2"));
        assert_eq!(r(None, "db").as_deref(), Some("b/StatefulSet/db"));
        assert_eq!(r(None, "api").as_deref(), Some("b/Service/api"));
        assert_eq!(r(Some("a"), "api"), None);
    }

    #[test]
    fn an_hpa_whose_target_is_gone_is_the_alerts_when_none_scales_its_workload() {
        use aetherius_core::{Command, StepResult, StepStatus};
        let hpa = |name: &str, target: &str, able: &str, reason: &str, msg: &str| {
            serde_json::json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "c", "name": name}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": target}},
                "status": {"conditions": [{"type": "AbleToScale", "status": able, "reason": reason, "message": msg}]}})
        };
        let objects = vec![
            serde_json::json!({"kind": "Deployment", "metadata": {"namespace": "c", "name": "gateway"}}),
            hpa("old", "old", "False", "FailedGetScale", "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"old\" not found"),
            hpa("indexer", "indexer", "True", "ReadyForNewScale", "recommended size matches current size"),
        ];
        let results = vec![StepResult { command: Command::list("c", None, "pods", None), status: StepStatus::Success, output: String::new(), objects, error: None, truncated: false, duration_ms: 0, output_ref: None }];
        let obs = Observations::new(&results);
        let gateway: Vec<&Value> = obs.all("Deployment").collect();
        let names: Vec<&str> = hpas_of(&obs, &gateway).iter().map(|h| s(h, "/metadata/name")).collect();
        assert_eq!(names, ["old"]);
    }
}
