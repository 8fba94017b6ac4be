//! `%RSYNC_*%` references in a daemon's exec hooks (rsync 3.5.0,
//! loadparm.c:expand_vars()): an ordinary value is substituted and reaches
//! the hook intact, as with stock rsync; a value holding a shell
//! metacharacter refuses the session before the hook runs, in every quote
//! context and through a nested `sh -c` (3.5.0 only: 3.2.7 substitutes
//! verbatim, so the refusal is asserted from 3.5.0's source).
use super::daemon::{root, start_env, url, Daemon};
use super::util::{oxsync_bin, rsync_bin, run, snapshot, Run};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const BENIGN: &str = "alice.b-1_x";
const HOSTILE: &str = "$(touch${IFS}PWNED)x";
/// Executes nothing in one level of parsing, but a nested shell globs it.
const GLOB: &str = "touc?";

/// One module per quoting of the hook's `%RSYNC_USER_NAME%`, each writing
/// what the hook received to `%ROOT%/mod/out-NAME` (inside the module, so
/// the sandbox lets the hook write it).
fn modules() -> String {
    let mut text = String::new();
    for (name, tpl) in [
        ("unq", "printf %s %RSYNC_USER_NAME% >%ROOT%/mod/out-unq"),
        ("sq", "printf %s '%RSYNC_USER_NAME%' >%ROOT%/mod/out-sq"),
        ("dq", "printf %s \"%RSYNC_USER_NAME%\" >%ROOT%/mod/out-dq"),
        (
            "nest",
            "sh -c 'printf %s %RSYNC_USER_NAME% >%ROOT%/mod/out-nest'",
        ),
    ] {
        text.push_str(&format!(
            "[{name}]\npath = %ROOT%/mod\nread only = no\nauth users = *\n\
             secrets file = %ROOT%/hsecrets\npre-xfer exec = {tpl}\n"
        ));
    }
    // %RSYNC_REQUEST% is not set yet when upstream expands the hook: it
    // comes from the daemon's own environment, and is refused there too.
    text.push_str(
        "[req]\npath = %ROOT%/src\npre-xfer exec = sh -c \"printf %RSYNC_REQUEST% >/dev/null\"\n",
    );
    text
}

fn start(bin: &Path) -> Daemon {
    let d = start_env(bin, &modules(), &[("RSYNC_REQUEST", "ok;touch PWNED;#")]);
    let secrets = root(&d).join("hsecrets");
    fs::write(&secrets, format!("{BENIGN}:pw\n{HOSTILE}:pw\n{GLOB}:pw\n")).expect("secrets");
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::write(root(&d).join("src/f"), b"payload\n").expect("src");
    d
}

fn push(d: &Daemon, user: &str, module: &str) -> Run {
    let r = root(d);
    run(
        Command::new(rsync_bin())
            .arg("-r")
            .arg(format!("{}/", r.join("src").display()))
            .arg(url(d, &format!("{module}/")).replace("rsync://", &format!("rsync://{user}@")))
            .env("RSYNC_PASSWORD", "pw"),
        &r,
    )
}

#[test]
fn ordinary_values_reach_hooks_as_with_stock_rsync() {
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin);
        for m in ["unq", "sq", "dq", "nest"] {
            push(&d, BENIGN, m).assert_code(0);
            let got = fs::read_to_string(root(&d).join(format!("mod/out-{m}")))
                .unwrap_or_else(|e| panic!("{}: hook {m} did not run: {e}", bin.display()));
            // 3.5.0 quotes a double-quoted value twice over (for a nested
            // shell), so the quotes show: 'alice.b-1_x'.
            let want = if m == "dq" && bin == oxsync_bin() {
                format!("'{BENIGN}'")
            } else {
                BENIGN.to_string()
            };
            assert_eq!(got, want, "{} module {m}", bin.display());
        }
        assert_eq!(
            fs::read(root(&d).join("mod/f")).expect("pushed"),
            b"payload\n"
        );
    }
}

#[test]
fn shell_metacharacters_in_values_refuse_the_hook() {
    let d = start(&oxsync_bin());
    let r = root(&d);
    let log = || fs::read_to_string(r.join("daemon.log")).unwrap_or_default();
    let cases = [
        (HOSTILE, "unq"),
        (HOSTILE, "sq"),
        (HOSTILE, "dq"),
        (HOSTILE, "nest"),
        (GLOB, "nest"),
    ];
    for (user, m) in cases {
        let before = log().len();
        let out = push(&d, user, m);
        assert_ne!(out.code, Some(0), "{user} on {m}: {out:?}");
        let new = log()[before..].to_string();
        assert!(
            new.contains(
                "refusing to run shell hook: %RSYNC_USER_NAME% holds a shell metacharacter"
            ),
            "{user} on {m}: {new}"
        );
        assert!(!r.join(format!("mod/out-{m}")).exists(), "hook ran: {m}");
        assert!(!r.join("mod/f").exists(), "{m}: nothing transferred");
    }
    // A pull whose hook names %RSYNC_REQUEST%, set in the daemon's own
    // environment to shell syntax.
    let before = log().len();
    let out = run(
        Command::new(rsync_bin())
            .arg("-r")
            .arg(url(&d, "req/"))
            .arg(r.join("dst")),
        &r,
    );
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        log()[before..].contains("%RSYNC_REQUEST% holds a shell metacharacter"),
        "{}",
        log()
    );
    assert!(!r.join("dst/f").exists());
    for dir in [
        r.clone(),
        r.join("mod"),
        r.join("src"),
        std::env::current_dir().unwrap(),
    ] {
        assert!(!dir.join("PWNED").exists(), "PWNED in {}", dir.display());
    }
}

/// Waits (up to the harness deadline) until `done` holds: post-xfer exec
/// runs after the transfer, when the client may already have exited.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + super::util::run_timeout();
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The hooks run inside the session's confinement (after the chroot, the
/// privilege drop and Landlock), unlike upstream's, which run as the
/// daemon's user outside it: they get the request and the exit status and
/// may write in a writable module, but their writes beside it fail and the
/// outside tree is unchanged. Stock rsync, the control, lets them out.
#[test]
fn hooks_run_inside_the_session_sandbox() {
    let modules = "[h]\npath = %ROOT%/mod\nread only = no\n\
        pre-xfer exec = printf %s \"$RSYNC_MODULE_NAME $RSYNC_ARG0\" >%ROOT%/mod/pre.out\n\
        post-xfer exec = printf %s \"$RSYNC_EXIT_STATUS $RSYNC_RAW_STATUS\" >%ROOT%/mod/post.out\n\
        [pre]\npath = %ROOT%/mod\nread only = no\n\
        pre-xfer exec = touch %ROOT%/dst/pre-escaped\n\
        [post]\npath = %ROOT%/mod\nread only = no\n\
        post-xfer exec = touch %ROOT%/dst/post-escaped\n\
        [fails]\npath = %ROOT%/mod\n\
        post-xfer exec = exit $RSYNC_EXIT_STATUS\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start_env(&bin, modules, &[]);
        let r = root(&d);
        let who = bin.display();
        let confined = bin == oxsync_bin();
        let log = || fs::read_to_string(r.join("daemon.log")).unwrap_or_default();
        fs::write(r.join("src/f"), b"payload\n").expect("src");
        fs::write(r.join("dst/keep"), b"untouched\n").expect("dst");
        let push = |module: &str| {
            run(
                Command::new(rsync_bin())
                    .arg("-r")
                    .arg(format!("{}/", r.join("src").display()))
                    .arg(url(&d, &format!("{module}/"))),
                &r,
            )
        };
        // Within the module: both hooks run and see the request.
        push("h").assert_code(0);
        assert_eq!(fs::read(r.join("mod/f")).expect("pushed"), b"payload\n");
        assert_eq!(
            fs::read_to_string(r.join("mod/pre.out")).unwrap_or_default(),
            "h rsyncd",
            "{who}: pre-xfer exec"
        );
        wait_until(&format!("{who}: post-xfer exec never ran"), || {
            fs::read_to_string(r.join("mod/post.out")).unwrap_or_default() == "0 0"
        });
        fs::remove_file(r.join("mod/f")).expect("rm");
        // Beside the module: denied to oxsync's hooks, not to stock rsync's.
        let before = snapshot(&r.join("dst"));
        let out = push("pre");
        let pushed = r.join("mod/f").exists();
        push("post").assert_code(0);
        if confined {
            out.assert_code(4);
            assert!(
                out.stderr.contains("pre-xfer exec returned failure (1)"),
                "{}",
                out.stderr
            );
            assert!(!pushed, "pushed after a failed pre-xfer exec");
            assert!(log().contains("landlock: abi"), "{}", log());
            assert!(
                log().contains("pre-xfer exec returned failure (1) on module pre"),
                "{}",
                log()
            );
            wait_until(
                &format!("post-xfer exec's failure never logged: {}", log()),
                || log().contains("post-xfer exec returned 1 on module post"),
            );
            assert_eq!(snapshot(&r.join("dst")), before, "outside changed");
        } else {
            out.assert_code(0);
            assert!(r.join("dst/pre-escaped").exists(), "{who}: pre-xfer exec");
            wait_until(&format!("{who}: post-xfer exec never ran"), || {
                r.join("dst/post-escaped").exists()
            });
        }
        // A transfer that fails (its source is missing) hands its code on
        // (oxsync logs the hook's exit code).
        let out = run(
            Command::new(rsync_bin())
                .arg("-r")
                .arg(url(&d, "fails/missing"))
                .arg(r.join("dst")),
            &r,
        );
        out.assert_code(23);
        if confined {
            wait_until(
                &format!("post-xfer exec's code never logged: {}", log()),
                || log().contains("post-xfer exec returned 23 on module fails"),
            );
        }
    }
}
