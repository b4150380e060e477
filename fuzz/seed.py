#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/ from the project's real inputs: the alerts of
the first scenarios (as Alertmanager v4 webhook bodies), kubectl lines from the parser's
tests and the rules' commands, and log lines of the scenarios mixed with secret shapes.
Run from the repository root: python3 fuzz/seed.py (needs PyYAML). Seeds are named by
content hash, so rerunning adds nothing twice."""
import glob, hashlib, json, os, yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

scenarios = sorted(glob.glob(os.path.join(ROOT, "scenarios", "*", "scenario.yaml")))[:12]
for path in scenarios:
    alert = yaml.safe_load(open(path))["alert"]
    body = {"version": "4", "groupKey": "{}:{alertname=\"%s\"}" % alert["labels"]["alertname"],
            "truncatedAlerts": 0, "status": alert["status"], "receiver": "aetherius",
            "groupLabels": {"alertname": alert["labels"]["alertname"]}, "commonLabels": alert["labels"],
            "commonAnnotations": alert.get("annotations", {}), "externalURL": "http://alertmanager:9093",
            "alerts": [alert]}
    put("alertmanager_webhook", json.dumps(body, default=str))
put("alertmanager_webhook", '{"version":"4","status":"firing","alerts":[]}')
put("alertmanager_webhook", '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X","bad-name":"1"},"startsAt":"2026-01-01T00:00:00Z"}]}')

for line in [
    "kubectl logs deploy/checkout -n shop --previous --tail=200",
    "kubectl get po checkout-1 -n shop", "kubectl get pod/checkout-1 --namespace=shop",
    "kubectl logs checkout-1 -c app -p -n shop --tail 50",
    "kubectl get pods -l 'app=checkout,tier in (web)' -oyaml", "kubectl get pods -A", "kubectl get nodes",
    "kubectl rollout history deployment/checkout -n shop", "kubectl top pod -n shop --containers",
    "kubectl events --for pod/checkout-1 -n shop", "kubectl events -n checkout --field-selector=type=Warning --limit=100",
    "kubectl describe node ip-10-0-1-23.eu-west-1.compute.internal", "kubectl describe secrets -n shop",
    "kubectl get secret checkout-db -n shop -o yaml", "kubectl -n kube-system logs -l k8s-app=kube-dns",
    "kubectl get deploy checkout -n shop -o jsonpath='{.spec.replicas}'", "kubectl logs x --since=1h -n shop",
    "kubectl delete pod x -n shop", "kubectl exec -it x -n shop -- sh", "kubectl rollout restart deploy/checkout",
    "kubectl get pods; rm -rf /", "kubectl get pods | grep x", "kubectl get pods $(id)", "kubectl get pods 'x",
    "kubectl -n shop set env deploy/checkout DATABASE_URL=postgres://app:pw@db/app", "helm list",
]:
    put("kubectl_line", line)

secrets = ["DB_PASSWORD=hunter2 next", '{"api_key": "sk-abcdef"}', "Authorization: Bearer abcdefghijklmnop",
           "postgres://app:hunter2@db:5432/x", "--db-password s3cr3t --verbose", "auth: admin:hunter2",
           "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "key AKIAIOSFODNN7EXAMPLE",
           "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc+def==;EndpointSuffix=core"]
logs = sorted(glob.glob(os.path.join(ROOT, "scenarios", "*", "logs", "**", "*.log"), recursive=True))[:24]
for i, path in enumerate(logs):
    lines = open(path, errors="replace").read().splitlines()[:6]
    text = "\n".join(lines)[:600] + "\n" + secrets[i % len(secrets)]
    # shape byte, secret length byte, 40 secret bytes, then the context.
    put("redact", bytes([i % 9, i * 7 % 33]) + hashlib.sha256(path.encode()).digest() + b"01234567" + text.encode())
