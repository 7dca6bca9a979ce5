//! When a watch first saw each object: the benches stop their clocks on what a watch shows,
//! the same event for the syncer's phase and the raw client's.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

pub struct FirstSeen {
    /// By name, the instant each object that `counts` accepted was first seen.
    pub seen: Arc<Mutex<HashMap<String, Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FirstSeen {
    /// Watch `api` from now on; an object is seen once `counts` accepts it.
    pub fn start<K>(api: Api<K>, counts: impl Fn(&K) -> bool + Send + 'static) -> FirstSeen
    where
        K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    {
        let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let watch_seen = seen.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Ok(Some(event)) = events.try_next().await {
                if let watcher::Event::Apply(o) | watcher::Event::InitApply(o) = event
                    && counts(&o)
                    && let Some(name) = o.meta().name.clone()
                {
                    watch_seen.lock().unwrap().entry(name).or_insert_with(Instant::now);
                }
            }
        });
        FirstSeen { seen, task }
    }

    /// How many objects whose names start with `prefix` were seen.
    pub fn count(&self, prefix: &str) -> usize {
        self.seen.lock().unwrap().keys().filter(|name| name.starts_with(prefix)).count()
    }

    /// Wait until `n` objects whose names start with `prefix` were seen (`what` names them in
    /// the progress lines); the instant the last one was.
    pub async fn all(&self, prefix: &str, n: usize, what: &str) -> Instant {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(1800);
        let mut report = Instant::now();
        while self.count(prefix) < n {
            assert!(Instant::now() < deadline, "{what}: {} of {n} seen", self.count(prefix));
            if report.elapsed() > Duration::from_secs(10) {
                eprintln!("  {} {what} after {:.0}s more", self.count(prefix), start.elapsed().as_secs_f64());
                report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|(name, _)| name.starts_with(prefix)).map(|(_, t)| *t).max().unwrap()
    }
}

impl Drop for FirstSeen {
    fn drop(&mut self) {
        self.task.abort();
    }
}
