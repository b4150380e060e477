//! Crashes: OOM kills, containers that cannot start or be created, and crash loops told
//! apart by their log (missing config, bad config, an application error) or exit code.
//! Crashes whose log points outside the pod (RBAC, DNS, a dependency) belong to those
//! families.

use super::*;
use k8s_openapi::api::core::v1::Container;

pub(super) struct Crash;

impl Rule for Crash {
    fn name(&self) -> &'static str {
        "crash"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            pod_crashes(cx.obs, pod, cx.event.timestamp, out);
        }
    }
}

/// How long before an alert's start a single OOM kill still explains it: the usual `for:`
/// of a rule plus scrape and evaluation delays.
const KILL_BEFORE_ALERT: chrono::Duration = chrono::Duration::minutes(30);

fn pod_crashes(obs: &Observations<'_>, pod: &Value, alert_start: chrono::DateTime<chrono::Utc>, out: &mut Vec<Finding>) {
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
                // Down now (waiting, not ready): the kill is the cause. Up and ready again after
                // repeated kills: a real problem, but not what keeps it down now. One kill long
                // ago on a container that runs fine is history.
                let ready = cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
                // One kill just before the alert fired (a backup, a batch, a traffic spike that
                // the container survived by restarting) is what the alert saw.
                let killed_at = chrono::DateTime::parse_from_rfc3339(s(cs, "/lastState/terminated/finishedAt")).ok().map(|t| t.with_timezone(&chrono::Utc));
                let just_before = killed_at.is_some_and(|t| t <= alert_start && alert_start - t <= KILL_BEFORE_ALERT);
                let tier = if waiting_reason == "CrashLoopBackOff" || !ready {
                    Decisive
                } else if restarts > 1 || just_before {
                    Consistent
                } else {
                    Weak
                };
                out.push(finding(
                    RootCause::OomKilled,
                    workload.clone(),
                    tier,
                    format!("Container {container} is killed for exceeding its memory limit{}.", if limit.is_empty() { String::new() } else { format!(" of {limit}") }),
                    {
                        let mut evidence = vec![ev(format!("{src} lastState"), format!("terminated: OOMKilled, exit code {}, restarts {restarts}", last_code.unwrap_or(137)))];
                        evidence.extend(spec.map(|c| memory_asks(obs, pod, c)).unwrap_or_default());
                        evidence
                    },
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
                // The object the kubelet names is the one to create (or give the key).
                let missing = missing_ref(ns, waiting_message);
                let mut tier = Decisive;
                if let Some((kind, name, key)) = &missing {
                    let generated = generator_failures(obs, ns, kind, name);
                    // A whole object missing is often one a controller failed to generate
                    // (SealedSecret, ExternalSecret, cert-manager): its Warning says why, and
                    // that is the fix. Certain once the namespace's warnings were read.
                    if key.is_none() && generated.is_empty() && !obs.warnings_listed.contains(ns) {
                        tier = Consistent;
                    }
                    evidence.extend(generated);
                }
                let (resource, advice) = match &missing {
                    Some((kind, name, None)) => (
                        format!("{ns}/{kind}/{name}"),
                        format!("Create {kind} {ns}/{name} (or whatever generates it: check its SealedSecret/ExternalSecret), or fix the reference in {workload}."),
                    ),
                    Some((kind, name, Some(key))) => (format!("{ns}/{kind}/{name}"), format!("Add key {key} to {kind} {ns}/{name} (or whatever generates it), or fix the key referenced in {workload}.")),
                    None => (workload.clone(), format!("Create the missing object or key, or fix the reference in {workload}.")),
                };
                out.push(finding(RootCause::ContainerConfigMissingRef, resource, tier, format!("Container {container} cannot be created: {waiting_message}"), evidence, advice));
            }
            ContainerState::Crashing if !crash_is_liveness_kill(&events, cs) => crashloop(obs, pod, &workload, cs, spec, out),
            _ => {}
        }
    }
}

static XMX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-Xmx(\d+)([kKmMgGtT]?)\b").expect("regex"));
/// A flag or env var that sizes memory the process will take: a cache, a buffer, a heap.
static SIZE_SETTING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(-{0,2}[a-z0-9_.-]*(?:cache|buffer|heap|maxmemory|max-memory|mem-limit|memory-limit)[a-z0-9_.-]*)[= ]([0-9.]+\s*(?:[kmgt]i?b?|bytes)?)$").expect("regex"));

/// Bytes of a size as programs write it (`512m`, `2g`, `4GiB`, `1073741824`), binary units.
fn program_size(num: &str, unit: &str) -> Option<f64> {
    let n: f64 = num.trim().parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let pow = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" | "bytes" | "byte" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        _ => return None,
    };
    Some(n * 1024f64.powi(pow))
}

/// What the container's process asks for against its memory limit: a JVM heap (-Xmx in
/// args or JAVA_TOOL_OPTIONS / JAVA_OPTS / JDK_JAVA_OPTIONS / _JAVA_OPTIONS), a cache or
/// buffer size flag, and the usage metrics-server measured.
fn memory_asks(obs: &Observations<'_>, pod: &Value, c: &Value) -> Vec<Evidence> {
    let Ok(c) = serde_json::from_value::<Container>(c.clone()) else { return vec![] };
    let name = c.name.as_str();
    let limit_txt = c.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.get("memory")).map(|q| q.0.clone()).unwrap_or_default();
    let limit = k8s::bytes(&limit_txt);
    let gib = |b: f64| format!("{:.2}Gi", b / 1024f64.powi(3)).replace(".00Gi", "Gi");
    let vs_limit = |b: f64| match limit {
        Some(l) if b >= l => format!(" >= the limit {limit_txt}: it alone fills the container's memory"),
        Some(l) => format!(" = {:.0}% of the limit {limit_txt}", 100.0 * b / l),
        None => " (no memory limit set)".into(),
    };
    let src = format!("{} container {name}", workload_hint(pod));
    let mut out = vec![];
    let words: Vec<String> = c.command.iter().chain(c.args.iter()).flatten().flat_map(|a| a.split_whitespace()).map(str::to_owned).collect();
    let env: Vec<(String, String)> = c.env.iter().flatten().filter_map(|e| Some((e.name.clone(), e.value.clone()?))).collect();
    let java_env = env.iter().filter(|(k, _)| matches!(k.as_str(), "JAVA_TOOL_OPTIONS" | "JAVA_OPTS" | "JDK_JAVA_OPTIONS" | "_JAVA_OPTIONS"));
    let heap = words.iter().map(|w| ("args".to_owned(), w.clone())).chain(java_env.map(|(k, v)| (format!("env {k}"), v.clone()))).find_map(|(from, text)| {
        let cap = XMX.captures(&text)?;
        Some((from, cap[0].to_owned(), program_size(&cap[1], &cap[2])?))
    });
    if let Some((from, flag, b)) = heap {
        out.push(ev(format!("{src} {from}"), format!("JVM heap {flag} ({}){}; the JVM needs metaspace, threads and buffers on top", gib(b), vs_limit(b))));
    }
    // `--flag=value`, `--flag value` (two args) and `NAME=value` env vars.
    let pairs = words.windows(2).filter(|w| w[0].starts_with('-')).map(|w| format!("{}={}", w[0], w[1]));
    let settings = words.iter().cloned().chain(pairs).chain(env.iter().map(|(k, v)| format!("{k}={v}")));
    for w in settings {
        if let Some(cap) = SIZE_SETTING.captures(&w) {
            let value = cap[2].trim();
            let split = value.find(|ch: char| ch.is_ascii_alphabetic()).unwrap_or(value.len());
            if let Some(b) = program_size(&value[..split], &value[split..]).filter(|b| *b >= 1024.0 * 1024.0) {
                out.push(ev(format!("{src} setting"), format!("{} = {value} ({}){}", &cap[1], gib(b), vs_limit(b))));
                break;
            }
        }
    }
    let used = obs
        .get("PodMetrics", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))
        .and_then(|m| m.get("containers").and_then(Value::as_array)?.iter().find(|x| s(x, "/name") == name).and_then(|x| k8s::bytes(s(x, "/usage/memory"))));
    if let Some(u) = used {
        out.push(ev(format!("top {}", workload_hint(pod)), format!("container {name} uses {}{}", gib(u), vs_limit(u))));
    }
    out
}

/// The kubelet's CreateContainerConfigError messages: `secret "x" not found`,
/// `configmap "x" not found`, `couldn't find key K in Secret ns/x`.
static MISSING_OBJECT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"\b(secret|configmap) "([a-z0-9][-a-z0-9.]*)" not found"#).expect("regex"));
static MISSING_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"couldn't find key (\S+) in (Secret|ConfigMap) ([a-z0-9][-a-z0-9]*)/([a-z0-9][-a-z0-9.]*)").expect("regex"));

/// (kind, name, key) of the object a CreateContainerConfigError names.
fn missing_ref(ns: &str, message: &str) -> Option<(&'static str, String, Option<String>)> {
    let kind = |k: &str| if k.eq_ignore_ascii_case("secret") { "Secret" } else { "ConfigMap" };
    if let Some(c) = MISSING_KEY.captures(message) {
        return (&c[3] == ns).then(|| (kind(&c[2]), c[4].to_owned(), Some(c[1].to_owned())));
    }
    MISSING_OBJECT.captures(message).map(|c| (kind(&c[1]), c[2].to_owned(), None))
}

/// What the object that should produce a missing Secret or ConfigMap says: events on an
/// object of the same name and another kind (SealedSecret, ExternalSecret, ...), and the
/// failed conditions of such objects when read.
fn generator_failures(obs: &Observations<'_>, ns: &str, kind: &str, name: &str) -> Vec<Evidence> {
    let generator = |k: &str| !matches!(k, "Pod" | "Secret" | "ConfigMap" | "Event" | "") && k != kind;
    let mut out: Vec<Evidence> = obs
        .events
        .iter()
        .filter(|e| s(e, "/involvedObject/name") == name && s(e, "/involvedObject/namespace") == ns && generator(s(e, "/involvedObject/kind")) && s(e, "/type") == "Warning")
        .take(1)
        .map(|e| ev(format!("event on {ns}/{}/{name}", s(e, "/involvedObject/kind")), format!("{}: {}", s(e, "/reason"), s(e, "/message"))))
        .collect();
    for ((k, ons, oname), o) in &obs.objects {
        if ons != ns || oname != name || !generator(k) {
            continue;
        }
        for c in o.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().filter(|c| s(c, "/status") == "False" && !s(c, "/message").is_empty()) {
            out.push(ev(format!("{ns}/{k}/{name} condition {}", s(c, "/type")), s(c, "/message")));
        }
    }
    out
}

static ABS_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(/[A-Za-z0-9._@-]+)+").expect("regex"));

/// A file a log names that a ConfigMap or Secret volume provides.
struct MountedFile {
    path: String,
    mount_path: String,
    volume: String,
    /// `<ns>/ConfigMap/<name>` or `<ns>/Secret/<name>`.
    object: String,
    key: String,
}

impl MountedFile {
    fn describe(&self) -> String {
        format!("{} is key {} of {} (volume {} mounted at {})", self.path, self.key, self.object, self.volume, self.mount_path)
    }
}

/// The first file the log names (stack frames aside) that comes from a ConfigMap or Secret
/// volume of the container: through its mountPath (and subPath), the volume's items or
/// the key named like the file.
fn mounted_file(pod: &Value, container: &str, text: &str) -> Option<MountedFile> {
    let spec = pod.get("spec")?;
    let mounts = container_spec(pod, container)?.get("volumeMounts").and_then(Value::as_array)?;
    let volumes = spec.get("volumes").and_then(Value::as_array)?;
    let ns = s(pod, "/metadata/namespace");
    let paths = text.lines().filter(|l| !l.trim_start().starts_with("File \"") && !l.trim_start().starts_with("at ")).flat_map(|l| ABS_PATH.find_iter(l).map(|m| m.as_str().trim_end_matches('.').to_owned()));
    for path in paths {
        for m in mounts {
            let (mount_path, sub_path) = (s(m, "/mountPath").trim_end_matches('/'), s(m, "/subPath"));
            let rel = if !sub_path.is_empty() {
                if path != mount_path {
                    continue;
                }
                sub_path.to_owned()
            } else {
                match path.strip_prefix(mount_path).and_then(|r| r.strip_prefix('/')) {
                    Some(r) if !r.is_empty() => r.to_owned(),
                    _ => continue,
                }
            };
            let Some(vol) = volumes.iter().find(|v| s(v, "/name") == s(m, "/name")) else { continue };
            let sources: Vec<&Value> = match vol.pointer("/projected/sources").and_then(Value::as_array) {
                Some(srcs) => srcs.iter().collect(),
                None => vec![vol],
            };
            for src in sources {
                let (kind, name, items) = if let Some(cm) = src.get("configMap") {
                    ("ConfigMap", s(cm, "/name"), cm.get("items"))
                } else if let Some(sec) = src.get("secret") {
                    ("Secret", if s(sec, "/secretName").is_empty() { s(sec, "/name") } else { s(sec, "/secretName") }, sec.get("items"))
                } else {
                    continue;
                };
                let key = match items.and_then(Value::as_array) {
                    Some(items) => match items.iter().find(|i| s(i, "/path") == rel) {
                        Some(i) => s(i, "/key").to_owned(),
                        None => continue,
                    },
                    // Without items every key is a file named like it, at the top of the mount.
                    None if !rel.contains('/') => rel.clone(),
                    None => continue,
                };
                return Some(MountedFile { path: path.clone(), mount_path: mount_path.to_owned(), volume: s(vol, "/name").to_owned(), object: format!("{ns}/{kind}/{name}"), key });
            }
        }
    }
    None
}

/// A value in the Docker-link form the kubelet gives `<SVC>_PORT` and `<SVC>_PORT_<n>_<PROTO>`
/// for every Service of the namespace (`tcp://10.0.143.77:9125`).
static SERVICE_LINK_VALUE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:tcp|udp|sctp)://(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\b").expect("regex"));
/// A service-link variable name as a program reads it.
static SERVICE_LINK_VAR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b([A-Z][A-Z0-9_]*?_PORT(?:_\d+_(?:TCP|UDP|SCTP))?)\b").expect("regex"));

/// A crash on a service-link variable: with service links on (the default), the kubelet
/// sets `<SVC>_PORT=tcp://<clusterIP>:<port>` for every Service of the namespace, so a
/// Service named like a setting the app reads (`statsd` -> `STATSD_PORT`) feeds it a URL
/// where it expects a number. The error line quotes that URL.
fn service_link_crash(obs: &Observations<'_>, pod: &Value, workload: &str, cs: &Value, spec: Option<&Value>, text: &str, log_src: &str) -> Option<Finding> {
    if pod.pointer("/spec/enableServiceLinks").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let error = match logs::crash_cause(text)? {
        Symptom::AppError { line } | Symptom::BadConfig { line } | Symptom::MissingVar { line, .. } => line,
        _ => return None,
    };
    let cap = SERVICE_LINK_VALUE.captures(&error)?;
    let (value, ip) = (cap[0].to_owned(), cap[1].to_owned());
    let ns = s(pod, "/metadata/namespace");
    let declared: Vec<&str> = spec.and_then(|c| c.get("env")).and_then(Value::as_array).map(|env| env.iter().map(|e| s(e, "/name")).collect()).unwrap_or_default();
    // The Service whose clusterIP it is, when read; else the variable the log names.
    let service = obs.all("Service").find(|v| s(v, "/metadata/namespace") == ns && s(v, "/spec/clusterIP") == ip).map(|v| s(v, "/metadata/name").to_owned());
    let var = match &service {
        Some(name) => format!("{}_PORT", name.to_ascii_uppercase().replace('-', "_")),
        None => SERVICE_LINK_VAR.captures_iter(text).map(|c| c[1].to_owned()).find(|v| !declared.contains(&v.as_str()))?,
    };
    if declared.contains(&var.as_str()) {
        return None;
    }
    let service = service.unwrap_or_else(|| var.trim_end_matches("_PORT").to_ascii_lowercase().replace('_', "-"));
    let container = s(cs, "/name");
    Some(finding(
        RootCause::CrashloopMissingConfig,
        workload.to_owned(),
        Decisive,
        format!("Container {container} exits at start: {var}={value} is the service link the kubelet injects for Service {service}, not the setting the app expects."),
        vec![
            ev(log_src, error.trim()),
            crash_state_evidence(pod, cs),
            ev(
                format!("{workload} container {container} env"),
                format!("{var} is not declared; with enableServiceLinks unset (default true) the kubelet sets {var}={value} for Service {ns}/{service}"),
            ),
        ],
        format!("Set enableServiceLinks: false in the pod spec of {workload} (or declare {var} explicitly, or rename the Service {service}), then let the rollout replace the pods."),
    ))
}

fn crashloop(obs: &Observations<'_>, pod: &Value, workload: &str, cs: &Value, spec: Option<&Value>, out: &mut Vec<Finding>) {
    let container = s(cs, "/name");
    let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0);
    let (text, log, log_src) = crash_text(obs, pod, cs);
    let state_ev = crash_state_evidence(pod, cs);
    if let Some(f) = service_link_crash(obs, pod, workload, cs, spec, &text, &log_src) {
        out.push(f);
        return;
    }
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
        Some(Symptom::BadConfig { line }) => match mounted_file(pod, container, &text) {
            // The file it cannot read comes from a ConfigMap or Secret: that object is the fix.
            Some(m) => out.push(finding(
                RootCause::CrashloopMissingConfig,
                m.object.clone(),
                Decisive,
                format!("Container {container} exits at start on its configuration file {}, key {} of {}: {}", m.path, m.key, m.object, line.trim()),
                vec![ev(log_src, line.trim()), state_ev, ev(format!("{workload} container {container} volumeMounts"), m.describe())],
                format!("Fix key {} of {} (the pods read it at start; the running ones still hold the old content), then restart {workload}.", m.key, m.object),
            )),
            None => out.push(finding(
                RootCause::CrashloopMissingConfig,
                workload.to_owned(),
                Consistent,
                format!("Container {container} exits at start on its configuration: {}", line.trim()),
                vec![ev(log_src, line.trim()), state_ev],
                "Fix the command, flags or config file the container starts with.",
            )),
        },
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
            let read = obs.log(s(pod, "/metadata/namespace"), s(pod, "/metadata/name"), container).is_some();
            let detail = match (read, log.trim().is_empty()) {
                (false, _) => format!("{why}; its log was not read"),
                (true, true) => format!("{why}; the log is empty"),
                (true, false) => format!("{why}; no error line in the log"),
            };
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
    fn a_service_link_variable_the_app_parses_is_missing_config() {
        let p = pod("pay", "payouts-1", json!({"app": "payouts"}), json!({"containers": [{"name": "app", "env": [{"name": "LOG_LEVEL", "value": "info"}]}]}), crashing("app", 1));
        let log_text = "Traceback (most recent call last):\n  File \"/srv/app/settings.py\", line 6, in <module>\n    METRICS_PORT = int(os.environ.get(\"METRICS_PORT\", \"8125\"))\nValueError: invalid literal for int() with base 10: 'udp://10.0.143.77:9125'";
        let metrics = json!({"kind": "Service", "metadata": {"namespace": "pay", "name": "metrics"}, "spec": {"clusterIP": "10.0.143.77", "ports": [{"port": 9125, "protocol": "UDP"}]}});
        let f = best(&pod_alert("pay", "payouts-1"), &[read(vec![p.clone(), metrics]), log("pay", "payouts-1", "app", true, log_text)]);
        assert_eq!((f.root_cause, f.tier), (RootCause::CrashloopMissingConfig, Tier::Decisive));
        assert_eq!(f.resource.as_deref(), Some("pay/Deployment/payouts"));
        let t = text(&f);
        assert!(t.contains("METRICS_PORT=udp://10.0.143.77:9125") && t.contains("invalid literal for int()") && t.contains("pay/metrics"), "{t}");
        // Without the Service read, the variable the log names; Java's parse error reads the same way.
        let java = "Exception in thread \"main\" java.lang.NumberFormatException: For input string: \"tcp://10.96.4.2:6379\"\n\tat java.base/java.lang.Integer.parseInt(Integer.java:652)\n\tat com.acme.Config.<init>(Config.java:31) reading REDIS_PORT";
        let f = best(&pod_alert("pay", "payouts-1"), &[read(vec![p.clone()]), log("pay", "payouts-1", "app", true, java)]);
        assert_eq!(f.root_cause, RootCause::CrashloopMissingConfig);
        assert!(text(&f).contains("REDIS_PORT=tcp://10.96.4.2:6379"), "{f:?}");
        // Service links switched off: not this.
        let mut off = p;
        off["spec"]["enableServiceLinks"] = json!(false);
        let f = best(&pod_alert("pay", "payouts-1"), &[read(vec![off]), log("pay", "payouts-1", "app", true, log_text)]);
        assert_eq!(f.root_cause, RootCause::CrashloopAppError);
    }

    #[test]
    fn a_config_file_from_a_configmap_that_does_not_parse_points_at_the_configmap() {
        let spec = json!({"containers": [{"name": "worker", "volumeMounts": [{"name": "settings", "mountPath": "/etc/app", "readOnly": true}, {"name": "scratch", "mountPath": "/tmp"}]}],
            "volumes": [{"name": "settings", "configMap": {"name": "app-settings", "defaultMode": 420}}, {"name": "scratch", "emptyDir": {}}]});
        let p = pod("media", "worker-1", json!({"app": "worker"}), spec, crashing("worker", 1));
        let log_text = "Traceback (most recent call last):\n  File \"/usr/local/lib/python3.11/site-packages/yaml/scanner.py\", line 577, in fetch_value\n    raise ScannerError(None, None,\nyaml.scanner.ScannerError: mapping values are not allowed here\n  in \"/etc/app/settings.yaml\", line 21, column 12";
        let f = best(&pod_alert("media", "worker-1"), &[read(vec![p.clone()]), log("media", "worker-1", "worker", true, log_text)]);
        assert_eq!((f.root_cause, f.tier), (RootCause::CrashloopMissingConfig, Tier::Decisive));
        assert_eq!(f.resource.as_deref(), Some("media/ConfigMap/app-settings"));
        let t = text(&f);
        assert!(t.contains("mapping values are not allowed here") && t.contains("key settings.yaml of media/ConfigMap/app-settings"), "{t}");
        // A file baked into the image: the workload, not a ConfigMap.
        let baked = log_text.replace("/etc/app/settings.yaml", "/srv/app/settings.yaml");
        let f = best(&pod_alert("media", "worker-1"), &[read(vec![p]), log("media", "worker-1", "worker", true, &baked)]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::CrashloopMissingConfig, Some("media/Deployment/worker")));
    }

    #[test]
    fn a_missing_secret_is_the_resource_and_its_generator_is_quoted() {
        let status = json!({"phase": "Pending", "containerStatuses": [{"name": "db", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"db-admin\" not found"}}}]});
        let p = pod("crm", "db-0", json!({"app": "db"}), json!({"containers": [{"name": "db"}]}), status);
        let sealed = event_on("SealedSecret", "crm", "db-admin", "Warning", "ErrUnsealFailed", "Failed to unseal: no key could decrypt secret (password)");
        let f = best(&pod_alert("crm", "db-0"), &[read(vec![p.clone(), sealed])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::ContainerConfigMissingRef, Some("crm/Secret/db-admin")));
        assert!(text(&f).contains("no key could decrypt secret"), "{}", text(&f));
        let mut key = p;
        key["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = json!("couldn't find key DB_PASSWORD in Secret crm/db-creds");
        let f = best(&pod_alert("crm", "db-0"), &[read(vec![key])]);
        assert_eq!(f.resource.as_deref(), Some("crm/Secret/db-creds"));
    }

    #[test]
    fn a_missing_object_is_certain_only_once_the_namespace_warnings_were_read() {
        // Nothing generated it, as far as read: what should have may have said why.
        let status = json!({"phase": "Pending", "containerStatuses": [{"name": "db", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "configmap \"db-conf\" not found"}}}]});
        let p = pod("crm", "db-0", json!({"app": "db"}), json!({"containers": [{"name": "db"}]}), status);
        let f = best(&pod_alert("crm", "db-0"), &[read(vec![p.clone()])]);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("crm/ConfigMap/db-conf"), Tier::Consistent));
        let mut warnings = Command::events_for("c", Some("crm"), "Pod", "x");
        warnings.flags.clear();
        warnings.flags.insert("field-selector".into(), "type=Warning".into());
        let f = best(&pod_alert("crm", "db-0"), &[read(vec![p]), listed(warnings, vec![])]);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("crm/ConfigMap/db-conf"), Tier::Decisive));
    }

    #[test]
    fn a_silent_exit_is_only_a_weak_lead() {
        let p = pod("r", "rr-1", json!({"app": "rr"}), json!({"containers": [{"name": "init"}]}), crashing("init", 1));
        let f = best(&pod_alert("r", "rr-1"), &[read(vec![p]), log("r", "rr-1", "init", true, "")]);
        assert!(f.confidence < 0.5, "{f:?}");
    }

    fn oom_killed(spec: Value) -> Value {
        let status = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{
            "name": "app", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=app"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]});
        pod("pay", "ledger-1", json!({"app": "ledger"}), spec, status)
    }

    #[test]
    fn one_oom_kill_just_before_the_alert_explains_it_one_long_before_does_not() {
        // The container was killed once and runs again; the alert started at 2026-01-01T00:00Z.
        let once = |finished: &str| {
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{
                "name": "app", "ready": true, "restartCount": 1, "state": {"running": {"startedAt": finished}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": finished}}}]})
        };
        let spec = json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]});
        let oom_tier = |finished: &str| {
            findings(&pod_alert("pay", "ledger-1"), &[read(vec![pod("pay", "ledger-1", json!({"app": "ledger"}), spec.clone(), once(finished))])])
                .into_iter()
                .find(|f| f.root_cause == RootCause::OomKilled)
                .map(|f| f.tier)
        };
        assert_eq!(oom_tier("2025-12-31T23:58:30Z"), Some(Tier::Consistent), "killed 90 s before the alert");
        assert_eq!(oom_tier("2025-12-30T08:00:00Z"), Some(Tier::Weak), "killed two days before: history");
        assert_eq!(oom_tier("2026-01-01T00:05:00Z"), Some(Tier::Weak), "killed after the alert started: not what fired it");
    }

    #[test]
    fn an_oom_kill_quotes_the_jvm_heap_against_the_limit() {
        let spec = json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "2Gi"}},
            "env": [{"name": "JAVA_TOOL_OPTIONS", "value": "-XX:+UseG1GC -Xms512m -Xmx2g"}]}]});
        let f = best(&pod_alert("pay", "ledger-1"), &[read(vec![oom_killed(spec)])]);
        assert_eq!((f.root_cause, f.tier), (RootCause::OomKilled, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("JVM heap -Xmx2g (2Gi) >= the limit 2Gi") && t.contains("JAVA_TOOL_OPTIONS"), "{t}");
    }

    #[test]
    fn an_oom_kill_quotes_a_cache_size_flag_and_the_measured_usage() {
        let spec = json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}, "args": ["--listen=:8080", "--cache-size", "768Mi"]}]});
        let m = json!({"kind": "PodMetrics", "metadata": {"namespace": "pay", "name": "ledger-1"}, "containers": [{"name": "app", "usage": {"cpu": "120m", "memory": "1002Mi"}}]});
        let f = best(&pod_alert("pay", "ledger-1"), &[read(vec![oom_killed(spec), m])]);
        let t = text(&f);
        assert!(t.contains("--cache-size = 768Mi") && t.contains("75% of the limit 1Gi"), "{t}");
        assert!(t.contains("uses 0.98Gi = 98% of the limit 1Gi"), "{t}");
    }
}
