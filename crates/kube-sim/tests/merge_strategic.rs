//! Strategic merge patch as kube-apiserver applies it, with expectations from
//! k8s.io/apimachinery `pkg/util/strategicpatch` (patch_test.go cases, the
//! preserve-order-in-strategic-merge-patch design) and the Kubernetes "Update API Objects in
//! Place Using kubectl patch" task (merge keys, `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList`, `$setElementOrder`).

use kube_sim::merge::{Gvk, MergeError, Schema, strategic_merge_patch};
use serde_json::{Value, json};

fn smp(gvk: &Gvk, target: &Value, patch: Value) -> Result<Value, MergeError> {
    strategic_merge_patch(Schema::k8s_1_33(), gvk, target, &patch)
}

fn deploy() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn web_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a.example.com/x"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html"}]},
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "infinity"]}
                    ],
                    "volumes": [{"name": "html", "emptyDir": {}}]
                }
            }
        }
    })
}

fn containers(object: &Value) -> &Vec<Value> {
    object["spec"]["template"]["spec"]["containers"].as_array().unwrap()
}

#[test]
fn kubectl_apply_patch_with_set_element_order_and_retain_keys() {
    // What kubectl (client-side apply) sends after switching the strategy to Recreate,
    // reordering the containers, bumping the image, dropping env A and adding env C.
    let patch = json!({"spec": {
        "strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"},
        "template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "nginx:1.26",
                "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
                "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "A"}]}]
        }}
    }});
    let out = smp(&deploy(), &web_deployment(), patch).unwrap();
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    let names: Vec<_> = containers(&out).iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sidecar", "web"]);
    let web = &containers(&out)[1];
    assert_eq!(web["image"], "nginx:1.26");
    assert_eq!(web["env"], json!([{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]));
    assert_eq!(web["ports"], json!([{"containerPort": 80, "protocol": "TCP"}]), "untouched fields stay");
}

#[test]
fn lists_merge_by_their_patch_merge_key() {
    let patch = json!({"spec": {"template": {"spec": {
        "containers": [{"name": "web", "volumeMounts": [{"mountPath": "/etc/nginx/conf.d", "name": "conf"}],
                        "env": [{"name": "B", "value": "two"}]}],
        "volumes": [{"name": "conf", "configMap": {"name": "web-conf"}}]
    }}}});
    let out = smp(&deploy(), &web_deployment(), patch).unwrap();
    let web = &containers(&out)[0];
    assert_eq!(web["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "two"}]));
    // Without $setElementOrder, items new in the patch come before the live-only ones (the
    // kubectl patch task shows patch-demo-ctr-2 ahead of patch-demo-ctr).
    assert_eq!(
        web["volumeMounts"],
        json!([
            {"mountPath": "/etc/nginx/conf.d", "name": "conf"},
            {"name": "html", "mountPath": "/usr/share/nginx/html"}
        ])
    );
    assert_eq!(out["spec"]["template"]["spec"]["volumes"][0]["name"], "conf");
    assert_eq!(containers(&out).len(), 2, "sidecar kept");
    // Atomic lists (args) and lists without a strategy are replaced.
    let out = smp(
        &deploy(),
        &out,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "10"]}]}}}}),
    )
    .unwrap();
    assert_eq!(containers(&out)[1]["args"], json!(["sleep", "10"]));
}

#[test]
fn directives_replace_delete_and_delete_from_primitive_list() {
    // $patch: replace on a list, $patch: delete on an element, null deletes a key.
    let patch = json!({
        "metadata": {"labels": {"app": null, "tier": "frontend"}, "$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]},
        "spec": {"template": {"spec": {
            "containers": [{"name": "web", "ports": [{"containerPort": 8080}, {"$patch": "replace"}]},
                           {"name": "sidecar", "$patch": "delete"}]
        }}}
    });
    let out = smp(&deploy(), &web_deployment(), patch).unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"tier": "frontend"}));
    assert_eq!(out["metadata"]["finalizers"], json!([]));
    assert_eq!(containers(&out).len(), 1);
    assert_eq!(containers(&out)[0]["ports"], json!([{"containerPort": 8080}]));
    // $patch: replace on a map replaces it whole; $patch: delete on a map empties it.
    let out = smp(
        &deploy(),
        &web_deployment(),
        json!({"spec": {
            "selector": {"$patch": "replace", "matchLabels": {"app": "web", "v": "2"}},
            "strategy": {"$patch": "delete"}
        }}),
    )
    .unwrap();
    assert_eq!(out["spec"]["selector"], json!({"matchLabels": {"app": "web", "v": "2"}}));
    assert_eq!(out["spec"]["strategy"], json!({}));
}

#[test]
fn primitive_lists_with_merge_strategy_are_unions_in_patch_order() {
    let out =
        smp(&deploy(), &web_deployment(), json!({"metadata": {"finalizers": ["b.example.com/y", "a.example.com/x"]}}))
            .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.example.com/y", "a.example.com/x"]));
    let out = smp(&deploy(), &web_deployment(), json!({"metadata": {"finalizers": ["b.example.com/y"]}})).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.example.com/y", "a.example.com/x"]));
    let out = smp(
        &deploy(),
        &web_deployment(),
        json!({"metadata": {
        "$setElementOrder/finalizers": ["a.example.com/x", "b.example.com/y"], "finalizers": ["b.example.com/y"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["a.example.com/x", "b.example.com/y"]));
}

#[test]
fn service_ports_merge_on_port_alone_unlike_server_side_apply() {
    // patch-merge-key is "port" while list-map-keys are port+protocol: a UDP port 53 patched
    // onto a TCP port 53 merges into it (kubernetes/kubernetes#39188).
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
        "spec": {"ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}});
    let out = smp(
        &Gvk::new("", "v1", "Service"),
        &svc,
        json!({"spec": {"ports": [{"name": "dns-udp", "port": 53, "protocol": "UDP"}]}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["ports"], json!([{"name": "dns-udp", "port": 53, "protocol": "UDP", "targetPort": 53}]));
    // The selector (no patch strategy, a map) merges key by key.
    let out = smp(
        &Gvk::new("", "v1", "Service"),
        &json!({"spec": {"selector": {"app": "dns"}}}),
        json!({"spec": {"selector": {"tier": "x"}}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["selector"], json!({"app": "dns", "tier": "x"}));
}

#[test]
fn replace_strategy_replaces_pdb_selectors() {
    let pdb = json!({"spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": []}}});
    let out = smp(
        &Gvk::new("policy", "v1", "PodDisruptionBudget"),
        &pdb,
        json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["selector"], json!({"matchLabels": {"app": "api"}}));
}

#[test]
fn malformed_directives_get_kube_apiserver_errors() {
    let cases = [
        (json!({"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}),
            MergeError::BadRequest("invalid patch format of retainKeys".into())),
        (json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}),
            MergeError::BadRequest("invalid patch format of retainKeys".into())),
        (json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["x"]}}),
            MergeError::BadRequest("invalid patch format of primitive list".into())),
        (json!({"spec": {"template": {"spec": {"$setElementOrdercontainers": [{"name": "web"}]}}}}),
            MergeError::BadRequest("invalid patch format of setElementOrder list".into())),
        (json!({"metadata": {"finalizers": [["nested"]]}}),
            MergeError::Internal("list element types are not identical: [[a.example.com/x] [[nested]]]".into())),
        (json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.26"}]}}}}),
            MergeError::Internal("map: map[image:nginx:1.26] does not contain declared merge key: name".into())),
        (json!({"spec": {"strategy": {"$patch": "merge", "type": "Recreate"}}}),
            MergeError::Internal("unknown patch type: merge in map: map[$patch:merge type:Recreate]".into())),
        (json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}}}),
            MergeError::Internal("merging lists cannot yet be specified in the patch".into())),
        (json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "remove"}]}}}}),
            MergeError::Internal("unknown patch type: remove in map: map[$patch:remove name:web]".into())),
        (json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "sidecar", "image": "x"}]}}}}),
            MergeError::Internal("the order in patch list:\n[map[image:x name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:web]]".into())),
        (json!({"metadata": {"finalizers": ["a", 1]}}),
            MergeError::Internal("list element types are not identical: [[a.example.com/x] [a 1]]".into())),
        (json!([{"op": "add"}]),
            MergeError::BadRequest("json: cannot unmarshal array into Go value of type map[string]interface {}".into())),
    ];
    for (patch, expected) in cases {
        assert_eq!(smp(&deploy(), &web_deployment(), patch.clone()), Err(expected), "{patch}");
    }
    let no_finalizers = json!({"metadata": {"finalizers": []}});
    assert_eq!(
        smp(&deploy(), &no_finalizers, json!({"metadata": {"finalizers": [["nested"]]}})),
        Err(MergeError::Invalid("lists of lists are not supported".into()))
    );
}

#[test]
fn new_content_drops_nulls_and_directives() {
    let out = smp(
        &deploy(),
        &web_deployment(),
        json!({"metadata": {"annotations": {"a": "1", "b": null}},
        "spec": {"paused": true, "minReadySeconds": null}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["annotations"], json!({"a": "1"}));
    assert_eq!(out["spec"]["paused"], true);
    assert!(out["spec"].get("minReadySeconds").is_none());
}
