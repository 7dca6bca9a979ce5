//! The rendered chart: golden snapshots, strict Kubernetes 1.33 schema validation, the toggle
//! cross-product against an independent oracle, values-as-data and determinism.

mod support;

use serde_json::{Value, json};
use support::*;

const NAME: &str = "my-vcluster";
const NS: &str = "vcluster-my-vcluster";

const DEFAULT_OBJECTS: &[&str] = &[
    "ServiceAccount/vc-my-vcluster",
    "ServiceAccount/vc-workload-my-vcluster",
    "ConfigMap/my-vcluster-coredns",
    "Role/my-vcluster",
    "RoleBinding/my-vcluster",
    "Service/my-vcluster",
    "Service/my-vcluster-headless",
    "StatefulSet/my-vcluster",
];

const BASE_ARGS: &[&str] = &[
    "--name=my-vcluster",
    "--kube-config=/data/k3s-config/kube-config.yaml",
    "--service-account=vc-workload-my-vcluster",
    "--kube-config-context-name=my-vcluster",
];

fn with_cluster_role(objects: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = objects.iter().map(|s| s.to_string()).collect();
    let at = out.iter().position(|o| o.starts_with("Role/")).unwrap();
    out.insert(at, format!("ClusterRoleBinding/vc-{NAME}-v-{NS}"));
    out.insert(at, format!("ClusterRole/vc-{NAME}-v-{NS}"));
    out
}

fn args(tail: &[&str]) -> Vec<String> {
    BASE_ARGS.iter().chain(tail).map(|s| s.to_string()).collect()
}

#[test]
fn golden_defaults() {
    let rendered = render_yaml("", NAME, NS);
    assert_eq!(kinds_and_names(&rendered.manifests), DEFAULT_OBJECTS);
    assert_eq!(syncer_args(&rendered.manifests), args(&["--sync=-ingressclasses"]));
    let k3s = container(&rendered.manifests, "vcluster");
    assert_eq!(k3s["image"], "rancher/k3s:v1.27.3-k3s1");
    assert!(k3s["command"][2].as_str().unwrap().contains(" '--service-cidr=$(SERVICE_CIDR)' && true"));
    assert_eq!(container(&rendered.manifests, "syncer")["image"], "ghcr.io/loft-sh/vcluster:0.15.7");
    assert_eq!(rendered.notes.len(), 1, "{:?}", rendered.notes);
    assert!(rendered.warnings.is_empty());
    let ha = render_yaml("syncer: {replicas: 2}\nserviceCIDR: 10.43.0.0/16", NAME, NS);
    assert!(ha.notes.is_empty());
    assert!(ha.warnings[0].contains("external datastore"), "{:?}", ha.warnings);
    insta::assert_snapshot!("defaults", vcluster::render::to_yaml_stream(&rendered.manifests).unwrap());
}

#[test]
fn golden_examples() {
    let expectations: &[(&str, Vec<String>, Vec<String>)] = &[
        ("ingress-sync", with_cluster_role(DEFAULT_OBJECTS), args(&["--sync=ingresses"])),
        (
            "ingressclasses-off",
            DEFAULT_OBJECTS.iter().map(|s| s.to_string()).collect(),
            args(&["--sync=ingresses", "--sync=-ingressclasses"]),
        ),
        (
            "map-host-service",
            with_cluster_role(DEFAULT_OBJECTS),
            args(&[
                "--sync=-ingressclasses",
                "--map-host-service=my-host-namespace/my-host-service=my-virtual-namespace/my-virtual-service",
            ]),
        ),
        (
            "map-virtual-service",
            DEFAULT_OBJECTS.iter().map(|s| s.to_string()).collect(),
            args(&[
                "--sync=-ingressclasses",
                "--map-virtual-service=my-virtual-namespace/my-virtual-service=my-host-service",
            ]),
        ),
        (
            "network-policies",
            DEFAULT_OBJECTS.iter().map(|s| s.to_string()).collect(),
            args(&["--sync=networkpolicies", "--sync=-ingressclasses"]),
        ),
        (
            "networking",
            with_cluster_role(DEFAULT_OBJECTS),
            args(&[
                "--sync=ingresses",
                "--sync=networkpolicies",
                "--sync=-ingressclasses",
                "--map-host-service=my-host-namespace/my-host-service=my-virtual-namespace/my-virtual-service",
                "--map-virtual-service=my-virtual-namespace/my-virtual-service=my-host-service",
            ]),
        ),
    ];
    let files = examples();
    let stems: Vec<String> = files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(stems, expectations.iter().map(|e| e.0).collect::<Vec<_>>(), "every example has expectations");
    for (path, (stem, objects, want_args)) in files.iter().zip(expectations) {
        let rendered = render_file(path);
        assert_eq!(&kinds_and_names(&rendered.manifests), objects, "{stem}");
        assert_eq!(&syncer_args(&rendered.manifests), want_args, "{stem}");
        insta::assert_snapshot!(
            format!("example-{stem}"),
            vcluster::render::to_yaml_stream(&rendered.manifests).unwrap()
        );
    }
    // The combined example's ClusterRole only reads services (ingress classes are off).
    let combined = render_file(&support::repo().join("examples/networking.yaml"));
    assert_eq!(
        find(&combined.manifests, "ClusterRole").unwrap()["rules"],
        json!([{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}])
    );
}

#[test]
fn every_object_carries_helm_ownership_and_namespace() {
    let rendered = render_yaml("globalAnnotations: {team: a}\nlabels: {tier: cp}\npodLabels: {x: z}\n", NAME, NS);
    for m in &rendered.manifests {
        let meta = &m.object["metadata"];
        // v0.15.7 labels the headless Service `app: <fullname>` (charts/k3s/templates/statefulset-service.yaml).
        let app = if m.name == format!("{NAME}-headless") { NAME } else { "vcluster" };
        for (k, v) in [
            ("app", app),
            ("release", NAME),
            ("chart", &format!("vcluster-{}", vcluster::CHART_VERSION)),
            ("heritage", "Helm"),
            ("app.kubernetes.io/managed-by", "Helm"),
        ] {
            assert_eq!(meta["labels"][k], v, "{} {}", m.kind, m.name);
        }
        assert_eq!(meta["annotations"]["meta.helm.sh/release-name"], NAME);
        assert_eq!(meta["annotations"]["meta.helm.sh/release-namespace"], NS);
        assert_eq!(meta["annotations"]["team"], "a");
        let namespaced = !m.kind.starts_with("Cluster");
        assert_eq!(meta.get("namespace").is_some(), namespaced, "{}", m.kind);
        assert_eq!(m.namespace.is_some(), namespaced);
    }
    let sts = find(&rendered.manifests, "StatefulSet").unwrap();
    assert_eq!(sts["metadata"]["labels"]["tier"], "cp");
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"], json!({"app": "vcluster", "release": NAME, "x": "z"}));
}

/// The adversarial set: values that are easy to mangle on their way through a template.
const ADVERSARIAL: &[&str] = &[
    "key: value",
    "# not a comment",
    "'single' \"double\"",
    "line one\nline two\n",
    "{{ .Values.evil }}",
    "{% if true %}x{% endif %}",
    "日本語 ✓ émoji 🚀",
    "yes",
    "null",
    "010",
    "1e3",
    "~",
    "  leading and trailing  ",
    "tab\there",
    "back\\slash",
    "-",
    "@at",
    "*star",
    "&amp",
    "!bang",
    "%percent",
    "`tick`",
    "{\"json\": [1]}",
    "[flow, seq]",
    "trailing newlines\n\n\n",
    "\nleading newline",
    "$(rm -rf /) ; echo 'x'",
];

fn adversarial_values() -> String {
    let strings = serde_json::to_string(ADVERSARIAL).unwrap();
    let annotations: serde_json::Map<String, Value> =
        ADVERSARIAL.iter().enumerate().map(|(i, s)| (format!("example.com/a{i}"), json!(s))).collect();
    let env: Vec<Value> =
        ADVERSARIAL.iter().enumerate().map(|(i, s)| json!({"name": format!("E{i}"), "value": s})).collect();
    json!({
        "annotations": annotations,
        "podAnnotations": annotations,
        "globalAnnotations": annotations,
        "coredns": {"podAnnotations": annotations},
        "syncer": {"extraArgs": serde_json::from_str::<Value>(&strings).unwrap(), "env": env},
        "vcluster": {"extraArgs": serde_json::from_str::<Value>(&strings).unwrap(), "env": env},
        "init": {"manifests": ADVERSARIAL.join("\n")},
    })
    .to_string()
}

#[test]
fn values_are_data_in_every_output_and_reader() {
    let rendered = render_yaml(&adversarial_values(), NAME, NS);
    let yaml = vcluster::render::to_yaml_stream(&rendered.manifests).unwrap();
    let json = vcluster::render::to_json_list(&rendered.manifests);
    let ours: Vec<Value> = rendered.manifests.iter().map(|m| m.object.clone()).collect();
    let json_items = serde_json::from_str::<Value>(&json).unwrap()["items"].as_array().unwrap().clone();
    let saphyr_back: Vec<Value> = serde_saphyr::from_str_multiple(&yaml).unwrap();
    let pyyaml_back = yaml11_load(&yaml);
    assert_eq!(json_items, ours);
    assert_eq!(saphyr_back, ours);
    assert_eq!(pyyaml_back, ours, "a YAML 1.1 reader (PyYAML) reads the same objects");

    let sts = find(&rendered.manifests, "StatefulSet").unwrap();
    let syncer = container(&rendered.manifests, "syncer");
    let extra: Vec<&str> = syncer["args"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(ADVERSARIAL.len())
        .rev()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(extra, ADVERSARIAL);
    for (i, s) in ADVERSARIAL.iter().enumerate() {
        assert_eq!(sts["metadata"]["annotations"][format!("example.com/a{i}")], *s);
        assert_eq!(sts["spec"]["template"]["metadata"]["annotations"][format!("example.com/a{i}")], *s);
        let env = syncer["env"].as_array().unwrap().iter().find(|e| e["name"] == format!("E{i}")).unwrap();
        assert_eq!(env["value"], *s);
    }
    // k3s gets every extra argument as one shell word, exactly.
    let script = container(&rendered.manifests, "vcluster")["command"][2].as_str().unwrap();
    let words = shell_words(script);
    assert_eq!(&words[words.len() - ADVERSARIAL.len() - 2..words.len() - 2], ADVERSARIAL);
    // Inside the CoreDNS bundle, after the syncer's Go templating, annotations are unchanged too.
    let deployment = coredns_objects(&rendered.manifests).into_iter().find(|o| o["kind"] == "Deployment").unwrap();
    for (i, s) in ADVERSARIAL.iter().enumerate() {
        assert_eq!(deployment["spec"]["template"]["metadata"]["annotations"][format!("example.com/a{i}")], *s);
    }
    let init = rendered.manifests.iter().find(|m| m.name.ends_with("-init-manifests")).unwrap();
    assert_eq!(init.object["data"]["manifests"], ADVERSARIAL.join("\n"));
}

/// Split a POSIX sh command line made of bare and single-quoted words (what `shell_quote` emits).
fn shell_words(script: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            ' ' if in_word => {
                words.push(std::mem::take(&mut cur));
                in_word = false;
            }
            ' ' => {}
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[test]
fn output_is_deterministic() {
    let text = std::fs::read_to_string(support::repo().join("examples/networking.yaml")).unwrap();
    let a = vcluster::render::to_yaml_stream(&render_yaml(&text, NAME, NS).manifests).unwrap();
    let b = vcluster::render::to_yaml_stream(&render_yaml(&text, NAME, NS).manifests).unwrap();
    assert_eq!(a, b);
}

#[test]
fn strict_schema_validation_of_defaults_examples_adversarial_and_coredns() {
    let mut renders = vec![render_yaml("", NAME, NS), render_yaml(&adversarial_values(), NAME, NS)];
    renders.extend(examples().iter().map(|p| render_file(p)));
    renders.push(render_yaml(
        "isolation: {enabled: true}\ningress: {enabled: true, tls: [{hosts: [vcluster.local], secretName: tls}]}\n\
         service: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/8], externalTrafficPolicy: Local}\n\
         syncer: {replicas: 2}\nstorage: {persistence: false}\nfallbackHostDns: true\n\
         tolerations: [{key: k, operator: Exists, effect: NoSchedule}]\nnodeSelector: {disk: ssd}\n\
         affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In, values: [b]}]}]}}}\n\
         coredns: {image: coredns/coredns:1.11.1, podLabels: {a: b}}\ndefaultImageRegistry: registry.example.com/mirror\n",
        NAME,
        NS,
    ));
    let mut objects = Vec::new();
    for r in &renders {
        objects.extend(r.manifests.iter().map(|m| m.object.clone()));
        let bundle = coredns_objects(&r.manifests);
        let kinds: Vec<&str> = bundle.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"]
        );
        objects.extend(bundle);
    }
    let problems = validate_objects(&objects);
    assert!(problems.is_empty(), "{problems:#?}");
}

/// One point of the toggle cross-product.
#[derive(Debug, Clone, Copy)]
struct Toggles {
    ingresses: bool,
    ingressclasses: Option<bool>,
    networkpolicies: bool,
    from_host: bool,
    from_virtual: bool,
    persistence: bool,
    load_balancer: bool,
    isolation: bool,
    ingress: bool,
    replicas: i64,
}

impl Toggles {
    fn all() -> Vec<Toggles> {
        let mut out = Vec::new();
        for bits in 0..(1 << 9) {
            for ingressclasses in [None, Some(true), Some(false)] {
                let b = |i: u32| bits & (1 << i) != 0;
                out.push(Toggles {
                    ingresses: b(0),
                    ingressclasses,
                    networkpolicies: b(1),
                    from_host: b(2),
                    from_virtual: b(3),
                    persistence: b(4),
                    load_balancer: b(5),
                    isolation: b(6),
                    ingress: b(7),
                    replicas: if b(8) { 2 } else { 1 },
                });
            }
        }
        out
    }

    fn values(&self) -> String {
        let mut sync =
            json!({"ingresses": {"enabled": self.ingresses}, "networkpolicies": {"enabled": self.networkpolicies}});
        if let Some(c) = self.ingressclasses {
            sync["ingressclasses"] = json!({"enabled": c});
        }
        let host: Vec<Value> =
            if self.from_host { vec![json!({"from": "h-ns/h-svc", "to": "v-ns/v-svc"})] } else { vec![] };
        let virt: Vec<Value> =
            if self.from_virtual { vec![json!({"from": "v-ns/v-svc", "to": "h-svc"})] } else { vec![] };
        json!({
            "sync": sync,
            "mapServices": {"fromHost": host, "fromVirtual": virt},
            "storage": {"persistence": self.persistence},
            "service": {"type": if self.load_balancer { "LoadBalancer" } else { "ClusterIP" }},
            "isolation": {"enabled": self.isolation},
            "ingress": {"enabled": self.ingress},
            "syncer": {"replicas": self.replicas},
        })
        .to_string()
    }

    /// The syncer arguments, written out from the rules of the established chart (loft-sh/vcluster
    /// v0.15 `charts/k3s/templates/statefulset.yaml` and `_helpers.tpl`), not computed by the
    /// implementation.
    fn expected_args(&self) -> Vec<String> {
        let mut a: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
        if self.replicas > 1 {
            a.push("--leader-elect=true".into());
        }
        if self.ingress {
            a.push("--tls-san=vcluster.local".into());
        }
        if self.isolation {
            a.push("--enforce-pod-security-standard=baseline".into());
        }
        if self.ingresses {
            a.push("--sync=ingresses".into());
        }
        if self.networkpolicies {
            a.push("--sync=networkpolicies".into());
        }
        let classes = match (self.ingresses, self.ingressclasses) {
            (false, None) => Some("--sync=-ingressclasses"),
            (false, Some(true)) => Some("--sync=ingressclasses"),
            (false, Some(false)) => Some("--sync=-ingressclasses"),
            (true, None) => None,
            (true, Some(true)) => None,
            (true, Some(false)) => Some("--sync=-ingressclasses"),
        };
        a.extend(classes.map(String::from));
        if self.from_host {
            a.push("--map-host-service=h-ns/h-svc=v-ns/v-svc".into());
        }
        if self.from_virtual {
            a.push("--map-virtual-service=v-ns/v-svc=h-svc".into());
        }
        a
    }

    fn expected_role(&self) -> Value {
        let all = json!(["create", "delete", "patch", "update", "get", "list", "watch"]);
        let read = json!(["get", "list", "watch"]);
        let mut rules = vec![
            json!({"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "pods", "pods/attach",
                    "pods/portforward", "pods/exec", "persistentvolumeclaims"], "verbs": all}),
            json!({"apiGroups": [""], "resources": ["endpoints"], "verbs": ["create", "delete", "patch", "update"]}),
            json!({"apiGroups": [""], "resources": ["endpoints", "events", "pods/log"], "verbs": read}),
        ];
        if self.ingresses {
            rules.push(json!({"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": all}));
        }
        if self.networkpolicies {
            rules.push(json!({"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": all}));
        }
        rules.push(
            json!({"apiGroups": ["apps"], "resources": ["statefulsets", "replicasets", "deployments"], "verbs": read}),
        );
        if self.replicas > 1 {
            rules.push(json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": all}));
        }
        Value::Array(rules)
    }

    /// None: no ClusterRole (nor binding) at all.
    fn expected_cluster_role(&self) -> Option<Value> {
        let read = json!(["get", "list", "watch"]);
        let classes = self.ingressclasses.unwrap_or(self.ingresses);
        let mut rules = Vec::new();
        if classes {
            rules.push(json!({"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": read}));
        }
        if self.from_host {
            rules.push(json!({"apiGroups": [""], "resources": ["services"], "verbs": read}));
        }
        (!rules.is_empty()).then_some(Value::Array(rules))
    }
}

#[test]
fn cross_product_of_toggles() {
    let all = Toggles::all();
    assert_eq!(all.len(), 1536);
    let mut objects = Vec::new();
    for t in &all {
        let rendered = render_yaml(&t.values(), NAME, NS);
        let m = &rendered.manifests;
        assert_eq!(syncer_args(m), t.expected_args(), "{t:?}");
        assert_eq!(find(m, "Role").unwrap()["rules"], t.expected_role(), "{t:?}");
        assert_eq!(find(m, "ClusterRole").map(|c| c["rules"].clone()), t.expected_cluster_role(), "{t:?}");
        assert_eq!(find(m, "ClusterRoleBinding").is_some(), t.expected_cluster_role().is_some(), "{t:?}");
        let kinds: Vec<&str> = m.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "NetworkPolicy").count(), if t.isolation { 2 } else { 0 });
        assert_eq!(kinds.contains(&"Ingress"), t.ingress);
        assert_eq!(m.iter().any(|o| o.name == format!("{NAME}-lb")), t.load_balancer);
        let sts = find(m, "StatefulSet").unwrap();
        assert_eq!(sts["spec"].get("volumeClaimTemplates").is_some(), t.persistence);
        assert_eq!(sts["spec"]["replicas"], t.replicas);
        objects.extend(m.iter().map(|o| o.object.clone()));
        objects.extend(coredns_objects(m));
    }
    let problems = validate_objects(&objects);
    assert!(
        problems.is_empty(),
        "{} invalid objects, first: {:#?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
}

/// What v0.15.7 renders where upgrades, networking and the syncer depend on it (loft-sh/vcluster
/// v0.15.7 charts/k3s/templates/statefulset.yaml, service.yaml, statefulset-service.yaml,
/// ingress.yaml, _helpers.tpl).
#[test]
fn matches_v0_15_7_where_a_real_cluster_depends_on_it() {
    let plain = render_yaml("", NAME, NS);
    let sts = find(&plain.manifests, "StatefulSet").unwrap();
    // Point 1: podManagementPolicy unset (OrderedReady), as v0.15.7; the field is immutable.
    assert!(sts["spec"].get("podManagementPolicy").is_none(), "{}", sts["spec"]);

    // Point 2: without serviceCIDR, k3s reads the range the syncer writes to vc-cidr-<name>.
    let k3s = container(&plain.manifests, "vcluster");
    // Kubernetes expands `$(SERVICE_CIDR)` in the string before the shell sees it; the quotes keep
    // the shell from running `SERVICE_CIDR` should the variable be missing.
    assert!(k3s["command"][2].as_str().unwrap().contains(" '--service-cidr=$(SERVICE_CIDR)' "));
    assert_eq!(
        k3s["env"],
        json!([{"name": "SERVICE_CIDR", "valueFrom": {"configMapKeyRef": {"name": "vc-cidr-my-vcluster", "key": "cidr"}}}])
    );
    let set = render_yaml("serviceCIDR: 10.43.0.0/16\nvcluster: {env: [{name: A, value: b}]}", NAME, NS);
    let k3s = container(&set.manifests, "vcluster");
    assert!(k3s["command"][2].as_str().unwrap().contains("--service-cidr=10.43.0.0/16 "));
    assert_eq!(k3s["env"], json!([{"name": "A", "value": "b"}]));

    // Point 3: syncer.serviceAnnotations (with globalAnnotations) on the <name>-lb Service too.
    let lb = render_yaml(
        "service: {type: LoadBalancer}\nglobalAnnotations: {team: a}\n\
         syncer: {serviceAnnotations: {service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"}}",
        NAME,
        NS,
    );
    let lb_svc = lb.manifests.iter().find(|m| m.name == format!("{NAME}-lb")).unwrap();
    let annotations = &lb_svc.object["metadata"]["annotations"];
    assert_eq!(annotations["service.beta.kubernetes.io/azure-load-balancer-internal"], "true");
    assert_eq!(annotations["team"], "a");

    // Point 4: ingress.tls drops ingress-nginx's TLS passthrough.
    let passthrough = "nginx.ingress.kubernetes.io/ssl-passthrough";
    let plain_ingress = render_yaml("ingress: {enabled: true}", NAME, NS);
    assert_eq!(find(&plain_ingress.manifests, "Ingress").unwrap()["metadata"]["annotations"][passthrough], "true");
    let tls = render_yaml("ingress: {enabled: true, tls: [{hosts: [vcluster.local], secretName: cert}]}", NAME, NS);
    let ingress = find(&tls.manifests, "Ingress").unwrap();
    assert!(ingress["metadata"]["annotations"].get(passthrough).is_none(), "{}", ingress["metadata"]);
    assert_eq!(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"], "HTTPS");

    // Point 5: one trailing `/` on the registry, for the chart's images and the syncer alike.
    for registry in ["mirror.example.com/hub", "mirror.example.com/hub/"] {
        let r = render_yaml(&format!("defaultImageRegistry: {registry}"), NAME, NS);
        assert_eq!(
            container(&r.manifests, "syncer")["image"],
            "mirror.example.com/hub/ghcr.io/loft-sh/vcluster:0.15.7"
        );
        assert_eq!(container(&r.manifests, "vcluster")["image"], "mirror.example.com/hub/rancher/k3s:v1.27.3-k3s1");
        assert!(syncer_args(&r.manifests).contains(&"--default-image-registry=mirror.example.com/hub/".to_string()));
    }

    // Point 7: --kube-config as v0.15.7 passes it; leader election, the Lease rule and the
    // anti-affinity follow enableHA (and more than one replica).
    assert!(syncer_args(&plain.manifests).contains(&"--kube-config=/data/k3s-config/kube-config.yaml".to_string()));
    assert!(!syncer_args(&plain.manifests).contains(&"--leader-elect=true".to_string()));
    assert!(sts["spec"]["template"]["spec"].get("affinity").is_none());
    for ha in ["enableHA: true\nserviceCIDR: 10.43.0.0/16", "syncer: {replicas: 2}\nserviceCIDR: 10.43.0.0/16"] {
        let r = render_yaml(ha, NAME, NS);
        assert!(syncer_args(&r.manifests).contains(&"--leader-elect=true".to_string()), "{ha}");
        let rules = find(&r.manifests, "Role").unwrap()["rules"].as_array().unwrap().clone();
        assert!(rules.iter().any(|r| r["resources"] == json!(["leases"])), "{ha}");
        let affinity = &find(&r.manifests, "StatefulSet").unwrap()["spec"]["template"]["spec"]["affinity"];
        let terms = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].as_array().unwrap();
        let keys: Vec<&str> = terms.iter().map(|t| t["podAffinityTerm"]["topologyKey"].as_str().unwrap()).collect();
        assert_eq!(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"], "{ha}");
    }

    // Point 8: the headless Service's `app: <fullname>`; ClusterRole names cut as v0.15.7 cuts them.
    let other = render_yaml("", "api", NS);
    let headless = other.manifests.iter().find(|m| m.name == "api-headless").unwrap();
    assert_eq!(headless.object["metadata"]["labels"]["app"], "api-vcluster");
    let name = "a".repeat(51);
    let namespace = format!("{}-c", "b".repeat(5));
    let long = render_yaml("sync: {ingresses: {enabled: true}}", &name, &namespace);
    let role = find(&long.manifests, "ClusterRole").unwrap();
    assert_eq!(role["metadata"]["name"], format!("vc-{name}-v-bbbbb"), "63 characters, the trailing `-` trimmed");
}
