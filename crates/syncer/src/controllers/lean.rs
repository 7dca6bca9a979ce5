//! How watched objects are decoded and kept: never with `metadata.managedFields`; pods,
//! ConfigMaps and Secrets packed.
//!
//! No reconcile reads them, yet they are often the larger part of an object, and building them
//! (a `serde_json::Value` tree per entry, `FieldsV1`) was about a tenth of the syncer's CPU time
//! while pods were being synced and a quarter of it at a restart. [`watcher`] decodes each
//! object through [`Lean`], which skips the `managedFields` key of the object's top-level
//! `metadata` while parsing (nothing else: a ConfigMap's data key of that name stays) and hands
//! the plain object on.
//!
//! A PUT built from a watched object then carries no `managedFields`, and the server keeps the
//! live ones (kubernetes v1.33
//! staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/fieldmanager.go
//! `decodeManagedFields`: none given, the live ones).
//!
//! A store of decoded pods costs about 13 KB a pod: k8s-openapi's structs hold every optional
//! field inline (a `Volume` is 3.2 KB, a `Container` 2.1 KB, however few fields are set), and the
//! syncer keeps two pods (virtual and host) per pod. Decoded metadata alone costs about 1 KB an
//! object, most of it the two `BTreeMap` nodes of its labels and annotations (544 bytes each,
//! however few entries). [`Packed`] keeps what stores and watches key on (name, namespace,
//! resourceVersion, deletionTimestamp) and the vcluster's marker labels and annotations the mappers read
//! ([`Stored::index_meta`]), and the whole object as LZ4-compressed JSON, decoded again when a
//! reconcile needs it ([`Stored::object`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use futures::{Stream, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::SyncError;
use vcluster_translate::metadata;

/// `Resource` for a wrapper of `K`: `K`'s kind and API paths, the wrapper's metadata.
macro_rules! resource_of_inner {
    ($wrapper:ident, |$s:ident| $meta:expr, |$m:ident| $meta_mut:expr) => {
        impl<K: Resource> Resource for $wrapper<K> {
            type DynamicType = K::DynamicType;
            type Scope = K::Scope;

            fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
                K::kind(dt)
            }

            fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
                K::group(dt)
            }

            fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
                K::version(dt)
            }

            fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
                K::plural(dt)
            }

            fn meta(&self) -> &ObjectMeta {
                let $s = self;
                $meta
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                let $m = self;
                $meta_mut
            }
        }
    };
}

/// An object of kind `K` decoded without `metadata.managedFields`. Only for reading: the API
/// paths and the object are `K`'s.
#[derive(Clone, Debug)]
pub(crate) struct Lean<K>(pub(crate) K);

resource_of_inner!(Lean, |lean| lean.0.meta(), |lean| lean.0.meta_mut());

impl<'de, K: Deserialize<'de>> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        K::deserialize(Filtered { inner: deserializer, level: Level::Object }).map(Lean)
    }
}

/// The watch configuration of the kinds kept in stores (pods, ConfigMaps, Secrets): first lists
/// in pages of 100 objects. A page is read whole before it is decoded, and at a start every kind
/// lists at once: with kube-runtime's 500 (kube-runtime 5.0.0 src/watcher.rs `Config::default`)
/// the pages in flight were a tenth of the syncer's peak memory over 10,000 pods; 100 costs 160
/// requests more there. (Events, kept in no store and five times as many, keep 500.)
pub(crate) fn stored_config() -> watcher::Config {
    watcher::Config::default().page_size(100)
}

/// `kube::runtime::watcher` over `api`, each object decoded without `managedFields`.
pub(crate) fn watcher<K>(
    api: Api<Lean<K>>,
    config: watcher::Config,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + fmt::Debug + for<'de> Deserialize<'de> + Send + Sync + 'static,
    K::DynamicType: Default,
{
    watcher::watcher(api, config).map_ok(|event| match event {
        Event::Apply(o) => Event::Apply(o.0),
        Event::Delete(o) => Event::Delete(o.0),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(o.0),
        Event::InitDone => Event::InitDone,
    })
}

/// How a store keeps the objects of a kind, and how a reconcile gets one back.
pub(crate) trait Stored:
    Resource<DynamicType = ()> + Clone + fmt::Debug + for<'de> Deserialize<'de> + Send + Sync + 'static
{
    type Object: Resource<DynamicType = ()>;

    fn object(stored: &Arc<Self>) -> Result<Arc<Self::Object>, Box<SyncError>>;

    /// The metadata readers of a store look at without decoding the object: name, namespace,
    /// resourceVersion, deletionTimestamp and the vcluster's markers ([`MARKS`]). `meta()` of a
    /// packed object has no more than the first four.
    fn index_meta(&self) -> Cow<'_, ObjectMeta>;
}

/// The labels (`false`) and annotations (`true`) the mappers and the generic reconcile read from
/// a stored object.
const MARKS: [(bool, &str); 6] = [
    (false, vcluster_translate::MANAGED_BY_LABEL),
    (false, metadata::CONTROLLED_BY_LABEL),
    (true, vcluster_translate::OBJECT_NAME_ANNOTATION),
    (true, vcluster_translate::OBJECT_NAMESPACE_ANNOTATION),
    (true, metadata::OBJECT_UID_ANNOTATION),
    (true, metadata::CONTROLLED_BY_LABEL),
];

/// The [`MARKS`] an object has, in one allocation: per mark its index, its value's length (u32,
/// little-endian) and the value.
fn encode_marks(meta: &ObjectMeta) -> Box<[u8]> {
    let mut out = Vec::new();
    for (index, (annotation, key)) in MARKS.iter().enumerate() {
        let map = if *annotation { &meta.annotations } else { &meta.labels };
        if let Some(value) = map.as_ref().and_then(|m| m.get(*key)) {
            out.push(index as u8);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.into_boxed_slice()
}

/// The marks [`encode_marks`] wrote: (annotation, key, value).
fn decode_marks(mut bytes: &[u8]) -> impl Iterator<Item = (bool, &'static str, &str)> {
    std::iter::from_fn(move || {
        let (&index, rest) = bytes.split_first()?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let (value, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        bytes = rest;
        let (annotation, key) = *MARKS.get(usize::from(index))?;
        Some((annotation, key, std::str::from_utf8(value).ok()?))
    })
}

/// The k8s-openapi types are kept as they are.
impl<K> Stored for K
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Clone
        + fmt::Debug
        + for<'de> Deserialize<'de>
        + Send
        + Sync
        + 'static,
{
    type Object = K;

    fn object(stored: &Arc<K>) -> Result<Arc<K>, Box<SyncError>> {
        Ok(stored.clone())
    }

    fn index_meta(&self) -> Cow<'_, ObjectMeta> {
        Cow::Borrowed(self.meta())
    }
}

impl<K> Stored for Packed<K>
where
    K: Resource<DynamicType = ()> + PackedKind + Clone + fmt::Debug + for<'de> Deserialize<'de> + Send + Sync + 'static,
{
    type Object = K;

    fn object(stored: &Arc<Self>) -> Result<Arc<K>, Box<SyncError>> {
        stored.unpack().map(Arc::new).map_err(|source| {
            Box::new(SyncError::Unpack {
                kind: K::kind(&()).into_owned(),
                name: format!("{}/{}", stored.metadata.namespace.as_deref().unwrap_or_default(), stored.name()),
                source,
            })
        })
    }

    fn index_meta(&self) -> Cow<'_, ObjectMeta> {
        let mut meta = self.metadata.clone();
        for (annotation, key, value) in decode_marks(&self.marks) {
            let map = if annotation { &mut meta.annotations } else { &mut meta.labels };
            map.get_or_insert_default().insert(key.to_owned(), value.to_owned());
        }
        Cow::Owned(meta)
    }
}

/// The kinds kept [`Packed`], each with the dictionary its objects are compressed against.
pub(crate) trait PackedKind {
    fn dictionary() -> &'static Dictionary;
}

macro_rules! packed_kinds {
    ($($kind:ty),*) => {
        $(impl PackedKind for $kind {
            fn dictionary() -> &'static Dictionary {
                static DICTIONARY: Dictionary = Dictionary::new();
                &DICTIONARY
            }
        })*
    };
}

packed_kinds!(
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Secret
);

/// What LZ4 compresses a kind's objects against: the text of objects of the kind seen before,
/// so the keys, defaults and status every pod repeats cost a few bytes each (a host pod of
/// 3.6 KB: 1.9 KB alone, 0.3 KB against another host pod). It learns: an object that compresses
/// to more than [`POOR_RATIO`] of its size is appended (a virtual pod without status, then one
/// with, then a host pod), at most [`GENERATIONS`] times, keeping the last [`DICTIONARY_SIZE`]
/// bytes. Each packed object holds the generation it was compressed against.
pub(crate) struct Dictionary {
    /// The current text (none yet: compressed alone) and how many times it was learned.
    current: Mutex<(Option<Arc<[u8]>>, u8)>,
}

const DICTIONARY_SIZE: usize = 16 * 1024;
const GENERATIONS: u8 = 8;
/// Compressed size over size above which an object teaches the dictionary.
const POOR_RATIO: f64 = 0.2;

type Text = Option<Arc<[u8]>>;

fn same(a: &Text, b: &Text) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn compress_against(whole: &[u8], dictionary: &Text) -> Box<[u8]> {
    lz4_flex::block::compress_prepend_size_with_dict(whole, dictionary.as_deref().unwrap_or_default())
        .into_boxed_slice()
}

impl Dictionary {
    const fn new() -> Self {
        Dictionary { current: Mutex::new((None, 0)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Text, u8)> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `whole` compressed, and the dictionary it was compressed against.
    fn compress(&self, whole: &[u8]) -> (Text, Box<[u8]>) {
        let dictionary = self.lock().0.clone();
        let body = compress_against(whole, &dictionary);
        if (body.len() as f64) <= POOR_RATIO * whole.len() as f64 {
            return (dictionary, body);
        }
        let learned = {
            let mut current = self.lock();
            if current.1 < GENERATIONS && same(&current.0, &dictionary) {
                let mut text = [current.0.as_deref().unwrap_or_default(), whole].concat();
                text.drain(..text.len().saturating_sub(DICTIONARY_SIZE));
                *current = (Some(text.into()), current.1 + 1);
            }
            current.0.clone()
        };
        if same(&learned, &dictionary) {
            return (dictionary, body);
        }
        let body = compress_against(whole, &learned);
        (learned, body)
    }
}

/// An object of kind `K` kept compressed, with what stores key on decoded.
#[derive(Clone, Debug)]
pub(crate) struct Packed<K> {
    /// Name, namespace, resourceVersion (a watch resumes from its last object's), deletionTimestamp.
    metadata: ObjectMeta,
    /// The marker labels and annotations the object has ([`encode_marks`]).
    marks: Box<[u8]>,
    /// The whole object (without `managedFields`) as JSON, LZ4-compressed against `dictionary`,
    /// its size prepended.
    body: Box<[u8]>,
    dictionary: Text,
    kind: PhantomData<fn() -> K>,
}

impl<K> Packed<K> {
    fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `whole` holds the object's other fields, each followed by a comma, after an opening brace;
    /// the metadata goes last (key order means nothing in JSON).
    fn pack(metadata: ObjectMeta, mut whole: Vec<u8>) -> Result<Self, serde_json::Error>
    where
        K: PackedKind,
    {
        whole.extend_from_slice(b"\"metadata\":");
        serde_json::to_writer(&mut whole, &metadata)?;
        whole.push(b'}');
        let marks = encode_marks(&metadata);
        let (dictionary, body) = K::dictionary().compress(&whole);
        Ok(Packed {
            metadata: ObjectMeta {
                name: metadata.name,
                namespace: metadata.namespace,
                resource_version: metadata.resource_version,
                deletion_timestamp: metadata.deletion_timestamp,
                ..ObjectMeta::default()
            },
            marks,
            body,
            dictionary,
            kind: PhantomData,
        })
    }
}

impl<K: Resource + PackedKind + for<'de> Deserialize<'de>> Packed<K> {
    /// The whole object again.
    pub(crate) fn unpack(&self) -> Result<K, serde_json::Error> {
        let dictionary = self.dictionary.as_deref().unwrap_or_default();
        let whole =
            lz4_flex::block::decompress_size_prepended_with_dict(&self.body, dictionary).map_err(de::Error::custom)?;
        serde_json::from_slice(&whole)
    }
}

resource_of_inner!(Packed, |packed| &packed.metadata, |packed| &mut packed.metadata);

impl<'de, K: PackedKind> Deserialize<'de> for Packed<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PackedVisitor<K>(PhantomData<fn() -> K>);

        impl<'de, K: PackedKind> Visitor<'de> for PackedVisitor<K> {
            type Value = Packed<K>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Packed<K>, A::Error> {
                let mut metadata = None;
                let mut whole = Vec::with_capacity(4096);
                whole.push(b'{');
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if key == "metadata" {
                        metadata = Some(map.next_value::<ObjectMeta>()?);
                        continue;
                    }
                    let value: Box<RawValue> = map.next_value()?;
                    serde_json::to_writer(&mut whole, key.as_ref()).map_err(de::Error::custom)?;
                    whole.push(b':');
                    whole.extend_from_slice(value.get().as_bytes());
                    whole.push(b',');
                }
                Packed::pack(metadata.unwrap_or_default(), whole).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_map(PackedVisitor(PhantomData))
    }
}

/// Where in the object a map is: its top level, or its `metadata`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Object,
    Metadata,
}

/// A deserializer that hands maps on through [`FilteredMap`] and everything else unchanged.
struct Filtered<D> {
    inner: D,
    level: Level,
}

/// A visitor that wraps the map (or the `Some` value) it is given.
struct Wrap<V> {
    inner: V,
    level: Level,
}

/// The map of one level: at the top, `metadata`'s value is read at [`Level::Metadata`]; there,
/// `managedFields` is skipped unparsed into values.
struct FilteredMap<A> {
    inner: A,
    level: Level,
    nested: bool,
}

/// The seed of `metadata`'s value.
struct Nested<S> {
    inner: S,
}

/// A map key, borrowed from the input where it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for FilteredMap<A> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        loop {
            let Some(Key(key)) = self.inner.next_key::<Key<'de>>()? else { return Ok(None) };
            if self.level == Level::Metadata && key == "managedFields" {
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            self.nested = self.level == Level::Object && key == "metadata";
            let key: de::value::CowStrDeserializer<'_, A::Error> = key.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        if std::mem::take(&mut self.nested) {
            self.inner.next_value_seed(Nested { inner: seed })
        } else {
            self.inner.next_value_seed(seed)
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nested<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Filtered { inner: deserializer, level: Level::Metadata })
    }
}

/// Visitor methods handed on unchanged.
macro_rules! forward_visits {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<V::Value, E> {
            self.inner.$method($($arg),*)
        })*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visits! {
        visit_bool(v: bool);
        visit_i8(v: i8);
        visit_i16(v: i16);
        visit_i32(v: i32);
        visit_i64(v: i64);
        visit_i128(v: i128);
        visit_u8(v: u8);
        visit_u16(v: u16);
        visit_u32(v: u32);
        visit_u64(v: u64);
        visit_u128(v: u128);
        visit_f32(v: f32);
        visit_f64(v: f64);
        visit_char(v: char);
        visit_str(v: &str);
        visit_borrowed_str(v: &'de str);
        visit_string(v: String);
        visit_bytes(v: &[u8]);
        visit_borrowed_bytes(v: &'de [u8]);
        visit_byte_buf(v: Vec<u8>);
        visit_none();
        visit_unit();
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Filtered { inner: deserializer, level: self.level })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(deserializer)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(FilteredMap { inner: map, level: self.level, nested: false })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// Deserializer methods handed on unchanged, and the ones whose visitor is wrapped.
macro_rules! forward_deserialize {
    (plain: $($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* visitor)
        })*
    };
    (wrapped: $($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* Wrap { inner: visitor, level: self.level })
        })*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Filtered<D> {
    type Error = D::Error;

    forward_deserialize! { wrapped:
        deserialize_any();
        deserialize_option();
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
    }

    forward_deserialize! { plain:
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use kube::api::{ObjectList, WatchEvent};

    fn managed() -> serde_json::Value {
        serde_json::json!([{
            "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:status": { "f:phase": {} } }, "subresource": "status"
        }])
    }

    fn pod_json() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                "labels": { "managedFields": "a label of that name" },
                "annotations": { "a": "b" },
                "managedFields": managed(),
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "r1" }]
            },
            "spec": { "containers": [{ "name": "c", "image": "nginx", "env": [{ "name": "managedFields", "value": "x" }] }] },
            "status": { "phase": "Running", "podIP": "10.0.0.1" }
        })
    }

    /// What the plain decoder gives, without the managed fields.
    fn expected<K: Resource + for<'de> Deserialize<'de>>(json: &serde_json::Value) -> K {
        let mut plain: K = serde_json::from_value(json.clone()).unwrap();
        assert!(!plain.meta().managed_fields.as_deref().unwrap_or_default().is_empty(), "the fixture has them");
        plain.meta_mut().managed_fields = None;
        plain
    }

    #[test]
    fn only_the_metadata_managed_fields_are_left_out() {
        let json = pod_json();
        let text = json.to_string();
        let lean: Lean<Pod> = serde_json::from_str(&text).unwrap();
        assert_eq!(lean.0, expected::<Pod>(&json));
        // Keys of that name elsewhere stay.
        assert_eq!(lean.0.metadata.labels.unwrap()["managedFields"], "a label of that name");
        assert_eq!(lean.0.spec.unwrap().containers[0].env.as_ref().unwrap()[0].name, "managedFields");

        let cm = serde_json::json!({
            "metadata": { "name": "c", "managedFields": managed() },
            "data": { "managedFields": "data of that name" }
        });
        let lean: Lean<ConfigMap> = serde_json::from_value(cm.clone()).unwrap();
        assert_eq!(lean.0, expected::<ConfigMap>(&cm));
        assert_eq!(lean.0.data.unwrap()["managedFields"], "data of that name");
    }

    #[test]
    fn lists_and_watch_events_decode_as_the_watcher_reads_them() {
        let list = serde_json::json!({
            "apiVersion": "v1", "kind": "PodList", "metadata": { "resourceVersion": "9" },
            "items": [pod_json(), pod_json()]
        });
        let lean: ObjectList<Lean<Pod>> = serde_json::from_slice(list.to_string().as_bytes()).unwrap();
        assert_eq!(lean.items.len(), 2);
        assert!(lean.items.iter().all(|p| p.0 == expected::<Pod>(&pod_json())));

        let event = serde_json::json!({ "type": "MODIFIED", "object": pod_json() });
        let lean: WatchEvent<Lean<Pod>> = serde_json::from_str(&event.to_string()).unwrap();
        let WatchEvent::Modified(p) = lean else { panic!("a MODIFIED event") };
        assert_eq!(p.0, expected::<Pod>(&pod_json()));
    }

    #[test]
    fn a_packed_pod_unpacks_to_the_lean_pod() {
        let json = pod_json();
        let packed: Lean<Packed<Pod>> = serde_json::from_str(&json.to_string()).unwrap();
        let packed = Arc::new(packed.0);
        assert_eq!(packed.meta().name.as_deref(), Some("web"));
        assert!(packed.meta().managed_fields.is_none());
        let dictionary = packed.dictionary.as_deref().unwrap_or_default();
        let whole = lz4_flex::block::decompress_size_prepended_with_dict(&packed.body, dictionary).unwrap();
        assert!(!String::from_utf8(whole).unwrap().contains("\"managedFields\":[{"), "the managed fields are not kept");
        assert!(packed.body.len() < json.to_string().len(), "kept compressed");
        assert_eq!(*<Packed<Pod> as Stored>::object(&packed).unwrap(), expected::<Pod>(&json));
        // What stores key on is decoded; labels and annotations are not, but for the markers.
        let head = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            resource_version: Some("7".into()),
            ..ObjectMeta::default()
        };
        assert_eq!(packed.meta(), &head);
        assert_eq!(*packed.index_meta(), ObjectMeta { labels: None, annotations: None, ..packed.meta().clone() });

        // From a list page and a watch event, as the watcher reads them.
        let list = serde_json::json!({ "metadata": {}, "items": [pod_json()] });
        let lean: ObjectList<Lean<Packed<Pod>>> = serde_json::from_str(&list.to_string()).unwrap();
        assert_eq!(lean.items[0].0.unpack().unwrap(), expected::<Pod>(&json));
        let event = serde_json::json!({ "type": "ADDED", "object": pod_json() });
        let WatchEvent::Added(p) = serde_json::from_str::<WatchEvent<Lean<Packed<Pod>>>>(&event.to_string()).unwrap()
        else {
            panic!("an ADDED event")
        };
        assert_eq!(p.0.unpack().unwrap(), expected::<Pod>(&json));

        // A field that does not decode as the kind's is found when the object is asked for.
        let bad =
            serde_json::json!({ "metadata": { "name": "web", "namespace": "default" }, "spec": { "containers": 7 } });
        let packed: Packed<Pod> = serde_json::from_value(bad).unwrap();
        let err = <Packed<Pod> as Stored>::object(&Arc::new(packed)).unwrap_err();
        assert_eq!(err.to_string(), "decode the stored Pod default/web");
    }

    #[test]
    fn a_packed_host_object_keeps_the_markers_the_mappers_read() {
        let json = serde_json::json!({
            "metadata": {
                "name": "web-x-default-x-my-vc", "namespace": "vcluster-my-vc", "uid": "h1",
                "deletionTimestamp": "2026-01-01T00:00:00Z",
                "labels": { "vcluster.loft.sh/managed-by": "my-vc", "app": "web" },
                "annotations": {
                    "vcluster.loft.sh/object-name": "web", "vcluster.loft.sh/object-namespace": "default",
                    "vcluster.loft.sh/object-uid": "v1", "vcluster.loft.sh/controlled-by": "x",
                    "vcluster.loft.sh/token-abc": "a long token"
                },
                "managedFields": managed()
            },
            "data": { "k": "v" }
        });
        let packed: Lean<Packed<ConfigMap>> = serde_json::from_value(json.clone()).unwrap();
        let packed = Arc::new(packed.0);
        let meta = packed.index_meta();
        assert!(meta.deletion_timestamp.is_some());
        assert_eq!(
            meta.labels.clone().unwrap().into_iter().collect::<Vec<_>>(),
            [("vcluster.loft.sh/managed-by".to_owned(), "my-vc".to_owned())]
        );
        let annotations = meta.annotations.clone().unwrap();
        assert_eq!(annotations.len(), 4, "{annotations:?}");
        assert!(!annotations.contains_key("vcluster.loft.sh/token-abc"));
        // The whole object is still there.
        assert_eq!(*<Packed<ConfigMap> as Stored>::object(&packed).unwrap(), expected::<ConfigMap>(&json));
        // An object with nothing but metadata.
        let bare: Packed<ConfigMap> =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": "c" } })).unwrap();
        assert_eq!(bare.unpack().unwrap().metadata.name.as_deref(), Some("c"));
    }

    #[test]
    fn the_dictionary_learns_from_objects_that_compress_poorly_and_keeps_old_generations_readable() {
        let dictionary = Dictionary::new();
        let pod = |i: usize| {
            let mut json = pod_json();
            json["metadata"]["name"] = format!("web-{i}").into();
            json["metadata"]["uid"] = format!("uid-{i}").into();
            serde_json::to_vec(&json).unwrap()
        };
        // The first is compressed alone, poorly: it becomes the dictionary.
        let (first_dictionary, first) = dictionary.compress(&pod(0));
        assert!(first_dictionary.is_some(), "learned from the first object");
        // One like it costs a fraction of its size now, and the dictionary stays.
        let (second_dictionary, second) = dictionary.compress(&pod(1));
        assert!(same(&first_dictionary, &second_dictionary));
        assert!((second.len() as f64) <= POOR_RATIO * pod(1).len() as f64, "{} of {}", second.len(), pod(1).len());
        // An object of another shape teaches it again, up to GENERATIONS times.
        for i in 0..2 * usize::from(GENERATIONS) {
            let other = serde_json::to_vec(&serde_json::json!({ "metadata": { "name": i.to_string() }, "data": { fastrand::u64(..).to_string(): fastrand::u64(..).to_string() } })).unwrap();
            dictionary.compress(&other);
        }
        let (text, generation) = dictionary.lock().clone();
        assert_eq!(generation, GENERATIONS);
        assert!(text.unwrap().len() <= DICTIONARY_SIZE);
        // What was packed against an older generation still reads back.
        let back =
            lz4_flex::block::decompress_size_prepended_with_dict(&first, first_dictionary.as_deref().unwrap()).unwrap();
        assert_eq!(back, pod(0));
    }

    #[test]
    fn escaped_keys_and_malformed_input_behave_as_with_the_plain_decoder() {
        // An escaped key is not borrowed from the input; it still names the field.
        let text = r#"{"metadata":{"na\u006de":"web","managedFields":[]},"spec":{"containers":[]}}"#;
        let lean: Lean<Pod> = serde_json::from_str(text).unwrap();
        assert_eq!(lean.0.metadata.name.as_deref(), Some("web"));
        assert!(lean.0.metadata.managed_fields.is_none());
        // A wrongly typed field is refused, as without the filter.
        let bad = r#"{"metadata":{"name":7}}"#;
        assert_eq!(
            serde_json::from_str::<Lean<Pod>>(bad).unwrap_err().to_string(),
            serde_json::from_str::<Pod>(bad).unwrap_err().to_string()
        );
    }
}
