//! `/openapi/v3`: the index and one OpenAPI 3.0 document per served group version, generated
//! from the 1.33 definitions with the paths, operations and parameters kube-apiserver publishes
//! (staging/src/k8s.io/apiserver/pkg/endpoints/installer.go, kube-openapi's v3 builder).
//!
//! kubectl reads these to verify that PATCH supports `fieldValidation` (its
//! `QueryParamVerifierV3`), to compute client-side apply patches (`PatchMetaFromOpenAPIV3`)
//! and for `kubectl explain`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::model::resources::{RESOURCES, ResourceDef, SubresourceDef};
use crate::model::schema::{definition_for, definitions};

/// The `/openapi/v3` path key of a group version: `api/v1` or `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// Every served group version's documents, keyed by `gv_path`, with their index hashes.
pub struct OpenApi {
    docs: BTreeMap<String, (String, Vec<u8>)>,
}

impl OpenApi {
    pub fn build(git_version: &str) -> Self {
        let mut gvs: BTreeSet<(&str, &str)> = BTreeSet::new();
        for r in RESOURCES {
            gvs.insert((r.group, r.version));
        }
        let docs = gvs
            .into_iter()
            .map(|(g, v)| {
                let doc = serde_json::to_vec(&document(g, v, git_version)).expect("serializable");
                // kube-openapi hashes each document (SHA-512, upper-case hex) for the index.
                let hash = format!("{:X}", sha2::Sha512::digest(&doc));
                (gv_path(g, v), (hash, doc))
            })
            .collect();
        OpenApi { docs }
    }

    /// The `/openapi/v3` discovery index.
    pub fn index(&self) -> Value {
        let paths: Map<String, Value> = self
            .docs
            .iter()
            .map(|(path, (hash, _))| {
                (path.clone(), json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }))
            })
            .collect();
        json!({ "paths": paths })
    }

    /// The document of `api/v1` or `apis/<group>/<version>`.
    pub fn document(&self, path: &str) -> Option<&[u8]> {
        self.docs.get(path).map(|(_, doc)| doc.as_slice())
    }
}

fn group_part(group: &str) -> String {
    // installer.go: the operation id uses the group's first DNS label, camel-cased
    // (rbac.authorization.k8s.io -> RbacAuthorization, core -> Core).
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed
        .split('.')
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn tag(group: &str, version: &str) -> String {
    let g = group_part(group);
    let mut c = g.chars();
    let lower = c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default();
    format!("{lower}_{version}")
}

fn param(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": kind, "uniqueItems": true } })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "description": description, "required": true, "schema": { "type": "string", "uniqueItems": true } })
}

// Parameter descriptions: kube-apiserver's, abridged to their first sentence.
fn dry_run() -> Value {
    param(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    )
}
fn field_manager() -> Value {
    param(
        "fieldManager",
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
    )
}
fn field_validation() -> Value {
    param(
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
    )
}
fn list_params() -> Vec<Value> {
    vec![
        param("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
        param("continue", "string", "The continue option should be set when retrieving more results from the server."),
        param(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        param(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        param("limit", "integer", "limit is a maximum number of responses to return for a list call."),
        param(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        param(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        param("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`."),
        param("timeoutSeconds", "integer", "Timeout for the list/watch call."),
        param(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}
fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        param("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
        param(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
        ),
        param(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
        ),
        param("propagationPolicy", "string", "Whether and how garbage collection will be performed."),
    ]
}

fn schema_ref(def: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{def}") })
}

fn json_content(def: &str) -> Value {
    json!({ "application/json": { "schema": schema_ref(def) } })
}

struct Op<'a> {
    action: &'a str,
    id: String,
    gvk: (&'a str, &'a str, &'a str),
    params: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(&'a str, &'a str, String)>,
}

fn operation(op: Op<'_>, tag: &str) -> Value {
    let mut o = Map::new();
    o.insert("tags".into(), json!([tag]));
    o.insert("operationId".into(), op.id.into());
    if !op.params.is_empty() {
        o.insert("parameters".into(), Value::Array(op.params));
    }
    if let Some(body) = op.body {
        o.insert("requestBody".into(), body);
    }
    let mut responses = Map::new();
    for (code, desc, def) in op.responses {
        responses.insert(code.into(), json!({ "description": desc, "content": json_content(&def) }));
    }
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    o.insert("responses".into(), Value::Object(responses));
    o.insert("x-kubernetes-action".into(), op.action.into());
    o.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({ "group": op.gvk.0, "version": op.gvk.1, "kind": op.gvk.2 }),
    );
    Value::Object(o)
}

fn patch_body() -> Value {
    let schema = schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    json!({ "content": {
        "application/apply-patch+yaml": { "schema": schema },
        "application/json-patch+json": { "schema": schema },
        "application/merge-patch+json": { "schema": schema },
        "application/strategic-merge-patch+json": { "schema": schema },
    }, "required": true })
}

fn body_of(def: &str) -> Value {
    json!({ "content": { "*/*": { "schema": schema_ref(def) } }, "required": true })
}

/// The paths of one resource (collection, item, all-namespaces list, subresources).
fn resource_paths(r: &'static ResourceDef, paths: &mut Map<String, Value>, used: &mut BTreeSet<String>) {
    let Some(def) = definition_for(r.group, r.version, r.kind) else { return };
    let list_def = format!("{def}List");
    used.insert(def.to_string());
    used.insert(list_def.clone());
    let prefix =
        if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
    let (scope, base) = if r.namespaced {
        ("Namespaced", format!("{prefix}/namespaces/{{namespace}}/{}", r.plural))
    } else {
        ("", format!("{prefix}/{}", r.plural))
    };
    let id = |verb: &str, suffix: &str| {
        format!("{verb}{}{}{scope}{}{suffix}", group_part(r.group), capitalize(r.version), r.kind)
    };
    let tag = tag(r.group, r.version);
    let gvk = (r.group, r.version, r.kind);
    let mut scope_params = vec![param("pretty", "string", "If 'true', then the output is pretty printed.")];
    if r.namespaced {
        scope_params.insert(0, path_param("namespace", "object name and auth scope, such as for teams and projects"));
    }

    // Collection.
    let mut coll = Map::new();
    if r.supports("list") {
        coll.insert(
            "get".into(),
            operation(
                Op {
                    action: "list",
                    id: id("list", ""),
                    gvk,
                    params: list_params(),
                    body: None,
                    responses: vec![("200", "OK", list_def.clone())],
                },
                &tag,
            ),
        );
    }
    if r.supports("create") {
        coll.insert(
            "post".into(),
            operation(
                Op {
                    action: "post",
                    id: id("create", ""),
                    gvk,
                    params: vec![dry_run(), field_manager(), field_validation()],
                    body: Some(body_of(def)),
                    responses: vec![
                        ("200", "OK", def.into()),
                        ("201", "Created", def.into()),
                        ("202", "Accepted", def.into()),
                    ],
                },
                &tag,
            ),
        );
    }
    if r.supports("deletecollection") {
        let mut params = delete_params();
        params.extend(list_params());
        coll.insert(
            "delete".into(),
            operation(
                Op {
                    action: "deletecollection",
                    id: format!("delete{}{}Collection{scope}{}", group_part(r.group), capitalize(r.version), r.kind),
                    gvk,
                    params,
                    body: Some(body_of("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")),
                    responses: vec![("200", "OK", "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into())],
                },
                &tag,
            ),
        );
    }
    coll.insert("parameters".into(), Value::Array(scope_params.clone()));
    paths.insert(base.clone(), Value::Object(coll));

    // Item.
    let mut item_params = scope_params.clone();
    item_params.insert(0, path_param("name", &format!("name of the {}", r.kind)));
    let mut item = Map::new();
    item.insert(
        "get".into(),
        operation(
            Op {
                action: "get",
                id: id("read", ""),
                gvk,
                params: vec![],
                body: None,
                responses: vec![("200", "OK", def.into())],
            },
            &tag,
        ),
    );
    item.insert(
        "put".into(),
        operation(
            Op {
                action: "put",
                id: id("replace", ""),
                gvk,
                params: vec![dry_run(), field_manager(), field_validation()],
                body: Some(body_of(def)),
                responses: vec![("200", "OK", def.into()), ("201", "Created", def.into())],
            },
            &tag,
        ),
    );
    item.insert(
        "patch".into(),
        operation(
            Op {
                action: "patch",
                id: id("patch", ""),
                gvk,
                params: vec![dry_run(), field_manager(), field_validation(), param("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.")],
                body: Some(patch_body()),
                responses: vec![("200", "OK", def.into()), ("201", "Created", def.into())],
            },
            &tag,
        ),
    );
    item.insert(
        "delete".into(),
        operation(
            Op {
                action: "delete",
                id: id("delete", ""),
                gvk,
                params: delete_params(),
                body: Some(body_of("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")),
                responses: vec![
                    ("200", "OK", "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into()),
                    ("202", "Accepted", "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into()),
                ],
            },
            &tag,
        ),
    );
    item.insert("parameters".into(), Value::Array(item_params.clone()));
    paths.insert(format!("{base}/{{name}}"), Value::Object(item));

    // List across namespaces.
    if r.namespaced && r.supports("list") {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation(
                Op {
                    action: "list",
                    id: format!("list{}{}{}ForAllNamespaces", group_part(r.group), capitalize(r.version), r.kind),
                    gvk,
                    params: vec![],
                    body: None,
                    responses: vec![("200", "OK", list_def.clone())],
                },
                &tag,
            ),
        );
        let mut params = list_params();
        params.push(param("pretty", "string", "If 'true', then the output is pretty printed."));
        all.insert("parameters".into(), Value::Array(params));
        paths.insert(format!("{prefix}/{}", r.plural), Value::Object(all));
    }

    for sub in r.subresources {
        subresource_path(r, sub, &base, &item_params, &tag, paths, used);
    }
}

fn subresource_path(
    r: &ResourceDef,
    sub: &SubresourceDef,
    base: &str,
    item_params: &[Value],
    tag: &str,
    paths: &mut Map<String, Value>,
    used: &mut BTreeSet<String>,
) {
    let (group, version) =
        if sub.group.is_empty() && sub.version.is_empty() { (r.group, r.version) } else { (sub.group, sub.version) };
    let Some(def) = definition_for(group, version, sub.kind) else { return };
    used.insert(def.to_string());
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let suffix = capitalize(sub.name);
    let name = |verb: &str| format!("{verb}{}{}{scope}{}{suffix}", group_part(r.group), capitalize(r.version), r.kind);
    let gvk = (group, version, sub.kind);
    let mut item = Map::new();
    for verb in sub.verbs {
        let (method, action, op_verb, body) = match *verb {
            "get" if sub.name == "portforward" => ("get", "connect", "connectGet", None),
            "create" if sub.name == "portforward" => ("post", "connect", "connectPost", None),
            "get" => ("get", "get", "read", None),
            "update" => ("put", "put", "replace", Some(body_of(def))),
            "patch" => ("patch", "patch", "patch", Some(patch_body())),
            "create" => ("post", "post", "create", Some(body_of(def))),
            _ => continue,
        };
        let mut params = Vec::new();
        if matches!(method, "put" | "post" | "patch") && action != "connect" {
            params.extend([dry_run(), field_manager(), field_validation()]);
        }
        if method == "patch" {
            params.push(param("force", "boolean", "Force is going to \"force\" Apply requests."));
        }
        let responses = vec![("200", "OK", def.to_string())];
        item.insert(method.into(), operation(Op { action, id: name(op_verb), gvk, params, body, responses }, tag));
    }
    item.insert("parameters".into(), Value::Array(item_params.to_vec()));
    paths.insert(format!("{base}/{{name}}/{}", sub.name), Value::Object(item));
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// One group version's OpenAPI 3.0 document.
pub fn document(group: &str, version: &str, git_version: &str) -> Value {
    let mut paths = Map::new();
    let mut used: BTreeSet<String> = [
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        resource_paths(r, &mut paths, &mut used);
    }
    let defs = definitions();
    let mut schemas = Map::new();
    let mut queue: Vec<String> = used.into_iter().collect();
    while let Some(name) = queue.pop() {
        if schemas.contains_key(&name) {
            continue;
        }
        let Some(def) = defs.get(&name) else { continue };
        collect_refs(def, &mut queue);
        schemas.insert(name.clone(), to_v3(def));
    }
    let schemas: Map<String, Value> = {
        let mut sorted: Vec<(String, Value)> = schemas.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.into_iter().collect()
    };
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": git_version },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "BearerToken": { "type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header" } }
        }
    })
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r.rsplit('/').next().unwrap_or(r).to_string());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Convert a JSON-schema definition of the data file into OpenAPI 3.0 form: single `type`
/// strings, `#/components/schemas/` references, `allOf` wrapping of references with sibling
/// keywords (as kube-openapi emits them), no generator-only `enum` on apiVersion/kind.
fn to_v3(v: &Value) -> Value {
    let Value::Object(m) = v else { return v.clone() };
    let mut out = Map::new();
    for (k, val) in m {
        match k.as_str() {
            "type" => {
                let t = match val {
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").map(Value::from),
                    other => Some(other.clone()),
                };
                if let Some(t) = t {
                    out.insert(k.clone(), t);
                }
            }
            "$ref" => {
                let name = val.as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default();
                out.insert(k.clone(), format!("#/components/schemas/{name}").into());
            }
            "properties" => {
                let props: Map<String, Value> = val
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| {
                        let mut p = to_v3(p);
                        if (name == "apiVersion" || name == "kind")
                            && let Some(o) = p.as_object_mut()
                        {
                            o.remove("enum");
                        }
                        (name.clone(), p)
                    })
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" => {
                out.insert(k.clone(), to_v3(val));
            }
            "oneOf" | "allOf" | "anyOf" => {
                out.insert(k.clone(), Value::Array(val.as_array().into_iter().flatten().map(to_v3).collect()));
            }
            _ => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    if out.contains_key("$ref") && out.len() > 1 {
        let r = out.remove("$ref").expect("checked");
        let mut wrapped = Map::new();
        wrapped.insert("allOf".into(), json!([{ "$ref": r }]));
        wrapped.extend(out);
        return Value::Object(wrapped);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_declare_the_parameters_kubectl_checks() {
        // kubectl's QueryParamVerifierV3 looks for `fieldValidation` among the PATCH
        // parameters of the operation whose x-kubernetes-group-version-kind matches.
        let doc = document("apps", "v1", "v1.33.1");
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedStatefulSet");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "StatefulSet"})
        );
        let names: Vec<&str> =
            patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        for p in ["dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(names.contains(&p), "{p} missing from {names:?}");
        }
        let sts = &doc["components"]["schemas"]["io.k8s.api.apps.v1.StatefulSet"];
        assert_eq!(sts["type"], "object");
        assert_eq!(
            sts["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.StatefulSetSpec"
        );
        assert!(doc["components"]["schemas"]["io.k8s.api.core.v1.Container"].is_object());
    }

    #[test]
    fn operation_ids_follow_the_installer() {
        let doc = document("rbac.authorization.k8s.io", "v1", "v1.33.1");
        assert_eq!(
            doc["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["operationId"],
            "listRbacAuthorizationV1ClusterRole"
        );
        let core = document("", "v1", "v1.33.1");
        assert_eq!(
            core["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["delete"]["operationId"],
            "deleteCoreV1CollectionNamespacedConfigMap"
        );
        assert_eq!(core["paths"]["/api/v1/configmaps"]["get"]["operationId"], "listCoreV1ConfigMapForAllNamespaces");
    }
}
