//! The workload mode's configuration, the test holds, and what the node's kubelet remembers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::controllers::cursor::Cursor;
use crate::model::jsonpath;
use crate::model::selectors::{LabelSelector, parse_label_selector};
use crate::registry::store::Key;

/// How workloads behave.
#[derive(Debug, Clone)]
pub struct Workloads {
    /// Run the scheduler, kubelet and controllers (off in-process unless enabled; on in the
    /// standalone binary).
    pub enabled: bool,
    /// From a pod's binding to its containers running (sandbox, image pull, start).
    pub start_delay: Duration,
    /// From containers running to the pod being Ready.
    pub ready_delay: Duration,
    /// From a graceful pod deletion to the kubelet's final delete.
    pub termination_delay: Duration,
    /// The node's pod CIDR (IPv4), where pod IPs come from.
    pub pod_cidr: String,
}

impl Default for Workloads {
    fn default() -> Self {
        Workloads {
            enabled: false,
            start_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            termination_delay: Duration::ZERO,
            pod_cidr: "10.244.0.0/24".into(),
        }
    }
}

/// A state a pod is held in (test control), with the status and Warning events the kubelet
/// or scheduler reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodHold {
    /// Pending, not scheduled: condition PodScheduled False/Unschedulable, event
    /// FailedScheduling.
    Unschedulable,
    /// Bound, its sandbox never ready: waiting/ContainerCreating.
    ContainerCreating,
    /// Its first container's image cannot be pulled: ErrImagePull, then ImagePullBackOff.
    ImagePullBackOff,
    /// Its first container keeps exiting with code 1: waiting/CrashLoopBackOff after
    /// `restarts` restarts.
    CrashLoopBackOff { restarts: u32 },
    /// Running, its readiness failing: Ready False (event Unhealthy when it has a readiness
    /// probe).
    NotReady,
}

/// Which pods a hold applies to: by name, or by label selector, in one namespace.
#[derive(Debug, Clone)]
pub struct PodMatch {
    namespace: String,
    name: Option<String>,
    selector: Option<LabelSelector>,
}

impl PodMatch {
    pub fn name(namespace: &str, name: &str) -> PodMatch {
        PodMatch { namespace: namespace.into(), name: Some(name.into()), selector: None }
    }

    /// Pods whose labels match `selector` (label selector syntax: `app=web,tier!=db`).
    pub fn labels(namespace: &str, selector: &str) -> Result<PodMatch, String> {
        let selector = parse_label_selector(selector)?;
        Ok(PodMatch { namespace: namespace.into(), name: None, selector: Some(selector) })
    }

    pub(super) fn matches(&self, pod: &Value) -> bool {
        jsonpath::namespace(pod) == self.namespace
            && self.name.as_deref().is_none_or(|n| n == jsonpath::name(pod))
            && self.selector.as_ref().is_none_or(|s| s.matches(jsonpath::labels(pod)))
    }
}

/// What the kubelet remembers about a pod it runs (by uid).
#[derive(Debug, Default)]
pub(super) struct Runtime {
    /// When the kubelet first saw the pod bound to its node.
    pub(super) admitted: Option<Instant>,
    /// Sandbox ready: the pod IP.
    pub(super) ip: Option<String>,
    /// Containers started.
    pub(super) started: Option<Instant>,
    /// Graceful deletion noticed.
    pub(super) killing: Option<Instant>,
    /// Events already reported (so each is reported once per transition).
    pub(super) reported: HashSet<String>,
}

/// The mode's state, kept with the cluster.
#[derive(Debug, Default)]
pub struct State {
    pub config: Workloads,
    /// Only kube-controller-manager's controllers: no scheduler, kubelet or Node.
    pub(super) control_plane_only: bool,
    /// What the node's kubelet reports (the server's version).
    pub(super) kubelet_version: String,
    pub(super) holds: Vec<(PodMatch, PodHold)>,
    pub(super) runtimes: HashMap<String, Runtime>,
    /// Images present on the node (pulled once).
    pub(super) images: HashSet<String>,
    /// Pod IPs in use, by pod uid.
    pub(super) ips: PodIps,
    /// Where the scheduler and kubelet are in the store's history.
    pub(super) kubelet: Cursor,
    /// Where the endpoints controllers are in the store's history.
    pub(super) endpoints: Cursor,
    /// Pods with a timed step ahead (start, readiness, termination), when it is due.
    pub(super) timed: BTreeMap<Key, Instant>,
    /// Pods whose sandbox is ready but found no free pod IP.
    pub(super) ip_waiters: BTreeSet<Key>,
}

/// The node's pod IPs: which pod holds which, and where the last allocation ended (the CNI
/// host-local IPAM hands out the address after the last one it reserved, wrapping around:
/// containernetworking/plugins v1.5.1 plugins/ipam/host-local/backend/allocator/allocator.go
/// `Get`), so an allocation does not scan the pods.
#[derive(Debug, Default)]
pub(super) struct PodIps {
    by_uid: HashMap<String, String>,
    used: HashSet<String>,
    last: u32,
}

impl PodIps {
    pub(super) fn remove(&mut self, uid: &str) -> Option<String> {
        let ip = self.by_uid.remove(uid)?;
        self.used.remove(&ip);
        Some(ip)
    }

    pub(super) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let used = &mut self.used;
        self.by_uid.retain(|uid, ip| {
            let kept = keep(uid);
            if !kept {
                used.remove(ip);
            }
            kept
        });
    }

    /// The next free address of `cidr` after the last one handed out (the first address is
    /// the bridge's), for `uid`.
    pub(super) fn allocate(&mut self, cidr: &str, uid: &str) -> Option<String> {
        if let Some(ip) = self.by_uid.get(uid) {
            return Some(ip.clone());
        }
        let (base, bits) = cidr.split_once('/')?;
        let base = u32::from(base.parse::<std::net::Ipv4Addr>().ok()?);
        let size = 1u32 << (32 - bits.parse::<u32>().ok()?.min(30));
        let (first, end) = (2, size - 1);
        let start = self.last.clamp(first - 1, end - 1) + 1;
        let ip = (start..end)
            .chain(first..start)
            .map(|n| (n, std::net::Ipv4Addr::from(base + n).to_string()))
            .find(|(_, ip)| !self.used.contains(ip));
        let (n, ip) = ip?;
        self.last = n;
        self.used.insert(ip.clone());
        self.by_uid.insert(uid.into(), ip.clone());
        Some(ip)
    }
}

impl State {
    pub fn new(config: Workloads, kubelet_version: &str, control_plane_only: bool) -> State {
        State { config, kubelet_version: kubelet_version.into(), control_plane_only, ..Default::default() }
    }

    /// Whether the workload controllers run (the workload mode, or a control plane only).
    pub fn runs_controllers(&self) -> bool {
        self.config.enabled || self.control_plane_only
    }

    /// Whether the scheduler and a kubelet run pods (and finish their graceful deletion).
    pub fn runs_kubelet(&self) -> bool {
        self.config.enabled && !self.control_plane_only
    }

    /// Look at every object on the next pass (the configuration or the holds changed).
    pub fn resync(&mut self) {
        self.kubelet.resync();
        self.endpoints.resync();
    }

    pub fn hold(&mut self, pods: PodMatch, hold: PodHold) {
        self.release(&pods);
        self.holds.push((pods, hold));
    }

    /// Remove the holds set with an equal match.
    pub fn release(&mut self, pods: &PodMatch) {
        self.holds
            .retain(|(m, _)| !(m.namespace == pods.namespace && m.name == pods.name && m.selector == pods.selector));
        self.resync();
    }

    pub(super) fn hold_of(&self, pod: &Value) -> Option<&PodHold> {
        self.holds.iter().rev().find(|(m, _)| m.matches(pod)).map(|(_, h)| h)
    }
}

/// The outcome of a pass: whether anything was written, and when the next timed step is due.
#[derive(Debug, Default)]
pub struct Pass {
    pub changed: bool,
    pub wake: Option<Instant>,
}

impl Pass {
    pub(super) fn wake_at(&mut self, at: Instant) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }
}

#[cfg(test)]
mod pod_ip_tests {
    use super::PodIps;

    #[test]
    fn pod_ips_follow_the_last_one_handed_out_and_wrap_around() {
        let mut ips = PodIps::default();
        // A /29 has .2 to .6 for pods (.0 network, .1 the bridge, .7 broadcast).
        let cidr = "10.0.0.0/29";
        assert_eq!(ips.allocate(cidr, "a").as_deref(), Some("10.0.0.2"));
        assert_eq!(ips.allocate(cidr, "b").as_deref(), Some("10.0.0.3"));
        assert_eq!(ips.allocate(cidr, "a").as_deref(), Some("10.0.0.2"), "a pod keeps its IP");
        assert_eq!(ips.remove("a").as_deref(), Some("10.0.0.2"));
        // Not the freed .2: the next after the last one handed out.
        assert_eq!(ips.allocate(cidr, "c").as_deref(), Some("10.0.0.4"));
        assert_eq!(ips.allocate(cidr, "d").as_deref(), Some("10.0.0.5"));
        assert_eq!(ips.allocate(cidr, "e").as_deref(), Some("10.0.0.6"));
        // Wrapped around to the freed one; then full.
        assert_eq!(ips.allocate(cidr, "f").as_deref(), Some("10.0.0.2"));
        assert_eq!(ips.allocate(cidr, "g"), None);
        ips.retain(|uid| uid != "d");
        assert_eq!(ips.allocate(cidr, "g").as_deref(), Some("10.0.0.5"));
    }
}
