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
                "Deployment" => rollout_stuck(w, out),
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
    let mut pods = scope::pods_of_workload(obs, job);
    pods.sort_by_key(|p| (s(p, "/status/phase") != "Failed", std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned())));
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
            evidence.push(ev(format!("logs {ns}/{}/{}{code}", s(p, "/metadata/name"), s(cs, "/name")), line.clone()));
            why = format!(": {line}");
            break 'pods;
        }
    }
    out.push(finding(
        RootCause::JobFailed,
        r,
        if why.is_empty() { Consistent } else { Decisive },
        format!("Job failed: {} ({}){why}", s(c, "/reason"), s(c, "/message")),
        evidence,
        "Read the logs of the Job's last failed pod; raise backoffLimit / activeDeadlineSeconds only if the work legitimately needs it.",
    ));
}

fn rollout_stuck(deploy: &Value, out: &mut Vec<Finding>) {
    let Some(c) = k8s::condition(deploy, "Progressing").filter(|c| s(c, "/reason") == "ProgressDeadlineExceeded") else { return };
    let r = resource_ref(Some(s(deploy, "/metadata/namespace")), "Deployment", s(deploy, "/metadata/name"));
    out.push(finding(
        RootCause::RolloutStuck,
        r.clone(),
        Consistent,
        format!("Rollout exceeded its progress deadline: {}", s(c, "/message")),
        vec![ev(format!("{r} condition Progressing"), s(c, "/message"))],
        "Look at the new ReplicaSet's pods for why they do not become available; roll back if the release is bad.",
    ));
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

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
}
