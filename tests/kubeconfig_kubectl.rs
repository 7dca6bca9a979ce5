//! Our kubeconfig changes against kubectl's: the same change made with `kubectl config …` on a copy
//! of the same multi-file setup must give the same parsed files. kubectl config commands are local
//! (no server); these tests fail, never skip, when kubectl is missing.
//!
//! Note: the kubectl on the project machines is a dispatcher that picks a kubectl 1.27–1.33 from the
//! *server's* version; config commands contact no server, so it runs its own default client.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use vcluster::kubeconfig::{self, ConnectRecord, Edit, Kind, KubeconfigError, Loaded, Sources, VclusterCredentials};

const A: &str = "apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster:
    server: https://a.example:6443
    certificate-authority-data: Q0EtQQ==
users:
- name: ua
  user:
    token: token-a
contexts:
- name: ctx-a
  context:
    cluster: shared
    user: ua
    namespace: team-a
current-context: ctx-a
";

const B: &str = "apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster:
    server: https://b.example:6443
- name: only-b
  cluster:
    server: https://only-b.example
    proxy-url: http://proxy.internal:3128
users:
- name: ub
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: ctx-b
  context:
    cluster: only-b
    user: ub
current-context: ctx-b
";

/// A temp dir with files `a` (mode 0600) and `b` (mode 0640), and a scratch dir for kubectl.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, mode) in [("a", A, 0o600), ("b", B, 0o640)] {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self, names: &[&str]) -> OsString {
        std::env::join_paths(names.iter().map(|n| self.path(n))).unwrap()
    }

    /// `KUBECONFIG=<names> kubectl config ARGS`, isolated from the real home and cache.
    fn kubectl(&self, names: &[&str], args: &[&str]) -> std::process::Output {
        let scratch = self.dir.path().join(".kubectl");
        fs::create_dir_all(&scratch).unwrap();
        Command::new("kubectl")
            .arg("config")
            .args(args)
            .arg("--cache-dir")
            .arg(scratch.join("cache"))
            .env("KUBECONFIG", self.env(names))
            .env("HOME", &scratch)
            .output()
            .unwrap_or_else(|e| panic!("kubectl is required on the PATH for this test: {e}"))
    }

    fn kubectl_ok(&self, names: &[&str], args: &[&str]) {
        let out = self.kubectl(names, args);
        assert!(out.status.success(), "kubectl config {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn sources(&self, names: &[&str]) -> Sources {
        Sources::new(None, Some(&self.env(names)), Some(self.dir.path()))
    }

    fn modify(&self, names: &[&str], change: impl FnOnce(&Loaded) -> Vec<Edit>) {
        kubeconfig::modify::<KubeconfigError>(&self.sources(names), |l| Ok(change(l))).unwrap();
    }

    fn mode(&self, name: &str) -> u32 {
        fs::metadata(self.path(name)).unwrap().permissions().mode() & 0o7777
    }
}

/// A file as client-go sees it: entries by name, the current context ("" when unset), Go zero
/// values (`""`, `null`, `false`, empty lists and maps, which kubectl writes for unset fields) the
/// same as absent; kubectl's defaults (`kind`, `apiVersion`, `preferences: {}`) carry no meaning.
fn parsed(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_default();
    let doc: Value = if text.trim().is_empty() { Value::Null } else { serde_saphyr::from_str(&text).unwrap() };
    let mut out = Map::new();
    for kind in Kind::ALL {
        let entries: BTreeMap<String, Value> = doc
            .get(kind.list_key())
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| (e["name"].as_str().unwrap().to_owned(), without_zero_values(e.get(kind.body_key()))))
            .collect();
        out.insert(kind.list_key().into(), serde_json::to_value(entries).unwrap());
    }
    out.insert("current-context".into(), doc.get("current-context").cloned().unwrap_or(json!("")));
    Value::Object(out)
}

fn without_zero_values(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), without_zero_values(Some(v))))
                .filter(|(_, v)| {
                    !matches!(v, Value::Null | Value::Bool(false)) && v != "" && v != &json!({}) && v != &json!([])
                })
                .collect(),
        ),
        Some(other) => other.clone(),
        None => json!({}),
    }
}

fn check_kubectl() {
    let out = Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap_or_else(|e| panic!("kubectl is required on the PATH for this test: {e}"));
    let version: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(version["clientVersion"]["major"], "1", "{version}");
}

/// kubectl's `set-cluster`/`set-credentials`/`set-context`: change fields of an entry, keeping the rest.
fn set_fields(loaded: &Loaded, kind: Kind, name: &str, fields: Value) -> Edit {
    let mut body = loaded.entry(kind, name).cloned().unwrap_or(json!({}));
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    Edit::Set { kind, name: name.into(), body }
}

fn remove(kind: Kind, name: &str) -> Edit {
    Edit::Remove { kind, name: name.into() }
}

#[test]
fn multi_file_changes_match_kubectl() {
    check_kubectl();
    let ours = Setup::new();
    let theirs = Setup::new();
    let files = ["a", "b"];
    type Step = (&'static [&'static str], fn(&Loaded) -> Edit);
    let steps: &[Step] = &[
        // An entry owned by the second file is changed there.
        (&["set-cluster", "only-b", "--server=https://changed.example"], |l| {
            set_fields(l, Kind::Cluster, "only-b", json!({"server": "https://changed.example"}))
        }),
        // New entries go to the first existing file.
        (&["set-cluster", "brand-new", "--server=https://new.example"], |l| {
            set_fields(l, Kind::Cluster, "brand-new", json!({"server": "https://new.example"}))
        }),
        (&["set-credentials", "new-user", "--token=secret"], |l| {
            set_fields(l, Kind::User, "new-user", json!({"token": "secret"}))
        }),
        (&["set-context", "new-ctx", "--cluster=brand-new", "--user=new-user", "--namespace=team"], |l| {
            set_fields(
                l,
                Kind::Context,
                "new-ctx",
                json!({"cluster": "brand-new", "user": "new-user", "namespace": "team"}),
            )
        }),
        // A field of an existing context, the rest kept.
        (&["set-context", "ctx-b", "--namespace=team-b"], |l| {
            set_fields(l, Kind::Context, "ctx-b", json!({"namespace": "team-b"}))
        }),
        (&["use-context", "ctx-b"], |_| Edit::CurrentContext(Some("ctx-b".into()))),
        // Removal from the owning file; the shadowed `shared` of b shows through.
        (&["delete-cluster", "shared"], |_| remove(Kind::Cluster, "shared")),
        (&["delete-context", "ctx-a"], |_| remove(Kind::Context, "ctx-a")),
        (&["delete-user", "ub"], |_| remove(Kind::User, "ub")),
        // Clearing the current context clears the first file that sets it.
        (&["unset", "current-context"], |_| Edit::CurrentContext(None)),
    ];
    for (args, edit) in steps {
        theirs.kubectl_ok(&files, args);
        ours.modify(&files, |l| vec![edit(l)]);
        for f in files {
            assert_eq!(
                parsed(&ours.path(f)),
                parsed(&theirs.path(f)),
                "file {f} after `kubectl config {}`",
                args.join(" ")
            );
        }
    }
    // Sanity: the sequence did touch both files, and the merged view is what kubectl shows.
    let merged = kubeconfig::load(&ours.sources(&files)).unwrap();
    assert_eq!(merged.entry(Kind::Cluster, "shared").unwrap()["server"], "https://b.example:6443");
    assert_eq!(merged.current_context(), Some("ctx-b"), "b's current context shows through after a's is cleared");
    let view = theirs.kubectl(&files, &["view", "-o", "jsonpath={.current-context}"]);
    assert_eq!(String::from_utf8_lossy(&view.stdout), "ctx-b");
    // Modes survive: ours are exactly the originals, as kubectl's in-place writes keep them.
    assert_eq!((ours.mode("a"), ours.mode("b")), (0o600, 0o640));
    assert_eq!((theirs.mode("a"), theirs.mode("b")), (0o600, 0o640));
}

#[test]
fn new_files_are_created_where_kubectl_creates_them() {
    check_kubectl();
    let ours = Setup::new();
    let theirs = Setup::new();
    // None of x:y exists: both create the last one, mode 0600.
    theirs.kubectl_ok(&["x", "y"], &["set-context", "c", "--cluster=k"]);
    ours.modify(&["x", "y"], |l| vec![set_fields(l, Kind::Context, "c", json!({"cluster": "k"}))]);
    for f in ["x", "y"] {
        assert_eq!(ours.path(f).exists(), theirs.path(f).exists(), "{f}");
    }
    assert!(ours.path("y").exists());
    assert_eq!(parsed(&ours.path("y")), parsed(&theirs.path("y")));
    assert_eq!((ours.mode("y"), theirs.mode("y")), (0o600, 0o600));

    // A missing file before an existing one: the existing one gets new entries.
    theirs.kubectl_ok(&["missing", "b"], &["set-credentials", "u2", "--token=t"]);
    ours.modify(&["missing", "b"], |l| vec![set_fields(l, Kind::User, "u2", json!({"token": "t"}))]);
    assert!(!ours.path("missing").exists() && !theirs.path("missing").exists());
    assert_eq!(parsed(&ours.path("b")), parsed(&theirs.path("b")));
}

#[test]
fn our_connect_extension_survives_kubectl_and_theirs_survive_us() {
    check_kubectl();
    let setup = Setup::new();
    let files = ["a", "b"];
    let creds = VclusterCredentials::from_secret_config(
        "clusters:\n- name: vc\n  cluster: {server: 'https://localhost:8443', certificate-authority-data: Q0E=}\nusers:\n- name: vc\n  user: {token: vc-token}\ncontexts:\n- name: vc\n  context: {cluster: vc, user: vc}\ncurrent-context: vc\n",
    )
    .unwrap()
    .with_server("https://127.0.0.1:12345");
    setup.modify(&files, |l| {
        creds.connect_edits(l, "my-ctx", ConnectRecord::new("my-vc", "vcluster-my-vc", "ctx-a"), true)
    });
    // kubectl rewrites the file holding our context (a): the extension must come through.
    setup.kubectl_ok(&files, &["set-context", "ctx-a", "--namespace=other"]);
    setup.kubectl_ok(&files, &["set-context", "my-ctx", "--namespace=inside"]);
    let loaded = kubeconfig::load(&setup.sources(&files)).unwrap();
    let record = ConnectRecord::of_context(&loaded, "my-ctx").expect("connect record kept by kubectl");
    assert_eq!(record.previous_context.as_deref(), Some("ctx-a"));
    assert_eq!(loaded.current_context(), Some("my-ctx"));
    // And disconnect restores the previous context and removes exactly what connect added.
    setup.modify(&files, |l| kubeconfig::disconnect(l, None, false).unwrap().edits);
    let after = kubeconfig::load(&setup.sources(&files)).unwrap();
    assert_eq!(after.current_context(), Some("ctx-a"));
    for kind in Kind::ALL {
        assert!(after.entry(kind, "my-ctx").is_none(), "{kind:?}");
    }
    let view = setup.kubectl(&files, &["current-context"]);
    assert_eq!(String::from_utf8_lossy(&view.stdout).trim(), "ctx-a");
    // Unrelated entries are as kubectl left them.
    assert_eq!(after.entry(Kind::Context, "ctx-a").unwrap()["namespace"], "other");
    assert_eq!(after.entry(Kind::User, "ub").unwrap()["client-key-data"], "S0VZ");
}

#[test]
fn concurrent_connects_lose_no_update() {
    let setup = Setup::new();
    let files = ["a", "b"];
    let n = 8;
    std::thread::scope(|scope| {
        for i in 0..n {
            let setup = &setup;
            scope.spawn(move || {
                setup.modify(&files, |l| {
                    vec![
                        set_fields(
                            l,
                            Kind::Cluster,
                            &format!("c-{i}"),
                            json!({"server": format!("https://{i}.example")}),
                        ),
                        set_fields(l, Kind::Context, &format!("ctx-{i}"), json!({"cluster": format!("c-{i}")})),
                        Edit::CurrentContext(Some(format!("ctx-{i}"))),
                    ]
                });
            });
        }
    });
    let loaded = kubeconfig::load(&setup.sources(&files)).unwrap();
    for i in 0..n {
        assert!(loaded.entry(Kind::Context, &format!("ctx-{i}")).is_some(), "ctx-{i} lost");
        assert!(loaded.entry(Kind::Cluster, &format!("c-{i}")).is_some(), "c-{i} lost");
    }
    assert!(loaded.current_context().unwrap().starts_with("ctx-"));
    assert!(!kubeconfig::lock_path(&setup.path("a")).exists() && !kubeconfig::lock_path(&setup.path("b")).exists());
}

#[test]
fn kubectl_is_kept_out_while_we_write_and_we_wait_for_kubectl() {
    check_kubectl();
    let setup = Setup::new();
    let files = ["a", "b"];
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let setup = &setup;
        let writer = scope.spawn(move || {
            setup.modify(&files, |l| {
                locked_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                vec![set_fields(l, Kind::Context, "ours", json!({"cluster": "shared"}))]
            })
        });
        locked_rx.recv().unwrap();
        // While we hold client-go's lock, kubectl refuses to write (it would otherwise write a
        // file we are about to replace).
        let out = setup.kubectl(&files, &["set-context", "theirs", "--cluster=shared"]);
        assert!(!out.status.success(), "kubectl wrote while we held the lock");
        assert!(String::from_utf8_lossy(&out.stderr).contains("a.lock"), "{}", String::from_utf8_lossy(&out.stderr));
        go_tx.send(()).unwrap();
        writer.join().unwrap();
    });
    setup.kubectl_ok(&files, &["set-context", "theirs", "--cluster=shared"]);

    // The other way round: a lock held by kubectl (client-go's empty `<file>.lock`) makes us wait.
    let lock = kubeconfig::lock_path(&setup.path("b"));
    fs::write(&lock, "").unwrap();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            setup.modify(&files, |l| vec![set_fields(l, Kind::Context, "later", json!({"cluster": "shared"}))])
        });
        // It took a.lock (files lock in sorted order) and waits for b's.
        connect_env::eventually(std::time::Duration::from_secs(10), || {
            kubeconfig::lock_path(&setup.path("a")).exists().then_some(())
        });
        assert!(!writer.is_finished(), "wrote through a held lock");
        // "kubectl" finishes its write and releases.
        kubeconfig::write_atomic(&setup.path("b"), format!("{B}\n# written by the lock holder\n").as_bytes()).unwrap();
        fs::remove_file(&lock).unwrap();
        writer.join().unwrap();
    });
    let loaded = kubeconfig::load(&setup.sources(&files)).unwrap();
    for name in ["ours", "theirs", "later"] {
        assert!(loaded.entry(Kind::Context, name).is_some(), "{name} lost");
    }
}

// ---- `vcluster connect`'s real write path (the binary against the simulators) ----

mod connect_env;

/// Both setups' `b` also hold the host simulator's entries (its cluster, user and context
/// `kube-sim`), so `--context kube-sim` reaches it while `ctx-a` of `a` stays current.
fn with_host(setup: &Setup, env: &connect_env::Env) {
    let path = setup.path("b");
    let mut b: Value = serde_saphyr::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let host: Value = serde_saphyr::from_str(&fs::read_to_string(env.host.kubeconfig_path()).unwrap()).unwrap();
    for kind in Kind::ALL {
        let list = b[kind.list_key()].as_array_mut().unwrap();
        list.extend(host[kind.list_key()].as_array().unwrap().iter().cloned());
    }
    // In place (kubectl-style), so the mode 0640 stays.
    fs::write(&path, serde_saphyr::to_string(&b).unwrap()).unwrap();
    assert_eq!(setup.mode("b"), 0o640);
}

fn vcluster_with(env: &connect_env::Env, setup: &Setup, args: &[&str]) -> std::process::Output {
    let mut cmd = env.vcluster(args);
    cmd.env("KUBECONFIG", setup.env(&["a", "b"]));
    connect_env::finish(cmd.spawn().unwrap(), std::time::Duration::from_secs(60))
}

fn base64_field(body: &Value, key: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(body[key].as_str().unwrap()).unwrap()
}

#[test]
fn connect_writes_what_kubectl_config_writes() {
    check_kubectl();
    let env = connect_env::Env::start();
    let (ours, theirs) = (Setup::new(), Setup::new());
    with_host(&ours, &env);
    with_host(&theirs, &env);
    let files = ["a", "b"];
    let b_before = fs::read(ours.path("b")).unwrap();
    let out = vcluster_with(&env, &ours, &["connect", "my-vc", "-n", "team", "--context", "kube-sim"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let name = "vcluster_my-vc_team_kube-sim";

    // The same change with kubectl config, from the values connect wrote.
    let loaded = kubeconfig::load(&ours.sources(&files)).unwrap();
    let cluster = loaded.entry(Kind::Cluster, name).unwrap().clone();
    let user = loaded.entry(Kind::User, name).unwrap().clone();
    let scratch = theirs.path(".pem");
    fs::create_dir_all(&scratch).unwrap();
    for (file, body, key) in [
        ("ca", &cluster, "certificate-authority-data"),
        ("cert", &user, "client-certificate-data"),
        ("key", &user, "client-key-data"),
    ] {
        fs::write(scratch.join(file), base64_field(body, key)).unwrap();
    }
    let pem = |f: &str| scratch.join(f).display().to_string();
    let server = format!("--server={}", cluster["server"].as_str().unwrap());
    for args in [
        vec!["set-cluster", name, &server, &format!("--certificate-authority={}", pem("ca")), "--embed-certs=true"],
        vec![
            "set-credentials",
            name,
            &format!("--client-certificate={}", pem("cert")),
            &format!("--client-key={}", pem("key")),
            "--embed-certs=true",
        ],
        vec!["set-context", name, &format!("--cluster={name}"), &format!("--user={name}")],
        vec!["use-context", name],
    ] {
        theirs.kubectl_ok(&files, &args);
    }
    // Ours carries the connect record besides: compared apart.
    let mut ours_a = parsed(&ours.path("a"));
    let extensions = ours_a["contexts"][name]["extensions"].take();
    ours_a["contexts"][name].as_object_mut().unwrap().remove("extensions");
    assert_eq!(ours_a, parsed(&theirs.path("a")), "a: new entries and the current context, as kubectl writes them");
    assert_eq!(parsed(&ours.path("b")), parsed(&theirs.path("b")));
    assert_eq!(fs::read(ours.path("b")).unwrap(), b_before, "b, owning nothing that changed, is not rewritten");
    assert_eq!(extensions[0]["name"], "vcluster.loft.sh/connect");
    assert_eq!(extensions[0]["extension"]["previousContext"], "ctx-a");
    assert_eq!((ours.mode("a"), ours.mode("b")), (0o600, 0o640));
    assert_eq!(loaded.entry(Kind::User, "ub").unwrap()["client-key-data"], "S0VZ", "unrelated entries survive");

    // disconnect: back to ctx-a, and the files parse as before connect.
    let out = vcluster_with(&env, &ours, &["disconnect"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fresh = Setup::new();
    with_host(&fresh, &env);
    for f in files {
        assert_eq!(parsed(&ours.path(f)), parsed(&fresh.path(f)), "{f} after disconnect");
    }
    assert!(env.forwarders().is_empty(), "disconnect stopped the forwarder");
}

#[test]
fn a_connect_killed_mid_write_leaves_the_old_file_intact() {
    let env = connect_env::Env::start();
    let setup = Setup::new();
    with_host(&setup, &env);
    let before = (fs::read(setup.path("a")).unwrap(), fs::read(setup.path("b")).unwrap());
    // Killed (SIGXFSZ) while writing the new kubeconfig, which is larger than the 1-block limit.
    let server = env.virtual_cluster.url().to_owned();
    let binary = connect_env::binary();
    let script =
        format!("ulimit -f 1; exec {} connect my-vc -n team --context kube-sim --server {server}", binary.display());
    let mut cmd = env.command(Path::new("sh"), &["-c", &script]);
    cmd.env("KUBECONFIG", setup.env(&["a", "b"]));
    let out = connect_env::finish(cmd.spawn().unwrap(), std::time::Duration::from_secs(60));
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(out.status.signal(), Some(25), "killed by SIGXFSZ mid-write: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((fs::read(setup.path("a")).unwrap(), fs::read(setup.path("b")).unwrap()), before, "both files intact");
    assert!(kubeconfig::load(&setup.sources(&["a", "b"])).unwrap().entry(Kind::Context, "ctx-a").is_some());
    // As with a killed kubectl, client-go's lock stays behind for a person to judge.
    assert!(kubeconfig::lock_path(&setup.path("a")).exists());
}
