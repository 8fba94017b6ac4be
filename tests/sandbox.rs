//! Confinement, end to end on the real kernel: client path options that
//! leave a daemon module are refused and logged (basis dirs are skipped
//! with a warning, tests/basis_dirs.rs); Landlock stops a write the
//! `Root` discipline would not (a test-only plain write, a pre-xfer exec
//! hook); a hostile sender (written here with the protocol crate) cannot
//! make `oxsync --server` write outside its destination, even while a
//! directory is swapped for a symlink under its feet.
use super::util::{kill_group, oxsync_bin, rsync_bin, run_timeout, snapshot};
use protocol::flist::{
    compare_names, write_id_list, FileEntry, FlistEncoder, FlistOptions, S_IFDIR, S_IFLNK, S_IFREG,
};
use protocol::mplex::{MplexReader, MplexWriter};
use protocol::ndx::{NdxWriter, NDX_DONE};
use protocol::negotiate::{read_name_list, write_name_list};
use protocol::sum_head::SumHead;
use protocol::token::{write_end, write_literal};
use protocol::varint::{write_i32, WireRead};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `oxsync --daemon` with one writable module `m` at `ROOT/srv/m`.
struct Daemon {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
    fn module(&self) -> PathBuf {
        self.root().join("srv/m")
    }
    fn log(&self) -> String {
        fs::read_to_string(self.root().join("daemon.log")).unwrap_or_default()
    }
    fn url(&self, rest: &str) -> String {
        format!("rsync://127.0.0.1:{}/{rest}", self.port)
    }
    /// Stock rsync pushes `src/` with `args` to `m/DEST`.
    fn push(&self, args: &[&str], dest: &str) -> Output {
        let src = self.root().join("src");
        Command::new(rsync_bin())
            .arg("-a")
            .args(args)
            .arg(format!("{}/", src.display()))
            .arg(self.url(&format!("m/{dest}")))
            .stdin(Stdio::null())
            .env_remove("RSYNC_PASSWORD")
            .output()
            .expect("run rsync")
    }
}

/// Starts the daemon; `extra` is appended to the module section, `env`
/// is set in the daemon's environment.
fn start(extra: &str, env: &[(&str, &str)]) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(dir.path()).expect("canon");
    for d in ["srv/m", "src", "outside"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    fs::write(root.join("src/sbx-file"), b"payload\n").expect("src file");
    fs::write(root.join("outside/keep"), b"untouched\n").expect("outside file");
    let me = fs::metadata(&root).expect("stat");
    let conf = root.join("rsyncd.conf");
    let text = format!(
        "use chroot = no\nuid = {uid}\ngid = {gid}\nlog file = {r}/daemon.log\n\
         lock file = {r}/lock\n[m]\npath = {r}/srv/m\nread only = no\n{extra}\n",
        r = root.display(),
        uid = me.uid(),
        gid = me.gid(),
        extra = extra.replace("%ROOT%", &root.to_string_lossy()),
    );
    fs::write(&conf, text).expect("conf");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut cmd = Command::new(oxsync_bin());
    cmd.args([
        "--daemon",
        "--no-detach",
        "--port",
        &port.to_string(),
        "--config",
    ])
    .arg(&conf)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v.replace("%ROOT%", &root.to_string_lossy()));
    }
    let child = cmd.spawn().expect("start daemon");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "daemon did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon { child, port, dir }
}

/// Names in `dir` that look like something this suite transferred.
fn ours_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("sbx-file"))
                .collect()
        })
        .unwrap_or_default()
}

fn refused(d: &Daemon, opt: &str, shown: &str, dest: &str) {
    let outside = d.root().join("outside");
    let before = snapshot(&outside);
    let out = d.push(&[opt], dest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{opt} was accepted: {stderr}");
    assert!(
        stderr.contains("outside module m"),
        "{opt}: the client was not told why: {stderr}"
    );
    let want = format!(
        "rejected {shown} from localhost: outside module root '{}'",
        d.module().display()
    );
    let want_ip = want.replace("from localhost", "from UNKNOWN");
    let log = d.log();
    assert!(
        log.lines().any(|l| l.contains(&want)
            || l.contains(&want_ip)
            || (l.contains(&format!("rejected {shown} from "))
                && l.ends_with(&format!("outside module root '{}'", d.module().display())))),
        "{opt}: no rejected line in the log:\n{log}"
    );
    assert!(
        !d.module().join("sbx-file").exists(),
        "{opt}: the transfer ran"
    );
    assert_eq!(snapshot(&outside), before, "{opt}: outside changed");
}

#[test]
fn daemon_refuses_paths_outside_the_module() {
    let d = start("", &[]);
    let tmp_before = ours_in(Path::new("/tmp"));
    refused(&d, "--temp-dir=/tmp", "--temp-dir='/tmp'", "");
    assert_eq!(ours_in(Path::new("/tmp")), tmp_before, "/tmp gained files");
    refused(&d, "--partial-dir=/etc/x", "--partial-dir='/etc/x'", "");
    assert!(!Path::new("/etc/x").exists());
    refused(
        &d,
        "--backup-dir=../../outside",
        "--backup-dir='../../outside'",
        "",
    );
    // A symlink inside the module that points out of it is outside too.
    std::os::unix::fs::symlink(d.root().join("outside"), d.module().join("bk")).expect("symlink");
    refused(&d, "--backup-dir=bk", "--backup-dir='bk'", "");
    // Basis dirs are only read from: never refused (rsync 3.5.0). `/etc`
    // is the module's `etc` (absent: a warning); one through the symlink
    // out is skipped with a warning and the log line. The transfer goes on
    // and nothing outside changes.
    let outside = d.root().join("outside");
    let before = snapshot(&outside);
    for (opt, warning) in [
        ("--link-dest=/etc", "--link-dest arg does not exist: etc"),
        (
            "--compare-dest=bk/x",
            "--compare-dest arg is outside the module, skipped: bk/x",
        ),
    ] {
        let out = d.push(&[opt], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{opt}: {stderr}");
        assert!(stderr.contains(warning), "{opt}: {stderr}");
        assert_eq!(
            fs::read(d.module().join("sbx-file")).expect("arrived"),
            b"payload\n"
        );
        fs::remove_file(d.module().join("sbx-file")).expect("rm");
    }
    assert!(d
        .log()
        .lines()
        .any(|l| l.contains("rejected --compare-dest='bk/x' from ")));
    assert!(!d.log().contains("rejected --link-dest"), "{}", d.log());
    assert_eq!(snapshot(&outside), before, "outside changed");
}

#[test]
fn daemon_accepts_paths_inside_the_module() {
    let d = start("", &[]);
    let m = d.module();
    for dir in [".tmp", "prev", "cur"] {
        fs::create_dir_all(m.join(dir)).expect("mkdir");
    }
    let outside = d.root().join("outside");
    let before = snapshot(&outside);
    // An absolute path naming a place inside the module is accepted too
    // (a basis dir's leading `/` names the module root).
    let abs = format!("--temp-dir={}/.tmp", m.display());
    for (args, dest) in [
        (vec!["--temp-dir=.tmp"], ""),
        (vec!["--partial-dir=.partial"], ""),
        (vec!["-b", "--backup-dir=bak"], ""),
        (vec!["--link-dest=prev"], ""),
        (vec![abs.as_str()], ""),
        (vec!["--compare-dest=/prev"], "cur"),
    ] {
        // Change the source so that a backup has something to keep.
        fs::write(d.root().join("src/sbx-file"), format!("{args:?}\n")).expect("src");
        let mut with_i = vec!["-I"];
        with_i.extend(&args);
        let out = d.push(&with_i, dest);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            d.log()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains(" arg "), "{args:?}: {stderr}");
        let got = fs::read(m.join(dest).join("sbx-file")).expect("arrived");
        assert_eq!(got, format!("{args:?}\n").into_bytes(), "{args:?}");
    }
    assert_eq!(snapshot(&outside), before);
    assert!(!d.log().contains("rejected"), "{}", d.log());
}

#[test]
fn daemon_accepts_a_basis_dir_beside_the_destination() {
    let d = start("", &[]);
    for dir in ["prev", "cur"] {
        fs::create_dir_all(d.module().join(dir)).expect("mkdir");
    }
    // prev/ holds an identical copy: it is hard-linked, not transferred.
    let src = d.root().join("src/sbx-file");
    fs::copy(&src, d.module().join("prev/sbx-file")).expect("copy");
    let mtime = fs::metadata(&src).expect("stat").modified().expect("mtime");
    fs::File::options()
        .write(true)
        .open(d.module().join("prev/sbx-file"))
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let out = d.push(&["--link-dest=../prev"], "cur/");
    assert_eq!(out.status.code(), Some(0), "{}", d.log());
    let a = fs::metadata(d.module().join("cur/sbx-file")).expect("arrived");
    let b = fs::metadata(d.module().join("prev/sbx-file")).expect("prev");
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "not hard-linked");
    // Climbing out of the module is clamped at its root (rsync 3.5.0):
    // the module's `outside` does not exist, a warning says so, the
    // transfer goes on, and nothing outside is linked.
    let outside = d.root().join("outside");
    fs::copy(&src, outside.join("sbx-file")).expect("copy");
    let before = snapshot(&outside);
    let out = d.push(&["--link-dest=../../../outside"], "cur2/");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", d.log());
    assert!(
        stderr.contains("--link-dest arg does not exist: ../outside"),
        "{stderr}"
    );
    let a = fs::metadata(d.module().join("cur2/sbx-file")).expect("arrived");
    let b = fs::metadata(outside.join("sbx-file")).expect("outside");
    assert_ne!(a.ino(), b.ino(), "hard-linked outside the module");
    assert_eq!(snapshot(&outside), before);
}

#[test]
fn landlock_stops_a_plain_write_and_is_logged() {
    if !cfg!(debug_assertions) {
        return; // the switch exists in debug builds only
    }
    let d = start(
        "",
        &[("OXSYNC_TEST_UNCONFINED_WRITE", "%ROOT%/outside/escaped")],
    );
    let out = d.push(&[], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.module().join("sbx-file").exists());
    assert!(
        !d.root().join("outside/escaped").exists(),
        "Landlock did not stop the write"
    );
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("landlock: abi") && l.contains("module m")),
        "no landlock line:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("unconfined write")
            && l.contains("denied")
            && l.contains("errno 13")),
        "the denied write is not logged:\n{log}"
    );
    assert_eq!(
        log.lines().filter(|l| l.contains("landlock:")).count(),
        1,
        "landlock must be logged once per connection:\n{log}"
    );
}

#[test]
fn landlock_off_lets_the_plain_write_through() {
    if !cfg!(debug_assertions) {
        return;
    }
    // The control experiment: the same switch with the module's Landlock off.
    let d = start(
        "landlock = off",
        &[("OXSYNC_TEST_UNCONFINED_WRITE", "%ROOT%/outside/escaped")],
    );
    let out = d.push(&[], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(d.root().join("outside/escaped").exists(), "{}", d.log());
    assert!(d.log().contains("landlock: off for module m"));
}

/// The exec hooks run inside the session's Landlock domain (unlike
/// upstream's, which run as the daemon's user before the chroot): a hook
/// that writes outside the module fails and the outside tree is unchanged;
/// one that writes inside the module works.
#[test]
fn pre_xfer_exec_inherits_landlock() {
    let d = start("pre-xfer exec = touch %ROOT%/outside/hooked", &[]);
    let outside = d.root().join("outside");
    let before = snapshot(&outside);
    let out = d.push(&[], "");
    assert_ne!(out.status.code(), Some(0), "the hook wrote outside");
    assert!(!d.root().join("outside/hooked").exists());
    assert_eq!(snapshot(&outside), before, "outside changed");
    assert!(
        d.log().contains("pre-xfer exec returned failure"),
        "{}",
        d.log()
    );
    // Nothing was transferred after the refused hook.
    assert!(!d.module().join("sbx-file").exists());

    // post-xfer exec too: the transfer succeeds, the hook's write outside
    // is denied and logged.
    let d = start("post-xfer exec = touch %ROOT%/outside/post-hooked", &[]);
    let outside = d.root().join("outside");
    let before = snapshot(&outside);
    let out = d.push(&[], "");
    assert_eq!(out.status.code(), Some(0), "{}", d.log());
    assert_eq!(
        fs::read(d.module().join("sbx-file")).expect("pushed"),
        b"payload\n"
    );
    // The hook runs after the transfer; the client may be gone by then.
    let deadline = Instant::now() + run_timeout();
    while !d.log().contains("post-xfer exec returned") {
        assert!(Instant::now() < deadline, "post-xfer exec: {}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!d.root().join("outside/post-hooked").exists());
    assert_eq!(snapshot(&outside), before, "outside changed");

    let d = start("pre-xfer exec = touch \"$RSYNC_MODULE_PATH/hooked\"", &[]);
    let out = d.push(&[], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    assert!(d.module().join("hooked").exists());
}

#[test]
fn landlock_allow_opens_an_extra_path() {
    let d = start(
        "landlock allow = %ROOT%/outside:rw\npre-xfer exec = touch %ROOT%/outside/hooked",
        &[],
    );
    let out = d.push(&[], "");
    assert_eq!(out.status.code(), Some(0), "{}", d.log());
    assert!(d.root().join("outside/hooked").exists());
}

// ---------------------------------------------------------------------
// A hostile sender against `oxsync --server` (the receiver every daemon
// push and remote-shell push uses).

/// A running `oxsync --server` receiver, set up as protocol 32 with md5.
struct Peer {
    child: Child,
    w: MplexWriter<std::process::ChildStdin>,
    drain: std::thread::JoinHandle<()>,
    stderr: std::thread::JoinHandle<String>,
    fo: FlistOptions,
}

impl Peer {
    fn start(dest: &Path, flags: &str) -> Peer {
        let mut child = Command::new(oxsync_bin())
            .args(["--server", flags, "."])
            .arg(dest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn oxsync --server");
        let pid = child.id();
        let limit = run_timeout().min(Duration::from_secs(120));
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            kill_group(pid);
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut r = MplexReader::new(child.stdout.take().expect("stdout"), Box::new(|_| Ok(())));
        let mut w = MplexWriter::new(child.stdin.take().expect("stdin"));
        let mut out = Vec::new();
        write_i32(&mut out, 32);
        w.write_all(&out).and_then(|_| w.flush()).expect("version");
        let theirs = r.read_i32_field("protocol").expect("their version");
        let compat = r.read_varint("compat").expect("compat");
        let _names = read_name_list(&mut r).expect("checksum names");
        let mut out = Vec::new();
        write_name_list(&mut out, &["md5"]);
        w.write_all(&out).and_then(|_| w.flush()).expect("names");
        r.read_i32_field("seed").expect("seed");
        w.set_multiplexed(true).expect("mux");
        r.set_multiplexed(true);
        // Whatever the generator asks for, we send regardless.
        let drain = std::thread::spawn(move || {
            let mut sink = [0u8; 65536];
            while let Ok(n) = r.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        });
        let fo = FlistOptions {
            protocol: theirs.min(32),
            varint_flags: compat & protocol::compat::CF_VARINT_FLIST_FLAGS != 0,
            preserve_uid: true,
            preserve_gid: true,
            preserve_links: true,
            preserve_devices: true,
            preserve_specials: true,
            checksum_len: None,
            preserve_hard_links: false,
            preserve_atimes: false,
        };
        Peer {
            child,
            w,
            drain,
            stderr,
            fo,
        }
    }

    /// Sends the file list, then the data of every regular file (unasked),
    /// then the end of the phases; returns the exit code and stderr.
    fn send_all(
        mut self,
        mut entries: Vec<FileEntry>,
        data: &[u8],
        id0: bool,
    ) -> (Option<i32>, String) {
        entries.sort_by(|a, b| compare_names(&a.name, a.is_dir(), &b.name, b.is_dir()));
        let mut enc = FlistEncoder::new(self.fo);
        let mut out = Vec::new();
        for e in &entries {
            enc.encode(&mut out, e);
        }
        enc.encode_end(&mut out, 0);
        let id0n: Option<&[u8]> = id0.then_some(b"root");
        write_id_list(&mut out, &[], id0n);
        write_id_list(&mut out, &[], id0n);
        let _ = self.w.write_all(&out).and_then(|_| self.w.flush());
        let sum = daemon::auth::AuthDigest::Md5.hash(&[data]);
        let mut ndx = NdxWriter::default();
        for (i, e) in entries.iter().enumerate() {
            if !e.is_file() {
                continue;
            }
            let mut out = Vec::new();
            ndx.write(&mut out, i as i32);
            out.extend_from_slice(&0x8000u16.to_le_bytes()); // ITEM_TRANSFER
            SumHead {
                count: 0,
                blength: 700,
                s2length: 16,
                remainder: 0,
            }
            .write(&mut out);
            write_literal(&mut out, data);
            write_end(&mut out);
            out.extend_from_slice(&sum);
            if self.w.write_all(&out).and_then(|_| self.w.flush()).is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        for _ in 0..3 {
            ndx.write(&mut out, NDX_DONE);
        }
        let _ = self.w.write_all(&out).and_then(|_| self.w.flush());
        drop(self.w);
        let _ = self.drain.join();
        let status = self.child.wait().expect("wait");
        (status.code(), self.stderr.join().unwrap_or_default())
    }
}

fn file(name: &str, size: usize) -> FileEntry {
    FileEntry {
        name: name.as_bytes().into(),
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(size as i64)
    .with_mtime(1_700_000_000)
}

fn dir(name: &str) -> FileEntry {
    FileEntry {
        name: name.as_bytes().into(),
        mode: S_IFDIR | 0o755,
        ..FileEntry::default()
    }
    .with_mtime(1_700_000_000)
}

fn symlink(name: &str, target: &Path) -> FileEntry {
    FileEntry {
        name: name.as_bytes().into(),
        mode: S_IFLNK | 0o777,
        ..FileEntry::default()
    }
    .with_mtime(1_700_000_000)
    .with_link_target(target.as_os_str().as_encoded_bytes().to_vec())
}

/// A scratch tree: `dst/` (the destination) and `outside/` (with a file),
/// and the before-snapshot of everything but `dst`.
struct Arena {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Arena {
    fn new() -> Arena {
        let dir = tempfile::tempdir().expect("tmp");
        let root = fs::canonicalize(dir.path()).expect("canon");
        fs::create_dir_all(root.join("dst")).expect("dst");
        fs::create_dir_all(root.join("outside/sub")).expect("outside");
        fs::write(root.join("outside/keep"), b"keep\n").expect("keep");
        Arena { _dir: dir, root }
    }
    fn dst(&self) -> PathBuf {
        self.root.join("dst")
    }
    fn outside(&self) -> PathBuf {
        self.root.join("outside")
    }
    /// Everything beside `dst`: the names next to it, and `outside` entry
    /// by entry with file contents.
    fn beside(&self) -> (Vec<String>, Vec<(PathBuf, Vec<u8>)>) {
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let outside = self.outside();
        let files = snapshot(&outside)
            .into_keys()
            .map(|p| {
                let bytes = fs::read(outside.join(&p)).unwrap_or_default();
                (p, bytes)
            })
            .collect();
        (names, files)
    }
}

const SERVER_FLAGS: &str = "-logDtpre.LsfxCIvu";

fn hostile(entries: Vec<FileEntry>, what: &str) -> (Option<i32>, String) {
    let a = Arena::new();
    let before = a.beside();
    let peer = Peer::start(&a.dst(), SERVER_FLAGS);
    let id0 = true;
    let res = peer.send_all(entries, b"evil\n", id0);
    assert_eq!(
        a.beside(),
        before,
        "{what}: the tree outside dst changed\n{}",
        res.1
    );
    res
}

#[test]
fn hostile_names_are_refused() {
    for name in ["../x", "/abs-sbx", "d/../../x"] {
        let (code, stderr) = hostile(vec![dir("d"), file(name, 5)], name);
        assert_ne!(code, Some(0), "{name} was accepted: {stderr}");
        assert!(!Path::new("/abs-sbx").exists());
    }
}

#[test]
fn hostile_symlink_then_file_through_it() {
    let a = Arena::new();
    let before = a.beside();
    let peer = Peer::start(&a.dst(), SERVER_FLAGS);
    let (_code, stderr) = peer.send_all(
        vec![
            symlink("d", &a.outside()),
            file("d/f", 5),
            file("d/sub/g", 5),
        ],
        b"evil\n",
        true,
    );
    assert_eq!(a.beside(), before, "written through the symlink\n{stderr}");
    assert!(!a.outside().join("f").exists());
}

#[test]
fn hard_links_through_a_symlink() {
    // With -H a follower is linked to its group's leader by list name,
    // through the destination's `Root`: neither a leader nor a follower
    // reached through a symlink that leaves the destination (`d` ->
    // outside) is linked, and nothing outside changes.
    for follower_outside in [false, true] {
        let a = Arena::new();
        let keep = a.outside().join("keep");
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        fs::File::options()
            .write(true)
            .open(&keep)
            .and_then(|f| f.set_modified(t))
            .expect("mtime");
        let before = a.beside();
        let mut peer = Peer::start(&a.dst(), "-logDtpHre.LsfxCIvu");
        peer.fo.preserve_hard_links = true;
        let linked = |name: &str, first| FileEntry {
            hlink: Some(first).into(),
            ..file(name, 5)
        };
        // Sorted (wire) order: a, d, d/keep; or d, d/keep, z, z/stolen.
        let entries = if follower_outside {
            vec![
                linked("a", 0),
                symlink("d", &a.outside()),
                linked("d/keep", 0),
            ]
        } else {
            vec![
                symlink("d", &a.outside()),
                linked("d/keep", 1),
                dir("z"),
                linked("z/stolen", 1),
            ]
        };
        let (code, stderr) = peer.send_all(entries, b"evil\n", true);
        let what = format!("follower outside: {follower_outside}, exit {code:?}\n{stderr}");
        assert_eq!(a.beside(), before, "the tree outside dst changed; {what}");
        let st = fs::metadata(&keep).expect("keep");
        assert_eq!(st.nlink(), 1, "outside/keep was linked to; {what}");
        for name in ["a", "z/stolen"] {
            if let Ok(s) = fs::symlink_metadata(a.dst().join(name)) {
                assert_ne!(s.ino(), st.ino(), "{name} is outside/keep; {what}");
            }
        }
    }
}

#[test]
fn directory_swapped_for_a_symlink_during_the_transfer() {
    let a = Arena::new();
    let before = a.beside();
    let d = a.dst().join("d");
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (d, outside, stop) = (d.clone(), a.outside(), stop.clone());
        std::thread::spawn(move || {
            let mut flips = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // dst/d becomes a symlink to outside, then a directory again.
                let tmp = d.with_file_name("d.swap");
                let _ = std::os::unix::fs::symlink(&outside, &tmp);
                let _ = fs::rename(&tmp, &d);
                std::thread::yield_now();
                let _ = fs::remove_file(&d);
                let _ = fs::create_dir(&d);
                flips += 1;
            }
            flips
        })
    };
    let mut entries = vec![dir("d")];
    for i in 0..300 {
        entries.push(file(&format!("d/f{i:03}"), 5));
    }
    for _round in 0..3 {
        let peer = Peer::start(&a.dst(), SERVER_FLAGS);
        let _ = peer.send_all(entries.clone(), b"evil\n", true);
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().expect("flipper");
    assert!(flips > 10, "the race did not run ({flips} flips)");
    assert_eq!(a.beside(), before, "a file landed outside dst");
}

/// A pulling client confines itself and says so with -vv, in one plain
/// line: no escaped newline (`\#012`) and no empty line after it.
#[test]
fn pull_with_vv_prints_one_plain_landlock_line() {
    let s = super::util::Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"data").unwrap();
    let dst = s.path("dst");
    let run = super::util::run(
        Command::new(oxsync_bin())
            .arg("-rvv")
            .arg("-e")
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(oxsync_bin())
            .arg(format!("host:{}/", src.display()))
            .arg(format!("{}/", dst.display())),
        &s.logs(),
    );
    run.assert_code(0);
    assert_eq!(fs::read(dst.join("f")).unwrap(), b"data");
    let all = format!("{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = all.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("landlock: "))
        .unwrap_or_else(|| panic!("no landlock line in:\n{all}"));
    assert!(!all.contains("\\#012"), "escaped newline in:\n{all}");
    assert!(
        lines.get(i + 1).is_none_or(|l| !l.is_empty()),
        "an empty line follows the landlock line:\n{all}"
    );
    assert!(
        !lines[i].contains("skipped missing"),
        "old wording: {}",
        lines[i]
    );
}
