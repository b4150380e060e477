//! Crashes: OOM kills, containers that cannot start or be created, and crash loops told
//! apart by their log (missing config, bad config, an application error) or exit code.
//! Crashes whose log points outside the pod (RBAC, DNS, a dependency) belong to those
//! families.

use super::*;

pub(super) struct Crash;

impl Rule for Crash {
    fn name(&self) -> &'static str {
        "crash"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            pod_crashes(cx.obs, pod, out);
        }
    }
}

fn pod_crashes(obs: &Observations<'_>, pod: &Value, out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let pod_name = s(pod, "/metadata/name");
    let workload = workload_ref(obs, pod);
    let pod_ref = format!("{ns}/Pod/{pod_name}");
    let events = obs.events_for("Pod", ns, pod_name);
    for cs in container_statuses(pod) {
        let container = s(cs, "/name");
        let spec = container_spec(pod, container);
        let waiting_reason = s(cs, "/state/waiting/reason");
        let waiting_message = s(cs, "/state/waiting/message");
        let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64);
        let restarts = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
        let src = format!("{pod_ref} container {container}");
        match container_state(cs) {
            ContainerState::OomKilled => {
                let limit = spec.map(|c| s(c, "/resources/limits/memory")).unwrap_or("");
                // One OOM kill long ago on a container that runs fine is history, not the cause.
                let current = waiting_reason == "CrashLoopBackOff" || restarts > 1 || !cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
                out.push(finding(
                    RootCause::OomKilled,
                    workload.clone(),
                    if current { Decisive } else { Weak },
                    format!("Container {container} is killed for exceeding its memory limit{}.", if limit.is_empty() { String::new() } else { format!(" of {limit}") }),
                    vec![ev(format!("{src} lastState"), format!("terminated: OOMKilled, exit code {}, restarts {restarts}", last_code.unwrap_or(137)))],
                    format!("Raise the memory limit of {container} in {workload} (now {}) or fix the memory growth; check the usage trend first.", if limit.is_empty() { "unset" } else { limit }),
                ));
            }
            ContainerState::CannotStart => {
                let tier = match logs::crash_cause(waiting_message) {
                    Some(Symptom::BadConfig { .. }) | Some(Symptom::MissingVar { .. }) => Decisive,
                    _ => Consistent,
                };
                out.push(finding(
                    RootCause::CrashloopMissingConfig,
                    workload.clone(),
                    tier,
                    format!("Container {container} cannot start: {waiting_message}"),
                    vec![ev(format!("{src} state"), format!("waiting: {waiting_reason}: {waiting_message}"))],
                    format!("Fix the command, args, working directory or mounts of {container} in {workload}."),
                ));
            }
            ContainerState::ConfigError => {
                let mut evidence = vec![ev(format!("{src} state"), format!("waiting: CreateContainerConfigError: {waiting_message}"))];
                evidence.extend(events.iter().filter(|e| s(e, "/reason") == "Failed").take(1).map(|e| ev(format!("event on {pod_ref}"), s(e, "/message"))));
                out.push(finding(
                    RootCause::ContainerConfigMissingRef,
                    workload.clone(),
                    Decisive,
                    format!("Container {container} cannot be created: {waiting_message}"),
                    evidence,
                    format!("Create the missing object or key, or fix the reference in {workload}."),
                ));
            }
            ContainerState::Crashing if !crash_is_liveness_kill(&events, cs) => crashloop(obs, pod, &workload, cs, spec, out),
            _ => {}
        }
    }
}

fn crashloop(obs: &Observations<'_>, pod: &Value, workload: &str, cs: &Value, spec: Option<&Value>, out: &mut Vec<Finding>) {
    let container = s(cs, "/name");
    let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0);
    let (text, log, log_src) = crash_text(obs, pod, cs);
    let state_ev = crash_state_evidence(pod, cs);
    match logs::crash_cause(&text) {
        // Followed outside the pod by the rbac, dns and dependency rules.
        Some(Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { .. }) => {}
        Some(Symptom::MissingVar { line, var }) => {
            let declared: Vec<&str> = spec.and_then(|c| c.get("env")).and_then(Value::as_array).map(|env| env.iter().map(|e| s(e, "/name")).collect()).unwrap_or_default();
            let absent = !var.is_empty() && !declared.contains(&var.as_str());
            let mut evidence = vec![ev(log_src.clone(), line.trim()), state_ev];
            if absent {
                evidence.push(ev(format!("{workload} container {container} env"), format!("{var} is not among the declared env vars ({})", declared.join(", "))));
            }
            out.push(finding(
                RootCause::CrashloopMissingConfig,
                workload.to_owned(),
                if absent { Decisive } else { Consistent },
                format!("Container {container} exits at start: {var} is missing or invalid."),
                evidence,
                format!("Set {var} in {workload} (env or envFrom of container {container}), then let the rollout replace the pods."),
            ));
        }
        Some(Symptom::BadConfig { line }) => out.push(finding(
            RootCause::CrashloopMissingConfig,
            workload.to_owned(),
            Consistent,
            format!("Container {container} exits at start on its configuration: {}", line.trim()),
            vec![ev(log_src, line.trim()), state_ev],
            "Fix the command, flags or config file the container starts with.",
        )),
        Some(Symptom::AppError { line }) => out.push(finding(
            RootCause::CrashloopAppError,
            workload.to_owned(),
            Consistent,
            format!("Container {container} keeps crashing on an application error: {}", line.trim()),
            vec![ev(log_src, line.trim()), state_ev],
            "The application fails on its own: read the stack trace, fix the code or roll back to the last good version.",
        )),
        None => {
            // Only the exit code speaks.
            let (rc, tier, why) = match last_code {
                127 => (RootCause::CrashloopMissingConfig, Consistent, "exit code 127: the command was not found in the image"),
                126 => (RootCause::CrashloopMissingConfig, Consistent, "exit code 126: the command is not executable"),
                139 => (RootCause::CrashloopAppError, Consistent, "exit code 139: segmentation fault"),
                134 => (RootCause::CrashloopAppError, Consistent, "exit code 134: the process aborted"),
                _ => (RootCause::CrashloopAppError, Weak, "the container exits without saying why"),
            };
            let detail = if log.trim().is_empty() { format!("{why}; the log is empty") } else { format!("{why}; no error line in the log") };
            out.push(finding(
                rc,
                workload.to_owned(),
                tier,
                format!("Container {container} exits with code {last_code}: {detail}."),
                vec![state_ev, ev(log_src, detail)],
                "Run the image by hand with the same command, env and mounts; add logging to the entrypoint.",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_java_root_cause_is_cited_not_a_stack_frame() {
        let p = pod("shop", "router-1", json!({"app": "router"}), json!({"containers": [{"name": "app"}]}), crashing("app", 1));
        let log_text = "ERROR o.s.boot.SpringApplication : Application run failed\njava.lang.IllegalStateException: Failed to execute CommandLineRunner\n\tat org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:798)\nCaused by: java.lang.IllegalStateException: Duplicate key K1 (attempted merging values A and B)\n\tat java.base/java.util.stream.Collectors.duplicateKeyException(Collectors.java:135)";
        let f = best(&pod_alert("shop", "router-1"), &[read(vec![p]), log("shop", "router-1", "app", true, log_text)]);
        assert_eq!(f.root_cause, RootCause::CrashloopAppError);
        assert_eq!(f.resource.as_deref(), Some("shop/Deployment/router"));
        assert!(text(&f).contains("Duplicate key K1"), "{f:?}");
    }

    #[test]
    fn a_silent_exit_is_only_a_weak_lead() {
        let p = pod("r", "rr-1", json!({"app": "rr"}), json!({"containers": [{"name": "init"}]}), crashing("init", 1));
        let f = best(&pod_alert("r", "rr-1"), &[read(vec![p]), log("r", "rr-1", "init", true, "")]);
        assert!(f.confidence < 0.5, "{f:?}");
    }
}
