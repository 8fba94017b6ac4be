//! Faults, compared with stock rsync on the same command: a full
//! destination (ENOSPC) is fatal with code 11 and keeps a partial file only
//! with --partial; a remote shell that cannot be run ends with code 14, a
//! remote shell's own failure code (ssh's 255) passes through; a reader
//! that closes the output pipe ends the output quietly.
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of 1 MiB mounted on a scratch directory, unmounted on drop.
struct SmallFs {
    at: PathBuf,
}

impl SmallFs {
    fn mount(at: &Path) -> SmallFs {
        fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "mounting a tmpfs needs root (the tests run as root)"
        );
        SmallFs {
            at: at.to_path_buf(),
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// Names in `dir` (not recursive), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Copies a 3 MB file into a 1 MB filesystem with `bin` and `extra`:
/// (exit code, the stderr, names left in the destination, size of `f`).
fn fill_up(
    bin: &Path,
    extra: &[&str],
    push: bool,
) -> (Option<i32>, String, Vec<String>, Option<u64>) {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).unwrap();
    write_big_file(&src.join("f"), 3 << 20, 11);
    let small = SmallFs::mount(&s.path("small"));
    let mut cmd = Command::new(bin);
    cmd.arg("-a").args(extra);
    let dest = format!("{}/", small.at.display());
    if push {
        cmd.arg("-e").arg(s.rsh()).arg("--rsync-path").arg(bin);
    }
    cmd.arg(format!("{}/", src.display())).arg(if push {
        format!("localhost:{dest}")
    } else {
        dest
    });
    let r = run(&mut cmd, &s.logs());
    let left = names(&small.at);
    let size = fs::metadata(small.at.join("f")).ok().map(|m| m.len());
    (r.code, r.stderr, left, size)
}

#[test]
fn full_destination_is_fatal_with_code_11() {
    // A local copy, and a push (the server's error and code reach the
    // sending client).
    for (extra, push) in [
        (&[][..], false),
        (&["-P"][..], false),
        (&[][..], true),
        (&["-P"][..], true),
    ] {
        let ours = fill_up(&oxsync_bin(), extra, push);
        let theirs = fill_up(&rsync_bin(), extra, push);
        assert_eq!(ours.0, Some(11), "{extra:?} push {push}: {}", ours.1);
        assert_eq!(theirs.0, Some(11), "{extra:?}: rsync: {}", theirs.1);
        assert!(
            ours.1.contains("write failed on \"")
                && ours.1.contains("No space left on device (28)"),
            "{}",
            ours.1
        );
        // No temp file either way; -P keeps what fitted under the name.
        assert_eq!(ours.2, theirs.2, "{extra:?}: names left");
        if extra.is_empty() {
            assert!(ours.2.is_empty(), "{:?}", ours.2);
        } else {
            assert!(
                matches!(ours.3, Some(n) if n > 0 && n < 3 << 20),
                "{ours:?}"
            );
        }
    }
}

/// `bin -a -e RSH SRC localhost:DST` (a push) and the pull: exit codes.
fn with_rsh(bin: &Path, rsh: &str) -> Vec<(Option<i32>, String)> {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"data").unwrap();
    let push = run(
        Command::new(bin)
            .args(["-a", "-e", rsh])
            .arg(src.join("f"))
            .arg(format!("localhost:{}", s.path("dst").display())),
        &s.logs(),
    );
    let pull = run(
        Command::new(bin)
            .args(["-a", "-e", rsh])
            .arg(format!("localhost:{}", src.join("f").display()))
            .arg(s.path("dst")),
        &s.logs(),
    );
    assert!(!s.path("dst").exists(), "nothing arrives");
    vec![(push.code, push.stderr), (pull.code, pull.stderr)]
}

#[test]
fn remote_shell_that_cannot_run_is_code_14() {
    for (ours, theirs) in with_rsh(&oxsync_bin(), "/nonexistent/rsh")
        .into_iter()
        .zip(with_rsh(&rsync_bin(), "/nonexistent/rsh"))
    {
        assert_eq!(ours.0, Some(14), "{}", ours.1);
        // rsync's client takes its child's 14 when it has ended by the time
        // the client sees the stream closed (cleanup.c waits WNOHANG), else
        // it ends with the stream's 12.
        assert!(matches!(theirs.0, Some(12 | 14)), "rsync: {}", theirs.1);
        assert!(
            ours.1
                .contains("Failed to exec /nonexistent/rsh: No such file or directory (2)")
                && ours.1.contains("error in IPC code (code 14)"),
            "{}",
            ours.1
        );
    }
}

#[test]
fn remote_shell_failure_code_passes_through() {
    // ssh's own failure (255), a command the shell did not find (127), a
    // small code (1: the stream error's 12 is larger and wins).
    for (rsh, code, text) in [
        ("sh -c 'exit 255'", 255, "unexplained error (code 255)"),
        (
            "sh -c 'exit 127'",
            127,
            "remote command not found (code 127)",
        ),
        ("false", 12, "error in rsync protocol data stream (code 12)"),
    ] {
        let ours = with_rsh(&oxsync_bin(), rsh);
        // rsync takes the shell's status only when the shell has ended by
        // the time it sees the stream closed (cleanup.c waits WNOHANG);
        // oxsync waits for it.
        for (c, err) in with_rsh(&rsync_bin(), rsh) {
            assert!(
                matches!(c, Some(n) if n == code || n == 12),
                "rsync -e {rsh}: {err}"
            );
        }
        for (c, err) in ours {
            assert_eq!(c, Some(code), "-e {rsh}: {err}");
            assert!(err.contains(text), "-e {rsh}: {err}");
        }
    }
}

#[test]
fn closed_output_pipe_ends_quietly() {
    // `oxsync --help | head -1` and a listing into `head -1`: no panic, no
    // message; stock rsync is as quiet.
    let s = Scratch::new();
    let tree = s.path("tree");
    make_source_tree(&tree);
    for bin in [oxsync_bin(), rsync_bin()] {
        for _ in 0..10 {
            for args in ["--help".to_string(), format!("-r {}/", tree.display())] {
                let r = run(
                    Command::new("sh")
                        .arg("-c")
                        .arg(format!("{} {args} | head -1 >/dev/null", bin.display())),
                    &s.logs(),
                );
                assert_eq!(r.code, Some(0), "{}", r.stderr);
                assert_eq!(r.stderr, "", "{} {args}", bin.display());
            }
        }
    }
}

/// Copies `01-big` (shrunk to 1000 bytes once its temp file has grown) and
/// `02-later` with `bin`: (exit code, stderr, whether `02-later` arrived,
/// temp files left).
fn shrink_while_sent(bin: &Path) -> (Option<i32>, String, bool, usize) {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    let (src, dst) = (s.path("src"), s.path("dst"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dst).unwrap();
    write_big_file(&src.join("01-big"), 3 << 20, 5);
    fs::write(src.join("02-later"), b"later file must still transfer\n").unwrap();
    let err = s.path("stderr");
    let mut child = Command::new(bin)
        .args(["-a", "--bwlimit=300"])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let deadline = Duration::from_secs(60);
    // A new file written without a name shows only as a descriptor.
    let grown = |d: &Path| {
        names(d).iter().any(|n| {
            n.starts_with(".01-big.") && fs::metadata(d.join(n)).map_or(0, |m| m.len()) > 64 << 10
        }) || super::util::largest_open_file(d) > 64 << 10
    };
    while !grown(&dst) {
        assert!(
            start.elapsed() < deadline && child.try_wait().unwrap().is_none(),
            "no temp file grew"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    fs::OpenOptions::new()
        .write(true)
        .open(src.join("01-big"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > deadline {
            kill_group(child.id());
            panic!("{} did not end after the source shrank", bin.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let later = fs::read(dst.join("02-later")).ok();
    let temps = names(&dst).iter().filter(|n| n.starts_with('.')).count();
    (
        status.code(),
        fs::read_to_string(&err).unwrap_or_default(),
        later.as_deref() == Some(&b"later file must still transfer\n"[..]),
        temps,
    )
}

#[test]
fn source_that_shrinks_while_sent_is_code_23() {
    let ours = shrink_while_sent(&oxsync_bin());
    let theirs = shrink_while_sent(&rsync_bin());
    assert_eq!(theirs.0, Some(23), "rsync: {}", theirs.1);
    assert!(theirs.1.contains("read errors mapping"), "{}", theirs.1);
    assert_eq!(ours.0, Some(23), "{}", ours.1);
    assert!(
        ours.1.contains("read errors mapping") && ours.1.contains("No data available (61)"),
        "{}",
        ours.1
    );
    assert_eq!(
        (ours.2, ours.3),
        (theirs.2, theirs.3),
        "later file, temp files"
    );
    assert_eq!((ours.2, ours.3), (true, 0));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts a daemon with `bin` and a pid file, then a second one with the
/// same pid file on another port: (the second's exit code and stderr, the
/// pid file's content while the first runs, whether the first still runs).
fn two_daemons(bin: &Path) -> (Option<i32>, String, String, bool) {
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    let pid = s.path("d.pid");
    // A stale pid file (no daemon holds it) is taken over.
    fs::write(&pid, "99999999\n").unwrap();
    let conf = s.path("d.conf");
    fs::write(
        &conf,
        format!(
            "pid file = {}\nuse chroot = no\n[m]\npath = {}\n",
            pid.display(),
            s.root().display()
        ),
    )
    .unwrap();
    let daemon = |port: u16| {
        let mut c = Command::new(bin);
        c.args(["--daemon", "--no-detach"])
            .arg(format!("--config={}", conf.display()))
            .arg(format!("--port={port}"))
            .env("LC_ALL", "C");
        c
    };
    let mut first = daemon(free_port())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let own = format!("{}\n", first.id());
    while fs::read_to_string(&pid).unwrap_or_default() != own {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = first.kill();
            panic!("{} never wrote its pid file", bin.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The second must stop at once; one that runs is killed at the deadline.
    let err = s.path("second.err");
    let mut second = daemon(free_port())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(st) = second.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = second.kill();
            let _ = second.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let content = fs::read_to_string(&pid).unwrap_or_default();
    let alive = first.try_wait().unwrap().is_none();
    let _ = first.kill();
    let _ = first.wait();
    (
        code,
        fs::read_to_string(&err).unwrap_or_default(),
        content.replace(&own, "FIRST\n"),
        alive,
    )
}

#[test]
fn second_daemon_with_the_same_pid_file_refuses_to_start() {
    let ours = two_daemons(&oxsync_bin());
    let theirs = two_daemons(&rsync_bin());
    assert_eq!(theirs.0, Some(11), "rsync: {}", theirs.1);
    assert_eq!(ours.0, Some(11), "{}", ours.1);
    let line = |e: &str| {
        e.lines()
            .find(|l| l.contains("pid file"))
            .map(|l| l.split("failed to").nth(1).unwrap_or(l).to_string())
    };
    assert!(
        line(&ours.1).is_some_and(|l| l.contains("lock pid file")),
        "{}",
        ours.1
    );
    // Same reason as rsync's ("Resource temporarily unavailable").
    let reason = |e: &str| line(e).and_then(|l| l.rsplit(": ").next().map(str::to_string));
    assert_eq!(
        reason(&ours.1),
        reason(&theirs.1),
        "{} vs {}",
        ours.1,
        theirs.1
    );
    // The first keeps running and keeps its pid in the file.
    assert_eq!((ours.2.as_str(), ours.3), ("FIRST\n", true));
    assert_eq!((theirs.2.as_str(), theirs.3), ("FIRST\n", true));
}

/// As user nobody, copies `src/sub/f` (sub at `src_mode`) into `dst` whose
/// `sub` exists at 0555 (or is missing): (exit code, stderr, `f` arrived,
/// the final mode of `dst/sub`).
fn into_unwritable(
    bin: &Path,
    extra: &str,
    src_mode: u32,
    exists: bool,
) -> (Option<i32>, String, bool, u32) {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    fs::set_permissions(s.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let (src, dst) = (s.path("src"), s.path("dst"));
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/f"), b"into a read-only dir\n").unwrap();
    fs::create_dir_all(dst.join("sub")).unwrap();
    if !exists {
        fs::remove_dir(dst.join("sub")).unwrap();
    }
    let logs = s.logs();
    for p in [&src, &dst] {
        let st = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    }
    fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(src_mode)).unwrap();
    if exists {
        fs::set_permissions(dst.join("sub"), fs::Permissions::from_mode(0o555)).unwrap();
    }
    // A copy nobody can run wherever the build tree is (/root is 0700).
    let runnable = s.path("oxsync-copy");
    // (Copied by a child, as write_script does: no descriptor open for
    // writing here that a test thread forking meanwhile could inherit.)
    let st = Command::new("install")
        .args(["-m", "755"])
        .arg(bin)
        .arg(&runnable)
        .status()
        .unwrap();
    assert!(st.success());
    let r = run(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&runnable)
            .arg(extra)
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())),
        &logs,
    );
    let arrived =
        fs::read(dst.join("sub/f")).ok().as_deref() == Some(&b"into a read-only dir\n"[..]);
    let mode = fs::metadata(dst.join("sub")).map_or(0, |m| m.permissions().mode() & 0o7777);
    (r.code, r.stderr, arrived, mode)
}

#[test]
fn ordinary_user_writes_into_an_owner_unwritable_directory() {
    for (extra, src_mode, exists) in [
        ("-r", 0o755, true),
        ("-a", 0o555, true),
        ("-a", 0o555, false),
    ] {
        let ours = into_unwritable(&oxsync_bin(), extra, src_mode, exists);
        let theirs = into_unwritable(&rsync_bin(), extra, src_mode, exists);
        let label = format!("{extra} source {src_mode:o}, existing {exists}");
        assert_eq!(
            (theirs.0, theirs.2, theirs.3),
            (Some(0), true, 0o555),
            "{label}: rsync: {}",
            theirs.1
        );
        assert_eq!(
            (ours.0, ours.2, ours.3),
            (theirs.0, theirs.2, theirs.3),
            "{label}: {}",
            ours.1
        );
    }
}
