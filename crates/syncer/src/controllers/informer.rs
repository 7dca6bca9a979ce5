//! One watch of a virtual kind shared by every controller that reads it, as the established
//! syncer's controller-runtime manager shares one informer per kind among its controllers
//! (sigs.k8s.io/controller-runtime v0.14 `pkg/cache/informer_cache.go`, which loft-sh/vcluster
//! v0.15.7 `pkg/controllers/syncer/syncer.go` registers its watches with).
//!
//! Three readers of the virtual Services (the Services controller, the Endpoints controller and
//! the pods' service-link index) used to open a watch each: the virtual API server encoded and
//! sent every Service three times, and the syncer decoded and stored it three times.
//! The Ingresses controller and the pods' Secret index share one watch of the virtual Ingresses
//! the same way.
//!
//! [`Informer::subscribe`] before [`Informer::run`] (which takes the informer, so no reader can
//! subscribe late and miss the first list): each reader gets every watch event after the shared
//! store has taken it in, as `kube::runtime::reflector` orders them.
//!
//! A reader waits for the first list with [`Subscription::ready`], not the store's
//! `wait_until_ready`: that one wakes only the task that polled it last (kube-runtime 5.0.0
//! `src/utils/delayed_init.rs` keeps one oneshot receiver, which holds one waker), and a
//! controller over the store waits on it already.

use std::fmt::Debug;
use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::lean::{self, Lean};

/// A watch event whose object the readers share.
pub(crate) type SharedEvent<K> = Event<Arc<K>>;

/// A watch not started yet, its store and the readers subscribed so far.
pub(crate) struct Informer<K: Resource<DynamicType = ()> + Clone + 'static> {
    api: Api<Lean<K>>,
    config: watcher::Config,
    store: Store<K>,
    writer: reflector::store::Writer<K>,
    readers: Vec<UnboundedSender<SharedEvent<K>>>,
    listed: watch::Sender<bool>,
}

/// What one reader gets: the shared store, the watch's events, and whether it has listed.
pub(crate) struct Subscription<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub(crate) store: Store<K>,
    pub(crate) events: UnboundedReceiver<SharedEvent<K>>,
    listed: watch::Receiver<bool>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Subscription<K> {
    /// Until the store holds the first complete list (false: the watch ended first).
    pub(crate) async fn ready(&mut self) -> bool {
        self.listed.wait_for(|listed| *listed).await.is_ok()
    }
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    /// A watch of `api` with `config`, objects decoded without `managedFields` ([`lean`]).
    pub(crate) fn new(api: Api<Lean<K>>, config: watcher::Config) -> Self {
        let (store, writer) = reflector::store();
        Informer { api, config, store, writer, readers: Vec::new(), listed: watch::channel(false).0 }
    }

    /// The store, and every event of the watch from its first list on, each after the store
    /// took it in.
    pub(crate) fn subscribe(&mut self) -> Subscription<K> {
        let (tx, events) = unbounded();
        self.readers.push(tx);
        Subscription { store: self.store.clone(), events, listed: self.listed.subscribe() }
    }

    /// Watch until `shutdown` (or until no reader is left), retrying with kube-runtime's default
    /// backoff. The readers' streams end with it.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let Informer { api, config, mut writer, mut readers, listed, .. } = self;
        let mut events = lean::watcher(api, config).default_backoff().boxed();
        while let Some(event) = next_until(&mut events, &shutdown).await {
            match event {
                Err(e) => tracing::debug!(kind = %K::kind(&()), error = %e, "virtual watch"),
                Ok(event) => {
                    writer.apply_watcher_event(&event);
                    if matches!(event, Event::InitDone) {
                        listed.send_replace(true);
                    }
                    let event = share(event);
                    readers.retain(|reader| reader.unbounded_send(event.clone()).is_ok());
                    if readers.is_empty() {
                        return;
                    }
                }
            }
        }
    }
}

/// The stream's next item; None once it ended or `shutdown` was cancelled.
pub(crate) async fn next_until<S: Stream + Unpin>(stream: &mut S, shutdown: &CancellationToken) -> Option<S::Item> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        item = stream.next() => item,
    }
}

fn share<K>(event: Event<K>) -> SharedEvent<K> {
    match event {
        Event::Apply(o) => Event::Apply(Arc::new(o)),
        Event::Delete(o) => Event::Delete(Arc::new(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(Arc::new(o)),
        Event::InitDone => Event::InitDone,
    }
}

/// The object an event touched (added, changed, listed or deleted), as
/// `WatchStreamExt::touched_objects` yields it; None for the list's start and end.
pub(crate) fn touched<K: Resource<DynamicType = ()>>(event: &SharedEvent<K>) -> Option<ObjectRef<K>> {
    match event {
        Event::Apply(o) | Event::Delete(o) | Event::InitApply(o) => Some(ObjectRef::from_obj(o.as_ref())),
        Event::Init | Event::InitDone => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        cm.metadata.namespace = Some("default".into());
        cm
    }

    #[test]
    fn an_event_shares_one_object_and_names_what_it_touched() {
        let event = share(Event::Apply(cm("a")));
        let (Event::Apply(first), Event::Apply(second)) = (event.clone(), event.clone()) else { unreachable!() };
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(touched(&event), Some(ObjectRef::new("a").within("default")));
        assert_eq!(touched(&share(Event::Delete(cm("b")))), Some(ObjectRef::new("b").within("default")));
        assert_eq!(touched::<ConfigMap>(&share(Event::Init)), None);
        assert_eq!(touched::<ConfigMap>(&share(Event::InitDone)), None);
    }
}
