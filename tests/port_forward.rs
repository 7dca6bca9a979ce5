//! `vcluster port-forward` as a process: services and pods inside the virtual cluster reached by
//! their virtual names through host objects seeded under **literal** names (computed by hand with
//! `printf … | sha256sum`, or taken from names an established vcluster syncer wrote; never by our
//! translation code),
//! local echo servers standing behind the host pods' ports.

mod connect_env;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::Duration;

use connect_env::{Env, NAME, NAMESPACE, VIRTUAL_ONLY, eventually, finish, text};

/// An echo server that first says which backend it is: `<tag>\n`, then echoes.
fn echo_server(tag: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.write_all(format!("{tag}\n").as_bytes());
                let mut buf = [0u8; 65536];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

/// The host labels of a synced object labelled `app: <app>` in virtual namespace `vns`, as a flow
/// mapping: `vcluster.loft.sh/label-my-vc-x-a172cedcae` is the key the syncer writes for `app`
/// (`label-<vcluster>-x-` and the first 10 hex digits of sha256("app"): loft-sh/vcluster v0.19
/// `pkg/util/translate/translate.go` `ConvertLabelKeyWithPrefix`), and the two markers it adds.
fn translated_labels(vns: &str, app: &str) -> String {
    format!(
        "{{vcluster.loft.sh/label-my-vc-x-a172cedcae: {app}, vcluster.loft.sh/managed-by: my-vc, vcluster.loft.sh/namespace: {vns}}}"
    )
}

/// A host Deployment standing for a synced workload: its pods carry the translated labels, and
/// their container port `web` (8080) leads to `backend`.
fn deployment(name: &str, vns: &str, app: &str, backend: &str) -> String {
    let labels = translated_labels(vns, app);
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: team}}
spec:
  replicas: 1
  selector: {{matchLabels: {labels}}}
  template:
    metadata:
      labels: {labels}
      annotations: {{sim.vcluster.dev/forward-8080: "{backend}"}}
    spec:
      containers: [{{name: app, image: nginx, ports: [{{name: web, containerPort: 8080}}]}}]
"#
    )
}

/// The host copy of a virtual Service in `vns`, named `host_name` (a literal), with the translated
/// selector; its port `http` (80) targets the container port named `web`.
fn service(host_name: &str, vns: &str, app: &str) -> String {
    let labels = translated_labels(vns, app);
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {host_name}, namespace: team}}\nspec:\n  selector: {labels}\n  ports: [{{name: http, port: 80, targetPort: web}}]\n"
    )
}

/// A running `vcluster port-forward`, and the ports of its `Forwarding from` lines.
struct Forwarding {
    child: Option<Child>,
    ports: Vec<(u16, String)>,
}

impl Forwarding {
    fn start(env: &Env, args: &[&str], lines: usize) -> Forwarding {
        let mut full = vec!["port-forward", NAME, "-n", NAMESPACE];
        full.extend_from_slice(args);
        let mut child = env.vcluster(&full).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ports = Vec::new();
        for _ in 0..lines {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let Some(rest) = line.trim().strip_prefix("Forwarding from 127.0.0.1:").map(str::to_owned) else {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("unexpected line {line:?}: {err}");
            };
            let (port, remote) = rest.split_once(" -> ").unwrap();
            ports.push((port.parse().unwrap(), remote.to_owned()));
        }
        Forwarding { child: Some(child), ports }
    }

    /// Ctrl-C: a clean exit 0.
    fn interrupt(mut self) {
        let child = self.child.take().unwrap();
        std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        let out = finish(child, Duration::from_secs(20));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Connect to the local port: the backend's tag, and an echo of `message`.
fn exchange(port: u16, message: &str) -> (String, String) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut tag = String::new();
    reader.read_line(&mut tag).unwrap();
    (&stream).write_all(format!("{message}\n").as_bytes()).unwrap();
    let mut echoed = String::new();
    reader.read_line(&mut echoed).unwrap();
    (tag.trim().to_owned(), echoed.trim().to_owned())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_virtual_service_is_reached_by_its_name_and_followed_to_a_replacement_pod() {
    let env = Env::start();
    let (a, b, wrong) = (echo_server("web-a"), echo_server("web-b"), echo_server("wrong-namespace"));
    env.host
        .seed_yaml(
            &[
                // `web` in virtual namespace `shop` of vcluster `my-vc`: hand-computed `web-x-shop-x-my-vc`.
                service("web-x-shop-x-my-vc", "shop", "web"),
                deployment("web-x-shop-x-my-vc", "shop", "web", &a),
                // The same virtual name in another virtual namespace: must not be reached.
                service("web-x-other-x-my-vc", "other", "web"),
                deployment("web-x-other-x-my-vc", "other", "web", &wrong),
            ]
            .join("---\n"),
        )
        .unwrap();
    let local = free_port();
    let spec = format!("{local}:http");
    let forwarding = Forwarding::start(&env, &["svc/web", &spec, "-N", "shop"], 1);
    assert_eq!(forwarding.ports, [(local, "8080".to_owned())], "the named target port, resolved");

    // Two connections at once, each echoed by the right backend.
    let threads: Vec<_> = (0..2).map(|i| std::thread::spawn(move || exchange(local, &format!("hello {i}")))).collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().unwrap(), ("web-a".to_owned(), format!("hello {i}")));
    }
    // And two held open together.
    let first = TcpStream::connect(("127.0.0.1", local)).unwrap();
    let second = TcpStream::connect(("127.0.0.1", local)).unwrap();
    for (stream, word) in [(&first, "one"), (&second, "two")] {
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut tag = String::new();
        reader.read_line(&mut tag).unwrap();
        (&*stream).write_all(format!("{word}\n").as_bytes()).unwrap();
        let mut echoed = String::new();
        reader.read_line(&mut echoed).unwrap();
        assert_eq!((tag.trim(), echoed.trim()), ("web-a", word));
    }

    // The workload rolls out (new pods, new names, another backend): the forward follows.
    let old_pods: Vec<String> = pod_names(&env, "shop");
    let patch = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"sim.vcluster.dev/forward-8080":"{b}"}}}}}}}}}}"#
    );
    let out = env.kubectl(
        env.host.kubeconfig_path(),
        &["-n", NAMESPACE, "patch", "deployment", "web-x-shop-x-my-vc", "--type=merge", "-p", &patch],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually(Duration::from_secs(30), || (exchange(local, "again").0 == "web-b").then_some(()));
    let new_pods = pod_names(&env, "shop");
    assert!(new_pods.iter().all(|p| !old_pods.contains(p)), "replaced under new names: {old_pods:?} -> {new_pods:?}");
    forwarding.interrupt();
}

fn pod_names(env: &Env, vns: &str) -> Vec<String> {
    env.host
        .objects("v1", "Pod")
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["vcluster.loft.sh/namespace"] == vns
                && p["metadata"].get("deletionTimestamp").is_none()
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn long_virtual_names_are_found_under_their_hashed_host_names() {
    let env = Env::start();
    let (long, dotted) = (echo_server("long-service"), echo_server("dotted-pod"));
    env.host
        .seed_yaml(&[
            // `a-very-long-service-name-for-testing-purposes` in `my-namespace` of `my-vc`: too long for
            // a name, so cut and suffixed with 10 hex digits of sha256 (loft-sh/vcluster v0.19
            // `pkg/util/translate/translate.go` `SafeConcatName`).
            service("a-very-long-service-name-for-testing-purposes-x-my-n-18a6a108aa", "my-namespace", "long"),
            deployment("long-backend", "my-namespace", "long", &long),
            // Pod `api-server-replica-with-a-rather-long-name-for-test.db` in `shop`: the 52nd
            // character of the joined name is a dot, so `.-` becomes `-` (62 characters), by hand:
            // printf %s 'api-server-replica-with-a-rather-long-name-for-test.db-x-shop-x-my-vc' | sha256sum
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: api-server-replica-with-a-rather-long-name-for-test-b49d17a8b5\n  namespace: team\n  annotations: {{sim.vcluster.dev/forward-9000: \"{dotted}\"}}\nspec:\n  containers:\n  - {{name: api, image: nginx, ports: [{{name: api, containerPort: 9000}}]}}\n"
            ),
        ]
        .join("---\n"))
        .unwrap();
    let forwarding =
        Forwarding::start(&env, &["svc/a-very-long-service-name-for-testing-purposes", ":80", "-N", "my-namespace"], 1);
    assert_eq!(exchange(forwarding.ports[0].0, "x").0, "long-service");
    forwarding.interrupt();
    let forwarding = Forwarding::start(
        &env,
        &["pod/api-server-replica-with-a-rather-long-name-for-test.db", ":api", "--virtual-namespace", "shop"],
        1,
    );
    assert_eq!(forwarding.ports[0].1, "9000");
    assert_eq!(exchange(forwarding.ports[0].0, "y"), ("dotted-pod".to_owned(), "y".to_owned()));
    forwarding.interrupt();
}

#[test]
fn missing_targets_and_ports_are_clear_errors() {
    let env = Env::start();
    env.host.seed_yaml(&service("web-x-shop-x-my-vc", "shop", "web")).unwrap();
    let out = env.run(&["port-forward", NAME, "-n", NAMESPACE, "svc/nope", "80", "-N", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("service nope in namespace shop of vcluster my-vc not found (no host service nope-x-shop-x-my-vc in namespace team)"),
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["port-forward", NAME, "-n", NAMESPACE, "svc/web", "8080:grpc", "-N", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Service 'web' does not have a named port 'grpc'"), "{}", text(&out.stderr));
    let out = env.run(&["port-forward", NAME, "-n", NAMESPACE, "deploy/web", "80"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("only svc/NAME and pod/NAME"), "{}", text(&out.stderr));
}

#[test]
fn without_a_target_the_virtual_api_is_forwarded() {
    let env = Env::start();
    let forwarding = Forwarding::start(&env, &[], 1);
    let (port, remote) = forwarding.ports[0].clone();
    assert_eq!(remote, "8443");
    let server = format!("https://127.0.0.1:{port}");
    let out = env.connect_kubectl(&["--server", &server], &["get", "namespaces", "-o", "name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(VIRTUAL_ONLY));
    forwarding.interrupt();
}
