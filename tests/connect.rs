//! `vcluster connect` as a process: a host simulator, a second simulator over TLS (client
//! certificates, anonymous requests refused) as the virtual API server behind the vcluster pod's
//! port 8443, and kubectl talking through our forwards.

mod connect_env;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use connect_env::{CONTEXT, Env, HOST_CONTEXT, NAME, NAMESPACE, VIRTUAL_ONLY, eventually, finish, is_alive, text};

#[test]
fn a_command_runs_against_the_virtual_cluster_and_its_status_is_passed_on() {
    let env = Env::start();
    let before = std::fs::read(env.kubeconfig()).unwrap();
    let out = env.connect_kubectl(&[], &["get", "namespaces", "-o", "name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.contains(&format!("namespace/{VIRTUAL_ONLY}")), "the virtual server's namespaces: {listed}");
    assert!(!listed.contains(&format!("namespace/{NAMESPACE}")), "not the host's: {listed}");

    // The temporary kubeconfig: private while the command runs, gone afterwards.
    let out = env.run(&[
        "connect",
        NAME,
        "-n",
        NAMESPACE,
        "--",
        "sh",
        "-c",
        "echo \"$KUBECONFIG\"; stat -c %a \"$KUBECONFIG\"",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let (path, mode) = (lines.next().unwrap(), lines.next().unwrap());
    assert_eq!(mode, "600");
    assert!(!std::path::Path::new(path).exists(), "{path} removed");

    for (command, status) in [
        (&["sh", "-c", "exit 7"][..], 7),
        (&["sh", "-c", "kill -TERM $$"], 128 + 15),
        (&["no-such-command-anywhere"], 127),
        (&["/etc/hostname"], 126),
    ] {
        let mut args = vec!["connect", NAME, "-n", NAMESPACE, "--"];
        args.extend_from_slice(command);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(status), "{command:?}: {}", text(&out.stderr));
    }
    let out = env.run(&["connect", "not-there", "-n", NAMESPACE, "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "connect itself failed: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("vcluster not-there not found in namespace team"), "{}", text(&out.stderr));

    assert_eq!(std::fs::read(env.kubeconfig()).unwrap(), before, "the user's kubeconfig is untouched");
    assert!(env.forwarders().is_empty(), "the forward lived in the connect process");
}

#[test]
fn a_command_is_stopped_when_the_forward_dies() {
    let env = Env::start();
    let started = env.dir.path().join("command-started");
    let script = format!("touch '{}' && exec sleep 60", started.display());
    let child = env
        .vcluster(&["connect", NAME, "-n", NAMESPACE, "--timeout", "30s", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    // Once the command runs, delete the vcluster: the forward has nothing left to reach.
    eventually(Duration::from_secs(30), || started.exists().then_some(()));
    let out = std::process::Command::new("kubectl")
        .args(["delete", "statefulset", NAME, "-n", NAMESPACE, "--wait=false"])
        .env("KUBECONFIG", env.host.kubeconfig_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the port-forward ended (StatefulSet my-vc was deleted); stopping the command"),
        "{}",
        text(&out.stderr)
    );
}

/// Read a pipe to its end on a thread; `None` when it is still open after `within`.
fn read_to_eof(mut pipe: impl std::io::Read + Send + 'static, within: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx.recv_timeout(within).ok().map(|b| text(&b))
}

#[test]
fn connect_returns_in_the_background_and_disconnect_restores_everything() {
    let env = Env::start();
    // Run through a shell that also leaves a descriptor (7, a copy of the stdout pipe) open
    // without close-on-exec: the forwarder must not hold that one either.
    let binary = connect_env::binary();
    let mut child = env
        .command(
            std::path::Path::new("sh"),
            &["-c", "exec \"$0\" \"$@\" 7>&1", binary.to_str().unwrap(), "connect", NAME, "-n", NAMESPACE],
        )
        .spawn()
        .unwrap();
    let stdout = read_to_eof(child.stdout.take().unwrap(), Duration::from_secs(60));
    let stderr = read_to_eof(child.stderr.take().unwrap(), Duration::from_secs(5));
    let status = child.wait().unwrap();
    let stderr = stderr.expect("stderr reaches EOF when connect exits");
    assert_eq!(stdout.as_deref(), Some(""), "stdout reaches EOF, empty: {stderr}");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains(&format!("Switched active kube context to {CONTEXT}")), "{stderr}");
    assert!(stderr.contains(&format!("return to your previous kube context ({HOST_CONTEXT})")), "{stderr}");

    let forwarders = env.forwarders();
    assert_eq!(forwarders.len(), 1, "one background forwarder: {forwarders:?}");
    let pid = forwarders[0];
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(fds.iter().all(|f| !f.starts_with("pipe:")), "the forwarder holds no pipe: {fds:?}");
    assert_eq!(env.current_context(), CONTEXT);
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY), "the context works");

    // Reconnecting reuses the forwarder.
    let out = env.run(&["connect", NAME, "-n", NAMESPACE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(env.forwarders(), [pid]);

    // The pod is replaced: the forward follows it.
    env.host.replace_pod(NAMESPACE, "my-vc-0").unwrap();
    let listed = eventually(Duration::from_secs(30), || {
        let out = env.kubectl(&env.kubeconfig(), &["get", "namespaces", "-o", "name"]);
        out.status.success().then(|| text(&out.stdout))
    });
    assert!(listed.contains(VIRTUAL_ONLY));
    assert_eq!(env.forwarders(), [pid], "the same forwarder");

    let out = env.run(&["disconnect"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    assert!(!std::fs::read_to_string(env.kubeconfig()).unwrap().contains(CONTEXT), "the added entries are gone");
    assert!(!is_alive(pid), "the forwarder is stopped");
    assert!(text(&out.stderr).contains(&format!("switched back to context {HOST_CONTEXT}")), "{}", text(&out.stderr));
    let out = env.run(&["disconnect"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("context \"kube-sim\" is not a vcluster context"), "{}", text(&out.stderr));
}

#[test]
fn disconnect_works_after_the_context_was_renamed_and_the_state_directory_emptied() {
    let env = Env::start();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--kube-config-context-name", "ci"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = env.forwarders()[0];
    let out = env.kubectl(&env.kubeconfig(), &["config", "rename-context", "ci", "my own name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(env.state_dir()).unwrap();
    // Nobody could find it any more: it stops by itself.
    eventually(Duration::from_secs(10), || (!is_alive(pid)).then_some(()));

    let out = env.run(&["disconnect"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    assert!(!std::fs::read_to_string(env.kubeconfig()).unwrap().contains("my own name"));
}

#[test]
fn print_writes_a_working_kubeconfig_to_stdout_only() {
    let env = Env::start();
    let before = std::fs::read(env.kubeconfig()).unwrap();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--print"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = env.dir.path().join("printed.yaml");
    std::fs::write(&printed, &out.stdout).unwrap();
    assert!(env.namespaces(&printed).contains(VIRTUAL_ONLY));
    assert_eq!(std::fs::read(env.kubeconfig()).unwrap(), before, "the user's kubeconfig is untouched");
    assert_eq!(env.forwarders().len(), 1, "served by a background forwarder");
    // A second --print reuses it.
    let again = env.run(&["connect", NAME, "-n", NAMESPACE, "--print"]);
    assert_eq!(again.stdout, out.stdout);
    assert_eq!(env.kill_forwarders(), 1);
}

#[test]
fn kube_config_file_gets_the_kubeconfig_privately() {
    let env = Env::start();
    let file = env.dir.path().join("out").join("vc.yaml");
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--kube-config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(env.namespaces(&file).contains(VIRTUAL_ONLY));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    // A file that was readable by others before holds credentials now: private too.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--kube-config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "tightened");
    assert_eq!(env.kill_forwarders(), 1);
}

#[test]
fn an_unreachable_server_fails_before_anything_is_written() {
    let env = Env::start();
    let before = std::fs::read(env.kubeconfig()).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = env.dir.path().join("vc.yaml");
    for extra in [&[][..], &["--kube-config", file.to_str().unwrap()]] {
        let server = format!("127.0.0.1:{closed}");
        let mut args = vec!["connect", NAME, "-n", NAMESPACE, "--server", &server];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("the vcluster's API at https://127.0.0.1:{closed} does not answer")),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(std::fs::read(env.kubeconfig()).unwrap(), before);
    assert!(!file.exists());
    assert!(env.forwarders().is_empty());

    // A reachable one is used as it is, without a forward.
    let server = env.virtual_cluster.url().to_owned();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--server", &server]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = env.kubeconfig_value();
    let cluster = config["clusters"].as_array().unwrap().iter().find(|c| c["name"] == CONTEXT).unwrap();
    assert_eq!(cluster["cluster"]["server"], server.as_str());
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY));
    assert!(env.forwarders().is_empty());
}

#[test]
fn foreground_serves_until_ctrl_c_then_switches_back() {
    let env = Env::start();
    let mut child = env.vcluster(&["connect", NAME, "-n", NAMESPACE, "--foreground"]).spawn().unwrap();
    eventually(Duration::from_secs(30), || (env.current_context() == CONTEXT).then_some(()));
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY));
    assert!(env.forwarders().is_empty(), "in this process");
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let stderr = read_to_eof(child.stderr.take().unwrap(), Duration::from_secs(20)).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Forwarding from 127.0.0.1:"), "{stderr}");
    assert_eq!(env.current_context(), HOST_CONTEXT, "{stderr}");
    assert!(!std::fs::read_to_string(env.kubeconfig()).unwrap().contains(CONTEXT));
}

/// A TCP proxy from a free local port to `backend`, standing for a cloud load balancer.
fn tcp_proxy(backend: std::net::SocketAddr) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(backend) else { continue };
            for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    port
}

fn load_balancer(env: &Env, port: u16) {
    env.host
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: my-vc-lb, namespace: team}}\nspec:\n  type: LoadBalancer\n  selector: {{app: vcluster, release: my-vc}}\n  ports: [{{name: https, port: {port}, targetPort: 8443}}]\n"
        ))
        .unwrap();
    env.host.set_load_balancer_ingress(NAMESPACE, "my-vc-lb", &["127.0.0.1"]).unwrap();
}

#[test]
fn a_reachable_load_balancer_is_used_instead_of_a_forward() {
    let env = Env::start();
    let port = tcp_proxy(env.virtual_cluster.address());
    load_balancer(&env, port);
    let out = env.run(&["connect", NAME, "-n", NAMESPACE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = format!("https://127.0.0.1:{port}");
    assert!(
        text(&out.stderr).contains(&format!("Using vcluster my-vc load balancer endpoint: {url}")),
        "{}",
        text(&out.stderr)
    );
    let config = env.kubeconfig_value();
    let cluster = config["clusters"].as_array().unwrap().iter().find(|c| c["name"] == CONTEXT).unwrap();
    assert_eq!(cluster["cluster"]["server"], url.as_str());
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY));
    assert!(env.forwarders().is_empty(), "no forward");
}

#[test]
fn an_unreachable_load_balancer_falls_back_to_a_forward_saying_so() {
    let env = Env::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    load_balancer(&env, closed);
    let out = env.run(&["connect", NAME, "-n", NAMESPACE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "warning: LoadBalancer my-vc-lb at https://127.0.0.1:{closed} is not reachable from here"
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY));
    assert_eq!(env.kill_forwarders(), 1);
}

#[test]
fn a_service_account_token_replaces_the_admin_certificate() {
    let env = Env::start();
    let out = env.connect_kubectl(
        &["--service-account", "ci", "--cluster-role", "cluster-admin", "--token-expiration", "3600"],
        &["auth", "whoami", "-o", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let whoami: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(whoami["status"]["userInfo"]["username"], "system:serviceaccount:kube-system:ci", "{whoami}");
    assert!(env.virtual_cluster.object("v1", "ServiceAccount", "kube-system", "ci").is_some());
    let binding = env
        .virtual_cluster
        .object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "vcluster-sa-ci-kube-system")
        .expect("the binding, named as the established CLI names it");
    assert_eq!(binding["roleRef"]["name"], "cluster-admin");
    assert_eq!(binding["subjects"][0]["namespace"], "kube-system");

    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--service-account", "team/nobody", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("service account team/nobody does not exist in the virtual cluster"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_paused_vcluster_is_resumed_and_a_stuck_one_is_waited_for_within_bounds() {
    let env = Env::start();
    // The seeded StatefulSet settles first (its controller writes its status meanwhile): pause's
    // patch is conditional on the resourceVersion it read, and a concurrent write is an error.
    eventually(Duration::from_secs(30), || {
        let status = env.host.object("apps/v1", "StatefulSet", NAMESPACE, NAME)?["status"].clone();
        (status["readyReplicas"] == 1 && status["availableReplicas"] == 1).then_some(())
    });
    let out = env.run(&["pause", NAME, "-n", NAMESPACE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = env.connect_kubectl(&[], &["get", "namespaces", "-o", "name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("vcluster my-vc is paused: resuming it"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(VIRTUAL_ONLY));
    let sts = env.host.object("apps/v1", "StatefulSet", NAMESPACE, NAME).unwrap();
    assert_eq!(sts["spec"]["replicas"], 1);

    // A pod that never becomes Ready: the wait ends at --timeout, saying what is stuck.
    env.host.hold_pods(kube_sim::PodMatch::name(NAMESPACE, "my-vc-0"), kube_sim::PodHold::ContainerCreating);
    env.host.replace_pod(NAMESPACE, "my-vc-0").unwrap();
    let before = std::fs::read(env.kubeconfig()).unwrap();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("timed out after 3s waiting for vcluster my-vc"), "{stderr}");
    assert!(stderr.contains("pod my-vc-0: ContainerCreating"), "{stderr}");
    // Ctrl-C while waiting (it watches the StatefulSet's rollout): exit 130.
    env.host.clear_requests();
    let child = env.vcluster(&["connect", NAME, "-n", NAMESPACE]).spawn().unwrap();
    let waiting = |r: &kube_sim::RequestRecord| r.path.ends_with("/statefulsets") && r.query.contains("watch=true");
    eventually(Duration::from_secs(30), || env.host.requests().iter().any(waiting).then_some(()));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(env.kubeconfig()).unwrap(), before, "nothing written");
    assert!(env.forwarders().is_empty());
}

#[test]
fn update_current_false_adds_the_context_without_switching() {
    let env = Env::start();
    let out = env.run(&["connect", NAME, "-n", NAMESPACE, "--update-current=false"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    let out = env.kubectl(&env.kubeconfig(), &["get", "namespaces", "-o", "name", "--context", CONTEXT]);
    assert!(text(&out.stdout).contains(VIRTUAL_ONLY), "{}", text(&out.stderr));
    let out = env.run(&["disconnect", "--context", CONTEXT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!std::fs::read_to_string(env.kubeconfig()).unwrap().contains(CONTEXT));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    assert!(env.forwarders().is_empty());
}
