//! The object store: every object as JSON under one global resourceVersion counter (as etcd
//! revisions), the event history watches resume from, compaction, and consistent snapshots at
//! an older resourceVersion (for `resourceVersionMatch=Exact` and paginated lists).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::index::Indexes;
use crate::model::jsonpath::object_at;
use crate::model::resources::ResId;

pub use super::key::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub key: Key,
    pub kind: EventType,
    /// The object after the change (for a deletion: its last state, carrying the deletion's
    /// resourceVersion, as etcd watch events do).
    pub object: Arc<Value>,
    /// The object before the change (None for an addition).
    pub prev: Option<Arc<Value>>,
    /// The JSON watch line of this event as each event type, encoded once for all watchers.
    pub json_lines: [std::sync::OnceLock<bytes::Bytes>; 3],
}

pub struct Store {
    objects: BTreeMap<Key, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Event>>,
    /// Every event with a resourceVersion above this one is still in `history`.
    compacted: u64,
    history_limit: usize,
    events: broadcast::Sender<Arc<Event>>,
    index: Indexes,
}

fn set_rv(obj: &mut Value, rv: u64) {
    object_at(obj, &["metadata"]).insert("resourceVersion".into(), rv.to_string().into());
    canonical_order(obj);
}

/// Field order of the Go types' JSON encoding for what every object shares: `kind`,
/// `apiVersion`, `metadata` first, and `ObjectMeta`'s field order inside metadata.
fn canonical_order(obj: &mut Value) {
    const META: &[&str] = &[
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    fn reorder(map: &mut serde_json::Map<String, Value>, first: &[&str]) {
        let mut ordered = serde_json::Map::new();
        for k in first {
            if let Some(v) = map.remove(*k) {
                ordered.insert((*k).to_string(), v);
            }
        }
        ordered.append(map);
        *map = ordered;
    }
    if let Some(m) = obj.as_object_mut() {
        reorder(m, &["kind", "apiVersion", "metadata"]);
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            reorder(meta, META);
        }
    }
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(65536);
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            compacted: 1,
            history_limit,
            events,
            index: Indexes::default(),
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    pub fn get(&self, key: &Key) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Objects of `res` (in `namespace` when given), in key order.
    pub fn list(&self, res: ResId, namespace: Option<&str>) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        let start = Key { res, namespace: namespace.unwrap_or_default().to_string(), name: String::new() };
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.res == res && namespace.is_none_or(|ns| k.namespace == ns))
    }

    /// The objects from `start` on, in key order.
    pub fn range_from(&self, start: Key) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        self.objects.range(start..)
    }

    /// What undoing the events after `rv` to the objects of `res` (in `namespace`) would
    /// change: each key's state at `rv` (None: absent then). None when `rv` is older than the
    /// history.
    pub fn undone_since(
        &self,
        rv: u64,
        res: ResId,
        namespace: Option<&str>,
    ) -> Option<BTreeMap<Key, Option<Arc<Value>>>> {
        let mut undone = BTreeMap::new();
        for e in self.changes_since(rv)? {
            if e.key.res == res && namespace.is_none_or(|ns| e.key.namespace == ns) {
                undone.entry(e.key.clone()).or_insert_with(|| e.prev.clone());
            }
        }
        Some(undone)
    }

    /// The objects of every namespaced resource in `namespace`, in key order.
    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a {
        (0..crate::model::resources::RESOURCES.len()).flat_map(move |res| self.list(res, Some(namespace)))
    }

    /// The secondary indexes over the stored objects.
    pub fn index(&self) -> &Indexes {
        &self.index
    }

    pub fn all(&self) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        self.objects.iter()
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody watches.
        let _ = self.events.send(event);
    }

    /// Store `obj` under `key` with the next resourceVersion; returns the stored object.
    pub fn put(&mut self, key: Key, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        set_rv(&mut obj, self.rv);
        let obj = Arc::new(obj);
        let prev = self.objects.insert(key.clone(), obj.clone());
        if let Some(prev) = &prev {
            self.index.change(&key, prev, false);
        }
        self.index.change(&key, &obj, true);
        let kind = if prev.is_some() { EventType::Modified } else { EventType::Added };
        self.record(Event { rv: self.rv, key, kind, object: obj.clone(), prev, json_lines: Default::default() });
        obj
    }

    /// Remove `key`; returns its last state stamped with the deletion's resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Arc<Value>> {
        let prev = self.objects.remove(key)?;
        self.index.change(key, &prev, false);
        self.rv += 1;
        let mut last = (*prev).clone();
        set_rv(&mut last, self.rv);
        let last = Arc::new(last);
        self.record(Event {
            rv: self.rv,
            key: key.clone(),
            kind: EventType::Deleted,
            object: last.clone(),
            prev: Some(prev),
            json_lines: Default::default(),
        });
        Some(last)
    }

    /// Drop all history: watches and exact reads older than now get 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// Events after `rv` (None when `rv` is older than the history).
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        Some(self.changes_since(rv)?.cloned().collect())
    }

    /// The events after `rv`, oldest first (None when `rv` is older than the history).
    pub fn changes_since(&self, rv: u64) -> Option<impl Iterator<Item = &Arc<Event>>> {
        if rv < self.compacted {
            return None;
        }
        // The history is in resourceVersion order.
        let first = self.history.partition_point(|e| e.rv <= rv);
        Some(self.history.range(first..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> Key {
        Key { res: 0, namespace: "default".into(), name: name.into() }
    }

    #[test]
    fn resource_versions_increase_and_snapshots_undo_later_events() {
        let mut s = Store::new(100);
        let a = s.put(key("a"), json!({"metadata": {"name": "a"}, "v": 1}));
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        let at = s.resource_version();
        s.put(key("a"), json!({"metadata": {"name": "a"}, "v": 2}));
        s.put(key("b"), json!({"metadata": {"name": "b"}}));
        let removed = s.remove(&key("a")).unwrap();
        assert_eq!(removed["metadata"]["resourceVersion"], "5");
        // At `at`, "a" had v 1 and "b" did not exist.
        let undone = s.undone_since(at, 0, Some("default")).unwrap();
        assert_eq!(undone.len(), 2);
        assert_eq!(undone[&key("a")].as_ref().unwrap()["v"], 1);
        assert!(undone[&key("b")].is_none());
        s.compact();
        assert!(s.undone_since(at, 0, None).is_none());
        assert!(s.events_since(s.resource_version()).unwrap().is_empty());
    }

    #[test]
    fn history_limit_compacts_the_oldest_events() {
        let mut s = Store::new(2);
        for i in 0..4 {
            s.put(key(&format!("o{i}")), json!({}));
        }
        assert_eq!(s.compacted(), 3);
        assert!(s.events_since(2).is_none());
        assert_eq!(s.events_since(3).unwrap().len(), 2);
    }
}
