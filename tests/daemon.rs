//! The daemon: stock rsync as the client against `oxsync --daemon`
//! (listing, push, pull, auth, read only, hosts deny, max connections,
//! refused options), and oxsync as the client against `rsync --daemon`.
use super::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A daemon process, killed on drop.
pub(crate) struct Daemon {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Daemon {
    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
    /// Its scratch directory (`%ROOT%` in the modules).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `bin --daemon --no-detach` with a config built from `modules`
/// (`%ROOT%` stands for the scratch directory).
pub(crate) fn start(bin: &Path, modules: &str) -> Daemon {
    start_env(bin, modules, &[])
}

/// As [`start`], with extra environment variables for the daemon.
pub(crate) fn start_env(bin: &Path, modules: &str, env: &[(&str, &str)]) -> Daemon {
    start_with(bin, modules, env, &[])
}

/// As [`start_env`], with extra daemon arguments.
// The child that listens is returned inside `Daemon`, whose drop kills and
// reaps it; clippy cannot follow it out of the loop.
#[allow(clippy::zombie_processes)]
pub(crate) fn start_with(bin: &Path, modules: &str, env: &[(&str, &str)], args: &[&str]) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    for d in ["mod", "ro", "src/sub", "dst"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let secrets = root.join("secrets");
    fs::write(&secrets, "alice:sesame\n").expect("secrets");
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o600)).expect("chmod");
    let conf = root.join("rsyncd.conf");
    // Run transfers as ourselves (stock rsync running as root would
    // otherwise switch to "nobody").
    let me = fs::metadata(&root).expect("stat");
    let text = format!(
        "use chroot = no\nuid = {2}\ngid = {3}\nlog file = {0}/daemon.log\nlock file = {0}/lock\n{1}",
        root.display(),
        modules.replace("%ROOT%", &root.to_string_lossy()),
        me.uid(),
        me.gid()
    );
    fs::write(&conf, text).expect("conf");
    // The port is only free until someone binds it: a daemon that exits
    // (another test took the port meanwhile) is started again on another.
    let mut tries = 0;
    let (child, port) = loop {
        tries += 1;
        let port = free_port();
        let mut child = Command::new(bin)
            .args([
                "--daemon",
                "--no-detach",
                "--port",
                &port.to_string(),
                "--config",
            ])
            .arg(&conf)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start daemon");
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut exited = false;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if child.try_wait().ok().flatten().is_some() {
                let _ = child.wait();
                exited = true;
                break;
            }
            if Instant::now() >= deadline {
                // Neither listening nor gone (a bind that keeps retrying on
                // a taken port): try again on another port.
                let _ = child.kill();
                let _ = child.wait();
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Someone answered; make sure it is this daemon and not another
        // test's that took the port first (ours then fails to bind and exits).
        if !exited {
            std::thread::sleep(Duration::from_millis(150));
            exited = child.try_wait().ok().flatten().is_some();
        }
        if !exited {
            break (child, port);
        }
        assert!(
            tries < 5,
            "the daemon did not start listening in 5 tries (last port {port})"
        );
    };
    Daemon {
        child,
        port,
        _dir: dir,
        root,
    }
}

const MODULES: &str = "[mod]\npath = %ROOT%/mod\nread only = no\ncomment = the module\n\
[ro]\npath = %ROOT%/ro\n\
[hidden]\npath = %ROOT%/mod\nlist = no\n\
[auth]\npath = %ROOT%/mod\nread only = no\nauth users = alice\nsecrets file = %ROOT%/secrets\n\
[deny]\npath = %ROOT%/mod\nread only = no\nhosts deny = 127.0.0.0/8\n\
[one]\npath = %ROOT%/mod\nmax connections = 1\n\
[nodel]\npath = %ROOT%/mod\nread only = no\nrefuse options = delete\n";

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .env_remove("RSYNC_PASSWORD")
        .output()
        .expect("run client")
}

fn make_tree(src: &Path) {
    fs::write(src.join("a.txt"), b"hello\n").expect("w");
    fs::write(
        src.join("sub/b.bin"),
        (0..70_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .expect("w");
    fs::set_permissions(src.join("a.txt"), fs::Permissions::from_mode(0o640)).expect("chmod");
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    for f in ["a.txt", "sub/b.bin"] {
        fs::File::options()
            .write(true)
            .open(src.join(f))
            .and_then(|f| f.set_modified(t))
            .expect("mtime");
    }
}

/// Bytes, mode and mtime of every regular file below `a` match `b`.
fn assert_same_tree(a: &Path, b: &Path) {
    for rel in ["a.txt", "sub/b.bin"] {
        let (x, y) = (a.join(rel), b.join(rel));
        assert_eq!(
            fs::read(&x).expect("read a"),
            fs::read(&y).unwrap_or_else(|e| panic!("{}: {e}", y.display())),
            "{rel} bytes"
        );
        let (mx, my) = (fs::metadata(&x).expect("m"), fs::metadata(&y).expect("m"));
        assert_eq!(mx.mode() & 0o7777, my.mode() & 0o7777, "{rel} mode");
        assert_eq!(mx.mtime(), my.mtime(), "{rel} mtime");
    }
}

/// The daemon's scratch directory (modules live below it).
pub(crate) fn root(d: &Daemon) -> PathBuf {
    d.root.clone()
}

pub(crate) fn url(d: &Daemon, rest: &str) -> String {
    format!("rsync://127.0.0.1:{}/{rest}", d.port)
}

#[test]
fn stock_client_lists_modules() {
    let d = start(&oxsync_bin(), MODULES);
    let out = run(Command::new(rsync_bin()).arg(url(&d, "")));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mod            \tthe module"), "{text}");
    assert!(text.contains("ro"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
}

#[test]
fn stock_client_push_and_pull() {
    let d = start(&oxsync_bin(), MODULES);
    let src = d.root.join("src");
    make_tree(&src);
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "mod/")));
    assert!(out.status.success(), "push: {out:?}");
    assert_same_tree(&src, &d.root.join("mod"));
    let dst = d.root.join("dst");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "mod/"))
        .arg(format!("{}/", dst.display())));
    assert!(out.status.success(), "pull: {out:?}");
    assert_same_tree(&src, &dst);
    // A path inside the module, and an escape attempt.
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "mod/sub/b.bin"))
        .arg(d.root.join("dst/single")));
    assert!(out.status.success(), "pull one file: {out:?}");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "mod/../"))
        .arg(d.root.join("dst/escape")));
    assert!(!out.status.success(), "escape must fail: {out:?}");
}

#[test]
fn stock_client_auth() {
    let d = start(&oxsync_bin(), MODULES);
    let src = d.root.join("src");
    make_tree(&src);
    let out = Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "auth/").replace("rsync://", "rsync://alice@"))
        .env("RSYNC_PASSWORD", "sesame")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(out.status.success(), "RSYNC_PASSWORD: {out:?}");
    let pw = d.root.join("pw");
    fs::write(&pw, "sesame\n").expect("pw");
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("--password-file={}", pw.display()))
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "auth/").replace("rsync://", "rsync://alice@")));
    assert!(out.status.success(), "right password: {out:?}");
    fs::write(&pw, "wrong\n").expect("pw");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("--password-file={}", pw.display()))
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "auth/").replace("rsync://", "rsync://alice@")));
    assert_eq!(out.status.code(), Some(5), "wrong password: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auth failed on module auth"),
        "{out:?}"
    );
}

#[test]
fn stock_client_refusals() {
    let d = start(&oxsync_bin(), MODULES);
    let src = d.root.join("src");
    make_tree(&src);
    let push = |m: &str, extra: &[&str]| {
        run(Command::new(rsync_bin())
            .arg("-a")
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(url(&d, m)))
    };
    let out = push("ro/", &[]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("module is read only"),
        "{out:?}"
    );
    assert!(
        fs::read_dir(d.root.join("ro"))
            .expect("ro")
            .next()
            .is_none(),
        "nothing written to a read-only module"
    );
    let out = push("deny/", &[]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("access denied to deny"),
        "{out:?}"
    );
    let out = push("nodel/", &["--delete"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("The server is configured to refuse --delete"),
        "{out:?}"
    );
    let out = push("nosuch/", &[]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unknown module 'nosuch'"),
        "{out:?}"
    );
}

#[test]
fn max_connections() {
    let d = start(&oxsync_bin(), MODULES);
    // Hold the only slot with a hand-driven connection parked after OK.
    let s = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    w.write_all(b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\none\n")
        .expect("send");
    let mut r = BufReader::new(s);
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).expect("read") > 0,
            "closed early: {seen:?}"
        );
        if line.starts_with("@RSYNCD: OK") {
            break;
        }
        assert!(!line.starts_with("@ERROR"), "{line}");
        seen.push(line);
    }
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "one/"))
        .arg(d.root.join("dst/x")));
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max connections (1) reached"),
        "{out:?}"
    );
    drop(w);
    drop(r);
    // The slot frees when the first connection's process ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(Command::new(rsync_bin())
            .arg("-a")
            .arg(url(&d, "one/"))
            .arg(d.root.join("dst/y")));
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn oxsync_client_against_stock_daemon() {
    let d = start(&rsync_bin(), MODULES);
    let src = d.root.join("src");
    make_tree(&src);
    let ox = oxsync_bin();
    let out = run(Command::new(&ox).arg(url(&d, "")));
    assert!(out.status.success(), "list: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mod") && !text.contains("hidden"), "{text}");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "mod/")));
    assert!(out.status.success(), "push: {out:?}");
    assert_same_tree(&src, &d.root.join("mod"));
    let dst = d.root.join("dst");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg("127.0.0.1::mod/")
        .arg(format!("{}/", dst.display()))
        .arg(format!("--port={}", d.port)));
    assert!(out.status.success(), "pull: {out:?}");
    assert_same_tree(&src, &dst);
    let pw = d.root.join("pw");
    fs::write(&pw, "sesame\n").expect("pw");
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).expect("chmod");
    let auth_url = url(&d, "auth/").replace("rsync://", "rsync://alice@");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("--password-file={}", pw.display()))
        .arg(format!("{}/", src.display()))
        .arg(&auth_url));
    assert!(out.status.success(), "auth: {out:?}");
    fs::write(&pw, "wrong\n").expect("pw");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("--password-file={}", pw.display()))
        .arg(format!("{}/", src.display()))
        .arg(&auth_url));
    assert_eq!(out.status.code(), Some(5), "wrong password: {out:?}");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "ro/")));
    assert!(!out.status.success(), "read only: {out:?}");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "deny/")));
    assert_eq!(out.status.code(), Some(5), "hosts deny: {out:?}");
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg("--delete")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "nodel/")));
    assert!(!out.status.success(), "refused delete: {out:?}");
    // max connections = 1: hold the slot with a parked connection.
    let (mut s, mut r) = greeted(&d);
    s.write_all(b"@RSYNCD: 31.0\none\n").expect("send");
    let mut line = String::new();
    while !line.starts_with("@RSYNCD: OK") {
        line.clear();
        assert!(r.read_line(&mut line).expect("read") > 0, "closed early");
        assert!(!line.starts_with("@ERROR"), "{line}");
    }
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(url(&d, "one/"))
        .arg(d.root.join("dst/one")));
    assert_eq!(out.status.code(), Some(5), "max connections: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("@ERROR: max connections (1) reached -- try again later"),
        "{out:?}"
    );
    drop(s);
    drop(r);
}

#[test]
fn oxsync_client_against_stock_daemon_compress_and_timeout() {
    let d = start(
        &rsync_bin(),
        "[dc]\npath = %ROOT%/mod\ndont compress = *.gz\n\
         [all]\npath = %ROOT%/mod\ndont compress = *\n\
         [slow]\npath = %ROOT%/mod\nread only = no\ntimeout = 2\n",
    );
    let m = d.root.join("mod");
    compress_fixtures(&m);
    let ox = oxsync_bin();
    for (module, zc) in [
        ("dc", "zlib"),
        ("dc", "zstd"),
        ("all", "zlib"),
        ("all", "zstd"),
    ] {
        let to = d.root.join(format!("dst/{module}-{zc}"));
        pulled_bytes(
            &ox,
            &d,
            &format!("{module}/"),
            &[&format!("--zc={zc}")],
            &to,
        );
        for f in ["notes.txt", "packed.gz", "noise.bin"] {
            assert_eq!(
                fs::read(m.join(f)).expect("r"),
                fs::read(to.join(f)).expect("r"),
                "{module} {zc}: {f}"
            );
        }
    }
    // A module timeout: the stock daemon announces it (MSG_IO_TIMEOUT,
    // which the client may ignore) and transfers still work...
    let src = d.root.join("src");
    make_tree(&src);
    let out = run(Command::new(&ox)
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "slow/up/")));
    assert!(out.status.success(), "push with a module timeout: {out:?}");
    assert_same_tree(&src, &m.join("up"));
    let out = run(Command::new(&ox)
        .arg("-az")
        .arg(url(&d, "slow/up/"))
        .arg(d.root.join("dst/slow")));
    assert!(out.status.success(), "pull with a module timeout: {out:?}");
    assert_same_tree(&src, &d.root.join("dst/slow"));
    // ...and an oxsync client that goes quiet is dropped by the daemon.
    let out = stalled_push(&ox, &d, "slow/quiet/", "io timeout after 2 seconds");
    assert!(!out.status.success(), "{out:?}");
}

fn log_text(d: &Daemon) -> String {
    fs::read_to_string(d.root.join("daemon.log")).unwrap_or_default()
}

/// The uid of a user name in /etc/passwd.
fn passwd_uid(name: &str) -> Option<u32> {
    fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[0] == name)
                .then(|| f[2].parse().ok())
                .flatten()
        })
}

#[test]
fn privilege_drop_and_chroot() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let Some(nobody) = passwd_uid("nobody") else {
        eprintln!("skipped: no user nobody");
        return;
    };
    let d = start(
        &oxsync_bin(),
        "[drop]\npath = %ROOT%/jail\nread only = no\nuid = nobody\ngid = nogroup\nuse chroot = yes\n",
    );
    let jail = d.root.join("jail");
    fs::create_dir_all(jail.join("probe-sub")).expect("mkdir");
    fs::write(jail.join("probe-sub/inside"), "in the jail\n").expect("w");
    fs::set_permissions(&jail, fs::Permissions::from_mode(0o777)).expect("chmod");
    // An absolute symlink: inside the chroot it names jail/probe-sub.
    std::os::unix::fs::symlink("/probe-sub", jail.join("abs")).expect("ln");
    let src = d.root.join("src");
    make_tree(&src);
    let out = run(Command::new(rsync_bin())
        .arg("-rt")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "drop/up/")));
    assert!(out.status.success(), "push: {out:?}");
    for f in ["up/a.txt", "up/sub/b.bin"] {
        let m = fs::metadata(jail.join(f)).expect("pushed");
        assert_eq!(m.uid(), nobody, "{f} belongs to nobody");
    }
    // Following /probe-sub works only when the session is chrooted.
    let out = run(Command::new(rsync_bin())
        .arg("-r")
        .arg(url(&d, "drop/abs/"))
        .arg(d.root.join("dst/viaabs")));
    assert!(out.status.success(), "pull through /probe-sub: {out:?}");
    assert_eq!(
        fs::read_to_string(d.root.join("dst/viaabs/inside")).expect("pulled"),
        "in the jail\n"
    );
}

#[test]
fn module_filters_cannot_be_bypassed() {
    let d = start(
        &oxsync_bin(),
        "[flt]\npath = %ROOT%/mod\nread only = no\nexclude = secret/\n",
    );
    let m = d.root.join("mod");
    fs::create_dir_all(m.join("secret")).expect("mkdir");
    fs::write(m.join("secret/file"), "hidden\n").expect("w");
    fs::write(m.join("pub.txt"), "public\n").expect("w");
    let pulls: &[(&[&str], &str)] = &[
        (&[], "flt/"),
        (&["--include=secret/**"], "flt/"),
        (&["-f", "+ secret/"], "flt/"),
        (&["--include=secret", "--include=secret/file"], "flt/"),
        (&[], "flt/secret/file"),
        (&[], "flt/secret/"),
        (&[], "flt/secret"),
    ];
    for (i, (extra, path)) in pulls.iter().enumerate() {
        let dst = d.root.join(format!("dst/p{i}"));
        let _ = run(Command::new(rsync_bin())
            .arg("-r")
            .args(*extra)
            .arg(url(&d, path))
            .arg(format!("{}/", dst.display())));
        let got: Vec<_> = walk(&dst);
        assert!(
            !got.iter().any(|p| p.contains("secret") || p == "file"),
            "{extra:?} {path}: {got:?}"
        );
    }
    assert!(d.root.join("dst/p0/pub.txt").exists(), "the rest is sent");
    // Pushing into secret/, by path or by name.
    let src = d.root.join("src");
    fs::create_dir_all(src.join("secret")).expect("mkdir");
    fs::write(src.join("secret/planted"), "x").expect("w");
    let out = run(Command::new(rsync_bin())
        .arg("-r")
        .arg("--include=secret/**")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "flt/")));
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("daemon refused to receive"),
        "{out:?}"
    );
    let out = run(Command::new(rsync_bin())
        .arg("-r")
        .arg(format!("{}/", src.join("secret").display()))
        .arg(url(&d, "flt/secret/")));
    assert!(!out.status.success(), "{out:?}");
    assert!(!m.join("secret/planted").exists());
    assert_eq!(
        fs::read_to_string(m.join("secret/file")).expect("r"),
        "hidden\n"
    );
}

/// Every path below `dir`, relative.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = fs::read_dir(&p) else { continue };
        for e in rd.flatten() {
            let path = e.path();
            out.push(
                path.strip_prefix(dir)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// Connects and reads the daemon's greeting line.
fn greeted(d: &Daemon) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("@RSYNCD: "), "{line}");
    (s, r)
}

#[test]
fn garbage_and_silent_clients() {
    let d = start(&oxsync_bin(), &format!("handshake timeout = 2\n{MODULES}"));
    let (mut s, mut r) = greeted(&d);
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("send");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut r, &mut rest);
    assert!(rest.contains("@ERROR: protocol startup error"), "{rest:?}");
    // One that says nothing is dropped after the handshake timeout.
    let (_s, mut r) = greeted(&d);
    let t0 = Instant::now();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut r, &mut rest);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = log_text(&d);
        if log.contains("protocol startup error") && log.contains("timeout waiting for greeting") {
            break;
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn fifty_parallel_pushes_in_separate_processes() {
    let d = start(&oxsync_bin(), MODULES);
    let src = d.root.join("src");
    make_tree(&src);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (src, url) = (src.clone(), url(&d, &format!("mod/c{i}/")));
            std::thread::spawn(move || {
                run(Command::new(rsync_bin())
                    .arg("-a")
                    .arg(format!("{}/", src.display()))
                    .arg(url))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.join().expect("join");
        assert!(out.status.success(), "client {i}: {out:?}");
    }
    for i in 0..50 {
        assert_same_tree(&src, &d.root.join(format!("mod/c{i}")));
    }
    // Each session logged its request from its own process.
    let log = log_text(&d);
    let mut pids = std::collections::BTreeSet::new();
    for line in log.lines().filter(|l| l.contains("rsync to mod/c")) {
        let pid = line
            .split('[')
            .nth(1)
            .and_then(|r| r.split(']').next())
            .expect("pid");
        pids.insert(pid.to_string());
    }
    assert_eq!(pids.len(), 50, "{log}");
}

/// A relay to the daemon that cuts the connection after `limit` bytes
/// from the client: a client gone mid-transfer. Returns its port.
fn cutting_relay(daemon_port: u16, limit: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let Ok((client, _)) = l.accept() else { return };
        let daemon = TcpStream::connect(("127.0.0.1", daemon_port)).expect("connect");
        let (mut c_r, mut d_w) = (
            client.try_clone().expect("c"),
            daemon.try_clone().expect("d"),
        );
        let (mut d_r, mut c_w) = (
            daemon.try_clone().expect("d"),
            client.try_clone().expect("c"),
        );
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut d_r, &mut c_w);
        });
        let mut sent = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while sent < limit {
            match std::io::Read::read(&mut c_r, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if d_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
            }
        }
        let _ = daemon.shutdown(std::net::Shutdown::Both);
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
    port
}

#[test]
fn client_gone_mid_transfer_leaves_no_partial_file() {
    let d = start(&oxsync_bin(), MODULES);
    let src = d.root.join("src");
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(src.join("big"), &big).expect("w");
    let m = d.root.join("mod");
    fs::write(m.join("big"), b"old content\n").expect("w");
    let relay = cutting_relay(d.port, 4 << 20);
    let out = run(Command::new(rsync_bin())
        .arg("-W")
        .arg("-I")
        .arg(src.join("big"))
        .arg(format!("rsync://127.0.0.1:{relay}/mod/")));
    assert!(
        !out.status.success(),
        "the cut must fail the transfer: {out:?}"
    );
    let leftovers = || {
        fs::read_dir(&m)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".big."))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !leftovers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "temp file left behind: {:?}",
            leftovers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The old content, untouched, under the final name.
    assert_eq!(fs::read(m.join("big")).expect("r"), b"old content\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log_text(&d).contains("receiver failed") {
        assert!(Instant::now() < deadline, "{}", log_text(&d));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The daemon's `--log-file-format=FMT` logs every module's transfers in
/// FMT, `transfer logging` or not; an empty one logs none, even where the
/// module asks. `-v` is accepted. As stock rsync's daemon does.
#[test]
fn log_file_format_option_overrides_the_modules() {
    let modules = "[plain]\npath = %ROOT%/mod\nread only = no\n\
                   [tl]\npath = %ROOT%/mod\nread only = no\ntransfer logging = yes\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        for (fmt, module, logged) in [("%o|%n|%l", "plain", true), ("", "tl", false)] {
            let arg = format!("--log-file-format={fmt}");
            let d = start_with(&bin, modules, &[], &[&arg, "-v"]);
            fs::write(d.root.join("src/f.txt"), "seven\n").expect("w");
            let out = run(Command::new(rsync_bin())
                .arg("-r")
                .arg(format!("{}/", d.root.join("src").display()))
                .arg(url(&d, &format!("{module}/"))));
            let who = format!("{} daemon, {arg}", bin.display());
            assert!(out.status.success(), "{who}: {out:?}");
            let log = log_text(&d);
            assert_eq!(log.contains("] recv|f.txt|6"), logged, "{who}: {log}");
            assert!(!log.contains(" recv "), "{who}: {log}");
        }
    }
}

#[test]
fn transfer_logging() {
    let d = start(
        &oxsync_bin(),
        "[tl]\npath = %ROOT%/mod\nread only = no\ntransfer logging = yes\n\
         [tf]\npath = %ROOT%/mod\ntransfer logging = yes\nlog format = %o|%m|%n|%l|%a|%P\n",
    );
    let src = d.root.join("src");
    make_tree(&src);
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "tl/")));
    assert!(out.status.success(), "{out:?}");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "tf/sub/"))
        .arg(d.root.join("dst/")));
    assert!(out.status.success(), "{out:?}");
    let log = log_text(&d);
    let recv: Vec<&str> = log.lines().filter(|l| l.contains("] recv ")).collect();
    assert_eq!(recv.len(), 2, "{log}");
    assert!(
        recv.iter().any(|l| l.contains("[127.0.0.1] tl () a.txt 6")),
        "{log}"
    );
    assert!(
        recv.iter()
            .any(|l| l.contains("[127.0.0.1] tl () sub/b.bin 70000")),
        "{log}"
    );
    let root = fs::canonicalize(d.root.join("mod")).expect("canon");
    assert!(
        log.contains(&format!("send|tf|b.bin|70000|127.0.0.1|{}", root.display())),
        "{log}"
    );
}

#[test]
fn incoming_and_outgoing_chmod() {
    let d = start(
        &oxsync_bin(),
        "[in]\npath = %ROOT%/mod\nread only = no\nincoming chmod = Fg-r,Dg+s\n\
         [out]\npath = %ROOT%/mod\noutgoing chmod = Fo-r,Fu+x\n",
    );
    let src = d.root.join("src");
    make_tree(&src);
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "in/")));
    assert!(out.status.success(), "{out:?}");
    let mode = |p: &Path| fs::metadata(p).expect("stat").mode() & 0o7777;
    assert_eq!(mode(&d.root.join("mod/a.txt")), 0o600);
    assert_eq!(mode(&d.root.join("mod/sub")) & 0o2000, 0o2000);
    fs::set_permissions(
        d.root.join("mod/sub/b.bin"),
        fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(url(&d, "out/sub/b.bin"))
        .arg(d.root.join("dst/b.bin")));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&d.root.join("dst/b.bin")), 0o740);
}

#[test]
fn module_timeout_ends_an_idle_session() {
    let d = start(&oxsync_bin(), "[slow]\npath = %ROOT%/mod\ntimeout = 2\n");
    let (mut s, mut r) = greeted(&d);
    s.write_all(b"@RSYNCD: 31.0 md5\nslow\n").expect("send");
    let mut line = String::new();
    while !line.starts_with("@RSYNCD: OK") {
        line.clear();
        assert!(r.read_line(&mut line).expect("read") > 0, "closed early");
        assert!(!line.starts_with("@ERROR"), "{line}");
    }
    s.write_all(b"--server\0--sender\0-r\0.\0slow/\0\0")
        .expect("args");
    // Then silence: the daemon gives up after the module's timeout.
    let t0 = Instant::now();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut r, &mut rest);
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = log_text(&d);
        if log.contains("io timeout after 2 seconds -- exiting (code 30)") {
            break;
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Bytes that compress well (text) and bytes that do not (pseudo-random).
fn compress_fixtures(dir: &Path) -> (usize, usize) {
    let text: String = (0..6000)
        .map(|i| format!("line {i} of a very compressible text file\n"))
        .collect();
    fs::write(dir.join("notes.txt"), &text).expect("w");
    // A ".gz" that is really text: only the module's rule keeps zlib from
    // squeezing it.
    fs::write(dir.join("packed.gz"), &text).expect("w");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(dir.join("noise.bin"), &noise).expect("w");
    (text.len(), noise.len())
}

/// Pulls `path` with the client `bin` and returns its "Total bytes
/// received".
fn pulled_bytes(bin: &Path, d: &Daemon, path: &str, extra: &[&str], dst: &Path) -> u64 {
    let out = run(Command::new(bin)
        .args(["-a", "-z", "--stats"])
        .args(extra)
        .arg(url(d, path))
        .arg(dst));
    assert!(out.status.success(), "{path} {extra:?}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    super::util::stat_bytes(&text, "Total bytes received").expect("stats")
}

const DONT_COMPRESS_MODULES: &str = "[gz]\npath = %ROOT%/mod\ndont compress = *.zip *.GZ\n\
     [plain]\npath = %ROOT%/mod\n\
     [all]\npath = %ROOT%/mod\ndont compress = *\n";

/// The module's `dont compress` reaches the sending engine: matching files
/// (or all, for `*`) go at the lowest zlib level while other names keep
/// the default, a client's --skip-compress adds to the list, and every
/// codec still delivers exact copies.
#[test]
fn dont_compress_in_oxsync_daemon() {
    let d = start(&oxsync_bin(), DONT_COMPRESS_MODULES);
    let m = d.root.join("mod");
    let (_, noise_len) = compress_fixtures(&m);
    let dst = d.root.join("dst");
    let zlib = ["--zc=zlib"];
    let pull = |path: &str, extra: &[&str], to: &str| {
        pulled_bytes(&rsync_bin(), &d, path, extra, &dst.join(to))
    };
    let plain_gz = pull("plain/packed.gz", &zlib, "a.gz");
    let plain_txt = pull("plain/notes.txt", &zlib, "a.txt");
    assert!(pull("gz/packed.gz", &zlib, "b.gz") > plain_gz);
    assert_eq!(pull("gz/notes.txt", &zlib, "b.txt"), plain_txt);
    assert!(
        pull(
            "gz/notes.txt",
            &["--zc=zlib", "--skip-compress=txt"],
            "c.txt"
        ) > plain_txt
    );
    assert!(pull("all/notes.txt", &zlib, "d.txt") > plain_txt);
    let ox = pulled_bytes(&oxsync_bin(), &d, "gz/packed.gz", &zlib, &dst.join("e.gz"));
    assert!(ox > plain_gz, "{ox} vs {plain_gz}");
    for zc in ["zstd", "zlibx", "lz4", "zlib"] {
        let to = dst.join(format!("all-{zc}"));
        let got = pulled_bytes(&rsync_bin(), &d, "all/", &[&format!("--zc={zc}")], &to);
        assert!(got >= noise_len as u64, "{zc}: {got}");
        for f in ["notes.txt", "packed.gz", "noise.bin"] {
            assert_eq!(
                fs::read(m.join(f)).expect("r"),
                fs::read(to.join(f)).expect("r"),
                "{zc}: {f}"
            );
        }
    }
}

/// `dont compress` files go uncompressed (zlib level 0, as upstream's
/// Z_NO_COMPRESSION for `*`); the stock daemon sends 100% of the bytes for
/// `dont compress = *` with zlib.
#[test]
fn dont_compress_sends_uncompressed() {
    let d = start(&oxsync_bin(), DONT_COMPRESS_MODULES);
    let m = d.root.join("mod");
    let (text_len, _) = compress_fixtures(&m);
    let dst = d.root.join("dst");
    let zlib = ["--zc=zlib"];
    let gz = pulled_bytes(&rsync_bin(), &d, "gz/packed.gz", &zlib, &dst.join("a.gz"));
    assert!(gz >= text_len as u64, "{gz} < {text_len}");
    let txt = pulled_bytes(&rsync_bin(), &d, "gz/notes.txt", &zlib, &dst.join("a.txt"));
    assert!(txt < text_len as u64 / 4, "{txt}");
    let all = pulled_bytes(&rsync_bin(), &d, "all/notes.txt", &zlib, &dst.join("b.txt"));
    assert!(all >= text_len as u64, "{all} < {text_len}");
}

/// Waits until the daemon's log contains `what`.
fn wait_log(d: &Daemon, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = log_text(d);
        if log.contains(what) {
            return;
        }
        assert!(Instant::now() < deadline, "no {what:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pushes a big file with `client` and stops the client (SIGSTOP) once the
/// daemon has logged the request: the daemon must give up after its
/// module's `timeout` and log `wait_for`. Returns the client's output once
/// it is continued.
fn stalled_push(client: &Path, d: &Daemon, module: &str, wait_for: &str) -> Output {
    let src = d.root.join("bigsrc");
    fs::create_dir_all(&src).expect("mkdir");
    fs::write(src.join("big"), vec![7u8; 48 << 20]).expect("w");
    let child = Command::new(client)
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(d, module))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RSYNC_PASSWORD")
        .spawn()
        .expect("spawn client");
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status();
    };
    let request = format!("rsync to {module}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !log_text(d).contains(&request) {
        assert!(Instant::now() < deadline, "{}", log_text(d));
        std::thread::sleep(Duration::from_millis(5));
    }
    signal("-STOP");
    let t0 = Instant::now();
    wait_log(d, wait_for);
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    signal("-CONT");
    child.wait_with_output().expect("client")
}

#[test]
fn module_timeout_with_stock_client() {
    let d = start(
        &oxsync_bin(),
        "[slow]\npath = %ROOT%/mod\nread only = no\ntimeout = 2\n",
    );
    let src = d.root.join("src");
    make_tree(&src);
    fs::copy(src.join("a.txt"), d.root.join("mod/a.txt")).expect("cp");
    // The client hears the module's timeout (MSG_IO_TIMEOUT).
    let out = run(Command::new(rsync_bin())
        .args(["-a", "-vv"])
        .arg(url(&d, "slow/a.txt"))
        .arg(d.root.join("dst/a.txt")));
    assert!(out.status.success(), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("Setting --timeout=2 to match server"), "{all}");
    // A client that goes quiet is dropped.
    let out = stalled_push(
        &rsync_bin(),
        &d,
        "slow/",
        "io timeout after 2 seconds -- exiting (code 30)",
    );
    assert!(!out.status.success(), "{out:?}");
}

/// Hooks (the daemon issue's Done-when 2): pre-xfer exec sees rsync's
/// environment and can refuse; post-xfer exec sees the exit status; client
/// values with shell metacharacters reach a hook only as environment
/// values, so they cannot inject a command. The hooks write into a log dir
/// that `landlock allow` opens, since hooks run inside the sandbox.
#[test]
fn hooks_see_the_environment_and_cannot_be_injected() {
    let modules = "[hook]\npath = %ROOT%/mod\nread only = no\nlandlock allow = %ROOT%/hooklog:rw\n\
pre-xfer exec = env | grep '^RSYNC_' | sort > %ROOT%/hooklog/pre.env; echo \"$RSYNC_REQUEST\" > %ROOT%/hooklog/request\n\
post-xfer exec = echo \"$RSYNC_EXIT_STATUS $RSYNC_RAW_STATUS\" > %ROOT%/hooklog/post.env\n\
[refusing]\npath = %ROOT%/mod\nread only = no\npre-xfer exec = echo no entry for $RSYNC_USER_NAME; exit 3\n";
    let d = start(&oxsync_bin(), modules);
    let log = d.root.join("hooklog");
    fs::create_dir_all(&log).expect("mkdir hooklog");
    let src = d.root.join("src");
    make_tree(&src);
    // A destination path that a shell would treat as commands.
    let evil = "x$(touch PWNED1);touch PWNED2;`touch PWNED3`";
    fs::create_dir_all(src.join(evil)).expect("mkdir evil");
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, &format!("hook/{evil}/"))));
    assert!(out.status.success(), "push through hooks: {out:?}");
    let pre = fs::read_to_string(log.join("pre.env")).expect("pre-xfer env");
    for var in [
        "RSYNC_MODULE_NAME=hook",
        "RSYNC_MODULE_PATH=",
        "RSYNC_HOST_ADDR=127.0.0.1",
        "RSYNC_HOST_NAME=",
        "RSYNC_USER_NAME=",
        "RSYNC_PID=",
        "RSYNC_REQUEST=hook/",
        "RSYNC_ARG0=rsyncd",
    ] {
        assert!(pre.contains(var), "missing {var} in:\n{pre}");
    }
    let request = fs::read_to_string(log.join("request")).expect("request");
    assert!(
        request.contains("$(touch PWNED1)"),
        "request kept as text: {request}"
    );
    // post-xfer exec runs after the client has its answer: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.join("post.env").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let post = fs::read_to_string(log.join("post.env")).expect("post-xfer env");
    assert_eq!(post.split_whitespace().next(), Some("0"), "post: {post}");
    for pwned in ["PWNED1", "PWNED2", "PWNED3"] {
        for dir in [
            d.root.clone(),
            d.root.join("mod"),
            log.clone(),
            std::env::temp_dir(),
        ] {
            assert!(
                !dir.join(pwned).exists(),
                "{pwned} created in {}",
                dir.display()
            );
        }
    }
    // A failing pre-xfer exec refuses the transfer and writes nothing.
    let before = fs::read_dir(d.root.join("mod"))
        .map(|r| r.count())
        .unwrap_or(0);
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "refusing/new/")));
    assert!(!out.status.success(), "refused: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pre-xfer exec returned failure"),
        "{stderr}"
    );
    assert!(!d.root.join("mod/new").exists(), "nothing written");
    let after = fs::read_dir(d.root.join("mod"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(before, after);
    // A module name with metacharacters is just an unknown module.
    let out = run(Command::new(rsync_bin())
        .arg("-a")
        .arg(format!("{}/", src.display()))
        .arg(url(&d, "hook;touch PWNED4/")));
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(!d.root.join("PWNED4").exists() && !d.root.join("mod/PWNED4").exists());
}

/// A client that trickles its greeting a byte at a time cannot hold the
/// handshake open: the daemon's handshake deadline is absolute (the global
/// `timeout`, at most 60 s; upstream clientserver.c
/// daemon_handshake_timeout()), not an idle timeout that each byte renews.
/// The 20 s bound only catches a daemon that never closes.
#[test]
fn trickled_greeting_meets_the_handshake_deadline() {
    let d = start(&oxsync_bin(), "timeout = 2\n[m]\npath = %ROOT%/mod\n");
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"@RSYNCD: 31.0").unwrap(); // no newline, ever
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let closed = loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the daemon kept a trickling handshake open for 20 s"
        );
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break true,
        }
        if s.write_all(b"x").is_err() {
            // The write side may notice first; the read must then end too.
        }
    };
    assert!(closed);
    let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
    assert!(
        log.contains("daemon handshake timeout waiting for greeting"),
        "{log}"
    );
}

/// The daemon's first log line names the port as upstream's does
/// ("... starting, listening on port N").
#[test]
fn startup_log_names_the_port() {
    let d = start(&oxsync_bin(), "[m]\npath = %ROOT%/mod\n");
    let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
    let want = format!("starting, listening on port {}", d.port());
    assert!(log.contains(&want), "{want}: {log}");
}

/// A daemon that refuses the client's options after `@RSYNCD: OK` (here
/// `--remove-source-files` from a read-only module) says why and closes
/// with its own line; the client adds no second closing line, as stock
/// rsync's client.
#[test]
fn a_refusal_after_the_greeting_has_one_closing_line() {
    let d = start(
        &oxsync_bin(),
        "[ro]\npath = %ROOT%/mod\nread only = yes\nuse chroot = no\n",
    );
    fs::create_dir_all(d.root().join("mod")).expect("mod");
    fs::write(d.root().join("mod/f"), b"f\n").expect("f");
    for client in [oxsync_bin(), rsync_bin()] {
        let out = Command::new(&client)
            .args(["-a", "--remove-source-files"])
            .arg(url(&d, "ro/"))
            .arg(d.root().join("dst"))
            .output()
            .expect("client");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", client.display());
        assert!(err.contains("read-only module"), "{err}");
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("rsync error:"))
                .count(),
            1,
            "{}: {err}",
            client.display()
        );
        assert!(d.root().join("mod/f").exists());
    }
}
