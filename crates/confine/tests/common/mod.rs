//! Scenarios run alone in a child process: a Landlock domain, a chroot or
//! dropped credentials confine the calling process and everything it
//! creates afterwards, so a test that sets one up re-executes the test
//! binary with only itself selected and an environment variable naming
//! it, and the parent asserts on the child's exit status and output.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The scenarios of one test binary, told apart by the environment
/// variable `var`.
pub struct Scenarios(pub &'static str);

impl Scenarios {
    /// True in the child process that runs scenario `name`.
    pub fn is_child(&self, name: &str) -> bool {
        std::env::var(self.0).as_deref() == Ok(name)
    }

    /// Runs the test `name` alone in a child process with `env`, asserts
    /// that it passed and returns its standard output.
    pub fn run_child(&self, name: &str, env: &[(&str, &Path)]) -> String {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        cmd.args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(self.0, name);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("spawn the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "scenario {name} failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        assert!(
            stdout.contains("1 passed"),
            "scenario {name} did not run:\n{stdout}"
        );
        stdout
    }
}

/// The path in the environment variable `key` (set by the parent).
pub fn env_path(key: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(key).unwrap_or_else(|| panic!("{key} not set")))
}
