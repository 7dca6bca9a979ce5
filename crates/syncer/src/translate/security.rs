//! `--enforce-pod-security-standard` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/pods/validatePodSecurity.go`): a virtual pod that violates the
//! level is not synced; the syncer records a Warning event naming the violations. Upstream
//! evaluates with `k8s.io/pod-security-admission`; this is the subset of its checks that
//! decides the common cases (the checks of the `baseline` and `restricted` profiles on the
//! pod and container security contexts, host namespaces, host paths and host ports).

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, SecurityContext};

/// The checks a level fails for `pod`; empty when it passes (`privileged` always passes).
pub fn violations(level: &str, pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    let mut out = Vec::new();
    if level != "baseline" && level != "restricted" {
        return out;
    }
    baseline(spec, &mut out);
    if level == "restricted" {
        restricted(spec, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn containers(spec: &PodSpec) -> impl Iterator<Item = (&str, Option<&SecurityContext>, &Container)> {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| (c.name.as_str(), c.security_context.as_ref(), c))
}

const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn baseline(spec: &PodSpec, out: &mut Vec<String>) {
    if spec.host_network == Some(true) || spec.host_pid == Some(true) || spec.host_ipc == Some(true) {
        out.push("host namespaces (hostNetwork, hostPID or hostIPC)".into());
    }
    if spec.volumes.iter().flatten().any(|v| v.host_path.is_some()) {
        out.push("hostPath volumes".into());
    }
    for (name, sc, c) in containers(spec) {
        if sc.and_then(|s| s.privileged) == Some(true) {
            out.push(format!("privileged (container {name:?} must not set securityContext.privileged=true)"));
        }
        let added = sc.and_then(|s| s.capabilities.as_ref()).and_then(|c| c.add.clone()).unwrap_or_default();
        if added.iter().any(|cap| !BASELINE_CAPABILITIES.contains(&cap.as_str())) {
            out.push(format!("non-default capabilities (container {name:?})"));
        }
        if c.ports.iter().flatten().any(|p| p.host_port.unwrap_or(0) != 0) {
            out.push(format!("hostPort (container {name:?})"));
        }
        if sc.and_then(|s| s.proc_mount.as_deref()).is_some_and(|p| p != "Default") {
            out.push(format!("procMount (container {name:?})"));
        }
    }
}

fn restricted(spec: &PodSpec, out: &mut Vec<String>) {
    let pod_sc = spec.security_context.as_ref();
    let pod_non_root = pod_sc.and_then(|s| s.run_as_non_root);
    let pod_seccomp = pod_sc.and_then(|s| s.seccomp_profile.as_ref()).map(|p| p.type_.clone());
    for (name, sc, _) in containers(spec) {
        if sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
            out.push(format!("allowPrivilegeEscalation != false (container {name:?})"));
        }
        let drops_all = sc
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|c| c.drop.as_ref())
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            out.push(format!("unrestricted capabilities (container {name:?} must drop ALL)"));
        }
        if sc.and_then(|s| s.run_as_non_root).or(pod_non_root) != Some(true) {
            out.push(format!("runAsNonRoot != true (container {name:?})"));
        }
        let seccomp =
            sc.and_then(|s| s.seccomp_profile.as_ref()).map(|p| p.type_.clone()).or_else(|| pod_seccomp.clone());
        if !matches!(seccomp.as_deref(), Some("RuntimeDefault" | "Localhost")) {
            out.push(format!("seccompProfile (container {name:?} must use RuntimeDefault or Localhost)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile};

    fn pod(sc: Option<SecurityContext>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container { name: "c".into(), security_context: sc, ..Default::default() }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn levels() {
        let privileged = pod(Some(SecurityContext { privileged: Some(true), ..Default::default() }));
        assert!(violations("privileged", &privileged).is_empty());
        assert!(!violations("baseline", &privileged).is_empty());
        let plain = pod(None);
        assert!(violations("baseline", &plain).is_empty());
        assert_eq!(violations("restricted", &plain).len(), 4);
        let hardened = pod(Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }));
        assert!(violations("restricted", &hardened).is_empty());
    }
}
