//! Volumes: FailedMount of a missing Secret / ConfigMap / claim, and why a claim stays
//! unbound.

use super::*;

pub(super) struct Volumes;

impl Rule for Volumes {
    fn name(&self) -> &'static str {
        "volumes"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            let events = cx.obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
            volume_mounts(cx.obs, pod, &workload_ref(cx.obs, pod), &events, out);
        }
    }
}

static MOUNT_MISSING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?i)(secret|configmap|persistentvolumeclaim)s? "([^"]+)" not found"#).expect("regex"));

fn volume_mounts(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let started = container_statuses(pod).filter(|c| !s(c, "/name").is_empty()).all(|c| c.pointer("/state/running").is_some() || c.pointer("/state/terminated").is_some());
    if started && s(pod, "/status/phase") == "Running" {
        return;
    }
    let Some(e) = events.iter().rev().find(|e| matches!(s(e, "/reason"), "FailedMount" | "FailedAttachVolume" | "FailedMapVolume")) else { return };
    let message = s(e, "/message");
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let mut evidence = vec![ev(format!("{} on {pod_ref}", s(e, "/reason")), message)];
    let (tier, what) = match MOUNT_MISSING.captures(message) {
        Some(c) => {
            let kind = match c[1].to_lowercase().as_str() {
                "secret" => "Secret",
                "configmap" => "ConfigMap",
                _ => "PersistentVolumeClaim",
            };
            let ns = s(pod, "/metadata/namespace");
            if obs.missing.contains(&(kind.to_owned(), ns.to_owned(), c[2].to_owned())) {
                evidence.push(ev(format!("{ns}/{kind}/{}", &c[2]), "get: not found"));
            }
            (Decisive, format!("{kind} {} does not exist", &c[2]))
        }
        None => (Consistent, "the volume cannot be attached or mounted".to_owned()),
    };
    out.push(finding(
        RootCause::VolumeMountFailed,
        workload.to_owned(),
        tier,
        format!("Pod {} cannot start: a volume fails to mount ({what}).", s(pod, "/metadata/name")),
        evidence,
        format!("Create the missing object or fix the volume reference in {workload}."),
    ));
}

/// For each PersistentVolumeClaim the pod mounts that is not Bound: its phase, class, the
/// provisioner's events, and whether the StorageClass exists.
pub(super) fn claim_evidence(obs: &Observations<'_>, pod: &Value) -> Vec<Evidence> {
    let ns = s(pod, "/metadata/namespace");
    let mut out = vec![];
    let claims = pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str));
    for claim in claims {
        let Some(pvc) = obs.get("PersistentVolumeClaim", ns, claim) else { continue };
        if s(pvc, "/status/phase") == "Bound" {
            continue;
        }
        let class = s(pvc, "/spec/storageClassName");
        let src = format!("{ns}/PersistentVolumeClaim/{claim}");
        out.push(ev(src.clone(), format!("phase {}, storageClassName {}", s(pvc, "/status/phase"), if class.is_empty() { "(default)" } else { class })));
        for e in obs.events_for("PersistentVolumeClaim", ns, claim).iter().filter(|e| s(e, "/type") == "Warning").take(2) {
            out.push(ev(format!("{} on {src}", s(e, "/reason")), s(e, "/message")));
        }
        if !class.is_empty() && obs.missing.contains(&("StorageClass".to_owned(), String::new(), class.to_owned())) {
            out.push(ev(format!("StorageClass/{class}"), format!("StorageClass {class:?} does not exist")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_missing_secret_volume_is_volume_mount_failed() {
        let p = pod(
            "id",
            "tok-1",
            json!({"app": "tok"}),
            json!({"containers": [{"name": "tok"}], "volumes": [{"name": "keys", "secret": {"secretName": "jwks"}}]}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "tok", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        let e = event_on("Pod", "id", "tok-1", "Warning", "FailedMount", r#"MountVolume.SetUp failed for volume "keys" : secret "jwks" not found"#);
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "id", "pod": "tok-1"})), &[read(vec![p, e])]);
        assert_eq!(f.root_cause, RootCause::VolumeMountFailed);
        assert_eq!(f.resource.as_deref(), Some("id/Deployment/tok"));
        assert!(text(&f).contains("jwks"));
    }
}
