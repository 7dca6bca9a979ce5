//! Following one watch from a resourceVersion, as every wait of this tool does (never polling).

use futures::{StreamExt, stream::BoxStream};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// A change seen by [`Follow`].
#[derive(Debug)]
pub(crate) enum Change<K> {
    Applied(K),
    Deleted(K),
    /// The watch's history was gone (410): the current list instead.
    Relisted(Vec<K>),
}

/// One watch followed from a resourceVersion: reopened when the server ends it, relisted when
/// the resourceVersion is too old (410 Gone), bookmarks followed. Never polls.
pub(crate) struct Follow<K> {
    api: Api<K>,
    params: WatchParams,
    rv: String,
    stream: Option<BoxStream<'static, kube::Result<WatchEvent<K>>>>,
}

impl<K> Follow<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    /// `rv` empty: from the current state (a LIST first).
    pub(crate) fn new(api: Api<K>, params: WatchParams, rv: String) -> Follow<K> {
        Follow { api, params: params.timeout(290), rv, stream: None }
    }

    pub(crate) async fn next(&mut self) -> kube::Result<Change<K>> {
        loop {
            if self.rv.is_empty() {
                return self.relist().await;
            }
            if self.stream.is_none() {
                self.stream = Some(self.api.watch(&self.params, &self.rv).await?.boxed());
            }
            let stream = self.stream.as_mut().expect("opened above");
            match stream.next().await {
                None => self.stream = None,
                Some(Err(e)) => {
                    self.stream = None;
                    if !is_stream_end(&e) {
                        return Err(e);
                    }
                }
                Some(Ok(event)) => match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                        self.advance(&o);
                        return Ok(Change::Applied(o));
                    }
                    WatchEvent::Deleted(o) => {
                        self.advance(&o);
                        return Ok(Change::Deleted(o));
                    }
                    WatchEvent::Bookmark(b) => self.rv = b.metadata.resource_version,
                    WatchEvent::Error(status) if status.code == 410 => {
                        self.stream = None;
                        return self.relist().await;
                    }
                    WatchEvent::Error(status) => return Err(kube::Error::Api(status)),
                },
            }
        }
    }

    fn advance(&mut self, o: &K) {
        if let Some(rv) = o.meta().resource_version.clone() {
            self.rv = rv;
        }
    }

    async fn relist(&mut self) -> kube::Result<Change<K>> {
        let lp = ListParams {
            label_selector: self.params.label_selector.clone(),
            field_selector: self.params.field_selector.clone(),
            ..ListParams::default()
        };
        let list = self.api.list(&lp).await?;
        self.rv = list.metadata.resource_version.unwrap_or_default();
        Ok(Change::Relisted(list.items))
    }
}

/// A watch body that ended mid-stream (connection dropped): reopen rather than fail.
fn is_stream_end(e: &kube::Error) -> bool {
    matches!(e, kube::Error::ReadEvents(_) | kube::Error::HyperError(_) | kube::Error::Service(_))
}
