//! Probes and CPU limits: liveness kills, readiness failures, and probe timeouts that
//! are really CPU throttling at the container's limit.

use super::*;

pub(super) struct Probes;

impl Rule for Probes {
    fn name(&self) -> &'static str {
        "probes"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            let events = cx.obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
            let workload = workload_ref(cx.obs, pod);
            // A crashing pod is not ready anyway: only a liveness kill is the probe's doing.
            if pod_crashing(pod) {
                liveness(cx.obs, pod, &workload, &events, out);
            } else {
                probe_failures(cx.obs, pod, &workload, &events, out);
            }
        }
    }
}

pub(super) struct CpuThrottling;

impl Rule for CpuThrottling {
    fn name(&self) -> &'static str {
        "cpu-throttling"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        cpu_throttling(cx.event, cx.obs, cx.scope, out);
    }
}

/// Usage and limit (millicores) of a container whose CPU use sits at its limit.
fn cpu_saturated(obs: &Observations<'_>, pod: &Value, container: &str) -> Option<(f64, f64)> {
    let limit = container_spec(pod, container).and_then(|c| k8s::cpu_millis(s(c, "/resources/limits/cpu")))?;
    let usage = pod_cpu_usage(obs, pod, container)?;
    (usage >= 0.9 * limit).then_some((usage, limit))
}

fn pod_cpu_usage(obs: &Observations<'_>, pod: &Value, container: &str) -> Option<f64> {
    let m = obs.get("PodMetrics", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))?;
    m.get("containers").and_then(Value::as_array)?.iter().find(|c| s(c, "/name") == container).and_then(|c| k8s::cpu_millis(s(c, "/usage/cpu")))
}

/// Whether probe timeouts are better explained by CPU starvation: `Some(true)` when the
/// container's usage sits at its CPU limit, `None` when its usage was not read.
fn starved(obs: &Observations<'_>, pod: &Value, container_hint: &str, message: &str) -> Option<bool> {
    if !PROBE_TIMEOUT.is_match(message) {
        return Some(false);
    }
    let containers: Vec<&str> = container_statuses(pod).map(|c| s(c, "/name")).filter(|c| container_hint.is_empty() || *c == container_hint).collect();
    let limited: Vec<&str> = containers.into_iter().filter(|c| container_spec(pod, c).is_some_and(|spec| !s(spec, "/resources/limits/cpu").is_empty())).collect();
    if limited.is_empty() {
        return Some(false);
    }
    obs.get("PodMetrics", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))?;
    Some(limited.iter().any(|c| cpu_saturated(obs, pod, c).is_some()))
}

fn liveness(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let pod_ref = workload_hint(pod);
    let Some(e) = events.iter().rev().find(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Liveness probe failed")) else { return };
    let message = s(e, "/message");
    let restarted = container_statuses(pod).any(|c| c.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0);
    // A container that last exited by itself (a code other than the kubelet's SIGTERM /
    // SIGKILL, 143 / 137) crashed on its own: a probe refused while it started is a symptom.
    let exited_itself = container_statuses(pod).any(|c| c.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).is_some_and(|x| !matches!(x, 0 | 137 | 143)));
    let kubelet_killed = killed_by_liveness(events, "");
    let killed = kubelet_killed || (restarted && !exited_itself);
    let tier = match starved(obs, pod, "", message) {
        Some(true) => return,
        _ if exited_itself && !kubelet_killed => Weak,
        None => Consistent,
        Some(false) if killed => Decisive,
        Some(false) => Consistent,
    };
    let mut evidence = vec![ev(format!("events of {pod_ref}"), message)];
    evidence.extend(events.iter().filter(|e| s(e, "/message").contains("failed liveness probe")).take(1).map(|e| ev(format!("events of {pod_ref}"), s(e, "/message"))));
    evidence.extend(probe_spec_evidence(pod, "livenessProbe"));
    out.push(finding(
        RootCause::LivenessProbeFailing,
        workload.to_owned(),
        tier,
        format!("The kubelet restarts the container because its liveness probe fails: {message}"),
        evidence,
        format!("Check the probe's path, port and timeouts in {workload} against what the app serves, and its startup time (initialDelaySeconds / startupProbe)."),
    ));
}

static STATUS_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"statuscode: (\d{3})").expect("regex"));

fn probe_failures(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    liveness(obs, pod, workload, events, out);
    let pod_ref = workload_hint(pod);
    let running_unready = s(pod, "/status/phase") == "Running" && !k8s::pod_ready(pod) && container_statuses(pod).any(|c| c.pointer("/state/running").is_some() && !c.get("ready").and_then(Value::as_bool).unwrap_or(false));
    if !running_unready {
        return;
    }
    let Some(e) = events.iter().rev().find(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Readiness probe failed")) else { return };
    let message = s(e, "/message");
    let code = STATUS_CODE.captures(message).and_then(|c| c[1].parse::<u16>().ok());
    let tier = match (starved(obs, pod, "", message), code) {
        (Some(true), _) => return,
        (None, _) => Consistent,
        // 5xx: the app answers but says it is not ready, often for a dependency.
        (_, Some(c)) if c >= 500 => Consistent,
        (_, Some(_)) => Decisive,
        _ if message.contains("connection refused") => Consistent,
        _ => Consistent,
    };
    let mut evidence = vec![ev(format!("events of {pod_ref}"), message)];
    evidence.extend(probe_spec_evidence(pod, "readinessProbe"));
    let grpc = grpc_health_refusal(obs, pod, message);
    if let Some((_, detail)) = &grpc {
        evidence.push(ev(format!("{pod_ref} readinessProbe grpc"), detail.clone()));
    }
    let tls = (code == Some(400)).then(|| plain_http_to_tls(pod)).flatten();
    let app_says = if code.is_none_or(|c| c >= 500) { unready_log(obs, pod) } else { None };
    let why = match (code, &tls, &app_says) {
        (Some(400), Some(port), _) => format!("the probe speaks plain HTTP to {port}, which serves TLS, and gets 400"),
        (Some(404), _, _) => "the probe path does not exist in the app (404)".to_owned(),
        (Some(c), _, Some((_, line))) => format!("the app answers the probe with {c}: {line}"),
        (Some(c), _, None) => format!("the app answers the probe with {c}"),
        (None, _, _) => message.trim_start_matches("Readiness probe failed: ").to_owned(),
    };
    if let Some(port) = &tls {
        evidence.push(ev(
            format!("{pod_ref} readinessProbe scheme"),
            format!("httpGet with scheme HTTP to {port}, a TLS listener: a plain HTTP request to an HTTPS server is answered 400; the probe needs scheme: HTTPS"),
        ));
    }
    if let Some((src, line)) = &app_says {
        evidence.push(ev(src.clone(), line.clone()));
    }
    let tier = if tls.is_some() || grpc.is_some() { Decisive } else { tier };
    let why = grpc.map(|(w, _)| w).unwrap_or(why);
    out.push(finding(
        RootCause::ReadinessProbeFailing,
        workload.to_owned(),
        tier,
        format!("Containers run but never become Ready: the readiness probe fails ({why})."),
        evidence,
        format!("Compare the readiness probe of {workload} with the port and path the app serves; check what the app needs before it is ready."),
    ));
}

static GRPC_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"rpc error: code = (NotFound|Unimplemented) desc = ([^\n]*)").expect("regex"));
static GRPC_SERVICE_LOGGED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""grpc\.service"\s*:\s*"([^"]+)""#).expect("regex"));

/// A gRPC readiness probe the server's health service refuses: `NotFound desc = unknown
/// service` (the probe's `service:` is not one the server registers with its health
/// server; empty asks for the server as a whole) or `Unimplemented` (no grpc.health.v1
/// at all). The probe's service, and the services the server's logs show it serving.
fn grpc_health_refusal(obs: &Observations<'_>, pod: &Value, message: &str) -> Option<(String, String)> {
    let c = GRPC_CODE.captures(message)?;
    let (container, probe) = k8s::containers(pod.get("spec")?).find_map(|c| c.pointer("/readinessProbe/grpc").map(|g| (c, g)))?;
    let service = s(probe, "/service");
    let asked = if service.is_empty() { "\"\" (the server as a whole)".to_owned() } else { service.to_owned() };
    let port = probe.get("port").map(Value::to_string).unwrap_or_default();
    let mut detail = format!("container {} readinessProbe grpc port {port} service {asked}", s(container, "/name"));
    let ns = s(pod, "/metadata/namespace");
    if let Some((log, _)) = obs.log(ns, s(pod, "/metadata/name"), s(container, "/name")) {
        let mut served: Vec<&str> = GRPC_SERVICE_LOGGED.captures_iter(log).filter_map(|m| m.get(1)).map(|m| m.as_str()).collect();
        served.sort_unstable();
        served.dedup();
        if !served.is_empty() {
            detail.push_str(&format!("; the server's log shows it serving {}", served.join(", ")));
        }
    }
    let why = match &c[1] {
        "NotFound" => format!("the gRPC health check asks for service {asked}, which the server's health service does not know ({})", c[2].trim()),
        _ => format!("the server does not implement the gRPC health service grpc.health.v1.Health ({})", c[2].trim()),
    };
    Some((why, detail))
}

/// The port of a plain-HTTP readiness probe when it shows signs of serving TLS: a
/// conventional TLS port (443, 8443, 9443, 6443), a port named https/tls/ssl, or TLS cert
/// settings (env, args, mounts) in the container.
fn plain_http_to_tls(pod: &Value) -> Option<String> {
    let spec = pod.get("spec")?;
    k8s::containers(spec).find_map(|c| {
        let h = c.pointer("/readinessProbe/httpGet")?;
        if !s(h, "/scheme").is_empty() && !s(h, "/scheme").eq_ignore_ascii_case("HTTP") {
            return None;
        }
        let port = h.get("port").cloned().unwrap_or(Value::Null);
        let number = k8s::resolve_port(spec, &port);
        let name = match &port {
            Value::String(n) => n.clone(),
            _ => c.get("ports").and_then(Value::as_array).into_iter().flatten().find(|p| p.get("containerPort").and_then(Value::as_i64) == number).map(|p| s(p, "/name").to_owned()).unwrap_or_default(),
        };
        let tls_port = number.is_some_and(|n| matches!(n, 443 | 6443 | 8443 | 9443)) || ["https", "tls", "ssl"].iter().any(|w| name.to_ascii_lowercase().contains(w));
        let words = c.to_string().to_ascii_lowercase();
        let tls_settings = ["tls.crt", "tls_cert", "tls-cert", "--tls", "ssl_cert", "certfile", "cert_file", "keystore"].iter().any(|w| words.contains(w));
        (tls_port || tls_settings).then(|| match (name.is_empty(), number) {
            (false, Some(n)) => format!("port {name} ({n})"),
            (_, Some(n)) => format!("port {n}"),
            (false, None) => format!("port {name}"),
            (true, None) => "its port".to_owned(),
        })
    })
}

/// What an unready container's own log says about its readiness (current log only).
fn unready_log(obs: &Observations<'_>, pod: &Value) -> Option<(String, String)> {
    let (ns, name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    container_statuses(pod).filter(|c| c.pointer("/state/running").is_some() && !c.get("ready").and_then(Value::as_bool).unwrap_or(false)).find_map(|c| {
        let container = s(c, "/name");
        let (log, false) = obs.log(ns, name, container)? else { return None };
        logs::unready_reason(log).map(|line| (format!("logs {ns}/{name}/{container}"), line.trim().to_owned()))
    })
}

fn cpu_throttling(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let alert = event.alertname() == "CPUThrottlingHigh";
    let alert_container = event.labels.get("container").map(String::as_str).unwrap_or("");
    let mut done = std::collections::BTreeSet::new();
    for pod in &sc.pods {
        let workload = workload_ref(obs, pod);
        if done.contains(&workload) {
            continue;
        }
        let pod_ref = workload_hint(pod);
        let events = obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
        let timeouts: Vec<&Value> = events.iter().copied().filter(|e| s(e, "/reason") == "Unhealthy" && PROBE_TIMEOUT.is_match(s(e, "/message"))).collect();
        for c in pod.get("spec").map(k8s::containers).into_iter().flatten() {
            let name = s(c, "/name");
            let Some(limit) = k8s::cpu_millis(s(c, "/resources/limits/cpu")) else { continue };
            let named = alert && (alert_container.is_empty() || alert_container == name);
            let usage = pod_cpu_usage(obs, pod, name);
            let saturated = usage.is_some_and(|u| u >= 0.9 * limit);
            if !saturated && !named {
                continue;
            }
            let mut evidence = vec![ev(format!("{workload} container {name}"), format!("CPU limit {}", s(c, "/resources/limits/cpu")))];
            if let Some(u) = usage {
                evidence.push(ev(format!("top {pod_ref}"), format!("container {name} uses {} of its {} CPU limit ({:.0}%)", k8s::fmt_millis(u), k8s::fmt_millis(limit), 100.0 * u / limit)));
            }
            if named && let Some(d) = event.annotations.get("description").or_else(|| event.annotations.get("summary")) {
                evidence.push(ev("alert", d.clone()));
            }
            for e in timeouts.iter().rev().take(2) {
                evidence.push(ev(format!("events of {pod_ref}"), s(e, "/message")));
            }
            let tier = if saturated && (named || !timeouts.is_empty()) { Decisive } else { Consistent };
            out.push(finding(
                RootCause::CpuThrottling,
                workload.clone(),
                tier,
                format!(
                    "Container {name} is throttled by its CPU limit of {}{}.",
                    s(c, "/resources/limits/cpu"),
                    if timeouts.is_empty() { String::new() } else { ": requests and probes time out".into() }
                ),
                evidence,
                format!("Raise or remove the CPU limit of {name} in {workload} (keep a realistic request), or reduce the work per pod."),
            ));
            done.insert(workload.clone());
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_readiness_probe_answered_404_cites_path_and_code() {
        let spec = json!({"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}}}]});
        let p = pod("p", "eng-1", json!({"app": "eng"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
        let e = event_on("Pod", "p", "eng-1", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404");
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "p", "pod": "eng-1"})), &[read(vec![p, e])]);
        assert_eq!(f.root_cause, RootCause::ReadinessProbeFailing);
        let t = text(&f);
        assert!(t.contains("/readyz") && t.contains("404") && t.contains("http (8080)"), "{t}");
    }

    fn unready(spec: Value) -> Value {
        pod("p", "gw-1", json!({"app": "gw"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"running": {}}}]}))
    }

    #[test]
    fn a_grpc_probe_for_a_service_the_health_server_does_not_know_names_it() {
        let p = unready(json!({"containers": [{"name": "app", "readinessProbe": {"grpc": {"port": 9090, "service": "acme.quote.v2.Quotes"}}}]}));
        let e = event_on("Pod", "p", "gw-1", "Warning", "Unhealthy", "Readiness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service");
        let f = best(&pod_alert("p", "gw-1"), &[read(vec![p, e])]);
        assert_eq!((f.root_cause, f.tier), (RootCause::ReadinessProbeFailing, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("unknown service") && t.contains("service acme.quote.v2.Quotes"), "{t}");
    }

    #[test]
    fn a_400_to_a_plain_http_probe_on_a_tls_port_says_https() {
        let spec = json!({"containers": [{"name": "app", "ports": [{"name": "admin", "containerPort": 9443}],
            "env": [{"name": "ADMIN_TLS_CERT_FILE", "value": "/etc/admin-tls/tls.crt"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "admin", "scheme": "HTTP"}}}]});
        let e = event_on("Pod", "p", "gw-1", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 400");
        let ev = alert(json!({"alertname": "KubePodNotReady", "namespace": "p", "pod": "gw-1"}));
        let f = best(&ev, &[read(vec![unready(spec), e.clone()])]);
        assert_eq!((f.root_cause, f.tier), (RootCause::ReadinessProbeFailing, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("400") && t.contains("scheme: HTTPS") && t.contains("admin (9443)"), "{t}");
        // A 400 from a plain port with no TLS about it: no such claim.
        let plain = json!({"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}}}]});
        assert!(!text(&best(&ev, &[read(vec![unready(plain), e])])).contains("HTTPS"));
    }

    #[test]
    fn a_503_readiness_quotes_the_health_check_the_app_logs() {
        let spec = json!({"containers": [{"name": "app", "readinessProbe": {"httpGet": {"path": "/actuator/health", "port": 8080}}}]});
        let e = event_on("Pod", "p", "gw-1", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503");
        let log_text = "2026-11-18T14:15:31.014Z  WARN 1 --- [nio-8080-exec-1] o.s.b.a.data.redis.RedisHealthIndicator  : Redis health check failed\norg.springframework.data.redis.RedisConnectionFailureException: Unable to connect to Redis";
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "p", "pod": "gw-1"})), &[read(vec![unready(spec), e]), log("p", "gw-1", "app", false, log_text)]);
        assert_eq!(f.root_cause, RootCause::ReadinessProbeFailing);
        assert!(f.summary.contains("503: ") && f.summary.contains("Redis health check failed"), "{}", f.summary);
    }

    #[test]
    fn a_container_that_exits_by_itself_is_not_a_liveness_kill() {
        // external-dns style: the informer cannot sync (RBAC), the process exits 1; its health
        // port refused the probe meanwhile, and no kubelet kill is recorded.
        let spec = json!({"containers": [{"name": "app", "livenessProbe": {"httpGet": {"path": "/healthz", "port": 7979}}}]});
        let e = event_on("Pod", "c", "n-1", "Warning", "Unhealthy", "Liveness probe failed: Get \"http://10.0.2.91:7979/healthz\": dial tcp 10.0.2.91:7979: connect: connection refused");
        let tier = |code: i64, kill: bool| {
            let mut objects = vec![pod("c", "n-1", json!({"app": "n"}), spec.clone(), crashing("app", code)), e.clone()];
            if kill {
                objects.push(event_on("Pod", "c", "n-1", "Normal", "Killing", "Container app failed liveness probe, will be restarted"));
            }
            findings(&pod_alert("c", "n-1"), &[read(objects)]).into_iter().find(|f| f.root_cause == RootCause::LivenessProbeFailing).map(|f| f.tier)
        };
        assert_eq!(tier(1, false), Some(Tier::Weak), "exit 1 of its own: the probe is a symptom");
        assert_eq!(tier(1, true), Some(Tier::Decisive), "the kubelet says it killed it");
        assert_eq!(tier(137, false), Some(Tier::Decisive), "SIGKILL after failed probes");
    }

    #[test]
    fn a_liveness_kill_is_not_an_app_crash() {
        let spec = json!({"containers": [{"name": "app", "livenessProbe": {"httpGet": {"path": "/health", "port": 8081}}}]});
        let p = pod("c", "n-1", json!({"app": "n"}), spec, crashing("app", 137));
        let e1 = event_on("Pod", "c", "n-1", "Warning", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.1:8081/health\": dial tcp 10.0.0.1:8081: connect: connection refused");
        let e2 = event_on("Pod", "c", "n-1", "Normal", "Killing", "Container app failed liveness probe, will be restarted");
        let f = best(&pod_alert("c", "n-1"), &[read(vec![p, e1, e2])]);
        assert_eq!(f.root_cause, RootCause::LivenessProbeFailing);
        assert!(f.confidence >= 0.9 && text(&f).contains("8081"));
    }

    #[test]
    fn probe_timeouts_at_the_cpu_limit_are_throttling_not_liveness() {
        let spec = json!({"containers": [{"name": "q", "resources": {"limits": {"cpu": "300m"}}, "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}}}]});
        let mut status = crashing("q", 143);
        status["containerStatuses"][0]["state"] = json!({"running": {}});
        let p = pod("pr", "q-1", json!({"app": "q"}), spec, status);
        let e = event_on("Pod", "pr", "q-1", "Warning", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.1:8080/live\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
        let m = json!({"kind": "PodMetrics", "metadata": {"namespace": "pr", "name": "q-1"}, "containers": [{"name": "q", "usage": {"cpu": "298781355n", "memory": "1Gi"}}]});
        let f = best(&pod_alert("pr", "q-1"), &[read(vec![p, e, m])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::CpuThrottling, Some("pr/Deployment/q")));
        assert!(text(&f).contains("300m") && text(&f).contains("throttl"));
    }
}
