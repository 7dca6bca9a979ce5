//! Pure translation: virtual object + context → desired host object, and the diffs that decide
//! whether an existing host (or virtual) object needs a write. No I/O: the controllers fetch,
//! call these, and write.
//!
//! Generic metadata follows loft-sh/vcluster v0.15.7
//! `pkg/controllers/syncer/translator/namespaced_translator.go` (`TranslateMetadata`,
//! `TranslateMetadataUpdate`) and `pkg/util/translate/translate.go` (`ResetObjectMetadata`,
//! `GetOwnerReference`).

pub mod configmaps;
pub mod endpoints;
pub mod events;
pub(crate) mod ingressclasses;
pub(crate) mod ingresses;
pub mod kubeconfig;
pub(crate) mod networkpolicies;
pub mod nodehosts;
pub mod nodes;
pub mod pods;
pub mod pvcs;
pub mod secrets;
pub mod security;
pub(crate) mod semantic;
pub mod serviceaccounts;
pub mod services;
pub(crate) mod servicesync;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use vcluster_translate::Translator;
use vcluster_translate::metadata::{self, Map};

/// The object that owns every synced host object (`--set-owner`): the vcluster's Service
/// `--service-name` in the host namespace (v0.15.7 `cmd/vcluster/cmd/start.go` `FindOwner` sets
/// `translate.Owner` to that Service; `GetOwnerReference` makes the reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

/// What every translation needs: the name translator, the owner, `--sync-labels`.
#[derive(Debug, Clone)]
pub struct Context {
    pub translator: Translator,
    pub owner: Option<Owner>,
    pub sync_labels: Vec<String>,
}

impl Context {
    pub fn new(vcluster: &str, host_namespace: &str) -> Self {
        Context { translator: Translator::new(vcluster, host_namespace), owner: None, sync_labels: Vec::new() }
    }

    /// The host namespace.
    pub fn host_namespace(&self) -> &str {
        &self.translator.host_namespace
    }

    /// The owner references of a host object for the virtual object `virtual_meta`: one to the
    /// owner, `controller` mirroring whether the virtual object has a controller owner.
    /// (`GetOwnerReference`)
    pub fn owner_references(&self, virtual_meta: Option<&ObjectMeta>) -> Option<Vec<OwnerReference>> {
        let owner = self.owner.as_ref().filter(|o| !o.name.is_empty() && !o.uid.is_empty())?;
        let is_controller = virtual_meta.is_some_and(has_controller);
        Some(vec![OwnerReference {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
            controller: Some(is_controller),
            block_owner_deletion: None,
        }])
    }

    /// Metadata of the host object for a namespaced virtual object: translated name, the host
    /// namespace, translated labels and annotations (minus `excluded`), owner reference; every
    /// other metadata field reset. (`TranslateMetadata`)
    pub fn host_metadata(&self, virtual_meta: &ObjectMeta, excluded: &[&str]) -> ObjectMeta {
        let name = virtual_meta.name.as_deref().unwrap_or_default();
        let namespace = virtual_meta.namespace.as_deref().unwrap_or_default();
        let uid = virtual_meta.uid.as_deref().unwrap_or_default();
        ObjectMeta {
            name: Some(self.translator.host_name(namespace, name)),
            namespace: Some(self.host_namespace().to_owned()),
            labels: Some(self.translator.host_object_labels(
                virtual_meta.labels.as_ref(),
                namespace,
                &self.sync_labels,
                None,
            )),
            annotations: Some(metadata::host_annotations(
                virtual_meta.annotations.as_ref(),
                None,
                excluded,
                name,
                namespace,
                uid,
            )),
            owner_references: self.owner_references(Some(virtual_meta)),
            ..ObjectMeta::default()
        }
    }

    /// The labels and annotations an existing host object should have; `None` when they already
    /// match. (`TranslateMetadataUpdate`)
    pub fn metadata_update(
        &self,
        virtual_meta: &ObjectMeta,
        host_meta: &ObjectMeta,
        excluded: &[&str],
    ) -> Option<(Map, Map)> {
        let (labels, annotations) = self.desired_labels_annotations(virtual_meta, host_meta, excluded);
        let same = labels == host_meta.labels.clone().unwrap_or_default()
            && annotations == host_meta.annotations.clone().unwrap_or_default();
        (!same).then_some((labels, annotations))
    }

    /// The desired labels and annotations of an existing host object.
    pub fn desired_labels_annotations(
        &self,
        virtual_meta: &ObjectMeta,
        host_meta: &ObjectMeta,
        excluded: &[&str],
    ) -> (Map, Map) {
        let name = virtual_meta.name.as_deref().unwrap_or_default();
        let namespace = virtual_meta.namespace.as_deref().unwrap_or_default();
        let uid = virtual_meta.uid.as_deref().unwrap_or_default();
        let labels = self.translator.host_object_labels(
            virtual_meta.labels.as_ref(),
            namespace,
            &self.sync_labels,
            host_meta.labels.as_ref(),
        );
        let annotations = metadata::host_annotations(
            virtual_meta.annotations.as_ref(),
            host_meta.annotations.as_ref(),
            excluded,
            name,
            namespace,
            uid,
        );
        (labels, annotations)
    }

    /// Whether the host object is this vcluster's (`IsManaged`).
    pub fn is_managed(&self, host_meta: &ObjectMeta) -> bool {
        host_meta.namespace.as_deref() == Some(self.host_namespace())
            && self.translator.is_managed(
                host_meta.name.as_deref().unwrap_or_default(),
                host_meta.labels.as_ref(),
                host_meta.annotations.as_ref(),
            )
    }
}

/// Whether the object has an owner reference with `controller: true` (`metav1.GetControllerOf`).
pub fn has_controller(meta: &ObjectMeta) -> bool {
    meta.owner_references.iter().flatten().any(|o| o.controller == Some(true))
}

/// Whether the object belongs to another controller (`excludePhysical`/`excludeVirtual`):
/// label `vcluster.loft.sh/controlled-by`, or that annotation naming another syncer.
pub fn is_excluded(meta: &ObjectMeta, syncer_name: &str) -> bool {
    let key = metadata::CONTROLLED_BY_LABEL;
    meta.labels.as_ref().and_then(|l| l.get(key)).is_some_and(|v| !v.is_empty())
        || meta.annotations.as_ref().and_then(|a| a.get(key)).is_some_and(|v| !v.is_empty() && v != syncer_name)
}

/// The virtual name and namespace a host object records (`object-name`/`object-namespace`).
pub fn virtual_name_of(host_meta: &ObjectMeta) -> Option<(String, String)> {
    let annotations = host_meta.annotations.as_ref()?;
    let name = annotations.get(vcluster_translate::OBJECT_NAME_ANNOTATION).filter(|n| !n.is_empty())?;
    let namespace = annotations.get(vcluster_translate::OBJECT_NAMESPACE_ANNOTATION).cloned().unwrap_or_default();
    Some((namespace, name.clone()))
}

/// The host's `object-uid` annotation.
pub fn recorded_uid(host_meta: &ObjectMeta) -> Option<&str> {
    host_meta.annotations.as_ref()?.get(metadata::OBJECT_UID_ANNOTATION).map(String::as_str).filter(|u| !u.is_empty())
}

/// A `BTreeMap` from pairs (test helper and small literals).
pub fn map<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared fixtures of the translation tests: the upstream unit-test context (v0.15.7 pkg/util/translate tests: target
    //! namespace `test`, vcluster `vcluster`) with an owner.
    use super::*;

    pub fn ctx() -> Context {
        let mut ctx = Context::new("vcluster", "test");
        ctx.owner = Some(Owner {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: "vcluster".into(),
            uid: "owner-uid".into(),
        });
        ctx
    }

    pub fn meta(namespace: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("7".into()),
            ..ObjectMeta::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ctx, meta};
    use super::*;

    #[test]
    fn host_metadata_resets_and_stamps() {
        let mut v = meta("default", "web");
        v.labels = Some(map([("app", "web")]));
        v.generate_name = Some("web-".into());
        v.finalizers = Some(vec!["x".into()]);
        let h = ctx().host_metadata(&v, &[]);
        assert_eq!(h.name.as_deref(), Some("web-x-default-x-vcluster"));
        assert_eq!(h.namespace.as_deref(), Some("test"));
        assert_eq!(h.uid, None);
        assert_eq!(h.resource_version, None);
        assert_eq!(h.generate_name, None);
        assert_eq!(h.finalizers, None);
        assert_eq!(
            h.labels.unwrap(),
            map([
                // printf %s app | sha256sum → a172cedcae…
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "web"),
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/namespace", "default"),
            ])
        );
        assert_eq!(
            h.annotations.unwrap(),
            map([
                ("vcluster.loft.sh/object-name", "web"),
                ("vcluster.loft.sh/object-namespace", "default"),
                ("vcluster.loft.sh/object-uid", "uid-web"),
            ])
        );
        let owner = &h.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Service", "vcluster", Some(false)));
    }

    #[test]
    fn owner_reference_mirrors_the_virtual_controller() {
        let mut v = meta("default", "web-0");
        v.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "s".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        let refs = ctx().owner_references(Some(&v)).unwrap();
        assert_eq!(refs[0].controller, Some(true));
        let mut no_owner = ctx();
        no_owner.owner = None;
        assert_eq!(no_owner.owner_references(Some(&v)), None);
    }

    #[test]
    fn metadata_update_only_when_needed() {
        let c = ctx();
        let mut v = meta("default", "web");
        v.labels = Some(map([("app", "web")]));
        let h = c.host_metadata(&v, &[]);
        assert_eq!(c.metadata_update(&v, &h, &[]), None);
        v.labels = Some(map([("app", "api")]));
        let (labels, _) = c.metadata_update(&v, &h, &[]).unwrap();
        assert_eq!(labels["vcluster.loft.sh/label-vcluster-x-a172cedcae"], "api");
    }

    #[test]
    fn managed_and_excluded() {
        let c = ctx();
        let v = meta("default", "web");
        let h = c.host_metadata(&v, &[]);
        assert!(c.is_managed(&h));
        let mut other_ns = h.clone();
        other_ns.namespace = Some("elsewhere".into());
        assert!(!c.is_managed(&other_ns));
        let mut controlled = h.clone();
        controlled.labels.as_mut().unwrap().insert("vcluster.loft.sh/controlled-by".into(), "vcluster".into());
        assert!(is_excluded(&controlled, "pod"));
        assert!(!is_excluded(&h, "pod"));
        assert_eq!(virtual_name_of(&h), Some(("default".into(), "web".into())));
        assert_eq!(recorded_uid(&h), Some("uid-web"));
    }
}
