//! What every integration test binary shares, including those that use none of the rest of
//! `support`: a finished process ([`Run`]) and polling with a deadline ([`eventually`]).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

/// One finished process.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit 0 (else the test fails, showing the output).
    pub fn succeeds(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success:\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Exit 1 with each of `wants` on stderr.
    pub fn fails_with(&self, wants: &[&str]) -> &Run {
        assert_eq!(self.code, 1, "expected exit 1:\nstderr:\n{}", self.stderr);
        for want in wants {
            assert!(self.stderr.contains(want), "stderr lacks {want:?}:\n{}", self.stderr);
        }
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Ask `check` again (it reads the cluster, a process or the file system) until it gives a value,
/// for at most `within`; never a fixed sleep.
pub fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
