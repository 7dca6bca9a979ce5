//! Events as the components' recorders write them, in core/v1.
//!
//! client-go's recorder (staging/src/k8s.io/client-go/tools/record/event.go `makeEvent`,
//! events_cache.go `EventCorrelator`): name `<object>.<nanoseconds in hex>`, the involved
//! object's reference, `source` and `reportingComponent`/`reportingInstance`, first and last
//! timestamps, and identical events aggregated into one whose `count` grows. The scheduler
//! records through the events.k8s.io/v1 API (staging/src/k8s.io/client-go/tools/events), which
//! reads back in core/v1 with an `eventTime`, an `action`, no `source` and no timestamps.

use serde_json::{Map, Value, json};

use super::helpers::{opts, rid};
use super::state::Pass;
use crate::model::jsonpath::{self, get_str};
use crate::registry::Cluster;

/// Who records an event.
#[derive(Debug, Clone, Copy)]
pub enum Recorder<'a> {
    /// A kube-controller-manager controller (`statefulset-controller`, …).
    Controller(&'static str),
    /// The kubelet of a node.
    Kubelet(&'a str),
    /// The default scheduler, with the action of the event (`Binding`, `Scheduling`).
    Scheduler(&'static str),
}

/// One event about `object` (a stored object with apiVersion and kind).
pub struct Event<'a> {
    pub object: &'a Value,
    /// `spec.containers{name}` for container events.
    pub field_path: Option<String>,
    pub warning: bool,
    pub reason: &'a str,
    pub message: String,
    /// How many times it happened (the recorder aggregates repeats into the count).
    pub count: u32,
}

impl<'a> Event<'a> {
    pub fn normal(object: &'a Value, reason: &'a str, message: String) -> Event<'a> {
        Event { object, field_path: None, warning: false, reason, message, count: 1 }
    }

    pub fn warning(object: &'a Value, reason: &'a str, message: String) -> Event<'a> {
        Event { warning: true, ..Event::normal(object, reason, message) }
    }

    pub fn container(mut self, name: &str) -> Event<'a> {
        self.field_path = Some(format!("spec.containers{{{name}}}"));
        self
    }

    pub fn times(mut self, count: u32) -> Event<'a> {
        self.count = count.max(1);
        self
    }
}

fn involved(object: &Value, field_path: Option<&str>) -> Value {
    let mut r = Map::new();
    r.insert("kind".into(), get_str(object, &["kind"]).unwrap_or_default().into());
    let ns = jsonpath::namespace(object);
    if !ns.is_empty() {
        r.insert("namespace".into(), ns.into());
    }
    r.insert("name".into(), jsonpath::name(object).into());
    r.insert("uid".into(), jsonpath::uid(object).into());
    r.insert("apiVersion".into(), get_str(object, &["apiVersion"]).unwrap_or_default().into());
    r.insert("resourceVersion".into(), jsonpath::meta(object, "resourceVersion").unwrap_or_default().into());
    if let Some(path) = field_path {
        r.insert("fieldPath".into(), path.into());
    }
    Value::Object(r)
}

/// Record `event`, or raise the count of the identical event already recorded.
pub fn record(cluster: &mut Cluster, pass: &mut Pass, recorder: Recorder<'_>, event: Event<'_>) {
    let events = rid("", "events");
    let namespace = match jsonpath::namespace(event.object) {
        "" => "default".to_string(),
        ns => ns.to_string(),
    };
    let reference = involved(event.object, event.field_path.as_deref());
    let kind = if event.warning { "Warning" } else { "Normal" };
    let manager = match recorder {
        Recorder::Controller(_) => "kube-controller-manager",
        Recorder::Kubelet(_) => "kubelet",
        Recorder::Scheduler(_) => "kube-scheduler",
    };
    let (component, instance) = match recorder {
        Recorder::Controller(c) => (c.to_string(), String::new()),
        Recorder::Kubelet(node) => ("kubelet".to_string(), node.to_string()),
        Recorder::Scheduler(_) => ("default-scheduler".to_string(), format!("default-scheduler-{}", super::node::NODE)),
    };
    let same = |e: &Value| {
        get_str(e, &["involvedObject", "uid"]) == Some(jsonpath::uid(event.object))
            && get_str(e, &["involvedObject", "fieldPath"]) == event.field_path.as_deref()
            && get_str(e, &["reason"]) == Some(event.reason)
            && get_str(e, &["message"]) == Some(event.message.as_str())
            && get_str(e, &["reportingComponent"]) == Some(component.as_str())
    };
    // The recorder's cache finds the identical event by its key (events_cache.go
    // `getEventKey`); here the store's index of events by involved object.
    let existing = cluster
        .store
        .index()
        .events_about(jsonpath::uid(event.object))
        .filter(|k| k.res == events && k.namespace == namespace)
        .filter_map(|k| cluster.store.get(k))
        .find(|e| same(e))
        .cloned();
    let now = jiff::Timestamp::now();
    let time = crate::model::util::format_time(now);
    if let Some(existing) = existing {
        let mut updated = (*existing).clone();
        match recorder {
            Recorder::Scheduler(_) => {
                let count = updated.pointer("/series/count").and_then(Value::as_u64).unwrap_or(1) + 1;
                updated["series"] = json!({ "count": count, "lastObservedTime": micro_time(now) });
            }
            _ => {
                let count = updated.get("count").and_then(Value::as_u64).unwrap_or(1) + u64::from(event.count);
                updated["count"] = count.into();
                updated["lastTimestamp"] = time.into();
            }
        }
        super::helpers::update(cluster, pass, events, &existing, updated, manager);
        return;
    }
    let object_name = jsonpath::name(event.object);
    let mut nanos = now.as_nanosecond();
    let name = loop {
        let candidate = format!("{object_name}.{nanos:x}");
        if cluster.get(events, &namespace, &candidate).is_err() {
            break candidate;
        }
        nanos += 1;
    };
    let body = match recorder {
        Recorder::Scheduler(action) => json!({
            "metadata": { "name": name, "namespace": namespace },
            "involvedObject": reference,
            "reason": event.reason,
            "message": event.message,
            "source": {},
            "firstTimestamp": Value::Null,
            "lastTimestamp": Value::Null,
            "type": kind,
            "eventTime": micro_time(now),
            "action": action,
            "reportingComponent": component,
            "reportingInstance": instance,
        }),
        _ => {
            let mut source = Map::new();
            source.insert("component".into(), component.clone().into());
            if !instance.is_empty() {
                source.insert("host".into(), instance.clone().into());
            }
            json!({
                "metadata": { "name": name, "namespace": namespace },
                "involvedObject": reference,
                "reason": event.reason,
                "message": event.message,
                "source": source,
                "firstTimestamp": time,
                "lastTimestamp": time,
                "count": event.count,
                "type": kind,
                "eventTime": Value::Null,
                "reportingComponent": component,
                "reportingInstance": instance,
            })
        }
    };
    pass.changed |= cluster.create(events, &namespace, body, &opts(manager)).is_ok();
}

/// `metav1.MicroTime`: RFC 3339 with microseconds.
fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}
