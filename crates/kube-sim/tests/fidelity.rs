//! Wire fidelity: status codes, reasons, details and messages of kube-apiserver 1.33 for the
//! requests the project makes. Every expected value comes from the kube-apiserver sources
//! cited next to it, never from the simulator's own output, and the same code runs against the
//! real control plane (`fidelity_real`) or the cluster of VCLUSTER_E2E_KUBECONFIG (see
//! `common`; simulator-only controls run only where `env.sim` is set).

mod common;

use std::time::Duration;

use common::{Env, eventually};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[tokio::test]
async fn discovery_reports_real_resources() {
    let env = Env::new("disc").await;
    let (code, v) = env.request(Method::GET, "/version", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["major"], "1");
    assert_eq!(v["minor"], "33");
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.33."));

    // pkg/registry/core/pod/storage/storage.go: ShortNames ["po"], Categories ["all"].
    let (_, core) = env.request(Method::GET, "/api/v1", None).await;
    let find = |list: &Value, name: &str| {
        list["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap()
    };
    let pods = find(&core, "pods");
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["categories"], json!(["all"]));
    assert_eq!(pods["singularName"], "pod");
    assert_eq!(
        pods["verbs"],
        json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
    );
    assert_eq!(find(&core, "pods/eviction")["group"], "policy");
    assert_eq!(find(&core, "serviceaccounts/token")["kind"], "TokenRequest");
    assert_eq!(
        find(&core, "namespaces")["verbs"],
        json!(["create", "delete", "get", "list", "patch", "update", "watch"])
    );
    let (_, apps) = env.request(Method::GET, "/apis/apps/v1", None).await;
    assert_eq!(find(&apps, "statefulsets")["shortNames"], json!(["sts"]));
    assert_eq!(find(&apps, "deployments/scale")["kind"], "Scale");

    // Aggregated discovery (staging/src/k8s.io/apiserver/pkg/endpoints/discovery/aggregated).
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (code, headers, v) = env.request_accept(Method::GET, "/apis", "application/json", accept, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().contains("as=APIGroupDiscoveryList"));
    assert_eq!(v["kind"], "APIGroupDiscoveryList");
    let apps_group = v["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
    let sts = apps_group["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "statefulsets")
        .unwrap()
        .clone();
    assert_eq!(sts["scope"], "Namespaced");
    // installer.go ConvertGroupVersionIntoToDiscovery: responseKind's group and version are
    // empty when they are the list's own; a subresource of another group names it.
    assert_eq!(sts["responseKind"], json!({"group": "", "version": "", "kind": "StatefulSet"}));
    let subresources = sts["subresources"].as_array().unwrap();
    let scale = subresources.iter().find(|s| s["subresource"] == "scale").unwrap();
    assert_eq!(scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
    let status = subresources.iter().find(|s| s["subresource"] == "status").unwrap();
    assert_eq!(status["responseKind"], json!({"group": "", "version": "", "kind": "StatefulSet"}));
    // storageversionhash.go of the stored version: events.k8s.io Events are stored as core
    // v1 Events, ServiceCIDRs still as v1beta1 (kubeapiserver/default_storage_factory_builder.go).
    let (_, events) = env.request(Method::GET, "/apis/events.k8s.io/v1", None).await;
    assert_eq!(find(&events, "events")["storageVersionHash"], find(&core, "events")["storageVersionHash"]);
    assert_eq!(find(&events, "events")["storageVersionHash"], "r2yiGXH7wu8=");
    let (_, networking) = env.request(Method::GET, "/apis/networking.k8s.io/v1", None).await;
    assert_eq!(find(&networking, "servicecidrs")["storageVersionHash"], "8ufAXOnr3Yg=");
    env.cleanup().await;
}

#[tokio::test]
async fn openapi_v3_serves_the_patch_parameters_kubectl_checks() {
    let env = Env::new("oapi").await;
    let (code, index) = env.request(Method::GET, "/openapi/v3", None).await;
    assert_eq!(code, StatusCode::OK);
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
    let (code, doc) = env.request(Method::GET, &url, None).await;
    assert_eq!(code, StatusCode::OK);
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
    let params: Vec<&str> =
        patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(params.contains(&"fieldValidation") && params.contains(&"force") && params.contains(&"dryRun"));
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "StatefulSet");
    env.cleanup().await;
}

#[tokio::test]
async fn errors_carry_kube_apiserver_status() {
    let env = Env::new("errs").await;
    // errors.go NewNotFound: `%s %q not found`, details.kind = resource.
    let (code, s) = env.request(Method::GET, &format!("{}/missing", env.ns_path("configmaps")), None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["status"], "Failure");
    assert_eq!(s["reason"], "NotFound");
    assert_eq!(s["message"], "configmaps \"missing\" not found");
    assert_eq!(s["details"], json!({"name": "missing", "kind": "configmaps"}));
    assert_eq!(s["code"], 404);

    // errors.go NewAlreadyExists.
    let path = env.ns_path("configmaps");
    assert_eq!(env.request(Method::POST, &path, Some(cm("a"))).await.0, StatusCode::CREATED);
    let (code, s) = env.request(Method::POST, &path, Some(cm("a"))).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(s["reason"], "AlreadyExists");
    assert_eq!(s["message"], "configmaps \"a\" already exists");

    // storage/errors.go OptimisticLockErrorMsg via errors.go NewConflict.
    let (_, live) = env.request(Method::GET, &format!("{path}/a"), None).await;
    let mut stale = live.clone();
    stale["data"]["a"] = json!("2");
    assert_eq!(env.request(Method::PUT, &format!("{path}/a"), Some(stale.clone())).await.0, StatusCode::OK);
    let (code, s) = env.request(Method::PUT, &format!("{path}/a"), Some(stale)).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(s["reason"], "Conflict");
    assert_eq!(
        s["message"],
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // NamespaceLifecycle admission: errors.NewNotFound(namespaces).
    let (code, s) = env.request(Method::POST, "/api/v1/namespaces/no-such-ns/configmaps", Some(cm("x"))).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(s["message"], "namespaces \"no-such-ns\" not found");

    // handlers/rest.go checkName.
    let (code, s) = env.request(Method::PUT, &format!("{path}/other"), Some(cm("a"))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(s["message"], "the name of the object (a) does not match the name on the URL (other)");
    env.cleanup().await;
}

#[tokio::test]
async fn names_and_labels_are_validated() {
    let env = Env::new("names").await;
    // validation.go IsDNS1123Subdomain via objectmeta.go ValidateObjectMeta; errors.go NewInvalid.
    let (code, s) = env.request(Method::POST, &env.ns_path("configmaps"), Some(cm("Bad_Name"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s["reason"], "Invalid");
    assert_eq!(
        s["message"],
        "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
    assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");

    // Services: NameIsDNS1035Label (pkg/apis/core/validation ValidateServiceName).
    let svc = json!({"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}});
    let (code, s) = env.request(Method::POST, &env.ns_path("services"), Some(svc)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(s["message"].as_str().unwrap().contains("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"), "{s}");

    // metav1 validation ValidateLabels / validation.go IsValidLabelValue.
    let mut bad = cm("labels");
    bad["metadata"]["labels"] = json!({"app": "-x"});
    let (code, s) = env.request(Method::POST, &env.ns_path("configmaps"), Some(bad)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "ConfigMap \"labels\" is invalid: metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );

    // objectmeta.go: name or generateName required; generateName adds 5 characters.
    let (code, s) = env.request(Method::POST, &env.ns_path("configmaps"), Some(json!({"metadata": {}}))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
    );
    let (code, s) = env
        .request(Method::POST, &env.ns_path("configmaps"), Some(json!({"metadata": {"generateName": "gen-"}})))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let name = s["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    env.cleanup().await;
}

#[tokio::test]
async fn field_validation_strict_warn_ignore() {
    let env = Env::new("fv").await;
    let body = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "foo": 1}, "data": {"a": "1"}, "bogus": true})
            .to_string()
            .into_bytes()
    };
    let path = env.ns_path("configmaps");
    // handlers/create.go transformDecodeError + runtime strict decoding error.
    let (code, _, s) = env
        .request_full(Method::POST, &format!("{path}?fieldValidation=Strict"), "application/json", Some(body("s")))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        s["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"metadata.foo\", unknown field \"bogus\""
    );
    // Warn (the default): created, one Warning header per field (responsewriters/warning.go).
    let (code, headers, created) = env.request_full(Method::POST, &path, "application/json", Some(body("w"))).await;
    assert_eq!(code, StatusCode::CREATED);
    let warnings: Vec<&str> = headers.get_all("warning").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(warnings, vec!["299 - \"unknown field \\\"metadata.foo\\\"\"", "299 - \"unknown field \\\"bogus\\\"\""]);
    assert!(created.get("bogus").is_none());
    let (code, headers, _) = env
        .request_full(Method::POST, &format!("{path}?fieldValidation=Ignore"), "application/json", Some(body("i")))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert!(headers.get("warning").is_none());

    // A type mismatch is the decoder's error (Go encoding/json UnmarshalTypeError).
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "t"}, "spec": {"replicas": "three"}});
    let (code, s) = env.request(Method::POST, &env.apps_path("statefulsets"), Some(sts)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        s["message"],
        "StatefulSet in version \"v1\" cannot be handled as a StatefulSet: json: cannot unmarshal string into Go struct field StatefulSetSpec.spec.replicas of type int32"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn query_parameters_are_checked() {
    let env = Env::new("query").await;
    let path = env.ns_path("configmaps");
    // An unknown field label: kinds without a field label conversion (ConfigMaps; apps/v1
    // registers none, so not even ReplicaSet's `status.replicas`) get apimachinery
    // runtime/conversion.go `DefaultMetaV1FieldSelectorConversion`; kinds with one
    // (pkg/apis/core/v1/conversion.go) `field label not supported`, where cluster-scoped Nodes
    // do not list `metadata.namespace`.
    let (code, s) = env.request(Method::GET, &format!("{path}?fieldSelector=spec.foo%3Dbar"), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(s["reason"], "BadRequest");
    assert_eq!(
        s["message"],
        "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let (code, s) = env
        .request(Method::GET, &format!("{}?fieldSelector=status.replicas%3D1", env.apps_path("replicasets")), None)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        s["message"],
        "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let (code, s) =
        env.request(Method::GET, &format!("{}?fieldSelector=spec.foo%3Dbar", env.ns_path("pods")), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(s["message"], "field label not supported: spec.foo");
    let (code, s) = env.request(Method::GET, "/api/v1/nodes?fieldSelector=metadata.namespace%3Dx", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(s["message"], "field label not supported: metadata.namespace");
    // Pods support status.phase.
    let (code, _) =
        env.request(Method::GET, &format!("{}?fieldSelector=status.phase%3DRunning", env.ns_path("pods")), None).await;
    assert_eq!(code, StatusCode::OK);
    // apimachinery/pkg/apis/meta/v1/validation ValidateDryRun.
    let (code, s) = env.request(Method::POST, &format!("{path}?dryRun=Yes"), Some(cm("d"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Yes\"}: supported values: \"All\""
    );
    // handlers/patch.go: ValidatePatchOptions wrapped in NewInvalid(PatchOptions).
    let (code, _, s) = env
        .request_full(
            Method::PATCH,
            &format!("{path}/x"),
            "application/apply-patch+yaml",
            Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".to_vec()),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // internalversion validation ValidateListOptions.
    let (code, s) = env.request(Method::GET, &format!("{path}?sendInitialEvents=true"), None).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"
    );
    if env.sim.is_some() {
        // The simulator rejects what it does not implement instead of ignoring it.
        let (code, _) = env.request(Method::GET, &format!("{path}?shardSelector=x"), None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
    }
    env.cleanup().await;
}

#[tokio::test]
async fn media_types_are_negotiated() {
    let env = Env::new("media").await;
    let path = env.ns_path("configmaps");
    // handlers/negotiation: 415 for an unknown body type.
    let (code, _, s) = env.request_full(Method::POST, &path, "text/plain", Some(b"x".to_vec())).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(s["reason"], "UnsupportedMediaType");
    assert_eq!(
        s["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    // A PATCH route consumes the four patch types only (endpoints/installer.go), so go-restful
    // refuses any other before the handler: "415: Unsupported Media Type", made a Status by
    // server/handler.go `serviceErrorHandler` (NewGenericServerResponse: empty details).
    let (code, _, s) =
        env.request_full(Method::PATCH, &format!("{path}/x"), "application/json", Some(b"{}".to_vec())).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        s,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {}, "code": 415})
    );
    // A method the route does not have: go-restful's 405 the same way.
    for (method, path) in [
        (Method::PUT, path.clone()),
        (Method::POST, "/api/v1/configmaps".to_string()),
        (Method::GET, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews".to_string()),
    ] {
        let (code, s) = env.request(method, &path, Some(json!({}))).await;
        assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(
            s,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "the server does not allow this method on the requested resource",
                   "reason": "MethodNotAllowed", "details": {}, "code": 405})
        );
    }
    if env.sim.is_some() {
        // The simulator serves JSON only: a protobuf-only client gets 406.
        let (code, _, s) = env
            .request_accept(Method::GET, &path, "application/json", "application/vnd.kubernetes.protobuf", None)
            .await;
        assert_eq!(code, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(s["reason"], "NotAcceptable");
    }
    // kubectl get's Table (printers.go configMapColumnDefinitions).
    env.request(Method::POST, &path, Some(cm("t"))).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, _, t) = env.request_accept(Method::GET, &path, "application/json", accept, None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> =
        t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(cols, vec!["Name", "Data", "Age"]);
    let row = t["rows"].as_array().unwrap().iter().find(|r| r["cells"][0] == "t").unwrap();
    assert_eq!(row["cells"][1], 1);
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    env.cleanup().await;
}

#[tokio::test]
async fn list_selectors_and_pagination() {
    let env = Env::new("list").await;
    let path = env.ns_path("configmaps");
    for i in 0..5 {
        let mut o = cm(&format!("c{i}"));
        o["metadata"]["labels"] = json!({"tier": if i % 2 == 0 { "even" } else { "odd" }, "n": i.to_string()});
        env.request(Method::POST, &path, Some(o)).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, v) = env.request(Method::GET, &format!("{path}?labelSelector=tier%3Deven"), None).await;
    assert_eq!(names(&v), vec!["c0", "c2", "c4"]);
    let (_, v) = env.request(Method::GET, &format!("{path}?labelSelector=tier%20notin%20(even),n"), None).await;
    assert_eq!(names(&v), vec!["c1", "c3"]);
    let (_, v) = env.request(Method::GET, &format!("{path}?labelSelector=!tier"), None).await;
    assert!(names(&v).iter().all(|n| !n.starts_with('c')));
    // limit/continue (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go GetList).
    let (_, page1) = env.request(Method::GET, &format!("{path}?labelSelector=tier&limit=2"), None).await;
    assert_eq!(names(&page1), vec!["c0", "c1"]);
    let token = page1["metadata"]["continue"].as_str().unwrap().to_string();
    // Continuation is consistent at the first page's resourceVersion.
    env.request(Method::DELETE, &format!("{path}/c2"), None).await;
    let (_, page2) =
        env.request(Method::GET, &format!("{path}?labelSelector=tier&limit=2&continue={token}"), None).await;
    assert_eq!(names(&page2), vec!["c2", "c3"]);
    assert_eq!(page2["metadata"]["resourceVersion"], page1["metadata"]["resourceVersion"]);
    // List items carry no apiVersion/kind; the list does.
    assert_eq!(page1["kind"], "ConfigMapList");
    assert!(page1["items"][0].get("kind").is_none());
    env.cleanup().await;
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let env = Env::new("dry").await;
    let path = env.ns_path("configmaps");
    env.request(Method::POST, &path, Some(cm("live"))).await;
    let (_, before) = env.request(Method::GET, &format!("{path}/live"), None).await;
    let (code, created) = env.request(Method::POST, &format!("{path}?dryRun=All"), Some(cm("ghost"))).await;
    assert_eq!(code, StatusCode::CREATED);
    assert!(created["metadata"]["uid"].is_string());
    assert_eq!(env.request(Method::GET, &format!("{path}/ghost"), None).await.0, StatusCode::NOT_FOUND);
    let mut changed = before.clone();
    changed["data"]["a"] = json!("changed");
    let (code, _) = env.request(Method::PUT, &format!("{path}/live?dryRun=All"), Some(changed)).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, _) = env
        .request_full(
            Method::PATCH,
            &format!("{path}/live?dryRun=All"),
            "application/merge-patch+json",
            Some(br#"{"data":{"b":"2"}}"#.to_vec()),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = env.request(Method::DELETE, &format!("{path}/live?dryRun=All"), None).await;
    assert_eq!(code, StatusCode::OK);
    let (_, after) = env.request(Method::GET, &format!("{path}/live"), None).await;
    assert_eq!(after, before);
    if let Some(sim) = &env.sim {
        let dry: Vec<_> = sim.requests().into_iter().filter(|r| r.dry_run).collect();
        assert_eq!(dry.len(), 4);
        assert!(dry.iter().all(|r| !r.is_write()));
    }
    env.cleanup().await;
}

#[tokio::test]
async fn service_ip_allocation() {
    let env = Env::new("svc").await;
    let path = env.ns_path("services");
    let svc = |name: &str, spec: Value| json!({"metadata": {"name": name}, "spec": spec});
    // Dry run answers ErrNotInRange with the range (pkg/registry/core/service/ipallocator/
    // ipallocator.go, wrapped by storage/alloc.go `failed to allocate IP %v: %v`).
    let (code, s) = env
        .request(
            Method::POST,
            &format!("{path}?dryRun=All"),
            Some(svc("probe", json!({"clusterIP": "4.4.4.4", "ports": [{"port": 80}]}))),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let msg = s["message"].as_str().unwrap();
    assert!(msg.starts_with("Service \"probe\" is invalid: spec.clusterIPs: Invalid value: []string{\"4.4.4.4\"}: failed to allocate IP 4.4.4.4: the provided IP (4.4.4.4) is not in the valid range. The range of valid IPs is "), "{msg}");
    if let Some(cidr) = env.service_cidr() {
        assert!(msg.ends_with(&format!("The range of valid IPs is {cidr}")), "{msg}");
        // 1.33 without dry run: the MetaAllocator's ErrMismatchedNetwork (cidrallocator.go).
        let (_, s) = env
            .request(Method::POST, &path, Some(svc("probe", json!({"clusterIP": "4.4.4.4", "ports": [{"port": 80}]}))))
            .await;
        assert_eq!(
            s["message"],
            "Service \"probe\" is invalid: spec.clusterIPs: Invalid value: []string{\"4.4.4.4\"}: failed to allocate IP 4.4.4.4: the provided network does not match the current range"
        );
    }
    let (code, s) =
        env.request(Method::POST, &path, Some(svc("web", json!({"type": "NodePort", "ports": [{"port": 80}]})))).await;
    assert_eq!(code, StatusCode::CREATED, "{s}");
    let ip = s["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert_eq!(s["spec"]["clusterIPs"], json!([ip]));
    let np = s["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np));
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(s["spec"]["sessionAffinity"], "None");
    let (_, headless) =
        env.request(Method::POST, &path, Some(svc("hl", json!({"clusterIP": "None", "ports": [{"port": 80}]})))).await;
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    // validation.go ValidateServiceUpdate: clusterIPs may not change once set.
    let mut moved = s.clone();
    moved["spec"]["clusterIP"] = json!("10.96.0.250");
    moved["spec"]["clusterIPs"] = json!(["10.96.0.250"]);
    let (code, e) = env.request(Method::PUT, &format!("{path}/web"), Some(moved)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.250\"}: may not change once set"),
        "{e}"
    );
    // portallocator: out-of-range node port.
    let (code, e) = env
        .request(
            Method::POST,
            &path,
            Some(svc("np", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}))),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().ends_with("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"), "{e}");
    // The cluster's own Service (pkg/controlplane/controller/kubernetesservice).
    let (code, k) = env.request(Method::GET, "/api/v1/namespaces/default/services/kubernetes", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(k["spec"]["ports"][0]["name"], "https");
    env.cleanup().await;
}

#[tokio::test]
async fn no_op_writes_do_not_write_and_generation_tracks_spec() {
    let env = Env::new("noop").await;
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}});
    let path = env.apps_path("statefulsets");
    let (code, created) = env.request(Method::POST, &path, Some(sts)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    // PUTs start from a fresh GET (`put_fresh`): with controllers running, the StatefulSet
    // controller writes status (a new resourceVersion, the same generation) meanwhile.
    let web = format!("{path}/web");
    let (code, same, before) = env.put_fresh(&web, |_| {}).await;
    assert_eq!(code, StatusCode::OK, "{same}");
    assert_eq!(same["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    let (code, labelled, before) = env.put_fresh(&web, |o| o["metadata"]["labels"] = json!({"x": "y"})).await;
    assert_eq!(code, StatusCode::OK, "{labelled}");
    assert_ne!(labelled["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
    assert_eq!(labelled["metadata"]["generation"], 1);
    let (code, _, scaled) = env
        .request_full(Method::PATCH, &web, "application/merge-patch+json", Some(br#"{"spec":{"replicas":3}}"#.to_vec()))
        .await;
    assert_eq!(code, StatusCode::OK, "{scaled}");
    assert_eq!(scaled["metadata"]["generation"], 2);
    // The scale subresource (autoscaling/v1 Scale).
    let (code, scale) = env.request(Method::GET, &format!("{web}/scale"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web");
    let (code, _) = env.request(Method::PUT, &format!("{web}/scale"), Some(json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 5}}))).await;
    assert_eq!(code, StatusCode::OK);
    let (_, after) = env.request(Method::GET, &web, None).await;
    assert_eq!(after["spec"]["replicas"], 5);
    assert_eq!(after["metadata"]["generation"], 3);
    // The status subresource writes status only (spec is kept).
    let (code, st, _) = env
        .put_fresh(&format!("{web}/status"), |o| {
            o["status"]["observedGeneration"] = json!(42);
            o["spec"]["replicas"] = json!(9);
        })
        .await;
    assert_eq!(code, StatusCode::OK, "{st}");
    assert_eq!(st["status"]["observedGeneration"], 42);
    assert_eq!(st["spec"]["replicas"], 5);
    // apps validation.go ValidateStatefulSetStatus on a status write.
    let (code, e, _) = env
        .put_fresh(&format!("{web}/status"), |o| {
            let replicas = o["status"]["replicas"].as_i64().unwrap_or(0);
            o["status"]["readyReplicas"] = json!(replicas + 1);
            o["status"]["availableReplicas"] = json!(0);
            o["status"]["currentReplicas"] = json!(-1);
        })
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.starts_with("StatefulSet.apps \"web\" is invalid: [status.currentReplicas: Invalid value: -1: must be greater than or equal to 0, status.readyReplicas: Invalid value: "), "{e}");
    assert!(message.ends_with(": cannot be greater than status.replicas]"), "{e}");
    env.cleanup().await;
}

#[tokio::test]
async fn server_side_apply_conflicts_and_ownership() {
    let env = Env::new("ssa").await;
    let path = env.ns_path("configmaps");
    let apply = |manager: &str, force: bool, yaml: &str| {
        let url = format!("{path}/app?fieldManager={manager}{}", if force { "&force=true" } else { "" });
        let body = yaml.as_bytes().to_vec();
        let env = &env;
        async move { env.request_full(Method::PATCH, &url, "application/apply-patch+yaml", Some(body)).await }
    };
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    let (code, _, created) = apply("alpha", false, doc).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let entries = created["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["manager"], "alpha");
    assert_eq!(entries[0]["operation"], "Apply");
    assert_eq!(entries[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
    let (code, _, again) = apply("alpha", false, doc).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(again["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    // Another manager's different value: 409 with FieldManagerConflict causes
    // (fieldmanager/internal/conflict.go NewConflictError, getConflictMessage).
    let (code, _, s) =
        apply("beta", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"9\"\n").await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(s["reason"], "Conflict");
    assert_eq!(s["message"], "Apply failed with 1 conflict: conflict with \"alpha\": .data.a");
    assert_eq!(
        s["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"alpha\"", "field": ".data.a"}])
    );
    let (code, _, forced) =
        apply("beta", true, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"9\"\n").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(forced["data"], json!({"a": "9", "b": "2"}));
    // alpha drops b: nobody else owns it, it is removed.
    let (_, _, dropped) =
        apply("alpha", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata: {}\n").await;
    assert_eq!(dropped["data"], json!({"a": "9"}));
    env.cleanup().await;
}

#[tokio::test]
async fn deletion_finalizers_and_preconditions() {
    let env = Env::new("del").await;
    let path = env.ns_path("configmaps");
    let mut held = cm("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let (_, created) = env.request(Method::POST, &path, Some(held)).await;
    // registry/rest/delete.go BeforeDelete checks preconditions first: a Conflict on the kind.
    let (code, s) = env
        .request(
            Method::DELETE,
            &format!("{path}/held"),
            Some(json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let uid = created["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        s["message"],
        format!(
            "Operation cannot be fulfilled on ConfigMap \"held\": the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )
    );
    assert_eq!(s["details"], json!({"name": "held", "kind": "ConfigMap"}));
    let (code, s) = env
        .request(Method::DELETE, &format!("{path}/held"), Some(json!({"preconditions": {"resourceVersion": "1"}})))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap();
    assert_eq!(
        s["message"],
        format!(
            "Operation cannot be fulfilled on ConfigMap \"held\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified"
        )
    );
    // A namespace checks them itself (registry/core/namespace/storage/storage.go Delete).
    let (code, s) = env
        .request(
            Method::DELETE,
            &format!("/api/v1/namespaces/{}", env.ns),
            Some(json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(
        s["message"].as_str().unwrap().starts_with(&format!("Operation cannot be fulfilled on namespaces \"{}\": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: ", env.ns)),
        "{s}"
    );
    // A finalizer keeps the object, with deletionTimestamp (store.go updateForGracefulDeletionAndFinalizers).
    let (code, kept) = env.request(Method::DELETE, &format!("{path}/held"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(kept["metadata"]["deletionTimestamp"].is_string());
    let (code, _) = env.request(Method::GET, &format!("{path}/held"), None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, _) = env
        .request_full(
            Method::PATCH,
            &format!("{path}/held"),
            "application/merge-patch+json",
            Some(br#"{"metadata":{"finalizers":null}}"#.to_vec()),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(env.request(Method::GET, &format!("{path}/held"), None).await.0, StatusCode::NOT_FOUND);
    // A plain delete answers a Status naming the object (store.go finalizeDelete).
    env.request(Method::POST, &path, Some(cm("plain"))).await;
    let (code, s) = env.request(Method::DELETE, &format!("{path}/plain"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(s["status"], "Success");
    assert_eq!(s["details"]["name"], "plain");
    assert_eq!(s["details"]["kind"], "configmaps");
    // deletecollection answers the list of what it deleted.
    env.request(Method::POST, &path, Some(cm("d1"))).await;
    env.request(Method::POST, &path, Some(cm("d2"))).await;
    let (code, list) =
        env.request(Method::DELETE, &format!("{path}?labelSelector=").replace("?labelSelector=", ""), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["kind"], "ConfigMapList");
    env.cleanup().await;
}

#[tokio::test]
async fn garbage_collection_follows_owner_references() {
    let env = Env::new("gc").await;
    let path = env.ns_path("configmaps");
    let owned = |name: &str, owner: &Value| {
        let mut o = cm(name);
        o["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "blockOwnerDeletion": true}]);
        o
    };
    let get = |name: &str| {
        let p = format!("{path}/{name}");
        let env = &env;
        async move { env.request(Method::GET, &p, None).await }
    };
    // Background: the owner goes at once, the dependent after it.
    let (_, owner) = env.request(Method::POST, &path, Some(cm("bg-owner"))).await;
    env.request(Method::POST, &path, Some(owned("bg-dep", &owner))).await;
    env.request(Method::DELETE, &format!("{path}/bg-owner"), None).await;
    eventually(Duration::from_secs(20), || async { (get("bg-dep").await.0 == StatusCode::NOT_FOUND).then_some(()) })
        .await;
    // Foreground: the owner waits with the foregroundDeletion finalizer until dependents go.
    let (_, owner) = env.request(Method::POST, &path, Some(cm("fg-owner"))).await;
    env.request(Method::POST, &path, Some(owned("fg-dep", &owner))).await;
    let (code, marked) = env
        .request(Method::DELETE, &format!("{path}/fg-owner"), Some(json!({"propagationPolicy": "Foreground"})))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(marked["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    eventually(Duration::from_secs(20), || async {
        (get("fg-dep").await.0 == StatusCode::NOT_FOUND && get("fg-owner").await.0 == StatusCode::NOT_FOUND)
            .then_some(())
    })
    .await;
    // Orphan: the dependent stays, without the owner reference.
    let (_, owner) = env.request(Method::POST, &path, Some(cm("or-owner"))).await;
    env.request(Method::POST, &path, Some(owned("or-dep", &owner))).await;
    env.request(Method::DELETE, &format!("{path}/or-owner"), Some(json!({"propagationPolicy": "Orphan"}))).await;
    let dep = eventually(Duration::from_secs(20), || async {
        let (code, dep) = get("or-dep").await;
        (code == StatusCode::OK
            && dep["metadata"].get("ownerReferences").is_none()
            && get("or-owner").await.0 == StatusCode::NOT_FOUND)
            .then_some(dep)
    })
    .await;
    assert_eq!(dep["data"]["a"], "1");
    env.cleanup().await;
}

#[tokio::test]
async fn namespace_deletion_terminates_then_removes() {
    let env = Env::new("nsdel").await;
    let path = env.ns_path("configmaps");
    let mut held = cm("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    env.request(Method::POST, &path, Some(held)).await;
    env.request(Method::POST, &path, Some(cm("free"))).await;
    let ns_path = format!("/api/v1/namespaces/{}", env.ns);
    let (code, ns) = env.request(Method::DELETE, &ns_path, None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ns["status"]["phase"], "Terminating");
    // NamespaceLifecycle admission (plugin/pkg/admission/namespace/lifecycle/admission.go).
    let (code, s) = env.request(Method::POST, &path, Some(cm("late"))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        format!(
            "configmaps \"late\" is forbidden: unable to create new content in namespace {} because it is being terminated",
            env.ns
        )
    );
    assert_eq!(s["details"]["causes"][0]["reason"], "NamespaceTerminating");
    // pkg/controller/namespace/deletion/status_condition_utils.go
    let ns = eventually(Duration::from_secs(30), || async {
        let (_, ns) = env.request(Method::GET, &ns_path, None).await;
        let remain = ns["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "NamespaceFinalizersRemaining")?
            .clone();
        (remain["status"] == "True").then_some(ns)
    })
    .await;
    let finalizers = ns["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "NamespaceFinalizersRemaining")
        .unwrap();
    assert_eq!(finalizers["reason"], "SomeFinalizersRemain");
    assert_eq!(
        finalizers["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    // Deleted again while Terminating: the namespace as it is (registry/core/namespace/storage/
    // storage.go Delete returns it while spec.finalizers is not empty).
    let (code, again) = env.request(Method::DELETE, &ns_path, None).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["kind"], "Namespace");
    assert_eq!(again["status"]["phase"], "Terminating");
    assert_eq!(again["spec"]["finalizers"], json!(["kubernetes"]));
    env.request_full(
        Method::PATCH,
        &format!("{path}/held"),
        "application/merge-patch+json",
        Some(br#"{"metadata":{"finalizers":null}}"#.to_vec()),
    )
    .await;
    eventually(Duration::from_secs(60), || async {
        (env.request(Method::GET, &ns_path, None).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    // The system namespaces may not be deleted.
    let (code, s) = env.request(Method::DELETE, "/api/v1/namespaces/kube-system", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(s["message"], "namespaces \"kube-system\" is forbidden: this namespace may not be deleted");
}

#[tokio::test]
async fn watch_resumes_bookmarks_and_gone() {
    let env = Env::new("watch").await;
    let path = env.ns_path("configmaps");
    let (_, created) = env.request(Method::POST, &path, Some(cm("w1"))).await;
    let rv0 = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    env.request_full(
        Method::PATCH,
        &format!("{path}/w1"),
        "application/merge-patch+json",
        Some(br#"{"data":{"a":"2"}}"#.to_vec()),
    )
    .await;
    env.request(Method::DELETE, &format!("{path}/w1"), None).await;
    let events = env.watch_lines(&format!("{path}?watch=true&resourceVersion={rv0}&timeoutSeconds=1")).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["MODIFIED", "DELETED"]);
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    // sendInitialEvents needs the WatchList feature gate, off by default again in 1.33
    // (apiserver/pkg/features/kube_features.go; apimachinery internalversion/validation
    // validateWatchOptions).
    let (code, s) = env
        .request(
            Method::GET,
            &format!("{path}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"
    );
    if let Some(sim) = &env.sim {
        // After compaction an older resourceVersion is gone: an ERROR event in the watch
        // (cacher watch_cache.go `too old resource version: %d (%d)`, 410 Expired), a 410
        // Status on an exact list.
        sim.compact();
        let current = sim.resource_version();
        let events = env.watch_lines(&format!("{path}?watch=true&resourceVersion={rv0}&timeoutSeconds=1")).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "ERROR");
        assert_eq!(events[0]["object"]["code"], 410);
        assert_eq!(events[0]["object"]["reason"], "Expired");
        assert_eq!(events[0]["object"]["message"], format!("too old resource version: {rv0} ({current})"));
        let (code, s) =
            env.request(Method::GET, &format!("{path}?resourceVersion={rv0}&resourceVersionMatch=Exact"), None).await;
        assert_eq!(code, StatusCode::GONE);
        assert_eq!(s["message"], format!("too old resource version: {rv0} ({current})"));
    }
    env.cleanup().await;
}

#[tokio::test]
async fn request_log_counts_and_classifies() {
    let env = Env::new("log").await;
    let Some(sim) = &env.sim else { return env.cleanup().await };
    sim.clear_requests();
    env.request(Method::GET, &env.ns_path("configmaps"), None).await;
    env.request(Method::POST, &format!("{}?dryRun=All", env.ns_path("configmaps")), Some(cm("x"))).await;
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].user_agent, "kube-sim-conformance/v0 (test)");
    assert!(log[1].dry_run && !log[1].is_write());
    assert_eq!(log[1].query, "dryRun=All");
    env.cleanup().await;
}

/// A 1.32 simulator (WatchList on by default in 1.32 only): `sendInitialEvents` gives ADDED
/// for the state, then a bookmark annotated `k8s.io/initial-events-end`
/// (staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go). Simulator only: the real
/// control plane is 1.33, so nothing is checked in `fidelity_real`.
#[tokio::test]
async fn watch_list_of_a_1_32_server_ends_its_initial_events_with_a_bookmark() {
    if common::backend() != common::Backend::Simulator {
        return;
    }
    let config = kube_sim::SimConfig { git_version: "v1.32.5".into(), ..Default::default() };
    let sim = kube_sim::Simulator::start_with(config).await.unwrap();
    let client = sim.client().await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let request = |method: Method, uri: String, body: Vec<u8>| {
        hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("Content-Type", "application/json")
            .body(kube::client::Body::from(body))
            .unwrap()
    };
    use http_body_util::BodyExt as _;
    let created = client.send(request(Method::POST, path.into(), cm("w2").to_string().into_bytes())).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let watch = format!(
        "{path}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    );
    let body = client.send(request(Method::GET, watch, Vec::new())).await.unwrap().into_body().collect().await;
    let text = String::from_utf8(body.unwrap().to_bytes().to_vec()).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let added: Vec<&str> = events
        .iter()
        .take_while(|e| e["type"] == "ADDED")
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(added, vec!["kube-root-ca.crt", "w2"], "{events:?}");
    let bookmark = events.iter().find(|e| e["type"] == "BOOKMARK").expect("bookmark");
    assert_eq!(bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    sim.stop().await;
}

#[tokio::test]
async fn pods_subresources_and_field_selectors() {
    let env = Env::new("pods").await;
    let pods = env.ns_path("pods");
    // A scheduler name no scheduler serves: the pod stays Pending and unbound until the test
    // binds it (kube-scheduler, and kube-sim's in workload mode, leave it alone).
    let pod = json!({"metadata": {"name": "p"}, "spec": {"schedulerName": "kube-sim-conformance", "containers": [{"name": "c", "image": "busybox"}]}});
    let (code, p) = env.request(Method::POST, &pods, Some(pod)).await;
    assert_eq!(code, StatusCode::CREATED, "{p}");
    // pkg/apis/core/v1/defaults.go and the ServiceAccount/Priority admission plugins.
    assert_eq!(p["spec"]["serviceAccountName"], "default");
    assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(p["spec"]["restartPolicy"], "Always");
    assert_eq!(p["spec"]["enableServiceLinks"], true);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    // The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go)
    // refuses a pod whose ServiceAccount does not exist, naming it by its generateName
    // (admission/errors.go extractResourceName: no name is generated yet).
    let orphan = json!({"metadata": {"generateName": "q-"}, "spec": {"serviceAccountName": "nope", "containers": [{"name": "c", "image": "busybox"}]}});
    let (code, s) = env.request(Method::POST, &pods, Some(orphan)).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");
    assert_eq!(
        s["message"],
        format!(
            "pods \"q-\" is forbidden: error looking up service account {}/nope: serviceaccount \"nope\" not found",
            env.ns
        )
    );
    assert_eq!(s["details"], json!({"name": "q-", "kind": "pods"}));
    let (_, list) =
        env.request(Method::GET, &format!("{pods}?fieldSelector=status.phase%3DPending,metadata.name%3Dp"), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = env.request(Method::GET, &format!("{pods}?fieldSelector=status.phase!%3DPending"), None).await;
    assert_eq!(list["items"], json!([]));
    // Binding (pkg/registry/core/pod/storage BindingREST): 201 Status; a second one conflicts.
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    let (code, s) = env.request(Method::POST, &format!("{pods}/p/binding"), Some(binding.clone())).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(s["status"], "Success");
    let (code, s) = env.request(Method::POST, &format!("{pods}/p/binding"), Some(binding)).await;
    assert_eq!(code, StatusCode::CONFLICT);
    // storage.go `assignPod`: errors.NewConflict(api.Resource("pods/binding"), …).
    assert_eq!(
        s["message"],
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n1\""
    );
    assert_eq!(s["details"]["kind"], "pods/binding");
    let (_, list) = env.request(Method::GET, &format!("{pods}?fieldSelector=spec.nodeName%3Dn1"), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Events by involved object (pkg/apis/core/v1/conversion.go event field labels).
    let event = json!({"metadata": {"name": "p.1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": env.ns}, "reason": "Pulled", "type": "Normal", "message": "pulled"});
    env.request(Method::POST, &env.ns_path("events"), Some(event)).await;
    let (_, list) = env
        .request(
            Method::GET,
            &format!("{}?fieldSelector=involvedObject.name%3Dp,type%3DNormal", env.ns_path("events")),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Eviction (pods/eviction) deletes the pod; without a PDB it is allowed. Grace period 0:
    // no kubelet runs on node n1 to finish a graceful deletion.
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}, "deleteOptions": {"gracePeriodSeconds": 0}});
    let (code, _) = env.request(Method::POST, &format!("{pods}/p/eviction"), Some(eviction)).await;
    assert_eq!(code, StatusCode::CREATED);
    eventually(Duration::from_secs(20), || async {
        (env.request(Method::GET, &format!("{pods}/p"), None).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    // TokenRequest for the namespace's default ServiceAccount.
    let sa = eventually(Duration::from_secs(20), || async {
        let (code, sa) = env.request(Method::GET, &format!("{}/default", env.ns_path("serviceaccounts")), None).await;
        (code == StatusCode::OK).then_some(sa)
    })
    .await;
    assert_eq!(sa["metadata"]["name"], "default");
    let (code, tr) = env
        .request(
            Method::POST,
            &format!("{}/default/token", env.ns_path("serviceaccounts")),
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{tr}");
    assert_eq!(tr["kind"], "TokenRequest");
    assert!(tr["status"]["token"].as_str().unwrap().split('.').count() == 3);
    // A verb the resource does not have (namespaces: no deletecollection): no route, go-restful's
    // 405 (server/handler.go serviceErrorHandler).
    let (code, s) = env.request(Method::DELETE, "/api/v1/namespaces", None).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s["reason"], "MethodNotAllowed");
    assert_eq!(s["message"], "the server does not allow this method on the requested resource");
    env.cleanup().await;
}

/// apps validation.go `ValidatePodTemplateSpecForStatefulSet` leaves the pod spec unvalidated
/// ("TODO: Add validation for PodSpec, currently this will check volumes, which we know will
/// fail"), so volumeMounts may name volumeClaimTemplates — every chart with persistent storage
/// relies on it — while a Deployment's template is validated in full
/// (`ValidatePodTemplateSpecForReplicaSet` → core validation.go `ValidatePodTemplateSpec`:
/// `spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`).
#[tokio::test]
async fn statefulset_mounts_may_name_claim_templates_but_deployments_may_not() {
    let env = Env::new("vct").await;
    let template = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
        {"name": "c", "image": "k3s", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}});
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db", "template": template.clone(),
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}]}});
    let (code, body) = env.request(Method::POST, &env.apps_path("statefulsets"), Some(sts)).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}, "template": template}});
    let (code, body) = env.request(Method::POST, &env.apps_path("deployments"), Some(deploy)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["message"],
        "Deployment.apps \"db\" is invalid: spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""
    );
    let empty = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "e"},
        "spec": {"selector": {}, "serviceName": "e", "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let (code, body) = env.request(Method::POST, &env.apps_path("statefulsets"), Some(empty)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("empty selector is invalid for statefulset"), "{body}");
    env.cleanup().await;
}

#[tokio::test]
async fn the_default_service_cidr_is_served_and_immutable() {
    let env = Env::new("svccidr").await;
    // pkg/registry/networking/servicecidr/storage/storage.go: cluster-scoped, no shortNames, no
    // categories, a status subresource.
    let (code, group) = env.request(Method::GET, "/apis/networking.k8s.io/v1", None).await;
    assert_eq!(code, StatusCode::OK);
    let resources = group["resources"].as_array().unwrap();
    let find = |name: &str| resources.iter().find(|r| r["name"] == name).cloned().unwrap_or_else(|| panic!("{name}"));
    let cidrs = find("servicecidrs");
    assert_eq!(cidrs["kind"], "ServiceCIDR");
    assert_eq!(cidrs["singularName"], "servicecidr");
    assert_eq!(cidrs["namespaced"], false);
    assert!(cidrs.get("shortNames").is_none() && cidrs.get("categories").is_none(), "{cidrs}");
    assert_eq!(
        cidrs["verbs"],
        json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
    );
    assert_eq!(find("servicecidrs/status")["verbs"], json!(["get", "patch", "update"]));

    // default_servicecidr_controller.go: `kubernetes` holds --service-cluster-ip-range; Ready
    // with the controller's message and no reason.
    let path = "/apis/networking.k8s.io/v1/servicecidrs";
    // Seconds after start, kube-controller-manager's ServiceCIDR controller
    // (pkg/controller/servicecidrs/servicecidrs_controller.go) has added its finalizer and
    // applied its own Ready condition over the apiserver's ("Kubernetes default Service CIDR is
    // ready"); `reason` is empty, not omitted (metav1.Condition).
    let default = eventually(Duration::from_secs(60), || async {
        let (code, default) = env.request(Method::GET, &format!("{path}/kubernetes"), None).await;
        assert_eq!(code, StatusCode::OK, "{default}");
        (default["status"]["conditions"][0]["message"] == "Kubernetes Service CIDR is ready").then_some(default)
    })
    .await;
    if let Some(cidr) = env.service_cidr() {
        assert_eq!(default["spec"]["cidrs"], json!([cidr]));
    }
    assert_eq!(default["metadata"]["finalizers"], json!(["networking.k8s.io/service-cidr-finalizer"]));
    let ready = &default["status"]["conditions"][0];
    assert_eq!((ready["type"].as_str(), ready["status"].as_str()), (Some("Ready"), Some("True")), "{default}");
    assert_eq!(ready["reason"], "");
    assert!(ready["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{ready}");

    // networking validation.go ValidateServiceCIDRUpdate (v1.33.x): each CIDR is immutable; a
    // change of their number other than one to two is refused whole.
    let mut moved = default.clone();
    moved["spec"]["cidrs"] = json!(["10.0.0.0/16"]);
    let (code, e) = env.request(Method::PUT, &format!("{path}/kubernetes?dryRun=All"), Some(moved.clone())).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["message"],
        "ServiceCIDR.networking.k8s.io \"kubernetes\" is invalid: spec.cidrs[0]: Invalid value: \"10.0.0.0/16\": field is immutable"
    );
    moved["spec"]["cidrs"] = json!(["10.0.0.0/16", "fd00::/108", "10.1.0.0/16"]);
    let (code, e) = env.request(Method::PUT, &format!("{path}/kubernetes?dryRun=All"), Some(moved)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["message"],
        "ServiceCIDR.networking.k8s.io \"kubernetes\" is invalid: spec.cidrs: Invalid value: []string{\"10.0.0.0/16\", \"fd00::/108\", \"10.1.0.0/16\"}: field is immutable"
    );
    // ValidateServiceCIDR: at least one CIDR.
    let empty =
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "none"}, "spec": {}});
    let (code, e) = env.request(Method::POST, &format!("{path}?dryRun=All"), Some(empty)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["message"],
        "ServiceCIDR.networking.k8s.io \"none\" is invalid: spec.cidrs: Required value: at least one CIDR required"
    );
    env.cleanup().await;
}

/// A Status body's code, reason and message.
fn status_of(body: &Value) -> (i64, &str, &str) {
    (
        body["code"].as_i64().unwrap_or_default(),
        body["reason"].as_str().unwrap_or_default(),
        body["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn impersonation_needs_the_impersonate_verb_for_each_value() {
    let env = Env::new("imp").await;
    let ns = env.ns.clone();
    let (limited, requester) = env.service_account_client("limited").await;
    let bob = format!("{ns}-bob");
    let configmaps = env.ns_path("configmaps");

    // staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go: each value is
    // authorized with verb "impersonate"; a refusal is responsewriters.Forbidden
    // (errors.go forbiddenMessage, apierrors.NewForbidden with the value's name).
    let (code, headers, body) = env.send(&limited, Method::GET, &configmaps, &[("Impersonate-User", &bob)], None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        status_of(&body),
        (
            403,
            "Forbidden",
            format!(r#"users "{bob}" is forbidden: User "{requester}" cannot impersonate resource "users" in API group "" at the cluster scope"#)
                .as_str()
        )
    );
    assert_eq!(body["details"], json!({"name": bob, "kind": "users"}));

    // Groups, extras or a uid without a user: responsewriters.InternalError, plain text with
    // the request URI quoted and the requests printed as Go prints []v1.ObjectReference.
    let (code, _, body) =
        env.send(&limited, Method::GET, &format!("{configmaps}?limit=1"), &[("Impersonate-Group", "devs")], None).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body.as_str().unwrap(),
        format!(
            "Internal Server Error: \"{configmaps}?limit=1\": requested [{{Group  devs    }}] without impersonating a user\n"
        )
    );

    // A ClusterRole with verb impersonate on that one user (cluster-scoped attributes, so a
    // ClusterRoleBinding) lets the service account act as it.
    let role = format!("{ns}-impersonator");
    let (code, body) = env
        .request(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            Some(json!({"metadata": {"name": role}, "rules": [
                {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": [bob]},
                {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
            ]})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = env
        .request(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            Some(json!({"metadata": {"name": role},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "limited", "namespace": ns}]})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let as_bob = [("Impersonate-User", bob.as_str())];
    // The request then runs as bob, who may not list configmaps (authorization.go's 403).
    let (code, _, body) = eventually(Duration::from_secs(10), || async {
        let r = env.send(&limited, Method::GET, &configmaps, &as_bob, None).await;
        (r.0 != StatusCode::FORBIDDEN || r.2["details"]["kind"] != "users").then_some(r)
    })
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&body).2,
        format!(
            r#"configmaps is forbidden: User "{bob}" cannot list resource "configmaps" in API group "" in the namespace "{ns}""#
        )
    );
    // pkg/registry/authentication/selfsubjectreview: the impersonated user, with
    // system:authenticated added (system:basic-user lets every authenticated user ask).
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let (code, _, body) = env
        .send(
            &limited,
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &as_bob,
            Some(review.clone()),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"]["userInfo"], json!({"username": bob, "groups": ["system:authenticated"]}));
    // With the ClusterRole view bound in the namespace, bob may list.
    let (code, body) = env
        .request(
            Method::POST,
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            Some(json!({"metadata": {"name": "bob-views"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": bob}]})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    eventually(Duration::from_secs(10), || async {
        (env.send(&limited, Method::GET, &configmaps, &as_bob, None).await.0 == StatusCode::OK).then_some(())
    })
    .await;

    // Another user, and a group, are still refused.
    let (code, _, body) = env.send(&limited, Method::GET, &configmaps, &[("Impersonate-User", "alice")], None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(status_of(&body).2.starts_with(r#"users "alice" is forbidden"#), "{body}");
    let (code, _, body) = env
        .send(&limited, Method::GET, &configmaps, &[("Impersonate-User", &bob), ("Impersonate-Group", "devs")], None)
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&body).2,
        format!(
            r#"groups "devs" is forbidden: User "{requester}" cannot impersonate resource "groups" in API group "" at the cluster scope"#
        )
    );
    // A service account of the namespace: its two groups and system:authenticated.
    let other = format!("system:serviceaccount:{ns}:other");
    let (code, _, body) = env
        .send(
            &limited,
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &[("Impersonate-User", &other)],
            Some(review),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"]["userInfo"]["username"], other);
    assert_eq!(
        body["status"]["userInfo"]["groups"],
        json!(["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"])
    );

    for path in [
        format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{role}"),
        format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}"),
    ] {
        env.request(Method::DELETE, &path, None).await;
    }
    env.cleanup().await;
}

#[tokio::test]
async fn subject_access_reviews_answer_as_rbac_does() {
    let env = Env::new("sar").await;
    let ns = env.ns.clone();
    let user = format!("{ns}-carol");
    let sar = |user: &str, groups: Value, verb: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": user, "groups": groups,
            "resourceAttributes": {"namespace": ns, "verb": verb, "resource": "configmaps"}}})
    };
    let path = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

    // Discovery: create-only, cluster-scoped (pkg/registry/authorization/rest).
    let (_, authz) = env.request(Method::GET, "/apis/authorization.k8s.io/v1", None).await;
    let entry = authz["resources"].as_array().unwrap().iter().find(|r| r["name"] == "subjectaccessreviews").cloned();
    let entry = entry.expect("subjectaccessreviews is listed");
    assert_eq!(
        (entry["namespaced"].clone(), entry["kind"].clone(), entry["verbs"].clone()),
        (json!(false), json!("SubjectAccessReview"), json!(["create"]))
    );

    // No rule allows: RBAC has no opinion and no reason (plugin/pkg/auth/authorizer/rbac/rbac.go).
    let (code, body) = env.request(Method::POST, path, Some(sar(&user, json!([]), "list"))).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], json!({"allowed": false}));
    assert_eq!(body["kind"], "SubjectAccessReview");

    let (code, body) = env
        .request(
            Method::POST,
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            Some(json!({"metadata": {"name": "carol-edits"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // rbac.go "RBAC: allowed by %s", rule.go roleBindingDescriber ("name/namespace").
    let body = eventually(Duration::from_secs(10), || async {
        let (_, body) = env.request(Method::POST, path, Some(sar(&user, json!([]), "create"))).await;
        (body["status"]["allowed"] == true).then_some(body)
    })
    .await;
    assert_eq!(
        body["status"],
        json!({"allowed": true, "reason": format!(r#"RBAC: allowed by RoleBinding "carol-edits/{ns}" of ClusterRole "edit" to User "{user}""#)})
    );
    // system:masters: the privileged-group authorizer allows, without a reason.
    let (_, body) = env.request(Method::POST, path, Some(sar("someone", json!(["system:masters"]), "delete"))).await;
    assert_eq!(body["status"], json!({"allowed": true}));

    // pkg/apis/authorization/validation/validation.go ValidateSubjectAccessReviewSpec.
    let mut invalid = sar("", json!([]), "get");
    invalid["spec"].as_object_mut().unwrap().remove("user");
    let (code, body) = env.request(Method::POST, path, Some(invalid)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        status_of(&body).2,
        r#".authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified"#
    );

    // Only who may create subjectaccessreviews may ask.
    let (limited, requester) = env.service_account_client("limited").await;
    let (code, _, body) = env.send(&limited, Method::POST, path, &[], Some(sar(&user, json!([]), "list"))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&body).2,
        format!(
            r#"subjectaccessreviews.authorization.k8s.io is forbidden: User "{requester}" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope"#
        )
    );
    // …while its own access it may always review (system:basic-user).
    let ssar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": ns, "verb": "list", "resource": "configmaps"}}});
    let (code, _, body) = env
        .send(&limited, Method::POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", &[], Some(ssar))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], json!({"allowed": false}));
    env.cleanup().await;
}
