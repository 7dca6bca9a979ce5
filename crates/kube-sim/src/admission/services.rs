//! Service IP and node port allocation, as kube-apiserver's Service REST storage does it
//! (pkg/registry/core/service/storage/alloc.go, pkg/registry/core/service/ipallocator,
//! pkg/registry/core/service/portallocator).

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::model::jsonpath::{get_str, items};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError};
use crate::registry::index::{Allocated, Held};

/// An IPv4 or IPv6 CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    base: u128,
    bits: u8,
    v6: bool,
    text: String,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = s.split_once('/').ok_or_else(|| format!("invalid CIDR {s:?}: missing prefix length"))?;
        let addr: IpAddr = addr.parse().map_err(|e| format!("invalid CIDR {s:?}: {e}"))?;
        let bits: u8 = bits.parse().map_err(|e| format!("invalid CIDR {s:?}: {e}"))?;
        let (value, width, v6) = match addr {
            IpAddr::V4(a) => (u32::from(a) as u128, 32, false),
            IpAddr::V6(a) => (u128::from(a), 128, true),
        };
        if bits > width || width - bits < 2 {
            return Err(format!("invalid CIDR {s:?}: the range must hold at least 4 addresses"));
        }
        let host_bits = (width - bits) as u32;
        let base = value >> host_bits << host_bits;
        Ok(Cidr { base, bits, v6, text: format!("{}/{bits}", to_ip(base, v6)) })
    }

    pub fn family(&self) -> &'static str {
        if self.v6 { "IPv6" } else { "IPv4" }
    }

    fn width(&self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }

    fn size(&self) -> u128 {
        1u128.checked_shl(self.width() - self.bits as u32).unwrap_or(u128::MAX)
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let (value, v6) = match ip {
            IpAddr::V4(a) => (u32::from(*a) as u128, false),
            IpAddr::V6(a) => (u128::from(*a), true),
        };
        let host_bits = self.width() - self.bits as u32;
        v6 == self.v6 && value.checked_shr(host_bits).unwrap_or(0) == self.base.checked_shr(host_bits).unwrap_or(0)
    }

    /// The `n`th address of the range.
    pub fn nth(&self, n: u128) -> IpAddr {
        to_ip(self.base + n, self.v6)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn to_ip(v: u128, v6: bool) -> IpAddr {
    if v6 { IpAddr::V6(v.into()) } else { IpAddr::V4((v as u32).into()) }
}

/// The cluster's service network: one CIDR per family (the first is the primary) and the
/// node port range.
#[derive(Debug, Clone)]
pub struct ServiceNetwork {
    pub cidrs: Vec<Cidr>,
    pub node_ports: (u16, u16),
    /// kube-apiserver minor version: 1.33 allocates through ServiceCIDR objects
    /// (MultiCIDRServiceAllocator, GA), whose out-of-range error no longer names the range.
    pub minor: u32,
}

/// What is taken by existing Services: the IPs and node ports every stored Service holds
/// (kept by the store's index as writes happen), less those of the Service being updated.
#[derive(Debug)]
pub struct InUse<'a> {
    allocated: &'a Allocated,
    except: Held,
}

static NOTHING_ALLOCATED: Allocated = Allocated::new();

impl Default for InUse<'_> {
    fn default() -> Self {
        InUse { allocated: &NOTHING_ALLOCATED, except: Held::default() }
    }
}

impl<'a> InUse<'a> {
    /// What `allocated` holds, not counting what `except` (the stored Service an update
    /// replaces) holds.
    pub fn new(allocated: &'a Allocated, except: Option<&Value>) -> InUse<'a> {
        InUse { allocated, except: except.map(Held::of).unwrap_or_default() }
    }

    fn ip(&self, ip: &IpAddr) -> bool {
        self.allocated.ip_holders(ip) > u32::from(self.except.ips.contains(ip))
    }

    fn node_port(&self, n: i64) -> bool {
        self.allocated.node_port_holders(n) > u32::from(self.except.node_ports.contains(&n))
    }
}

impl ServiceNetwork {
    fn cidr_for(&self, family: &str) -> Option<&Cidr> {
        self.cidrs.iter().find(|c| c.family() == family)
    }

    /// Allocate `svc`'s cluster IPs and node ports (create when `old` is None), filling
    /// clusterIP, clusterIPs, ipFamilies, ipFamilyPolicy and nodePorts as kube-apiserver does.
    pub fn allocate(&self, svc: &mut Value, old: Option<&Value>, in_use: &InUse, dry_run: bool) -> ApiResult<()> {
        let name = get_str(svc, &["metadata", "name"]).unwrap_or_default().to_string();
        let spec = svc.get_mut("spec").and_then(Value::as_object_mut).expect("defaulted service has a spec");
        let svc_type = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        if let Some(old) = old {
            patch_allocated_values(spec, old.get("spec").unwrap_or(&Value::Null), &svc_type);
        }
        if svc_type == "ExternalName" {
            for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                spec.remove(k);
            }
        } else if spec.get("clusterIPs").and_then(Value::as_array).is_none_or(Vec::is_empty)
            || old.is_none()
            || get_str(old.unwrap_or(&Value::Null), &["spec", "type"]) == Some("ExternalName")
        {
            self.cluster_ips(spec, &name, in_use, dry_run)?;
        }
        if svc_type == "NodePort" || svc_type == "LoadBalancer" {
            let allocate_new = svc_type == "NodePort"
                || spec.get("allocateLoadBalancerNodePorts").and_then(Value::as_bool) != Some(false);
            let old_ports: HashSet<i64> = old
                .map(|o| {
                    items(o.get("spec").unwrap_or(&Value::Null), "ports")
                        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                        .collect()
                })
                .unwrap_or_default();
            self.node_ports(spec, &name, in_use, &old_ports, allocate_new)?;
        } else if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                p.remove("nodePort");
            }
        }
        Ok(())
    }

    fn cluster_ips(&self, spec: &mut Map<String, Value>, name: &str, in_use: &InUse, dry_run: bool) -> ApiResult<()> {
        let mut requested: Vec<String> =
            items(&Value::Object(spec.clone()), "clusterIPs").filter_map(Value::as_str).map(str::to_string).collect();
        if requested.is_empty()
            && let Some(ip) = spec.get("clusterIP").and_then(Value::as_str).filter(|s| !s.is_empty())
        {
            requested.push(ip.to_string());
        }
        let policy = spec.get("ipFamilyPolicy").and_then(Value::as_str).unwrap_or("SingleStack").to_string();
        let headless = requested.first().map(String::as_str) == Some("None");
        let mut families: Vec<String> =
            items(&Value::Object(spec.clone()), "ipFamilies").filter_map(Value::as_str).map(str::to_string).collect();
        if families.is_empty() {
            for ip in &requested {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    families.push(if ip.is_ipv6() { "IPv6" } else { "IPv4" }.into());
                }
            }
        }
        if families.is_empty() {
            families.push(self.cidrs[0].family().into());
        }
        if policy != "SingleStack" && self.cidrs.len() > 1 && families.len() == 1 {
            let other = self.cidrs.iter().find(|c| c.family() != families[0]).map(|c| c.family().to_string());
            families.extend(other);
        }
        for (i, family) in families.iter().enumerate() {
            if self.cidr_for(family).is_none() && !(headless && i > 0) {
                let errs = [FieldError::invalid(
                    format!("spec.ipFamilies[{i}]"),
                    BadValue::str(family),
                    "not configured on this cluster",
                )];
                return Err(ApiError::invalid("", "Service", name, &errs));
            }
        }
        spec.insert("ipFamilyPolicy".into(), policy.into());
        spec.insert("ipFamilies".into(), json!(families));
        if headless {
            spec.insert("clusterIP".into(), "None".into());
            spec.insert("clusterIPs".into(), json!(["None"]));
            return Ok(());
        }
        let shown = requested.clone();
        let mut allocated = Vec::new();
        for (i, family) in families.iter().enumerate() {
            let cidr = self.cidr_for(family).expect("checked above");
            match requested.get(i).filter(|s| !s.is_empty()) {
                Some(ip) => {
                    let parsed: IpAddr =
                        ip.parse().map_err(|_| ApiError::internal(&format!("failed to parse service IP {:?}", ip)))?;
                    self.check_requested(cidr, &parsed, ip, &shown, name, in_use, dry_run)?;
                    allocated.push(ip.clone());
                }
                None => allocated.push(self.next_free(cidr, in_use)?.to_string()),
            }
        }
        spec.insert("clusterIP".into(), allocated[0].clone().into());
        spec.insert("clusterIPs".into(), json!(allocated));
        Ok(())
    }

    /// The allocator's answer for a requested IP (alloc.go `allocIPs`).
    #[allow(clippy::too_many_arguments)]
    fn check_requested(
        &self,
        cidr: &Cidr,
        ip: &IpAddr,
        text: &str,
        shown: &[String],
        name: &str,
        in_use: &InUse,
        dry_run: bool,
    ) -> ApiResult<()> {
        let reason = if !cidr.contains(ip) || *ip == cidr.nth(0) {
            // 1.33 (MultiCIDRServiceAllocator) allocates through the MetaAllocator, which
            // answers ErrMismatchedNetwork for an IP outside every ServiceCIDR; its dry-run
            // allocator (and the bitmap allocator before 1.33) answers ErrNotInRange, which
            // names the range (ipallocator/ipallocator.go, cidrallocator.go).
            if self.minor >= 33 && !dry_run {
                "the provided network does not match the current range".to_string()
            } else {
                format!("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}")
            }
        } else if in_use.ip(ip) && !(dry_run && self.minor >= 33) {
            "provided IP is already allocated".to_string()
        } else {
            return Ok(());
        };
        let errs = [FieldError::invalid(
            "spec.clusterIPs",
            BadValue::string_slice(shown),
            format!("failed to allocate IP {text}: {reason}"),
        )];
        Err(ApiError::invalid("", "Service", name, &errs))
    }

    fn next_free(&self, cidr: &Cidr, in_use: &InUse) -> ApiResult<IpAddr> {
        // Dynamic allocation avoids the lower "static" band (ipallocator.go calculateRangeOffset)
        // and the network/broadcast addresses.
        let size = cidr.size();
        let offset = (size / 16).clamp(16, 256).min(size / 2);
        let span = size - offset - 1;
        let start = fastrand::u64(..) as u128 % span.max(1);
        for i in 0..span.min(1 << 20) {
            let ip = cidr.nth(offset + (start + i) % span);
            if !in_use.ip(&ip) {
                return Ok(ip);
            }
        }
        Err(ApiError::internal("failed to allocate a serviceIP: range is full"))
    }

    fn node_ports(
        &self,
        spec: &mut Map<String, Value>,
        name: &str,
        in_use: &InUse,
        old: &HashSet<i64>,
        allocate_new: bool,
    ) -> ApiResult<()> {
        let (lo, hi) = (self.node_ports.0 as i64, self.node_ports.1 as i64);
        // Taken: what other Services hold (not this Service's old ports), and what this
        // request allocated so far.
        let mut allocated_here: HashSet<i64> = HashSet::new();
        let taken = |n: i64, here: &HashSet<i64>| (in_use.node_port(n) && !old.contains(&n)) || here.contains(&n);
        let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else { return Ok(()) };
        for (i, p) in ports.iter_mut().enumerate() {
            let Some(p) = p.as_object_mut() else { continue };
            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
                Some(n) => {
                    // portallocator/allocator.go ErrNotInRange / ErrAllocated
                    let err = if !(lo..=hi).contains(&n) {
                        Some(format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"))
                    } else if taken(n, &allocated_here) && !old.contains(&n) {
                        Some("provided port is already allocated".to_string())
                    } else {
                        None
                    };
                    if let Some(msg) = err {
                        let errs = [FieldError::invalid(
                            format!("spec.ports[{i}].nodePort"),
                            BadValue::Raw(n.to_string()),
                            msg,
                        )];
                        return Err(ApiError::invalid("", "Service", name, &errs));
                    }
                    allocated_here.insert(n);
                }
                None if allocate_new => {
                    let span = hi - lo + 1;
                    let start = fastrand::i64(0..span);
                    let free = (0..span).map(|k| lo + (start + k) % span).find(|n| !taken(*n, &allocated_here));
                    let n = free.ok_or_else(|| ApiError::internal("failed to allocate a nodePort: range is full"))?;
                    allocated_here.insert(n);
                    p.insert("nodePort".into(), n.into());
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// strategy.go `patchAllocatedValues`: an update that omits allocated values keeps them.
fn patch_allocated_values(spec: &mut Map<String, Value>, old: &Value, svc_type: &str) {
    let old_type = get_str(old, &["type"]).unwrap_or("ClusterIP");
    if svc_type != "ExternalName" && old_type != "ExternalName" {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let missing = match spec.get(k) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if missing && let Some(v) = old.get(k) {
                spec.insert(k.into(), v.clone());
            }
        }
    }
    let needs_node_ports = |t: &str| t == "NodePort" || t == "LoadBalancer";
    if needs_node_ports(svc_type) && needs_node_ports(old_type) {
        let old_ports: Vec<&Value> = items(old, "ports").collect();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                    continue;
                }
                let matching =
                    old_ports.iter().find(|o| o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol"));
                if let Some(n) = matching.and_then(|o| o.get("nodePort")) {
                    p.insert("nodePort".into(), n.clone());
                }
            }
        }
        if spec.get("healthCheckNodePort").is_none()
            && let Some(n) = old.get("healthCheckNodePort")
        {
            spec.insert("healthCheckNodePort".into(), n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(minor: u32) -> ServiceNetwork {
        ServiceNetwork { cidrs: vec![Cidr::parse("10.96.0.0/12").unwrap()], node_ports: (30000, 32767), minor }
    }

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "x"}, "spec": spec})
    }

    #[test]
    fn out_of_range_messages_per_version_and_dry_run() {
        // 1.33 dry run and pre-1.33: ipallocator.go ErrNotInRange, wrapped by alloc.go.
        let mut s = svc(json!({"type": "ClusterIP", "clusterIP": "4.4.4.4", "ports": [{"port": 80}]}));
        let err = net(33).allocate(&mut s, None, &InUse::default(), true).unwrap_err();
        assert_eq!(
            err.message,
            r#"Service "x" is invalid: spec.clusterIPs: Invalid value: []string{"4.4.4.4"}: failed to allocate IP 4.4.4.4: the provided IP (4.4.4.4) is not in the valid range. The range of valid IPs is 10.96.0.0/12"#
        );
        // 1.33 real allocation: cidrallocator.go ErrMismatchedNetwork.
        let mut s = svc(json!({"type": "ClusterIP", "clusterIP": "4.4.4.4", "ports": [{"port": 80}]}));
        let err = net(33).allocate(&mut s, None, &InUse::default(), false).unwrap_err();
        assert!(
            err.message
                .ends_with("failed to allocate IP 4.4.4.4: the provided network does not match the current range")
        );
        let mut s = svc(json!({"type": "ClusterIP", "clusterIP": "4.4.4.4", "ports": [{"port": 80}]}));
        let err = net(30).allocate(&mut s, None, &InUse::default(), false).unwrap_err();
        assert!(err.message.ends_with("The range of valid IPs is 10.96.0.0/12"));
    }

    #[test]
    fn allocates_in_range_and_node_ports() {
        let mut s = svc(json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}));
        net(33).allocate(&mut s, None, &InUse::default(), false).unwrap();
        let ip: IpAddr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(Cidr::parse("10.96.0.0/12").unwrap().contains(&ip));
        assert_eq!(s["spec"]["clusterIPs"][0], s["spec"]["clusterIP"]);
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
        let np = s["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
        assert!((30000..=32767).contains(&np));
        let mut bad = svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}));
        let err = net(33).allocate(&mut bad, None, &InUse::default(), false).unwrap_err();
        assert!(err.message.ends_with("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"));
    }

    #[test]
    fn headless_and_dual_stack() {
        let dual = ServiceNetwork {
            cidrs: vec![Cidr::parse("10.96.0.0/12").unwrap(), Cidr::parse("fd00:10:96::/108").unwrap()],
            node_ports: (30000, 32767),
            minor: 33,
        };
        let mut s = svc(json!({"clusterIP": "None", "ports": []}));
        dual.allocate(&mut s, None, &InUse::default(), false).unwrap();
        assert_eq!(s["spec"]["clusterIPs"], json!(["None"]));
        let mut s = svc(json!({"ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}]}));
        dual.allocate(&mut s, None, &InUse::default(), false).unwrap();
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
        assert!(s["spec"]["clusterIPs"][1].as_str().unwrap().starts_with("fd00:10:96::"));
    }
}
