//! The daemon: stock rsync as the client against `oxsync --daemon`
//! (listing, push, pull, auth, read only, hosts deny, max connections,
//! refused options), and oxsync as the client against `rsync --daemon`.
use super::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A daemon process, killed on drop.
struct Daemon {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    root: PathBuf,
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
fn start(bin: &Path, modules: &str) -> Daemon {
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
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "--daemon",
            "--no-detach",
            "--port",
            &port.to_string(),
            "--config",
        ])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "daemon did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
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

fn url(d: &Daemon, rest: &str) -> String {
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
}
