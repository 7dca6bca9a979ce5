//! Validation kube-apiserver runs before storing an object: object metadata (names per kind,
//! labels, annotations) and the kind-specific rules the simulator implements.
//!
//! Messages: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (name and label
//! rules), staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go (object metadata),
//! pkg/apis/core/validation/validation.go, pkg/apis/apps/validation/validation.go,
//! pkg/apis/rbac/validation/validation.go.

use serde_json::{Map, Value};

use crate::model::jsonpath::{get, get_str, items};
use crate::model::names::{
    config_map_key, dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name,
};
use crate::model::resources::{NameRule, ResourceDef};
use crate::model::status::{BadValue, FieldError};

/// The name rule of a kind; `prefix` is true for `generateName` (trailing dashes allowed).
pub fn name_errors(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    // objectmeta.go maskTrailingDash: a generateName prefix may end in '-'.
    let masked;
    let name = if prefix && name.len() > 1 && name.ends_with('-') {
        masked = format!("{}a", &name[..name.len() - 1]);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Dns1035 => dns1035_label(name),
        // staging/src/k8s.io/apimachinery/pkg/api/validation/path/name.go
        NameRule::PathSegment => {
            if !prefix && (name == "." || name == "..") {
                return vec![format!("may not be '{name}'")];
            }
            ["/", "%"].iter().filter(|c| name.contains(**c)).map(|c| format!("may not contain '{c}'")).collect()
        }
    }
}

/// objectmeta.go `ValidateObjectMeta` for a create, and the immutable metadata of an update.
fn object_meta(res: &ResourceDef, obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let name = get_str(obj, &["metadata", "name"]).unwrap_or_default();
    let generate_name = get_str(obj, &["metadata", "generateName"]).unwrap_or_default();
    if !generate_name.is_empty() {
        for msg in name_errors(res.name_rule, generate_name, true) {
            errs.push(FieldError::invalid("metadata.generateName", BadValue::str(generate_name), msg));
        }
    }
    if name.is_empty() {
        errs.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else {
        for msg in name_errors(res.name_rule, name, false) {
            errs.push(FieldError::invalid("metadata.name", BadValue::str(name), msg));
        }
    }
    if let Some(labels) = get(obj, &["metadata", "labels"]).and_then(Value::as_object) {
        validate_labels(labels, "metadata.labels", errs);
    }
    if let Some(annotations) = get(obj, &["metadata", "annotations"]).and_then(Value::as_object) {
        let mut total = 0;
        for (k, v) in annotations {
            for msg in qualified_name(&k.to_lowercase()) {
                errs.push(FieldError::invalid("metadata.annotations", BadValue::str(k), msg));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        // objectmeta.go TotalAnnotationSizeLimitB
        if total > 256 * 1024 {
            errs.push(FieldError::too_long("metadata.annotations", 256 * 1024));
        }
    }
    for (i, f) in items(obj.get("metadata").unwrap_or(&Value::Null), "finalizers").enumerate() {
        let f = f.as_str().unwrap_or_default();
        for msg in qualified_name(f) {
            errs.push(FieldError::invalid(format!("metadata.finalizers[{i}]"), BadValue::str(f), msg));
        }
    }
    if let Some(old) = old {
        // objectmeta.go ValidateObjectMetaUpdate
        let (new_uid, old_uid) = (crate::model::jsonpath::uid(obj), crate::model::jsonpath::uid(old));
        if !new_uid.is_empty() && new_uid != old_uid {
            errs.push(FieldError::invalid("metadata.uid", BadValue::str(new_uid), "field is immutable"));
        }
    }
}

/// metav1 validation `ValidateLabels`
pub fn validate_labels(labels: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        for msg in qualified_name(k) {
            errs.push(FieldError::invalid(path, BadValue::str(k), msg));
        }
        let v = v.as_str().unwrap_or_default();
        for msg in label_value(v) {
            errs.push(FieldError::invalid(path, BadValue::str(v), msg));
        }
    }
}

/// All validation errors of `obj` (a create when `old` is None).
pub fn validate(res: &ResourceDef, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    object_meta(res, obj, old, &mut errs);
    match (res.group, res.kind) {
        ("", "Service") => service(obj, old, &mut errs),
        ("", "Pod") => pod_spec(obj.get("spec").unwrap_or(&Value::Null), "spec", None, &mut errs),
        ("", "ConfigMap") => config_data(obj, old, &["data", "binaryData"], &mut errs),
        ("", "Secret") => {
            config_data(obj, old, &["data", "stringData"], &mut errs);
            if let Some(old) = old {
                let (t, old_t) = (obj.get("type"), old.get("type"));
                if t != old_t {
                    let v = t.and_then(Value::as_str).unwrap_or_default();
                    errs.push(FieldError::invalid("type", BadValue::str(v), "field is immutable"));
                }
            }
        }
        ("", "PersistentVolumeClaim") => pvc(obj, &mut errs),
        ("apps", "StatefulSet") => statefulset(obj, old, &mut errs),
        ("apps", "Deployment") => workload(obj, old, Workload::Deployment, &mut errs),
        ("apps", "ReplicaSet") => workload(obj, old, Workload::ReplicaSet, &mut errs),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(obj, old, &mut errs),
        ("networking.k8s.io", "ServiceCIDR") => service_cidr(obj, old, &mut errs),
        _ => {}
    }
    errs
}

fn port_range_error(path: String, port: i64, errs: &mut Vec<FieldError>) {
    // validation.go IsValidPortNum
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(path, BadValue::Raw(port.to_string()), "must be between 1 and 65535, inclusive"));
    }
}

fn protocol(obj: &Value, path: String, errs: &mut Vec<FieldError>) {
    if let Some(p) = obj.get("protocol").and_then(Value::as_str)
        && !["SCTP", "TCP", "UDP"].contains(&p)
    {
        errs.push(FieldError::not_supported(path, BadValue::str(p), &["SCTP", "TCP", "UDP"]));
    }
}

/// validation.go `ValidateService` / `ValidateServiceUpdate` (the subset the simulator checks).
fn service(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let svc_type = get_str(spec, &["type"]).unwrap_or("ClusterIP");
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !TYPES.contains(&svc_type) {
        errs.push(FieldError::not_supported("spec.type", BadValue::str(svc_type), TYPES));
    }
    let cluster_ip = get_str(spec, &["clusterIP"]).unwrap_or_default();
    let headless = cluster_ip == "None";
    let ports: Vec<&Value> = items(spec, "ports").collect();
    if svc_type == "ExternalName" {
        if get_str(spec, &["externalName"]).unwrap_or_default().is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        }
    } else if ports.is_empty() && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<std::net::IpAddr>().is_err() {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            BadValue::str(cluster_ip),
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    let mut names = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = get_str(p, &["name"]).unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        } else if !name.is_empty() {
            for msg in dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{path}.name"), BadValue::str(name), msg));
            }
            if names.contains(&name) {
                errs.push(FieldError::duplicate(format!("{path}.name"), BadValue::str(name)));
            }
            names.push(name);
        }
        match p.get("port").and_then(Value::as_i64) {
            Some(port) => port_range_error(format!("{path}.port"), port, errs),
            None => errs.push(FieldError::required(format!("{path}.port"), "")),
        }
        protocol(p, format!("{path}.protocol"), errs);
        if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0
            && (svc_type == "ClusterIP" || svc_type == "ExternalName")
        {
            errs.push(FieldError::forbidden(
                format!("{path}.nodePort"),
                format!("may not be used when `type` is '{svc_type}'"),
            ));
        }
    }
    if let Some(affinity) = get_str(spec, &["sessionAffinity"])
        && !["ClientIP", "None"].contains(&affinity)
    {
        errs.push(FieldError::not_supported("spec.sessionAffinity", BadValue::str(affinity), &["ClientIP", "None"]));
    }
    if let Some(old) = old {
        // validation.go ValidateServiceUpdate: clusterIPs may not change while the type keeps one.
        let old_ips: Vec<&str> =
            items(old.get("spec").unwrap_or(&Value::Null), "clusterIPs").filter_map(Value::as_str).collect();
        let new_ips: Vec<&str> = items(spec, "clusterIPs").filter_map(Value::as_str).collect();
        let old_type = get_str(old, &["spec", "type"]).unwrap_or("ClusterIP");
        if old_type != "ExternalName"
            && svc_type != "ExternalName"
            && !old_ips.is_empty()
            && !new_ips.is_empty()
            && new_ips[0] != old_ips[0]
        {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                BadValue::string_slice(&new_ips),
                "may not change once set",
            ));
        }
    }
}

/// validation.go `ValidatePodSpec` (containers, volumes, restartPolicy); `restart_policies`
/// narrows the allowed policies of workload templates.
fn pod_spec(spec: &Value, path: &str, restart_policies: Option<&[&str]>, errs: &mut Vec<FieldError>) {
    let containers: Vec<&Value> = items(spec, "containers").collect();
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut volumes = Vec::new();
    for (i, v) in items(spec, "volumes").enumerate() {
        let name = get_str(v, &["name"]).unwrap_or_default();
        let vpath = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            errs.push(FieldError::required(vpath, ""));
        } else {
            for msg in dns1123_label(name) {
                errs.push(FieldError::invalid(vpath.clone(), BadValue::str(name), msg));
            }
            if volumes.contains(&name) {
                errs.push(FieldError::duplicate(vpath, BadValue::str(name)));
            }
            volumes.push(name);
        }
    }
    let mut names = Vec::new();
    for (list, key) in [("initContainers", "initContainers"), ("containers", "containers")] {
        for (i, c) in items(spec, list).enumerate() {
            let cpath = format!("{path}.{key}[{i}]");
            let name = get_str(c, &["name"]).unwrap_or_default();
            if name.is_empty() {
                errs.push(FieldError::required(format!("{cpath}.name"), ""));
            } else {
                for msg in dns1123_label(name) {
                    errs.push(FieldError::invalid(format!("{cpath}.name"), BadValue::str(name), msg));
                }
                if names.contains(&name) {
                    errs.push(FieldError::duplicate(format!("{cpath}.name"), BadValue::str(name)));
                }
                names.push(name);
            }
            if get_str(c, &["image"]).unwrap_or_default().is_empty() {
                errs.push(FieldError::required(format!("{cpath}.image"), ""));
            }
            for (j, p) in items(c, "ports").enumerate() {
                match p.get("containerPort").and_then(Value::as_i64) {
                    Some(port) => port_range_error(format!("{cpath}.ports[{j}].containerPort"), port, errs),
                    None => errs.push(FieldError::required(format!("{cpath}.ports[{j}].containerPort"), "")),
                }
                protocol(p, format!("{cpath}.ports[{j}].protocol"), errs);
            }
            for (j, m) in items(c, "volumeMounts").enumerate() {
                let mname = get_str(m, &["name"]).unwrap_or_default();
                if !volumes.contains(&mname) {
                    errs.push(FieldError {
                        kind: crate::model::status::FieldErrorType::NotFound,
                        field: format!("{cpath}.volumeMounts[{j}].name"),
                        value: BadValue::str(mname),
                        detail: String::new(),
                    });
                }
                if get_str(m, &["mountPath"]).unwrap_or_default().is_empty() {
                    errs.push(FieldError::required(format!("{cpath}.volumeMounts[{j}].mountPath"), ""));
                }
            }
        }
    }
    if let Some(policy) = get_str(spec, &["restartPolicy"]) {
        let allowed = restart_policies.unwrap_or(&["Always", "OnFailure", "Never"]);
        if !allowed.contains(&policy) {
            errs.push(FieldError::not_supported(format!("{path}.restartPolicy"), BadValue::str(policy), allowed));
        }
    }
}

/// The `spec.selector` / `spec.template` rules shared by the apps kinds
/// (apps validation.go `ValidateStatefulSetSpec` / `ValidateDeploymentSpec`).
fn selector_and_template(obj: &Value, kind: Workload, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match spec.get("selector") {
        None | Some(Value::Null) => errs.push(FieldError::required("spec.selector", "")),
        Some(selector) => {
            let empty = selector.get("matchLabels").and_then(Value::as_object).is_none_or(Map::is_empty)
                && selector.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty);
            if empty {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    BadValue::Raw(format_label_selector(selector)),
                    kind.empty_selector_message(),
                ));
            }
            let template_labels = get(spec, &["template", "metadata", "labels"]).and_then(Value::as_object);
            let empty_map = Map::new();
            let labels = template_labels.unwrap_or(&empty_map);
            if !empty && !crate::model::selectors::label_selector_matches(selector, labels) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    BadValue::string_map(labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if let Some(replicas) = spec.get("replicas").and_then(Value::as_i64)
        && replicas < 0
    {
        errs.push(FieldError::invalid(
            "spec.replicas",
            BadValue::Raw(replicas.to_string()),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(labels) = get(spec, &["template", "metadata", "labels"]).and_then(Value::as_object) {
        validate_labels(labels, "spec.template.metadata.labels", errs);
    }
    let template_spec = get(spec, &["template", "spec"]).unwrap_or(&Value::Null);
    match kind {
        // apps validation.go `ValidatePodTemplateSpecForStatefulSet` does NOT validate the pod
        // spec ("TODO: Add validation for PodSpec, currently this will check volumes, which we
        // know will fail"): volumeMounts may name volumeClaimTemplates. Only the restart policy
        // is checked (`ValidateStatefulSetSpec`).
        Workload::StatefulSet => {
            if let Some(policy) = get_str(template_spec, &["restartPolicy"])
                && policy != "Always"
            {
                errs.push(FieldError::not_supported(
                    "spec.template.spec.restartPolicy",
                    BadValue::str(policy),
                    &["Always"],
                ));
            }
        }
        Workload::Deployment | Workload::ReplicaSet => {
            pod_spec(template_spec, "spec.template.spec", Some(&["Always"]), errs)
        }
    }
}

/// The apps kinds sharing selector/template validation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    StatefulSet,
    Deployment,
    ReplicaSet,
}

impl Workload {
    /// apps validation.go: `empty selector is invalid for statefulset|deployment`; ReplicaSets
    /// use the same text as Deployments (`ValidateReplicaSetSpec`).
    fn empty_selector_message(self) -> &'static str {
        match self {
            Workload::StatefulSet => "empty selector is invalid for statefulset",
            Workload::Deployment | Workload::ReplicaSet => "empty selector is invalid for deployment",
        }
    }
}

/// Go's `%#v` of a `v1.LabelSelector`, as field errors print it.
fn format_label_selector(selector: &Value) -> String {
    let labels = match selector.get("matchLabels").and_then(Value::as_object) {
        Some(m) => BadValue::string_map(m).shown(),
        None => "map[string]string(nil)".to_string(),
    };
    let exprs = match selector.get("matchExpressions").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    let values: Vec<&str> = items(e, "values").filter_map(Value::as_str).collect();
                    let values = BadValue::string_slice(&values).shown();
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        crate::model::status::go_quote(get_str(e, &["key"]).unwrap_or_default()),
                        crate::model::status::go_quote(get_str(e, &["operator"]).unwrap_or_default()),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
        _ => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

fn statefulset(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    selector_and_template(obj, Workload::StatefulSet, errs);
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if let Some(p) = get_str(spec, &["podManagementPolicy"])
        && !["OrderedReady", "Parallel"].contains(&p)
    {
        errs.push(FieldError::not_supported(
            "spec.podManagementPolicy",
            BadValue::str(p),
            &["OrderedReady", "Parallel"],
        ));
    }
    if let Some(t) = get_str(spec, &["updateStrategy", "type"])
        && !["OnDelete", "RollingUpdate"].contains(&t)
    {
        errs.push(FieldError::not_supported(
            "spec.updateStrategy.type",
            BadValue::str(t),
            &["OnDelete", "RollingUpdate"],
        ));
    }
    if let Some(old) = old {
        // apps validation.go ValidateStatefulSetUpdate: only these spec fields may change.
        const MUTABLE: &[&str] = &[
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        ];
        let strip = |v: &Value| -> Value {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(m) = spec.as_object_mut() {
                for k in MUTABLE {
                    m.remove(*k);
                }
            }
            spec
        };
        if strip(obj) != strip(old) {
            errs.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

/// kubernetes v1.33 pkg/apis/apps/validation/validation.go `ValidateStatefulSetStatus`, what
/// a write of `statefulsets/status` validates beyond the metadata
/// (`ValidateStatefulSetStatusUpdate`, which adds that `collisionCount` may not decrease).
pub fn statefulset_status(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let status = obj.get("status").unwrap_or(&Value::Null);
    let count = |field: &str| status.get(field).and_then(Value::as_i64);
    let int = |n: i64| BadValue::Raw(n.to_string());
    for field in [
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
        "observedGeneration",
        "collisionCount",
    ] {
        if let Some(n) = count(field).filter(|n| *n < 0) {
            errs.push(FieldError::invalid(format!("status.{field}"), int(n), "must be greater than or equal to 0"));
        }
    }
    let replicas = count("replicas").unwrap_or(0);
    let ready = count("readyReplicas").unwrap_or(0);
    let available = count("availableReplicas").unwrap_or(0);
    for field in ["readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"] {
        let n = count(field).unwrap_or(0);
        if n > replicas {
            errs.push(FieldError::invalid(format!("status.{field}"), int(n), "cannot be greater than status.replicas"));
        }
    }
    if available > ready {
        errs.push(FieldError::invalid(
            "status.availableReplicas",
            int(available),
            "cannot be greater than status.readyReplicas",
        ));
    }
    // apimachinery validation `IsDecremented`: removed, or lower than before.
    let old_count = old.and_then(|o| get(o, &["status", "collisionCount"])).and_then(Value::as_i64);
    let decremented = match (count("collisionCount"), old_count) {
        (None, Some(_)) => true,
        (Some(new), Some(old)) => new < old,
        _ => false,
    };
    if decremented {
        let value = count("collisionCount").unwrap_or(0);
        errs.push(FieldError::invalid("status.collisionCount", int(value), "cannot be decremented"));
    }
}

fn workload(obj: &Value, old: Option<&Value>, kind: Workload, errs: &mut Vec<FieldError>) {
    selector_and_template(obj, kind, errs);
    if let Some(old) = old {
        // apps validation.go ValidateDeploymentUpdate / ValidateReplicaSetUpdate (apps/v1:
        // the selector is immutable).
        let (new_sel, old_sel) = (get(obj, &["spec", "selector"]), get(old, &["spec", "selector"]));
        if let (Some(n), Some(o)) = (new_sel, old_sel)
            && n != o
        {
            errs.push(FieldError::invalid(
                "spec.selector",
                BadValue::Raw(format_label_selector(n)),
                "field is immutable",
            ));
        }
    }
}

/// validation.go `ValidateConfigMap` / `ValidateSecret`: keys, total size and `immutable`.
fn config_data(obj: &Value, old: Option<&Value>, fields: &[&str], errs: &mut Vec<FieldError>) {
    let mut total = 0usize;
    let mut seen: Vec<&str> = Vec::new();
    for field in fields {
        for (k, v) in obj.get(*field).and_then(Value::as_object).into_iter().flatten() {
            for msg in config_map_key(k) {
                errs.push(FieldError::invalid(format!("{field}[{k}]"), BadValue::str(k), msg));
            }
            if seen.contains(&k.as_str()) && *field != "stringData" {
                errs.push(FieldError::invalid(
                    format!("{field}[{k}]"),
                    BadValue::str(k),
                    "duplicate of key present in data",
                ));
            }
            seen.push(k);
            total += v.as_str().map_or(0, str::len);
        }
    }
    // validation.go MaxSecretSize / MaxConfigMapSize (1 MiB)
    if total > 1024 * 1024 {
        errs.push(FieldError::too_long(fields[0], 1024 * 1024));
    }
    if let Some(old) = old
        && old.get("immutable").and_then(Value::as_bool) == Some(true)
    {
        if obj.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
        }
        for field in fields {
            if *field != "stringData" && obj.get(*field) != old.get(*field) {
                errs.push(FieldError::forbidden(*field, "field is immutable when `immutable` is set"));
            }
        }
    }
}

fn pvc(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if items(spec, "accessModes").next().is_none() {
        errs.push(FieldError::required("spec.accessModes", "at least 1 access mode is required"));
    }
    if get(spec, &["resources", "requests", "storage"]).is_none() && get_str(spec, &["dataSourceRef", "name"]).is_none()
    {
        errs.push(FieldError::required("spec.resources[storage]", ""));
    }
}

/// networking validation.go `ValidateServiceCIDR` (the required list only) and
/// `ValidateServiceCIDRUpdate` (`spec.cidrs` immutable).
fn service_cidr(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let cidrs = |o: &Value| -> Vec<String> {
        get(o, &["spec"])
            .map(|s| items(s, "cidrs").filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let new = cidrs(obj);
    let Some(old) = old.map(cidrs) else {
        if new.is_empty() {
            errs.push(FieldError::required("spec.cidrs", "at least one CIDR required"));
        }
        return;
    };
    // kubernetes v1.33 pkg/apis/networking/validation/validation.go `ValidateServiceCIDRUpdate`:
    // with as many CIDRs, each one is immutable; one may become two (to dual stack,
    // https://issues.k8s.io/131261) if the first stays; any other change is refused whole.
    let immutable = |i: usize, errs: &mut Vec<FieldError>| {
        errs.push(FieldError::invalid(format!("spec.cidrs[{i}]"), BadValue::str(&new[i]), "field is immutable"));
    };
    if old.len() == new.len() {
        for i in (0..old.len()).filter(|i| old[*i] != new[*i]) {
            immutable(i, errs);
        }
    } else if old.len() == 1 && new.len() == 2 {
        if new[0] != old[0] {
            immutable(0, errs);
        }
    } else {
        errs.push(FieldError::invalid("spec.cidrs", BadValue::string_slice(&new), "field is immutable"));
    }
}

/// rbac validation.go `ValidateRoleBinding` / `ValidateRoleBindingUpdate`.
fn role_binding(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let kind = get_str(obj, &["roleRef", "kind"]).unwrap_or_default();
    let allowed: &[&str] =
        if get_str(obj, &["kind"]) == Some("ClusterRoleBinding") { &["ClusterRole"] } else { &["Role", "ClusterRole"] };
    if !allowed.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", BadValue::str(kind), allowed));
    }
    if get_str(obj, &["roleRef", "name"]).unwrap_or_default().is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    }
    if let Some(old) = old
        && obj.get("roleRef") != old.get("roleRef")
    {
        let r = obj.get("roleRef").unwrap_or(&Value::Null);
        let shown = format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            crate::model::status::go_quote(get_str(r, &["apiGroup"]).unwrap_or_default()),
            crate::model::status::go_quote(get_str(r, &["kind"]).unwrap_or_default()),
            crate::model::status::go_quote(get_str(r, &["name"]).unwrap_or_default()),
        );
        errs.push(FieldError::invalid("roleRef", BadValue::Raw(shown), "cannot change roleRef"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (1.33).
    #[test]
    fn dns_names() {
        assert!(dns1123_subdomain("my.app-1").is_empty());
        assert_eq!(
            dns1123_subdomain("My_App"),
            vec![
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(
            dns1035_label("1abc"),
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters"]);
        assert!(name_errors(NameRule::Subdomain, "web-", true).is_empty());
        assert_eq!(name_errors(NameRule::PathSegment, "a/b", false), vec!["may not contain '/'"]);
    }

    #[test]
    fn label_keys_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert_eq!(qualified_name("/x"), vec!["prefix part must be non-empty"]);
        assert_eq!(
            label_value("-bad"),
            vec![
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
        assert!(label_value("").is_empty());
    }
}
