//! `create --connect`, `list` and `delete` with connect: the real chart installed on the host
//! simulator (workloads on), the stand-in syncer writing `vc-my-vc` and leading the pod's port 8443
//! to a TLS virtual simulator.

mod connect_env;

use connect_env::{CONTEXT, Env, HOST_CONTEXT, NAME, NAMESPACE, VIRTUAL_ONLY, is_alive, text};

#[test]
fn create_connects_in_the_background_when_asked_and_delete_undoes_it() {
    let env = Env::bare();
    // Without a terminal and without --connect: no context, a hint.
    let out = env.run(&["create", NAME, "-n", NAMESPACE, "--timeout", "2m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("- Use `vcluster connect my-vc -n team` to access the virtual cluster"));
    assert_eq!(env.current_context(), HOST_CONTEXT);
    assert!(env.forwarders().is_empty());

    // --connect without a terminal: connects, in the background, and returns.
    let out = env.run(&["create", NAME, "-n", NAMESPACE, "--connect", "--upgrade"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("Switched active kube context to {CONTEXT}")), "{}", text(&out.stderr));
    let forwarders = env.forwarders();
    assert_eq!(forwarders.len(), 1);
    assert!(env.namespaces(&env.kubeconfig()).contains(VIRTUAL_ONLY));

    // list shows it connected (from the vcluster's context: its host context is used).
    let out = env.run(&["list", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = listed.as_array().unwrap().iter().find(|r| r["name"] == NAME).expect("listed");
    assert_eq!(row["connected"], true, "{listed}");

    // delete stops the forwarder and removes the context, switching back.
    let out = env.run(&["delete", NAME, "-n", NAMESPACE, "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!is_alive(forwarders[0]), "the forwarder is stopped");
    assert_eq!(env.current_context(), HOST_CONTEXT);
    assert!(!std::fs::read_to_string(env.kubeconfig()).unwrap().contains(CONTEXT));
}
