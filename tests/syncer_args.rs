//! Every argument list the chart renders for the syncer container is accepted by our syncer's
//! parser (`vcluster-syncer`): the `sync.*` switches (each alone, all, none, and 128 mixed
//! combinations, with `ingressclasses` in its three states and `configmaps.all`/`secrets.all`), isolation with each pod security standard,
//! `mapServices`, the API ingress, HA replicas, the image registry, the context name, and the
//! example values files. Accepted means: no usage error, the `--sync` names known, the values
//! valid (`validate`), and the parsed values equal to what the chart meant.

mod support;

use serde_json::{Value, json};
use support::{examples, render_file, render_yaml, syncer_args};
use vcluster_syncer::options;

const SYNC_KEYS: [&str; 11] = [
    "services",
    "configmaps",
    "secrets",
    "endpoints",
    "pods",
    "events",
    "persistentvolumeclaims",
    "ingresses",
    "networkpolicies",
    "fake-nodes",
    "fake-persistentvolumes",
];

fn accept(args: &[String], context: &str) -> options::Options {
    let argv = std::iter::once("vcluster-syncer".to_string()).chain(args.iter().cloned());
    let parsed = options::parse(argv).unwrap_or_else(|e| panic!("{context}: {args:?} rejected: {e}"));
    let o = parsed.options;
    o.validate().unwrap_or_else(|e| panic!("{context}: {args:?}: {e}"));
    o.enabled_controllers().unwrap_or_else(|e| panic!("{context}: {args:?}: {e}"));
    o
}

/// The `sync.*` combinations rendered: all off, all on, each switch alone and each switch
/// off alone, and 128 pseudo-random others (a fixed LCG, so runs are reproducible). The full
/// 2^11 × 3 product takes minutes in a debug build for no more coverage of the parser.
fn sync_combinations() -> Vec<u32> {
    let all = (1u32 << SYNC_KEYS.len()) - 1;
    let mut out = vec![0, all];
    for i in 0..SYNC_KEYS.len() {
        out.push(1 << i);
        out.push(all & !(1 << i));
    }
    let mut x: u32 = 0x2545_f491;
    for _ in 0..128 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.push((x >> 7) & all);
    }
    out
}

#[test]
fn every_toggle_combination_parses() {
    let standards = ["privileged", "baseline", "restricted"];
    let mut count = 0;
    let combinations = sync_combinations();
    for &bits in &combinations {
        for classes in [None, Some(true), Some(false)] {
            let on = |i: usize| bits & (1 << i) != 0;
            let mut sync = serde_json::Map::new();
            for (i, key) in SYNC_KEYS.iter().enumerate() {
                sync.insert((*key).into(), json!({"enabled": on(i)}));
            }
            if let Some(c) = classes {
                sync.insert("ingressclasses".into(), json!({"enabled": c}));
            }
            // The other toggles rotate with the combination, so each value meets many others.
            let extra = bits.rotate_left(3) ^ u32::from(classes.unwrap_or(false));
            let flag = |i: u32| extra & (1 << i) != 0;
            sync["configmaps"]["all"] = json!(flag(0));
            sync["secrets"]["all"] = json!(flag(1));
            let values = json!({
                "sync": sync,
                "mapServices": {
                    "fromHost": if flag(2) { json!([{"from": "h-ns/h-svc", "to": "v-ns/v-svc"}]) } else { json!([]) },
                    "fromVirtual": if flag(3) { json!([{"from": "v-ns/v-svc", "to": "h-svc"}]) } else { json!([]) },
                },
                "isolation": {"enabled": flag(4), "podSecurityStandard": standards[(bits % 3) as usize]},
                "ingress": {"enabled": flag(5), "host": "vc.example.com"},
                "syncer": {"replicas": if flag(6) { 3 } else { 1 }, "kubeConfigContextName": "ctx-name"},
                "defaultImageRegistry": if flag(7) { "registry.example.com/mirror/" } else { "" },
            });
            let rendered = render_yaml(&values.to_string(), "my-vc", "vcluster-my-vc");
            let args = syncer_args(&rendered.manifests);
            let o = accept(&args, &values.to_string());
            // The parsed values are what the chart meant.
            assert_eq!(o.name, "my-vc");
            assert_eq!(o.kube_config_context_name, "ctx-name");
            assert_eq!(o.leader_elect, flag(6));
            assert_eq!(o.sync_all_configmaps, flag(0));
            assert_eq!(o.sync_all_secrets, flag(1));
            assert_eq!(o.tls_sans.contains(&"vc.example.com".to_string()), flag(5));
            let enabled = o.enabled_controllers().unwrap();
            for (i, key) in SYNC_KEYS.iter().enumerate() {
                assert_eq!(enabled.contains(*key), on(i), "{key} in {args:?}");
            }
            let classes_on = classes.unwrap_or(on(7));
            assert_eq!(enabled.contains("ingressclasses"), classes_on, "{args:?}");
            count += 1;
        }
    }
    assert_eq!(count, combinations.len() * 3);
}

#[test]
fn example_values_files_parse() {
    for path in examples() {
        let rendered = render_file(&path);
        let args = syncer_args(&rendered.manifests);
        accept(&args, &path.display().to_string());
    }
}

#[test]
fn upstream_flags_through_extra_args_parse() {
    // syncer.extraArgs is the escape hatch for every flag of the established syncer.
    let extra = [
        "--tls-san=a.example.com",
        "--cluster-domain=cluster.example",
        "--out-kube-config-server=https://vc.example.com",
        "--out-kube-config-secret=my-kubeconfig",
        "--out-kube-config-secret-namespace=elsewhere",
        "--translate-image=nginx=mirror.io/nginx",
        "--enforce-toleration=dedicated=vc:NoSchedule",
        "--node-selector=pool=vc",
        "--sync-labels=team.io/*",
        "--override-hosts=false",
        "--set-owner=false",
        "--sync=serviceaccounts",
        "--fake-kubelet-ips=false",
        "--host-metrics-bind-address=0",
        "--lease-duration=30",
    ];
    let values = json!({"syncer": {"extraArgs": extra}});
    let rendered = render_yaml(&values.to_string(), "my-vc", "vcluster-my-vc");
    let args = syncer_args(&rendered.manifests);
    let o = accept(&args, "extraArgs");
    assert_eq!(o.cluster_domain, "cluster.example");
    assert!(!o.set_owner && !o.override_hosts);
    assert_eq!(o.lease_duration, 30);
    assert_eq!(o.translate_images, ["nginx=mirror.io/nginx"]);
    let _: Option<Value> = None;
}

/// The syncer's own tests start it with exactly what the chart renders for their values files
/// (`crates/syncer/tests/fixtures/rendered/<case>.yaml` → `<case>.args`, one argument a line):
/// this keeps each `.args` file equal to `vcluster render`'s syncer arguments for its values, so
/// the chart and the syncer are tested together. `UPDATE_RENDERED_ARGS=1` rewrites them.
#[test]
fn the_syncer_tests_run_with_what_the_chart_renders() {
    let dir = support::repo().join("crates/syncer/tests/fixtures/rendered");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let values = entry.unwrap().path();
        if values.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&values).unwrap();
        let rendered = render_yaml(&text, "my-vc", "vcluster-my-vc");
        let args = syncer_args(&rendered.manifests);
        accept(&args, &values.display().to_string());
        let want = args.join("\n") + "\n";
        let file = values.with_extension("args");
        if std::env::var_os("UPDATE_RENDERED_ARGS").is_some() {
            std::fs::write(&file, &want).unwrap();
        }
        let have = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(have, want, "{} is stale: rerun with UPDATE_RENDERED_ARGS=1", file.display());
        cases += 1;
    }
    assert!(cases >= 3, "the values cases in {}", dir.display());
}
