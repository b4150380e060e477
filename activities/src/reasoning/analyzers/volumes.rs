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
    let failed = |e: &&&Value| matches!(s(e, "/reason"), "FailedMount" | "FailedAttachVolume" | "FailedMapVolume");
    // The kubelet follows each specific failure with a generic "Unable to attach or mount
    // volumes: ... context deadline exceeded": the specific one says why.
    let Some(e) = events.iter().rev().find(|e| failed(e) && !s(e, "/message").starts_with("Unable to attach or mount volumes")).or_else(|| events.iter().rev().find(failed)) else { return };
    let message = s(e, "/message");
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let mut evidence = vec![ev(format!("{} on {pod_ref}", s(e, "/reason")), message)];
    let mut resource = workload.to_owned();
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
        None => match missing_key_volume(obs, pod, message) {
            // "configmap references non-existent config key": the kubelet names the cause.
            Some((what, detail)) => {
                evidence.push(ev(format!("{pod_ref} spec.volumes"), detail));
                (Decisive, what)
            }
            None => match HOSTPATH_TYPE.captures(message) {
                // hostPath with a `type` (Socket, Directory, File, ...) the node's path is not.
                Some(c) => {
                    if let Some(v) = MOUNT_VOLUME.captures(message).and_then(|m| pod.pointer("/spec/volumes").and_then(Value::as_array)?.iter().find(|v| s(v, "/name") == &m[1])) {
                        evidence.push(ev(format!("{pod_ref} spec.volumes"), format!("volume {} is hostPath {} type {}", s(v, "/name"), s(v, "/hostPath/path"), s(v, "/hostPath/type"))));
                    }
                    (Decisive, format!("hostPath {} on the node {}", &c[1], &c[2]))
                }
                None => match MOUNT_AUTH.is_match(message).then(|| credentials_secret(obs, pod)).flatten() {
                    // The storage refused the credentials the volume mounts with (a rotated
                    // storage key, an expired token): the Secret the PV names holds them.
                    Some((secret, via)) => {
                        evidence.push(ev(via, format!("mounts with the credentials in {secret}")));
                        resource = secret.clone();
                        (Decisive, format!("the storage refuses the credentials in {secret}"))
                    }
                    None => (Consistent, "the volume cannot be attached or mounted".to_owned()),
                },
            },
        },
    };
    out.push(finding(
        RootCause::VolumeMountFailed,
        resource,
        tier,
        format!("Pod {} cannot start: a volume fails to mount ({what}).", s(pod, "/metadata/name")),
        evidence,
        format!("Create the missing object or fix the volume reference in {workload}."),
    ));
}

/// A mount the storage refused for its credentials: CIFS/SMB `mount error(13): Permission
/// denied` or `STATUS_LOGON_FAILURE`, CephFS `permission denied`, a CSI driver's 401/403.
static MOUNT_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)mount error\(13\)|STATUS_LOGON_FAILURE|NT_STATUS_LOGON_FAILURE|AuthorizationFailure|AuthenticationFailed|\b(401|403) (Unauthorized|Forbidden)|permission denied").expect("regex")
});

/// The Secret a pod's claim mounts with, as its PersistentVolume names it (CSI
/// `nodeStageSecretRef` / `nodePublishSecretRef`, in-tree azureFile `secretName`, CephFS and
/// RBD `secretRef`), with where that was read.
pub(super) fn credentials_secret(obs: &Observations<'_>, pod: &Value) -> Option<(String, String)> {
    let ns = s(pod, "/metadata/namespace");
    let claims = pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str));
    for claim in claims {
        let Some(pv_name) = obs.get("PersistentVolumeClaim", ns, claim).map(|c| s(c, "/spec/volumeName")).filter(|n| !n.is_empty()) else { continue };
        let Some(pv) = obs.get("PersistentVolume", "", pv_name) else { continue };
        for (pointer, ns_pointer) in [
            ("/spec/csi/nodeStageSecretRef/name", Some("/spec/csi/nodeStageSecretRef/namespace")),
            ("/spec/csi/nodePublishSecretRef/name", Some("/spec/csi/nodePublishSecretRef/namespace")),
            ("/spec/azureFile/secretName", Some("/spec/azureFile/secretNamespace")),
            ("/spec/cephfs/secretRef/name", Some("/spec/cephfs/secretRef/namespace")),
            ("/spec/rbd/secretRef/name", Some("/spec/rbd/secretRef/namespace")),
        ] {
            let name = s(pv, pointer);
            if name.is_empty() {
                continue;
            }
            let secret_ns = ns_pointer.map(|p| s(pv, p)).filter(|n| !n.is_empty()).unwrap_or(ns);
            return Some((format!("{secret_ns}/Secret/{name}"), format!("PersistentVolume/{pv_name} (bound to claim {claim})")));
        }
    }
    None
}

/// The kubelet's check of a hostPath volume's `type`: `hostPath type check failed: <path> is
/// not a socket file` / `is not a directory` / `... does not exist`.
static HOSTPATH_TYPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"hostPath type check failed: (\S+) (is not a [a-z ]+|does not exist)").expect("regex"));

static MOUNT_VOLUME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"for volume "([^"]+)""#).expect("regex"));

/// A ConfigMap or Secret volume whose `items` name a key the object lacks (the kubelet's
/// `configmap references non-existent config key` / `references non-existent secret key`):
/// the object, the keys the volume asks for and, when the object was read, the keys it has.
fn missing_key_volume(obs: &Observations<'_>, pod: &Value, message: &str) -> Option<(String, String)> {
    if !message.contains("references non-existent") {
        return None;
    }
    let volume = MOUNT_VOLUME.captures(message)?.get(1)?.as_str();
    let v = pod.pointer("/spec/volumes").and_then(Value::as_array)?.iter().find(|v| s(v, "/name") == volume)?;
    let sources: Vec<&Value> = match v.pointer("/projected/sources").and_then(Value::as_array) {
        Some(srcs) => srcs.iter().collect(),
        None => vec![v],
    };
    let ns = s(pod, "/metadata/namespace");
    for src in sources {
        let (kind, source) = match (src.get("configMap"), src.get("secret")) {
            (Some(cm), _) if message.contains("configmap") || message.contains("config key") => ("ConfigMap", cm),
            (_, Some(sec)) if message.contains("secret") => ("Secret", sec),
            _ => continue,
        };
        let name = if s(source, "/secretName").is_empty() { s(source, "/name") } else { s(source, "/secretName") };
        let wanted: Vec<&str> = source.get("items").and_then(Value::as_array).into_iter().flatten().map(|i| s(i, "/key")).collect();
        let have: Option<Vec<&str>> = obs.get(kind, ns, name).map(|o| ["/data", "/binaryData", "/stringData"].iter().filter_map(|p| o.pointer(p).and_then(Value::as_object)).flat_map(|m| m.keys().map(String::as_str)).collect());
        let missing: Vec<&str> = wanted.iter().copied().filter(|k| have.as_ref().is_none_or(|h| !h.contains(k))).collect();
        let mut detail = format!("volume {volume} is {kind} {name} with items key {}", wanted.join(", "));
        if let Some(h) = &have {
            detail.push_str(&format!("; {kind} {ns}/{name} has keys {}", if h.is_empty() { "(none)".to_owned() } else { h.join(", ") }));
        }
        let keys = if missing.is_empty() { wanted.join(", ") } else { missing.join(", ") };
        return Some((format!("{kind} {name} has no key {keys}"), detail));
    }
    None
}

/// For each PersistentVolumeClaim the pod mounts that is not Bound: its phase, class, the
/// provisioner's events, and whether the StorageClass exists.
/// The first claim the pod mounts that was read and is not Bound: the object to change (its
/// storageClassName, size or access mode) or to give a volume, whoever created it.
pub(super) fn unbound_claim(obs: &Observations<'_>, pod: &Value) -> Option<String> {
    let ns = s(pod, "/metadata/namespace");
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
        .find(|claim| obs.get("PersistentVolumeClaim", ns, claim).is_some_and(|pvc| s(pvc, "/status/phase") != "Bound"))
        .map(|claim| format!("{ns}/PersistentVolumeClaim/{claim}"))
}

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
        let modes: Vec<&str> = pvc.pointer("/spec/accessModes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let mut state = format!("phase {}, storageClassName {}", s(pvc, "/status/phase"), if class.is_empty() { "(default)" } else { class });
        if !modes.is_empty() {
            // What the provisioner is asked for: a class whose driver cannot serve the mode
            // (ReadWriteMany on a block-disk driver) never provisions.
            state.push_str(&format!(", accessModes {}", modes.join(", ")));
        }
        if let Some(size) = pvc.pointer("/spec/resources/requests/storage").and_then(Value::as_str) {
            state.push_str(&format!(", requests {size}"));
        }
        out.push(ev(src.clone(), state));
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

    #[test]
    fn a_hostpath_of_the_wrong_type_quotes_the_path_not_the_mount_timeout() {
        let p = pod(
            "obs",
            "agent-x1",
            json!({"app": "agent"}),
            json!({"containers": [{"name": "agent"}], "volumes": [{"name": "sock", "hostPath": {"path": "/run/containerd/containerd.sock", "type": "Socket"}}]}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "agent", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        let e1 = event_on("Pod", "obs", "agent-x1", "Warning", "FailedMount", r#"MountVolume.SetUp failed for volume "sock" : hostPath type check failed: /run/containerd/containerd.sock is not a socket file"#);
        let e2 = event_on("Pod", "obs", "agent-x1", "Warning", "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[sock], unattached volumes=[], failed to process volumes=[]: context deadline exceeded");
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "obs", "pod": "agent-x1"})), &[read(vec![p, e1, e2])]);
        assert_eq!((f.root_cause, f.tier), (RootCause::VolumeMountFailed, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("/run/containerd/containerd.sock is not a socket file") && t.contains("type Socket"), "{t}");
    }

    #[test]
    fn a_configmap_item_key_that_is_gone_names_the_key_and_the_configmap() {
        let p = pod(
            "docs",
            "web-1",
            json!({"app": "web"}),
            json!({"containers": [{"name": "nginx"}], "volumes": [{"name": "conf", "configMap": {"name": "web-nginx", "items": [{"key": "nginx.conf", "path": "default.conf"}]}}]}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "nginx", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        // The key in the message itself may be redacted before the rules see it.
        let e = event_on("Pod", "docs", "web-1", "Warning", "FailedMount", r#"MountVolume.SetUp failed for volume "conf" : configmap references non-existent config key: [REDACTED]"#);
        let cm = json!({"kind": "ConfigMap", "metadata": {"namespace": "docs", "name": "web-nginx"}, "data": {"default.conf": "server {}"}});
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "docs", "pod": "web-1"})), &[read(vec![p, e, cm])]);
        assert_eq!((f.root_cause, f.tier), (RootCause::VolumeMountFailed, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("ConfigMap web-nginx has no key nginx.conf") && t.contains("has keys default.conf"), "{t}");
    }

    #[test]
    fn a_mount_refused_for_its_credentials_names_the_secret_the_pv_mounts_with() {
        let p = pod("billing", "sync-1", json!({"app": "sync"}), json!({"containers": [{"name": "s"}], "volumes": [{"name": "rates", "persistentVolumeClaim": {"claimName": "rates"}}]}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "s", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        let msg = "MountVolume.MountDevice failed for volume \"pv-rates\" : rpc error: code = Internal desc = volume(rg#acct#rates) mount //acct.file.core.windows.net/rates on /var/lib/kubelet/plugins/x failed with mount failed: exit status 32\nOutput: mount error(13): Permission denied";
        let e = event_on("Pod", "billing", "sync-1", "Warning", "FailedMount", msg);
        let pvc = json!({"kind": "PersistentVolumeClaim", "metadata": {"namespace": "billing", "name": "rates"}, "spec": {"volumeName": "pv-rates"}, "status": {"phase": "Bound"}});
        let pv = json!({"kind": "PersistentVolume", "metadata": {"name": "pv-rates"}, "spec": {"csi": {"driver": "file.csi.azure.com", "nodeStageSecretRef": {"name": "azure-files-rates", "namespace": "billing"}}}});
        let f = best(&pod_alert("billing", "sync-1"), &[read(vec![p.clone(), e.clone(), pvc.clone(), pv])]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::VolumeMountFailed, Some("billing/Secret/azure-files-rates"), Tier::Decisive));
        // The PV not read yet: the workload, and not certain.
        let f = best(&pod_alert("billing", "sync-1"), &[read(vec![p, e, pvc])]);
        assert_eq!(f.tier, Tier::Consistent);
    }

}
