//! `--early-input=FILE`: a daemon client sends the file (at most 5120
//! bytes) before the module name, and the module's `early exec` reads it
//! on its standard input; compared with stock rsync as client and as
//! daemon. The file is an operator path: a symlink another user planted on
//! it (the leaf or a parent) is refused and nothing is sent (upstream's
//! early-input-symlink test; stock 3.2.7 follows it). The daemon bounds the
//! length it is told before allocating.
use crate::daemon::{start, url, Daemon};
use crate::util::*;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const OTHER_UID: u32 = 65534;
const MARKER: &str = "EARLY_INPUT_MARKER_4711";

/// A module whose `early exec` copies its stdin to `ROOT/out/capture`.
/// oxsync runs the hook inside the session's Landlock domain, so its
/// module allows it that one directory (`landlock allow`); stock rsync
/// runs it unconfined.
fn daemon(bin: &Path) -> Daemon {
    let hook = if bin == oxsync_bin() {
        "cat > %ROOT%/out/capture\nlandlock allow = %ROOT%/out:rw"
    } else {
        "%ROOT%/hook.sh"
    };
    let d = start(
        bin,
        &format!("[m]\npath = %ROOT%/mod\nread only = yes\nearly exec = {hook}\n"),
    );
    fs::create_dir_all(d.root().join("out")).expect("mkdir");
    write_script(
        &d.root().join("hook.sh"),
        &format!(
            "#!/bin/sh\ncat > {}/out/capture\nexit 0\n",
            d.root().display()
        ),
    );
    fs::write(d.root().join("mod/f"), b"module file\n").expect("write");
    d
}

fn capture(d: &Daemon) -> Option<String> {
    fs::read_to_string(d.root().join("out/capture")).ok()
}

/// `client --early-input=FILE rsync://.../m/` (a listing).
fn list(client: &Path, d: &Daemon, file: &Path) -> Run {
    let _ = fs::remove_file(d.root().join("out/capture"));
    let logs = d.root().join("logs");
    fs::create_dir_all(&logs).expect("mkdir");
    let mut c = Command::new(client);
    c.arg(format!("--early-input={}", file.display()))
        .arg(url(d, "m/"));
    run(&mut c, &logs)
}

/// Every client against every daemon: the bytes reach the hook.
#[test]
fn early_exec_reads_the_early_input() {
    let s = Scratch::new();
    let file = s.path("early");
    fs::write(&file, format!("{MARKER}\nsecond line\n")).expect("write");
    for (client, server) in [
        (oxsync_bin(), oxsync_bin()),
        (oxsync_bin(), rsync_bin()),
        (rsync_bin(), oxsync_bin()),
    ] {
        let d = daemon(&server);
        let r = list(&client, &d, &file);
        r.assert_code(0);
        assert!(r.stdout.contains(" f"), "{}", r.stdout);
        assert_eq!(
            capture(&d).as_deref(),
            Some(format!("{MARKER}\nsecond line\n").as_str()),
            "{} -> {}",
            client.display(),
            server.display()
        );
    }
}

/// A file over 5120 bytes is refused by the client before anything is
/// sent, as stock rsync refuses it (exit 5).
#[test]
fn oversized_early_input_is_refused() {
    let s = Scratch::new();
    let file = s.path("big");
    fs::write(&file, vec![b'x'; 5121]).expect("write");
    let d = daemon(&oxsync_bin());
    let ours = list(&oxsync_bin(), &d, &file);
    let stock = list(&rsync_bin(), &d, &file);
    assert_eq!(stock.code, Some(5), "{}", stock.stderr);
    assert_eq!(ours.code, stock.code, "{}", ours.stderr);
    assert!(ours.stderr.contains("is > 5120 bytes."), "{}", ours.stderr);
    assert_eq!(capture(&d), None, "the hook ran");
    // Exactly 5120 bytes are sent.
    fs::write(&file, vec![b'y'; 5120]).expect("write");
    let ok = list(&oxsync_bin(), &d, &file);
    ok.assert_code(0);
    assert_eq!(capture(&d).map(|c| c.len()), Some(5120));
}

/// The daemon refuses a length over its bound before allocating it
/// (upstream: "@ERROR: invalid early_input length").
#[test]
fn daemon_bounds_the_announced_length() {
    let d = daemon(&oxsync_bin());
    for n in ["999999999999", "5121", "0", "-5"] {
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
        sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        let mut greeting = [0u8; 64];
        let got = sock.read(&mut greeting).expect("greeting");
        assert!(greeting[..got].starts_with(b"@RSYNCD:"));
        sock.write_all(format!("@RSYNCD: 31.0\n#early_input={n}\nm\n").as_bytes())
            .expect("write");
        let mut answer = String::new();
        let _ = sock.read_to_string(&mut answer);
        assert!(
            answer.contains("@ERROR: invalid early_input length"),
            "{n}: {answer}"
        );
        assert_eq!(capture(&d), None, "{n}: the hook ran");
    }
}

/// The leaf, then a parent directory, is a symlink owned by another user
/// leading to a secret: oxsync refuses to open it (exit 5, "failed to
/// open") and the secret never reaches the hook.
#[test]
fn planted_symlinks_are_not_followed() {
    assert!(
        rustix::process::geteuid().is_root(),
        "planting another user's symlink needs root"
    );
    let s = Scratch::new();
    let secret = s.path("secret");
    fs::write(&secret, format!("{MARKER}\n")).expect("write");
    fs::create_dir(s.path("real")).expect("mkdir");
    fs::write(s.path("real/inner"), format!("{MARKER}\n")).expect("write");
    let plant = |at: PathBuf, target: PathBuf| {
        std::os::unix::fs::symlink(target, &at).expect("symlink");
        std::os::unix::fs::lchown(&at, Some(OTHER_UID), Some(OTHER_UID)).expect("lchown");
        at
    };
    let leaf = plant(s.path("leaf"), secret.clone());
    let parent = plant(s.path("parent"), s.path("real")).join("inner");
    let d = daemon(&oxsync_bin());
    for file in [leaf, parent] {
        let r = list(&oxsync_bin(), &d, &file);
        assert_eq!(r.code, Some(5), "{}: {}", file.display(), r.stderr);
        assert!(r.stderr.contains("failed to open"), "{}", r.stderr);
        assert!(
            !capture(&d).unwrap_or_default().contains(MARKER),
            "{} was followed",
            file.display()
        );
    }
    // The same links owned by us are followed.
    let own = s.path("own");
    std::os::unix::fs::symlink(&secret, &own).expect("symlink");
    let r = list(&oxsync_bin(), &d, &own);
    r.assert_code(0);
    assert!(capture(&d).unwrap_or_default().contains(MARKER));
}

/// oxsync's `early exec` runs inside the session's Landlock domain, like
/// the other hooks (upstream runs it as the daemon's user): a hook that
/// writes outside the module without `landlock allow` fails, the session
/// is refused with upstream's message, and nothing appears outside.
#[test]
fn early_exec_runs_inside_the_session_sandbox() {
    let s = Scratch::new();
    let file = s.path("early");
    fs::write(&file, format!("{MARKER}\n")).expect("write");
    let d = start(
        &oxsync_bin(),
        "[m]\npath = %ROOT%/mod\nread only = yes\nearly exec = cat > %ROOT%/escaped\n",
    );
    let outside = d.root().join("escaped");
    let r = list(&oxsync_bin(), &d, &file);
    assert_eq!(r.code, Some(5), "{r:?}");
    assert!(r.stderr.contains("early exec failed"), "{r:?}");
    assert!(
        !outside.exists(),
        "the hook wrote outside the module: {r:?}"
    );
    let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
    assert!(log.contains("early exec failed ("), "{log}");
}
