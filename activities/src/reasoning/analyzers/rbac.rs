//! RBAC: a 403 in a container's log followed to the Role (or missing binding) that lacks
//! the verb.

use super::*;

pub(super) struct Rbac;

impl Rule for Rbac {
    fn name(&self) -> &'static str {
        "rbac"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            for (c, symptom) in outward_symptoms(cx.obs, pod) {
                if let Symptom::Rbac { line, sa_namespace, sa_name, verb, resource, group, namespace } = &symptom {
                    out.push(rbac_finding(&c, line, sa_namespace, sa_name, verb, resource, group, namespace.as_deref()));
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn rbac_finding(c: &Client<'_>, line: &str, sa_ns: &str, sa: &str, verb: &str, resource: &str, group: &str, namespace: Option<&str>) -> Finding {
    let obs = c.obs;
    let scope_txt = namespace.map(|n| format!("in namespace {n}")).unwrap_or_else(|| "at cluster scope".into());
    let what = format!("{verb} {resource}{}", if group.is_empty() { String::new() } else { format!(".{group}") });
    let mut evidence = vec![ev(&c.log_src, line.trim()), c.state.clone()];
    let subject_matches = |b: &Value| {
        b.get("subjects").and_then(Value::as_array).into_iter().flatten().any(|sub| {
            s(sub, "/kind") == "ServiceAccount" && s(sub, "/name") == sa && (s(sub, "/namespace") == sa_ns || (s(sub, "/namespace").is_empty() && s(b, "/metadata/namespace") == sa_ns))
        })
    };
    let bindings: Vec<&Value> = obs
        .all("RoleBinding")
        .filter(|b| namespace.is_none_or(|n| s(b, "/metadata/namespace") == n))
        .chain(obs.all("ClusterRoleBinding"))
        .filter(|b| subject_matches(b))
        .collect();
    // "Nothing binds the account" needs both lists read: a ClusterRoleBinding grants in
    // every namespace, a RoleBinding only in the request's namespace.
    let crbs_read = obs.all("ClusterRoleBinding").next().is_some() || obs.executed.iter().any(|k| k.contains("|get|clusterrolebindings|"));
    let rbs_read = obs.all("RoleBinding").next().is_some() || obs.executed.iter().any(|k| k.contains("|get|rolebindings|"));
    let listed = crbs_read && (namespace.is_none() || rbs_read);
    let (res_name, sub) = resource.split_once('/').map(|(r, s)| (r, Some(s))).unwrap_or((resource, None));
    let rule_covers = |r: &Value| {
        let has = |field: &str, want: &str| r.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(|x| x == want || x == "*");
        has("apiGroups", group) && (has("resources", resource) || (sub.is_none() && has("resources", res_name)))
    };
    let grants = |r: &Value| rule_covers(r) && r.get("verbs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(|v| v == verb || v == "*") && r.get("resourceNames").and_then(Value::as_array).is_none_or(|n| n.is_empty() || !matches!(verb, "list" | "watch" | "create" | "deletecollection"));
    let mut bound_roles = vec![];
    for b in &bindings {
        let kind = s(b, "/roleRef/kind");
        let role_ns = if kind == "Role" { s(b, "/metadata/namespace") } else { "" };
        let binding_ref = resource_ref(Some(s(b, "/metadata/namespace")), s(b, "/kind"), s(b, "/metadata/name"));
        evidence.push(ev(binding_ref.clone(), format!("binds {kind} {} to ServiceAccount {sa_ns}/{sa}", s(b, "/roleRef/name"))));
        if let Some(role) = obs.get(kind, role_ns, s(b, "/roleRef/name")) {
            bound_roles.push((role, binding_ref, s(b, "/kind") == "ClusterRoleBinding"));
        }
    }
    // A RoleBinding grants only in its own namespace: bindings of the account elsewhere do
    // not cover this request.
    if let Some(n) = namespace {
        for b in obs.all("RoleBinding").filter(|b| s(b, "/metadata/namespace") != n && subject_matches(b)) {
            let bns = s(b, "/metadata/namespace");
            evidence.push(ev(resource_ref(Some(bns), "RoleBinding", s(b, "/metadata/name")), format!("binds {} {} to ServiceAccount {sa_ns}/{sa} only in namespace {bns}; the request is in namespace {n}", s(b, "/roleRef/kind"), s(b, "/roleRef/name"))));
        }
    }
    let rules_of = |role: &Value| role.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    // A cluster-scope request (no namespace) is granted only through a ClusterRoleBinding.
    let applies = |cluster_binding: bool| namespace.is_some() || cluster_binding;
    let granted = bound_roles.iter().any(|(r, _, crb)| applies(*crb) && rules_of(r).iter().any(&grants));
    let scope_short = bound_roles.iter().find(|(r, _, crb)| !applies(*crb) && rules_of(r).iter().any(&grants));
    let partial = bound_roles.iter().find_map(|(r, _, _)| rules_of(r).into_iter().find(|rule| rule_covers(rule)).map(|rule| (*r, rule)));
    // A cluster-scope denial is settled only once the account's RoleBindings are read too:
    // a role bound there (even one that grants the verb) is the likelier mistake.
    let sa_rolebindings_read = obs.executed.iter().any(|k| k.contains(&format!("|{sa_ns}|get|rolebindings|"))) || obs.all("RoleBinding").any(|b| s(b, "/metadata/namespace") == sa_ns);
    // ... and every role the account is bound to is read (or known missing).
    let roles_unread = bindings.iter().any(|b| {
        let kind = s(b, "/roleRef/kind");
        !obs.known(kind, if kind == "Role" { s(b, "/metadata/namespace") } else { "" }, s(b, "/roleRef/name"))
    });
    let unsettled = (namespace.is_none() && !sa_rolebindings_read) || roles_unread;
    let role_ref = |r: &Value| resource_ref(Some(s(r, "/metadata/namespace")).filter(|n| !n.is_empty()), s(r, "/kind"), s(r, "/metadata/name"));
    let (resource_to_fix, tier, detail) = if let (false, Some((role, binding, _))) = (granted, scope_short) {
        let bns = binding.split('/').next().unwrap_or_default();
        evidence.push(ev(binding.clone(), format!("grants {what} through {} only in namespace {bns}; the request is cluster-wide", role_ref(role))));
        let remedy = if CLUSTER_SCOPED.contains(&res_name) {
            format!("{res_name} exist only at cluster scope, so only a ClusterRoleBinding grants them")
        } else {
            format!("it needs a ClusterRoleBinding, or the app must {verb} in its own namespace")
        };
        (Some(binding.clone()), Decisive, format!("the request is cluster-wide (all namespaces) but {binding} grants {what} only in namespace {bns}: {remedy}"))
    } else if granted {
        (bound_roles.first().map(|(r, _, _)| role_ref(r)), Weak, format!("a bound role now grants {what}; the denial may predate a fix"))
    } else if let Some((role, rule)) = partial {
        let verbs: Vec<&str> = rule.get("verbs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        evidence.push(ev(role_ref(role), format!("grants [{}] on {resource}, not {verb}", verbs.join(", "))));
        (Some(role_ref(role)), if unsettled { Consistent } else { Decisive }, format!("{} grants [{}] on {resource} but not {verb}", role_ref(role), verbs.join(", ")))
    } else if let Some((role, _, _)) = bound_roles.first() {
        evidence.push(ev(role_ref(role), format!("has no rule for {resource}")));
        (Some(role_ref(role)), if unsettled { Consistent } else { Decisive }, format!("{} has no rule for {resource}", role_ref(role)))
    } else if !bindings.is_empty() {
        (Some(bindings.first().map(|b| role_ref_of_binding(b)).unwrap_or_default()), Consistent, "the bound role was not readable".into())
    } else if let Some((n, b)) = namespace.and_then(|n| obs.all("RoleBinding").find(|b| s(b, "/metadata/namespace") != n && subject_matches(b)).map(|b| (n, b))) {
        // Bound, but only in another namespace (the app moved its work to namespace n): the
        // same binding is missing in n.
        let (bns, bname) = (s(b, "/metadata/namespace"), s(b, "/metadata/name"));
        (
            Some(format!("{n}/RoleBinding/{bname}")),
            if listed { Decisive } else { Consistent },
            format!("nothing in namespace {n} binds it; {bns}/RoleBinding/{bname} grants {} {} only in {bns}: create that RoleBinding (and its Role) in {n}", s(b, "/roleRef/kind"), s(b, "/roleRef/name")),
        )
    } else if listed {
        (Some(format!("{sa_ns}/ServiceAccount/{sa}")), Consistent, format!("no RoleBinding or ClusterRoleBinding gives ServiceAccount {sa_ns}/{sa} any role"))
    } else {
        (Some(format!("{sa_ns}/ServiceAccount/{sa}")), Consistent, "the ServiceAccount's bindings are not read yet".into())
    };
    finding(
        RootCause::RbacForbidden,
        resource_to_fix.clone(),
        tier,
        format!("ServiceAccount {sa_ns}/{sa} may not {what} {scope_txt}: {detail}."),
        evidence,
        format!("Grant {verb} on {resource} to ServiceAccount {sa_ns}/{sa} in {} (least privilege: only the verbs the app uses).", resource_to_fix.unwrap_or_default()),
    )
}

/// Built-in resources that exist only at cluster scope (a RoleBinding never grants them).
const CLUSTER_SCOPED: &[&str] = &[
    "tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "certificatesigningrequests", "nodes", "namespaces", "persistentvolumes",
    "storageclasses", "clusterroles", "clusterrolebindings", "customresourcedefinitions", "apiservices", "priorityclasses", "ingressclasses", "runtimeclasses",
    "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "volumeattachments", "csinodes", "csidrivers",
];

fn role_ref_of_binding(b: &Value) -> String {
    let kind = s(b, "/roleRef/kind");
    if kind == "Role" { resource_ref(Some(s(b, "/metadata/namespace")), kind, s(b, "/roleRef/name")) } else { format!("{kind}/{}", s(b, "/roleRef/name")) }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_403_names_the_role_that_lacks_the_verb() {
        let p = pod("ci", "scaler-1", json!({"app": "scaler"}), json!({"serviceAccountName": "scaler", "containers": [{"name": "m"}]}), crashing("m", 1));
        let log_text = r#"W1208 14:16:09.529033       1 reflector.go:561] failed to list *v1.Pod: pods is forbidden: User "system:serviceaccount:ci:scaler" cannot list resource "pods" in API group "" in the namespace "ci""#;
        let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "ci", "name": "scaler"}, "roleRef": {"kind": "Role", "name": "scaler"}, "subjects": [{"kind": "ServiceAccount", "name": "scaler", "namespace": "ci"}]});
        let role = json!({"kind": "Role", "metadata": {"namespace": "ci", "name": "scaler"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]}]});
        let f = best(&pod_alert("ci", "scaler-1"), &[read(vec![p, rb, role]), log("ci", "scaler-1", "m", true, log_text)]);
        assert_eq!(f.root_cause, RootCause::RbacForbidden);
        assert_eq!(f.resource.as_deref(), Some("ci/Role/scaler"));
        assert!(f.confidence >= 0.9 && text(&f).contains("cannot list resource"));
    }

    #[test]
    fn work_moved_to_a_namespace_without_the_binding_names_the_binding_to_create_there() {
        let p = pod("ci", "ctl-0", json!({"app": "ctl"}), json!({"serviceAccountName": "ctl", "containers": [{"name": "m"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "m", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        let log_text = r#"Message: pods is forbidden: User "system:serviceaccount:ci:ctl" cannot create resource "pods" in API group "" in the namespace "agents"."#;
        let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "ci", "name": "ctl-agents"}, "roleRef": {"kind": "Role", "name": "ctl-agents"}, "subjects": [{"kind": "ServiceAccount", "name": "ctl", "namespace": "ci"}]});
        let results = [
            read(vec![p]),
            listed(Command::list("c", Some("agents"), "rolebindings", None), vec![]),
            listed(Command::list("c", None, "clusterrolebindings", None), vec![]),
            listed(Command::list("c", Some("ci"), "rolebindings", None), vec![rb]),
            log("ci", "ctl-0", "m", false, log_text),
        ];
        let f = best(&pod_alert("ci", "ctl-0"), &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RbacForbidden, Some("agents/RoleBinding/ctl-agents"), Tier::Decisive));
        assert!(text(&f).contains("only in ci"), "{}", text(&f));
    }

    #[test]
    fn a_cluster_wide_request_granted_only_by_a_rolebinding_names_the_binding() {
        let p = pod("ci", "scaler-1", json!({"app": "scaler"}), json!({"serviceAccountName": "scaler", "containers": [{"name": "m"}]}), crashing("m", 1));
        let log_text = r#"E1208 14:16:09.529033       1 reflector.go:158] "Unhandled Error" err="pkg/mod/k8s.io/client-go/tools/cache/reflector.go:243: Failed to watch *v1.Pod: failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:ci:scaler\" cannot list resource \"pods\" in API group \"\" at the cluster scope""#;
        let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "ci", "name": "scaler"}, "roleRef": {"kind": "ClusterRole", "name": "pod-reader"}, "subjects": [{"kind": "ServiceAccount", "name": "scaler", "namespace": "ci"}]});
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]});
        let f = best(&pod_alert("ci", "scaler-1"), &[read(vec![p, rb, role]), log("ci", "scaler-1", "m", true, log_text)]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RbacForbidden, Some("ci/RoleBinding/scaler"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("cluster-wide") && t.contains("ClusterRoleBinding") && t.contains("only in namespace ci"), "{t}");
    }
    #[test]
    fn a_cluster_scoped_resource_denied_through_a_rolebound_clusterrole_names_the_rolebinding() {
        // kube-rbac-proxy's TokenReview: tokenreviews exist only at cluster scope.
        let p = pod("ops", "op-1", json!({"app": "op"}), json!({"serviceAccountName": "op", "containers": [{"name": "kube-rbac-proxy"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "kube-rbac-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        let log_text = r#"E1216 09:03:08.741285       1 webhook.go:154] Failed to make webhook authenticator request: tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:ops:op" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope"#;
        let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "ops", "name": "op-proxy"}, "roleRef": {"kind": "ClusterRole", "name": "op-proxy"}, "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ops"}]});
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "op-proxy"}, "rules": [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}, {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]});
        let crb = json!({"kind": "ClusterRoleBinding", "metadata": {"name": "op-manager"}, "roleRef": {"kind": "ClusterRole", "name": "op-manager"}, "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ops"}]});
        let manager = json!({"kind": "ClusterRole", "metadata": {"name": "op-manager"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]});
        let event = alert(json!({"alertname": "TargetDown", "namespace": "ops", "pod": "op-1"}));
        // Only the ClusterRoleBindings read: the manager role lacks the rule, but a role bound
        // in the namespace may be the real mistake, so it is not settled yet.
        let early = [read(vec![p.clone(), manager.clone()]), listed(Command::list("c", None, "clusterrolebindings", None), vec![crb.clone()]), log("ops", "op-1", "kube-rbac-proxy", false, log_text)];
        let f = best(&event, &early);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("ClusterRole/op-manager"), Tier::Consistent));
        let results = [
            read(vec![p, role, manager]),
            listed(Command::list("c", None, "clusterrolebindings", None), vec![crb]),
            listed(Command::list("c", Some("ops"), "rolebindings", None), vec![rb]),
            log("ops", "op-1", "kube-rbac-proxy", false, log_text),
        ];
        let f = best(&event, &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RbacForbidden, Some("ops/RoleBinding/op-proxy"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("tokenreviews") && t.contains("cluster scope") && t.contains("only a ClusterRoleBinding grants them"), "{t}");
    }

    #[test]
    fn a_ready_pod_denied_its_leader_lease_names_the_role_without_leases() {
        let p = pod("net", "sync-1", json!({"app": "sync"}), json!({"serviceAccountName": "sync", "containers": [{"name": "sync"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "sync", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        let log_text = r#"I1208 05:58:17.000000       1 leaderelection.go:250] attempting to acquire leader lease net/sync...
E1208 05:58:33.390000       1 leaderelection.go:332] error retrieving resource lock net/sync: leases.coordination.k8s.io "sync" is forbidden: User "system:serviceaccount:net:sync" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "net""#;
        let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "net", "name": "sync"}, "roleRef": {"kind": "Role", "name": "sync"}, "subjects": [{"kind": "ServiceAccount", "name": "sync", "namespace": "net"}]});
        let role = json!({"kind": "Role", "metadata": {"namespace": "net", "name": "sync"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch"]}]});
        let results = [read(vec![p, rb, role]), log("net", "sync-1", "sync", false, log_text)];
        let f = best(&alert(json!({"alertname": "SyncNoLeader", "namespace": "net", "pod": "sync-1"})), &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RbacForbidden, Some("net/Role/sync"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("leases") && t.contains("forbidden"), "{t}");
    }

    #[test]
    fn a_namespaced_denial_through_a_clusterrolebinding_names_the_clusterrole_not_the_account() {
        // A controller-runtime operator patching a status subresource in another namespace.
        let p = pod("ops", "op-1", json!({"app": "op"}), json!({"serviceAccountName": "op", "containers": [{"name": "manager"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "manager", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        let log_text = r#"{"level":"error","msg":"Reconciler error","error":"patching status: widgets.example.io \"w\" is forbidden: User \"system:serviceaccount:ops:op\" cannot patch resource \"widgets/status\" in API group \"example.io\" in the namespace \"apps\""}"#;
        let crb = json!({"kind": "ClusterRoleBinding", "metadata": {"name": "op-manager"}, "roleRef": {"kind": "ClusterRole", "name": "op-manager"}, "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ops"}]});
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "op-manager"}, "rules": [{"apiGroups": ["example.io"], "resources": ["widgets/status"], "verbs": ["get", "update"]}]});
        let event = alert(json!({"alertname": "ReconcileErrors", "namespace": "ops", "pod": "op-1"}));
        // Only the namespace's RoleBindings read: nothing is settled about the account yet.
        let early = [read(vec![p.clone()]), listed(Command::list("c", Some("apps"), "rolebindings", None), vec![]), log("ops", "op-1", "manager", false, log_text)];
        assert_eq!(best(&event, &early).tier, Tier::Consistent);
        let results = [
            read(vec![p, role]),
            listed(Command::list("c", Some("apps"), "rolebindings", None), vec![]),
            listed(Command::list("c", None, "clusterrolebindings", None), vec![crb]),
            log("ops", "op-1", "manager", false, log_text),
        ];
        let f = best(&event, &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RbacForbidden, Some("ClusterRole/op-manager"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("[get, update]") && t.contains("widgets/status") && t.contains("not patch"), "{t}");
    }
}
