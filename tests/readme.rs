//! Every command of the README's `sh` blocks that needs no cluster (`render`, `version`,
//! `completion`) runs as written and succeeds: the binary on the PATH as `vcluster`, a home
//! without kubeconfig, the repository's `examples/` beside the working directory's `values.yaml`.

mod support;

use std::process::Command;

/// The commands: lines of ```sh blocks that run `vcluster render|version|completion|--version`
/// (possibly fed by `cat values.yaml |`), without their trailing comment.
fn offline_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let command = match line.find("  #") {
            Some(at) => line[..at].trim_end(),
            None => line.trim_end(),
        };
        let run = command.strip_prefix("cat values.yaml | ").unwrap_or(command);
        let offline = ["vcluster render ", "vcluster version", "vcluster completion ", "vcluster --version"];
        if offline.iter().any(|p| run.starts_with(p)) {
            out.push(command.to_string());
        }
    }
    out
}

#[test]
fn every_readme_command_that_needs_no_cluster_succeeds() {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let commands = offline_commands(&readme);
    assert!(commands.len() >= 10, "{commands:?}");
    assert!(commands.iter().any(|c| c.contains("'annotations.team=a\\,b'")), "{commands:?}");

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let home = dir.path().join("home");
    let work = dir.path().join("work");
    for d in [&bin, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(support::cluster::vcluster_binary(), bin.join("vcluster")).unwrap();
    std::os::unix::fs::symlink(support::repo().join("examples"), work.join("examples")).unwrap();
    std::fs::write(work.join("values.yaml"), "sync:\n  ingresses:\n    enabled: true\n").unwrap();
    // Where the completion examples write.
    for d in [".local/share/bash-completion/completions", ".config/fish/completions", "zfunc"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for command in &commands {
        // zsh's `${fpath[1]}` means nothing to sh: the first directory of zsh's function path.
        let script = command.replace("${fpath[1]}", "$HOME/zfunc");
        assert!(!script.contains("> /") && !script.contains("> \"/"), "{script} writes outside the test's home");
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", &script])
            .current_dir(&work)
            .env("PATH", &path)
            .env("HOME", &home)
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}\nexit {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Each prints something (to stdout, or to the file it is redirected to).
        assert!(!out.stdout.is_empty() || command.contains(" > "), "{command}: no output");
    }
    assert!(std::fs::metadata(home.join("zfunc/_vcluster")).unwrap().len() > 0);
}

/// The block after the walkthrough marker.
fn walkthrough(readme: &str) -> String {
    let at = readme.find("<!-- walkthrough:").expect("the walkthrough marker");
    let block = &readme[at..];
    let start = block.find("```sh\n").expect("a sh block after the marker") + "```sh\n".len();
    let len = block[start..].find("```").expect("the block's end");
    block[start..start + len].to_string()
}

/// The README's walkthrough on the simulator, run verbatim by bash (stopping at the first failing
/// command): `kube-sim --vcluster-fixture`, `create`, `list`, `connect -- kubectl get ns`, `pause`,
/// `resume`, `delete`.
#[test]
fn the_readme_walkthrough_on_the_simulator_runs_as_written() {
    use std::os::unix::process::CommandExt as _;
    use std::time::{Duration, Instant};

    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let block = walkthrough(&readme);
    for step in ["--vcluster-fixture", "vcluster create", "vcluster list", "-- kubectl get ns", "vcluster pause"] {
        assert!(block.contains(step), "{step}:\n{block}");
    }
    let dir = tempfile::tempdir().unwrap();
    let (bin, home, work) = (dir.path().join("bin"), dir.path().join("home"), dir.path().join("work"));
    for d in [&bin, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(support::cluster::vcluster_binary(), bin.join("vcluster")).unwrap();
    std::os::unix::fs::symlink(support::standalone::simulator_binary(), bin.join("kube-sim")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // The simulator is stopped however the script ends.
    let script = format!("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{block}");
    let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(&work)
        .env("PATH", &path)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (std::fs::read_to_string(&stdout).unwrap(), std::fs::read_to_string(&stderr).unwrap());
    assert!(status.success(), "exit {:?}\nstdout:\n{out}\nstderr:\n{err}", status.code());
    let listed = out.lines().find(|l| l.starts_with("my-vcluster ")).unwrap_or_else(|| panic!("{out}"));
    assert!(listed.contains("vcluster-my-vcluster") && listed.contains("Running"), "{listed}");
    // kubectl's table of the virtual cluster's namespaces.
    assert!(out.lines().any(|l| l.starts_with("kube-system ") && l.contains("Active")), "{out}");
    for step in
        ["done Paused vcluster my-vcluster", "done Resumed vcluster my-vcluster", "done Deleted vcluster my-vcluster"]
    {
        assert!(err.contains(step), "{step}:\n{err}");
    }
}
