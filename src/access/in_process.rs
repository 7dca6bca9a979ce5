//! The port-forward to a vcluster's API that `connect --foreground` and `connect -- CMD` serve in
//! this process, following the StatefulSet's pods, until the StatefulSet is deleted or no pod is
//! Ready for the grace period.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use tokio_util::sync::CancellationToken;

use crate::cluster::Connection;
use crate::forward::{self, Forward, Listener, Log, PodPort, Pods};
use crate::printer::Printer;
use crate::printer::text::humanize;

/// A port-forward served by this process.
pub(crate) struct InProcess {
    pub(crate) locals: Vec<std::net::SocketAddr>,
    stop: CancellationToken,
    serving: tokio::task::JoinHandle<()>,
    died: tokio::task::JoinHandle<String>,
}

impl InProcess {
    pub(crate) fn start(
        printer: &Printer,
        host: &Connection,
        sts: &StatefulSet,
        sockets: Vec<tokio::net::TcpListener>,
        remote_port: u16,
        grace: Duration,
    ) -> InProcess {
        let namespace = sts.metadata.namespace.clone().unwrap_or_default();
        let name = sts.metadata.name.clone().unwrap_or_default();
        let log: Log = {
            let printer = printer.clone();
            Arc::new(move |line: String| printer.debug(line))
        };
        let pods = Pods::Selector(crate::workload::pod_selector(sts));
        let forward = Arc::new(Forward::new(host.client.clone(), &namespace, &pods, log));
        let locals = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
        let listeners: Vec<Listener> =
            sockets.into_iter().map(|socket| Listener { socket, remote: PodPort::Number(remote_port) }).collect();
        let stop = CancellationToken::new();
        let serving = {
            let (forward, stop) = (forward.clone(), stop.clone());
            tokio::spawn(async move { forward.serve(listeners, stop.cancelled_owned()).await })
        };
        let statefulsets: Api<StatefulSet> = Api::namespaced(host.client.clone(), &namespace);
        let died = tokio::spawn(async move {
            tokio::select! {
                () = forward::until_deleted(statefulsets, &name) => format!("StatefulSet {name} was deleted"),
                () = forward.follower().absent_for(grace) => {
                    format!("no pod of the vcluster was Ready for {}", humanize(grace))
                }
            }
        });
        InProcess { locals, stop, serving, died }
    }

    /// Resolves when the forward can no longer work, with the reason (await it once).
    pub(crate) async fn died(&mut self) -> String {
        (&mut self.died).await.unwrap_or_else(|e| format!("the forward's watch failed: {e}"))
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.died.abort();
        let _ = self.serving.await;
    }
}
