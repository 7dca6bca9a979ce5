//! The committed shell completions in completions/ must match what the binary generates.
//! Regenerate them with: UPDATE_COMPLETIONS=1 cargo test --test completions

use clap_complete::Shell;
use vcluster::commands::completion::{file_name, script};

#[test]
fn committed_completions_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some_and(|v| v == "1");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell, Shell::Elvish] {
        let path = dir.join(file_name(shell));
        let generated = script(shell, vcluster::cli::command());
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale or missing; regenerate with: UPDATE_COMPLETIONS=1 cargo test --test completions",
            path.display()
        );
        // The scripts know the render flags.
        assert!(String::from_utf8_lossy(&generated).contains("set-json"), "{shell}");
    }
}
