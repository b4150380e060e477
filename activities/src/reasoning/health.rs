//! Whether the alert's object is healthy now, and what says it is not. `not-an-issue` is
//! the worst answer to get wrong (it tells the person on call that all is well), so it
//! needs positive evidence: the object read and healthy, every pod of the alert ready and
//! not restarted lately, no failed Job, and no error its read logs carry.

use super::{
    k8s,
    logs::{self, Symptom},
    observations::{Observations, s},
    scope::Scope,
};
use aetherius_core::{StandardEvent, Target};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// How long before the alert a container restart still counts as part of it.
const RECENT_RESTART: chrono::Duration = chrono::Duration::hours(1);

/// `Ok(why it is healthy)` with positive evidence that the alert's own object and what it
/// points at are healthy now; else `Err(what is not, or what was not seen)`.
pub fn all_clear(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, target: &Target) -> Result<String, String> {
    let ns = target.namespace.as_deref().unwrap_or("");
    let t_ref = target.resource_ref();
    let Some(obj) = obs.get(&target.kind, ns, &target.name) else { return Err(format!("{t_ref} was not read")) };
    let Some(why) = looks_healthy(obj) else { return Err(format!("{t_ref} does not show a healthy status")) };
    let mut problems = vec![];
    for p in &sc.pods {
        if let Some(why) = pod_trouble(event.timestamp, p) {
            problems.push(format!("{}/Pod/{}: {why}", s(p, "/metadata/namespace"), s(p, "/metadata/name")));
        }
        for (container, line) in log_errors(obs, p) {
            problems.push(format!("logs of {}/{}/{container} carry: {}", s(p, "/metadata/namespace"), s(p, "/metadata/name"), line.trim()));
        }
    }
    for w in sc.workloads.iter().filter(|w| s(w, "/kind") == "Job") {
        if k8s::condition(w, "Failed").is_some_and(|c| s(c, "/status") == "True") {
            problems.push(format!("{}/Job/{} failed", s(w, "/metadata/namespace"), s(w, "/metadata/name")));
        }
    }
    if problems.is_empty() { Ok(why) } else { Err(problems.join("; ")) }
}

/// Why a pod of the alert is not healthy now, if it is not.
fn pod_trouble(alert_start: DateTime<Utc>, pod: &Value) -> Option<String> {
    let phase = s(pod, "/status/phase");
    if matches!(phase, "Pending" | "Failed" | "Unknown") {
        return Some(format!("phase {phase}"));
    }
    if phase == "Succeeded" {
        return None;
    }
    if !k8s::pod_ready(pod) {
        return Some("not Ready".into());
    }
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"].into_iter().filter_map(|p| pod.pointer(p).and_then(Value::as_array)).flatten();
    for cs in statuses {
        let name = s(cs, "/name");
        if let Some(reason) = cs.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return Some(format!("container {name} waiting: {reason}"));
        }
        let restarts = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
        if restarts == 0 {
            continue;
        }
        // A restart without a time, or within the hour before the alert, is part of it.
        let finished = DateTime::parse_from_rfc3339(s(cs, "/lastState/terminated/finishedAt")).ok().map(|t| t.with_timezone(&Utc));
        if finished.is_none_or(|t| t >= alert_start - RECENT_RESTART) {
            let last = s(cs, "/lastState/terminated/reason");
            return Some(format!("container {name} restarted {restarts} times, lately{}", if last.is_empty() { String::new() } else { format!(" ({last})") }));
        }
    }
    None
}

/// Error lines (a denial, a failed lookup, a refused or timed-out connection, a crash) in
/// the logs read of a pod's containers, one per container.
fn log_errors<'a>(obs: &Observations<'a>, pod: &Value) -> Vec<(String, String)> {
    let (ns, name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    obs.logs
        .iter()
        .filter(|((lns, lpod, _, _), _)| lns == ns && lpod == name)
        .filter_map(|((_, _, container, _), log)| {
            logs::symptoms(log)
                .into_iter()
                .find(|sy| matches!(sy, Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { .. }))
                .map(|sy| (container.clone(), sy.line().to_owned()))
        })
        .collect()
}

/// Why an object the alert measures looks healthy, if it does. Only kinds whose status is
/// what kube-state-metrics alerts on: a Service with endpoints can still fail requests.
pub fn looks_healthy(obj: &serde_json::Value) -> Option<String> {
    let int = |p: &str| obj.pointer(p).and_then(serde_json::Value::as_i64);
    let is_true = |t: &str| k8s::condition(obj, t).is_some_and(|c| s(c, "/status") == "True");
    match s(obj, "/kind") {
        "Pod" => {
            let waiting = obj.pointer("/status/containerStatuses").and_then(serde_json::Value::as_array).into_iter().flatten().any(|c| c.pointer("/state/waiting").is_some());
            (k8s::pod_ready(obj) && !waiting).then(|| "phase Running, Ready=True, no container waiting".into())
        }
        "Deployment" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let all = ["/status/replicas", "/status/readyReplicas", "/status/availableReplicas", "/status/updatedReplicas"].iter().all(|p| int(p).unwrap_or(0) == want);
            let stuck = k8s::condition(obj, "Progressing").is_some_and(|c| s(c, "/reason") == "ProgressDeadlineExceeded");
            // The rollout's own verdict, when the controller wrote one ("ReplicaSet \"x\" has
            // successfully progressed.").
            let progressed = k8s::condition(obj, "Progressing").filter(|c| s(c, "/reason") == "NewReplicaSetAvailable").map(|c| format!("; Progressing: {}", s(c, "/message"))).unwrap_or_default();
            (all && !stuck && is_true("Available")).then(|| format!("{want}/{want} replicas ready, available and up to date{progressed}"))
        }
        "StatefulSet" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let all = ["/status/replicas", "/status/readyReplicas"].iter().all(|p| int(p).unwrap_or(0) == want);
            (all && s(obj, "/status/currentRevision") == s(obj, "/status/updateRevision")).then(|| format!("{want}/{want} replicas ready"))
        }
        "DaemonSet" => {
            let want = int("/status/desiredNumberScheduled").unwrap_or(0);
            let ok = int("/status/numberReady") == Some(want) && int("/status/updatedNumberScheduled").unwrap_or(want) == want && int("/status/numberUnavailable").unwrap_or(0) == 0;
            ok.then(|| format!("{want}/{want} daemon pods ready"))
        }
        "Node" => {
            let pressure = ["MemoryPressure", "DiskPressure", "PIDPressure"].iter().any(|t| is_true(t));
            (is_true("Ready") && !pressure).then(|| "Ready=True, no pressure condition".into())
        }
        "Job" => is_true("Complete").then(|| "Complete=True".into()),
        "HorizontalPodAutoscaler" => {
            let ok = is_true("AbleToScale") && is_true("ScalingActive") && int("/status/currentReplicas") == int("/status/desiredReplicas");
            ok.then(|| "AbleToScale and ScalingActive, at the desired replica count".into())
        }
        _ => None,
    }
}

/// What a control-plane component does where everyone can see it, for the alerts that
/// fire when Prometheus cannot scrape it (`absent(up{job="kube-scheduler"} == 1)`): on a
/// managed control plane (EKS, GKE, AKS) it runs out of Prometheus' reach, so the alert
/// says nothing about it, and only its work tells whether it is up.
#[derive(Debug)]
pub struct ControlPlaneWork {
    /// The alert.
    pub alert: &'static str,
    /// The `component` label of its static pods (kubeadm, kops, OpenShift).
    pub component: &'static str,
    /// Event reasons only it writes (the scheduler's `Scheduled`, the ReplicaSet and Job
    /// controllers' `SuccessfulCreate`).
    pub reasons: &'static [&'static str],
}

/// The control-plane absence alerts of kubernetes-mixin whose component's work is visible.
pub const CONTROL_PLANE: &[ControlPlaneWork] = &[
    ControlPlaneWork { alert: "KubeSchedulerDown", component: "kube-scheduler", reasons: &["Scheduled"] },
    ControlPlaneWork { alert: "KubeControllerManagerDown", component: "kube-controller-manager", reasons: &["SuccessfulCreate"] },
];

/// The component an absence alert is about, if it is one of [`CONTROL_PLANE`].
pub fn control_plane_work(alert: &str) -> Option<&'static ControlPlaneWork> {
    CONTROL_PLANE.iter().find(|w| w.alert == alert)
}

fn event_time(e: &Value) -> Option<DateTime<Utc>> {
    ["/series/lastObservedTime", "/lastTimestamp", "/eventTime", "/deprecatedLastTimestamp", "/firstTimestamp"]
        .iter()
        .find_map(|p| DateTime::parse_from_rfc3339(s(e, p)).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `Ok(why)` when the component of a control-plane absence alert is seen at work lately
/// (its Events within the hour before the alert or since) and, for the scheduler, no pod
/// waits that no scheduler has looked at; its own pods, where it has any, must be Ready.
pub fn control_plane_clear(event: &StandardEvent, obs: &Observations<'_>, work: &ControlPlaneWork) -> Result<String, String> {
    let own: Vec<&Value> = obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == "kube-system" && s(p, "/metadata/labels/component") == work.component).collect();
    if let Some(p) = own.iter().find(|p| !k8s::pod_ready(p)) {
        return Err(format!("{} pod {} is not Ready", work.component, s(p, "/metadata/name")));
    }
    let since = event.timestamp - RECENT_RESTART;
    let mut recent: Vec<(DateTime<Utc>, &Value)> =
        obs.events.iter().filter(|e| work.reasons.contains(&s(e, "/reason"))).filter_map(|e| event_time(e).map(|t| (t, *e))).filter(|(t, _)| *t >= since).collect();
    recent.sort_by_key(|(t, _)| *t);
    let Some((latest_at, latest)) = recent.last() else {
        return Err(format!("no {} event since {since}: no sign the {} is at work", work.reasons.join("/"), work.component));
    };
    let mut why = vec![format!(
        "{} {} event(s) since {since}, the latest at {latest_at}: {}",
        recent.len(),
        work.reasons.join("/"),
        s(latest, "/message")
    )];
    if work.component == "kube-scheduler" {
        let pending: Vec<&Value> = obs.all("Pod").filter(|p| s(p, "/status/phase") == "Pending" && s(p, "/spec/nodeName").is_empty()).collect();
        if let Some(p) = pending.iter().find(|p| k8s::condition(p, "PodScheduled").is_none()) {
            return Err(format!("pod {}/{} waits Pending and no scheduler has looked at it", s(p, "/metadata/namespace"), s(p, "/metadata/name")));
        }
        if !pending.is_empty() {
            why.push(format!("{} pending pod(s) carry the scheduler's verdict (PodScheduled=False): it is running", pending.len()));
        }
    }
    why.push(if own.is_empty() {
        format!("no {} pod in kube-system: the control plane is managed (EKS, GKE, AKS), out of Prometheus' reach, so its target is absent by design", work.component)
    } else {
        format!("{} pod(s) of {} Ready", own.len(), work.component)
    });
    Ok(why.join("; "))
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::reasoning::{
        analyze_alert,
        analyzers::tests::{alert, json, log, pod, read},
        decide,
    };
    use aetherius_core::{DecideInput, Decision, Diagnosis, RootCause, StepResult};

    fn ready(restarts: u64, finished_at: Option<&str>) -> Value {
        let mut cs = json!({"name": "app", "ready": true, "restartCount": restarts, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}});
        if let Some(at) = finished_at {
            cs["lastState"] = json!({"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": at}});
        }
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [cs]})
    }

    fn web(name: &str, status: Value) -> Value {
        pod("shop", name, json!({"app": "web"}), json!({"containers": [{"name": "app"}]}), status)
    }

    fn diagnose(labels: Value, results: Vec<StepResult>) -> Diagnosis {
        let event = alert(labels);
        let input = DecideInput { analysis: analyze_alert(&event), event, results, observations: vec![], pending: vec![], steps_left: 0 };
        match decide(&input) {
            Decision::Conclude { diagnosis } => diagnosis,
            other => panic!("no conclusion: {other:?}"),
        }
    }

    fn pod_alert() -> Value {
        json!({"alertname": "KubePodNotReady", "namespace": "shop", "pod": "web-1"})
    }

    /// all_clear for the alert's pod `web-1` with these results.
    fn clear(results: &[StepResult]) -> Result<String, String> {
        let event = alert(pod_alert());
        let obs = Observations::new(results);
        let sc = crate::reasoning::scope::scope(&event, &obs);
        let target = crate::reasoning::scope::alert_target(&event).expect("a target");
        all_clear(&event, &obs, &sc, &target)
    }

    #[test]
    fn a_ready_pod_with_clean_logs_is_an_all_clear() {
        let results = vec![read(vec![web("web-1", ready(0, None))]), log("shop", "web-1", "app", false, "GET /healthz 200\nserved 120 requests")];
        assert!(clear(&results).is_ok(), "{:?}", clear(&results));
        let d = diagnose(pod_alert(), results);
        assert_eq!(d.root_cause, RootCause::NotAnIssue, "{d:?}");
    }

    #[test]
    fn a_ready_pod_whose_log_carries_refused_connections_is_not_an_all_clear() {
        let text = "GET /api/orders 503\nERROR dial tcp 10.0.0.7:5432: connect: connection refused";
        let results = vec![read(vec![web("web-1", ready(0, None))]), log("shop", "web-1", "app", false, text)];
        assert!(clear(&results).is_err_and(|why| why.contains("connection refused")));
        let d = diagnose(pod_alert(), results);
        assert_ne!(d.root_cause, RootCause::NotAnIssue, "{d:?}");
        assert!(d.summary.contains("connection refused") || d.evidence.iter().any(|e| e.detail.contains("connection refused")), "{d:?}");
    }

    #[test]
    fn a_ready_pod_whose_log_carries_403s_is_not_an_all_clear() {
        let text = r#"E1208 10:00:00.000000 1 reflector.go:140] failed to list *v1.ConfigMap: configmaps is forbidden: User "system:serviceaccount:shop:web" cannot list resource "configmaps" in API group "" in the namespace "shop""#;
        let results = vec![read(vec![web("web-1", ready(0, None))]), log("shop", "web-1", "app", false, text)];
        assert!(clear(&results).is_err_and(|why| why.contains("forbidden")));
        assert_ne!(diagnose(pod_alert(), results).root_cause, RootCause::NotAnIssue);
    }

    #[test]
    fn a_dns_failure_in_a_ready_pods_log_is_not_an_all_clear() {
        let text = "WARN lookup payments.billing.svc.cluster.local on 10.96.0.10:53: read udp 10.1.0.4:41234->10.96.0.10:53: i/o timeout";
        let results = vec![read(vec![web("web-1", ready(0, None))]), log("shop", "web-1", "app", false, text)];
        assert!(clear(&results).is_err());
        assert_ne!(diagnose(pod_alert(), results).root_cause, RootCause::NotAnIssue);
    }

    #[test]
    fn a_pending_sibling_is_not_an_all_clear() {
        let pending = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]});
        let results = vec![read(vec![web("web-1", ready(0, None)), web("web-2", pending)])];
        assert!(clear(&results).is_err_and(|why| why.contains("web-2") && why.contains("Pending")));
        assert_ne!(diagnose(pod_alert(), results).root_cause, RootCause::NotAnIssue);
    }

    #[test]
    fn a_recent_restart_is_not_an_all_clear_but_an_old_one_is_history() {
        // The alert starts at 2026-01-01T00:00:00Z.
        let recent = vec![read(vec![web("web-1", ready(3, Some("2025-12-31T23:40:00Z")))])];
        assert!(clear(&recent).is_err_and(|why| why.contains("restarted 3 times")));
        assert_ne!(diagnose(pod_alert(), recent).root_cause, RootCause::NotAnIssue);
        let untimed = vec![read(vec![web("web-1", ready(1, None))])];
        assert!(clear(&untimed).is_err());
        let old = vec![read(vec![web("web-1", ready(1, Some("2025-12-20T08:00:00Z")))])];
        assert!(clear(&old).is_ok(), "{:?}", clear(&old));
    }

    #[test]
    fn a_failed_job_the_alert_points_at_is_not_an_all_clear() {
        // The alert's labels name a healthy pod (the exporter's), its scope a failed Job.
        let event = alert(pod_alert());
        let job = json!({"kind": "Job", "metadata": {"namespace": "shop", "name": "export-29"}, "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        let results = vec![read(vec![web("web-1", ready(0, None)), job])];
        let obs = Observations::new(&results);
        let target = crate::reasoning::scope::alert_target(&event).expect("a target");
        let mut sc = crate::reasoning::scope::scope(&event, &obs);
        assert!(all_clear(&event, &obs, &sc, &target).is_ok());
        sc.workloads = obs.all("Job").collect();
        assert!(all_clear(&event, &obs, &sc, &target).is_err_and(|why| why.contains("shop/Job/export-29 failed")));
    }

    #[test]
    fn an_unread_target_is_unknown_naming_what_to_read_next() {
        let d = diagnose(pod_alert(), vec![]);
        assert_eq!(d.root_cause, RootCause::Unknown);
        assert!(d.recommendations[0].contains("kubectl -n shop describe pod web-1"), "{d:?}");
    }

    #[test]
    fn a_healthy_pod_with_an_old_oom_kill_is_unknown_naming_the_lead() {
        // Ready now and the kill is a day old: no all-clear while a rule still holds a lead.
        let mut status = ready(1, Some("2025-12-31T00:00:00Z"));
        status["containerStatuses"][0]["lastState"]["terminated"]["reason"] = json!("OOMKilled");
        status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] = json!(137);
        let results = vec![read(vec![web("web-1", status)])];
        assert!(clear(&results).is_ok());
        let d = diagnose(pod_alert(), results);
        assert_eq!(d.root_cause, RootCause::Unknown, "{d:?}");
        assert!(d.summary.contains("Strongest lead (oom-killed, weak)"), "{}", d.summary);
        assert!(d.recommendations[0].starts_with("Read next: shop/Deployment/web"), "{:?}", d.recommendations);
    }

    fn scheduled(ns: &str, pod: &str, at: &str) -> Value {
        let mut e = json!({"kind": "Event", "metadata": {"namespace": ns, "name": format!("{pod}.1")}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod},
            "type": "Normal", "reason": "Scheduled", "message": format!("Successfully assigned {ns}/{pod} to node-1"), "eventTime": at});
        e["reportingComponent"] = json!("default-scheduler");
        e
    }

    fn scheduler_clear(results: &[StepResult]) -> Result<String, String> {
        let event = alert(json!({"alertname": "KubeSchedulerDown"}));
        control_plane_clear(&event, &Observations::new(results), control_plane_work("KubeSchedulerDown").unwrap())
    }

    #[test]
    fn a_scheduler_seen_scheduling_with_no_pod_of_its_own_is_a_managed_control_plane() {
        // The alert starts at 2026-01-01T00:00:00Z.
        let results = vec![read(vec![scheduled("pay", "api-1", "2026-01-01T00:02:00.000000Z")])];
        let why = scheduler_clear(&results).expect("clear");
        assert!(why.contains("Successfully assigned pay/api-1") && why.contains("managed"), "{why}");
        let d = diagnose(json!({"alertname": "KubeSchedulerDown"}), results);
        assert_eq!(d.root_cause, RootCause::NotAnIssue, "{d:?}");
    }

    #[test]
    fn a_scheduler_not_seen_at_work_or_leaving_pods_unlooked_at_is_no_all_clear() {
        assert!(scheduler_clear(&[]).is_err());
        let old = vec![read(vec![scheduled("pay", "api-1", "2025-12-31T20:00:00Z")])];
        assert!(scheduler_clear(&old).is_err());
        let waiting = json!({"kind": "Pod", "metadata": {"namespace": "pay", "name": "api-2"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
        let results = vec![read(vec![scheduled("pay", "api-1", "2026-01-01T00:02:00Z"), waiting])];
        assert!(scheduler_clear(&results).is_err_and(|why| why.contains("pay/api-2")));
        assert_ne!(diagnose(json!({"alertname": "KubeSchedulerDown"}), results).root_cause, RootCause::NotAnIssue);
    }

    #[test]
    fn an_application_known_by_name_is_never_cleared_by_its_workloads_status() {
        // A latency alert names the application; its Deployment looks fine, which says
        // nothing about latency.
        let deploy = json!({"kind": "Deployment", "metadata": {"namespace": "shop", "name": "web"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}});
        let results = vec![read(vec![deploy, web("web-1", ready(0, None))])];
        let d = diagnose(json!({"alertname": "WebLatencyHigh", "namespace": "shop", "app": "web"}), results);
        assert_eq!(d.root_cause, RootCause::Unknown, "{d:?}");
        assert_eq!(d.resource.as_deref(), Some("shop/Deployment/web"));
    }

    #[test]
    fn a_healthy_deployment_quotes_the_rollouts_own_verdict() {
        let d = json!({"kind": "Deployment", "metadata": {"namespace": "ml", "name": "embedder"}, "spec": {"replicas": 1},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1, "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"embedder-7d4b9\" has successfully progressed."}]}});
        let why = looks_healthy(&d).expect("healthy");
        assert!(why.starts_with("1/1 replicas ready") && why.contains("has successfully progressed"), "{why}");
    }

}
