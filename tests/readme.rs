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
