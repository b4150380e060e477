//! Ingresses, OpenShift Routes and Traefik IngressRoutes: a backend Service or port that
//! does not exist, an IngressClass nobody serves.

use super::*;

pub(super) struct Ingress;

impl Rule for Ingress {
    fn name(&self) -> &'static str {
        "ingress"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        ingress_findings(cx.obs, cx.scope, out);
        route_findings(cx.obs, cx.scope, out);
    }
}

fn ingress_findings(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    for ing in &sc.ingresses {
        let ns = s(ing, "/metadata/namespace");
        let ing_ref = resource_ref(Some(ns), "Ingress", s(ing, "/metadata/name"));
        let mut base = vec![];
        if let Some(host) = &sc.external_host {
            base.push(ev(format!("{ing_ref} rules"), format!("serves host {host}")));
        }
        let class = s(ing, "/spec/ingressClassName");
        if !class.is_empty() && obs.missing.contains(&("IngressClass".into(), String::new(), class.into())) {
            let mut evidence = base.clone();
            // A controller publishes its address only on the Ingresses it serves: one that
            // carries an address is served (ingress-nginx matches --ingress-class by name).
            let addresses: Vec<&str> = ing
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| if s(a, "/ip").is_empty() { s(a, "/hostname") } else { s(a, "/ip") })
                .filter(|a| !a.is_empty())
                .collect();
            if addresses.is_empty() {
                evidence.push(ev(format!("IngressClass/{class}"), "does not exist: no controller serves this Ingress"));
                out.push(finding(RootCause::IngressMisconfigured, ing_ref.clone(), Decisive, format!("{ing_ref} asks for ingressClassName {class}, which does not exist."), evidence, format!("Set ingressClassName of {ing_ref} to an existing IngressClass.")));
            } else {
                evidence.push(ev(format!("IngressClass/{class}"), "does not exist"));
                evidence.push(ev(format!("{ing_ref} status"), format!("loadBalancer address {}: a controller serves it anyway", addresses.join(", "))));
                out.push(finding(RootCause::IngressMisconfigured, ing_ref.clone(), Weak, format!("{ing_ref} asks for ingressClassName {class}, which has no IngressClass object, though a controller has published its address."), evidence, format!("Create IngressClass {class} (or fix ingressClassName of {ing_ref}) before a controller upgrade stops serving it.")));
            }
        }
        for (svc_name, port) in scope::ingress_backends(ing) {
            let svc_ref = format!("{ns}/Service/{svc_name}");
            if let Some(f) = missing_backend(obs, ns, &ing_ref, &svc_name, &format!("service {svc_name} port {port}"), &base) {
                out.push(f);
                continue;
            }
            let Some(svc) = obs.get("Service", ns, &svc_name) else { continue };
            let ports: Vec<&Value> = svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten().collect();
            let ok = match &port {
                Value::Number(n) => ports.iter().any(|p| p.get("port").and_then(Value::as_i64) == n.as_i64()),
                Value::String(name) => ports.iter().any(|p| s(p, "/name") == name),
                _ => true,
            };
            if !ok {
                let have: Vec<String> = ports.iter().map(|p| format!("{} ({})", p.get("port").map(Value::to_string).unwrap_or_default(), s(p, "/name"))).collect();
                let mut evidence = base.clone();
                evidence.push(ev(format!("{ing_ref} backend"), format!("service {svc_name} port {port}")));
                evidence.push(ev(format!("{svc_ref} spec.ports"), have.join(", ")));
                out.push(finding(RootCause::IngressMisconfigured, ing_ref.clone(), Decisive, format!("{ing_ref} routes to port {port} of {svc_ref}, which has no such port."), evidence, format!("Use one of the ports of {svc_ref} in {ing_ref}.")));
            }
        }
    }
}

/// The finding for a route object (`owner`) whose backend Service `svc_name` was read as
/// missing in `ns`, with the Services that do exist there.
fn missing_backend(obs: &Observations<'_>, ns: &str, owner: &str, svc_name: &str, backend: &str, base: &[Evidence]) -> Option<Finding> {
    if !obs.missing.contains(&("Service".into(), ns.into(), svc_name.to_owned())) {
        return None;
    }
    let mut evidence = base.to_vec();
    evidence.push(ev(format!("{owner} backend"), backend));
    evidence.push(ev(format!("{ns}/Service/{svc_name}"), "does not exist"));
    let others: Vec<&str> = obs.all("Service").filter(|s2| s(s2, "/metadata/namespace") == ns).map(|s2| s(s2, "/metadata/name")).collect();
    if !others.is_empty() {
        evidence.push(ev(format!("Services in {ns}"), others.join(", ")));
    }
    Some(finding(
        RootCause::IngressMisconfigured,
        owner.to_owned(),
        Decisive,
        format!("{owner} routes to Service {svc_name}, which does not exist in {ns}."),
        evidence,
        format!("Point the backend of {owner} at the Service that now serves the app, or restore Service {svc_name}."),
    ))
}

/// OpenShift Routes and Traefik IngressRoutes that send to a Service that does not exist.
fn route_findings(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    for route in &sc.routes {
        let ns = s(route, "/metadata/namespace");
        let owner = resource_ref(Some(ns), s(route, "/kind"), s(route, "/metadata/name"));
        let base: Vec<Evidence> = sc.external_host.iter().map(|host| ev(format!("{owner} rules"), format!("serves host {host}"))).collect();
        for svc_name in scope::route_backends(route) {
            out.extend(missing_backend(obs, ns, &owner, &svc_name, &format!("service {svc_name}"), &base));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_traefik_ingressroute_or_openshift_route_to_a_missing_service_is_misconfigured() {
        // As `kubectl get ingressroutes.traefik.io -A -o json` lists them (traefik v3 syntax).
        let ir = json!({"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"namespace": "handbook", "name": "docs"},
            "spec": {"entryPoints": ["websecure"], "routes": [{"kind": "Rule", "match": "Host(`handbook.example.org`) && PathPrefix(`/`)",
                "services": [{"kind": "Service", "name": "docs-web", "port": 80}]}]}});
        let ev = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "https://handbook.example.org/", "job": "blackbox"}));
        let docs = json!({"kind": "Service", "metadata": {"namespace": "handbook", "name": "docs"}, "spec": {"ports": [{"port": 80}]}});
        let f = best(&ev, &[read(vec![ir.clone(), docs]), not_found(Some("handbook"), "services", "docs-web")]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::IngressMisconfigured, Some("handbook/IngressRoute/docs"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("docs-web") && t.contains("serves host handbook.example.org") && t.contains("Services in handbook"), "{t}");
        // Its Service exists: nothing to say about the route.
        let served = json!({"kind": "Service", "metadata": {"namespace": "handbook", "name": "docs-web"}, "spec": {"ports": [{"port": 80}]}});
        assert!(findings(&ev, &[read(vec![ir, served])]).iter().all(|f| f.root_cause != RootCause::IngressMisconfigured));
        // An OpenShift Route the same way.
        let route = json!({"kind": "Route", "apiVersion": "route.openshift.io/v1", "metadata": {"namespace": "shop", "name": "web"},
            "spec": {"host": "shop.apps.example.com", "to": {"kind": "Service", "name": "web-v1", "weight": 100}}});
        let ev = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "https://shop.apps.example.com/"}));
        let f = best(&ev, &[read(vec![route]), not_found(Some("shop"), "services", "web-v1")]);
        assert_eq!(f.resource.as_deref(), Some("shop/Route/web"));
    }

    #[test]
    fn an_ingress_routing_to_a_missing_service_is_misconfigured() {
        let ing = json!({"kind": "Ingress", "metadata": {"namespace": "sf", "name": "shop"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [{"backend": {"service": {"name": "web-old", "port": {"number": 80}}}}]}}]}});
        let ev = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "https://shop.example.com/"}));
        let f = best(&ev, &[read(vec![ing]), not_found(Some("sf"), "services", "web-old")]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::IngressMisconfigured, Some("sf/Ingress/shop")));
        assert!(text(&f).contains("web-old"));
        let ing2 = json!({"kind": "Ingress", "metadata": {"namespace": "sf", "name": "shop"}, "spec": {"ingressClassName": "traefik", "rules": [{"host": "shop.example.com"}]}});
        let f = best(&ev, &[read(vec![ing2.clone()]), not_found(None, "ingressclasses", "traefik")]);
        assert_eq!((f.root_cause, f.tier), (RootCause::IngressMisconfigured, Tier::Decisive));
        // A controller published its address: it serves the Ingress, the missing class is a lead.
        let mut served = ing2;
        served["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}});
        let fs = findings(&ev, &[read(vec![served]), not_found(None, "ingressclasses", "traefik")]);
        assert!(fs.iter().all(|f| f.tier == Tier::Weak), "{fs:?}");
    }
}
