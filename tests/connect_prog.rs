//! Reaching a daemon without a listening socket: `RSYNC_CONNECT_PROG`
//! (the client runs the daemon over a loopback socket pair, as upstream's
//! test suite does), a daemon over a remote shell (`-e` with `host::` or
//! `rsync://`, `--server --daemon .` on the far side), and a daemon in
//! inetd mode on a Unix-domain socket. Stock rsync is the peer in both
//! directions.
use super::util::{oxsync_bin, rsync_bin, run, write_file, Run, Scratch, T0};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Upstream 3.5.0's refusal (socket.c); Debian's 3.2.7 has no such check.
const REFUSAL: &str = "unsafe host characters for RSYNC_CONNECT_PROG";

/// Writes the daemon configuration: `[pub]` (writable), `[auth]`
/// (alice:sesame), transfers as the test's own uid. `hosts` is the global
/// `hosts allow` line ("" for none).
fn conf(s: &Scratch, hosts: &str) -> PathBuf {
    let root = s.root();
    for d in ["pub", "auth"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let secrets = root.join("secrets");
    fs::write(&secrets, "alice:sesame\n").expect("secrets");
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o600)).expect("chmod");
    write_file(&root.join("auth/secret.txt"), b"for alice\n", 0o644, T0);
    let me = fs::metadata(root).expect("stat");
    let text = format!(
        "use chroot = no\nuid = {uid}\ngid = {gid}\nlog file = {r}/daemon.log\n{hosts}\n\
         [pub]\npath = {r}/pub\nread only = no\n\
         [auth]\npath = {r}/auth\nauth users = alice\nsecrets file = {r}/secrets\n",
        r = root.display(),
        uid = me.uid(),
        gid = me.gid(),
    );
    let p = root.join("rsyncd.conf");
    fs::write(&p, text).expect("conf");
    p
}

/// A small tree: bytes, modes and mtimes to compare.
fn make_tree(src: &Path) {
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    write_file(&src.join("a.txt"), b"hello\n", 0o640, T0);
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write_file(&src.join("sub/b.bin"), &big, 0o600, T0 + 1);
}

fn assert_tree(a: &Path, b: &Path) {
    for rel in ["a.txt", "sub/b.bin"] {
        let (x, y) = (a.join(rel), b.join(rel));
        assert_eq!(
            fs::read(&x).expect("read"),
            fs::read(&y).unwrap_or_else(|e| panic!("{}: {e}", y.display())),
            "{rel} bytes"
        );
        let (mx, my) = (fs::metadata(&x).expect("m"), fs::metadata(&y).expect("m"));
        assert_eq!(mx.mode() & 0o7777, my.mode() & 0o7777, "{rel} mode");
        assert_eq!(mx.mtime(), my.mtime(), "{rel} mtime");
    }
}

/// How the client reaches the daemon.
#[derive(Clone, Copy)]
enum Via {
    ConnectProg,
    RemoteShell,
}

/// A client command reaching a daemon run by `daemon` with `conf`.
fn client(s: &Scratch, bin: &Path, daemon: &Path, conf: &Path, via: Via) -> Command {
    let mut cmd = Command::new(bin);
    let daemon_cmd = format!("{} --config={}", daemon.display(), conf.display());
    match via {
        Via::ConnectProg => {
            cmd.env("RSYNC_CONNECT_PROG", format!("{daemon_cmd} --daemon"));
        }
        Via::RemoteShell => {
            cmd.env_remove("RSYNC_CONNECT_PROG")
                .arg("-e")
                .arg(ssh_like(s))
                .arg(format!("--rsync-path={daemon_cmd}"));
        }
    }
    for k in [
        "RSYNC_PASSWORD",
        "REMOTE_HOST",
        "SSH_CONNECTION",
        "SSH_CLIENT",
        "SSH2_CLIENT",
    ] {
        cmd.env_remove(k);
    }
    cmd.current_dir(s.root());
    cmd
}

/// A stand-in for ssh: drops `-l USER` and the host, and has a shell run
/// the rest as one command line (as sshd does).
fn ssh_like(s: &Scratch) -> PathBuf {
    let p = s.path("ssh-like.sh");
    fs::write(
        &p,
        "#!/bin/sh\nwhile [ \"$1\" = -l ]; do shift 2; done\nshift\nexec sh -c \"$*\"\n",
    )
    .expect("write");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

fn daemon_log(s: &Scratch) -> String {
    fs::read_to_string(s.path("daemon.log")).unwrap_or_default()
}

/// Listing, push, pull, `--files-from`, and auth (right and wrong
/// password) from `cbin` to a daemon run by `dbin`, reached `via`.
fn exercise(cbin: &Path, dbin: &Path, via: Via, hosts: &str) -> (Scratch, String) {
    let s = Scratch::new();
    let conf = conf(&s, hosts);
    let logs = s.logs();
    let base = match via {
        Via::ConnectProg => "rsync://localhost/".to_string(),
        Via::RemoteShell => "localhost::".to_string(),
    };
    let label = format!("{} -> {} daemon", cbin.display(), dbin.display());

    let list = run(client(&s, cbin, dbin, &conf, via).arg(&base), &logs);
    list.assert_code(0);
    let names: Vec<&str> = list
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["pub", "auth"], "{label}: listing {list:?}");

    make_tree(&s.path("src"));
    run(
        client(&s, cbin, dbin, &conf, via)
            .arg("-a")
            .arg("src/")
            .arg(format!("{base}pub/up/")),
        &logs,
    )
    .assert_code(0);
    assert_tree(&s.path("src"), &s.path("pub/up"));

    run(
        client(&s, cbin, dbin, &conf, via)
            .arg("-a")
            .arg(format!("{base}pub/up/"))
            .arg("down/"),
        &logs,
    )
    .assert_code(0);
    assert_tree(&s.path("src"), &s.path("down"));

    fs::write(s.path("list"), "up/sub/b.bin\n").expect("list");
    run(
        client(&s, cbin, dbin, &conf, via)
            .args(["-a", "--files-from=list"])
            .arg(format!("{base}pub/"))
            .arg("picked/"),
        &logs,
    )
    .assert_code(0);
    assert_eq!(
        fs::read(s.path("picked/up/sub/b.bin")).expect("picked"),
        fs::read(s.path("src/sub/b.bin")).expect("src"),
        "{label}: files-from"
    );
    assert!(!s.path("picked/up/a.txt").exists(), "{label}: files-from");

    let user_url = match via {
        Via::ConnectProg => "rsync://alice@localhost/auth/".to_string(),
        Via::RemoteShell => "alice@localhost::auth/".to_string(),
    };
    let good = run(
        client(&s, cbin, dbin, &conf, via)
            .env("RSYNC_PASSWORD", "sesame")
            .arg("-r")
            .arg(&user_url)
            .arg("authed/"),
        &logs,
    );
    good.assert_code(0);
    assert_eq!(
        fs::read(s.path("authed/secret.txt")).expect("authed"),
        b"for alice\n"
    );
    let bad = run(
        client(&s, cbin, dbin, &conf, via)
            .env("RSYNC_PASSWORD", "wrong")
            .arg("-r")
            .arg(&user_url)
            .arg("refused/"),
        &logs,
    );
    bad.assert_code(5);
    assert!(
        bad.stderr.contains("@ERROR: auth failed on module auth"),
        "{label}: {bad:?}"
    );
    assert!(!s.path("refused").exists(), "{label}");
    let log = daemon_log(&s);
    (s, log)
}

fn pairs() -> [(PathBuf, PathBuf); 3] {
    [
        (oxsync_bin(), rsync_bin()),
        (oxsync_bin(), oxsync_bin()),
        (rsync_bin(), oxsync_bin()),
    ]
}

/// `RSYNC_CONNECT_PROG="DAEMON --config=X --daemon"`: the daemon sees a
/// loopback TCP peer, so upstream's test configuration (`hosts allow =
/// localhost 127.0.0.0/8`) admits it.
#[test]
fn connect_prog_daemon_both_ways() {
    for (c, d) in pairs() {
        let (_s, log) = exercise(
            &c,
            &d,
            Via::ConnectProg,
            "hosts allow = localhost 127.0.0.0/8",
        );
        assert!(
            log.contains("connect from localhost (127.0.0.1)"),
            "{} -> {}: {log}",
            c.display(),
            d.display()
        );
    }
}

/// `-e SHELL host::module` starts `RSYNC_PATH --server --daemon .` on the
/// far side and speaks the daemon protocol over the pipes. The peer is
/// 0.0.0.0 (no ssh variables), named UNKNOWN, as upstream reports it.
#[test]
fn remote_shell_daemon_both_ways() {
    for (c, d) in pairs() {
        let (_s, log) = exercise(&c, &d, Via::RemoteShell, "");
        assert!(
            log.contains("connect from UNKNOWN (0.0.0.0)"),
            "{} -> {}: {log}",
            c.display(),
            d.display()
        );
    }
}

/// The far side of `-e` gets exactly `HOST RSYNC_PATH --server --daemon .`
/// (and `-l USER` for `user@host::`), whatever the transfer options.
#[test]
fn remote_shell_daemon_command_line() {
    let s = Scratch::new();
    let rec = s.path("argv");
    let sh = s.path("rec.sh");
    fs::write(
        &sh,
        format!(
            "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done > {}\nexit 0\n",
            rec.display()
        ),
    )
    .expect("w");
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).expect("chmod");
    let r = run(
        Command::new(oxsync_bin())
            .current_dir(s.root())
            .arg("-e")
            .arg(&sh)
            .args(["-av", "--delete", "bob@far.example::mod/x", "d/"]),
        &s.logs(),
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert_eq!(
        fs::read_to_string(&rec).expect("argv"),
        "-l\nbob\nfar.example\nrsync\n--server\n--daemon\n.\n"
    );
    // A host that would read as an option is refused before anything runs
    // (rsync 3.5.0 main.c; 3.2.7 hands it to the remote shell).
    fs::remove_file(&rec).expect("rm");
    let r = run(
        Command::new(oxsync_bin())
            .current_dir(s.root())
            .arg("-e")
            .arg(&sh)
            .args(["--", "-oProxyCommand=x::mod/", "d/"]),
        &s.logs(),
    );
    r.assert_code(1);
    assert_eq!(
        r.stderr.lines().next(),
        Some("Invalid remote host: hostnames may not start with '-'."),
        "{r:?}"
    );
    assert!(!rec.exists(), "the remote shell ran");
}

/// A host a shell could act on is refused before anything runs, when the
/// program substitutes `%H`; ordinary hosts reach the program, quoted.
#[test]
fn connect_prog_refuses_shell_active_hosts() {
    let s = Scratch::new();
    let seen = s.path("seen");
    let probe = s.path("probe.sh");
    fs::write(
        &probe,
        format!("#!/bin/sh\nprintf %s \"$1\" > {}\n", seen.display()),
    )
    .expect("w");
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).expect("chmod");
    let attempt = |host: &str, prog: &str| -> Run {
        let _ = fs::remove_file(&seen);
        run(
            Command::new(oxsync_bin())
                .current_dir(s.root())
                .env("RSYNC_CONNECT_PROG", prog)
                .arg(format!("rsync://{host}/m/"))
                .arg("out/"),
            &s.logs(),
        )
    };
    // The nested-shell injection: refused, and nothing ran.
    let r = attempt(
        "localhost;touch${IFS}pwned;#",
        "sh -c 'printf %H >/dev/null'",
    );
    r.assert_code(10);
    assert_eq!(r.stderr.lines().next(), Some(REFUSAL), "{r:?}");
    assert!(!s.path("pwned").exists());
    let probe_cmd = format!("{} %H", probe.display());
    for host in ["-c", "+x", "~root", "%self", "", "a b", "a'b", "a$(id)"] {
        let r = attempt(host, &probe_cmd);
        r.assert_code(10);
        assert_eq!(r.stderr.lines().next(), Some(REFUSAL), "{host:?}: {r:?}");
        assert!(!seen.exists(), "{host:?} reached the program");
    }
    for (host, expect) in [
        ("example.com", "example.com"),
        ("example.com.", "example.com."),
        ("host_name", "host_name"),
        ("host+alias", "host+alias"),
        ("host~alias", "host~alias"),
        ("[fe80::1%eth0]", "fe80::1%eth0"),
    ] {
        let r = attempt(host, &probe_cmd);
        assert!(!r.stderr.contains(REFUSAL), "{host}: {r:?}");
        assert_eq!(
            fs::read_to_string(&seen).unwrap_or_default(),
            expect,
            "{r:?}"
        );
    }
    // `%%` is a literal `%`; without `%` in the program the host is not
    // substituted, so it is not checked either (upstream).
    let r = attempt("h", &format!("{} 100%%", probe.display()));
    assert!(!r.stderr.contains(REFUSAL), "{r:?}");
    assert_eq!(fs::read_to_string(&seen).expect("seen"), "100%");
    let r = attempt("a;b", &format!("{} fixed", probe.display()));
    assert!(!r.stderr.contains(REFUSAL), "{r:?}");
    assert_eq!(fs::read_to_string(&seen).expect("seen"), "fixed");
}

/// The daemon in inetd mode on a Unix-domain socket pair answers as stock
/// rsync does: the peer is "localhost" named UNKNOWN, which `hosts allow =
/// localhost` does not admit and an open module serves.
#[test]
fn inetd_mode_on_a_unix_socket_pair() {
    for hosts in ["hosts allow = localhost 127.0.0.0/8", ""] {
        let mut answers = Vec::new();
        for bin in [oxsync_bin(), rsync_bin()] {
            let s = Scratch::new();
            let conf = conf(&s, hosts);
            let (ours, theirs) = UnixStream::pair().expect("pair");
            let theirs: OwnedFd = theirs.into();
            let out = theirs.try_clone().expect("dup");
            let mut child = Command::new(&bin)
                .arg(format!("--config={}", conf.display()))
                .arg("--daemon")
                .stdin(Stdio::from(theirs))
                .stdout(Stdio::from(out))
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn daemon");
            ours.set_read_timeout(Some(Duration::from_secs(60)))
                .expect("timeout");
            (&ours).write_all(b"@RSYNCD: 31.0\npub\n").expect("write");
            let mut r = BufReader::new(&ours);
            let mut lines = Vec::new();
            loop {
                let mut l = String::new();
                match r.read_line(&mut l) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let l = l.trim_end().to_string();
                let done = l.starts_with("@ERROR") || l == "@RSYNCD: OK";
                lines.push(l);
                if done {
                    break;
                }
            }
            drop(r);
            drop(ours);
            let _ = child.wait();
            let log = daemon_log(&s);
            assert!(
                log.contains("connect from UNKNOWN (localhost)"),
                "{}: {log}",
                bin.display()
            );
            answers.push(lines);
        }
        assert!(answers[0][0].starts_with("@RSYNCD: "), "{answers:?}");
        assert_eq!(answers[0][1..], answers[1][1..], "{hosts:?}");
        let want = if hosts.is_empty() {
            "@RSYNCD: OK"
        } else {
            "@ERROR: access denied to pub from UNKNOWN (localhost)"
        };
        assert_eq!(answers[0].last().map(String::as_str), Some(want));
    }
}

/// A pull over a connect-prog socket is a pull from a remote peer: the
/// receiving client confines itself with Landlock (reported at -vv).
#[test]
fn connect_prog_pull_is_confined() {
    let s = Scratch::new();
    let conf = conf(&s, "");
    write_file(&s.path("pub/f"), b"x", 0o644, T0);
    let r = run(
        client(&s, &oxsync_bin(), &rsync_bin(), &conf, Via::ConnectProg).args([
            "-a",
            "-vv",
            "rsync://localhost/pub/",
            "dst/",
        ]),
        &s.logs(),
    );
    r.assert_code(0);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("landlock: abi"),
        "{r:?}"
    );
    assert_eq!(fs::read(s.path("dst/f")).expect("pulled"), b"x");
}

/// A listening socket on stdin (systemd `Accept=no`) is still a listener,
/// not a connection to serve: the inetd check looks at the socket's state.
#[test]
fn listening_socket_on_stdin_still_listens() {
    let s = Scratch::new();
    let conf = conf(&s, "");
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let fd: OwnedFd = l.into();
    let mut child = Command::new(oxsync_bin())
        .arg(format!("--config={}", conf.display()))
        .args(["--daemon", "--no-detach"])
        .stdin(Stdio::from(fd))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut answers = Vec::new();
    for _ in 0..2 {
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        (&c).write_all(b"@RSYNCD: 31.0\n#list\n").expect("write");
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut &c, &mut text);
        answers.push(text);
    }
    let _ = child.kill();
    let _ = child.wait();
    for a in &answers {
        assert!(
            a.ends_with("pub            \t\nauth           \t\n@RSYNCD: EXIT\n"),
            "{a:?}"
        );
    }
}
