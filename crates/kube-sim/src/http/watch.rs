//! Watch streams (`?watch=true`): newline-delimited JSON events, resume from a
//! resourceVersion, 410 for compacted history, bookmarks, `sendInitialEvents` (when the
//! WatchList feature gate is on: a `git_version` of 1.32; 1.33 refuses it, see
//! `Shared::watch_list_enabled`), selectors (objects moving out of a selector are DELETED, into it
//! ADDED, as the watch cache reports them), timeouts, and the test control that drops every
//! open watch.
//!
//! Semantics: staging/src/k8s.io/apiserver/pkg/storage/cacher/{cacher.go,watch_cache.go,
//! cache_watcher.go}; wire format: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go
//! (Table watches print column definitions only in their first event).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::api::table::{self, IncludeObject};
use crate::http::reply::{Body, channel_body, event_line};
use crate::model::jsonpath;
use crate::model::options::ListOpts;
use crate::model::query::Query;
use crate::model::resources::{self, ResId};
use crate::model::status::{ApiError, ApiResult};
use crate::registry::store::{Event, EventType};
use crate::shared::Shared;

/// How watch events carry their objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFormat {
    Json,
    Table(&'static str),
    Metadata,
}

struct Filter {
    res: ResId,
    namespace: Option<String>,
    opts: ListOpts,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.opts.labels.matches(jsonpath::labels(obj)) && self.opts.fields.matches(obj)
    }

    /// The event this watcher sees, if any.
    fn translate(&self, e: &Event) -> Option<(EventType, Arc<Value>)> {
        if e.key.res != self.res || self.namespace.as_ref().is_some_and(|ns| *ns != e.key.namespace) {
            return None;
        }
        let now = self.matches(&e.object);
        let before = e.prev.as_ref().is_some_and(|p| self.matches(p));
        match (e.kind, before, now) {
            (EventType::Added, _, true) => Some((EventType::Added, e.object.clone())),
            (EventType::Modified, true, true) => Some((EventType::Modified, e.object.clone())),
            (EventType::Modified, false, true) => Some((EventType::Added, e.object.clone())),
            (EventType::Modified, true, false) => Some((EventType::Deleted, e.object.clone())),
            (EventType::Deleted, true, _) => Some((EventType::Deleted, e.object.clone())),
            _ => None,
        }
    }
}

struct Encoder {
    res: ResId,
    format: WatchFormat,
    include: IncludeObject,
    headers_sent: bool,
}

impl Encoder {
    fn line(&mut self, kind: &str, obj: &Value) -> Bytes {
        let def = resources::by_id(self.res);
        match self.format {
            WatchFormat::Json => event_line(kind, obj),
            WatchFormat::Metadata => event_line(kind, &table::partial_metadata(obj)),
            WatchFormat::Table(api_version) => {
                let meta = json!({ "resourceVersion": jsonpath::meta(obj, "resourceVersion").unwrap_or_default() });
                let t = table::table(def, &[obj], meta, self.include, !self.headers_sent, api_version);
                self.headers_sent = true;
                event_line(kind, &t)
            }
        }
    }
}

fn bookmark(res: ResId, rv: u64, initial_end: bool) -> Value {
    let def = resources::by_id(res);
    let mut meta = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": Value::Null });
    if initial_end {
        meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json!({ "kind": def.kind, "apiVersion": def.api_version(), "metadata": meta })
}

/// Start a watch; returns the streaming body.
pub fn start(
    shared: &Arc<Shared>,
    res: ResId,
    namespace: Option<String>,
    opts: ListOpts,
    q: &Query,
    format: WatchFormat,
    include: IncludeObject,
) -> ApiResult<Body> {
    let bookmarks = q.bool("allowWatchBookmarks")?.unwrap_or(false);
    let send_initial = q.bool("sendInitialEvents")?;
    let timeout = q
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(Duration::from_secs(1800));
    let rv = opts.resource_version.clone().filter(|rv| !rv.is_empty());
    let filter = Filter { res, namespace, opts };
    let mut initial: Vec<(EventType, Arc<Value>)> = Vec::new();
    let mut error: Option<ApiError> = None;
    let mut initial_end_rv = None;
    let (rx, start_rv) = {
        let cluster = shared.lock();
        let current = cluster.store.resource_version();
        let list_all = |initial: &mut Vec<(EventType, Arc<Value>)>| {
            for (_, obj) in cluster.store.list(res, filter.namespace.as_deref()) {
                if filter.matches(obj) {
                    initial.push((EventType::Added, obj.clone()));
                }
            }
        };
        match (send_initial, rv.as_deref()) {
            (Some(true), _) => {
                list_all(&mut initial);
                initial_end_rv = Some(current);
            }
            (Some(false), None) => {}
            (None, None | Some("0")) => list_all(&mut initial),
            (_, Some(rv)) => match rv.parse::<u64>() {
                Err(_) => {
                    return Err(ApiError::bad_request(format!(
                        "resourceVersion: Invalid value: {}: strconv.ParseUint: parsing {}: invalid syntax",
                        crate::model::status::go_quote(rv),
                        crate::model::status::go_quote(rv)
                    )));
                }
                Ok(rv) => match cluster.store.events_since(rv) {
                    Some(events) => initial.extend(events.iter().filter_map(|e| filter.translate(e))),
                    None => error = Some(ApiError::too_old_resource_version(rv, cluster.store.compacted())),
                },
            },
        }
        (cluster.store.subscribe(), current)
    };
    let (tx, body_rx) = mpsc::channel::<Bytes>(256);
    let mut encoder = Encoder { res, format, include, headers_sent: false };
    let shared = shared.clone();
    let mut epoch = shared.watch_epoch.subscribe();
    epoch.mark_unchanged();
    tokio::spawn(async move {
        if let Some(e) = error {
            let _ = tx.send(event_line("ERROR", &e.status())).await;
            return;
        }
        let mut last_rv = start_rv;
        for (kind, obj) in initial {
            let _ = tx.send(encoder.line(kind.as_str(), &obj)).await;
        }
        if let Some(rv) = initial_end_rv
            && bookmarks
        {
            let _ = tx.send(event_line("BOOKMARK", &bookmark(res, rv, true))).await;
        }
        stream(rx, &tx, &filter, &mut encoder, &shared, &mut epoch, bookmarks, timeout, &mut last_rv).await;
    });
    Ok(channel_body(body_rx))
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    mut rx: broadcast::Receiver<Arc<Event>>,
    tx: &mpsc::Sender<Bytes>,
    filter: &Filter,
    encoder: &mut Encoder,
    shared: &Arc<Shared>,
    epoch: &mut tokio::sync::watch::Receiver<u64>,
    bookmarks: bool,
    timeout: Duration,
    last_rv: &mut u64,
) {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(shared.bookmark_interval);
    ticker.tick().await;
    // A stalled watch (test control) holds its events back until resumed.
    let mut stall = shared.watch_stall.subscribe();
    loop {
        let stalled = *stall.borrow_and_update();
        tokio::select! {
            _ = &mut deadline => return,
            _ = epoch.changed() => return,
            _ = tx.closed() => return,
            _ = stall.changed() => {}
            _ = ticker.tick(), if bookmarks && !stalled => {
                // A bookmark may only claim what this watcher has seen: the current
                // resourceVersion when no event is pending (events are sent under the lock).
                let rv = {
                    let cluster = shared.lock();
                    if rx.is_empty() { cluster.store.resource_version() } else { *last_rv }
                };
                *last_rv = rv.max(*last_rv);
                if tx.send(event_line("BOOKMARK", &bookmark(filter.res, *last_rv, false))).await.is_err() {
                    return;
                }
            }
            event = rx.recv(), if !stalled => match event {
                Ok(e) => {
                    *last_rv = e.rv;
                    if let Some((kind, obj)) = filter.translate(&e) {
                        let line = match encoder.format {
                            WatchFormat::Json => e.json_lines[kind as usize]
                                .get_or_init(|| event_line(kind.as_str(), &obj))
                                .clone(),
                            _ => encoder.line(kind.as_str(), &obj),
                        };
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
                // A watcher too slow for the event rate is closed, as the watch cache closes
                // its blocked watchers; the client resumes from its last resourceVersion.
                Err(_) => return,
            },
        }
    }
}
