//! `pre-xfer exec` and `post-xfer exec`. The configured command runs as
//! `sh -c COMMAND`; everything the client supplied (module path request,
//! arguments, user name) reaches it only through `RSYNC_*` environment
//! variables, never through the command text -- except where the
//! administrator wrote a `%RSYNC_*%` reference into the command: there the
//! value is quoted for its shell context, and a value holding any shell
//! metacharacter refuses the session ([`expand`]).
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

/// A hook's `%RSYNC_*%` variable whose value holds a shell metacharacter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("%{0}% holds a shell metacharacter")]
pub struct UnsafeVar(pub String);

/// Expands `%NAME%` references (NAME starting with an upper-case letter)
/// in a hook command from `lookup`; unknown names are kept as written.
/// A `RSYNC_*` value is quoted for the shell context it lands in, and one
/// holding a shell metacharacter is an error naming the variable: the hook
/// may be an access check, so it must neither run with it nor be skipped.
// upstream: loadparm.c:expand_vars() with shell_escape
pub fn expand(command: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, UnsafeVar> {
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
                            return Err(UnsafeVar(name.to_string()));
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
    run_with_input(command, env, &[])
}

/// As [`run`], with `input` on the hook's standard input (`early exec`
/// gets the client's `--early-input` there); a hook that does not read it
/// all is not waited on for it.
pub fn run_with_input(command: &str, env: &HookEnv, input: &[u8]) -> HookResult {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
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
    let feeder = child.stdin.take().map(|mut si| {
        let data = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            // A hook that exits without reading leaves a broken pipe: fine.
            let _ = si.write_all(&data);
        })
    });
    let mut out = Vec::new();
    if let Some(so) = child.stdout.take() {
        let mut limited = so.take(MAX_HOOK_OUTPUT);
        let _ = limited.read_to_end(&mut out);
        // Drain the rest so the hook never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    if let Some(f) = feeder {
        let _ = f.join();
    }
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
        assert_eq!(
            expand("a %RSYNC_BAD% b", &lookup),
            Err(UnsafeVar("RSYNC_BAD".into()))
        );
        let e = expand("sh -c 'x/%RSYNC_Q%'", &lookup).unwrap_err();
        assert_eq!(e.to_string(), "%RSYNC_Q% holds a shell metacharacter");
        for bad in [
            "a b", "a'b", "a\"b", "a\\b", "a\nb", "~x", "!x", "{a,b}", "a\x7fb",
        ] {
            assert!(shell_unsafe(bad), "{bad:?}");
        }
        assert!(!shell_unsafe("alice.b-1_x@host:=+,%^"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(run("exit 3", &HookEnv::default()).code, 3);
        let r = run("echo refused; exit 1", &HookEnv::default());
        assert_eq!((r.code, r.output.as_str()), (1, "refused"));
    }
}
