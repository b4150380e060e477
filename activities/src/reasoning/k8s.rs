//! Kubernetes semantics the rules need, written the way the API server, scheduler and
//! kubelet apply them: label selectors, node selection, taints, quantities, ports, probes.

use super::observations::s;
use serde_json::{Map, Value};

/// `metadata.labels` of an object (empty when absent).
pub fn labels(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    obj.pointer("/metadata/labels").and_then(Value::as_object).unwrap_or(&EMPTY)
}

/// Whether every `key=value` of `selector` is among `labels`. An empty selector matches
/// nothing here: a Service without selector manages its endpoints by hand.
pub fn map_selects(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `a=b,c=d`, keys sorted: the selector string a list step uses.
pub fn selector_string(selector: &Map<String, Value>) -> String {
    selector.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
}

/// A `metav1.LabelSelector` (matchLabels + matchExpressions) against labels. An empty
/// selector (`{}`) selects everything, as in NetworkPolicy podSelector.
pub fn label_selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    if let Some(m) = match_labels
        && !m.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| expression_matches(e, labels.get(s(e, "/key")).and_then(Value::as_str)))
}

/// One `matchExpressions` requirement (label selectors and node selector terms share it).
pub fn expression_matches(expr: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    match s(expr, "/operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => value.and_then(|v| v.parse::<i64>().ok()).zip(values.first().and_then(|x| x.parse::<i64>().ok())).is_some_and(|(v, x)| v > x),
        "Lt" => value.and_then(|v| v.parse::<i64>().ok()).zip(values.first().and_then(|x| x.parse::<i64>().ok())).is_some_and(|(v, x)| v < x),
        _ => false,
    }
}

/// `key op [values]`, as a human writes a requirement.
pub fn describe_expression(expr: &Value) -> String {
    let values: Vec<&str> = expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    match s(expr, "/operator") {
        "Exists" | "DoesNotExist" => format!("{} {}", s(expr, "/key"), s(expr, "/operator")),
        op => format!("{} {op} [{}]", s(expr, "/key"), values.join(", ")),
    }
}

/// The node-selection requirements of a pod (nodeSelector and required node affinity)
/// that `node` fails, described; empty when the node is eligible.
pub fn node_selection_misses(pod: &Value, node: &Value) -> Vec<String> {
    let node_labels = labels(node);
    let mut misses = vec![];
    for (k, v) in pod.pointer("/spec/nodeSelector").and_then(Value::as_object).into_iter().flatten() {
        if node_labels.get(k) != Some(v) {
            misses.push(format!("nodeSelector {k}={}", v.as_str().unwrap_or_default()));
        }
    }
    let terms: Vec<&Value> = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    // Terms are ORed; the expressions of one term are ANDed.
    if !terms.is_empty() {
        let name = s(node, "/metadata/name");
        let term_ok = |t: &Value| {
            t.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().all(|e| {
                expression_matches(e, node_labels.get(s(e, "/key")).and_then(Value::as_str))
            }) && t
                .get("matchFields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .all(|e| s(e, "/key") != "metadata.name" || expression_matches(e, Some(name)))
        };
        if !terms.iter().any(|t| term_ok(t)) {
            for t in &terms {
                for e in t.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
                    if !expression_matches(e, node_labels.get(s(e, "/key")).and_then(Value::as_str)) {
                        misses.push(format!("required node affinity {}", describe_expression(e)));
                    }
                }
            }
        }
    }
    misses
}

/// Taints of `node` with effect NoSchedule / NoExecute that the pod does not tolerate.
pub fn untolerated_taints(pod: &Value, node: &Value) -> Vec<String> {
    let tolerations: Vec<&Value> = pod.pointer("/spec/tolerations").and_then(Value::as_array).into_iter().flatten().collect();
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| matches!(s(t, "/effect"), "NoSchedule" | "NoExecute"))
        .filter(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
        .map(describe_taint)
        .collect()
}

/// `key=value:Effect`.
pub fn describe_taint(t: &Value) -> String {
    let value = s(t, "/value");
    if value.is_empty() { format!("{}:{}", s(t, "/key"), s(t, "/effect")) } else { format!("{}={value}:{}", s(t, "/key"), s(t, "/effect")) }
}

fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect_ok = s(tol, "/effect").is_empty() || s(tol, "/effect") == s(taint, "/effect");
    let key_ok = s(tol, "/key").is_empty() || s(tol, "/key") == s(taint, "/key");
    let value_ok = s(tol, "/operator") == "Exists" || s(tol, "/value") == s(taint, "/value");
    effect_ok && key_ok && value_ok
}

/// CPU quantity in millicores (`250m`, `2`, `1.5`, `298781355n`, `300u`).
pub fn cpu_millis(q: &str) -> Option<f64> {
    let q = q.trim();
    let (num, factor) = match q.char_indices().last()? {
        (i, 'n') => (&q[..i], 1e-6),
        (i, 'u') => (&q[..i], 1e-3),
        (i, 'm') => (&q[..i], 1.0),
        _ => (q, 1000.0),
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

/// Memory quantity in bytes (`512Mi`, `1G`, `1073741824`, `1150976Ki`).
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let factor = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "m" => 1e-3,
        _ => return None,
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

/// Millicores as kubectl prints them.
pub fn fmt_millis(m: f64) -> String {
    format!("{}m", m.round() as i64)
}

/// Every container spec of a pod or pod template (`spec` is the pod spec).
pub fn containers(pod_spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"].into_iter().filter_map(|k| pod_spec.get(k).and_then(Value::as_array)).flatten()
}

/// The pod spec of a pod or of a workload's template.
pub fn pod_spec(obj: &Value) -> Option<&Value> {
    if s(obj, "/kind") == "Pod" { obj.get("spec") } else { obj.pointer("/spec/template/spec").or_else(|| obj.pointer("/spec/jobTemplate/spec/template/spec")) }
}

/// Ports a pod's containers declare: (number, name, container).
pub fn container_ports(pod_spec: &Value) -> Vec<(i64, String, String)> {
    containers(pod_spec)
        .flat_map(|c| {
            c.get("ports").and_then(Value::as_array).into_iter().flatten().map(move |p| {
                (p.get("containerPort").and_then(Value::as_i64).unwrap_or(0), s(p, "/name").to_owned(), s(c, "/name").to_owned())
            })
        })
        .collect()
}

/// A port reference (number or name) resolved against a pod's declared ports; `None` when a
/// name is not declared.
pub fn resolve_port(pod_spec: &Value, port: &Value) -> Option<i64> {
    match port {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => name.parse().ok().or_else(|| container_ports(pod_spec).into_iter().find(|(_, n, _)| n == name).map(|(p, _, _)| p)),
        _ => None,
    }
}

/// `httpGet /readyz on port http (8080)`, `tcpSocket on port 5432`, `exec [cat /tmp/ready]`.
pub fn describe_probe(pod_spec: &Value, probe: &Value) -> String {
    let port = |p: &Value| {
        let v = p.get("port").cloned().unwrap_or(Value::Null);
        match (&v, resolve_port(pod_spec, &v)) {
            (Value::String(name), Some(n)) => format!("{name} ({n})"),
            (Value::String(name), None) => name.clone(),
            (other, _) => other.to_string(),
        }
    };
    let timing = format!(
        "timeoutSeconds {}, periodSeconds {}, failureThreshold {}",
        probe.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(1),
        probe.get("periodSeconds").and_then(Value::as_i64).unwrap_or(10),
        probe.get("failureThreshold").and_then(Value::as_i64).unwrap_or(3)
    );
    if let Some(h) = probe.get("httpGet") {
        format!("httpGet {} on port {} ({timing})", if s(h, "/path").is_empty() { "/" } else { s(h, "/path") }, port(h))
    } else if let Some(t) = probe.get("tcpSocket") {
        format!("tcpSocket on port {} ({timing})", port(t))
    } else if let Some(g) = probe.get("grpc") {
        format!("grpc on port {} ({timing})", port(g))
    } else if let Some(e) = probe.get("exec") {
        format!("exec {} ({timing})", e.get("command").map(Value::to_string).unwrap_or_default())
    } else {
        timing
    }
}

/// A condition of an object by type.
pub fn condition<'v>(obj: &'v Value, kind: &str) -> Option<&'v Value> {
    obj.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().find(|c| s(c, "/type") == kind)
}

/// Whether a pod is Running and Ready.
pub fn pod_ready(pod: &Value) -> bool {
    s(pod, "/status/phase") == "Running" && condition(pod, "Ready").is_some_and(|c| s(c, "/status") == "True")
}

/// Addresses of an Endpoints object or EndpointSlice: (ready, not ready).
pub fn endpoint_addresses(obj: &Value) -> (usize, usize) {
    match s(obj, "/kind") {
        "EndpointSlice" => {
            let eps: Vec<&Value> = obj.get("endpoints").and_then(Value::as_array).into_iter().flatten().collect();
            let ready = eps.iter().filter(|e| e.pointer("/conditions/ready").and_then(Value::as_bool).unwrap_or(true)).count();
            (ready, eps.len() - ready)
        }
        _ => obj.get("subsets").and_then(Value::as_array).into_iter().flatten().fold((0, 0), |(r, n), sub| {
            let count = |k: &str| sub.get(k).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            (r + count("addresses"), n + count("notReadyAddresses"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        assert_eq!(cpu_millis("300m"), Some(300.0));
        assert_eq!(cpu_millis("2"), Some(2000.0));
        assert_eq!(cpu_millis("1.5"), Some(1500.0));
        assert!((cpu_millis("298781355n").unwrap() - 298.78).abs() < 0.01);
        assert_eq!(bytes("1Ki"), Some(1024.0));
        assert_eq!(bytes("2Gi"), Some(2.0 * 1024f64.powi(3)));
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("12x"), None);
    }

    #[test]
    fn label_selectors_with_expressions() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object().unwrap();
        assert!(label_selector_matches(&json!({}), labels));
        assert!(label_selector_matches(&json!({"matchLabels": {"app": "web"}}), labels));
        assert!(!label_selector_matches(&json!({"matchLabels": {"app": "api"}}), labels));
        assert!(label_selector_matches(&json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}), labels));
        assert!(!label_selector_matches(&json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]}), labels));
        assert!(label_selector_matches(&json!({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}), labels));
    }

    #[test]
    fn node_affinity_and_selector_misses_are_described() {
        let pod = json!({"kind": "Pod", "spec": {
            "nodeSelector": {"pool": "gpu"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]}
            ]}}}
        }});
        let good = json!({"metadata": {"name": "n1", "labels": {"pool": "gpu", "disk": "nvme"}}});
        let bad = json!({"metadata": {"name": "n2", "labels": {"pool": "cpu", "disk-type": "nvme"}}});
        assert!(node_selection_misses(&pod, &good).is_empty());
        let misses = node_selection_misses(&pod, &bad);
        assert_eq!(misses, vec!["nodeSelector pool=gpu", "required node affinity disk In [nvme]"]);
    }

    #[test]
    fn taints_need_matching_tolerations() {
        let node = json!({"spec": {"taints": [
            {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
            {"key": "soft", "effect": "PreferNoSchedule"}
        ]}});
        let bare = json!({"spec": {}});
        assert_eq!(untolerated_taints(&bare, &node), vec!["dedicated=ml:NoSchedule"]);
        let tolerant = json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]}});
        assert!(untolerated_taints(&tolerant, &node).is_empty());
        let exists = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert!(untolerated_taints(&exists, &node).is_empty());
    }

    #[test]
    fn ports_and_probes_resolve_names() {
        let spec = json!({"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 3000}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "timeoutSeconds": 2}}]});
        assert_eq!(resolve_port(&spec, &json!("http")), Some(3000));
        assert_eq!(resolve_port(&spec, &json!(8080)), Some(8080));
        assert_eq!(resolve_port(&spec, &json!("metrics")), None);
        let probe = spec.pointer("/containers/0/readinessProbe").unwrap();
        assert_eq!(describe_probe(&spec, probe), "httpGet /readyz on port http (3000) (timeoutSeconds 2, periodSeconds 10, failureThreshold 3)");
    }

    #[test]
    fn endpoints_and_slices_count_ready_addresses() {
        let ep = json!({"kind": "Endpoints", "subsets": [{"addresses": [{"ip": "1"}], "notReadyAddresses": [{"ip": "2"}, {"ip": "3"}]}]});
        assert_eq!(endpoint_addresses(&ep), (1, 2));
        let slice = json!({"kind": "EndpointSlice", "endpoints": [{"conditions": {"ready": true}}, {"conditions": {"ready": false}}]});
        assert_eq!(endpoint_addresses(&slice), (1, 1));
        assert_eq!(endpoint_addresses(&json!({"kind": "Endpoints"})), (0, 0));
    }
}
