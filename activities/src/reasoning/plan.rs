//! Which steps to run: the first plan from the alert, then follow-ups from what the steps
//! found. Each follow-up tests the leading lead of what was seen: a crash log naming a host
//! leads to that Service and its endpoints, a 403 to the ServiceAccount's bindings, a DNS
//! error to CoreDNS, a Service to its endpoints and the pods its selector should match, a
//! probed public host to the Ingress that serves it. Steps carry a priority; the most
//! telling run first, and the step budget bounds the rest.

use super::{
    analyzers::{self, DNS_NAMESPACE, DNS_SERVICE},
    health, k8s,
    logs::{self, ConnectFailure, Symptom},
    observations::{Observations, s},
    scope::{self, Scope},
};
use aetherius_core::{
    Command, DiagnosticStep, StandardEvent, StepOrigin, Target,
    command::ResourceKind,
    target::{Subject, catalog},
};
use serde_json::Value;

/// Log lines fetched per container.
const LOG_TAIL: u32 = 200;
/// Unhealthy pods of one alert followed in depth, one per owner (a new and an old ReplicaSet).
const PODS_FOLLOWED: usize = 2;

fn step(purpose: impl Into<String>, command: Command) -> DiagnosticStep {
    DiagnosticStep { purpose: purpose.into(), command, origin: StepOrigin::Plan }
}

/// `kubectl events -n <ns> --field-selector type=Warning`: every warning of a namespace at once.
fn warnings_in(cluster: &str, ns: &str) -> Command {
    let mut c = Command::events_for(cluster, Some(ns), "Pod", "x");
    c.flags.clear();
    c.flags.insert("field-selector".into(), "type=Warning".into());
    c
}

/// `kubectl top pod <name> -n <ns> --containers`.
fn top_pod(cluster: &str, ns: &str, name: &str) -> Command {
    let mut c = Command::get(cluster, Some(ns), "pods", name);
    c.action = "top".into();
    c.flags.insert("containers".into(), "true".into());
    c
}

fn all_namespaces(mut c: Command) -> Command {
    c.flags.insert("all-namespaces".into(), "true".into());
    c
}

/// Objects listed per kind when sweeping a namespace, and nodes when matching an address.
const SWEEP_LIMIT: u32 = 100;

fn limited(mut c: Command) -> Command {
    c.flags.insert("limit".into(), SWEEP_LIMIT.to_string());
    c
}

/// Warnings of a namespace, bounded: the sweep's view of what went wrong and when.
fn sweep_warnings(cluster: &str, ns: &str) -> Command {
    limited(warnings_in(cluster, ns))
}

/// A bounded sweep of a namespace: its pods, Deployments, StatefulSets, warnings and HPAs, read to
/// find what is unhealthy near the alert's start (scope::suspects).
fn sweep_steps(cluster: &str, ns: &str) -> Vec<DiagnosticStep> {
    let mut steps: Vec<DiagnosticStep> = ["pods", "deployments", "statefulsets"]
        .iter()
        .map(|r| step(format!("Sweep namespace {ns}: {r}"), limited(Command::list(cluster, Some(ns), r, None))))
        .collect();
    steps.push(step(format!("Sweep namespace {ns}: warnings"), sweep_warnings(cluster, ns)));
    // A backlog or latency alert may be a workload that cannot scale: its HPA says why.
    steps.push(step(format!("Sweep namespace {ns}: HPAs"), limited(Command::list(cluster, Some(ns), "horizontalpodautoscalers", None))));
    steps
}

/// What the catalogue says is worth listing besides the object (nodes for a DaemonSet that
/// is not scheduled, for cluster capacity alerts).
fn catalogue_reads(event: &StandardEvent, ns: Option<&str>) -> Vec<DiagnosticStep> {
    let Some(entry) = catalog::lookup(event.alertname()) else { return vec![] };
    entry
        .read
        .iter()
        .filter_map(|r| ResourceKind::lookup(r))
        .map(|r| step(format!("{} ({} reads them)", r.plural, entry.alert), limited(Command::list(event.cluster_id.as_str(), if r.namespaced { ns } else { None }, r.plural, None))))
        .collect()
}

/// `kubectl get <resource> -A --field-selector metadata.name=<name>`: an object known by
/// name only, in whatever namespace it is.
fn by_name_anywhere(cluster: &str, resource: &str, name: &str) -> Command {
    let mut c = all_namespaces(Command::list(cluster, None, resource, None));
    c.flags.insert("field-selector".into(), format!("metadata.name={name}"));
    c
}

/// `kubectl events -A --field-selector reason=<reason>`, bounded.
fn events_with_reason(cluster: &str, reason: &str) -> Command {
    let mut c = Command::events_for(cluster, None, "Pod", "x");
    c.flags.clear();
    c.flags.insert("field-selector".into(), format!("reason={reason}"));
    all_namespaces(limited(c))
}

/// First steps for an application an alert knows by name only (`service`, `app`, `job`,
/// a caller's `upstream`): the Service of that name and a sweep of its namespace, whose
/// workloads the name is matched against; without a namespace, the workloads and
/// Services of that name in any namespace.
fn named_app_steps(cluster: &str, namespace: Option<&str>, name: &str) -> Vec<DiagnosticStep> {
    match namespace {
        Some(ns) => {
            let mut steps = vec![step(format!("Service {name} (the alert names the application {name})"), Command::get(cluster, Some(ns), "services", name))];
            steps.extend(sweep_steps(cluster, ns));
            steps
        }
        None => ["deployments", "statefulsets", "daemonsets", "services"]
            .iter()
            .map(|r| step(format!("{r} named {name}, any namespace (the alert keeps no namespace)"), by_name_anywhere(cluster, r, name)))
            .collect(),
    }
}

/// First steps for a control-plane component's absence alert: whether the component runs
/// as pods at all (managed control planes have none to scrape) and whether its work is
/// being done (health::control_plane_work).
fn control_plane_steps(event: &StandardEvent, work: &health::ControlPlaneWork) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let mut steps = vec![step(
        format!("{} pods in kube-system (none on a managed control plane)", work.component),
        Command::list(cluster, Some("kube-system"), "pods", Some(&format!("component={}", work.component))),
    )];
    for reason in work.reasons {
        steps.push(step(format!("Recent {reason} events (the {} at work)", work.component), events_with_reason(cluster, reason)));
    }
    if work.component == "kube-scheduler" {
        let mut pending = all_namespaces(limited(Command::list(cluster, None, "pods", None)));
        pending.flags.insert("field-selector".into(), "status.phase=Pending".into());
        steps.push(step("Pending pods (waiting for a scheduler?)", pending));
    }
    steps
}

/// First steps for an alert that names no object: the Ingresses and Routes of a probed
/// host, the nodes (and the exporter's pod) of a node address, an application known by
/// name, a control-plane component, a sweep of a namespace.
fn unnamed_steps(event: &StandardEvent) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    if let Some(host) = scope::external_host(event) {
        return vec![
            step(format!("Ingresses that serve {host}"), all_namespaces(Command::list(cluster, None, "ingresses", None))),
            step(format!("OpenShift Routes that serve {host}"), all_namespaces(Command::list(cluster, None, "routes", None))),
            step(format!("Traefik IngressRoutes that serve {host}"), all_namespaces(Command::list(cluster, None, "ingressroutes", None))),
        ];
    }
    if let Some(work) = health::control_plane_work(event.alertname()) {
        return control_plane_steps(event, work);
    }
    if let Some((ns, name)) = scope::named(event) {
        return named_app_steps(cluster, ns.as_deref(), &name);
    }
    let mut steps = catalogue_reads(event, event.labels.get("namespace").map(String::as_str));
    match scope::subject(event) {
        Subject::NodeAddress(address) => {
            let nodes = step(format!("Nodes, to find the one at {address}"), limited(Command::list(cluster, None, "nodes", None)));
            steps = vec![nodes];
            if let (Some(ns), Some(pod)) = (event.labels.get("namespace"), event.labels.get("pod")) {
                steps.push(step(format!("Exporter pod {pod} (its node)"), Command::get(cluster, Some(ns), "pods", pod)));
            }
        }
        Subject::Namespace(ns) => steps.extend(sweep_steps(cluster, &ns)),
        _ => {}
    }
    steps
}

/// First steps: read the object the alert names and what tells its story fastest.
pub fn initial_steps(event: &StandardEvent, target: Option<&Target>) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let Some(t) = target else { return unnamed_steps(event) };
    let Some(kind) = ResourceKind::lookup(&t.kind) else { return vec![] };
    let ns = if kind.namespaced { t.namespace.as_deref() } else { None };
    let mut steps = named_steps(event, t, kind, ns);
    steps.extend(catalogue_reads(event, ns));
    // A custom alert about a Service (an SLO, an error rate) may be caused by anything
    // in its namespace.
    // A quota blocks the pods of every workload in its namespace.
    let custom_service = scope::subject(event) == Subject::Object(t.clone()) && catalog::lookup(event.alertname()).is_none() && t.kind == "Service";
    let swept = custom_service || t.kind == "ResourceQuota";
    if let (true, Some(ns)) = (swept, ns) {
        steps.extend(sweep_steps(cluster, ns));
    }
    steps
}

fn named_steps(event: &StandardEvent, t: &Target, kind: &ResourceKind, ns: Option<&str>) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let get = step(format!("Read the {} the alert names", t.kind), Command::get(cluster, ns, kind.plural, &t.name));
    let events = step(format!("Events of the {}", t.kind), Command::events_for(cluster, ns, kind.kind, &t.name));
    match (t.kind.as_str(), ns) {
        ("Pod", Some(ns)) => {
            let mut steps = vec![get, events];
            if event.alertname() == "CPUThrottlingHigh" {
                steps.push(step("CPU usage of the pod against its limit", top_pod(cluster, ns, &t.name)));
            }
            steps
        }
        ("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ResourceQuota", Some(ns)) => {
            vec![get, step(format!("Warnings in namespace {ns} (pods, ReplicaSets, scheduler, kubelet)"), warnings_in(cluster, ns))]
        }
        // A CronJob's runs are Jobs it owns (named `<cronjob>-<scheduled time>`, no label ties
        // them to it): the namespace's Jobs, and its warnings (the Jobs' events may be gone).
        ("CronJob", Some(ns)) => vec![
            get,
            events,
            step(format!("Jobs in {ns} (the runs of CronJob {})", t.name), limited(Command::list(cluster, Some(ns), "jobs", None))),
            step(format!("Warnings in namespace {ns} (Jobs, their pods)"), warnings_in(cluster, ns)),
        ],
        ("Service", Some(ns)) => vec![get, step("Endpoints of the Service", Command::get(cluster, Some(ns), "endpoints", &t.name))],
        ("Ingress", _) => vec![get],
        ("PersistentVolumeClaim", Some(ns)) => vec![get, events, step(format!("Pods in {ns} (which mount the claim)"), limited(Command::list(cluster, Some(ns), "pods", None)))],
        ("Node", _) => {
            let mut pods = all_namespaces(Command::list(cluster, None, "pods", None));
            pods.flags.insert("field-selector".into(), format!("spec.nodeName={}", t.name));
            let mut steps = vec![get, events, step("Pods on the node", pods)];
            // A node full of pods (or tainted by pressure) refuses new ones: the pods that wait
            // for a node, and the scheduler's reasons ("Too many pods").
            if NODE_REFUSES_PODS.contains(&event.alertname()) {
                let mut pending = all_namespaces(limited(Command::list(cluster, None, "pods", None)));
                pending.flags.insert("field-selector".into(), "status.phase=Pending".into());
                steps.push(step(format!("Pending pods (does one want node {}?)", t.name), pending));
                steps.push(step("FailedScheduling events (why the scheduler refuses nodes)", events_with_reason(cluster, "FailedScheduling")));
            }
            steps
        }
        _ => vec![get, events],
    }
}

/// Steps collected with a priority (lower runs first), never repeating a command.
/// Node alerts whose condition makes the node refuse new pods: at its pod capacity
/// (`max-pods`), or under pressure (tainted `node.kubernetes.io/*-pressure`).
const NODE_REFUSES_PODS: &[&str] = &["KubeletTooManyPods", "KubeNodePressure"];

/// Network policies CNIs and SIG Network serve beside `networking.k8s.io` NetworkPolicy, by
/// plural and whether namespaced: Cilium's, Calico's global ones, AdminNetworkPolicy and
/// BaselineAdminNetworkPolicy. A cluster that lacks one answers NotFound.
const CNI_POLICIES: &[(&str, bool)] = &[
    ("ciliumnetworkpolicies", true),
    ("ciliumclusterwidenetworkpolicies", false),
    ("globalnetworkpolicies", false),
    ("adminnetworkpolicies", false),
    ("baselineadminnetworkpolicies", false),
];

struct Steps<'p> {
    obs: &'p Observations<'p>,
    pending: &'p [DiagnosticStep],
    items: Vec<(u8, DiagnosticStep)>,
}

impl Steps<'_> {
    fn push(&mut self, priority: u8, st: DiagnosticStep) {
        let key = st.command.key();
        if self.obs.executed.contains(&key) || self.pending.iter().any(|p| p.command.key() == key) {
            return;
        }
        match self.items.iter_mut().find(|(_, o)| o.command.key() == key) {
            Some(existing) => existing.0 = existing.0.min(priority),
            None => self.items.push((priority, st)),
        }
    }

    fn finish(mut self) -> Vec<DiagnosticStep> {
        self.items.sort_by_key(|(p, _)| *p);
        self.items.into_iter().map(|(_, s)| s).collect()
    }
}

/// Whether a pod needs a closer look.
fn unhealthy(pod: &Value) -> bool {
    let restarted = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .any(|c| c.pointer("/state/waiting").is_some_and(|w| s(w, "/reason") != "PodInitializing") || c.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0);
    !k8s::pod_ready(pod) && s(pod, "/status/phase") != "Succeeded" || restarted
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"].into_iter().filter_map(|p| pod.pointer(p).and_then(Value::as_array)).flatten()
}

/// Steps worth running next, given what has been read. Never repeats a command.
pub fn follow_ups<'a>(event: &StandardEvent, obs: &Observations<'a>, sc: &Scope<'a>, pending: &[DiagnosticStep]) -> Vec<DiagnosticStep> {
    let cluster = event.cluster_id.as_str();
    let mut steps = Steps { obs, pending, items: vec![] };

    // The pod is gone: the workload that replaced it.
    if let Some(t) = scope::alert_target(event).filter(|t| t.kind == "Pod")
        && obs.missing.contains(&("Pod".to_owned(), t.namespace.clone().unwrap_or_default(), t.name.clone()))
        && let Some(owner) = scope::owner_from_pod_name(&t)
        && let Some(r) = ResourceKind::lookup(&owner.kind)
        && !obs.known(&owner.kind, owner.namespace.as_deref().unwrap_or(""), &owner.name)
    {
        steps.push(1, step(format!("The pod is gone: its {} {}", owner.kind, owner.name), Command::get(cluster, owner.namespace.as_deref(), r.plural, &owner.name)));
    }
    // A node known by address, now found among the nodes read: what a node alert reads.
    if scope::node_address(event).is_some()
        && let Some(node) = sc.target.as_ref().filter(|t| t.kind == "Node")
    {
        let mut pods = all_namespaces(Command::list(cluster, None, "pods", None));
        pods.flags.insert("field-selector".into(), format!("spec.nodeName={}", node.name));
        steps.push(1, step(format!("Events of node {}", node.name), Command::events_for(cluster, None, "Node", &node.name)));
        steps.push(2, step(format!("Pods on node {}", node.name), pods));
    }
    // Namespaces to sweep that only the reads revealed (those of a probed host's Ingresses).
    for ns in scope::sweep_namespaces(event, obs) {
        for st in sweep_steps(cluster, &ns) {
            steps.push(2, st);
        }
    }
    workload_steps(cluster, obs, sc, &mut steps);
    service_steps(cluster, obs, sc, &mut steps);
    ingress_steps(cluster, obs, sc, &mut steps);

    // The pods the alert is about: follow the worst ones in depth. With nothing named, the
    // sweep's ranking (trouble nearest the alert's start) decides which.
    let target_pod = sc.target.as_ref().filter(|t| t.kind == "Pod").map(|t| t.name.clone());
    let mut suspects: Vec<&Value> = sc.pods.iter().copied().filter(|p| unhealthy(p)).collect();
    if sc.target.is_none() && !sc.suspects.is_empty() {
        suspects.sort_by_key(|p| sc.suspects.iter().position(|x| std::ptr::eq(x.object, *p)).unwrap_or(usize::MAX));
    } else {
        suspects.sort_by_key(|p| {
            let crash = statuses(p).any(|c| s(c, "/state/waiting/reason") == "CrashLoopBackOff");
            (Some(s(p, "/metadata/name").to_owned()) != target_pod, !crash, s(p, "/status/reason") == "Evicted")
        });
    }
    // A named Service's sweep: its nearest suspect pod too.
    if sc.target.is_some()
        && let Some(first) = sc.suspects.iter().find(|x| s(x.object, "/kind") == "Pod" && !suspects.iter().any(|p| std::ptr::eq(*p, x.object)))
    {
        suspects.push(first.object);
    }
    // One pod per owner: siblings from the same template fail the same way.
    let mut owners = vec![];
    for pod in suspects {
        let owner = Observations::controller_of(pod);
        if owners.len() >= PODS_FOLLOWED || (owner.is_some() && owners.contains(&owner)) {
            continue;
        }
        pod_steps(cluster, obs, pod, 1, &mut steps);
        owners.push(owner);
    }

    // A node holding as many pods as it may: the pods the scheduler turned away from it.
    if let Some(node) = sc.target.as_ref().filter(|t| t.kind == "Node").and_then(|t| obs.get("Node", "", &t.name))
        && let Ok(max) = s(node, "/status/allocatable/pods").parse::<usize>()
        && obs.all("Pod").filter(|p| s(p, "/spec/nodeName") == s(node, "/metadata/name") && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")).count() >= max
    {
        steps.push(1, step("Scheduling failures (pods refused: Too many pods?)", events_with_reason(cluster, "FailedScheduling")));
    }

    quiet_app_steps(event, obs, sc, &mut steps);
    metrics_api_steps(cluster, obs, &mut steps);
    operator_owner_steps(cluster, obs, &mut steps);
    log_chains(cluster, obs, sc, &mut steps);
    webhook_backend_steps(cluster, obs, sc, &mut steps);
    node_steps(cluster, obs, sc, &mut steps);
    node_pods_by_namespace(cluster, obs, &mut steps);
    metrics_server_steps(cluster, obs, &mut steps);
    quiet_pod_steps(event, sc, &mut steps);

    // A pod whose volume fails to mount: the PersistentVolumes behind its bound claims say
    // what it mounts and with which credentials.
    for pod in &sc.pods {
        let ns = s(pod, "/metadata/namespace");
        if !obs.events_for("Pod", ns, s(pod, "/metadata/name")).iter().any(|e| s(e, "/reason") == "FailedMount") {
            continue;
        }
        for claim in pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str)) {
            match obs.get("PersistentVolumeClaim", ns, claim).map(|c| s(c, "/spec/volumeName")) {
                Some(pv) if !pv.is_empty() && !obs.known("PersistentVolume", "", pv) => {
                    steps.push(1, step(format!("PersistentVolume {pv} of claim {claim}"), Command::get(cluster, None, "persistentvolumes", pv)));
                }
                None if !obs.known("PersistentVolumeClaim", ns, claim) => {
                    steps.push(1, step(format!("Claim {claim} the pod mounts"), Command::get(cluster, Some(ns), "persistentvolumeclaims", claim)));
                }
                _ => {}
            }
        }
    }
    for pvc in obs.all("PersistentVolumeClaim").filter(|p| s(p, "/status/phase") != "Bound") {
        let (ns, name) = (s(pvc, "/metadata/namespace"), s(pvc, "/metadata/name"));
        steps.push(1, step(format!("Events of claim {name}"), Command::events_for(cluster, Some(ns), "PersistentVolumeClaim", name)));
        let class = s(pvc, "/spec/storageClassName");
        if !class.is_empty() && !obs.known("StorageClass", "", class) {
            steps.push(1, step(format!("StorageClass {class} of claim {name}"), Command::get(cluster, None, "storageclasses", class)));
        }
    }
    steps.finish()
}

/// A custom alert about an application whose pods all look healthy (Ready, no restarts):
/// what the status cannot show is in their logs (a denied lease, a refused upstream), and a
/// workload that should scale may have an HPA that cannot.
fn quiet_app_steps(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let cluster = event.cluster_id.as_str();
    let Some(t) = sc.target.as_ref().filter(|t| catalog::lookup(event.alertname()).is_none() && matches!(t.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet" | "Service")) else {
        return;
    };
    let ns = t.namespace.as_deref().unwrap_or("");
    // A Service stands for the workloads behind it: read them (their HPAs name them).
    if t.kind == "Service"
        && let Some(pod) = sc.pods.first()
        && let (kind, wns, wname) = obs.workload_of(pod)
        && let Some(r) = ResourceKind::lookup(&kind).filter(|_| kind != "Pod")
        && !obs.known(&kind, &wns, &wname)
    {
        steps.push(1, step(format!("{kind} {wname} behind Service {}", t.name), Command::get(cluster, Some(&wns), r.plural, &wname)));
    }
    let hpas = Command::list(cluster, Some(ns), "horizontalpodautoscalers", None);
    if !obs.ran(&hpas) && !sc.pods.is_empty() {
        steps.push(3, step(format!("HPAs in {ns} (does one scale {}?)", t.name), hpas));
    }
    if sc.pods.is_empty() || sc.pods.iter().any(|p| unhealthy(p)) {
        return;
    }
    let pod = sc.pods[0];
    let name = s(pod, "/metadata/name");
    for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().map(|c| s(c, "/name")).take(2) {
        steps.push(2, step(format!("Logs of {name}/{c}: its pods look healthy, what do they log?"), Command::logs(cluster, ns, name, c, false, LOG_TAIL)));
    }
    // Slow or backed up with healthy pods: are CPU limits throttling them?
    let cpu_limited = pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().any(|c| !s(c, "/resources/limits/cpu").is_empty());
    if cpu_limited && obs.get("PodMetrics", ns, name).is_none() {
        steps.push(2, step(format!("CPU usage of {name} against its limits"), top_pod(cluster, ns, name)));
    }
}

/// The aggregated metrics APIs an HPA reads: Resource metrics from metrics-server,
/// Pods/Object metrics from a custom-metrics adapter, External metrics from an
/// external-metrics adapter (prometheus-adapter, KEDA, a cloud's adapter).
///
/// The metrics APIService an HPA condition says it cannot read (`... from external metrics
/// API: ... (get rabbitmq_queue_messages_ready.external.metrics.k8s.io)`): the group as the
/// autoscaling rule reads it, served by `v1beta1.<group>`.
pub fn metrics_api_of(message: &str) -> Option<&'static str> {
    analyzers::metrics_api_group(message).map(|group| match group {
        "external.metrics.k8s.io" => "v1beta1.external.metrics.k8s.io",
        "custom.metrics.k8s.io" => "v1beta1.custom.metrics.k8s.io",
        _ => "v1beta1.metrics.k8s.io",
    })
}

/// Kinds whose owner a workload's own controller manages (a Deployment's ReplicaSet, a
/// CronJob's Job): read through the workload, not as an operator's resource.
const BUILTIN_OWNERS: &[&str] = &["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Node"];

/// The operator resource that controls `obj` (a CloudNativePG `Cluster` owns its instance
/// pods and its `-rw`/`-ro` Services, a Strimzi `Kafka` its StrimziPodSets), when its kind
/// is a registered read-only one: its spec and status say what the operator was told
/// (hibernated, scaled to zero, paused).
pub fn operator_owner(obj: &Value) -> Option<(&'static ResourceKind, &str)> {
    let owner = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array)?.iter().find(|o| o.get("controller").and_then(Value::as_bool).unwrap_or(false))?;
    let kind = s(owner, "/kind");
    if BUILTIN_OWNERS.contains(&kind) {
        return None;
    }
    Some((ResourceKind::of_api_version(s(owner, "/apiVersion"), kind)?, s(owner, "/name")))
}

/// Unhealthy pods, Services without a ready endpoint and short StatefulSets or
/// StrimziPodSets whose controller is an operator's resource: read that resource.
fn operator_owner_steps(cluster: &str, obs: &Observations<'_>, steps: &mut Steps<'_>) {
    let short = |o: &Value| o.pointer("/status/readyReplicas").and_then(Value::as_u64).unwrap_or(0) < o.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
    let troubled = obs
        .all("Pod")
        .filter(|p| unhealthy(p))
        .chain(obs.all("Service").filter(|svc| obs.get("Endpoints", s(svc, "/metadata/namespace"), s(svc, "/metadata/name")).is_some_and(|e| k8s::endpoint_addresses(e).0 == 0)))
        .chain(["StatefulSet", "StrimziPodSet"].into_iter().flat_map(|k| obs.all(k)).filter(|o| short(o)));
    for obj in troubled {
        let ns = s(obj, "/metadata/namespace");
        if let Some((r, name)) = operator_owner(obj)
            && !name.is_empty()
            && !obs.known(r.kind, ns, name)
        {
            steps.push(1, step(format!("{} {name} that controls {} {} (what was its operator told?)", r.kind, s(obj, "/kind"), s(obj, "/metadata/name")), Command::get(cluster, Some(ns), r.plural, name)));
        }
    }
}

/// The metrics APIs HPAs report unavailable (from their conditions or warning events): the
/// APIService, the Service it points at, that Service's pods (their events and logs then
/// follow as for any unhealthy pod).
fn metrics_api_steps(cluster: &str, obs: &Observations<'_>, steps: &mut Steps<'_>) {
    let mut apis: Vec<&str> = obs
        .all("HorizontalPodAutoscaler")
        .flat_map(|h| h.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten())
        .filter(|c| s(c, "/status") == "False")
        .filter_map(|c| metrics_api_of(s(c, "/message")))
        .collect();
    // An HPA's warning events say the same when the HPA itself is not read yet.
    for e in obs.events.iter().copied().filter(|e| s(e, "/involvedObject/kind") == "HorizontalPodAutoscaler" && s(e, "/type") == "Warning") {
        let Some(api) = metrics_api_of(s(e, "/message")) else { continue };
        let (ns, name) = (s(e, "/involvedObject/namespace"), s(e, "/involvedObject/name"));
        if !obs.known("HorizontalPodAutoscaler", ns, name) {
            steps.push(1, step(format!("HPA {name}, which cannot read its metrics"), Command::get(cluster, Some(ns), "horizontalpodautoscalers", name)));
        }
        apis.push(api);
    }
    apis.sort_unstable();
    apis.dedup();
    for api in apis {
        let Some(apiservice) = obs.get("APIService", "", api) else {
            if !obs.known("APIService", "", api) {
                steps.push(1, step(format!("APIService {api} (an HPA cannot read its metrics)"), Command::get(cluster, None, "apiservices", api)));
            }
            continue;
        };
        let (ns, name) = (s(apiservice, "/spec/service/namespace"), s(apiservice, "/spec/service/name"));
        if ns.is_empty() || name.is_empty() {
            continue;
        }
        let Some(svc) = obs.get("Service", ns, name) else {
            if !obs.known("Service", ns, name) {
                steps.push(1, step(format!("Service {ns}/{name} behind {api}"), Command::get(cluster, Some(ns), "services", name)));
            }
            continue;
        };
        let pods = scope::pods_of_service(obs, svc);
        if pods.is_empty() {
            service_check(cluster, obs, svc, 1, steps);
            continue;
        }
        if let Some(p) = pods.iter().find(|p| unhealthy(p)) {
            pod_steps(cluster, obs, p, 1, steps);
        }
    }
}

fn workload_steps(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    for w in &sc.workloads {
        let (kind, ns, name) = (s(w, "/kind"), s(w, "/metadata/namespace"), s(w, "/metadata/name"));
        let selector = crate::labels::match_labels_selector(w);
        if !selector.is_empty() && scope::pods_of_workload(obs, w).is_empty() {
            steps.push(1, step(format!("Pods of {kind} {name}"), Command::list(cluster, Some(ns), "pods", Some(&selector))));
        }
        if kind == "Job" {
            steps.push(2, step(format!("Events of Job {name}"), Command::events_for(cluster, Some(ns), "Job", name)));
        }
    }
    // A CronJob alert: the Jobs it has running (status.active), which hold the failure.
    if let Some(t) = sc.target.as_ref().filter(|t| t.kind == "CronJob") {
        let ns = t.namespace.as_deref().unwrap_or("");
        let active = obs.get("CronJob", ns, &t.name).and_then(|c| c.pointer("/status/active")).and_then(Value::as_array);
        for job in active.into_iter().flatten().map(|r| s(r, "/name")).filter(|n| !n.is_empty()).take(2) {
            if !obs.known("Job", ns, job) {
                steps.push(1, step(format!("Active Job {job} of CronJob {}", t.name), Command::get(cluster, Some(ns), "jobs", job)));
            }
            steps.push(2, step(format!("Events of Job {job}"), Command::events_for(cluster, Some(ns), "Job", job)));
        }
    }
    // An HPA alert is about its target's pods too.
    if let Some(t) = sc.target.as_ref().filter(|t| t.kind == "HorizontalPodAutoscaler") {
        let ns = t.namespace.as_deref().unwrap_or("");
        if let Some(hpa) = obs.get("HorizontalPodAutoscaler", ns, &t.name) {
            let (kind, name) = (s(hpa, "/spec/scaleTargetRef/kind"), s(hpa, "/spec/scaleTargetRef/name"));
            if let Some(r) = ResourceKind::lookup(kind)
                && !obs.known(kind, ns, name)
            {
                steps.push(1, step(format!("Scale target {kind} {name} of the HPA"), Command::get(cluster, Some(ns), r.plural, name)));
            }
        }
    }
    // A ReplicaSet read on its own: who owns it.
    for rs in obs.all("ReplicaSet") {
        let ns = s(rs, "/metadata/namespace");
        if let Some((kind, owner)) = Observations::controller_of(rs)
            && let Some(r) = ResourceKind::lookup(&kind)
            && !obs.known(&kind, ns, &owner)
            && sc.target.as_ref().is_some_and(|t| t.kind == "ReplicaSet")
        {
            steps.push(2, step(format!("Owner of ReplicaSet {}", s(rs, "/metadata/name")), Command::get(cluster, Some(ns), r.plural, &owner)));
        }
    }
}

/// What a Service needs checked: endpoints, the pods it selects, and when it selects none,
/// the pods that look like they should match.
fn service_steps(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let traffic_alert = sc.target.as_ref().is_some_and(|t| matches!(t.kind.as_str(), "Service" | "Ingress")) || sc.external_host.is_some();
    for svc in &sc.services {
        service_check(cluster, obs, svc, 1, steps);
        // Structurally fine and still alerting: what do its pods say?
        let ns = s(svc, "/metadata/namespace");
        let pods = scope::pods_of_service(obs, svc);
        let endpoints_ready = obs.get("Endpoints", ns, s(svc, "/metadata/name")).is_some_and(|e| k8s::endpoint_addresses(e).0 > 0);
        if traffic_alert
            && endpoints_ready
            && let Some(pod) = pods.iter().find(|p| k8s::pod_ready(p))
        {
            let name = s(pod, "/metadata/name");
            for c in serving_containers(svc, pod) {
                steps.push(3, step(format!("Logs of {name}/{c}, the ready backend serving the Service's port"), Command::logs(cluster, ns, name, c, false, LOG_TAIL)));
            }
        }
    }
}

fn service_check(cluster: &str, obs: &Observations<'_>, svc: &Value, base: u8, steps: &mut Steps<'_>) {
    let (ns, name) = (s(svc, "/metadata/namespace"), s(svc, "/metadata/name"));
    if !obs.known("Endpoints", ns, name) {
        steps.push(base, step(format!("Endpoints of Service {name}"), Command::get(cluster, Some(ns), "endpoints", name)));
    }
    let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty()) else { return };
    let sel = k8s::selector_string(selector);
    let list = Command::list(cluster, Some(ns), "pods", Some(&sel));
    if !obs.ran(&list) && scope::pods_of_service(obs, svc).is_empty() {
        steps.push(base, step(format!("Pods Service {name} selects ({sel})"), list));
        return;
    }
    // Pods behind it that restart: why they crash is why the Service has no endpoint.
    for p in scope::pods_of_service(obs, svc).into_iter().filter(|p| !k8s::pod_ready(p)).take(1) {
        for cs in statuses(p).filter(|cs| cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0) {
            let (pname, c) = (s(p, "/metadata/name"), s(cs, "/name"));
            steps.push(base, step(format!("Logs of the crashed {c} container of {pname} behind {name}"), Command::logs(cluster, ns, pname, c, true, LOG_TAIL)));
        }
    }
    if scope::pods_of_service(obs, svc).is_empty() {
        // Selects nothing: the pods that should match, and a workload scaled to zero.
        steps.push(base, step(format!("Pods in {ns}, to compare their labels with the selector of {name}"), Command::list(cluster, Some(ns), "pods", None)));
        steps.push(base + 1, step(format!("Deployments in {ns} (one may back {name} at 0 replicas)"), Command::list(cluster, Some(ns), "deployments", None)));
        steps.push(base + 1, step(format!("StatefulSets in {ns} (one may back {name} at 0 replicas)"), Command::list(cluster, Some(ns), "statefulsets", None)));
    }
}

fn ingress_steps(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    for ing in &sc.ingresses {
        let ns = s(ing, "/metadata/namespace");
        for (svc, _) in scope::ingress_backends(ing) {
            if !obs.known("Service", ns, &svc) {
                steps.push(1, step(format!("Backend Service {svc} of Ingress {}", s(ing, "/metadata/name")), Command::get(cluster, Some(ns), "services", &svc)));
            }
        }
        let class = s(ing, "/spec/ingressClassName");
        if !class.is_empty() && !obs.known("IngressClass", "", class) {
            steps.push(2, step(format!("IngressClass {class}"), Command::get(cluster, None, "ingressclasses", class)));
        }
    }
    for route in &sc.routes {
        let ns = s(route, "/metadata/namespace");
        for svc in scope::route_backends(route) {
            if !obs.known("Service", ns, &svc) {
                steps.push(1, step(format!("Service {svc} of {} {}", s(route, "/kind"), s(route, "/metadata/name")), Command::get(cluster, Some(ns), "services", &svc)));
            }
        }
    }
}

/// The containers of a pod that serve a Service's target ports (by port name or number):
/// on a scraped target, the one answering the scrape (a kube-rbac-proxy sidecar, say).
fn serving_containers<'p>(svc: &Value, pod: &'p Value) -> Vec<&'p str> {
    let targets: Vec<&Value> = svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten().map(|p| p.get("targetPort").or_else(|| p.get("port")).unwrap_or(&Value::Null)).collect();
    let serves = |c: &Value| {
        c.get("ports").and_then(Value::as_array).into_iter().flatten().any(|cp| {
            targets.iter().any(|t| match t {
                Value::String(name) => s(cp, "/name") == name,
                Value::Number(n) => cp.get("containerPort").and_then(Value::as_i64) == n.as_i64(),
                _ => false,
            })
        })
    };
    let containers: Vec<&Value> = pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().filter(|c| serves(c)).collect();
    let mut names: Vec<&str> = containers.iter().map(|c| s(c, "/name")).collect();
    if names.is_empty()
        && let Some(first) = pod.pointer("/spec/containers/0/name").and_then(Value::as_str)
    {
        names.push(first);
    }
    names.dedup();
    names
}

/// Events, logs and context of one pod.
fn pod_steps(cluster: &str, obs: &Observations<'_>, pod: &Value, base: u8, steps: &mut Steps<'_>) {
    let ns = s(pod, "/metadata/namespace");
    let name = s(pod, "/metadata/name");
    let warnings_read = obs.ran(&warnings_in(cluster, ns)) || obs.ran(&sweep_warnings(cluster, ns));
    if !warnings_read {
        steps.push(base, step(format!("Events of pod {name}"), Command::events_for(cluster, Some(ns), "Pod", name)));
    }
    // A referenced object that does not exist at all may be one a controller failed to
    // generate: the namespace's warnings say which and why.
    let object_missing = statuses(pod).any(|cs| s(cs, "/state/waiting/reason") == "CreateContainerConfigError" && s(cs, "/state/waiting/message").ends_with("not found"));
    if object_missing && !obs.warnings_listed.contains(ns) {
        steps.push(base, step(format!("Warnings in namespace {ns} (what should have created the missing object?)"), warnings_in(cluster, ns)));
    }
    let events = obs.events_for("Pod", ns, name);
    for cs in statuses(pod) {
        let c = s(cs, "/name");
        let restarts = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
        let crashed = restarts > 0 && (s(cs, "/state/waiting/reason") == "CrashLoopBackOff" || cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).is_some_and(|x| x != 0));
        if crashed && s(cs, "/lastState/terminated/reason") != "OOMKilled" {
            steps.push(base, step(format!("Logs of the crashed {c} container"), Command::logs(cluster, ns, name, c, true, LOG_TAIL)));
        }
        // A Job's failed container does not restart: its log is the current one.
        if s(pod, "/status/phase") == "Failed" && s(pod, "/status/reason") != "Evicted" && cs.pointer("/state/terminated/exitCode").and_then(Value::as_i64).is_some_and(|x| x != 0) {
            steps.push(base + 1, step(format!("Logs of the failed {c} container"), Command::logs(cluster, ns, name, c, false, LOG_TAIL)));
        }
        let running_unready = cs.pointer("/state/running").is_some() && !cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
        let readiness_explained = events.iter().any(|e| s(e, "/reason") == "Unhealthy" && !s(e, "/message").contains("statuscode: 5"));
        if running_unready && !readiness_explained {
            steps.push(base + 2, step(format!("Logs of the unready {c} container"), Command::logs(cluster, ns, name, c, false, LOG_TAIL)));
        }
        if s(cs, "/state/waiting/reason") == "CreateContainerConfigError" {
            for (res, obj) in config_refs(pod, c) {
                if !obs.known(if res == "configmaps" { "ConfigMap" } else { "Secret" }, ns, &obj) {
                    steps.push(base + 1, step(format!("Referenced {res} {obj}"), Command::get(cluster, Some(ns), res, &obj)));
                }
            }
        }
    }
    // Probes that time out on a CPU-limited container: is it starved?
    let timeouts = events.iter().any(|e| s(e, "/reason") == "Unhealthy" && ["context deadline exceeded", "Client.Timeout", "timed out"].iter().any(|t| s(e, "/message").contains(t)));
    let cpu_limited = pod.get("spec").map(k8s::containers).into_iter().flatten().any(|c| !s(c, "/resources/limits/cpu").is_empty());
    if timeouts && cpu_limited && obs.get("PodMetrics", ns, name).is_none() {
        steps.push(base, step(format!("CPU usage of {name} against its limits"), top_pod(cluster, ns, name)));
    }
    // A volume that cannot mount: confirm the object it names.
    for e in events.iter().filter(|e| s(e, "/reason") == "FailedMount") {
        let m = s(e, "/message");
        for (word, res, kind) in [("secret \"", "secrets", "Secret"), ("configmap \"", "configmaps", "ConfigMap"), ("persistentvolumeclaim \"", "persistentvolumeclaims", "PersistentVolumeClaim")] {
            if let Some(rest) = m.split(word).nth(1)
                && let Some(obj) = rest.split('"').next()
                && m.contains("not found")
                && !obs.known(kind, ns, obj)
            {
                steps.push(base + 2, step(format!("{kind} {obj} the volume needs"), Command::get(cluster, Some(ns), res, obj)));
            }
        }
    }
    if s(pod, "/status/phase") == "Pending" {
        for claim in pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str)) {
            steps.push(base, step(format!("Claim {claim} the pod waits for"), Command::get(cluster, Some(ns), "persistentvolumeclaims", claim)));
        }
        if pod.pointer("/spec/nodeName").is_none() {
            steps.push(base, step("Nodes the scheduler could use", Command::list(cluster, None, "nodes", None)));
        }
    }
    // Lost on its node: read the node.
    let node = s(pod, "/spec/nodeName");
    let lost = s(pod, "/status/phase") == "Unknown" || s(pod, "/status/reason") == "NodeLost" || pod.pointer("/metadata/deletionTimestamp").is_some() || s(pod, "/status/reason") == "Evicted";
    if lost && !node.is_empty() && !obs.known("Node", "", node) {
        steps.push(base + 1, step(format!("Node {node} of pod {name}"), Command::get(cluster, None, "nodes", node)));
    }
}

/// What a pod's node explains: the node of a pod stranded there (every pod, not only the
/// followed ones), the CNI DaemonSet when the node's network or a pod's sandbox is not set
/// up, and the neighbours (and their usage) of a pod evicted for node pressure.
fn node_steps(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let daemonsets = || step("DaemonSets (which one installs the CNI plugin?)", limited(all_namespaces(Command::list(cluster, None, "daemonsets", None))));
    for pod in &sc.pods {
        let node = s(pod, "/spec/nodeName");
        if node.is_empty() {
            continue;
        }
        let stranded = !k8s::pod_ready(pod) && (s(pod, "/status/phase") == "Unknown" || s(pod, "/status/reason") == "NodeLost" || pod.pointer("/metadata/deletionTimestamp").is_some());
        if stranded && !obs.known("Node", "", node) {
            steps.push(1, step(format!("Node {node}, where {} is stranded", s(pod, "/metadata/name")), Command::get(cluster, None, "nodes", node)));
        }
        if s(pod, "/status/reason") == "Evicted" {
            let mut on_node = all_namespaces(Command::list(cluster, None, "pods", None));
            on_node.flags.insert("field-selector".into(), format!("spec.nodeName={node}"));
            steps.push(2, step(format!("Pods on node {node} (what fills it?)"), on_node));
            let mut top = all_namespaces(Command::list(cluster, None, "pods", None));
            top.action = "top".into();
            steps.push(2, step("Pod usage (which pod uses far more than it requests?)", top));
        }
        let sandbox = obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name")).iter().any(|e| s(e, "/reason") == "FailedCreatePodSandBox" && analyzers::cni_sandbox_failure(s(e, "/message")));
        if sandbox {
            steps.push(1, daemonsets());
            for ds in obs.all("DaemonSet").filter(|d| analyzers::is_cni_daemonset(d)).take(1) {
                let dns = s(ds, "/metadata/namespace");
                let selector = crate::labels::match_labels_selector(ds);
                let mut list = Command::list(cluster, Some(dns), "pods", Some(&selector));
                list.flags.insert("field-selector".into(), format!("spec.nodeName={node}"));
                steps.push(1, step(format!("{} pod on node {node}", s(ds, "/metadata/name")), list));
                for p in obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == dns && s(p, "/spec/nodeName") == node && Observations::controller_of(p).is_some_and(|(k, n)| k == "DaemonSet" && n == s(ds, "/metadata/name"))) {
                    if let Some(c) = p.pointer("/spec/containers/0/name").and_then(Value::as_str) {
                        steps.push(1, step(format!("Log of the CNI pod {} on {node}", s(p, "/metadata/name")), Command::logs(cluster, dns, s(p, "/metadata/name"), c, false, LOG_TAIL)));
                    }
                }
            }
        }
    }
    let nodes = sc.target.iter().filter(|t| t.kind == "Node").map(|t| t.name.as_str()).chain(sc.pods.iter().map(|p| s(p, "/spec/nodeName")));
    for node in nodes.filter_map(|n| obs.get("Node", "", n)) {
        if k8s::condition(node, "Ready").is_some_and(|c| s(c, "/status") != "True" && analyzers::network_plugin_not_ready(s(c, "/message"))) {
            steps.push(1, daemonsets());
        }
    }
}

/// Pods on a node when listing them across namespaces is forbidden (an identity scoped to
/// some namespaces): the cluster's Evicted events say which namespaces lost pods there, and
/// those namespaces are listed one by one (at most five).
fn node_pods_by_namespace(cluster: &str, obs: &Observations<'_>, steps: &mut Steps<'_>) {
    for node in obs.all("Node") {
        let name = s(node, "/metadata/name");
        let mut across = all_namespaces(Command::list(cluster, None, "pods", None));
        across.flags.insert("field-selector".into(), format!("spec.nodeName={name}"));
        if !obs.denied.contains(&across.to_string()) {
            continue;
        }
        steps.push(2, step("Evicted events in every namespace (which namespaces lost pods?)", events_with_reason(cluster, "Evicted")));
        let on_node = |e: &Value| [s(e, "/source/host"), s(e, "/reportingInstance"), s(e, "/deprecatedSource/host")].contains(&name) || s(e, "/reason") == "Evicted";
        let mut namespaces: Vec<&str> = obs.events.iter().filter(|e| s(e, "/involvedObject/kind") == "Pod" && on_node(e)).map(|e| s(e, "/involvedObject/namespace")).filter(|n| !n.is_empty()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        for ns in namespaces.into_iter().take(5) {
            let mut list = Command::list(cluster, Some(ns), "pods", None);
            list.flags.insert("field-selector".into(), format!("spec.nodeName={name}"));
            steps.push(2, step(format!("Pods of {ns} on node {name}"), list));
        }
    }
}

/// A custom alert (an SLO, an application metric) whose pods look healthy: what their
/// status cannot show is in their logs, and a service that should have scaled may have an
/// HPA that cannot.
fn quiet_pod_steps(event: &StandardEvent, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let cluster = event.cluster_id.as_str();
    let Some(t) = sc.target.as_ref().filter(|t| catalog::lookup(event.alertname()).is_none() && matches!(t.kind.as_str(), "Pod" | "Service")) else { return };
    let ns = t.namespace.as_deref().unwrap_or("");
    if t.kind == "Service" && !sc.pods.is_empty() {
        steps.push(3, step(format!("HPAs in {ns} (does one scale {}'s pods?)", t.name), Command::list(cluster, Some(ns), "horizontalpodautoscalers", None)));
    }
    if sc.pods.is_empty() || sc.pods.iter().any(|p| unhealthy(p)) {
        return;
    }
    if t.kind == "Pod" {
        let pod = sc.pods[0];
        for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().map(|c| s(c, "/name")).take(2) {
            steps.push(2, step(format!("Logs of {}/{c}: it looks healthy, what does it log?", t.name), Command::logs(cluster, ns, &t.name, c, false, LOG_TAIL)));
        }
    }
}

/// An HPA that cannot read the resource metrics API, from the usual install's side (for when
/// the APIService cannot be read): metrics-server, its pods and the log of one that is not
/// ready.
fn metrics_server_steps(cluster: &str, obs: &Observations<'_>, steps: &mut Steps<'_>) {
    let blind = obs.all("HorizontalPodAutoscaler").any(|h| {
        ["AbleToScale", "ScalingActive"].iter().filter_map(|t| k8s::condition(h, t)).any(|c| s(c, "/status") == "False" && analyzers::metrics_api_group(s(c, "/message")) == Some("metrics.k8s.io"))
    });
    if !blind {
        return;
    }
    let (ns, name) = analyzers::METRICS_SERVER;
    let Some(deploy) = obs.get("Deployment", ns, name) else {
        if !obs.known("Deployment", ns, name) {
            steps.push(1, step(format!("{name}, which serves the resource metrics API"), Command::get(cluster, Some(ns), "deployments", name)));
        }
        return;
    };
    let pods = scope::pods_of_workload(obs, deploy);
    let selector = crate::labels::match_labels_selector(deploy);
    if pods.is_empty() && !selector.is_empty() {
        steps.push(1, step(format!("Pods of {name}"), Command::list(cluster, Some(ns), "pods", Some(&selector))));
    }
    for p in pods.iter().filter(|p| !k8s::pod_ready(p)).take(1) {
        for cs in statuses(p) {
            let restarted = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0 && cs.pointer("/state/running").is_none();
            steps.push(1, step(format!("Log of {}, not ready", s(p, "/metadata/name")), Command::logs(cluster, ns, s(p, "/metadata/name"), s(cs, "/name"), restarted, LOG_TAIL)));
        }
    }
}

/// What the logs of the alert's pods point at, followed one hop: the ServiceAccount's
/// bindings, CoreDNS, or the dependency's Service, endpoints, backing pods and policies.
/// A log or warning saying the API server could not call an admission webhook
/// (`failed calling webhook ... Post "https://<svc>.<ns>.svc...`): the webhook's Service and
/// the workloads of its namespace (which one serves it, scaled to zero?).
fn webhook_backend_steps(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let own_logs = obs.logs.iter().filter(|((ns, pod, _, _), _)| sc.pods.iter().any(|p| s(p, "/metadata/namespace") == ns && s(p, "/metadata/name") == pod)).map(|(_, l)| l.as_ref());
    let texts = own_logs.chain(obs.events.iter().map(|e| s(e, "/message")));
    for text in texts {
        let Some(at) = text.find("failed calling webhook") else { continue };
        let Some(host) = text[at..].split("https://").nth(1).and_then(|h| h.split(".svc").next()) else { continue };
        let Some((svc, ns)) = host.split_once('.').filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(['/', ':', ' '])) else { continue };
        if !obs.known("Service", ns, svc) {
            steps.push(1, step(format!("Service {svc} behind the admission webhook"), Command::get(cluster, Some(ns), "services", svc)));
        }
        steps.push(1, step(format!("Deployments in {ns} (which serves the webhook?)"), Command::list(cluster, Some(ns), "deployments", None)));
        return;
    }
}

fn log_chains(cluster: &str, obs: &Observations<'_>, sc: &Scope<'_>, steps: &mut Steps<'_>) {
    let mut seen = vec![];
    for pod in &sc.pods {
        let (ns, name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
        for ((lns, lpod, _, previous), log) in &obs.logs {
            if lns != ns || lpod != name {
                continue;
            }
            let symptom = if *previous {
                logs::crash_cause(log)
            } else {
                logs::symptoms(log).into_iter().find(|sy| {
                    matches!(sy, Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { host: Some(_), .. } | Symptom::Dependency { failure: ConnectFailure::Timeout, .. })
                })
            };
            if let Some(sy) = symptom
                && !seen.contains(&sy)
            {
                chain_steps(cluster, obs, pod, &sy, steps);
                seen.push(sy);
            }
        }
    }
}

fn chain_steps(cluster: &str, obs: &Observations<'_>, client: &Value, symptom: &Symptom, steps: &mut Steps<'_>) {
    let client_ns = s(client, "/metadata/namespace");
    match symptom {
        Symptom::Rbac { sa_namespace, sa_name, namespace, .. } => {
            match namespace {
                Some(n) => {
                    steps.push(1, step(format!("RoleBindings in {n} (what ServiceAccount {sa_name} may do)"), Command::list(cluster, Some(n), "rolebindings", None)));
                    // A ClusterRoleBinding grants in every namespace too (the usual operator install).
                    steps.push(1, step(format!("ClusterRoleBindings (what ServiceAccount {sa_name} may do)"), Command::list(cluster, None, "clusterrolebindings", None)));
                    // Its grants at home: the same binding may be what is missing in namespace n.
                    if !sa_namespace.is_empty() && sa_namespace != n {
                        steps.push(2, step(format!("RoleBindings in {sa_namespace} (what ServiceAccount {sa_name} may do at home)"), Command::list(cluster, Some(sa_namespace), "rolebindings", None)));
                    }
                }
                None => {
                    // A RoleBinding of the right ClusterRole grants it only in its namespace,
                    // never at cluster scope: the usual cause of a cluster-scope denial.
                    if !sa_namespace.is_empty() {
                        steps.push(0, step(format!("RoleBindings in {sa_namespace} (a ClusterRole bound there grants nothing cluster-wide)"), Command::list(cluster, Some(sa_namespace), "rolebindings", None)));
                    }
                    steps.push(1, step(format!("ClusterRoleBindings (what ServiceAccount {sa_name} may do)"), Command::list(cluster, None, "clusterrolebindings", None)));
                }
            }
            let binds_sa = |b: &Value| {
                b.get("subjects").and_then(Value::as_array).into_iter().flatten().any(|sub| {
                    s(sub, "/kind") == "ServiceAccount" && s(sub, "/name") == sa_name && (s(sub, "/namespace") == sa_namespace || s(sub, "/namespace").is_empty())
                })
            };
            for b in obs.all("RoleBinding").chain(obs.all("ClusterRoleBinding")).filter(|b| binds_sa(b)) {
                let (kind, role) = (s(b, "/roleRef/kind"), s(b, "/roleRef/name"));
                let (res, rns) = if kind == "Role" { ("roles", Some(s(b, "/metadata/namespace"))) } else { ("clusterroles", None) };
                // For a cluster-scope denial, a ClusterRole bound only by a RoleBinding is the
                // first suspect: it may grant the verb, but never cluster-wide.
                let misbound = namespace.is_none() && kind == "ClusterRole" && s(b, "/kind") == "RoleBinding";
                if !obs.known(kind, rns.unwrap_or(""), role) {
                    steps.push(if misbound { 0 } else { 1 }, step(format!("{kind} {role} bound to ServiceAccount {sa_name}"), Command::get(cluster, rns, res, role)));
                }
            }
        }
        Symptom::Dns { host, line } => {
            // A link-local resolver is the node-local DNS cache: its DaemonSet, and the node.
            if analyzers::link_local_resolver(line).is_some() {
                steps.push(1, step("DaemonSets in kube-system (the node-local DNS cache)", Command::list(cluster, Some(DNS_NAMESPACE), "daemonsets", None)));
                let node = s(client, "/spec/nodeName");
                if !node.is_empty() && !obs.known("Node", "", node) {
                    steps.push(1, step(format!("Node {node} (taints the DNS cache must tolerate)"), Command::get(cluster, None, "nodes", node)));
                }
            }
            // The pod's own namespace first: an egress policy that forgets port 53 looks
            // exactly like a DNS outage from inside the pod.
            if !client.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false) {
                steps.push(1, step(format!("NetworkPolicies in {client_ns} (egress to DNS allowed?)"), Command::list(cluster, Some(client_ns), "networkpolicies", None)));
            }
            let Some(dns) = obs.get("Service", DNS_NAMESPACE, DNS_SERVICE) else {
                if !obs.known("Service", DNS_NAMESPACE, DNS_SERVICE) {
                    steps.push(1, step("The cluster DNS Service (CoreDNS)", Command::get(cluster, Some(DNS_NAMESPACE), "services", DNS_SERVICE)));
                }
                return;
            };
            let Some(selector) = dns.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty()) else { return };
            let list = Command::list(cluster, Some(DNS_NAMESPACE), "pods", Some(&k8s::selector_string(selector)));
            let dns_pods = scope::pods_of_service(obs, dns);
            if dns_pods.is_empty() && !obs.ran(&list) {
                steps.push(1, step("CoreDNS pods", list));
                return;
            }
            if dns_pods.is_empty() {
                // Listed and none: what should run them (scaled to zero?).
                steps.push(1, step("Deployments in kube-system (CoreDNS has no pod)", Command::list(cluster, Some(DNS_NAMESPACE), "deployments", None)));
                return;
            }
            let sick: Vec<&Value> = dns_pods.iter().copied().filter(|p| unhealthy(p)).collect();
            for p in sick.iter().take(1) {
                for cs in statuses(p) {
                    let c = s(cs, "/name");
                    let pns = s(p, "/metadata/namespace");
                    let pname = s(p, "/metadata/name");
                    if cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0 {
                        steps.push(1, step(format!("Logs of the crashed CoreDNS container {pname}"), Command::logs(cluster, pns, pname, c, true, LOG_TAIL)));
                    } else {
                        steps.push(2, step(format!("Events of CoreDNS pod {pname}"), Command::events_for(cluster, Some(pns), "Pod", pname)));
                    }
                }
            }
            if sick.is_empty()
                && let Some(h) = host
            {
                let hns = h.namespace.as_deref().unwrap_or(client_ns);
                if !obs.known("Service", hns, &h.name) {
                    steps.push(2, step(format!("Service {} the app resolves", h.name), Command::get(cluster, Some(hns), "services", &h.name)));
                }
            }
        }
        // Connections to a host outside the cluster (or to one the line does not name) time
        // out: packets dropped on the way out. The client's egress policies decide, the
        // namespace's and those a CNI applies from its own CRDs, cluster-wide ones included.
        Symptom::Dependency { host, failure: ConnectFailure::Timeout, .. } if host.as_ref().is_none_or(|h| h.name.contains('.')) => {
            steps.push(1, step(format!("NetworkPolicies in {client_ns} (egress of the client)"), Command::list(cluster, Some(client_ns), "networkpolicies", None)));
            for (plural, namespaced) in CNI_POLICIES {
                let (ns, whose) = if *namespaced { (Some(client_ns), format!("in {client_ns}")) } else { (None, "cluster-wide".to_owned()) };
                steps.push(2, step(format!("{plural} {whose} (CNI policies may drop the client's egress)"), Command::list(cluster, ns, plural, None)));
            }
            if !obs.known("Namespace", "", client_ns) {
                steps.push(3, step(format!("Labels of namespace {client_ns} (policy namespaceSelectors match them)"), Command::get(cluster, None, "namespaces", client_ns)));
            }
        }
        Symptom::Dependency { host: Some(h), failure, .. } if h.ip.is_some_and(|ip| ip.to_string() == h.name) => {
            // An address dialled: which Service has it as ClusterIP (the client's namespace first).
            match obs.service_by_cluster_ip(&h.name) {
                Some(svc) => {
                    let named = logs::Host { name: s(svc, "/metadata/name").to_owned(), namespace: Some(s(svc, "/metadata/namespace").to_owned()), port: h.port, ip: h.ip };
                    let resolved = Symptom::Dependency { line: String::new(), host: Some(named), failure: *failure };
                    chain_steps(cluster, obs, client, &resolved, steps);
                }
                None => steps.push(1, step(format!("Services in {client_ns} (which one has ClusterIP {}?)", h.name), limited(Command::list(cluster, Some(client_ns), "services", None)))),
            }
        }
        Symptom::Dependency { host: Some(h), failure, .. } => {
            let ns = h.namespace.as_deref().unwrap_or(client_ns);
            let Some(svc) = obs.get("Service", ns, &h.name) else {
                if !obs.known("Service", ns, &h.name) {
                    steps.push(1, step(format!("Service {} the app cannot reach", h.name), Command::get(cluster, Some(ns), "services", &h.name)));
                    steps.push(1, step(format!("Endpoints of {}", h.name), Command::get(cluster, Some(ns), "endpoints", &h.name)));
                }
                return;
            };
            let ready = obs.get("Endpoints", ns, &h.name).map(|e| k8s::endpoint_addresses(e).0);
            match ready {
                None => {
                    if !obs.known("Endpoints", ns, &h.name) {
                        steps.push(1, step(format!("Endpoints of {}", h.name), Command::get(cluster, Some(ns), "endpoints", &h.name)));
                    }
                }
                Some(0) => service_check(cluster, obs, svc, 1, steps),
                Some(_) if *failure == ConnectFailure::Unavailable => {
                    // It answers but cannot serve: which workload runs it (its pods may be unreadable).
                    steps.push(1, step(format!("StatefulSets in {ns} (what runs {})", h.name), Command::list(cluster, Some(ns), "statefulsets", None)));
                    steps.push(1, step(format!("Deployments in {ns} (what runs {})", h.name), Command::list(cluster, Some(ns), "deployments", None)));
                }
                Some(_) => {
                    if *failure != ConnectFailure::Refused {
                        steps.push(1, step(format!("NetworkPolicies in {ns} (the dependency answers nobody? or only some clients?)"), Command::list(cluster, Some(ns), "networkpolicies", None)));
                        if ns != client_ns {
                            steps.push(2, step(format!("NetworkPolicies in {client_ns} (egress of the client)"), Command::list(cluster, Some(client_ns), "networkpolicies", None)));
                        }
                        if !obs.known("Namespace", "", client_ns) {
                            steps.push(3, step(format!("Labels of namespace {client_ns} (policy namespaceSelectors match them)"), Command::get(cluster, None, "namespaces", client_ns)));
                        }
                    }
                    if let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty()) {
                        steps.push(2, step(format!("Pods behind {}", h.name), Command::list(cluster, Some(ns), "pods", Some(&k8s::selector_string(selector)))));
                    }
                }
            }
        }
        _ => {}
    }
}

/// ConfigMaps and Secrets a container's env and envFrom reference.
fn config_refs(pod: &Value, container: &str) -> Vec<(&'static str, String)> {
    let Some(c) = pod.get("spec").and_then(|spec| k8s::containers(spec).find(|c| s(c, "/name") == container)) else { return vec![] };
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

#[cfg(test)]
mod tests;
