//! Ingresses: a backend Service or port that does not exist, an IngressClass nobody serves.

use super::*;

pub(super) struct Ingress;

impl Rule for Ingress {
    fn name(&self) -> &'static str {
        "ingress"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        ingress_findings(cx.obs, cx.scope, out);
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
            if obs.missing.contains(&("Service".into(), ns.into(), svc_name.clone())) {
                let mut evidence = base.clone();
                evidence.push(ev(format!("{ing_ref} backend"), format!("service {svc_name} port {port}")));
                evidence.push(ev(svc_ref.clone(), "does not exist"));
                let others: Vec<&str> = obs.all("Service").filter(|s2| s(s2, "/metadata/namespace") == ns).map(|s2| s(s2, "/metadata/name")).collect();
                if !others.is_empty() {
                    evidence.push(ev(format!("Services in {ns}"), others.join(", ")));
                }
                out.push(finding(
                    RootCause::IngressMisconfigured,
                    ing_ref.clone(),
                    Decisive,
                    format!("{ing_ref} routes to Service {svc_name}, which does not exist in {ns}."),
                    evidence,
                    format!("Point the backend of {ing_ref} at the Service that now serves the app, or restore Service {svc_name}."),
                ));
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

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
