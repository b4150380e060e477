//! Admission: FailedCreate events of controllers, for quota, LimitRange and admission
//! policies (webhooks, Kyverno, Gatekeeper, PodSecurity).

use super::*;

pub(super) struct Admission;

impl Rule for Admission {
    fn name(&self) -> &'static str {
        "admission"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        create_failures(cx.obs, cx.scope, out);
        webhook_unreachable(cx.obs, cx.scope, out);
    }
}

/// The API server's message when it cannot reach an admission webhook (failurePolicy Fail):
/// `failed calling webhook "<name>": failed to call webhook: Post "https://<svc>.<ns>.svc:443/...": <why>`.
pub(crate) static WEBHOOK_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"failed calling webhook \\?"([^"\\]+)\\?": failed to call webhook: Post \\?"https://([a-z0-9][-a-z0-9]*)\.([a-z0-9][-a-z0-9]*)\.svc[^"\\]*\\?": (.*)"#).expect("regex")
});

/// Requests (a Job's helm install, a controller's creates) rejected because the API server
/// cannot call an admission webhook: its Service has no ready backend (the Deployment
/// scaled to 0 or down, `connection refused` / `no endpoints available for service`). The
/// Deployment behind the webhook's Service is what to bring back.
fn webhook_unreachable(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut texts: Vec<(String, &str)> = vec![];
    for pod in &sc.pods {
        let (ns, name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
        for ((lns, lpod, container, _), log) in &obs.logs {
            if lns == ns && lpod == name {
                texts.extend(log.lines().map(|l| (format!("logs {ns}/{name}/{container}"), l)));
            }
        }
    }
    texts.extend(obs.events.iter().filter(|e| s(e, "/type") == "Warning").map(|e| (format!("{} on {}", s(e, "/reason"), resource_ref(Some(s(e, "/involvedObject/namespace")), s(e, "/involvedObject/kind"), s(e, "/involvedObject/name"))), s(e, "/message"))));
    let Some((src, line, c)) = texts.iter().find_map(|(src, l)| WEBHOOK_CALL.captures(l).map(|c| (src, l.trim(), c))) else { return };
    let (webhook, svc_name, ns, why) = (&c[1], &c[2], &c[3], c[4].trim());
    let mut evidence = vec![ev(src.clone(), line)];
    let svc = obs.get("Service", ns, svc_name);
    let backend = svc.and_then(|svc| {
        let selector = svc.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty())?;
        workloads_selected(obs, ns, selector).into_iter().find(|w| matches!(s(w, "/kind"), "Deployment" | "StatefulSet"))
    });
    if let Some(svc) = svc {
        evidence.push(ev(format!("{ns}/Service/{svc_name}"), format!("selector {}", svc.pointer("/spec/selector").map(Value::to_string).unwrap_or_default())));
    }
    let down = backend.map(|d| {
        let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let ready = d.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
        let mut detail = format!("replicas {replicas}, readyReplicas {ready}");
        // Who scaled it down and from what, when a scaler recorded it (kube-downscaler's
        // downscaler/original-replicas, and the like).
        for (k, v) in d.pointer("/metadata/annotations").and_then(Value::as_object).into_iter().flatten().filter(|(k, _)| k.ends_with("original-replicas")) {
            detail.push_str(&format!("; annotation {k}={}", v.as_str().unwrap_or_default()));
        }
        evidence.push(ev(resource_ref(Some(ns), s(d, "/kind"), s(d, "/metadata/name")), detail));
        ready == 0
    });
    let (resource, tier) = match (backend, down) {
        (Some(d), Some(true)) => (resource_ref(Some(ns), s(d, "/kind"), s(d, "/metadata/name")), Decisive),
        (Some(d), _) => (resource_ref(Some(ns), s(d, "/kind"), s(d, "/metadata/name")), Consistent),
        (None, _) => (format!("{ns}/Service/{svc_name}"), Consistent),
    };
    out.push(finding(
        RootCause::AdmissionDenied,
        resource.clone(),
        tier,
        format!("Requests are rejected because the API server cannot call admission webhook {webhook} (Service {ns}/{svc_name}): {why}."),
        evidence,
        format!("Bring {resource} back (scale it up / fix its pods) so webhook {webhook} answers; a webhook with failurePolicy Fail blocks every matching request while it is down."),
    ));
}

static QUOTA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:exceeded|failed) quota: ([a-z0-9.-]+)|maximum [a-z ]+ usage per [A-Za-z]+ is|minimum [a-z ]+ usage per [A-Za-z]+ is|must specify limits|must specify requests").expect("regex"));
static ADMISSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"admission webhook \\?"[^"\\]+\\?" denied the request|violates PodSecurity|unable to validate against any security context constraint|PodSecurityPolicy: unable to admit pod|denied by [A-Za-z]+|validation error:|is forbidden: .*(policy|polic(y|ies))|ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request"#).expect("regex"));
/// The API server's message for a ValidatingAdmissionPolicy (admission.k8s.io) denial.
static VAP_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ValidatingAdmissionPolicy '([^']+)' with binding '([^']+)' denied request").expect("regex"));
/// The webhook's name, when the message names no policy of its own.
static WEBHOOK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"admission webhook \\?"([^"\\]+)\\?" denied the request"#).expect("regex"));
static KYVERNO_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"following polic(?:y|ies)\s*\n\s*\n?\s*([a-z0-9][-a-z0-9.]*):").expect("regex"));
static GATEKEEPER_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"denied the request: \[([a-z0-9][-a-z0-9.]*)\]").expect("regex"));
static PSA_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"violates PodSecurity "([^"]+)""#).expect("regex"));

/// The workload in scope a FailedCreate on `kind/name` belongs to.
fn owner_in_scope(obs: &Observations<'_>, sc: &Scope<'_>, kind: &str, ns: &str, name: &str) -> Option<String> {
    for w in &sc.workloads {
        let (wk, wns, wn) = (s(w, "/kind"), s(w, "/metadata/namespace"), s(w, "/metadata/name"));
        if wns != ns {
            continue;
        }
        let owned_rs = kind == "ReplicaSet"
            && wk == "Deployment"
            && (obs.get("ReplicaSet", ns, name).and_then(Observations::controller_of).is_some_and(|(k, n)| k == "Deployment" && n == wn)
                || name.strip_prefix(&format!("{wn}-")).is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric())));
        if (wk == kind && wn == name) || owned_rs {
            return Some(resource_ref(Some(ns), wk, wn));
        }
    }
    for p in &sc.pods {
        if s(p, "/metadata/namespace") == ns && Observations::controller_of(p).is_some_and(|(k, n)| k == kind && n == name) {
            return Some(workload_ref(obs, p));
        }
    }
    if sc.target.is_none() && sc.external_host.is_none() {
        return Some(obs.get(kind, ns, name).and_then(Observations::controller_of).map(|(k, n)| resource_ref(Some(ns), &k, &n)).unwrap_or_else(|| resource_ref(Some(ns), kind, name)));
    }
    None
}

/// FailedCreate on ReplicaSets, Jobs, StatefulSets, DaemonSets: quota, LimitRange, admission.
/// Read from the controllers' events, and from the `ReplicaFailure` condition the
/// ReplicaSet controller sets (and the Deployment controller copies) with the same message,
/// which outlives the events.
fn create_failures(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    let from_events = obs.events.iter().rev().filter(|e| s(e, "/reason") == "FailedCreate").map(|e| {
        let (kind, ns, name) = (s(e, "/involvedObject/kind"), s(e, "/involvedObject/namespace"), s(e, "/involvedObject/name"));
        (kind, ns, name, s(e, "/message"), format!("FailedCreate on {}", resource_ref(Some(ns), kind, name)))
    });
    let from_conditions = ["Deployment", "ReplicaSet"].into_iter().flat_map(|k| obs.all(k)).flat_map(|w| {
        let (kind, ns, name) = (s(w, "/kind"), s(w, "/metadata/namespace"), s(w, "/metadata/name"));
        w.pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| s(c, "/type") == "ReplicaFailure" && s(c, "/status") == "True" && s(c, "/reason") == "FailedCreate")
            .map(move |c| (kind, ns, name, s(c, "/message"), format!("{} condition ReplicaFailure (FailedCreate)", resource_ref(Some(ns), kind, name))))
    });
    for (kind, ns, name, message, src) in from_events.chain(from_conditions) {
        let Some(owner) = owner_in_scope(obs, sc, kind, ns, name) else { continue };
        if !seen.insert(owner.clone()) {
            continue;
        }
        if let Some(cap) = QUOTA.captures(message) {
            // "failed quota: q: must specify limits.cpu for: c": the quota tracks limits, the
            // pod template sets none for container c (often an init container): the template
            // is what to change, not the quota's size.
            let unspecified = message.contains("must specify");
            let resource = cap.get(1).filter(|_| !unspecified).map(|q| format!("{ns}/ResourceQuota/{}", q.as_str())).unwrap_or_else(|| owner.clone());
            let mut evidence = vec![ev(src, message)];
            // A LimitRange message names no object: the LimitRanges of the namespace, if read.
            let limit_ranges: Vec<&str> = obs.all("LimitRange").filter(|l| s(l, "/metadata/namespace") == ns).map(|l| s(l, "/metadata/name")).collect();
            let advice = if let (true, Some(q)) = (unspecified, cap.get(1)) {
                format!("Set the requests/limits ResourceQuota {ns}/{} tracks on every container of {owner}'s pod template (init containers included), or give the namespace a LimitRange with defaults.", q.as_str())
            } else if cap.get(1).is_none() {
                if !limit_ranges.is_empty() {
                    evidence.push(ev(format!("LimitRanges in {ns}"), limit_ranges.join(", ")));
                }
                format!("Bring the requests/limits of {owner} within the namespace's LimitRange, or have the LimitRange changed.")
            } else {
                format!("Raise the quota or lower the requests of {owner}, or free usage in namespace {ns}.")
            };
            out.push(finding(RootCause::QuotaExceeded, resource, Decisive, format!("Pods cannot be created: {message}"), evidence, advice));
        } else if ADMISSION.is_match(message) {
            let policy = KYVERNO_POLICY
                .captures(message)
                .or_else(|| GATEKEEPER_POLICY.captures(message))
                .or_else(|| PSA_POLICY.captures(message))
                .map(|c| c[1].to_owned())
                .or_else(|| VAP_POLICY.captures(message).map(|c| format!("ValidatingAdmissionPolicy {} (binding {})", &c[1], &c[2])))
                .or_else(|| WEBHOOK.captures(message).map(|c| format!("webhook {}", &c[1])))
                // OpenShift's SCC admission: no SecurityContextConstraints the ServiceAccount may
                // use admits the pod template (a fixed runAsUser / fsGroup outside the range).
                .or_else(|| message.contains("security context constraint").then(|| "SecurityContextConstraints".to_owned()));
            let mut evidence = vec![ev(src, message)];
            if let Some(p) = &policy {
                evidence.push(ev("admission policy", format!("rejected by policy {p}")));
            }
            out.push(finding(
                RootCause::AdmissionDenied,
                owner.clone(),
                Decisive,
                format!("An admission policy{} rejects the pods of {owner}.", policy.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()),
                evidence,
                format!("Change {owner}'s pod template to satisfy the policy, or get an exception from the policy's owners."),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    fn deployment(ns: &str, name: &str, labels: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"namespace": ns, "name": name}, "spec": {"replicas": 3, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}, "status": {"replicas": 2, "readyReplicas": 2}})
    }

    #[test]
    fn admission_denials_name_the_policy() {
        let d = deployment("cat", "web", json!({"app": "web"}));
        let kyverno = "Error creating: admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/cat/web-5b6775655-jm5xx was blocked due to the following policies \n\nrequire-limits:\n  validate: 'validation error: limits are required'\n";
        let e = event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", kyverno);
        let ev = alert(json!({"alertname": "KubeDeploymentReplicasMismatch", "namespace": "cat", "deployment": "web"}));
        let f = best(&ev, &[read(vec![d.clone(), e])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::AdmissionDenied, Some("cat/Deployment/web")));
        assert!(text(&f).contains("require-limits"));
        let psa = "Error creating: pods \"web-5b6775655-x\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false";
        let f = best(&ev, &[read(vec![d, event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", psa)])]);
        assert_eq!(f.root_cause, RootCause::AdmissionDenied);
        assert!(text(&f).contains("restricted:latest"));
    }

    #[test]
    fn an_openshift_scc_refusal_is_admission_denied() {
        let d = deployment("cat", "web", json!({"app": "web"}));
        let ev = alert(json!({"alertname": "KubeDeploymentReplicasMismatch", "namespace": "cat", "deployment": "web"}));
        let scc = "Error creating: pods \"web-5b6775655-\" is forbidden: unable to validate against any security context constraint: [provider \"anyuid\": Forbidden: not usable by user or serviceaccount, provider restricted-v2: .spec.securityContext.runAsUser: Invalid value: 1001: must be in the ranges: [1000650000, 1000659999]]";
        let f = best(&ev, &[read(vec![d, event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", scc)])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::AdmissionDenied, Some("cat/Deployment/web")));
        assert!(text(&f).contains("SecurityContextConstraints") && text(&f).contains("1001"), "{}", text(&f));
    }

    #[test]
    fn a_limitrange_rejection_is_read_from_the_deployments_replica_failure_condition() {
        let mut d = deployment("pricing", "svc", json!({"app": "svc"}));
        let msg = "pods \"svc-7d9f8c6b5-pq7xz\" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi";
        d["status"]["conditions"] = json!([{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": msg}]);
        let ev = alert(json!({"alertname": "KubeDeploymentReplicasMismatch", "namespace": "pricing", "deployment": "svc"}));
        let f = best(&ev, &[read(vec![d])]);
        assert_eq!((f.root_cause, f.tier, f.resource.as_deref()), (RootCause::QuotaExceeded, Tier::Decisive, Some("pricing/Deployment/svc")));
        assert!(text(&f).contains("maximum memory usage per Container is 1Gi"), "{}", text(&f));
    }

    #[test]
    fn a_quota_that_needs_limits_the_template_omits_names_the_job_and_the_container() {
        let job = json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"namespace": "ops", "name": "export-29926170", "ownerReferences": [{"kind": "CronJob", "name": "export", "controller": true}]},
            "spec": {"template": {"spec": {"initContainers": [{"name": "wait-db"}], "containers": [{"name": "export"}]}}}, "status": {"active": 0}});
        let msg = "Error creating: pods \"export-29926170-lwhcn\" is forbidden: failed quota: ops-compute: must specify limits.cpu for: wait-db; limits.memory for: wait-db";
        let ev = alert(json!({"alertname": "CronJobNoRecentSuccess", "namespace": "ops", "cronjob": "export"}));
        let f = best(&ev, &[read(vec![job, event_on("Job", "ops", "export-29926170", "Warning", "FailedCreate", msg)])]);
        assert_eq!((f.root_cause, f.tier, f.resource.as_deref()), (RootCause::QuotaExceeded, Tier::Decisive, Some("ops/Job/export-29926170")));
        let t = text(&f);
        assert!(t.contains("must specify limits.cpu for: wait-db") && f.recommendations.iter().any(|r| r.contains("ResourceQuota ops/ops-compute")), "{t}");
    }

    #[test]
    fn a_webhook_whose_deployment_is_scaled_to_zero_is_the_cause_of_the_rejection() {
        let job = json!({"kind": "Job", "metadata": {"namespace": "qa", "name": "e2e-1"}, "spec": {"selector": {"matchLabels": {"job-name": "e2e-1"}}},
            "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        let p = json!({"kind": "Pod", "metadata": {"namespace": "qa", "name": "e2e-1-abcde", "labels": {"job-name": "e2e-1"}}, "spec": {"containers": [{"name": "e2e"}]},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "e2e", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}});
        let svc = json!({"kind": "Service", "metadata": {"namespace": "pki", "name": "issuer-webhook"}, "spec": {"selector": {"app.kubernetes.io/name": "webhook"}, "ports": [{"port": 443}]}});
        let d = json!({"kind": "Deployment", "metadata": {"namespace": "pki", "name": "issuer-webhook", "annotations": {"downscaler/original-replicas": "2"}},
            "spec": {"replicas": 0, "template": {"metadata": {"labels": {"app.kubernetes.io/name": "webhook"}}}}, "status": {}});
        let text_log = "Error: INSTALLATION FAILED: 1 error occurred:\n\t* Internal error occurred: failed calling webhook \"webhook.issuer.io\": failed to call webhook: Post \"https://issuer-webhook.pki.svc:443/validate?timeout=30s\": dial tcp 10.96.0.9:443: connect: connection refused\n";
        let ev = alert(json!({"alertname": "KubeJobFailed", "namespace": "qa", "job_name": "e2e-1"}));
        let f = best(&ev, &[read(vec![job, p, svc, d]), log("qa", "e2e-1-abcde", "e2e", false, text_log)]);
        assert_eq!((f.root_cause, f.tier, f.resource.as_deref()), (RootCause::AdmissionDenied, Tier::Decisive, Some("pki/Deployment/issuer-webhook")));
        let t = text(&f);
        assert!(t.contains("webhook.issuer.io") && t.contains("connection refused") && t.contains("replicas 0"), "{t}");
    }

    #[test]
    fn a_validating_admission_policy_denial_names_the_policy_and_binding() {
        let d = deployment("cat", "web", json!({"app": "web"}));
        let vap = "Error creating: pods \"web-5b6775655-2xq9d\" is forbidden: ValidatingAdmissionPolicy 'require-limits.acme.io' with binding 'require-limits-binding' denied request: failed expression: object.spec.containers.all(c, has(c.resources.limits))";
        let ev = alert(json!({"alertname": "KubeDeploymentReplicasMismatch", "namespace": "cat", "deployment": "web"}));
        let f = best(&ev, &[read(vec![d, event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", vap)])]);
        assert_eq!(f.root_cause, RootCause::AdmissionDenied);
        assert!(text(&f).contains("ValidatingAdmissionPolicy require-limits.acme.io (binding require-limits-binding)"), "{}", text(&f));
    }
}
