//! Image pulls: a tag or repository that does not exist, or a registry that refuses the
//! node's credentials, told apart by the kubelet's own pull messages.

use super::*;

pub(super) struct Image;

impl Rule for Image {
    fn name(&self) -> &'static str {
        "image"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            let workload = workload_ref(cx.obs, pod);
            let events = cx.obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
            for cs in container_statuses(pod).filter(|cs| container_state(cs) == ContainerState::ImagePull) {
                image_pull(pod, &workload, s(cs, "/name"), cs, &events, out);
            }
        }
    }
}

static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(unauthorized|authentication required|authorization failed|access denied|access to the requested resource is not authorized|insufficient_scope|no basic auth credentials|401|403 forbidden|denied: )").expect("regex")
});
static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(not found|manifest unknown|does not exist|no such image|name unknown|invalid reference format)").expect("regex")
});

fn image_pull(pod: &Value, workload: &str, container: &str, cs: &Value, events: &[&Value], out: &mut Vec<Finding>) {
    let image = s(cs, "/image");
    let image = if image.is_empty() { container_spec(pod, container).map(|c| s(c, "/image")).unwrap_or("") } else { image };
    let messages: Vec<&str> = events
        .iter()
        .filter(|e| matches!(s(e, "/reason"), "Failed" | "FailedToRetrieveImagePullSecret" | "ErrImagePull"))
        .map(|e| s(e, "/message"))
        .chain(std::iter::once(s(cs, "/state/waiting/message")))
        .filter(|m| !m.is_empty())
        .collect();
    let auth = messages.iter().find(|m| AUTH.is_match(m) && !m.contains("repository does not exist"));
    let missing_secret = events.iter().any(|e| s(e, "/reason") == "FailedToRetrieveImagePullSecret");
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let (root_cause, detail, advice, tier) = if let Some(m) = auth.or(if missing_secret { messages.first() } else { None }) {
        (RootCause::ImagePullAuth, *m, format!("Give {workload} a valid imagePullSecret for the registry of {image} (check the secret exists in the namespace and its credentials)."), Decisive)
    } else if let Some(m) = messages.iter().find(|m| NOT_FOUND.is_match(m)) {
        (RootCause::ImagePullNotFound, *m, format!("Fix the image reference {image} in {workload}: the tag or repository does not exist."), Decisive)
    } else {
        // Only "Back-off pulling image": the events tell why; not conclusive before them.
        (RootCause::ImagePullNotFound, messages.first().copied().unwrap_or("image pull back-off"), format!("Check that {image} exists and is reachable from the nodes."), Consistent)
    };
    let mut evidence = vec![
        ev(format!("{pod_ref} container {container}"), format!("waiting: {} for image {image}", s(cs, "/state/waiting/reason"))),
        ev(format!("events of {pod_ref}"), detail),
    ];
    let (mut summary, mut advice) = (format!("Image {image} of container {container} cannot be pulled."), advice);
    let mut resource = workload.to_owned();
    if root_cause == RootCause::ImagePullAuth {
        let (credentials, openshift) = pull_identity(pod, image);
        evidence.push(ev(format!("{pod_ref} spec"), credentials));
        // The registry refused credentials the kubelet did send (the Secret exists): what is
        // wrong is what that Secret holds (an expired or revoked token), not the workload.
        let secrets: Vec<&str> = pod.pointer("/spec/imagePullSecrets").and_then(Value::as_array).into_iter().flatten().map(|r| s(r, "/name")).filter(|n| !n.is_empty()).collect();
        // (Not for OpenShift's internal registry: it authorizes by the ServiceAccount's role,
        // and its auto-added dockercfg Secrets are not what to fix.)
        if let (Some(m), false, None, [secret, ..]) = (auth, missing_secret, &openshift, secrets.as_slice()) {
            let ns = s(pod, "/metadata/namespace");
            resource = format!("{ns}/Secret/{secret}");
            summary = format!("Image {image} of container {container} cannot be pulled: the registry refuses the credentials in imagePullSecret {secret} ({}).", AUTH.find(m).map_or("unauthorized", |a| a.as_str()));
            advice = format!("Renew the registry credentials in Secret {ns}/{secret} (the token was revoked, expired or lacks pull access to {image}); the pods retry the pull on their own.");
        }
        if let Some((project, why, fix)) = openshift {
            summary = format!("Image {image} of container {container} cannot be pulled: the registry refuses the pod's credentials ({why}).");
            evidence.push(ev(format!("OpenShift internal registry, project {project}"), why));
            advice = fix;
        }
    }
    out.push(finding(root_cause, resource, tier, summary, evidence, advice));
}

/// The OpenShift internal registry, as images name it.
const OPENSHIFT_REGISTRY: &str = "image-registry.openshift-image-registry.svc";

/// Whose credentials the kubelet pulls with: the pod's ServiceAccount and imagePullSecrets.
/// For the OpenShift internal registry, which authorizes a pull by the ServiceAccount's
/// `system:image-puller` role in the image's project, also that project and the grant needed.
fn pull_identity(pod: &Value, image: &str) -> (String, Option<(String, String, String)>) {
    let ns = s(pod, "/metadata/namespace");
    let sa = match s(pod, "/spec/serviceAccountName") {
        "" => "default",
        sa => sa,
    };
    let secrets: Vec<&str> = pod.pointer("/spec/imagePullSecrets").and_then(Value::as_array).into_iter().flatten().map(|r| s(r, "/name")).collect();
    let credentials = format!(
        "serviceAccountName {sa}; imagePullSecrets: {}",
        if secrets.is_empty() { "none on the pod (those of the ServiceAccount apply)".to_owned() } else { secrets.join(", ") }
    );
    let openshift = image.split_once('/').filter(|(host, _)| host.split(':').next().is_some_and(|h| h == OPENSHIFT_REGISTRY || h.starts_with(&format!("{OPENSHIFT_REGISTRY}.")))).and_then(|(_, path)| {
        let project = path.split('/').next().filter(|p| !p.is_empty() && path.contains('/'))?.to_owned();
        let why = if project == ns {
            format!("ServiceAccount {ns}/{sa} is refused by the registry of its own project")
        } else {
            format!("the image lives in project {project}, not {ns}: ServiceAccount {ns}/{sa} needs the system:image-puller role in {project}")
        };
        let fix = format!("Grant system:image-puller in {project} to system:serviceaccount:{ns}:{sa} (oc policy add-role-to-user system:image-puller system:serviceaccount:{ns}:{sa} -n {project}), or to the group system:serviceaccounts:{ns}.");
        Some((project, why, fix))
    });
    (credentials, openshift)
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    fn pulling(image: &str, message: &str) -> Vec<StepResult> {
        let status = json!({"phase": "Pending", "containerStatuses": [{"name": "web", "image": image, "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}}]});
        let p = pod("web-prod", "web-1", json!({"app": "web"}), json!({"serviceAccountName": "web", "containers": [{"name": "web", "image": image}]}), status);
        let failed = event_on("Pod", "web-prod", "web-1", "Warning", "Failed", message);
        vec![read(vec![p, failed])]
    }

    #[test]
    fn a_refused_pull_is_auth_and_names_who_pulls() {
        let image = "registry.acme.io/shop/web:1.2";
        let msg = format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://registry.acme.io/token: 401 Unauthorized");
        let f = best(&pod_alert("web-prod", "web-1"), &pulling(image, &msg));
        assert_eq!((f.root_cause, f.tier), (RootCause::ImagePullAuth, Tier::Decisive));
        assert!(text(&f).contains("serviceAccountName web"), "{}", text(&f));
        let nf = format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found");
        assert_eq!(best(&pod_alert("web-prod", "web-1"), &pulling(image, &nf)).root_cause, RootCause::ImagePullNotFound);
    }

    #[test]
    fn a_refused_pull_with_a_pull_secret_names_the_secret() {
        let image = "registry.gitlab.example.com/pos/sync:4.1";
        let status = json!({"phase": "Pending", "containerStatuses": [{"name": "web", "image": image, "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}}]});
        let p = pod("web-prod", "web-1", json!({"app": "web"}), json!({"imagePullSecrets": [{"name": "regcred"}], "containers": [{"name": "web", "image": image}]}), status);
        let msg = format!("Failed to pull image \"{image}\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://gitlab.example.com/jwt/auth: 401 Unauthorized");
        let failed = event_on("Pod", "web-prod", "web-1", "Warning", "Failed", &msg);
        let f = best(&pod_alert("web-prod", "web-1"), &[read(vec![p, failed])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::ImagePullAuth, Some("web-prod/Secret/regcred")));
        assert!(text(&f).contains("401 Unauthorized"), "{}", text(&f));
    }

    #[test]
    fn an_openshift_cross_project_pull_needs_the_image_puller_role() {
        let image = "image-registry.openshift-image-registry.svc:5000/web-build/web:2.3.1";
        let msg = format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = reading manifest 2.3.1 in image-registry.openshift-image-registry.svc:5000/web-build/web: unauthorized: authentication required");
        let f = best(&pod_alert("web-prod", "web-1"), &pulling(image, &msg));
        assert_eq!(f.root_cause, RootCause::ImagePullAuth);
        let t = text(&f);
        assert!(t.contains("authentication required") && t.contains("system:image-puller role in web-build"), "{t}");
    }
}
