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
    // Why its pods failed, from their logs.
    let mut why = String::new();
    for p in scope::pods_of_workload(obs, job) {
        for cs in container_statuses(p) {
            if let Some((log, _)) = obs.log(ns, s(p, "/metadata/name"), s(cs, "/name"))
                && let Some(sym) = logs::crash_cause(log)
            {
                evidence.push(ev(format!("logs {ns}/{}/{}", s(p, "/metadata/name"), s(cs, "/name")), sym.line().trim()));
                why = format!(": {}", sym.line().trim());
                break;
            }
        }
        if !why.is_empty() {
            break;
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
