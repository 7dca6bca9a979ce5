//! Typed decoding of request bodies against the Kubernetes 1.33 definitions: the decoder's
//! type-mismatch message and the unknown fields that `fieldValidation` reports.
//!
//! kube-apiserver decodes bodies with sigs.k8s.io/json (a fork of Go's encoding/json): a type
//! mismatch is `json: cannot unmarshal <value> into Go struct field <Struct>.<path> of type
//! <type>`, and strict decoding reports `unknown field "<path>"` with `[i]` list indices.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::merge::json_kind;
use serde_json::{Map, Value};

/// The `$defs` of `data/k8s-v1.33-definitions.json.gz`, as the merge engine loaded them.
pub fn definitions() -> &'static Map<String, Value> {
    crate::merge::Schema::k8s_1_33().definitions()
}

/// Definition name of a group/version/kind, e.g. `io.k8s.api.apps.v1.StatefulSet`.
pub fn definition_for(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    static INDEX: OnceLock<HashMap<(String, String, String), String>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = HashMap::new();
        for (name, def) in definitions() {
            for gvk in def.get("x-kubernetes-group-version-kind").and_then(Value::as_array).into_iter().flatten() {
                let s = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                index.entry((s("group"), s("version"), s("kind"))).or_insert_with(|| name.clone());
            }
        }
        index
    });
    index.get(&(group.to_string(), version.to_string(), kind.to_string())).map(String::as_str)
}

/// A body the decoder rejects: the message after kube-apiserver's
/// `<Kind> in version "<v>" cannot be handled as a <Kind>: ` prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(pub String);

/// Decode `value` as the definition `def_name`, as Go's decoder does: Ok(unknown field paths,
/// in document order) or the first type mismatch. Unknown fields and nulls are dropped from
/// `value` (a typed decode has nowhere to keep them).
pub fn check(def_name: &str, value: &mut Value) -> Result<Vec<String>, DecodeError> {
    let defs = definitions();
    let schema = defs.get(def_name).ok_or_else(|| DecodeError(format!("no schema for {def_name}")))?;
    let mut walker = Walker { defs, unknown: Vec::new() };
    walker.walk(schema, Some(def_name), value, "", &mut Vec::new(), short_name(def_name))?;
    Ok(walker.unknown)
}

struct Walker {
    defs: &'static Map<String, Value>,
    unknown: Vec<String>,
}

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";

/// `v1.Container` for `io.k8s.api.core.v1.Container` (the Go type's package-qualified name).
fn short_name(def_name: &str) -> &str {
    let mut parts = def_name.rsplitn(3, '.');
    let kind = parts.next().unwrap_or(def_name);
    let pkg = parts.next().unwrap_or_default();
    let start = def_name.len() - kind.len() - pkg.len() - 1;
    if pkg.is_empty() { kind } else { &def_name[start..] }
}

fn struct_name(def_name: &str) -> &str {
    def_name.rsplit('.').next().unwrap_or(def_name)
}

fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

impl Walker {
    fn resolve(&self, schema: &'static Value) -> (&'static Value, Option<&'static str>) {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or(r);
                (self.defs.get(name).unwrap_or(&Value::Null), Some(name))
            }
            None => (schema, None),
        }
    }

    /// The Go type a schema decodes into, as `UnmarshalTypeError` prints it.
    fn go_type(&self, schema: &'static Value) -> String {
        let (schema, def) = self.resolve(schema);
        if let Some(def) = def {
            return match def {
                INT_OR_STRING => "int32".into(),
                _ if schema_type(schema) == Some("object") || schema.get("properties").is_some() => {
                    short_name(def).into()
                }
                _ => self.go_type(schema),
            };
        }
        match schema_type(schema) {
            Some("string") if schema.get("format").and_then(Value::as_str) == Some("byte") => "[]uint8".into(),
            Some("string") => "string".into(),
            Some("boolean") => "bool".into(),
            Some("integer") => match schema.get("format").and_then(Value::as_str) {
                Some("int32") => "int32".into(),
                Some("int64") => "int64".into(),
                _ => "int".into(),
            },
            Some("number") => "float64".into(),
            Some("array") => format!("[]{}", self.go_type(schema.get("items").unwrap_or(&Value::Null))),
            Some("object") => match schema.get("additionalProperties") {
                Some(inner) if inner.is_object() => format!("map[string]{}", self.go_type(inner)),
                _ => "map[string]interface {}".into(),
            },
            _ => "interface {}".into(),
        }
    }

    fn mismatch(value_desc: String, struct_name: &str, go_path: &[String], go_type: String) -> DecodeError {
        if go_path.is_empty() {
            DecodeError(format!("json: cannot unmarshal {value_desc} into Go value of type {go_type}"))
        } else {
            DecodeError(format!(
                "json: cannot unmarshal {value_desc} into Go struct field {struct_name}.{} of type {go_type}",
                go_path.join(".")
            ))
        }
    }

    fn walk(
        &mut self,
        schema: &'static Value,
        def: Option<&str>,
        value: &mut Value,
        path: &str,
        go_path: &mut Vec<String>,
        struct_name_here: &str,
    ) -> Result<(), DecodeError> {
        let (schema, ref_def) = self.resolve(schema);
        let def = ref_def.or(def);
        if value.is_null() {
            return Ok(());
        }
        match def {
            Some(QUANTITY) => return quantity(value),
            Some(INT_OR_STRING) => {
                return match value {
                    Value::String(_) => Ok(()),
                    Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Ok(()),
                    Value::Number(n) => {
                        Err(Self::mismatch(format!("number {n}"), struct_name_here, go_path, "int32".into()))
                    }
                    other => Err(Self::mismatch(json_kind(other).into(), struct_name_here, go_path, "int32".into())),
                };
            }
            Some(TIME | MICRO_TIME) => {
                return match value {
                    Value::String(s) if s.parse::<jiff::Timestamp>().is_ok() => Ok(()),
                    Value::String(s) => Err(DecodeError(format!(
                        "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                        crate::model::status::go_quote(s),
                        crate::model::status::go_quote(s)
                    ))),
                    other => Err(Self::mismatch(json_kind(other).into(), struct_name_here, go_path, "string".into())),
                };
            }
            _ => {}
        }
        let want = schema_type(schema).unwrap_or(if schema.get("properties").is_some() { "object" } else { "" });
        let value_kind = json_kind(value);
        let type_error = |w: &Walker| Self::mismatch(value_kind.into(), struct_name_here, go_path, w.go_type(schema));
        match want {
            "string" => value.is_string().then_some(()).ok_or_else(|| type_error(self)),
            "boolean" => value.is_boolean().then_some(()).ok_or_else(|| type_error(self)),
            "number" => value.is_number().then_some(()).ok_or_else(|| type_error(self)),
            "integer" => match value {
                Value::Number(n) => {
                    let fits = match schema.get("format").and_then(Value::as_str) {
                        Some("int32") => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                        _ => n.as_i64().is_some(),
                    };
                    if fits {
                        Ok(())
                    } else {
                        Err(Self::mismatch(format!("number {n}"), struct_name_here, go_path, self.go_type(schema)))
                    }
                }
                _ => Err(type_error(self)),
            },
            "array" => {
                if !value.is_array() {
                    return Err(type_error(self));
                }
                let Value::Array(items) = value else { unreachable!() };
                let item_schema = schema.get("items").unwrap_or(&Value::Null);
                for (i, item) in items.iter_mut().enumerate() {
                    self.walk(item_schema, None, item, &format!("{path}[{i}]"), go_path, struct_name_here)?;
                }
                Ok(())
            }
            "object" => {
                if !value.is_object() {
                    return Err(type_error(self));
                }
                let Value::Object(map) = value else { unreachable!() };
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    let here = def.map(struct_name).unwrap_or(struct_name_here);
                    let mut drop = Vec::new();
                    for (k, v) in map.iter_mut() {
                        let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        match props.get(k) {
                            Some(_) if v.is_null() => drop.push(k.clone()),
                            Some(prop) => {
                                go_path.push(k.clone());
                                let r = self.walk(prop, None, v, &child, go_path, here);
                                go_path.pop();
                                r?;
                            }
                            None => {
                                self.unknown.push(child);
                                drop.push(k.clone());
                            }
                        }
                    }
                    for k in drop {
                        map.remove(&k);
                    }
                } else if let Some(inner) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    for (k, v) in map.iter_mut() {
                        self.walk(inner, None, v, &format!("{path}[{k}]"), go_path, struct_name_here)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Deserialize `value` into the k8s-openapi 1.33 type of the kind: the typed decode the
/// schema walk above mirrors, kept as a second check (a body it accepts but the generated
/// types reject is still a 400). Err carries serde's message.
pub fn typed_decode(group: &str, kind: &str, value: &Value) -> Result<(), String> {
    use k8s_openapi::api::{
        apps, authentication, authorization, coordination, core, discovery, events, networking, policy, rbac,
    };
    macro_rules! decode {
        ($($g:literal $k:literal => $t:ty),* $(,)?) => {
            match (group, kind) {
                $(($g, $k) => serde_json::from_value::<$t>(value.clone()).map(|_| ()).map_err(|e| e.to_string()),)*
                _ => Ok(()),
            }
        };
    }
    decode! {
        "" "ConfigMap" => core::v1::ConfigMap,
        "" "Endpoints" => core::v1::Endpoints,
        "" "LimitRange" => core::v1::LimitRange,
        "" "Event" => core::v1::Event,
        "" "Namespace" => core::v1::Namespace,
        "" "Node" => core::v1::Node,
        "" "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim,
        "" "Pod" => core::v1::Pod,
        "" "ResourceQuota" => core::v1::ResourceQuota,
        "" "Secret" => core::v1::Secret,
        "" "ServiceAccount" => core::v1::ServiceAccount,
        "" "Service" => core::v1::Service,
        "apps" "ControllerRevision" => apps::v1::ControllerRevision,
        "apps" "Deployment" => apps::v1::Deployment,
        "apps" "ReplicaSet" => apps::v1::ReplicaSet,
        "apps" "StatefulSet" => apps::v1::StatefulSet,
        "authentication.k8s.io" "SelfSubjectReview" => authentication::v1::SelfSubjectReview,
        "authorization.k8s.io" "SelfSubjectAccessReview" => authorization::v1::SelfSubjectAccessReview,
        "authorization.k8s.io" "SelfSubjectRulesReview" => authorization::v1::SelfSubjectRulesReview,
        "authorization.k8s.io" "SubjectAccessReview" => authorization::v1::SubjectAccessReview,
        "coordination.k8s.io" "Lease" => coordination::v1::Lease,
        "discovery.k8s.io" "EndpointSlice" => discovery::v1::EndpointSlice,
        "events.k8s.io" "Event" => events::v1::Event,
        "networking.k8s.io" "IngressClass" => networking::v1::IngressClass,
        "networking.k8s.io" "Ingress" => networking::v1::Ingress,
        "networking.k8s.io" "NetworkPolicy" => networking::v1::NetworkPolicy,
        "networking.k8s.io" "ServiceCIDR" => networking::v1::ServiceCIDR,
        "policy" "PodDisruptionBudget" => policy::v1::PodDisruptionBudget,
        "rbac.authorization.k8s.io" "ClusterRoleBinding" => rbac::v1::ClusterRoleBinding,
        "rbac.authorization.k8s.io" "ClusterRole" => rbac::v1::ClusterRole,
        "rbac.authorization.k8s.io" "RoleBinding" => rbac::v1::RoleBinding,
        "rbac.authorization.k8s.io" "Role" => rbac::v1::Role,
    }
}

/// resource.Quantity's `UnmarshalJSON` (staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go).
fn quantity(value: &Value) -> Result<(), DecodeError> {
    const MSG: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    let s = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err(DecodeError(MSG.into())),
    };
    let body = s.strip_prefix(['+', '-']).unwrap_or(&s);
    let digits = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits);
    let suffix_ok = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"]
        .contains(&suffix)
        || (suffix.starts_with(['e', 'E'])
            && suffix[1..].trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit()));
    if number.is_empty() || number == "." || !suffix_ok {
        return Err(DecodeError(MSG.into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_mismatch_reads_like_encoding_json() {
        let mut body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "three"}});
        assert_eq!(
            check("io.k8s.api.apps.v1.Deployment", &mut body),
            Err(DecodeError(
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32".into()
            ))
        );
        let mut body = json!({"spec": {"template": {"spec": {"containers": {}}}}});
        assert_eq!(
            check("io.k8s.api.apps.v1.Deployment", &mut body).unwrap_err().0,
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
        );
    }

    #[test]
    fn unknown_fields_carry_list_indices() {
        let mut body =
            json!({"spec": {"foo": 1, "template": {"spec": {"containers": [{"name": "a", "bogus": true}]}}}});
        assert_eq!(
            check("io.k8s.api.apps.v1.Deployment", &mut body).unwrap(),
            vec!["spec.foo".to_string(), "spec.template.spec.containers[0].bogus".to_string()]
        );
        assert_eq!(body, json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}));
    }

    #[test]
    fn every_served_kind_has_a_generated_type() {
        for r in crate::model::resources::RESOURCES {
            let obj = json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": {"name": "x"}});
            let bad = json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": {"name": 1}});
            assert!(typed_decode(r.group, r.kind, &obj).is_ok(), "{}", r.kind);
            assert!(typed_decode(r.group, r.kind, &bad).is_err(), "{} has no generated type", r.kind);
        }
    }

    #[test]
    fn quantities_and_int_or_string() {
        assert!(quantity(&json!("500m")).is_ok());
        assert!(quantity(&json!("1Gi")).is_ok());
        assert!(quantity(&json!(2)).is_ok());
        assert!(quantity(&json!("lots")).is_err());
        let mut svc = json!({"spec": {"ports": [{"port": 80, "targetPort": {"x": 1}}]}});
        assert_eq!(
            check("io.k8s.api.core.v1.Service", &mut svc).unwrap_err().0,
            "json: cannot unmarshal object into Go struct field ServicePort.spec.ports.targetPort of type int32"
        );
    }
}
