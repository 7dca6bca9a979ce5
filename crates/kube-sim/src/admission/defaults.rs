//! Server-side defaulting, as kube-apiserver 1.33 applies it when it decodes an object:
//! pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, pkg/apis/rbac/v1/defaults.go,
//! pkg/apis/networking/v1/defaults.go, pkg/apis/discovery/v1/defaults.go, plus the pod
//! mutations of the default admission chain (ServiceAccount, Priority, DefaultTolerationSeconds).
//!
//! Fields the REST strategies own (status reset, namespace phase, Service IP allocation) are
//! applied by the store, not here.

use serde_json::{Map, Value, json};

use crate::model::jsonpath::{default_field, default_string, items_mut, object_at};

/// Apply the defaults of `kind` (in `group`) to `obj` in place.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => pod(obj),
        ("", "Service") => service(object_at(obj, &["spec"])),
        ("", "Secret") => default_string(obj.as_object_mut().expect("object"), "type", "Opaque"),
        ("", "PersistentVolumeClaim") => pvc(obj),
        ("", "Namespace") => {}
        ("", "Endpoints") => {
            for subset in items_mut(obj.as_object_mut().expect("object"), "subsets") {
                for port in items_mut(subset, "ports") {
                    default_string(port, "protocol", "TCP");
                }
            }
        }
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "Deployment") => deployment(obj),
        ("apps", "ReplicaSet") => {
            let spec = object_at(obj, &["spec"]);
            default_field(spec, "replicas", json!(1));
            pod_template(spec);
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(obj),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(object_at(obj, &["spec"])),
        ("discovery.k8s.io", "EndpointSlice") => {
            // discovery/v1 defaults.go SetDefaults_EndpointPort
            for port in items_mut(obj.as_object_mut().expect("object"), "ports") {
                default_field(port, "name", json!(""));
                default_field(port, "protocol", json!("TCP"));
            }
        }
        _ => {}
    }
}

/// core/v1 defaults.go `SetDefaults_Pod` and `SetDefaults_PodSpec`, and the admission plugins
/// that mutate every pod (ServiceAccount, Priority, DefaultTolerationSeconds).
fn pod(obj: &mut Value) {
    let spec = object_at(obj, &["spec"]);
    pod_spec(spec);
    default_field(spec, "enableServiceLinks", json!(true));
    // SetDefaults_Pod: limits without requests become requests.
    for list in ["initContainers", "containers"] {
        for c in items_mut(spec, list) {
            let limits = c.get("resources").and_then(|r| r.get("limits")).and_then(Value::as_object).cloned();
            if let Some(limits) = limits {
                let resources = c.entry("resources").or_insert_with(|| json!({}));
                let requests = object_at(resources, &["requests"]);
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    // plugin/pkg/admission/serviceaccount: serviceAccountName defaults to "default" and the
    // deprecated serviceAccount mirrors it.
    default_string(spec, "serviceAccountName", "default");
    let sa = spec["serviceAccountName"].clone();
    spec.insert("serviceAccount".into(), sa);
    // plugin/pkg/admission/priority: no priorityClassName means priority 0.
    default_field(spec, "priority", json!(0));
    default_field(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    // plugin/pkg/admission/defaulttolerationseconds: 300s for not-ready and unreachable.
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(list) = tolerations.as_array_mut() {
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let present = list.iter().any(|t| {
                t.get("key").and_then(Value::as_str) == Some(key)
                    || (t.get("operator").and_then(Value::as_str) == Some("Exists") && t.get("key").is_none())
            });
            if !present {
                list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
}

/// core/v1 defaults.go `SetDefaults_PodSpec` and the container/volume defaults under it.
fn pod_spec(spec: &mut Map<String, Value>) {
    default_string(spec, "dnsPolicy", "ClusterFirst");
    default_string(spec, "restartPolicy", "Always");
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_field(spec, "securityContext", json!({}));
    default_string(spec, "schedulerName", "default-scheduler");
    for list in ["initContainers", "containers"] {
        for c in items_mut(spec, list) {
            container(c);
        }
    }
    for v in items_mut(spec, "volumes") {
        volume(v);
    }
}

/// core/v1 defaults.go `SetDefaults_Container`, `SetDefaults_ContainerPort`, probes and
/// `SetDefaults_ObjectFieldSelector`.
fn container(c: &mut Map<String, Value>) {
    if !matches!(c.get("imagePullPolicy"), Some(Value::String(s)) if !s.is_empty()) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        let policy = if image_tag(image) == Some("latest") { "Always" } else { "IfNotPresent" };
        c.insert("imagePullPolicy".into(), policy.into());
    }
    default_string(c, "terminationMessagePath", "/dev/termination-log");
    // Go encodes the zero ResourceRequirements struct as `{}` (omitempty has no effect on
    // structs), so every container shows `resources: {}`.
    default_field(c, "resources", json!({}));
    default_string(c, "terminationMessagePolicy", "File");
    for p in items_mut(c, "ports") {
        default_string(p, "protocol", "TCP");
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default_field(p, "timeoutSeconds", json!(1));
            default_field(p, "periodSeconds", json!(10));
            default_field(p, "successThreshold", json!(1));
            default_field(p, "failureThreshold", json!(3));
            if let Some(get) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                default_string(get, "path", "/");
                default_string(get, "scheme", "HTTP");
            }
        }
    }
    for env in items_mut(c, "env") {
        if let Some(field_ref) =
            env.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")).and_then(Value::as_object_mut)
        {
            default_string(field_ref, "apiVersion", "v1");
        }
    }
}

/// The tag `parsers.ParseImageName` finds: `latest` when the reference names neither a tag
/// nor a digest, None when it has only a digest.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest.is_some() => None,
        None => Some("latest"),
    }
}

/// core/v1 defaults.go volume source defaults (`defaultMode` 0644, hostPath type "").
fn volume(v: &mut Map<String, Value>) {
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
            default_field(s, "defaultMode", json!(420));
            if source == "downwardAPI" {
                for item in items_mut(s, "items") {
                    if let Some(f) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                        default_string(f, "apiVersion", "v1");
                    }
                }
            }
        }
    }
    if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(h, "type", json!(""));
    }
}

/// A pod template (`spec.template`) as the apps kinds embed it: the template's zero
/// `creationTimestamp` serializes as null in 1.33.
fn pod_template(spec: &mut Map<String, Value>) {
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let template = template.as_object_mut().expect("template object");
    let meta = template.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.entry("creationTimestamp").or_insert(Value::Null);
    }
    let pod_spec_value = template.entry("spec").or_insert_with(|| json!({}));
    if let Some(s) = pod_spec_value.as_object_mut() {
        pod_spec(s);
    }
}

/// core/v1 defaults.go `SetDefaults_Service`.
fn service(spec: &mut Map<String, Value>) {
    default_string(spec, "type", "ClusterIP");
    default_string(spec, "sessionAffinity", "None");
    let svc_type = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        let cfg = spec.entry("sessionAffinityConfig").or_insert_with(|| json!({}));
        let client_ip = object_at(cfg, &["clientIP"]);
        default_field(client_ip, "timeoutSeconds", json!(10800));
    }
    for p in items_mut(spec, "ports") {
        default_string(p, "protocol", "TCP");
        let missing = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if missing {
            let port = p.get("port").cloned().unwrap_or(json!(0));
            p.insert("targetPort".into(), port);
        }
    }
    if svc_type == "NodePort" || svc_type == "LoadBalancer" {
        default_string(spec, "externalTrafficPolicy", "Cluster");
    }
    if svc_type != "ExternalName" {
        default_string(spec, "internalTrafficPolicy", "Cluster");
    }
    if svc_type == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// core/v1 defaults.go `SetDefaults_PersistentVolumeClaimSpec` (volumeMode).
fn pvc(obj: &mut Value) {
    default_string(object_at(obj, &["spec"]), "volumeMode", "Filesystem");
}

/// apps/v1 defaults.go `SetDefaults_StatefulSet`.
fn statefulset(obj: &mut Value) {
    let spec = object_at(obj, &["spec"]);
    default_string(spec, "podManagementPolicy", "OrderedReady");
    let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        default_string(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(r) = rolling.as_object_mut() {
                default_field(r, "partition", json!(0));
            }
        }
    }
    let policy = spec.entry("persistentVolumeClaimRetentionPolicy").or_insert_with(|| json!({}));
    if let Some(p) = policy.as_object_mut() {
        default_string(p, "whenDeleted", "Retain");
        default_string(p, "whenScaled", "Retain");
    }
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    pod_template(spec);
    // SetDefaults_StatefulSet defaults each volumeClaimTemplate as a PersistentVolumeClaim; the
    // embedded objects keep apiVersion/kind and a Pending status in 1.33 responses.
    for claim in items_mut(spec, "volumeClaimTemplates") {
        claim.entry("apiVersion").or_insert_with(|| json!("v1"));
        claim.entry("kind").or_insert_with(|| json!("PersistentVolumeClaim"));
        let meta = claim.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.entry("creationTimestamp").or_insert(Value::Null);
        }
        let claim_spec = claim.entry("spec").or_insert_with(|| json!({}));
        if let Some(s) = claim_spec.as_object_mut() {
            default_string(s, "volumeMode", "Filesystem");
        }
        let status = claim.entry("status").or_insert_with(|| json!({}));
        if let Some(s) = status.as_object_mut() {
            default_string(s, "phase", "Pending");
        }
    }
}

/// apps/v1 defaults.go `SetDefaults_Deployment`.
fn deployment(obj: &mut Value) {
    let spec = object_at(obj, &["spec"]);
    default_field(spec, "replicas", json!(1));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        default_string(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(r) = rolling.as_object_mut() {
                default_field(r, "maxUnavailable", json!("25%"));
                default_field(r, "maxSurge", json!("25%"));
            }
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
    pod_template(spec);
}

/// rbac/v1 defaults.go `SetDefaults_Subject`, `SetDefaults_*RoleBinding`.
fn role_binding(obj: &mut Value) {
    let o = obj.as_object_mut().expect("object");
    if let Some(role_ref) = o.get_mut("roleRef").and_then(Value::as_object_mut) {
        default_string(role_ref, "apiGroup", "rbac.authorization.k8s.io");
    }
    // A ServiceAccount subject's default apiGroup is "", which `omitempty` leaves out.
    for s in items_mut(o, "subjects") {
        if matches!(s.get("kind").and_then(Value::as_str), Some("User" | "Group")) {
            default_string(s, "apiGroup", "rbac.authorization.k8s.io");
        }
    }
}

/// networking/v1 defaults.go `SetDefaults_NetworkPolicy` (port protocol, policyTypes); the
/// zero `podSelector` struct encodes as `{}`.
fn network_policy(spec: &mut Map<String, Value>) {
    default_field(spec, "podSelector", json!({}));
    for dir in ["ingress", "egress"] {
        for rule in items_mut(spec, dir) {
            for p in items_mut(rule, "ports") {
                default_string(p, "protocol", "TCP");
            }
        }
    }
    let empty = spec.get("policyTypes").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if empty {
        let mut types = vec![json!("Ingress")];
        if spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statefulset_defaults_match_kube_apiserver() {
        // Expected: pkg/apis/apps/v1/defaults.go SetDefaults_StatefulSet and core/v1 PodSpec
        // defaults as a 1.33 kube-apiserver returns them.
        let mut sts = json!({"spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}});
        apply("apps", "StatefulSet", &mut sts);
        let spec = &sts["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["securityContext"], json!({}));
        let c = &pod["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"], json!({}));
        assert_eq!(spec["template"]["metadata"]["creationTimestamp"], Value::Null);
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("registry:5000/nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
        assert_eq!(image_tag("nginx@sha256:abc"), None);
        assert_eq!(image_tag("nginx:1.2@sha256:abc"), Some("1.2"));
    }

    #[test]
    fn service_defaults_match_kube_apiserver() {
        let mut svc =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}});
        apply("", "Service", &mut svc);
        let spec = &svc["spec"];
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    }
}
