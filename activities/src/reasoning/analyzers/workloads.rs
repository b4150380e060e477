//! Workloads: failed Jobs and Deployments past their progress deadline.

use super::*;

pub(super) struct Workloads;

impl Rule for Workloads {
    fn name(&self) -> &'static str {
        "workloads"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for w in &cx.scope.workloads {
            match s(w, "/kind") {
                "Job" => job_failed(cx.obs, w, out),
                "Deployment" => rollout_stuck(cx.obs, w, out),
                _ => {}
            }
        }
    }
}

fn job_failed(obs: &Observations<'_>, job: &Value, out: &mut Vec<Finding>) {
    let Some(c) = k8s::condition(job, "Failed").filter(|c| s(c, "/status") == "True") else { return };
    let ns = s(job, "/metadata/namespace");
    let r = resource_ref(Some(ns), "Job", s(job, "/metadata/name"));
    let mut evidence = vec![ev(format!("{r} condition Failed"), format!("{}: {}", s(c, "/reason"), s(c, "/message")))];
    // Why its pods failed: the error line of a failed pod's log, else its last line (what
    // a human reads first), newest failed pod first.
    // An Indexed Job with backoffLimitPerIndex fails with reason FailedIndexes and lists
    // the indexes that ran out of retries in status.failedIndexes ("11", "3,7-9"): the pods
    // of those indexes (label batch.kubernetes.io/job-completion-index) say why.
    let failed_indexes = s(job, "/status/failedIndexes");
    if !failed_indexes.is_empty() {
        evidence.push(ev(format!("{r} status"), format!("failedIndexes {failed_indexes} (backoffLimitPerIndex {})", job.pointer("/spec/backoffLimitPerIndex").map(Value::to_string).unwrap_or_else(|| "unset".into()))));
    }
    let in_failed_index = |p: &Value| {
        let index = p.pointer("/metadata/labels/batch.kubernetes.io~1job-completion-index").or_else(|| p.pointer("/metadata/annotations/batch.kubernetes.io~1job-completion-index")).and_then(Value::as_str).and_then(|i| i.parse::<u64>().ok());
        index.is_some_and(|i| index_listed(failed_indexes, i))
    };
    let mut pods = scope::pods_of_workload(obs, job);
    pods.sort_by_key(|p| (!in_failed_index(p), s(p, "/status/phase") != "Failed", std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned())));
    let mut why = String::new();
    'pods: for p in pods {
        for cs in container_statuses(p) {
            let Some((log, _)) = obs.log(ns, s(p, "/metadata/name"), s(cs, "/name")) else { continue };
            let line = match logs::crash_cause(log) {
                Some(sym) => sym.line().trim().to_owned(),
                None => match log.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
                    Some(last) => format!("last log line: {}", logs::readable_log_line(last)),
                    None => continue,
                },
            };
            let code = cs.pointer("/state/terminated/exitCode").or_else(|| cs.pointer("/lastState/terminated/exitCode")).map(|c| format!(" (exit code {c})")).unwrap_or_default();
            let src = format!("logs {ns}/{}/{}", s(p, "/metadata/name"), s(cs, "/name"));
            evidence.push(ev(format!("{src}{code}"), line.clone()));
            // What it logged as errors before giving up: the item that failed, by name.
            let before: Vec<String> = logs::error_lines(log, 3).into_iter().filter(|l| !line.contains(l.as_str()) && !l.contains(line.as_str())).collect();
            if !before.is_empty() {
                evidence.push(ev(format!("{src} (error lines)"), before.join(" | ")));
            }
            why = format!(": {line}");
            break 'pods;
        }
    }
    // The pods failed because an admission webhook could not be called: that finding
    // (the webhook's backend) explains this one.
    let explained = why.contains("failed calling webhook") || scope::pods_of_workload(obs, job).iter().any(|p| obs.logs.iter().any(|((lns, lpod, _, _), log)| lns == ns && lpod == s(p, "/metadata/name") && super::admission::WEBHOOK_CALL.is_match(log)));
    out.push(finding(
        RootCause::JobFailed,
        r,
        if why.is_empty() || explained { Consistent } else { Decisive },
        format!("Job failed: {} ({}){why}", s(c, "/reason"), s(c, "/message")),
        evidence,
        "Read the logs of the Job's last failed pod; raise backoffLimit / activeDeadlineSeconds only if the work legitimately needs it.",
    ));
}

/// Whether `index` is in a Job's index list (`status.failedIndexes`, `completedIndexes`):
/// comma-separated indexes and ranges, "1,3-5,7".
fn index_listed(list: &str, index: u64) -> bool {
    list.split(',').map(str::trim).any(|part| match part.split_once('-') {
        Some((a, b)) => a.parse::<u64>().is_ok_and(|a| a <= index) && b.parse::<u64>().is_ok_and(|b| index <= b),
        None => part.parse::<u64>() == Ok(index),
    })
}

fn rollout_stuck(obs: &Observations<'_>, deploy: &Value, out: &mut Vec<Finding>) {
    let Some(c) = k8s::condition(deploy, "Progressing").filter(|c| s(c, "/reason") == "ProgressDeadlineExceeded") else { return };
    let r = resource_ref(Some(s(deploy, "/metadata/namespace")), "Deployment", s(deploy, "/metadata/name"));
    let mut evidence = vec![ev(format!("{r} condition Progressing"), s(c, "/message"))];
    let why = new_pods_failing(obs, deploy);
    let summary = match why.first() {
        Some(e) => format!("Rollout exceeded its progress deadline: {}; its new pods: {}", s(c, "/message"), e.detail),
        None => format!("Rollout exceeded its progress deadline: {}", s(c, "/message")),
    };
    evidence.extend(why);
    out.push(finding(
        RootCause::RolloutStuck,
        r.clone(),
        Consistent,
        summary,
        evidence,
        "Look at the new ReplicaSet's pods for why they do not become available; roll back if the release is bad.",
    ));
}

/// Why the Deployment's pods that are not Ready fail, newest pod first: the kubelet's
/// latest warning about it (a probe that fails or kills it, a back-off, a failed mount).
fn new_pods_failing(obs: &Observations<'_>, deploy: &Value) -> Vec<Evidence> {
    let mut pods: Vec<&Value> = scope::pods_of_workload(obs, deploy).into_iter().filter(|p| !k8s::pod_ready(p)).collect();
    pods.sort_by_key(|p| std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned()));
    for p in pods {
        let (ns, name) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"));
        let events = obs.events_for("Pod", ns, name);
        // A kill names the probe; else the probe failure; else any warning.
        let pick = events
            .iter()
            .rev()
            .find(|e| s(e, "/reason") == "Killing" && s(e, "/message").contains("failed") && s(e, "/message").contains("probe"))
            .or_else(|| events.iter().rev().find(|e| s(e, "/reason") == "Unhealthy"))
            .or_else(|| events.iter().rev().find(|e| s(e, "/type") == "Warning"));
        if let Some(e) = pick {
            let mut out = vec![ev(format!("events of {ns}/Pod/{name}"), s(e, "/message"))];
            if s(e, "/reason") == "Killing"
                && let Some(u) = events.iter().rev().find(|u| s(u, "/reason") == "Unhealthy")
            {
                out.push(ev(format!("events of {ns}/Pod/{name}"), s(u, "/message")));
            }
            let kind = ["startup", "liveness", "readiness"].into_iter().find(|k| s(e, "/message").to_ascii_lowercase().contains(&format!("{k} probe")));
            if let Some(k) = kind {
                out.extend(probe_spec_evidence(p, &format!("{k}Probe")));
            }
            return out;
        }
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_stuck_rollout_says_why_its_new_pods_fail() {
        let d = json!({"kind": "Deployment", "metadata": {"namespace": "sf", "name": "inv"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "inv"}}, "template": {"metadata": {"labels": {"app": "inv"}}}},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"inv-6wb\" has timed out progressing."}]}});
        let spec = json!({"containers": [{"name": "inv", "startupProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 5, "failureThreshold": 6}}]});
        let p = pod("sf", "inv-6wb-x", json!({"app": "inv"}), spec, crashing("inv", 143));
        let kill = event_on("Pod", "sf", "inv-6wb-x", "Normal", "Killing", "Container inv failed startup probe, will be restarted");
        let unhealthy = event_on("Pod", "sf", "inv-6wb-x", "Warning", "Unhealthy", "Startup probe failed: Get \"http://10.0.0.7:8080/health\": dial tcp 10.0.0.7:8080: connect: connection refused");
        let ev = alert(json!({"alertname": "KubeDeploymentRolloutStuck", "namespace": "sf", "deployment": "inv"}));
        let fs = findings(&ev, &[read(vec![d, p, kill, unhealthy])]);
        let f = fs.iter().find(|f| f.root_cause == RootCause::RolloutStuck).expect("rollout-stuck");
        let t = text(f);
        assert!(t.contains("failed startup probe") && t.contains("Startup probe failed") && t.contains("startupProbe"), "{t}");
    }

    #[test]
    fn a_failed_job_quotes_the_last_line_of_its_failed_pod() {
        let job = json!({"kind": "Job", "metadata": {"namespace": "etl", "name": "export-29"}, "spec": {"selector": {"matchLabels": {"job-name": "export-29"}}},
            "status": {"failed": 4, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        let failed = json!({"kind": "Pod", "metadata": {"namespace": "etl", "name": "export-29-x7k2p", "labels": {"job-name": "export-29"}, "creationTimestamp": "2026-01-01T00:10:00Z"},
            "spec": {"containers": [{"name": "export"}]},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "export", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Error", "exitCode": 2}}}]}});
        let ev = alert(json!({"alertname": "KubeJobFailed", "namespace": "etl", "job_name": "export-29"}));
        let results = [read(vec![job, failed]), log("etl", "export-29-x7k2p", "export", false, "exporting table invoices\nwrote 1200 rows\nexport of invoices incomplete after 3 tries, giving up\n")];
        let fs = findings(&ev, &results);
        let f = fs.iter().find(|f| f.root_cause == RootCause::JobFailed).expect("a JobFailed finding");
        let t = text(f);
        assert!(t.contains("giving up") && t.contains("exit code 2"), "{t}");
    }

    #[test]
    fn an_indexed_job_quotes_the_pod_of_its_failed_index() {
        let job = json!({"kind": "Job", "metadata": {"namespace": "etl", "name": "shard-29"}, "spec": {"completionMode": "Indexed", "backoffLimitPerIndex": 1, "selector": {"matchLabels": {"job-name": "shard-29"}}},
            "status": {"failed": 2, "failedIndexes": "3,7-9", "conditions": [{"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "Job has failed indexes"}]}});
        let shard = |name: &str, index: &str, phase: &str, created: &str| json!({"kind": "Pod", "metadata": {"namespace": "etl", "name": name, "creationTimestamp": created,
                "labels": {"job-name": "shard-29", "batch.kubernetes.io/job-completion-index": index}},
            "spec": {"containers": [{"name": "work"}]},
            "status": {"phase": phase, "containerStatuses": [{"name": "work", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}});
        // A newer failed pod of an index that later succeeded must not be the one quoted.
        let pods = vec![job, shard("shard-29-8-abcde", "8", "Failed", "2026-01-01T00:10:00Z"), shard("shard-29-2-fghij", "2", "Failed", "2026-01-01T00:20:00Z")];
        let ev = alert(json!({"alertname": "KubeJobFailed", "namespace": "etl", "job_name": "shard-29"}));
        let results = [
            read(pods),
            log("etl", "shard-29-8-abcde", "work", false, "indexing batch 14\nERROR doc 88: mapper_parsing_exception: failed to parse field [price]\n"),
            log("etl", "shard-29-2-fghij", "work", false, "ERROR connection reset by peer\n"),
        ];
        let fs = findings(&ev, &results);
        let f = fs.iter().find(|f| f.root_cause == RootCause::JobFailed).expect("a JobFailed finding");
        let t = text(f);
        assert!(t.contains("mapper_parsing_exception") && t.contains("failedIndexes 3,7-9"), "{t}");
        assert!(index_listed("3,7-9", 8) && !index_listed("3,7-9", 6) && index_listed("11", 11));
    }
}
