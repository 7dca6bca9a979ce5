//! `meta.k8s.io/v1 Table` responses (what `kubectl get` asks for), with the column definitions
//! and cells of kube-apiserver 1.33: pkg/printers/internalversion/printers.go, and
//! staging/src/k8s.io/apiserver/pkg/registry/rest/table.go (the default Name/Created At table of
//! kinds without a printer, e.g. Role and ClusterRole). The server always prints the wide
//! cells; kubectl hides priority-1 columns itself.

use serde_json::{Map, Value, json};

use crate::model::jsonpath::{get, get_str, items};
use crate::model::resources::ResourceDef;
use crate::model::schema::definitions;

enum Desc {
    Text(&'static str),
    /// A property's description in the definitions (`SwaggerDoc()` of the Go type).
    Field(&'static str, &'static str),
}

struct Col(&'static str, &'static str, &'static str, i64, Desc);

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
fn name_col() -> Col {
    Col("Name", "string", "name", 0, Desc::Field(META, "name"))
}
fn age_col() -> Col {
    Col("Age", "string", "", 0, Desc::Field(META, "creationTimestamp"))
}
fn containers_cols() -> [Col; 2] {
    [
        Col("Containers", "string", "", 1, Desc::Text("Names of each container in the template.")),
        Col("Images", "string", "", 1, Desc::Text("Images referenced by each container in the template.")),
    ]
}

fn columns(kind: &str) -> Vec<Col> {
    use Desc::{Field, Text};
    let core = |t: &'static str| -> &'static str {
        match t {
            "PodStatus" => "io.k8s.api.core.v1.PodStatus",
            "PodSpec" => "io.k8s.api.core.v1.PodSpec",
            "ServiceSpec" => "io.k8s.api.core.v1.ServiceSpec",
            "Event" => "io.k8s.api.core.v1.Event",
            "ObjectReference" => "io.k8s.api.core.v1.ObjectReference",
            "Secret" => "io.k8s.api.core.v1.Secret",
            "ConfigMap" => "io.k8s.api.core.v1.ConfigMap",
            "ServiceAccount" => "io.k8s.api.core.v1.ServiceAccount",
            "Endpoints" => "io.k8s.api.core.v1.Endpoints",
            "NodeStatus" => "io.k8s.api.core.v1.NodeStatus",
            "NodeSystemInfo" => "io.k8s.api.core.v1.NodeSystemInfo",
            "PVCStatus" => "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
            "PVCSpec" => "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
            _ => unreachable!("unknown type {t}"),
        }
    };
    match kind {
        "Pod" => vec![
            name_col(),
            Col("Ready", "string", "", 0, Text("The aggregate readiness state of this pod for accepting traffic.")),
            Col("Status", "string", "", 0, Text("The aggregate status of the containers in this pod.")),
            Col(
                "Restarts",
                "string",
                "",
                0,
                Text(
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
            ),
            age_col(),
            Col("IP", "string", "", 1, Field(core("PodStatus"), "podIP")),
            Col("Node", "string", "", 1, Field(core("PodSpec"), "nodeName")),
            Col("Nominated Node", "string", "", 1, Field(core("PodStatus"), "nominatedNodeName")),
            Col("Readiness Gates", "string", "", 1, Field(core("PodSpec"), "readinessGates")),
        ],
        "Service" => vec![
            name_col(),
            Col("Type", "string", "", 0, Field(core("ServiceSpec"), "type")),
            Col("Cluster-IP", "string", "", 0, Field(core("ServiceSpec"), "clusterIP")),
            Col("External-IP", "string", "", 0, Field(core("ServiceSpec"), "externalIPs")),
            Col("Port(s)", "string", "", 0, Field(core("ServiceSpec"), "ports")),
            age_col(),
            Col("Selector", "string", "", 1, Field(core("ServiceSpec"), "selector")),
        ],
        "StatefulSet" => {
            let mut c =
                vec![name_col(), Col("Ready", "string", "", 0, Text("Number of the pod with ready state")), age_col()];
            c.extend(containers_cols());
            c
        }
        "Deployment" => {
            let mut c = vec![
                name_col(),
                Col("Ready", "string", "", 0, Text("Number of the pod with ready state")),
                Col("Up-to-date", "string", "", 0, Field("io.k8s.api.apps.v1.DeploymentStatus", "updatedReplicas")),
                Col("Available", "string", "", 0, Field("io.k8s.api.apps.v1.DeploymentStatus", "availableReplicas")),
                age_col(),
            ];
            c.extend(containers_cols());
            c.push(Col("Selector", "string", "", 1, Field("io.k8s.api.apps.v1.DeploymentSpec", "selector")));
            c
        }
        "ReplicaSet" => {
            let mut c = vec![
                name_col(),
                Col("Desired", "integer", "", 0, Field("io.k8s.api.apps.v1.ReplicaSetSpec", "replicas")),
                Col("Current", "integer", "", 0, Field("io.k8s.api.apps.v1.ReplicaSetStatus", "replicas")),
                Col("Ready", "integer", "", 0, Field("io.k8s.api.apps.v1.ReplicaSetStatus", "readyReplicas")),
                age_col(),
            ];
            c.extend(containers_cols());
            c.push(Col("Selector", "string", "", 1, Field("io.k8s.api.apps.v1.ReplicaSetSpec", "selector")));
            c
        }
        "ControllerRevision" => vec![
            name_col(),
            Col("Controller", "string", "", 0, Text("Controller of the object")),
            Col("Revision", "string", "", 0, Field("io.k8s.api.apps.v1.ControllerRevision", "revision")),
            age_col(),
        ],
        "ConfigMap" => vec![name_col(), Col("Data", "string", "", 0, Field(core("ConfigMap"), "data")), age_col()],
        "Secret" => vec![
            name_col(),
            Col("Type", "string", "", 0, Field(core("Secret"), "type")),
            Col("Data", "string", "", 0, Field(core("Secret"), "data")),
            age_col(),
        ],
        "ServiceAccount" => {
            vec![name_col(), Col("Secrets", "string", "", 0, Field(core("ServiceAccount"), "secrets")), age_col()]
        }
        "Namespace" => vec![name_col(), Col("Status", "string", "", 0, Text("The status of the namespace")), age_col()],
        "Node" => vec![
            name_col(),
            Col("Status", "string", "", 0, Text("The status of the node")),
            Col("Roles", "string", "", 0, Text("The roles of the node")),
            age_col(),
            Col("Version", "string", "", 0, Field(core("NodeSystemInfo"), "kubeletVersion")),
            Col("Internal-IP", "string", "", 1, Field(core("NodeStatus"), "addresses")),
            Col("External-IP", "string", "", 1, Field(core("NodeStatus"), "addresses")),
            Col("OS-Image", "string", "", 1, Field(core("NodeSystemInfo"), "osImage")),
            Col("Kernel-Version", "string", "", 1, Field(core("NodeSystemInfo"), "kernelVersion")),
            Col("Container-Runtime", "string", "", 1, Field(core("NodeSystemInfo"), "containerRuntimeVersion")),
        ],
        "PersistentVolumeClaim" => vec![
            name_col(),
            Col("Status", "string", "", 0, Field(core("PVCStatus"), "phase")),
            Col("Volume", "string", "", 0, Field(core("PVCSpec"), "volumeName")),
            Col("Capacity", "string", "", 0, Field(core("PVCStatus"), "capacity")),
            Col("Access Modes", "string", "", 0, Field(core("PVCStatus"), "accessModes")),
            Col("StorageClass", "string", "", 0, Text("StorageClass of the pvc")),
            Col("VolumeAttributesClass", "string", "", 0, Text("VolumeAttributesClass of the pvc")),
            age_col(),
            Col("VolumeMode", "string", "", 1, Field(core("PVCSpec"), "volumeMode")),
        ],
        "Endpoints" => {
            vec![name_col(), Col("Endpoints", "string", "", 0, Field(core("Endpoints"), "subsets")), age_col()]
        }
        "Event" => vec![
            Col("Last Seen", "string", "", 0, Field(core("Event"), "lastTimestamp")),
            Col("Type", "string", "", 0, Field(core("Event"), "type")),
            Col("Reason", "string", "", 0, Field(core("Event"), "reason")),
            Col("Object", "string", "", 0, Field(core("Event"), "involvedObject")),
            Col("Subobject", "string", "", 1, Field(core("ObjectReference"), "fieldPath")),
            Col("Source", "string", "", 1, Field(core("Event"), "source")),
            Col("Message", "string", "", 0, Field(core("Event"), "message")),
            Col("First Seen", "string", "", 1, Field(core("Event"), "firstTimestamp")),
            Col("Count", "string", "", 1, Field(core("Event"), "count")),
            Col("Name", "string", "name", 1, Field(META, "name")),
        ],
        "RoleBinding" | "ClusterRoleBinding" => {
            let [users, groups, service_accounts] = if kind == "RoleBinding" {
                ["Users in the roleBinding", "Groups in the roleBinding", "ServiceAccounts in the roleBinding"]
            } else {
                [
                    "Users in the clusterRoleBinding",
                    "Groups in the clusterRoleBinding",
                    "ServiceAccounts in the clusterRoleBinding",
                ]
            };
            vec![
                name_col(),
                Col("Role", "string", "", 0, Field("io.k8s.api.rbac.v1.RoleBinding", "roleRef")),
                age_col(),
                Col("Users", "string", "", 1, Text(users)),
                Col("Groups", "string", "", 1, Text(groups)),
                Col("ServiceAccounts", "string", "", 1, Text(service_accounts)),
            ]
        }
        "Ingress" => vec![
            name_col(),
            Col(
                "Class",
                "string",
                "",
                0,
                Text("The name of the IngressClass resource that should be used for additional configuration"),
            ),
            Col(
                "Hosts",
                "string",
                "",
                0,
                Text("Hosts that incoming requests are matched against before the ingress rule"),
            ),
            Col("Address", "string", "", 0, Text("Address is a list containing ingress points for the load-balancer")),
            Col("Ports", "string", "", 0, Text("Ports of TLS configurations that open")),
            age_col(),
        ],
        "IngressClass" => vec![
            name_col(),
            Col("Controller", "string", "", 0, Text("Controller that is responsible for handling this class")),
            Col("Parameters", "string", "", 0, Text("A reference to a resource with additional parameters")),
            age_col(),
        ],
        "NetworkPolicy" => vec![
            name_col(),
            Col("Pod-Selector", "string", "", 0, Field("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector")),
            age_col(),
        ],
        "ServiceCIDR" => vec![
            name_col(),
            Col("CIDRs", "string", "", 0, Field("io.k8s.api.networking.v1.ServiceCIDRSpec", "cidrs")),
            age_col(),
        ],
        "EndpointSlice" => vec![
            name_col(),
            Col("AddressType", "string", "", 0, Field("io.k8s.api.discovery.v1.EndpointSlice", "addressType")),
            Col("Ports", "string", "", 0, Field("io.k8s.api.discovery.v1.EndpointSlice", "ports")),
            Col("Endpoints", "string", "", 0, Field("io.k8s.api.discovery.v1.EndpointSlice", "endpoints")),
            age_col(),
        ],
        "Lease" => vec![
            name_col(),
            Col("Holder", "string", "", 0, Field("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
            age_col(),
        ],
        "PodDisruptionBudget" => vec![
            name_col(),
            Col("Min Available", "string", "", 0, Text("The minimum number of pods that must be available.")),
            Col("Max Unavailable", "string", "", 0, Text("The maximum number of pods that may be unavailable.")),
            Col(
                "Allowed Disruptions",
                "integer",
                "",
                0,
                Text("Calculated number of pods that may be disrupted at this time."),
            ),
            age_col(),
        ],
        // printers.go resourceQuotaColumnDefinitions
        "ResourceQuota" => vec![
            name_col(),
            age_col(),
            Col(
                "Request",
                "string",
                "",
                0,
                Text("Request represents a minimum amount of cpu/memory that a container may consume."),
            ),
            Col(
                "Limit",
                "string",
                "",
                0,
                Text(
                    "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                ),
            ),
        ],
        // rest/table.go defaultTableConvertor (also what printers.go prints for LimitRange)
        _ => vec![name_col(), Col("Created At", "date", "", 0, Field(META, "creationTimestamp"))],
    }
}

fn description(d: &Desc) -> String {
    match d {
        Desc::Text(t) => (*t).to_string(),
        Desc::Field(def, prop) => definitions()
            .get(*def)
            .and_then(|d| get_str(d, &["properties", prop, "description"]))
            .unwrap_or_default()
            .to_string(),
    }
}

pub fn column_definitions(kind: &str) -> Value {
    Value::Array(
        columns(kind)
            .iter()
            .map(|Col(name, ty, format, priority, desc)| {
                json!({ "name": name, "type": ty, "format": format, "description": description(desc), "priority": priority })
            })
            .collect(),
    )
}

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({})) })
}

pub fn row(res: &ResourceDef, obj: &Value, include: IncludeObject, now: jiff::Timestamp) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells(res.kind, obj, now)));
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_metadata(obj));
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
    }
    Value::Object(row)
}

/// A Table of `objects`; `headers` false omits the column definitions (`null`), as watch
/// events after the first do.
pub fn table(
    res: &ResourceDef,
    objects: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    headers: bool,
    api_version: &str,
) -> Value {
    let now = jiff::Timestamp::now();
    json!({
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": list_meta,
        "columnDefinitions": if headers { column_definitions(res.kind) } else { Value::Null },
        "rows": objects.iter().map(|o| row(res, o, include, now)).collect::<Vec<_>>(),
    })
}

/// printers.go `translateTimestampSince`
fn since(ts: Option<&str>, now: jiff::Timestamp) -> String {
    match ts.and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
        Some(t) => kube_text::human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".into(),
    }
}

fn or_none(s: &str) -> String {
    if s.is_empty() { "<none>".into() } else { s.into() }
}

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    get_str(obj, path).unwrap_or_default()
}

fn int_at(obj: &Value, path: &[&str]) -> i64 {
    get(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

fn len_at(obj: &Value, key: &str) -> i64 {
    match obj.get(key) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

/// printers.go `layoutContainerCells`
fn container_cells(pod_spec: Option<&Value>) -> [Value; 2] {
    let containers: Vec<&Value> = pod_spec.map(|s| items(s, "containers").collect()).unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    [names.join(",").into(), images.join(",").into()]
}

/// `labels.FormatLabels` (sorted `k=v`, `<none>` when empty).
fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> =
        map.into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    pairs.sort();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

/// `metav1.LabelSelectorAsSelector(sel).String()` (requirements sorted by key).
pub fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return String::new() };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in sel.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    for e in items(sel, "matchExpressions") {
        let key = str_at(e, &["key"]).to_string();
        let mut values: Vec<&str> = items(e, "values").filter_map(Value::as_str).collect();
        values.sort();
        let s = match str_at(e, &["operator"]) {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        };
        reqs.push((key, s));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(",")
}

fn load_balancer(status: Option<&Value>) -> Vec<String> {
    status
        .map(|s| {
            items(s, "ingress")
                .map(|i| get_str(i, &["ip"]).or(get_str(i, &["hostname"])).unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The first three of `list`, then `+ N more...` (printers.go's endpoint/host formatting).
fn first_three(list: &[String]) -> String {
    if list.len() <= 3 {
        return list.join(",");
    }
    format!("{} + {} more...", list[..3].join(","), list.len() - 3)
}

fn cells(kind: &str, o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name: Value = str_at(o, &["metadata", "name"]).into();
    let age: Value = since(get_str(o, &["metadata", "creationTimestamp"]), now).into();
    let spec = o.get("spec");
    let status = o.get("status").unwrap_or(&Value::Null);
    let template_spec = spec.and_then(|s| get(s, &["template", "spec"]));
    match kind {
        "Pod" => pod_cells(o, now),
        "Service" => {
            let spec = spec.unwrap_or(&Value::Null);
            let svc_type = str_at(spec, &["type"]);
            let external_ips: Vec<String> =
                items(spec, "externalIPs").filter_map(Value::as_str).map(str::to_string).collect();
            let external = match svc_type {
                "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
                "LoadBalancer" => {
                    let mut lb = load_balancer(status.get("loadBalancer"));
                    lb.extend(external_ips);
                    if lb.is_empty() { "<pending>".into() } else { lb.join(",") }
                }
                "ExternalName" => str_at(spec, &["externalName"]).into(),
                _ => "<unknown>".into(),
            };
            let ports: Vec<String> = items(spec, "ports")
                .map(|p| {
                    let (port, proto) = (int_at(p, &["port"]), str_at(p, &["protocol"]));
                    match int_at(p, &["nodePort"]) {
                        0 => format!("{port}/{proto}"),
                        np => format!("{port}:{np}/{proto}"),
                    }
                })
                .collect();
            vec![
                name,
                svc_type.into(),
                or_none(str_at(spec, &["clusterIP"])).into(),
                external.into(),
                or_none(&ports.join(",")).into(),
                age,
                format_labels(spec.get("selector").and_then(Value::as_object)).into(),
            ]
        }
        "StatefulSet" => {
            let [c, i] = container_cells(template_spec);
            let desired = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64).unwrap_or(1);
            vec![name, format!("{}/{desired}", int_at(status, &["readyReplicas"])).into(), age, c, i]
        }
        "Deployment" => {
            let [c, i] = container_cells(template_spec);
            let desired = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64).unwrap_or(1);
            vec![
                name,
                format!("{}/{desired}", int_at(status, &["readyReplicas"])).into(),
                int_at(status, &["updatedReplicas"]).into(),
                int_at(status, &["availableReplicas"]).into(),
                age,
                c,
                i,
                selector_string(spec.and_then(|s| s.get("selector"))).into(),
            ]
        }
        "ReplicaSet" => {
            let [c, i] = container_cells(template_spec);
            vec![
                name,
                spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64).unwrap_or(1).into(),
                int_at(status, &["replicas"]).into(),
                int_at(status, &["readyReplicas"]).into(),
                age,
                c,
                i,
                selector_string(spec.and_then(|s| s.get("selector"))).into(),
            ]
        }
        "ControllerRevision" => {
            let controller = items(o.get("metadata").unwrap_or(&Value::Null), "ownerReferences")
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .map(|r| {
                    let group = str_at(r, &["apiVersion"]).rsplit_once('/').map(|(g, _)| g).unwrap_or_default();
                    let kind = str_at(r, &["kind"]).to_lowercase();
                    let qualified = if group.is_empty() { kind } else { format!("{kind}.{group}") };
                    format!("{qualified}/{}", str_at(r, &["name"]))
                })
                .unwrap_or_else(|| "<none>".into());
            vec![name, controller.into(), int_at(o, &["revision"]).into(), age]
        }
        "ConfigMap" => vec![name, (len_at(o, "data") + len_at(o, "binaryData")).into(), age],
        "Secret" => vec![name, str_at(o, &["type"]).into(), len_at(o, "data").into(), age],
        "ServiceAccount" => vec![name, len_at(o, "secrets").into(), age],
        "Namespace" => vec![name, str_at(status, &["phase"]).into(), age],
        "Node" => node_cells(o, name, age),
        "PersistentVolumeClaim" => {
            let spec = spec.unwrap_or(&Value::Null);
            let phase = if get(o, &["metadata", "deletionTimestamp"]).is_some() {
                "Terminating"
            } else {
                str_at(status, &["phase"])
            };
            let bound = !str_at(spec, &["volumeName"]).is_empty();
            let (capacity, modes) = if bound {
                let modes: Vec<&str> = items(status, "accessModes")
                    .filter_map(Value::as_str)
                    .map(|m| match m {
                        "ReadWriteOnce" => "RWO",
                        "ReadOnlyMany" => "ROX",
                        "ReadWriteMany" => "RWX",
                        "ReadWriteOncePod" => "RWOP",
                        other => other,
                    })
                    .collect();
                (str_at(status, &["capacity", "storage"]).to_string(), modes.join(","))
            } else {
                (String::new(), String::new())
            };
            let class = get_str(spec, &["storageClassName"])
                .or(get_str(o, &["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"]))
                .unwrap_or_default();
            let vac = get_str(spec, &["volumeAttributesClassName"]).filter(|s| !s.is_empty()).unwrap_or("<unset>");
            vec![
                name,
                phase.into(),
                str_at(spec, &["volumeName"]).into(),
                capacity.into(),
                modes.into(),
                class.into(),
                vac.into(),
                age,
                get_str(spec, &["volumeMode"]).unwrap_or("<unset>").into(),
            ]
        }
        "Endpoints" => {
            let mut list = Vec::new();
            for subset in items(o, "subsets") {
                let ports: Vec<i64> = items(subset, "ports").map(|p| int_at(p, &["port"])).collect();
                for a in items(subset, "addresses") {
                    let ip = str_at(a, &["ip"]);
                    if ports.is_empty() {
                        list.push(ip.to_string());
                    }
                    for p in &ports {
                        list.push(format!("{ip}:{p}"));
                    }
                }
            }
            vec![name, if list.is_empty() { "<none>".to_string() } else { first_three(&list) }.into(), age]
        }
        "Event" => event_cells(o, now),
        "RoleBinding" | "ClusterRoleBinding" => {
            let role = format!("{}/{}", str_at(o, &["roleRef", "kind"]), str_at(o, &["roleRef", "name"]));
            let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
            for s in items(o, "subjects") {
                let n = str_at(s, &["name"]).to_string();
                match str_at(s, &["kind"]) {
                    "User" => users.push(n),
                    "Group" => groups.push(n),
                    "ServiceAccount" => sas.push(format!("{}/{n}", str_at(s, &["namespace"]))),
                    _ => {}
                }
            }
            vec![name, role.into(), age, users.join(", ").into(), groups.join(", ").into(), sas.join(", ").into()]
        }
        "Ingress" => {
            let spec = spec.unwrap_or(&Value::Null);
            let hosts: Vec<String> = items(spec, "rules")
                .map(|r| get_str(r, &["host"]).filter(|h| !h.is_empty()).unwrap_or("*").to_string())
                .collect();
            let hosts = if hosts.is_empty() { "*".to_string() } else { first_three(&hosts) };
            let ports = if items(spec, "tls").next().is_some() { "80, 443" } else { "80" };
            vec![
                name,
                or_none(str_at(spec, &["ingressClassName"])).into(),
                hosts.into(),
                load_balancer(status.get("loadBalancer")).join(",").into(),
                ports.into(),
                age,
            ]
        }
        "IngressClass" => {
            let spec = spec.unwrap_or(&Value::Null);
            let params = spec.get("parameters").map(|p| {
                let mut s = str_at(p, &["kind"]).to_string();
                if let Some(g) = get_str(p, &["apiGroup"]) {
                    s = format!("{s}.{g}");
                }
                format!("{s}/{}", str_at(p, &["name"]))
            });
            vec![name, str_at(spec, &["controller"]).into(), params.unwrap_or_else(|| "<none>".into()).into(), age]
        }
        "NetworkPolicy" => {
            vec![name, or_none(&selector_string(spec.and_then(|s| s.get("podSelector")))).into(), age]
        }
        // printers.go printServiceCIDR: the CIDRs joined with ",".
        "ServiceCIDR" => {
            let cidrs: Vec<&str> =
                spec.map(|s| items(s, "cidrs").filter_map(Value::as_str).collect()).unwrap_or_default();
            vec![name, cidrs.join(",").into(), age]
        }
        "EndpointSlice" => {
            let ports: Vec<String> = items(o, "ports").map(|p| int_at(p, &["port"]).to_string()).collect();
            let addrs: Vec<String> = items(o, "endpoints")
                .flat_map(|e| items(e, "addresses").filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>())
                .collect();
            let fmt = |l: &[String]| if l.is_empty() { "<unset>".to_string() } else { first_three(l) };
            vec![name, str_at(o, &["addressType"]).into(), fmt(&ports).into(), fmt(&addrs).into(), age]
        }
        "Lease" => vec![name, str_at(o, &["spec", "holderIdentity"]).into(), age],
        "PodDisruptionBudget" => {
            let spec = spec.unwrap_or(&Value::Null);
            let show = |k: &str| match spec.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "N/A".into(),
            };
            vec![
                name,
                show("minAvailable").into(),
                show("maxUnavailable").into(),
                int_at(status, &["disruptionsAllowed"]).into(),
                age,
            ]
        }
        "ResourceQuota" => {
            let (request, limit) = resource_quota_columns(status);
            vec![name, age, request.into(), limit.into()]
        }
        _ => {
            let created = get_str(o, &["metadata", "creationTimestamp"]).unwrap_or_default();
            vec![name, created.into()]
        }
    }
}

/// printers.go `printResourceQuota`: `<resource>: <used>/<hard>` for every resource in
/// `status.hard` (sorted), `limits.*` ones in the Limit column, the rest in Request. Quantities
/// are shown as stored (kube-apiserver prints them canonicalised by `Quantity.String()`).
fn resource_quota_columns(status: &Value) -> (String, String) {
    let hard = status.get("hard").and_then(Value::as_object);
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    for resource in names {
        let used = get_str(status, &["used", resource.as_str()]).unwrap_or("0");
        let hard = hard.and_then(|h| h.get(resource)).and_then(Value::as_str).unwrap_or("0");
        let column = if resource.split('.').next() == Some("limits") && resource.contains('.') {
            &mut limit
        } else {
            &mut request
        };
        column.push(format!("{resource}: {used}/{hard}"));
    }
    (request.join(", "), limit.join(", "))
}

/// printers.go `printPod` (the status reason, readiness and restarts columns).
fn pod_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let status = o.get("status").unwrap_or(&Value::Null);
    let spec = o.get("spec").unwrap_or(&Value::Null);
    let total = items(spec, "containers").count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<String> = None;
    let mut reason = get_str(status, &["reason"])
        .filter(|r| !r.is_empty())
        .or(get_str(status, &["phase"]))
        .unwrap_or_default()
        .to_string();
    for c in items(status, "containerStatuses").collect::<Vec<_>>().into_iter().rev() {
        restarts += int_at(c, &["restartCount"]);
        if let Some(t) = get_str(c, &["lastState", "terminated", "finishedAt"])
            && last_restart.as_deref().is_none_or(|l| t > l)
        {
            last_restart = Some(t.to_string());
        }
        if let Some(w) = get_str(c, &["state", "waiting", "reason"]).filter(|r| !r.is_empty()) {
            reason = w.to_string();
        } else if let Some(t) = get(c, &["state", "terminated"]) {
            reason = match get_str(t, &["reason"]).filter(|r| !r.is_empty()) {
                Some(r) => r.to_string(),
                None => match get(t, &["signal"]).and_then(Value::as_i64).filter(|s| *s != 0) {
                    Some(sig) => format!("Signal:{sig}"),
                    None => format!("ExitCode:{}", int_at(t, &["exitCode"])),
                },
            };
        } else if c.get("ready").and_then(Value::as_bool) == Some(true) && get(c, &["state", "running"]).is_some() {
            ready += 1;
        }
    }
    if get(o, &["metadata", "deletionTimestamp"]).is_some() {
        reason = if get_str(status, &["reason"]) == Some("NodeLost") { "Unknown".into() } else { "Terminating".into() };
    }
    let restarts_cell = match (&last_restart, restarts) {
        (Some(t), n) if n != 0 => format!("{n} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };
    let gates: Vec<&Value> = items(spec, "readinessGates").collect();
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, &["conditionType"]);
                items(status, "conditions").any(|c| str_at(c, &["type"]) == t && str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_conditions}/{}", gates.len())
    };
    vec![
        str_at(o, &["metadata", "name"]).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        since(get_str(o, &["metadata", "creationTimestamp"]), now).into(),
        or_none(str_at(status, &["podIP"])).into(),
        or_none(str_at(spec, &["nodeName"])).into(),
        or_none(str_at(status, &["nominatedNodeName"])).into(),
        gates_cell.into(),
    ]
}

/// printers.go `printNode`
fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let status = o.get("status").unwrap_or(&Value::Null);
    let ready = items(status, "conditions").find(|c| str_at(c, &["type"]) == "Ready").map(|c| str_at(c, &["status"]));
    let mut state = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if get(o, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        state.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = crate::model::jsonpath::labels(o)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            k.strip_prefix("node-role.kubernetes.io/")
                .map(str::to_string)
                .or_else(|| (k == "kubernetes.io/role").then(|| v.as_str().unwrap_or_default().to_string()))
        })
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    let address = |t: &str| {
        items(status, "addresses").find(|a| str_at(a, &["type"]) == t).map(|a| str_at(a, &["address"]).to_string())
    };
    let info = |k: &str| str_at(status, &["nodeInfo", k]).to_string();
    vec![
        name,
        state.into(),
        or_none(&roles.join(",")).into(),
        age,
        info("kubeletVersion").into(),
        address("InternalIP").unwrap_or_else(|| "<none>".into()).into(),
        address("ExternalIP").unwrap_or_else(|| "<none>".into()).into(),
        or_none(&info("osImage")).into(),
        or_none(&info("kernelVersion")).into(),
        or_none(&info("containerRuntimeVersion")).into(),
    ]
}

/// printers.go `printEvent`; events.k8s.io/v1 fields map onto the core ones as the
/// apiserver's conversion does (regarding, note, deprecated*).
fn event_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let pick = |core: &str, events: &str| get_str(o, &[core]).or(get_str(o, &[events])).filter(|s| !s.is_empty());
    let first = match pick("firstTimestamp", "deprecatedFirstTimestamp") {
        Some(t) => since(Some(t), now),
        None => since(get_str(o, &["eventTime"]), now),
    };
    let mut last = match pick("lastTimestamp", "deprecatedLastTimestamp") {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = get(o, &["count"]).or(get(o, &["deprecatedCount"])).and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = o.get("series") {
        last = since(get_str(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let involved = o.get("involvedObject").or(o.get("regarding")).unwrap_or(&Value::Null);
    let kind = str_at(involved, &["kind"]).to_lowercase();
    let target = match str_at(involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = o.get("source").or(o.get("deprecatedSource")).unwrap_or(&Value::Null);
    // core/v1 names the internal ReportingController `reportingComponent`.
    let reporting = Some(str_at(o, &["reportingComponent"])).filter(|s| !s.is_empty());
    let component = Some(str_at(source, &["component"]))
        .filter(|s| !s.is_empty())
        .or(reporting)
        .unwrap_or(str_at(o, &["reportingController"]));
    let instance =
        Some(str_at(source, &["host"])).filter(|s| !s.is_empty()).unwrap_or(str_at(o, &["reportingInstance"]));
    let source = if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") };
    let message = pick("message", "note").unwrap_or_default().trim().to_string();
    vec![
        last.into(),
        str_at(o, &["type"]).into(),
        str_at(o, &["reason"]).into(),
        target.into(),
        str_at(involved, &["fieldPath"]).into(),
        source.into(),
        message.into(),
        first.into(),
        count.into(),
        str_at(o, &["metadata", "name"]).into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_row_prints_like_kubectl_against_a_cluster() {
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let now: jiff::Timestamp = "2020-01-01T00:05:00Z".parse().unwrap();
        assert_eq!(
            cells("Service", &svc, now),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP"),
                json!("5m"),
                json!("app=web")
            ]
        );
        let cols = column_definitions("Service");
        assert_eq!(cols.as_array().unwrap().len(), 7);
        assert_eq!(cols[0]["format"], "name");
        assert!(cols[1]["description"].as_str().unwrap().starts_with("type determines how the Service is exposed"));
    }
}
