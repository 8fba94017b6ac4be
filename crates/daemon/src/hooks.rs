//! `pre-xfer exec` and `post-xfer exec`. The configured command runs as
//! `sh -c COMMAND`; everything the client supplied (module path request,
//! arguments, user name) reaches it only through `RSYNC_*` environment
//! variables, never through the command text.
use std::io::Read;
use std::process::{Command, Stdio};

/// Most bytes of a hook's output kept for the client.
const MAX_HOOK_OUTPUT: u64 = 4096;

/// The environment a hook sees.
#[derive(Debug, Clone, Default)]
pub struct HookEnv {
    /// Variable name and value pairs.
    pub vars: Vec<(String, String)>,
}

impl HookEnv {
    /// Adds a variable.
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.vars.retain(|(n, _)| n != k);
        self.vars.push((k.to_string(), v.into()));
    }
}

/// The outcome of a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResult {
    /// Its exit code (-1 when killed by a signal or not started).
    pub code: i32,
    /// Its standard output (bounded).
    pub output: String,
}

/// Runs `sh -c command` with `env` added, stdin empty, stderr discarded,
/// and waits for it.
// upstream: clientserver.c:start_pre_exec() / finish_pre_exec()
pub fn run(command: &str, env: &HookEnv) -> HookResult {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return HookResult {
                code: -1,
                output: format!("cannot run hook: {e}"),
            }
        }
    };
    let mut out = Vec::new();
    if let Some(so) = child.stdout.take() {
        let mut limited = so.take(MAX_HOOK_OUTPUT);
        let _ = limited.read_to_end(&mut out);
        // Drain the rest so the hook never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    HookResult {
        code,
        output: String::from_utf8_lossy(&out).trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_not_shell_text() {
        let mut env = HookEnv::default();
        env.set("RSYNC_REQUEST", "mod/$(touch /tmp/pwned-oxsync); `id`");
        let r = run("printf '%s' \"$RSYNC_REQUEST\"", &env);
        assert_eq!(r.code, 0);
        assert_eq!(r.output, "mod/$(touch /tmp/pwned-oxsync); `id`");
        assert!(!std::path::Path::new("/tmp/pwned-oxsync").exists());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(run("exit 3", &HookEnv::default()).code, 3);
        let r = run("echo refused; exit 1", &HookEnv::default());
        assert_eq!((r.code, r.output.as_str()), (1, "refused"));
    }
}
