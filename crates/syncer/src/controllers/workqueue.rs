//! A first-in first-out work queue in front of a kube-runtime `Controller`, with the semantics
//! of client-go's workqueue (kubernetes/client-go v0.27, `util/workqueue/queue.go`), which the
//! established syncer's controllers run on: an object waits in the queue once however often it
//! is triggered, is handed out in the order it was first triggered, and an object triggered
//! while it is being reconciled goes to the back of the queue when that reconcile ends.
//!
//! Why not only the `Controller`'s own scheduler: kube-runtime 5.0.0 (`src/scheduler.rs`,
//! `src/controller/runner.rs`) parks every trigger that arrives while all its reconcile slots
//! are busy in a `HashSet` and takes the next one from it in hash order. Under a burst (10,000
//! pods created at once, then their host pods' updates) that order starved some objects for
//! tens of seconds while others were reconciled three times. Here the triggers wait in this
//! queue, which lets at most `limit` objects into the controller at a time, so its scheduler
//! never holds more than it can run.
//!
//! Requeues (`Action::requeue`, the error policy) still go through the controller's scheduler:
//! they are few and timed, and the controller runs them beside the queue's objects.

use std::collections::{HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::{Stream, StreamExt, future};
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{Lookup, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

/// The queue of one controller's objects (client-go's `Type`: queue, dirty, processing).
pub(crate) struct WorkQueue<K: Lookup> {
    inner: Mutex<Inner<K>>,
    /// Objects handed out and not yet done, at most.
    limit: usize,
}

struct Inner<K: Lookup> {
    /// Waiting, in the order they were first triggered.
    queue: VecDeque<ObjectRef<K>>,
    /// Triggered and not yet handed out (in `queue`, or waiting for its reconcile to end).
    dirty: HashSet<ObjectRef<K>>,
    /// Handed out, their reconcile not yet done.
    processing: HashSet<ObjectRef<K>>,
    /// The consumer waiting for an object.
    waker: Option<Waker>,
}

impl<K> WorkQueue<K>
where
    K: Lookup,
    K::DynamicType: Eq + Hash + Clone,
{
    pub(crate) fn new(limit: usize) -> Self {
        let inner = Inner { queue: VecDeque::new(), dirty: HashSet::new(), processing: HashSet::new(), waker: None };
        Self { inner: Mutex::new(inner), limit: limit.max(1) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Trigger a reconcile of `object` (`Add`). Only its name and namespace are kept.
    pub(crate) fn add(&self, object: ObjectRef<K>) {
        let object = bare(object);
        let mut inner = self.inner();
        if inner.dirty.contains(&object) {
            return;
        }
        inner.dirty.insert(object.clone());
        if inner.processing.contains(&object) {
            // Queued again when its reconcile ends.
            return;
        }
        inner.queue.push_back(object);
        inner.wake();
    }

    /// The reconcile of `object` ended (`Done`): triggered meanwhile, it goes to the back of
    /// the queue. A reconcile of an object not handed out here (a requeue) is no-op.
    pub(crate) fn done(&self, object: &ObjectRef<K>) {
        let mut inner = self.inner();
        if !inner.processing.remove(object) {
            return;
        }
        if inner.dirty.contains(object) {
            inner.queue.push_back(object.clone());
        }
        inner.wake();
    }

    /// Hand out the next object (`Get`) when fewer than `limit` are being reconciled.
    fn poll_next_object(&self, cx: &mut Context<'_>) -> Poll<ObjectRef<K>> {
        let mut inner = self.inner();
        if inner.processing.len() < self.limit
            && let Some(object) = inner.queue.pop_front()
        {
            inner.dirty.remove(&object);
            inner.processing.insert(object.clone());
            return Poll::Ready(object);
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The objects to reconcile, as they are handed out; never ends.
    pub(crate) fn stream(self: Arc<Self>) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: 'static,
        K::DynamicType: Send + Sync,
    {
        futures::stream::poll_fn(move |cx| self.poll_next_object(cx).map(Some))
    }

    /// How many objects wait (handed out ones not counted).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.inner().queue.len()
    }
}

impl<K: Lookup> Inner<K> {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// Reports the end of a reconcile to the queue when dropped: when the reconcile returns, and
/// also when it is cancelled, so the queue never waits for a reconcile that will not end.
pub(crate) struct Done<K>
where
    K: Lookup,
    K::DynamicType: Eq + Hash + Clone,
{
    queue: Arc<WorkQueue<K>>,
    object: ObjectRef<K>,
}

impl<K> Done<K>
where
    K: Lookup,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    pub(crate) fn new(queue: &Arc<WorkQueue<K>>, object: &K) -> Self {
        Self { queue: queue.clone(), object: bare(ObjectRef::from_obj(object)) }
    }
}

impl<K> Drop for Done<K>
where
    K: Lookup,
    K::DynamicType: Eq + Hash + Clone,
{
    fn drop(&mut self) {
        self.queue.done(&self.object);
    }
}

/// The name and namespace only (what the queue compares; the uid and resourceVersion of a
/// trigger would only take room).
fn bare<K: Lookup>(object: ObjectRef<K>) -> ObjectRef<K> {
    let ObjectRef { dyntype, name, namespace, .. } = object;
    let mut bare = ObjectRef::new_with(&name, dyntype);
    bare.namespace = namespace;
    bare
}

/// A `Controller` whose triggers all pass through a [`WorkQueue`]: the builder methods of
/// `Controller` that this crate uses, each feeding the queue instead of the controller's
/// scheduler. [`Queued::finish`] connects the queue to the controller.
pub(crate) struct Queued<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    controller: Controller<K>,
    queue: Arc<WorkQueue<K>>,
}

impl<K> Queued<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    /// The controller over `store`, the reflector that `primary` (its watch) fills; every
    /// object `primary` yields is triggered.
    pub(crate) fn new(
        primary: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
        store: Store<K>,
        limit: usize,
    ) -> Self {
        let refs = primary.filter_map(|event| {
            future::ready(match event {
                Ok(object) => Some(ObjectRef::from_obj(&object)),
                Err(e) => {
                    tracing::debug!(error = %e, "watch");
                    None
                }
            })
        });
        Self::from_refs(refs, store, limit)
    }

    /// The controller over `store`, filled elsewhere; every object `primary` names is triggered.
    pub(crate) fn from_refs(
        primary: impl Stream<Item = ObjectRef<K>> + Send + 'static,
        store: Store<K>,
        limit: usize,
    ) -> Self {
        let queue = Arc::new(WorkQueue::new(limit));
        let feed = queue.clone();
        // The controller still polls the primary stream (it may drive the reflector); it yields
        // nothing to the controller's scheduler.
        let primary = primary.filter_map(move |object| {
            feed.add(object);
            future::ready(None::<Result<K, watcher::Error>>)
        });
        Self { controller: Controller::for_stream(primary, store), queue }
    }

    pub(crate) fn store(&self) -> Store<K> {
        self.controller.store()
    }

    /// Trigger the objects `mapper` names for each object `trigger` yields.
    pub(crate) fn watches_stream<Other, I>(
        self,
        trigger: impl Stream<Item = Result<Other, watcher::Error>> + Send + 'static,
        mapper: impl Fn(Other) -> I + Sync + Send + 'static,
    ) -> Self
    where
        I: IntoIterator<Item = ObjectRef<K>>,
    {
        let feed = self.queue.clone();
        let triggers = trigger.filter_map(move |event| {
            match event {
                Ok(other) => mapper(other).into_iter().for_each(|object| feed.add(object)),
                Err(e) => tracing::debug!(error = %e, "watch"),
            }
            future::ready(None)
        });
        self.with_triggers(triggers)
    }

    /// Watch `api` with `config` and trigger the objects `mapper` names.
    pub(crate) fn watches<Other, I>(
        self,
        api: Api<Other>,
        config: watcher::Config,
        mapper: impl Fn(Other) -> I + Sync + Send + 'static,
    ) -> Self
    where
        Other: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = ObjectRef<K>>,
    {
        let trigger = watcher(api, config).default_backoff().touched_objects();
        self.watches_stream(trigger, mapper)
    }

    /// Trigger each object `trigger` names.
    pub(crate) fn reconcile_on(self, trigger: impl Stream<Item = ObjectRef<K>> + Send + 'static) -> Self {
        let feed = self.queue.clone();
        let triggers = trigger.filter_map(move |object| {
            feed.add(object);
            future::ready(None)
        });
        self.with_triggers(triggers)
    }

    /// Trigger every object in the store whenever `trigger` yields.
    pub(crate) fn reconcile_all_on(self, trigger: impl Stream<Item = ()> + Send + 'static) -> Self {
        let (feed, store) = (self.queue.clone(), self.store());
        let triggers = trigger.filter_map(move |()| {
            for object in store.state() {
                feed.add(ObjectRef::from_obj(object.as_ref()));
            }
            future::ready(None)
        });
        self.with_triggers(triggers)
    }

    fn with_triggers(self, triggers: impl Stream<Item = ObjectRef<K>> + Send + 'static) -> Self {
        Self { controller: self.controller.reconcile_on(triggers), queue: self.queue }
    }

    /// The controller, its only trigger the queue; reconciles must report to the queue's
    /// [`WorkQueue::done`] when they end.
    pub(crate) fn finish(self) -> (Controller<K>, Arc<WorkQueue<K>>) {
        let controller = self.controller.reconcile_on(self.queue.clone().stream());
        (controller, self.queue)
    }
}

/// One poll of the queue, for the tests: the object handed out, if any.
#[cfg(test)]
fn poll_once<K>(queue: &WorkQueue<K>) -> Option<ObjectRef<K>>
where
    K: Lookup,
    K::DynamicType: Eq + Hash + Clone,
{
    let waker = futures::task::noop_waker();
    match queue.poll_next_object(&mut Context::from_waker(&waker)) {
        Poll::Ready(object) => Some(object),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    use super::*;

    fn pod(name: &str) -> ObjectRef<Pod> {
        ObjectRef::new(name).within("default")
    }

    fn names(queue: &WorkQueue<Pod>, n: usize) -> Vec<String> {
        (0..n).filter_map(|_| poll_once(queue)).map(|o| o.name).collect()
    }

    #[test]
    fn objects_come_out_in_the_order_first_triggered_once_each() {
        let queue = WorkQueue::new(10);
        for name in ["a", "b", "a", "c", "b"] {
            queue.add(pod(name));
        }
        assert_eq!(names(&queue, 10), ["a", "b", "c"]);
    }

    #[test]
    fn at_most_limit_objects_are_out_at_once() {
        let queue = WorkQueue::new(2);
        for name in ["a", "b", "c", "d"] {
            queue.add(pod(name));
        }
        assert_eq!(names(&queue, 4), ["a", "b"], "two handed out, then none until one is done");
        queue.done(&pod("b"));
        assert_eq!(names(&queue, 4), ["c"]);
        queue.done(&pod("a"));
        queue.done(&pod("c"));
        assert_eq!(names(&queue, 4), ["d"]);
    }

    #[test]
    fn an_object_triggered_while_reconciled_goes_to_the_back_when_done() {
        let queue = WorkQueue::new(1);
        queue.add(pod("a"));
        assert_eq!(names(&queue, 1), ["a"]);
        queue.add(pod("b"));
        queue.add(pod("a"));
        queue.add(pod("a"));
        assert_eq!(queue.waiting(), 1, "a waits for its reconcile to end, once");
        queue.done(&pod("a"));
        assert_eq!(names(&queue, 1), ["b"]);
        queue.done(&pod("b"));
        assert_eq!(names(&queue, 1), ["a"]);
        queue.done(&pod("a"));
        assert_eq!(names(&queue, 1), Vec::<String>::new(), "nothing left");
    }

    #[test]
    fn done_for_an_object_not_handed_out_changes_nothing() {
        let queue = WorkQueue::new(1);
        queue.add(pod("a"));
        queue.add(pod("b"));
        assert_eq!(names(&queue, 1), ["a"]);
        // A requeue of b ran beside the queue and ended: b still waits, a still counts.
        queue.done(&pod("b"));
        assert_eq!(names(&queue, 1), Vec::<String>::new());
        queue.done(&pod("a"));
        assert_eq!(names(&queue, 1), ["b"]);
    }

    #[test]
    fn the_waiting_consumer_is_woken_by_an_add_and_by_a_done() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let queue = WorkQueue::new(1);
        assert!(queue.poll_next_object(&mut cx).is_pending());
        queue.add(pod("a"));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(queue.poll_next_object(&mut cx).is_ready());
        queue.add(pod("b"));
        assert!(queue.poll_next_object(&mut cx).is_pending(), "the limit is reached");
        queue.done(&pod("a"));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert_eq!(queue.poll_next_object(&mut cx).map(|o| o.name), Poll::Ready("b".to_owned()));
    }

    #[test]
    fn a_reconcile_dropped_before_its_end_still_reports_done() {
        let queue = Arc::new(WorkQueue::new(1));
        queue.add(pod("a"));
        queue.add(pod("b"));
        assert_eq!(names(&queue, 1), ["a"]);
        let object: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "a", "namespace": "default" }
        }))
        .unwrap();
        let reconcile = {
            let done = Done::new(&queue, &object);
            async move {
                futures::future::pending::<()>().await;
                drop(done);
            }
        };
        drop(reconcile);
        assert_eq!(names(&queue, 1), ["b"], "a's slot was given back");
    }

    #[test]
    fn triggers_keep_only_name_and_namespace() {
        let queue = WorkQueue::new(1);
        let mut object = pod("a");
        object.extra.resource_version = Some("7".into());
        object.extra.uid = Some("u".into());
        queue.add(object);
        let out = poll_once(&queue).expect("handed out");
        assert_eq!((out.extra.resource_version, out.extra.uid), (None, None));
    }
}
