//! What an install or upgrade does to each object (pure): the rendered manifests, the manifests
//! of the revisions whose objects may still be live, and the live objects in; apply, prune, keep
//! and refuse decisions out.
//!
//! - Apply every rendered object. A live object of another release, or of none, is refused
//!   unless ownership is taken (helm `pkg/action/validate.go` `existingResourceConflict`).
//! - Prune what the manifests of every revision since the last deployed one hold and the new
//!   render does not — so a failed attempt's objects are not orphaned — but only live objects
//!   whose annotations name this release (never by name alone), with their uid as precondition,
//!   and never one marked `helm.sh/resource-policy: keep` (helm `pkg/kube/client.go` `Update`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ownership::{self, Owner};
use crate::cluster::objects::{ObjectKey, meta_str};
use crate::render::Manifest;
use crate::render::order::uninstall_rank;

/// Everything planning looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInput<'a> {
    pub(crate) release: &'a str,
    pub(crate) namespace: &'a str,
    /// The new render (or the revision rolled back to), in install order.
    pub(crate) desired: &'a [Manifest],
    /// The objects of every revision since the last deployed one (duplicates allowed).
    pub(crate) previous: &'a [Manifest],
    /// The live objects that exist among the desired and previous ones; a key missing here does
    /// not exist.
    pub(crate) live: &'a BTreeMap<ObjectKey, Value>,
    /// `--take-ownership`: adopt objects of other releases or of none.
    pub(crate) take_ownership: bool,
}

/// The state of a rendered object before the apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Existing {
    Absent,
    /// Live and annotated as this release's.
    Ours,
    /// Live, owned by someone else, taken with `--take-ownership`.
    Adopted(Owner),
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApplyStep {
    /// Index into `desired`.
    pub(crate) index: usize,
    pub(crate) key: ObjectKey,
    pub(crate) existing: Existing,
    /// The live resourceVersion (to tell `configured` from `unchanged`).
    pub(crate) resource_version: Option<String>,
    /// Helm managers' fields to move to our manager first: the new managedFields and the
    /// managers taken over.
    pub(crate) take_over: Option<(Vec<Value>, Vec<String>)>,
}

/// One object to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PruneStep {
    pub(crate) key: ObjectKey,
    pub(crate) api_version: String,
    pub(crate) uid: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Plan {
    /// In the order of `desired` (install order).
    pub(crate) applies: Vec<ApplyStep>,
    /// In Helm's uninstall order.
    pub(crate) prunes: Vec<PruneStep>,
    /// Left in place: `helm.sh/resource-policy: keep`.
    pub(crate) kept: Vec<ObjectKey>,
    /// Left in place: no longer this release's (with the reason).
    pub(crate) disowned: Vec<(ObjectKey, String)>,
    /// Rendered objects that exist and are not this release's (with Helm's reason).
    pub(crate) refused: Vec<(ObjectKey, String)>,
}

pub(crate) fn plan(input: &PlanInput) -> Plan {
    let mut out = Plan::default();
    let wanted: BTreeSet<ObjectKey> = input.desired.iter().map(ObjectKey::of).collect();
    for (index, manifest) in input.desired.iter().enumerate() {
        let key = ObjectKey::of(manifest);
        let Some(live) = input.live.get(&key) else {
            out.applies.push(ApplyStep {
                index,
                key,
                existing: Existing::Absent,
                resource_version: None,
                take_over: None,
            });
            continue;
        };
        let owner = ownership::owner(live, input.release, input.namespace);
        let existing = match ownership::ownership_problem(&owner, input.release, input.namespace) {
            None => Existing::Ours,
            Some(_) if input.take_ownership => Existing::Adopted(owner),
            Some(problem) => {
                out.refused.push((key, problem));
                continue;
            }
        };
        let take_over = (existing == Existing::Ours)
            .then(|| ownership::take_over_helm_fields(live, &manifest.api_version))
            .flatten();
        let resource_version = meta_str(live, "resourceVersion").map(str::to_owned);
        out.applies.push(ApplyStep { index, key, existing, resource_version, take_over });
    }

    let mut seen = BTreeSet::new();
    for manifest in input.previous.iter().rev() {
        let key = ObjectKey::of(manifest);
        if wanted.contains(&key) || !seen.insert(key.clone()) {
            continue;
        }
        let Some(live) = input.live.get(&key) else { continue };
        if ownership::owner(live, input.release, input.namespace) != Owner::ThisRelease {
            out.disowned.push((key, "its release annotations no longer name this release".into()));
        } else if ownership::keep(live) {
            out.kept.push(key);
        } else if let Some(uid) = meta_str(live, "uid") {
            out.prunes.push(PruneStep { key, api_version: manifest.api_version.clone(), uid: uid.to_owned() });
        }
    }
    // Helm's uninstall order (`vcluster delete` plans with nothing desired: everything is pruned).
    out.prunes.sort_by(|a, b| uninstall_rank(&a.key.kind).cmp(&uninstall_rank(&b.key.kind)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ownership::{RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
    use serde_json::json;

    fn manifest(kind: &str, name: &str) -> Manifest {
        let api_version =
            if kind.starts_with("Cluster") || kind == "Role" { "rbac.authorization.k8s.io/v1" } else { "v1" };
        let namespace = (!kind.starts_with("Cluster")).then(|| "ns".to_string());
        Manifest {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace,
            name: name.into(),
            template: "t",
            object: json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}),
        }
    }

    fn live(release: Option<&str>, extra: Value) -> Value {
        let mut annotations = json!({});
        if let Some(r) = release {
            annotations = json!({RELEASE_NAME_ANNOTATION: r, RELEASE_NAMESPACE_ANNOTATION: "ns"});
        }
        let mut meta = json!({"uid": "uid-1", "resourceVersion": "7", "annotations": annotations});
        if let (Some(m), Value::Object(e)) = (meta.as_object_mut(), extra) {
            m.extend(e);
        }
        json!({"metadata": meta})
    }

    fn run(desired: &[Manifest], previous: &[Manifest], live: &[(&Manifest, Value)], take: bool) -> Plan {
        let live: BTreeMap<ObjectKey, Value> = live.iter().map(|(m, v)| (ObjectKey::of(m), v.clone())).collect();
        plan(&PlanInput { release: "vc", namespace: "ns", desired, previous, live: &live, take_ownership: take })
    }

    #[test]
    fn fresh_objects_are_applied_and_foreign_ones_refused() {
        let desired = [manifest("ServiceAccount", "vc"), manifest("Service", "vc"), manifest("ConfigMap", "cm")];
        let p = run(
            &desired,
            &[],
            &[(&desired[1], live(Some("vc"), json!({}))), (&desired[2], live(Some("other"), json!({})))],
            false,
        );
        assert_eq!(p.applies.len(), 2);
        assert_eq!(p.applies.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1], "in the order of desired");
        assert_eq!(p.applies[0].existing, Existing::Absent);
        assert_eq!(p.applies[1].existing, Existing::Ours);
        assert_eq!(p.applies[1].resource_version.as_deref(), Some("7"));
        assert_eq!(p.refused.len(), 1);
        assert_eq!(p.refused[0].0.name, "cm");
        let p = run(&desired, &[], &[(&desired[2], live(None, json!({})))], true);
        assert_eq!(p.applies[2].existing, Existing::Adopted(Owner::Nobody));
        assert!(p.refused.is_empty());
    }

    #[test]
    fn prune_only_what_is_ours_not_kept_and_not_rendered() {
        let desired = [manifest("Service", "vc")];
        let old_role = manifest("Role", "ingress");
        let old_cr = manifest("ClusterRole", "vc-ingress");
        let kept = manifest("ConfigMap", "keep-me");
        let stolen = manifest("ConfigMap", "stolen");
        let gone = manifest("ConfigMap", "gone");
        let previous = [
            old_cr.clone(),
            kept.clone(),
            stolen.clone(),
            old_role.clone(),
            gone,
            desired[0].clone(),
            old_role.clone(),
        ];
        let p = run(
            &desired,
            &previous,
            &[
                (&old_role, live(Some("vc"), json!({"uid": "role-uid"}))),
                (&old_cr, live(Some("vc"), json!({"uid": "cr-uid"}))),
                (
                    &kept,
                    live(
                        Some("vc"),
                        json!({"annotations": {
                    RELEASE_NAME_ANNOTATION: "vc", RELEASE_NAMESPACE_ANNOTATION: "ns", "helm.sh/resource-policy": "keep"}}),
                    ),
                ),
                (&stolen, live(Some("someone-else"), json!({}))),
            ],
            false,
        );
        let pruned: Vec<(String, String)> = p.prunes.iter().map(|s| (s.key.to_string(), s.uid.clone())).collect();
        assert_eq!(
            pruned,
            [("Role/ingress".to_string(), "role-uid".to_string()), ("ClusterRole/vc-ingress".into(), "cr-uid".into())],
            "uninstall order, each once, with its uid"
        );
        assert_eq!(p.kept.iter().map(ToString::to_string).collect::<Vec<_>>(), ["ConfigMap/keep-me"]);
        assert_eq!(p.disowned.len(), 1);
    }

    #[test]
    fn helm_managed_fields_are_taken_over_on_our_objects_only() {
        let desired = [manifest("Service", "vc"), manifest("ConfigMap", "cm")];
        let helm = json!({"managedFields": [{"manager": "helm", "operation": "Update", "apiVersion": "v1",
                                              "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]});
        let p = run(
            &desired,
            &[],
            &[(&desired[0], live(Some("vc"), helm.clone())), (&desired[1], live(Some("other"), helm))],
            true,
        );
        assert_eq!(p.applies[0].take_over.as_ref().unwrap().1, ["helm"]);
        assert!(p.applies[1].take_over.is_none(), "an adopted object's managers conflict unless forced");
    }
}
