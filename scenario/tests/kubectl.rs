//! The real kubectl against the fixture cluster: scenario folders from `scenarios/` are
//! served on 127.0.0.1:0 and `kubectl` (`/usr/bin/kubectl`, or `$KUBECTL`) must print what
//! it prints against a real cluster. Ages the server computes are against the scenario's
//! `now`, so the assertions hold whatever the wall clock says; ages kubectl computes itself
//! (describe's event ages) are never asserted.

use aetherius_scenario::{Scenario, server};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

const CALLER: &str = "system:serviceaccount:aetherius:aetherius-reader";

/// A served scenario and a kubectl configured for it.
struct Kubectl {
    dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

/// What one kubectl run printed.
struct Output {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Output {
    /// stdout, after checking kubectl succeeded and warned about nothing.
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "kubectl failed:\n{}\n{}", self.stdout, self.stderr);
        assert!(self.stderr.trim().is_empty(), "kubectl wrote to stderr:\n{}", self.stderr);
        self.stdout
    }
}

fn kubectl_binary() -> PathBuf {
    let path = PathBuf::from(std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into()));
    assert!(path.is_file(), "kubectl not found at {} (set KUBECTL to its path)", path.display());
    path
}

fn scenario(id: &str) -> Scenario {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(id);
    Scenario::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

async fn serve(scenario: Scenario) -> Kubectl {
    let id = scenario.cluster_id();
    let (addr, server) = server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kubeconfig"), server::kubeconfig(&id, addr)).unwrap();
    Kubectl { dir, _server: server }
}

impl Kubectl {
    /// Runs kubectl with `args` (blocking: the server runs on the runtime's workers).
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(kubectl_binary())
            .args(args)
            .arg(format!("--cache-dir={}", self.dir.path().join("cache").display()))
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs");
        Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.run(args).ok()
    }

    /// A failing run's error line (kubectl prints it on stderr, exit code 1).
    fn err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 1, "expected kubectl {args:?} to fail, got:\n{}\n{}", out.stdout, out.stderr);
        out.stderr.trim().to_owned()
    }
}

/// The cells of a kubectl table line: columns are separated by at least two spaces
/// (a cell such as `8 (2m48s ago)` holds single spaces).
fn cells(line: &str) -> Vec<String> {
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

/// The rows of the first table in `out` (after its header) whose cells include `name`.
fn row(out: &str, name: &str) -> Vec<String> {
    out.lines()
        .map(cells)
        .find(|c| c.iter().any(|cell| cell == name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"))
}

fn header(out: &str) -> Vec<String> {
    cells(out.lines().next().unwrap_or_default())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

const WZTZK: &str = "orders-api-vgdtlch824-wztzk";
const MFTRV: &str = "orders-api-vgdtlch824-mftrv";

/// crashloop-db-refused with `kube-system/pods` and `secrets` forbidden.
async fn crashloop() -> Kubectl {
    let mut s = scenario("crashloop-db-refused");
    s.cluster.forbidden = vec!["kube-system/pods".into(), "secrets".into()];
    serve(s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_prints_the_server_side_columns() {
    let k = serve(scenario("crashloop-db-refused")).await;

    let all = k.ok(&["get", "pods", "-A"]);
    assert_eq!(header(&all), strings(&["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]));
    assert_eq!(row(&all, WZTZK), strings(&["orders", WZTZK, "0/1", "CrashLoopBackOff", "8 (2m48s ago)", "2d21h"]));
    assert_eq!(row(&all, "orders-frontend-sscrjnvvgl-hzmgb")[2..5], strings(&["1/1", "Running", "0"]));
    // Sorted by name, as etcd lists them.
    let names: Vec<String> = all.lines().skip(1).map(|l| cells(l)[1].clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 4);

    let ns = k.ok(&["get", "pods", "-n", "orders"]);
    assert_eq!(header(&ns), strings(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"]));
    assert_eq!(row(&ns, MFTRV), strings(&[MFTRV, "0/1", "CrashLoopBackOff", "8 (2m27s ago)", "2d21h"]));

    let wide = k.ok(&["get", "pods", "-n", "orders", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        strings(&["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"])
    );
    assert_eq!(row(&wide, WZTZK)[5..], strings(&["10.0.1.104", "ip-10-0-1-41.eu-west-1.compute.internal", "<none>", "<none>"]));

    // The kubeconfig's namespace is `default`, which holds nothing.
    let empty = k.run(&["get", "pods"]);
    assert_eq!(empty.code, 0);
    assert_eq!(empty.stderr.trim(), "No resources found in default namespace.");

    let one = k.ok(&["get", "pod", WZTZK, "-n", "orders"]);
    assert_eq!(one.lines().count(), 2);
    assert_eq!(row(&one, WZTZK)[3], "8 (2m48s ago)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_kinds_at_once() {
    let mut s = scenario("crashloop-db-refused");
    // Kinds the scenario lacks, added so their printers are exercised through kubectl too.
    s.cluster.objects.extend([
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "orders-api", "namespace": "orders", "creationTimestamp": "2026-11-20T09:06:00Z"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders-api"},
                "minReplicas": 2, "maxReplicas": 6,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "orders", "namespace": "orders", "creationTimestamp": "2026-11-19T10:06:00Z"},
            "spec": {"ingressClassName": "alb", "rules": [{"host": "shop.acme-corp.io"}], "tls": [{"hosts": ["shop.acme-corp.io"]}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-orders-1234.eu-west-1.elb.amazonaws.com"}]}}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "db-from-api", "namespace": "orders", "creationTimestamp": "2026-11-20T10:00:00Z"},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders-postgres"}}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "orders-config", "namespace": "orders", "creationTimestamp": "2026-11-20T10:05:00Z"},
            "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
    ]);
    let k = serve(s).await;
    let out = k.ok(&[
        "get", "deploy,rs,svc,nodes,events,pvc,cm,secrets,jobs,hpa,ingress,netpol,sts,ds,ep", "-n", "orders",
    ]);
    assert_eq!(row(&out, "deployment.apps/orders-api")[1..4], strings(&["0/2", "2", "0"]));
    assert_eq!(row(&out, "replicaset.apps/orders-frontend-sscrjnvvgl")[1..4], strings(&["2", "2", "2"]));
    assert_eq!(
        row(&out, "service/orders-postgres")[1..5],
        strings(&["ClusterIP", "172.20.118.74", "<none>", "5432/TCP"])
    );
    assert_eq!(row(&out, "service/orders-postgres-hl")[2], "None");
    assert_eq!(row(&out, "node/ip-10-0-1-41.eu-west-1.compute.internal")[1..3], strings(&["Ready", "<none>"]));
    assert_eq!(row(&out, "node/ip-10-0-1-41.eu-west-1.compute.internal")[4], "v1.31.3-eks-59bf375");
    assert_eq!(
        row(&out, "persistentvolumeclaim/data-orders-postgres-0")[1..7],
        strings(&["Bound", "pvc-a31e19b4-8010-4b58-a8e4-509728da675b", "50Gi", "RWO", "gp3", "<unset>"])
    );
    assert_eq!(row(&out, "configmap/orders-config")[1..], strings(&["3", "60s"]));
    assert_eq!(row(&out, "secret/orders-postgres")[1..3], strings(&["Opaque", "2"]));
    assert_eq!(
        row(&out, "horizontalpodautoscaler.autoscaling/orders-api")[1..],
        strings(&["Deployment/orders-api", "cpu: 12%/70%", "2", "6", "2", "60m"])
    );
    assert_eq!(
        row(&out, "ingress.networking.k8s.io/orders")[1..],
        strings(&["alb", "shop.acme-corp.io", "k8s-orders-1234.eu-west-1.elb.amazonaws.com", "80, 443", "24h"])
    );
    assert_eq!(
        row(&out, "networkpolicy.networking.k8s.io/db-from-api")[1..],
        strings(&["app.kubernetes.io/name=orders-postgres", "6m"])
    );
    assert_eq!(row(&out, "statefulset.apps/orders-postgres")[1], "0/0");
    assert_eq!(row(&out, "endpoints/orders-postgres")[1], "<none>");
    let warning = out.lines().find(|l| l.contains("BackOff") && l.contains(WZTZK)).expect("a BackOff event row");
    assert_eq!(cells(warning)[1..4], strings(&["Warning", "BackOff", &format!("pod/{WZTZK}")]));
    // Headers of the kinds present.
    for h in ["LAST SEEN   TYPE", "UP-TO-DATE   AVAILABLE", "DESIRED   CURRENT   READY", "REFERENCE", "POD-SELECTOR"] {
        assert!(out.contains(h), "no {h:?} header in:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_kinds_of_other_scenarios() {
    let jobs = serve(scenario("job-backoff-limit")).await;
    let out = jobs.ok(&["get", "jobs,cronjobs,pods", "-n", "finance"]);
    assert_eq!(row(&out, "job.batch/ledger-migrations-29924790")[1..5], strings(&["Failed", "0/1", "28m", "28m"]));
    assert_eq!(row(&out, "job.batch/ledger-migrations-29923350")[1..4], strings(&["Complete", "1/1", "11s"]));
    assert_eq!(
        row(&out, "cronjob.batch/ledger-migrations")[1..6],
        strings(&["30 2 * * *", "Etc/UTC", "False", "0", "28m"])
    );
    assert_eq!(row(&out, "pod/ledger-migrations-29923350-lnscc")[1..3], strings(&["0/1", "Completed"]));
    assert_eq!(row(&out, "pod/ledger-migrations-29924790-fqvbb")[1..3], strings(&["0/1", "Error"]));

    let nodes = serve(scenario("node-not-ready-kubelet")).await;
    let out = nodes.ok(&["get", "ds,pods,nodes,leases", "-A"]);
    assert_eq!(row(&out, "daemonset.apps/kube-proxy")[2..8], strings(&["4", "4", "3", "4", "3", "<none>"]));
    assert_eq!(row(&out, "pod/checkout-api-5v2qskfcx5-wmr8d")[2..4], strings(&["1/1", "Terminating"]));
    assert_eq!(row(&out, "node/ip-10-0-2-141.eu-west-1.compute.internal")[1], "NotReady");
    assert!(out.contains("lease.coordination.k8s.io/ip-10-0-2-141.eu-west-1.compute.internal"), "{out}");

    let quota = serve(scenario("quota-exceeded-namespace")).await;
    let out = quota.ok(&["get", "quota,limits", "-n", "analytics"]);
    assert_eq!(
        row(&out, "resourcequota/team-quota")[1..3],
        strings(&[
            "pods: 5/20, requests.cpu: 2/4, requests.memory: 7Gi/8Gi, services.loadbalancers: 0/0",
            "limits.cpu: 4/8, limits.memory: 7Gi/12Gi",
        ])
    );
    // LimitRange has no printer: the default convertor's NAME / CREATED AT.
    assert!(out.contains("NAME                       CREATED AT"), "{out}");
    assert_eq!(row(&out, "limitrange/team-defaults")[1], "2025-06-11T08:02:17Z");

    let storage = serve(scenario("pending-pvc-no-storageclass")).await;
    let out = storage.ok(&["get", "sc,pv,pvc", "-A"]);
    assert_eq!(
        row(&out, "storageclass.storage.k8s.io/gp3 (default)")[1..5],
        strings(&["ebs.csi.aws.com", "Delete", "WaitForFirstConsumer", "true"])
    );
    assert_eq!(row(&out, "persistentvolume/pvc-d206fe35-734f-4324-ae85-cc092534a16f")[1..6], strings(&["10Gi", "RWO", "Delete", "Bound", "metrics/grafana"]));
    assert_eq!(row(&out, "persistentvolumeclaim/data-timescaledb-0")[2..5], strings(&["Pending", "fast-ssd", "<unset>"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_namespaces_and_custom_resources() {
    let mut s = scenario("pending-untolerated-taint");
    s.cluster.objects.push(json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "reranker-tls", "namespace": "ml-serving", "creationTimestamp": "2026-11-24T12:22:00Z"},
        "spec": {"secretName": "reranker-tls"}}));
    let k = serve(s).await;

    let nodes = k.ok(&["get", "nodes", "-o", "wide"]);
    assert_eq!(
        header(&nodes),
        strings(&["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"])
    );
    assert_eq!(row(&nodes, "k8s-cp-01")[1..3], strings(&["Ready", "control-plane"]));
    assert_eq!(row(&nodes, "k8s-ml-01")[2..], strings(&["ml", "447d", "v1.31.2", "10.40.0.21", "<none>", "Ubuntu 22.04.5 LTS", "5.15.0-126-generic", "containerd://1.7.22"]));

    let pods = k.ok(&["get", "pods", "-n", "ml-serving"]);
    assert_eq!(row(&pods, "reranker-xv8rrz8cgh-g4sxk")[1..], strings(&["0/1", "Pending", "0", "23m"]));

    // Implicit namespaces are as old as their oldest object.
    let ns = k.ok(&["get", "ns"]);
    assert_eq!(row(&ns, "ml-serving")[1], "Active");
    assert_ne!(row(&ns, "ml-serving")[2], "<unknown>");

    // A custom resource without printer columns: NAME / AGE, discovered from the objects.
    let certs = k.ok(&["get", "certificates", "-n", "ml-serving"]);
    assert_eq!(header(&certs), strings(&["NAME", "AGE"]));
    assert_eq!(row(&certs, "reranker-tls")[1], "120m");

    let resources = k.ok(&["api-resources"]);
    for expected in [
        ["pods", "po", "v1", "true", "Pod"],
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        ["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"],
    ] {
        assert!(resources.lines().any(|l| cells(l) == strings(&expected)), "{expected:?} missing:\n{resources}");
    }
    for expected in [
        ["certificates", "cert-manager.io/v1", "true", "Certificate"],
        ["leases", "coordination.k8s.io/v1", "true", "Lease"],
        ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"],
    ] {
        assert!(resources.lines().any(|l| cells(l) == strings(&expected)), "{expected:?} missing:\n{resources}");
    }
    // A custom resource Aetherius knows how to read (Cilium's) exists only where its CRD is
    // installed: this cluster has none, so the server has no such type, as a real one.
    assert!(!resources.contains("ciliumnetworkpolicies"), "{resources}");
    assert!(k.err(&["get", "ciliumnetworkpolicies", "-A"]).contains("the server doesn't have a resource type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_where_their_crd_is_installed() {
    let k = serve(scenario("notify-mailer-smtp-587-dropped-by-clusterwide-egress-deny-rke2-cilium")).await;
    let policies = k.ok(&["get", "ciliumclusterwidenetworkpolicies"]);
    assert!(policies.lines().any(|l| cells(l).first().map(String::as_str) == Some("deny-outbound-smtp")), "{policies}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_one_object_as_yaml_and_json() {
    let k = serve(scenario("crashloop-db-refused")).await;
    let yaml = k.ok(&["get", "pod", WZTZK, "-n", "orders", "-o", "yaml"]);
    assert!(yaml.starts_with("apiVersion: v1\n"), "{yaml}");
    assert!(yaml.contains("kind: Pod\n"));
    assert!(yaml.contains("    restartCount: 8\n"));
    assert!(yaml.contains("        reason: CrashLoopBackOff\n"));

    let json: Value = serde_json::from_str(&k.ok(&["get", "pod", WZTZK, "-n", "orders", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "Pod");
    assert_eq!(json["metadata"]["uid"], "7e35a51e-bc06-4e7f-a154-53c36a518371");
    assert_eq!(json["status"]["containerStatuses"][0]["restartCount"], 8);

    let list: Value = serde_json::from_str(&k.ok(&["get", "deploy", "-n", "orders", "-o", "json"])).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "orders-api");
    assert_eq!(list["items"][0]["kind"], "Deployment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pod_deployment_and_node() {
    let mut s = scenario("crashloop-db-refused");
    // An event about an earlier pod of the same name: describe must not show it (the uid
    // part of its field selector).
    s.cluster.objects.push(json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "stale.1", "namespace": "orders", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": WZTZK, "namespace": "orders", "uid": "00000000-dead-beef-0000-000000000000"},
        "reason": "Killing", "message": "event of a previous pod with this name", "type": "Normal",
        "firstTimestamp": "2026-11-01T00:00:00Z", "lastTimestamp": "2026-11-01T00:00:00Z", "count": 1,
        "source": {"component": "kubelet"}}));
    let k = serve(s).await;

    let pod = k.ok(&["describe", "pod", WZTZK, "-n", "orders"]);
    for line in [
        format!("Name:             {WZTZK}"),
        "Namespace:        orders".into(),
        "Node:             ip-10-0-1-41.eu-west-1.compute.internal/10.0.1.41".into(),
        "    State:          Waiting".into(),
        "      Reason:       CrashLoopBackOff".into(),
        "      Exit Code:    1".into(),
        "    Restart Count:  8".into(),
    ] {
        assert!(pod.lines().any(|l| l.trim_end() == line), "no line {line:?} in:\n{pod}");
    }
    let events = pod.split("\nEvents:\n").nth(1).expect("an Events section");
    assert!(events.contains(&format!("Back-off restarting failed container orders-api in pod {WZTZK}_orders")));
    assert!(!events.contains("previous pod"), "event of another uid shown:\n{events}");
    assert!(!events.contains(MFTRV), "event of another pod shown:\n{events}");

    let deploy = k.ok(&["describe", "deploy", "orders-api", "-n", "orders"]);
    assert!(deploy.contains("Replicas:               2 desired | 2 updated | 2 total | 0 available | 2 unavailable"), "{deploy}");
    assert!(deploy.contains("NewReplicaSet:   orders-api-vgdtlch824 (2/2 replicas created)"), "{deploy}");
    assert!(deploy.contains("  Available      False   MinimumReplicasUnavailable"), "{deploy}");

    let taint = serve(scenario("pending-untolerated-taint")).await;
    let node = taint.ok(&["describe", "node", "k8s-ml-01"]);
    assert!(node.contains("Taints:             dedicated=ml:NoSchedule"), "{node}");
    assert!(node.contains("Non-terminated Pods:          (1 in total)"), "{node}");
    assert!(node.contains("embedding-server-qsgq5msd2x-d7h64"), "{node}");
    // No Lease in that scenario: a NotFound, as a cluster without one answers.
    assert!(node.contains("Lease:              Failed to get lease: leases.coordination.k8s.io \"k8s-ml-01\" not found"), "{node}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_current_previous_and_tail() {
    let k = serve(scenario("crashloop-db-refused")).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-db-refused/logs/orders");
    let previous = std::fs::read_to_string(dir.join(WZTZK).join("orders-api.previous.log")).unwrap();

    assert_eq!(k.ok(&["logs", WZTZK, "-n", "orders", "-c", "orders-api", "--previous"]), previous);
    let tail = k.ok(&["logs", WZTZK, "-n", "orders", "-c", "orders-api", "--previous", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2);
    assert!(tail.lines().last().unwrap().contains("fatal: startup failed"), "{tail}");
    assert!(tail.contains("connection refused"));
    // Crash-looping: the kubelet serves the last terminated instance as the current log.
    assert_eq!(k.ok(&["logs", WZTZK, "-n", "orders", "-c", "orders-api"]), previous);

    let nginx = k.ok(&["logs", "orders-frontend-sscrjnvvgl-hzmgb", "-n", "orders", "--tail=1"]);
    assert_eq!(nginx.lines().count(), 1);
    assert!(nginx.contains("\"GET /api/orders?page=1 HTTP/1.1\" 502"), "{nginx}");
    assert_eq!(
        k.err(&["logs", "orders-frontend-sscrjnvvgl-hzmgb", "-n", "orders", "--previous"]),
        "Error from server (BadRequest): previous terminated container \"nginx\" in pod \"orders-frontend-sscrjnvvgl-hzmgb\" not found"
    );
    assert_eq!(
        k.err(&["logs", WZTZK, "-n", "orders", "-c", "sidecar"]),
        // kubectl checks the container name itself before asking.
        format!("error: container sidecar is not valid for pod {WZTZK}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_by_field_selector() {
    let k = serve(scenario("crashloop-db-refused")).await;
    let by_object = k.ok(&["get", "events", "-n", "orders", "--field-selector", &format!("involvedObject.name={WZTZK}")]);
    assert_eq!(header(&by_object), strings(&["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]));
    let rows: Vec<Vec<String>> = by_object.lines().skip(1).map(cells).collect();
    assert!(rows.len() >= 3, "{by_object}");
    assert!(rows.iter().all(|r| r[3] == format!("pod/{WZTZK}")), "{by_object}");
    assert!(rows.iter().any(|r| r[2] == "BackOff" && r[1] == "Warning"), "{by_object}");

    let warnings = k.ok(&["get", "events", "-n", "orders", "--field-selector", "type=Warning"]);
    let rows: Vec<Vec<String>> = warnings.lines().skip(1).map(cells).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r[1] == "Warning"), "{warnings}");
    assert!(rows.iter().any(|r| r[2] == "BackOff"));

    let none = k.run(&["get", "events", "-n", "orders", "--field-selector", "involvedObject.name=nothing"]);
    assert_eq!(none.code, 0);
    assert_eq!(none.stderr.trim(), "No resources found in orders namespace.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_pods_and_nodes() {
    let k = serve(scenario("pending-insufficient-cpu")).await;
    let pods = k.ok(&["top", "pod", "-n", "search"]);
    assert_eq!(header(&pods), strings(&["NAME", "CPU(cores)", "MEMORY(bytes)"]));
    assert_eq!(row(&pods, "indexer-w9pbzkcfh-928dc")[1..], strings(&["1212m", "2354Mi"]));

    let nodes = k.ok(&["top", "node"]);
    assert_eq!(header(&nodes), strings(&["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]));
    assert_eq!(row(&nodes, "gke-analytics-prod-default-pool-1f7d93c2-x2lq")[1..], strings(&["1388m", "35%", "5782Mi", "44%"]));

    // No metrics in a scenario: kubectl's own message.
    let bare = serve(scenario("crashloop-db-refused")).await;
    assert_eq!(bare.err(&["top", "node"]), "error: metrics not available yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_follows_the_forbidden_list() {
    let k = crashloop().await;
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        let out = k.run(&all);
        (out.stdout.trim().to_owned(), out.code)
    };
    assert_eq!(can(&["list", "pods", "-n", "orders"]), ("yes".into(), 0));
    assert_eq!(can(&["get", "pods", "-n", "orders"]), ("yes".into(), 0));
    assert_eq!(can(&["list", "pods", "-n", "kube-system"]), ("no".into(), 1));
    assert_eq!(can(&["list", "pods", "-A"]), ("no".into(), 1));
    assert_eq!(can(&["get", "secrets"]), ("no".into(), 1));
    assert_eq!(can(&["get", "secrets", "-n", "orders"]), ("no".into(), 1));
    assert_eq!(can(&["get", "configmaps", "-n", "kube-system"]), ("yes".into(), 0));
    assert_eq!(can(&["delete", "pods", "-n", "orders"]), ("no".into(), 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_and_not_found_are_real_status_errors() {
    let k = crashloop().await;
    assert_eq!(
        k.err(&["get", "pods", "-n", "kube-system"]),
        format!("Error from server (Forbidden): pods is forbidden: User \"{CALLER}\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"")
    );
    assert_eq!(
        k.err(&["get", "pods", "-A"]),
        format!("Error from server (Forbidden): pods is forbidden: User \"{CALLER}\" cannot list resource \"pods\" in API group \"\" at the cluster scope")
    );
    assert_eq!(
        k.err(&["get", "secret", "orders-postgres", "-n", "orders"]),
        format!("Error from server (Forbidden): secrets \"orders-postgres\" is forbidden: User \"{CALLER}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"orders\"")
    );
    assert_eq!(k.err(&["get", "pod", "x", "-n", "orders"]), "Error from server (NotFound): pods \"x\" not found");
    assert_eq!(
        k.err(&["get", "deploy", "x", "-n", "orders"]),
        "Error from server (NotFound): deployments.apps \"x\" not found"
    );
    assert_eq!(k.err(&["describe", "pod", "x", "-n", "orders"]), "Error from server (NotFound): pods \"x\" not found");
    assert_eq!(k.err(&["get", "widgets"]), "error: the server doesn't have a resource type \"widgets\"");
}
