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
    out.push(finding(
        root_cause,
        workload.to_owned(),
        tier,
        format!("Image {image} of container {container} cannot be pulled."),
        vec![
            ev(format!("{pod_ref} container {container}"), format!("waiting: {} for image {image}", s(cs, "/state/waiting/reason"))),
            ev(format!("events of {pod_ref}"), detail),
        ],
        advice,
    ));
}
