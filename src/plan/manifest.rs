//! The objects of a stored release's manifest, read back (`helm get manifest`).

use crate::cluster::objects::known_resource;
use crate::render::{self, Manifest, RenderError};

/// The objects of a stored release manifest (`helm get manifest`), in install order. Objects
/// without a namespace get the release's when their kind is namespaced (or unknown: charts
/// rarely leave a cluster-scoped kind's namespace out... and a kind this tool does not know is
/// treated as namespaced, which only matters for pruning it).
pub(crate) fn parse_manifest(text: &str, release_namespace: &str) -> Result<Vec<Manifest>, RenderError> {
    let mut out = Vec::new();
    for object in render::parse_documents("(release manifest)", text)? {
        let bad = |message: &str| RenderError::Output { template: "(release manifest)", message: message.into() };
        let str_at = |path: &[&str]| {
            let mut v = &object;
            for p in path {
                v = v.get(*p)?;
            }
            v.as_str().map(str::to_owned)
        };
        let api_version = str_at(&["apiVersion"]).ok_or_else(|| bad("an object without apiVersion"))?;
        let kind = str_at(&["kind"]).ok_or_else(|| bad("an object without kind"))?;
        let name = str_at(&["metadata", "name"]).ok_or_else(|| bad("an object without metadata.name"))?;
        let namespaced = known_resource(&api_version, &kind).is_none_or(|(_, namespaced)| namespaced);
        let namespace =
            namespaced.then(|| str_at(&["metadata", "namespace"]).unwrap_or_else(|| release_namespace.to_owned()));
        out.push(Manifest { api_version, kind, namespace, name, template: "(release manifest)", object });
    }
    render::order::sort_for_install(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::ObjectKey;

    #[test]
    fn manifests_read_back_with_namespaces_and_install_order() {
        let text = "---\n# Source: vcluster/templates/statefulset.yaml\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: vc\n---\n# Source: x\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: vc\n  namespace: elsewhere\n";
        let objects = parse_manifest(text, "ns").unwrap();
        let keys: Vec<String> = objects.iter().map(|m| format!("{}/{} {:?}", m.kind, m.name, m.namespace)).collect();
        assert_eq!(keys, ["ClusterRole/cr None", "Service/vc Some(\"elsewhere\")", "StatefulSet/vc Some(\"ns\")"]);
        assert_eq!(ObjectKey::of(&objects[2]).group, "apps");
        assert!(parse_manifest("kind: Service\nmetadata: {name: x}\n", "ns").is_err());
        assert!(parse_manifest("", "ns").unwrap().is_empty());
    }
}
