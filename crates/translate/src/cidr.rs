//! The host's service CIDR (pure part), shared by the CLI's `create` and the syncer's start-up
//! (`EnsureServiceCIDR`): read from the default ServiceCIDR or, where that is not served or
//! readable, from kube-apiserver's answer to probe Services.
//!
//! Kubernetes 1.33 serves `networking.k8s.io/v1` ServiceCIDRs, and kube-apiserver keeps one
//! named `kubernetes` whose `spec.cidrs` are its `--service-cluster-ip-range`, primary family
//! first (kubernetes `pkg/controlplane/controller/defaultservicecidr/
//! default_servicecidr_controller.go`): one GET answers for both families, in order.
//!
//! Otherwise, as the established vcluster does (loft-sh/vcluster v0.15.7
//! `pkg/util/servicecidr/servicecidr.go`): create a Service with a cluster IP outside any sane
//! range (`4.4.4.4`, and `2001:db8::1` for IPv6); the allocator rejects it with "… The range of
//! valid IPs is <cidr>". Probes are **dry-run** creates: kube-apiserver 1.33
//! (MultiCIDRServiceAllocator) names the range only in a dry-run create's error.

use std::net::IpAddr;

/// The fallback when no range can be read (the kube-apiserver default, and the chart's).
pub const FALLBACK: &str = "10.96.0.0/12";
/// The IPv4 probe's cluster IP.
pub const PROBE_V4: &str = "4.4.4.4";
/// The IPv6 probe's cluster IP (documentation range, RFC 3849).
pub const PROBE_V6: &str = "2001:db8::1";

/// kube-apiserver `pkg/registry/core/service/ipallocator/ipallocator.go` `ErrNotInRange`:
/// "the provided IP (%s) is not in the valid range. The range of valid IPs is %s".
const RANGE_MARKER: &str = "The range of valid IPs is ";

/// The CIDR named in a probe's error message, when it names one and it parses as a CIDR.
pub fn range_in_message(message: &str) -> Option<String> {
    let rest = &message[message.find(RANGE_MARKER)? + RANGE_MARKER.len()..];
    let cidr: String = rest.chars().take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/')).collect();
    is_cidr(&cidr).then_some(cidr)
}

pub fn is_cidr(text: &str) -> bool {
    let Some((addr, bits)) = text.split_once('/') else { return false };
    let Ok(addr) = addr.parse::<IpAddr>() else { return false };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max)
}

/// Whether a stored `vc-cidr-<name>` value is usable as it is: one CIDR, or two joined by ","
/// (dual stack). The established syncer keeps a present value that parses and detects again
/// otherwise (loft-sh/vcluster v0.15.7 `pkg/util/servicecidr/servicecidr.go`
/// `EnsureServiceCIDRConfigmap`; its `net.ParseCIDR` rejects the dual-stack form it writes itself,
/// so it re-detects those on every start — here both forms are kept).
pub fn is_valid_stored(value: &str) -> bool {
    let parts: Vec<&str> = value.split(',').collect();
    parts.len() <= 2 && parts.iter().all(|p| is_cidr(p))
}

/// The key of the syncer's ConfigMap that holds the host's service CIDR.
pub const CONFIGMAP_KEY: &str = "cidr";

/// `vc-cidr-<vcluster>`: the ConfigMap the syncer writes the host's service CIDR to at start and
/// k3s reads when `serviceCIDR` is not set (loft-sh/vcluster v0.15.7
/// `pkg/util/servicecidr/servicecidr.go` `GetCIDRConfigMapName`).
pub fn configmap_name(vcluster: &str) -> String {
    format!("vc-cidr-{vcluster}")
}

/// The ServiceCIDR kube-apiserver creates from its flags (default_servicecidr_controller.go
/// `DefaultServiceCIDRName`).
pub const DEFAULT_SERVICE_CIDR: &str = "kubernetes";

/// The ServiceCIDR's ranges as detection reports them: joined with "," in their order (primary
/// first), as [`combine`] joins the probes' ranges; `None` when there is none or one is not a
/// CIDR (the probes then decide).
pub fn from_service_cidr(cidrs: &[String]) -> Option<String> {
    (!cidrs.is_empty() && cidrs.iter().all(|c| is_cidr(c))).then(|| cidrs.join(","))
}

/// What detection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// `v4`, `v6`, or `primary,secondary` for a dual-stack cluster.
    Found(String),
    /// Neither probe named a range: the fallback, with the reason for the warning.
    Fallback { reason: String },
}

impl Detected {
    pub fn cidr(&self) -> &str {
        match self {
            Detected::Found(cidr) => cidr,
            Detected::Fallback { .. } => FALLBACK,
        }
    }
}

/// Combine the two probes' ranges; `ipv6_primary` answers which family comes first when both
/// exist (the established CLI learns it from a dual-stack Service's `ipFamilies[0]`).
pub fn combine(v4: Option<String>, v6: Option<String>, ipv6_primary: bool) -> Option<String> {
    match (v4, v6) {
        (Some(a), Some(b)) if ipv6_primary => Some(format!("{b},{a}")),
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_range_from_kube_apiserver_messages() {
        let msg = r#"Service "x" is invalid: spec.clusterIPs: Invalid value: []string{"4.4.4.4"}: failed to allocate IP 4.4.4.4: the provided IP (4.4.4.4) is not in the valid range. The range of valid IPs is 10.96.0.0/12"#;
        assert_eq!(range_in_message(msg).as_deref(), Some("10.96.0.0/12"));
        let v6 = "failed to allocate IP 2001:db8::1: the provided IP (2001:db8::1) is not in the valid range. The range of valid IPs is fd00:10:96::/108";
        assert_eq!(range_in_message(v6).as_deref(), Some("fd00:10:96::/108"));
        // 1.33's real (non-dry-run) create, and family errors, name no range.
        assert_eq!(
            range_in_message("failed to allocate IP 4.4.4.4: the provided network does not match the current range"),
            None
        );
        assert_eq!(
            range_in_message("spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"),
            None
        );
        assert_eq!(range_in_message("The range of valid IPs is banana"), None);
        assert_eq!(range_in_message("The range of valid IPs is 10.0.0.0/99"), None);
    }

    #[test]
    fn reads_the_default_service_cidr_in_its_order() {
        let v6_first = ["fd00:10:96::/108".to_owned(), "10.100.0.0/16".to_owned()];
        assert_eq!(from_service_cidr(&v6_first).as_deref(), Some("fd00:10:96::/108,10.100.0.0/16"));
        assert_eq!(
            from_service_cidr(&v6_first),
            combine(Some("10.100.0.0/16".into()), Some("fd00:10:96::/108".into()), true),
            "formatted as the probes' answer would be"
        );
        assert_eq!(from_service_cidr(&["10.96.0.0/12".to_owned()]).as_deref(), Some("10.96.0.0/12"));
        assert_eq!(from_service_cidr(&[]), None);
        assert_eq!(from_service_cidr(&["10.96.0.0/12".to_owned(), "banana".to_owned()]), None);
    }

    #[test]
    fn stored_values() {
        assert!(is_valid_stored("10.96.0.0/12"));
        assert!(is_valid_stored("10.96.0.0/12,fd00::/108"));
        assert!(!is_valid_stored(""));
        assert!(!is_valid_stored("10.96.0.0"));
        assert!(!is_valid_stored("a,b,c"));
    }

    #[test]
    fn combines_families_primary_first() {
        assert_eq!(combine(Some("10.96.0.0/12".into()), None, false).as_deref(), Some("10.96.0.0/12"));
        assert_eq!(combine(None, Some("fd00::/108".into()), false).as_deref(), Some("fd00::/108"));
        assert_eq!(
            combine(Some("10.96.0.0/12".into()), Some("fd00::/108".into()), true).as_deref(),
            Some("fd00::/108,10.96.0.0/12")
        );
        assert_eq!(combine(None, None, false), None);
        assert_eq!(Detected::Fallback { reason: "x".into() }.cidr(), FALLBACK);
    }
}
