//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`
//! and the aggregated discovery format (`apidiscovery.k8s.io/v2`, what kubectl 1.33 asks for).
//!
//! Shapes: staging/src/k8s.io/apiserver/pkg/endpoints/discovery/{legacy,root,group,version}.go
//! and staging/src/k8s.io/apiserver/pkg/endpoints/discovery/aggregated/handler.go.

use serde_json::{Map, Value, json};

use crate::model::resources::{self, RESOURCES, ResourceDef};

/// `/version` (staging/src/k8s.io/apimachinery/pkg/version/types.go `Info`, 1.33 fields).
pub fn version(git_version: &str) -> Value {
    let trimmed = git_version.trim_start_matches('v');
    let mut parts = trimmed.split(['.', '-', '+']);
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("33").to_string();
    let min_compat_minor = minor.parse::<u32>().map(|m| m.saturating_sub(1).to_string()).unwrap_or_default();
    json!({
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": min_compat_minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-05-15T08:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api` (`APIVersions`).
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }]
    })
}

fn group_entry(group: &str) -> Value {
    let gv = json!({ "groupVersion": format!("{group}/v1"), "version": "v1" });
    json!({ "name": group, "versions": [gv], "preferredVersion": gv })
}

/// `/apis` (`APIGroupList`).
pub fn group_list() -> Value {
    let groups: Vec<Value> = resources::served_groups().map(group_entry).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/<group>` (`APIGroup`), None for a group the simulator does not serve.
pub fn group(group: &str) -> Option<Value> {
    resources::served_groups().find(|g| *g == group).map(|g| {
        let mut entry = group_entry(g);
        let obj = entry.as_object_mut().expect("object");
        let mut out = Map::new();
        out.insert("kind".into(), "APIGroup".into());
        out.insert("apiVersion".into(), "v1".into());
        out.append(obj);
        Value::Object(out)
    })
}

/// `/api/v1` or `/apis/<group>/<version>` (`APIResourceList`).
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let list: Vec<&ResourceDef> = resources::in_group_version(group, version).collect();
    if list.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for r in list {
        let mut entry = Map::new();
        entry.insert("name".into(), r.plural.into());
        entry.insert("singularName".into(), r.singular.into());
        entry.insert("namespaced".into(), r.namespaced.into());
        entry.insert("kind".into(), r.kind.into());
        entry.insert("verbs".into(), json!(r.verbs));
        if !r.short_names.is_empty() {
            entry.insert("shortNames".into(), json!(r.short_names));
        }
        if !r.categories.is_empty() {
            entry.insert("categories".into(), json!(r.categories));
        }
        if !r.is_review() {
            entry.insert("storageVersionHash".into(), r.storage_version_hash().into());
        }
        out.push(Value::Object(entry));
        for sub in r.subresources {
            let mut entry = Map::new();
            entry.insert("name".into(), format!("{}/{}", r.plural, sub.name).into());
            entry.insert("singularName".into(), "".into());
            entry.insert("namespaced".into(), r.namespaced.into());
            if !sub.group.is_empty() || !sub.version.is_empty() {
                entry.insert("group".into(), sub.group.into());
                entry.insert("version".into(), sub.version.into());
            }
            entry.insert("kind".into(), sub.kind.into());
            entry.insert("verbs".into(), json!(sub.verbs));
            out.push(Value::Object(entry));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out }))
}

/// The `Content-Type` of an aggregated discovery response.
pub const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn aggregated_resource(r: &ResourceDef) -> Value {
    let mut e = Map::new();
    e.insert("resource".into(), r.plural.into());
    // kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/endpoints/installer.go
    // `ConvertGroupVersionIntoToDiscovery`: responseKind copies the APIResource's group and
    // version, which are empty unless they differ from the list's (a subresource such as
    // pods/eviction, policy/v1).
    e.insert("responseKind".into(), json!({ "group": "", "version": "", "kind": r.kind }));
    e.insert("scope".into(), if r.namespaced { "Namespaced" } else { "Cluster" }.into());
    e.insert("singularResource".into(), r.singular.into());
    e.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        e.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        e.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                json!({ "subresource": s.name, "responseKind": { "group": s.group, "version": s.version, "kind": s.kind }, "verbs": s.verbs })
            })
            .collect();
        e.insert("subresources".into(), Value::Array(subs));
    }
    Value::Object(e)
}

fn aggregated_group(name: &str) -> Value {
    let resources: Vec<Value> = RESOURCES.iter().filter(|r| r.group == name).map(aggregated_resource).collect();
    let mut metadata = Map::new();
    if !name.is_empty() {
        metadata.insert("name".into(), name.into());
    }
    metadata.insert("creationTimestamp".into(), Value::Null);
    json!({ "metadata": metadata, "versions": [{ "version": "v1", "resources": resources, "freshness": "Current" }] })
}

/// Aggregated discovery for `/api` (core) or `/apis` (every other group).
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> =
        if core { vec![aggregated_group("")] } else { resources::served_groups().map(aggregated_group).collect() };
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_lists_real_verbs_and_short_names() {
        let list = resource_list("apps", "v1").unwrap();
        let sts = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "statefulsets").unwrap();
        assert_eq!(sts["shortNames"], json!(["sts"]));
        assert_eq!(sts["categories"], json!(["all"]));
        assert_eq!(
            sts["verbs"],
            json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
        );
        let scale = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "statefulsets/scale").unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
    }

    #[test]
    fn namespaces_have_no_deletecollection() {
        let core = resource_list("", "v1").unwrap();
        let ns = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "namespaces").unwrap();
        assert_eq!(ns["verbs"], json!(["create", "delete", "get", "list", "patch", "update", "watch"]));
        assert_eq!(ns["namespaced"], false);
    }
}
