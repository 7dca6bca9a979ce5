//! Server-side apply and `Update` ownership tracking: the field manager chain of
//! kube-apiserver over structured-merge-diff's updater.
// kubernetes: staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/
//   fieldmanager.go, versioncheck.go, lastappliedupdater.go, lastappliedmanager.go,
//   skipnonapplied.go, capmanagers.go, buildmanagerinfo.go, managedfieldsupdater.go,
//   stripmeta.go, structuredmerge.go, managedfields.go, conflict.go
// structured-merge-diff: merge/update.go (Updater.Apply, Updater.Update, prune)

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::fieldpath::{PathElement, Set, path_string};
use super::schema::{Schema, Ty};
use super::typed::{
    Comparison, compare, ensure_named_fields_are_members, errors_text, go_shape, go_shape_pair, merge, remove_items,
    to_field_set, validate,
};
use super::types::{ApplyError, Conflict, Gvk, MergeError, Operation};
use super::value::{equal, go_json, go_json_string, strip_nulls};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Manager names with special meaning in the chain.
const KUBECTL: &str = "kubectl";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
const ANCIENT_CHANGES: &str = "ancient-changes";
/// capmanagers.go: DefaultMaxUpdateManagers.
const MAX_UPDATE_MANAGERS: usize = 10;
/// apimachinery validation: TotalAnnotationSizeLimitB.
const ANNOTATIONS_SIZE_LIMIT: usize = 256 * 1024;

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// A managedFields entry's identity: apiVersion counts only for `Update` (appliers keep one
/// entry whatever version they apply with).
// managedfields.go: BuildManagerIdentifier
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ManagerId {
    manager: String,
    operation: Operation,
    api_version: String,
    subresource: String,
}

impl ManagerId {
    fn new(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> ManagerId {
        let api_version = if operation == Operation::Update { api_version } else { "" };
        ManagerId {
            manager: manager.into(),
            operation,
            api_version: api_version.into(),
            subresource: subresource.into(),
        }
    }

    /// The JSON identifier kube-apiserver keys managers by (and sorts conflicts by).
    fn identifier(&self) -> String {
        let mut out = String::from("{");
        let mut field = |name: &str, value: &str| {
            if !value.is_empty() {
                if out.len() > 1 {
                    out.push(',');
                }
                go_json_string(name, &mut out);
                out.push(':');
                go_json_string(value, &mut out);
            }
        };
        field("manager", &self.manager);
        field("operation", self.operation.as_str());
        field("apiVersion", &self.api_version);
        field("subresource", &self.subresource);
        out.push('}');
        out
    }
}

#[derive(Debug, Clone)]
struct Entry {
    set: Set,
    api_version: String,
    time: Option<String>,
}

type Managed = BTreeMap<ManagerId, Entry>;

fn time_seconds(time: &Option<String>) -> i64 {
    time.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok()).map_or(0, |t| t.as_second())
}

/// RFC 3339 in UTC with whole seconds, as `metav1.Time` marshals.
fn normalize_time(now: &str) -> String {
    match now.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => now.to_string(),
    }
}

// managedfields.go: DecodeManagedFields
fn decode_managed_fields(object: Option<&Value>) -> Result<Managed, String> {
    let mut managed = Managed::new();
    let entries = match object.and_then(|o| o.pointer("/metadata/managedFields")) {
        None | Some(Value::Null) => return Ok(managed),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err("managedFields must be a list".into()),
    };
    for (i, entry) in entries.iter().enumerate() {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        if text("apiVersion").is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => return Err(format!("invalid fieldsType {other:?} in managed fields entry {i}")),
        }
        let set = match entry.get("fieldsV1") {
            None | Some(Value::Null) => Set::default(),
            Some(fields) => {
                Set::from_fields_v1(fields).map_err(|e| format!("error decoding versioned set from {entry}: {e}"))?
            }
        };
        let id = ManagerId::new(text("manager"), operation, text("apiVersion"), text("subresource"));
        let time = entry.get("time").and_then(Value::as_str).map(String::from);
        managed.insert(id, Entry { set, api_version: text("apiVersion").into(), time });
    }
    Ok(managed)
}

// managedfields.go: encodeManagedFields, sortEncodedManagedFields
fn encode_managed_fields(managed: &Managed) -> Option<Value> {
    if managed.is_empty() {
        return None;
    }
    let mut entries: Vec<(&ManagerId, &Entry)> = managed.iter().collect();
    entries.sort_by(|(a, ae), (b, be)| {
        (a.operation.as_str(), time_seconds(&ae.time), &a.manager, &ae.api_version, &a.subresource).cmp(&(
            b.operation.as_str(),
            time_seconds(&be.time),
            &b.manager,
            &be.api_version,
            &b.subresource,
        ))
    });
    let encoded = entries.into_iter().map(|(id, entry)| {
        let mut out = Map::new();
        if !id.manager.is_empty() {
            out.insert("manager".into(), json!(id.manager));
        }
        out.insert("operation".into(), json!(id.operation.as_str()));
        out.insert("apiVersion".into(), json!(entry.api_version));
        if let Some(time) = &entry.time {
            out.insert("time".into(), json!(time));
        }
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), entry.set.to_fields_v1());
        if !id.subresource.is_empty() {
            out.insert("subresource".into(), json!(id.subresource));
        }
        Value::Object(out)
    });
    Some(Value::Array(encoded.collect()))
}

fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let root = object.as_object_mut()?;
    let metadata = root.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    metadata.as_object_mut()
}

fn set_managed_fields(object: &mut Value, managed: &Managed) {
    if let Some(metadata) = metadata_mut(object) {
        match encode_managed_fields(managed) {
            Some(entries) => {
                metadata.insert("managedFields".into(), entries);
            }
            None => {
                metadata.shift_remove("managedFields");
            }
        }
    }
}

/// A copy of the object without its `managedFields` (which are not copied).
fn without_managed_fields(object: &Value) -> Value {
    match object {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), if k == "metadata" { metadata_without_managed_fields(v) } else { v.clone() }))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn metadata_without_managed_fields(metadata: &Value) -> Value {
    match metadata {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| k.as_str() != "managedFields").map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => other.clone(),
    }
}

/// Fields the apiserver never attributes to a manager.
// stripmeta.go: NewStripMetaManager
static STRIPPED: std::sync::LazyLock<Set> = std::sync::LazyLock::new(strip_set);

fn strip_set() -> Set {
    let mut set = Set::default();
    let field = |n: &str| PathElement::Field(n.into());
    set.insert(&[field("apiVersion")]);
    set.insert(&[field("kind")]);
    set.insert(&[field("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

/// One apply or update request: the kind's schema, subresource and time.
pub(crate) struct Request<'s> {
    gvk: Gvk,
    root: Ty<'s>,
    api_version: String,
    subresource: String,
    /// Fields the resource's strategy resets (`GetResetFields`): `status` on the main
    /// resource, `spec` on the status subresource.
    ignored: Set,
    now: String,
}

impl<'s> Request<'s> {
    pub(crate) fn new(schema: &'s Schema, gvk: &Gvk, subresource: &str, now: &str) -> Request<'s> {
        let root = schema.root(gvk);
        let mut ignored = Set::default();
        let reset = match subresource {
            "" => "status",
            "status" => "spec",
            _ => "",
        };
        if root.declared_field(reset).is_some() {
            ignored.insert(&[PathElement::Field(reset.into())]);
        }
        Request {
            gvk: gvk.clone(),
            root,
            api_version: gvk.api_version(),
            subresource: subresource.into(),
            ignored,
            now: normalize_time(now),
        }
    }

    fn id(&self, manager: &str, operation: Operation) -> ManagerId {
        ManagerId::new(manager, operation, &self.api_version, &self.subresource)
    }

    fn shape(&self, object: &Value) -> Value {
        go_shape(self.root, object)
    }

    /// structured-merge-diff `Updater.update`: fields whose value changes leave every other
    /// manager (or conflict, without force); removed fields leave every other manager.
    fn update_managers(
        &self,
        old: &Value,
        new: &Value,
        managed: &mut Managed,
        workflow: &ManagerId,
        force: bool,
    ) -> Result<Comparison, Vec<(ManagerId, Set)>> {
        let cmp = compare(self.root, old, new).filter(&self.ignored);
        if !force {
            let changed = cmp.modified.union(&cmp.added);
            let conflicts: Vec<(ManagerId, Set)> = managed
                .iter()
                .filter(|(id, _)| *id != workflow)
                .map(|(id, entry)| (id.clone(), entry.set.intersection(&changed)))
                .filter(|(_, set)| !set.is_empty())
                .collect();
            if !conflicts.is_empty() {
                return Err(conflicts);
            }
        }
        for (_, entry) in managed.iter_mut().filter(|(id, _)| *id != workflow) {
            for changed in [&cmp.modified, &cmp.added, &cmp.removed] {
                entry.set.remove(changed, false);
            }
        }
        managed.retain(|_, entry| !entry.set.is_empty());
        Ok(cmp)
    }

    /// An `Update` by `id` from `old` to `new` (both in Go shape): the manager gains what
    /// changed, and its time moves only when it gained something.
    // managedfieldsupdater.go (Update), structured-merge-diff Updater.Update
    fn record(&self, old: &Value, new: &Value, managed: &mut Managed, id: ManagerId) {
        let current = ManagerId::new("", Operation::Update, "", "current-operation");
        // Forced: an update never conflicts.
        let Ok(Comparison { mut added, modified, .. }) = self.update_managers(old, new, managed, &current, true) else {
            return;
        };
        added.absorb(modified);
        let mut set = added;
        set.remove(&self.ignored, true);
        set.remove(&STRIPPED, false);
        if set.is_empty() {
            return;
        }
        if let Some(previous) = managed.remove(&id) {
            set.absorb(previous.set);
        }
        managed.insert(id, Entry { set, api_version: self.api_version.clone(), time: Some(self.now.clone()) });
    }

    /// Removes what the applier applied last time and no longer applies, unless another
    /// manager (or its new configuration) still owns it.
    // structured-merge-diff: merge/update.go (prune, addBackOwnedItems, addBackDanglingItems)
    fn prune(&self, merged: Value, managed: &Managed, last: &Set) -> Value {
        if last.is_empty() {
            return merged;
        }
        let ensure = |set: &Set| ensure_named_fields_are_members(Some(self.root), set);
        let fields = |value: &Value| ensure(&to_field_set(self.root, value));
        let last = ensure(last);
        let pruned = remove_items(self.root, &merged, &last);
        let owned = managed.values().fold(Set::default(), |all, e| all.union(&e.set));
        let keep = fields(&pruned).union(&ensure(&owned));
        let merged_fields = fields(&merged);
        let pruned = remove_items(self.root, &merged, &merged_fields.difference(&keep));
        let dangling = merged_fields.difference(&fields(&pruned)).intersection(&last);
        remove_items(self.root, &merged, &dangling)
    }

    /// structured-merge-diff `Updater.Apply` plus the per-manager bookkeeping around it.
    /// Returns the new object, or None when applying changes nothing.
    fn apply_once(
        &self,
        live: &Value,
        applied: &Value,
        managed: &mut Managed,
        id: &ManagerId,
        force: bool,
    ) -> Result<Option<Value>, Vec<(ManagerId, Set)>> {
        let merged = merge(self.root, Some(live), Some(applied)).unwrap_or_else(|| json!({}));
        let last = managed.get(id).map(|e| e.set.clone()).unwrap_or_default();
        let set = to_field_set(self.root, applied).recursive_difference(&self.ignored);
        let time = managed.get(id).and_then(|e| e.time.clone());
        managed.insert(id.clone(), Entry { set, api_version: self.api_version.clone(), time });
        let merged = self.prune(merged, managed, &last);
        let (live_shape, merged_shape) = (self.shape(live), self.shape(&merged));
        self.update_managers(&live_shape, &merged_shape, managed, id, force)?;
        if let Some(entry) = managed.get_mut(id) {
            entry.set.remove(&STRIPPED, false);
            if entry.set.is_empty() {
                managed.remove(id);
            }
        }
        if equal(&live_shape, &merged_shape) {
            return Ok(None);
        }
        if let Some(entry) = managed.get_mut(id) {
            entry.time = Some(self.now.clone());
        }
        Ok(Some(merged))
    }
}

/// Merges the oldest `Update` entries into per-version `ancient-changes` buckets once there
/// are more than ten.
// capmanagers.go: capUpdateManagers
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<ManagerId> = managed.keys().filter(|id| id.operation == Operation::Update).cloned().collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by_key(|id| (time_seconds(&managed[id].time), id.identifier()));
    let mut first_of_version: HashMap<String, ManagerId> = HashMap::new();
    let mut remaining = updaters.len();
    for id in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(entry) = managed.get(&id).cloned() else { continue };
        let bucket = ManagerId::new(ANCIENT_CHANGES, Operation::Update, &entry.api_version, "");
        match first_of_version.get(&entry.api_version) {
            Some(first) => {
                if !managed.contains_key(&bucket)
                    && let Some(moved) = managed.remove(first)
                {
                    managed.insert(bucket.clone(), moved);
                }
                let previous = managed.get(&bucket).map(|e| e.set.clone()).unwrap_or_default();
                managed.remove(&id);
                let merged =
                    Entry { set: entry.set.union(&previous), api_version: entry.api_version, time: entry.time };
                managed.insert(bucket, merged);
                remaining -= 1;
            }
            None => {
                first_of_version.insert(entry.api_version.clone(), id);
            }
        }
    }
}

fn conflicts_from(sets: Vec<(ManagerId, Set)>, managed: &Managed) -> Vec<Conflict> {
    let mut sets = sets;
    sets.sort_by_key(|(id, _)| id.identifier());
    let mut conflicts = Vec::new();
    for (id, set) in sets {
        let api_version = managed.get(&id).map_or_else(|| id.api_version.clone(), |e| e.api_version.clone());
        for path in set.paths() {
            conflicts.push(Conflict {
                manager: id.manager.clone(),
                api_version: api_version.clone(),
                field: path_string(&path),
                operation: id.operation,
                subresource: id.subresource.clone(),
            });
        }
    }
    conflicts
}

impl Conflict {
    /// The manager as kube-apiserver names it: `"helm" using apps/v1` for updaters,
    /// `"kubectl"` for appliers, with `with subresource "status"` when it wrote a subresource.
    // conflict.go: printManager
    pub fn manager_description(&self) -> String {
        let mut out = super::value::go_quote(&self.manager);
        if !self.subresource.is_empty() {
            out = format!("{out} with subresource {}", super::value::go_quote(&self.subresource));
        }
        if self.operation == Operation::Update {
            out = format!("{out} using {}", self.api_version);
        }
        out
    }

    /// The `message` of this conflict's `details.causes[]` entry (type
    /// `FieldManagerConflict`, `field` = [`Conflict::field`]).
    // conflict.go: NewConflictError
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }

    fn identifier(&self) -> String {
        ManagerId::new(&self.manager, self.operation, &self.api_version, &self.subresource).identifier()
    }
}

// conflict.go: getConflictMessage
pub(crate) fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: {}: {}", only.cause_message(), only.field);
    }
    let mut by_manager: BTreeMap<String, Vec<&Conflict>> = BTreeMap::new();
    for conflict in conflicts {
        by_manager.entry(conflict.identifier()).or_default().push(conflict);
    }
    let mut lines = Vec::new();
    for group in by_manager.values() {
        lines.push(format!("conflicts with {}:", group[0].manager_description()));
        lines.extend(group.iter().map(|c| format!("- {}", c.field)));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

fn annotation<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

/// `GroupVersionKind.String()` of an object's apiVersion and kind.
fn gvk_string(object: &Value) -> String {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = match api_version.split('/').collect::<Vec<_>>()[..] {
        [version] => ("", version),
        [group, version] => (group, version),
        _ => ("", ""),
    };
    format!("{group}/{version}, Kind={kind}")
}

/// `namespace/name; gvk` as the field manager names an object in errors.
// structuredmerge.go: objectGVKNN
fn object_gvknn(object: &Value) -> String {
    let meta = |k: &str| object.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}; {}", meta("namespace"), meta("name"), gvk_string(object))
}

impl<'s> Request<'s> {
    /// Fields of a client-side-applied object that kubectl's server-side apply may take over
    /// without conflict: those of the last-applied annotation whose values are still live.
    // lastappliedmanager.go: allowedConflictsFromLastApplied
    fn allowed_from_last_applied(&self, live: &Value) -> Option<Set> {
        let last: Value = serde_json::from_str(annotation(live, LAST_APPLIED).filter(|a| !a.is_empty())?).ok()?;
        if last.get("apiVersion").and_then(Value::as_str) != Some(self.api_version.as_str()) {
            return None;
        }
        if !validate(self.root, &last, false).is_empty() || !validate(self.root, live, false).is_empty() {
            return None;
        }
        let cmp = compare(self.root, &last, &self.shape(live));
        Some(to_field_set(self.root, &last).difference(&cmp.modified).difference(&cmp.added).difference(&cmp.removed))
    }
}

impl Request<'_> {
    /// See [`super::apply`].
    pub(crate) fn apply(
        &self,
        live: Option<&Value>,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApplyError> {
        let gvk = &self.gvk;
        let bad_request = |m: String| ApplyError::Merge(MergeError::BadRequest(m));
        // versioncheck.go
        let applied_gvk = gvk_string(applied);
        if !applied.is_object() || applied_gvk != format!("{}/{}, Kind={}", gvk.group, gvk.version, gvk.kind) {
            return Err(bad_request(format!("invalid object type: {applied_gvk}")));
        }
        // fieldmanager.go: Apply
        let managed = decode_managed_fields(live)
            .map_err(|e| ApplyError::Merge(MergeError::Internal(format!("failed to decode managed fields: {e}"))))?;
        // structuredmerge.go: Apply
        if applied.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
            return Err(bad_request("metadata.managedFields must be nil".into()));
        }
        let errors = validate(self.root, applied, false);
        if !errors.is_empty() {
            let message =
                format!("failed to create typed patch object ({}): {}", object_gvknn(applied), errors_text(&errors));
            return Err(ApplyError::Merge(MergeError::Internal(message)));
        }
        let live = live.map(without_managed_fields);
        let id = self.id(manager, Operation::Apply);
        let run = |force: bool| {
            let mut managed = managed.clone();
            let base = live.clone().unwrap_or_else(|| json!({}));
            // skipnonapplied.go: existing fields of an untracked object belong to before-first-apply.
            if managed.is_empty() && live.is_some() {
                let before = self.id(BEFORE_FIRST_APPLY, Operation::Update);
                self.record(&self.shape(&json!({})), &self.shape(&base), &mut managed, before);
                cap_update_managers(&mut managed);
            }
            let object = self.apply_once(&base, applied, &mut managed, &id, force)?;
            cap_update_managers(&mut managed);
            Ok::<_, Vec<(ManagerId, Set)>>((object.unwrap_or(base), managed))
        };
        let outcome = match run(force) {
            // lastappliedmanager.go: kubectl may take over what its client-side apply set.
            Err(conflicts) if manager == KUBECTL => {
                match live.as_ref().and_then(|l| self.allowed_from_last_applied(l)) {
                    Some(allowed) => {
                        let remaining: Vec<(ManagerId, Set)> = conflicts
                            .into_iter()
                            .map(|(id, set)| (id, set.difference(&allowed)))
                            .filter(|(_, set)| !set.is_empty())
                            .collect();
                        if remaining.is_empty() { run(true) } else { Err(remaining) }
                    }
                    None => Err(conflicts),
                }
            }
            other => other,
        };
        let (mut object, managed) = outcome.map_err(|sets| ApplyError::Conflicts(conflicts_from(sets, &managed)))?;
        // lastappliedupdater.go: kubectl keeps an existing client-side apply annotation current.
        if manager == KUBECTL && annotation(&object, LAST_APPLIED).is_some_and(|a| !a.is_empty()) {
            set_last_applied(&mut object, applied);
        }
        strip_nulls(&mut object);
        set_managed_fields(&mut object, &managed);
        Ok(object)
    }
}

fn set_last_applied(object: &mut Value, applied: &Value) {
    let mut last = applied.clone();
    if let Some(annotations) = last.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.shift_remove(LAST_APPLIED);
    }
    // runtime.Encode(unstructured.UnstructuredJSONScheme, …): json.Encoder output, newline included.
    let encoded = format!("{}\n", go_json(&last));
    let Some(metadata) = metadata_mut(object) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    let Some(annotations) = annotations.as_object_mut() else { return };
    annotations.insert(LAST_APPLIED.into(), Value::String(encoded));
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
    if size > ANNOTATIONS_SIZE_LIMIT {
        annotations.shift_remove(LAST_APPLIED);
    }
}

impl Request<'_> {
    /// See [`super::record_update`].
    pub(crate) fn record_update(&self, old: Option<&Value>, mut new: Value, manager: &str) -> Value {
        // fieldmanager.go: decodeLiveOrNew
        let live_managed = || decode_managed_fields(old).unwrap_or_default();
        let requested = new.pointer("/metadata/managedFields");
        let reset = match requested {
            Some(Value::Array(entries)) => entries.is_empty() || (entries.len() == 1 && entries[0] == json!({})),
            _ => false,
        };
        let mut managed = if !self.subresource.is_empty() {
            live_managed()
        } else if reset {
            Managed::new()
        } else {
            match decode_managed_fields(Some(&new)) {
                Ok(managed) if !managed.is_empty() => managed,
                _ => live_managed(),
            }
        };
        if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.shift_remove("managedFields");
        }
        // skipnonapplied.go: an existing object nobody tracks stays untracked.
        let uid = old.and_then(|o| o.pointer("/metadata/uid")).and_then(Value::as_str).unwrap_or("");
        if managed.is_empty() && !uid.is_empty() {
            return new;
        }
        let empty = json!({});
        let old_metadata = old.and_then(|o| o.get("metadata")).map(metadata_without_managed_fields);
        let (old_shape, new_shape) = go_shape_pair(self.root, old.unwrap_or(&empty), &new, old_metadata.as_ref());
        self.record(&old_shape, &new_shape, &mut managed, self.id(manager, Operation::Update));
        cap_update_managers(&mut managed);
        set_managed_fields(&mut new, &managed);
        new
    }
}
