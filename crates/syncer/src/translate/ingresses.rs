//! Ingresses (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/ingresses/{syncer,translate}.go`
//! and `…/ingresses/util/util.go`): the host Ingress is the virtual spec with the backend
//! Service names (and `resource` backends) and `tls[].secretName` translated in the ingress's
//! namespace; `ingressClassName`, the `kubernetes.io/ingress.class` annotation and every other
//! annotation (cert-manager's too) are kept as they are, except the annotations that name
//! objects: ingress-nginx `auth-secret`, `auth-tls-secret`, `proxy-ssl-secret` and the AWS load
//! balancer controller's `actions.<name>`/`conditions.<name>`. Backwards: the load-balancer
//! status, and an `ingressClassName` the host defaulted when the virtual one has none.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressSpec, IngressStatus};
use serde_json::Value;
use vcluster_translate::metadata::Map;

use super::{Context, semantic};

/// ingress-nginx annotations whose value names a Secret (`TranslateAnnotations`).
pub(crate) const NGINX_SECRET_ANNOTATIONS: [&str; 3] = [
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret",
];

const ALB_ACTIONS_PREFIX: &str = "alb.ingress.kubernetes.io/actions.";
const ALB_CONDITIONS_PREFIX: &str = "alb.ingress.kubernetes.io/conditions.";

/// The host Ingress for `v`.
pub(crate) fn to_host(ctx: &Context, v: &Ingress) -> Ingress {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let mut meta = v.metadata.clone();
    meta.annotations = meta.annotations.map(|a| translate_annotations(ctx, namespace, &a));
    Ingress {
        metadata: ctx.host_metadata(&meta, &[]),
        spec: v.spec.as_ref().map(|s| translate_spec(ctx, namespace, s)),
        status: None,
    }
}

/// The updated host Ingress (spec re-translated, labels, annotations), or `None`
/// (`translateUpdate`).
pub(crate) fn update(ctx: &Context, v: &Ingress, h: &Ingress) -> Option<Ingress> {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let spec = v.spec.as_ref().map(|s| translate_spec(ctx, namespace, s));
    let spec_changed = !semantic::eq(&spec, &h.spec);
    let mut meta = v.metadata.clone();
    meta.annotations = meta.annotations.map(|a| translate_annotations(ctx, namespace, &a));
    let metadata = ctx.metadata_update(&meta, &h.metadata, &[]);
    if !spec_changed && metadata.is_none() {
        return None;
    }
    let mut out = h.clone();
    if spec_changed {
        out.spec = spec;
    }
    if let Some((labels, annotations)) = metadata {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    Some(out)
}

/// The virtual Ingress with the class the host defaulted, when the virtual one names none
/// (`translateUpdateBackwards`).
pub(crate) fn class_backwards(v: &Ingress, h: &Ingress) -> Option<Ingress> {
    let host_class = h.spec.as_ref()?.ingress_class_name.as_ref()?;
    if v.spec.as_ref().is_some_and(|s| s.ingress_class_name.is_some()) {
        return None;
    }
    let mut out = v.clone();
    out.spec.get_or_insert_with(Default::default).ingress_class_name = Some(host_class.clone());
    Some(out)
}

/// The host status, when the virtual one differs from it.
pub(crate) fn status_for_virtual(v: &Ingress, h: &Ingress) -> Option<IngressStatus> {
    (!semantic::eq(&v.status, &h.status)).then(|| h.status.clone().unwrap_or_default())
}

/// The Secrets (namespace, name) an Ingress references: `tls[].secretName` and the ingress-nginx
/// secret annotations (`SecretNamesFromIngress`), sorted, without duplicates.
pub(crate) fn secret_refs(v: &Ingress) -> Vec<(String, String)> {
    let namespace = v.metadata.namespace.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (key, value) in v.metadata.annotations.iter().flatten() {
        if NGINX_SECRET_ANNOTATIONS.contains(&key.as_str())
            && let Some(secret) = nginx_secret(value, &namespace)
        {
            out.push(secret);
        }
    }
    for tls in v.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
        if let Some(name) = tls.secret_name.as_ref().filter(|n| !n.is_empty()) {
            out.push((namespace.clone(), name.clone()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `name` (the ingress's namespace) or `namespace/name`; anything else is no reference. An empty
/// value names nothing (upstream would translate it to `-x-<ns>-x-<vc>`).
fn nginx_secret(value: &str, namespace: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() => Some((namespace.to_owned(), (*name).to_owned())),
        [ns, name] if !ns.is_empty() && !name.is_empty() => Some(((*ns).to_owned(), (*name).to_owned())),
        _ => None,
    }
}

/// The virtual annotations as the host gets them: the ALB keys and forward targets and the
/// ingress-nginx secret values translated (`UpdateAnnotations`, `translateIngressAnnotations`).
/// Applied to the virtual annotations before the generic merge, so annotations added on the host
/// are never translated twice.
pub(crate) fn translate_annotations(ctx: &Context, namespace: &str, annotations: &Map) -> Map {
    let mut out = Map::new();
    for (key, value) in annotations {
        let (key, value) = alb_annotation(ctx, namespace, key, value);
        let value = if NGINX_SECRET_ANNOTATIONS.contains(&key.as_str()) {
            // v0.15: `namespace/name` becomes the bare host name (the host namespace is the
            // ingress's own on the host).
            match nginx_secret(&value, namespace) {
                Some((ns, name)) => ctx.translator.host_name(&ns, &name),
                None => value,
            }
        } else {
            value
        };
        out.insert(key, value);
    }
    out
}

/// `ProcessAlbAnnotations`: `actions.<name>` and `conditions.<name>` keys get the host name of
/// `<name>` (unless it already contains `x-<namespace>-x`); in an action's JSON every
/// `forwardConfig.targetGroups[].serviceName` is translated the same way.
///
/// Deliberately different from v0.15.7: the name is replaced at the end of the key (upstream
/// replaces its first occurrence anywhere in the key), JSON member names are matched
/// case-insensitively as the AWS controller's Go decoder matches them (upstream only translates
/// `serviceName` spelt exactly so), and the rest of the action is kept as written (upstream
/// re-encodes it through a struct that drops members it does not know).
fn alb_annotation(ctx: &Context, namespace: &str, key: &str, value: &str) -> (String, String) {
    let marker = format!("x-{namespace}-x");
    let translate_name = |prefix: &str| -> Option<String> {
        let name = key.strip_prefix(prefix).filter(|n| !n.is_empty())?;
        if key.contains(&marker) {
            return None;
        }
        Some(format!("{prefix}{}", ctx.translator.host_name(namespace, name)))
    };
    if key.starts_with(ALB_ACTIONS_PREFIX) {
        let key = translate_name(ALB_ACTIONS_PREFIX).unwrap_or_else(|| key.to_owned());
        let value = translate_action(ctx, namespace, &marker, value).unwrap_or_else(|| value.to_owned());
        return (key, value);
    }
    if key.starts_with(ALB_CONDITIONS_PREFIX) {
        return (translate_name(ALB_CONDITIONS_PREFIX).unwrap_or_else(|| key.to_owned()), value.to_owned());
    }
    (key.to_owned(), value.to_owned())
}

/// The action JSON with its forward target Services translated; `None` when nothing changed or
/// the value is not a JSON object (kept as written, as upstream keeps what it cannot decode).
fn translate_action(ctx: &Context, namespace: &str, marker: &str, value: &str) -> Option<String> {
    let mut action: Value = serde_json::from_str(value).ok()?;
    let mut changed = false;
    let groups = member_mut(&mut action, "forwardConfig")
        .and_then(|f| member_mut(f, "targetGroups"))
        .and_then(Value::as_array_mut)?;
    for group in groups {
        if let Some(Value::String(service)) = member_mut(group, "serviceName")
            && !service.is_empty()
            && !service.contains(marker)
        {
            *service = ctx.translator.host_name(namespace, service);
            changed = true;
        }
    }
    changed.then(|| action.to_string())
}

/// An object member by name: the exact spelling first, else case-insensitively (Go's
/// `encoding/json`).
fn member_mut<'a>(v: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    let object = v.as_object_mut()?;
    let key = if object.contains_key(name) {
        name.to_owned()
    } else {
        object.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone()
    };
    object.get_mut(&key)
}

/// `translateSpec`.
pub(crate) fn translate_spec(ctx: &Context, namespace: &str, spec: &IngressSpec) -> IngressSpec {
    let mut out = spec.clone();
    let backend = |b: &mut IngressBackend| {
        if let Some(service) = b.service.as_mut().filter(|s| !s.name.is_empty()) {
            service.name = ctx.translator.host_name(namespace, &service.name);
        }
        if let Some(resource) = b.resource.as_mut() {
            resource.name = ctx.translator.host_name(namespace, &resource.name);
        }
    };
    if let Some(b) = out.default_backend.as_mut() {
        backend(b);
    }
    for rule in out.rules.iter_mut().flatten() {
        for path in rule.http.iter_mut().flat_map(|h| h.paths.iter_mut()) {
            backend(&mut path.backend);
        }
    }
    for tls in out.tls.iter_mut().flatten() {
        if let Some(name) = tls.secret_name.as_mut().filter(|n| !n.is_empty()) {
            *name = ctx.translator.host_name(namespace, name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Upstream ingresses cases (v0.15.7 pkg/controllers/resources/ingresses/syncer_test.go), upstream test context (vcluster
    //! `vcluster`, host namespace `test`).
    use super::*;
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};
    use serde_json::json;

    fn ingress(annotations: serde_json::Value, spec: serde_json::Value) -> Ingress {
        let mut i = Ingress {
            metadata: meta("default", "web"),
            spec: Some(serde_json::from_value(spec).unwrap()),
            status: None,
        };
        i.metadata.annotations = serde_json::from_value(annotations).unwrap();
        i
    }

    fn spec() -> serde_json::Value {
        json!({
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
            "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
                {"path": "/img", "pathType": "Prefix", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "images"}}}
            ]}}],
            "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}, {"hosts": ["x.example.com"]}]
        })
    }

    #[test]
    fn create_forward() {
        let v = ingress(
            json!({"cert-manager.io/cluster-issuer": "letsencrypt", "kubernetes.io/ingress.class": "nginx"}),
            spec(),
        );
        let h = to_host(&ctx(), &v);
        assert_eq!(h.metadata.name.as_deref(), Some("web-x-default-x-vcluster"));
        assert_eq!(h.metadata.namespace.as_deref(), Some("test"));
        let annotations = h.metadata.annotations.clone().unwrap();
        assert_eq!(annotations["cert-manager.io/cluster-issuer"], "letsencrypt");
        assert_eq!(annotations["kubernetes.io/ingress.class"], "nginx");
        assert_eq!(
            serde_json::to_value(h.spec.unwrap()).unwrap(),
            json!({
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "fallback-x-default-x-vcluster", "port": {"number": 80}}},
                "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-x-default-x-vcluster", "port": {"name": "http"}}}},
                    {"path": "/img", "pathType": "Prefix", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "images-x-default-x-vcluster"}}}
                ]}}],
                "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls-x-default-x-vcluster"}, {"hosts": ["x.example.com"]}]
            })
        );
        assert!(h.status.is_none());
    }

    #[test]
    fn update_forward_and_not_needed() {
        let c = ctx();
        let v = ingress(json!({"a": "b"}), spec());
        let h = to_host(&c, &v);
        assert!(update(&c, &v, &h).is_none());
        let mut changed = v.clone();
        changed.spec.as_mut().unwrap().rules.as_mut().unwrap()[0].host = Some("new.example.com".into());
        changed.metadata.annotations = Some(map([("a", "c")]));
        let out = update(&c, &changed, &h).unwrap();
        assert_eq!(out.spec.unwrap().rules.unwrap()[0].host.as_deref(), Some("new.example.com"));
        assert_eq!(out.metadata.annotations.unwrap()["a"], "c");
    }

    #[test]
    fn update_backwards_class_name() {
        let mut v = ingress(json!(null), spec());
        v.spec.as_mut().unwrap().ingress_class_name = None;
        let h = to_host(&ctx(), &ingress(json!(null), spec()));
        let back = class_backwards(&v, &h).unwrap();
        assert_eq!(back.spec.unwrap().ingress_class_name.as_deref(), Some("nginx"));
        // Not needed: the virtual names a class (even another one) or the host has none.
        assert!(class_backwards(&ingress(json!(null), spec()), &h).is_none());
        let mut h2 = h.clone();
        h2.spec.as_mut().unwrap().ingress_class_name = None;
        assert!(class_backwards(&v, &h2).is_none());
    }

    #[test]
    fn status_backwards() {
        let v = ingress(json!(null), spec());
        let mut h = to_host(&ctx(), &v);
        assert!(status_for_virtual(&v, &h).is_none());
        h.status = Some(serde_json::from_value(json!({"loadBalancer": {}})).unwrap());
        assert!(status_for_virtual(&v, &h).is_none(), "an empty status is no status");
        h.status = Some(serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}})).unwrap());
        let status = status_for_virtual(&v, &h).unwrap();
        assert_eq!(status.load_balancer.unwrap().ingress.unwrap()[0].ip.as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn translate_annotation_nginx_secrets() {
        let v = ingress(
            json!({
                "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
                "nginx.ingress.kubernetes.io/auth-tls-secret": "certs/ca",
                "nginx.ingress.kubernetes.io/proxy-ssl-secret": "a/b/c",
                "nginx.ingress.kubernetes.io/auth-type": "basic"
            }),
            json!({"tls": [{"secretName": "shop-tls"}, {"secretName": "shop-tls"}]}),
        );
        let annotations = to_host(&ctx(), &v).metadata.annotations.unwrap();
        assert_eq!(annotations["nginx.ingress.kubernetes.io/auth-secret"], "basic-auth-x-default-x-vcluster");
        // v0.15: namespace/name → the bare host name.
        assert_eq!(annotations["nginx.ingress.kubernetes.io/auth-tls-secret"], "ca-x-certs-x-vcluster");
        assert_eq!(annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"], "a/b/c");
        assert_eq!(annotations["nginx.ingress.kubernetes.io/auth-type"], "basic");
        assert_eq!(
            secret_refs(&v),
            [
                ("certs".to_owned(), "ca".to_owned()),
                ("default".into(), "basic-auth".into()),
                ("default".into(), "shop-tls".into())
            ]
        );
        // The update of an unchanged ingress is none (the translated values compare equal).
        let h = to_host(&ctx(), &v);
        assert!(update(&ctx(), &v, &h).is_none());
    }

    #[test]
    fn translate_annotation_alb() {
        let v = ingress(
            json!({
                "alb.ingress.kubernetes.io/actions.weighted": r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"web","servicePort":"80","weight":20},{"serviceName":"api","servicePort":80}]}}"#,
                "alb.ingress.kubernetes.io/actions.ssl-redirect": r#"{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}"#,
                "alb.ingress.kubernetes.io/actions.caps": r#"{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web","ServicePort":"80"}]}}"#,
                "alb.ingress.kubernetes.io/conditions.weighted": r#"[{"field":"host-header","hostHeaderConfig":{"values":["a.example.com"]}}]"#,
                "alb.ingress.kubernetes.io/actions.done-x-default-x-vcluster": r#"{"type":"fixed-response"}"#,
                "alb.ingress.kubernetes.io/scheme": "internet-facing"
            }),
            json!({"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "weighted", "port": {"name": "use-annotation"}}}}]}}]}),
        );
        let h = to_host(&ctx(), &v);
        let a = h.metadata.annotations.unwrap();
        assert_eq!(
            a["alb.ingress.kubernetes.io/actions.weighted-x-default-x-vcluster"],
            r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"web-x-default-x-vcluster","servicePort":"80","weight":20},{"serviceName":"api-x-default-x-vcluster","servicePort":80}]}}"#
        );
        // A redirect is kept as written.
        assert_eq!(
            a["alb.ingress.kubernetes.io/actions.ssl-redirect-x-default-x-vcluster"],
            r#"{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}"#
        );
        assert_eq!(
            a["alb.ingress.kubernetes.io/actions.caps-x-default-x-vcluster"],
            r#"{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web-x-default-x-vcluster","ServicePort":"80"}]}}"#
        );
        assert!(a.contains_key("alb.ingress.kubernetes.io/conditions.weighted-x-default-x-vcluster"));
        assert!(a.contains_key("alb.ingress.kubernetes.io/actions.done-x-default-x-vcluster"), "already translated");
        assert_eq!(a["alb.ingress.kubernetes.io/scheme"], "internet-facing");
        assert!(!a.contains_key("alb.ingress.kubernetes.io/actions.weighted"));
        // The use-annotation backend points at the translated action name.
        assert_eq!(
            h.spec.unwrap().rules.unwrap()[0].http.as_ref().unwrap().paths[0].backend.service.as_ref().unwrap().name,
            "weighted-x-default-x-vcluster"
        );
        // The managed-annotations bookkeeping lists the host keys.
        assert!(
            a["vcluster.loft.sh/managed-annotations"]
                .contains("alb.ingress.kubernetes.io/actions.weighted-x-default-x-vcluster")
        );
        assert!(update(&ctx(), &v, &to_host(&ctx(), &v)).is_none());
    }

    #[test]
    fn unparsable_actions_are_kept() {
        let c = ctx();
        let (k, v) = alb_annotation(&c, "default", "alb.ingress.kubernetes.io/actions.x", "not json");
        assert_eq!((k.as_str(), v.as_str()), ("alb.ingress.kubernetes.io/actions.x-x-default-x-vcluster", "not json"));
        let (k, _) = alb_annotation(&c, "default", "alb.ingress.kubernetes.io/actions.", "{}");
        assert_eq!(k, "alb.ingress.kubernetes.io/actions.");
        let (k, _) = alb_annotation(&c, "default", "alb.ingress.kubernetes.io/actions.alb", "{}");
        assert_eq!(k, "alb.ingress.kubernetes.io/actions.alb-x-default-x-vcluster");
    }
}
