//! `pre-xfer exec` and `post-xfer exec`. The configured command runs as
//! `sh -c COMMAND`; everything the client supplied (module path request,
//! arguments, user name) reaches it only through `RSYNC_*` environment
//! variables, never through the command text -- except where the
//! administrator wrote a `%RSYNC_*%` reference into the command: there the
//! value is quoted for its shell context, and a value holding any shell
//! metacharacter refuses the session ([`expand`]).
//!
//! The hooks are the administrator's commands and run as upstream's do:
//! as the daemon's user, outside the session's chroot, privilege drop and
//! Landlock domain. `pre-xfer exec` runs (and is waited for) before the
//! session confines itself; `post-xfer exec` is started then too, as a
//! shell that waits for the session's exit status on a pipe ([`PostXfer`]),
//! since a process cannot leave a Landlock domain once inside it. The
//! session itself, which is all the peer talks to, stays confined.
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

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

/// Bytes that could make a substituted value shell syntax rather than data
/// at some level of parsing (a hook may re-parse the word in a nested
/// `sh -c`, where one level of quoting no longer protects it).
// upstream: loadparm.c:shell_unsafe_value()
fn shell_unsafe(v: &str) -> bool {
    v.bytes()
        .any(|b| b"'\"`$\\;&|<>()*?[]# !~{}".contains(&b) || b < 0x20 || b == 0x7f)
}

/// Where a position in a shell command stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// `v` quoted for context `q`: single-quoted outside quotes; inside double
/// quotes both backslash-escaped and single-quoted (the quotes survive into
/// a nested shell); inside single quotes only `'` is broken out.
// upstream: loadparm.c:expand_vars_shell_escape()
fn quote_for(v: &str, q: Quote) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    if q != Quote::Single {
        out.push('\'');
    }
    for c in v.chars() {
        match c {
            '\\' | '"' | '`' | '$' if q == Quote::Double => {
                out.push('\\');
                out.push(c);
            }
            '\'' => out.push_str("'\\''"),
            c => out.push(c),
        }
    }
    if q != Quote::Single {
        out.push('\'');
    }
    out
}

/// Expands `%NAME%` references (NAME starting with an upper-case letter)
/// in a hook command from `lookup`; unknown names are kept as written.
/// A `RSYNC_*` value is quoted for the shell context it lands in, and one
/// holding a shell metacharacter is an error naming the variable: the hook
/// may be an access check, so it must neither run with it nor be skipped.
// upstream: loadparm.c:expand_vars() with shell_escape
pub fn expand(command: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(command.len());
    let mut q = Quote::None;
    let mut escaped = false;
    let mut rest = command;
    while let Some(c) = rest.chars().next() {
        if c == '%' && rest[1..].starts_with(|n: char| n.is_ascii_uppercase()) {
            if let Some(end) = rest[1..].find('%') {
                let name = &rest[1..1 + end];
                if let Some(v) = lookup(name) {
                    if name.starts_with("RSYNC_") {
                        if shell_unsafe(&v) {
                            return Err(name.to_string());
                        }
                        out.push_str(&quote_for(&v, q));
                    } else {
                        out.push_str(&v);
                    }
                    rest = &rest[end + 2..];
                    continue;
                }
            }
        }
        match q {
            Quote::Single if c == '\'' => q = Quote::None,
            Quote::Single => {}
            _ if escaped => escaped = false,
            _ if c == '\\' => escaped = true,
            Quote::Double if c == '"' => q = Quote::None,
            Quote::Double => {}
            Quote::None if c == '\'' => q = Quote::Single,
            Quote::None if c == '"' => q = Quote::Double,
            Quote::None => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
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

/// The shell that waits for the exit status ("CODE RAW" on its stdin;
/// end of file without it, as when the session died: -1 for both), puts it
/// in the environment and becomes the hook (`$1`).
// upstream: clientserver.c:rsync_module() (the post-xfer parent waits for
// the transfer's exit status, then runs the command)
const POST_XFER_WAIT: &str = "if IFS=' ' read -r c r; then :; else c=-1 r=-1; fi
case $c$r in *[!0-9-]*|'') c=-1 r=-1;; esac
RSYNC_EXIT_STATUS=$c RSYNC_RAW_STATUS=$r
export RSYNC_EXIT_STATUS RSYNC_RAW_STATUS
exec /bin/sh -c \"$1\" </dev/null";

/// A `post-xfer exec` started before the session confines itself, waiting
/// for the exit status.
#[derive(Debug)]
pub struct PostXfer {
    child: Child,
    status: Option<ChildStdin>,
}

impl PostXfer {
    /// Starts the waiting shell for `command` with `env` added; its output
    /// is discarded.
    pub fn start(command: &str, env: &HookEnv) -> std::io::Result<PostXfer> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(POST_XFER_WAIT)
            .arg("post-xfer")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &env.vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let status = child.stdin.take();
        Ok(PostXfer { child, status })
    }

    /// Hands the hook the session's exit `code` (`RSYNC_EXIT_STATUS`, and
    /// `RSYNC_RAW_STATUS` as a wait status) and waits for it; its exit code.
    pub fn finish(mut self, code: i32) -> i32 {
        if let Some(mut w) = self.status.take() {
            // A hook that exits without reading is no error of ours.
            let _ = writeln!(w, "{code} {}", code << 8);
        }
        self.child.wait().ok().and_then(|s| s.code()).unwrap_or(-1)
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

    fn lookup(k: &str) -> Option<String> {
        match k {
            "RSYNC_USER_NAME" => Some("alice.b-1_x".into()),
            "RSYNC_BAD" => Some("$(touch${IFS}x)x".into()),
            "RSYNC_Q" => Some("touc?".into()),
            "HOME" => Some("/h o;me".into()),
            _ => None,
        }
    }

    #[test]
    fn expand_quotes_by_context() {
        let e = |s: &str| expand(s, &lookup).unwrap();
        assert_eq!(e("echo %RSYNC_USER_NAME%"), "echo 'alice.b-1_x'");
        assert_eq!(e("echo '%RSYNC_USER_NAME%'"), "echo 'alice.b-1_x'");
        assert_eq!(e("echo \"%RSYNC_USER_NAME%\""), "echo \"'alice.b-1_x'\"");
        assert_eq!(
            e("echo \"it's %RSYNC_USER_NAME%\""),
            "echo \"it's 'alice.b-1_x'\""
        );
        // Not RSYNC_*: verbatim; unknown and lower-case names: as written.
        assert_eq!(
            e("x %HOME% %NOPE% %home% 100%"),
            "x /h o;me %NOPE% %home% 100%"
        );
        // The output runs and prints the value intact.
        for cmd in [
            "printf %s %RSYNC_USER_NAME%",
            "sh -c 'printf %s %RSYNC_USER_NAME%'",
        ] {
            let r = run(&e(cmd), &HookEnv::default());
            assert_eq!((r.code, r.output.as_str()), (0, "alice.b-1_x"), "{cmd}");
        }
    }

    #[test]
    fn expand_refuses_metacharacters() {
        assert_eq!(expand("a %RSYNC_BAD% b", &lookup), Err("RSYNC_BAD".into()));
        assert_eq!(
            expand("sh -c 'x/%RSYNC_Q%'", &lookup),
            Err("RSYNC_Q".into())
        );
        for bad in [
            "a b", "a'b", "a\"b", "a\\b", "a\nb", "~x", "!x", "{a,b}", "a\x7fb",
        ] {
            assert!(shell_unsafe(bad), "{bad:?}");
        }
        assert!(!shell_unsafe("alice.b-1_x@host:=+,%^"));
    }

    #[test]
    fn post_xfer_gets_the_status() {
        let mut env = HookEnv::default();
        env.set("RSYNC_MODULE_NAME", "m");
        let cmd = "echo \"$RSYNC_MODULE_NAME $RSYNC_EXIT_STATUS $RSYNC_RAW_STATUS\" >&3";
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out");
        let cmd = cmd.replace(">&3", &format!(">{}", out.display()));
        let p = PostXfer::start(&cmd, &env).expect("start");
        assert_eq!(p.finish(23), 0);
        assert_eq!(std::fs::read_to_string(&out).expect("ran"), "m 23 5888\n");
        // Never told (the session died): -1, and the hook still runs.
        let p = PostXfer::start(&format!("{cmd}; exit 4"), &env).expect("start");
        drop(p.status);
        let code = p.child.wait_with_output().expect("wait").status.code();
        assert_eq!(code, Some(4));
        assert_eq!(std::fs::read_to_string(&out).expect("ran"), "m -1 -1\n");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(run("exit 3", &HookEnv::default()).code, 3);
        let r = run("echo refused; exit 1", &HookEnv::default());
        assert_eq!((r.code, r.output.as_str()), (1, "refused"));
    }
}
