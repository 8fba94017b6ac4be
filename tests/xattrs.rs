//! `-X` (extended attributes) end to end: in five directions (local copy,
//! oxsync pushing/pulling against stock `rsync --server`, stock rsync
//! pushing/pulling against `oxsync --server`) and through the daemon both
//! ways, each compared with stock rsync alone on an identically prepared
//! destination: the xattrs `getfattr -d -m -` shows, the itemize lines and
//! the exit code. Then the name rules (`-XX`, `--fake-super`, a receiver
//! that is not the super-user) and a hostile sender's lists (an oversized
//! value, names in other namespaces or with `../`).
use crate::fakeserver::FakeServer;
use crate::util::*;
use protocol::flist::{FileEntry, S_IFDIR, S_IFREG};
use protocol::varint::write_varint;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// path -> (name -> hex value), from `getfattr -R -d -m - -e hex -h`.
type Xattrs = BTreeMap<String, BTreeMap<String, String>>;

fn setx(path: &Path, name: &str, value: &str) {
    let st = Command::new("setfattr")
        .arg("-h")
        .args(["-n", name, "-v", value])
        .arg(path)
        .status()
        .expect("run setfattr");
    assert!(st.success(), "setfattr -n {name} {}", path.display());
}

/// Every xattr beneath `root` (symlinks not followed), as getfattr shows it.
fn dump(root: &Path) -> Xattrs {
    let out = Command::new("getfattr")
        .args(["-R", "-d", "-m", "-", "-e", "hex", "-h", "."])
        .current_dir(root)
        .output()
        .expect("run getfattr");
    let mut map = Xattrs::new();
    let mut file = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(f) = line.strip_prefix("# file: ") {
            file = f.to_string();
        } else if let Some((n, v)) = line.split_once('=') {
            map.entry(file.clone())
                .or_default()
                .insert(n.to_string(), v.to_string());
        }
    }
    map
}

fn long(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// The source: short and long (abbreviated) values, a trusted one (we run
/// as root), a directory's, two files sharing one list, a symlink, and a
/// file whose long value the destination already has, a hard link.
fn make_src(src: &Path) {
    fs::create_dir_all(src.join("d")).expect("mkdir");
    for (name, data) in [
        ("f", "f data\n"),
        ("n1", "n1\n"),
        ("n2", "n2\n"),
        ("d/h", "h\n"),
    ] {
        write_file(&src.join(name), data.as_bytes(), 0o644, T0);
    }
    symlink("f", src.join("link")).expect("symlink");
    setx(&src.join("f"), "user.short", "abc");
    setx(&src.join("f"), "user.long", &long('L', 100));
    setx(&src.join("f"), "trusted.t", "tt");
    for n in ["n1", "n2"] {
        setx(&src.join(n), "user.same", &long('S', 70));
        setx(&src.join(n), "user.k", "v");
    }
    fs::hard_link(src.join("n1"), src.join("d/n3")).expect("hard link");
    setx(&src.join("d"), "user.dir", "dd");
    setx(&src.join("d/h"), "user.kept", &long('K', 50));
    set_mtime(&src.join("d"), T0);
    set_mtime(src, T0);
}

/// A destination with stale xattrs: an extra name to remove, a long value
/// to replace, a directory missing its value, a long value already right.
fn make_dst(dst: &Path) {
    fs::create_dir_all(dst.join("d")).expect("mkdir");
    write_file(&dst.join("f"), b"old f\n", 0o644, T0 - 10);
    write_file(&dst.join("d/h"), b"h\n", 0o644, T0);
    setx(&dst.join("f"), "user.extra", "remove me");
    setx(&dst.join("f"), "user.long", &long('M', 90));
    setx(&dst.join("d"), "user.stale", "x");
    setx(&dst.join("d/h"), "user.kept", &long('K', 50));
    setx(&dst.join("d/h"), "user.gone", "g");
}

fn command(
    s: &Scratch,
    dir: Dir,
    reference: bool,
    args: &[&str],
    src: &Path,
    dst: &Path,
) -> Command {
    let mut c = dir.client(reference, &s.rsh());
    c.args(args)
        .args(dir.operands(format!("{}/", src.display()), format!("{}/", dst.display())));
    c
}

/// `-aHXi` into a stale destination in every direction: what arrives, the
/// itemize lines and the exit code are stock rsync's, and the destination's
/// xattrs are the source's (the extra ones removed, long values sent only
/// where the destination lacks them). A second run changes nothing.
#[test]
fn xattrs_in_five_directions_match_stock_rsync() {
    let s = Scratch::new();
    let src = s.path("src");
    make_src(&src);
    let want = dump(&src);
    assert!(want["f"].contains_key("trusted.t"), "{want:?}");
    for dir in ALL {
        let ours = s.path(&format!("ours-{dir:?}"));
        let theirs = s.path(&format!("theirs-{dir:?}"));
        make_dst(&ours);
        make_dst(&theirs);
        let a = run(
            &mut command(&s, dir, false, &["-aXi"], &src, &ours),
            &s.logs(),
        );
        let b = run(
            &mut command(&s, dir, true, &["-aXi"], &src, &theirs),
            &s.logs(),
        );
        a.assert_code(0);
        b.assert_code(0);
        assert_eq!(
            dump(&ours),
            dump(&theirs),
            "{dir:?}: xattrs differ from stock rsync's"
        );
        assert_eq!(
            dump(&ours),
            want,
            "{dir:?}: xattrs differ from the source's"
        );
        assert_eq!(
            a.itemized(),
            b.itemized(),
            "{}",
            show_runs("itemize", "-aXi", &a, &b)
        );
        assert!(
            a.itemized()
                .iter()
                .any(|l| l.ends_with(" f") && l.contains('x')),
            "{dir:?}: f's xattr change not itemized: {:?}",
            a.itemized()
        );
        let again = run(
            &mut command(&s, dir, false, &["-aXi"], &src, &ours),
            &s.logs(),
        );
        again.assert_code(0);
        assert_eq!(
            again.itemized(),
            Vec::<String>::new(),
            "{dir:?}: second run"
        );
    }
}

/// Without `-X` nothing is copied; `-XX` also copies rsync's own
/// `user.rsync.%stat`, which one `-X` leaves out; `--fake-super -XX` is
/// refused as upstream refuses it.
#[test]
fn xx_and_fake_super_follow_upstream() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("f"), b"x\n", 0o644, T0);
    setx(&src.join("f"), "user.rsync.%stat", "100644 0,0 0:0");
    setx(&src.join("f"), "user.plain", "p");
    for (dir, args) in [
        (Dir::Local, &["-a"][..]),
        (Dir::OxPush, &["-aX"][..]),
        (Dir::OxPull, &["-aXX"][..]),
        (Dir::RsyncPush, &["-aXX"][..]),
    ] {
        let ours = s.path(&format!("ours-{dir:?}-{}", args[0]));
        let theirs = s.path(&format!("theirs-{dir:?}-{}", args[0]));
        let a = run(&mut command(&s, dir, false, args, &src, &ours), &s.logs());
        let b = run(&mut command(&s, dir, true, args, &src, &theirs), &s.logs());
        a.assert_code(0);
        b.assert_code(0);
        let got = dump(&ours);
        assert_eq!(got, dump(&theirs), "{dir:?} {args:?}");
        let names: Vec<&String> = got.get("f").map(|m| m.keys().collect()).unwrap_or_default();
        match args[0] {
            "-a" => assert!(names.is_empty(), "{names:?}"),
            "-aX" => assert_eq!(names, ["user.plain"]),
            _ => assert_eq!(names, ["user.plain", "user.rsync.%stat"]),
        }
    }
    let a = run(
        Command::new(oxsync_bin())
            .args(["-aXX", "--fake-super"])
            .arg(format!("{}/", src.display()))
            .arg(s.path("never")),
        &s.logs(),
    );
    a.assert_code(1);
    assert!(
        a.stderr.contains("--fake-super conflicts with -XX"),
        "{}",
        a.stderr
    );
    assert!(!s.path("never").exists());
}

/// A receiver that is not the super-user (`--no-super`) keeps only the
/// `user.` names and leaves the destination's other namespaces alone; with
/// `--fake-super` the others are kept as `user.rsync.NAME`, and sent back
/// under their own names. As stock rsync does in each case.
#[test]
fn namespaces_of_a_receiver_that_is_not_root() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("f"), b"x\n", 0o644, T0);
    setx(&src.join("f"), "user.u", "1");
    setx(&src.join("f"), "trusted.t", "2");
    for (dir, extra) in [
        (Dir::OxPush, "--no-super"),
        (Dir::RsyncPull, "--fake-super"),
    ] {
        let ours = s.path(&format!("ours-{extra}"));
        let theirs = s.path(&format!("theirs-{extra}"));
        for d in [&ours, &theirs] {
            fs::create_dir_all(d).expect("mkdir");
            write_file(&d.join("f"), b"x\n", 0o644, T0);
            setx(&d.join("f"), "trusted.mine", "stays");
        }
        // The option goes to the receiving side: --no-super to the server
        // we push to, --fake-super to the client that pulls.
        let args: Vec<&str> = if dir == Dir::OxPush {
            vec!["-aXi", "-M--no-super"]
        } else {
            vec!["-aXi", extra]
        };
        let a = run(&mut command(&s, dir, false, &args, &src, &ours), &s.logs());
        let b = run(&mut command(&s, dir, true, &args, &src, &theirs), &s.logs());
        a.assert_code(0);
        b.assert_code(0);
        let got = dump(&ours);
        assert_eq!(got, dump(&theirs), "{extra}");
        let names: Vec<&String> = got["f"].keys().collect();
        if extra == "--no-super" {
            assert_eq!(names, ["trusted.mine", "user.u"], "{extra}");
        } else {
            assert_eq!(
                names,
                ["trusted.mine", "user.rsync.trusted.t", "user.u"],
                "{extra}"
            );
            // Sent back with --fake-super, the name is trusted.t again.
            let back = s.path("back");
            let c = run(
                Command::new(oxsync_bin())
                    .args(["-aX", "--fake-super"])
                    .arg(format!("{}/", ours.display()))
                    .arg(format!("{}/", back.display())),
                &s.logs(),
            );
            c.assert_code(0);
            let names: Vec<String> = dump(&back)["f"].keys().cloned().collect();
            assert!(
                names.contains(&"user.rsync.trusted.t".to_string()),
                "{names:?}"
            );
            let raw = run(
                Command::new(oxsync_bin())
                    .args(["-aX"])
                    .arg(format!("{}/", ours.display()))
                    .arg(format!("{}/", s.path("raw").display())),
                &s.logs(),
            );
            raw.assert_code(0);
            let names: Vec<String> = dump(&s.path("raw"))["f"].keys().cloned().collect();
            assert!(
                names.contains(&"user.rsync.trusted.t".to_string()),
                "{names:?}"
            );
        }
    }
}

/// Through the daemon: stock rsync pushing to and pulling from an oxsync
/// daemon, and oxsync pushing to and pulling from a stock daemon, each
/// against stock rsync on both ends.
#[test]
fn xattrs_through_the_daemon_both_ways() {
    let s = Scratch::new();
    let src = s.path("src");
    make_src(&src);
    let want = dump(&src);
    let modules = "[m]\npath = %ROOT%/mod\nread only = no\n";
    for ox_daemon in [true, false] {
        let ours_d =
            crate::daemon::start(&if ox_daemon { oxsync_bin() } else { rsync_bin() }, modules);
        let ref_d = crate::daemon::start(&rsync_bin(), modules);
        let client_ours = if ox_daemon { rsync_bin() } else { oxsync_bin() };
        for d in [&ours_d, &ref_d] {
            make_dst(&d.root().join("mod/push"));
        }
        let url = |d: &crate::daemon::Daemon, tail: &str| {
            format!("rsync://127.0.0.1:{}/m/{tail}", d.port())
        };
        // push
        let a = run(
            Command::new(&client_ours)
                .arg("-aXi")
                .arg(format!("{}/", src.display()))
                .arg(url(&ours_d, "push/")),
            &s.logs(),
        );
        let b = run(
            Command::new(rsync_bin())
                .arg("-aXi")
                .arg(format!("{}/", src.display()))
                .arg(url(&ref_d, "push/")),
            &s.logs(),
        );
        a.assert_code(0);
        b.assert_code(0);
        assert_eq!(
            dump(&ours_d.root().join("mod/push")),
            want,
            "push, oxsync daemon: {ox_daemon}"
        );
        assert_eq!(
            a.itemized(),
            b.itemized(),
            "{}",
            show_runs("push", "-aXi", &a, &b)
        );
        // pull (what was pushed) into a stale destination
        let (ours, theirs) = (
            s.path(&format!("pull-{ox_daemon}")),
            s.path(&format!("ref-{ox_daemon}")),
        );
        make_dst(&ours);
        make_dst(&theirs);
        let a = run(
            Command::new(&client_ours)
                .arg("-aXi")
                .arg(url(&ours_d, "push/"))
                .arg(&ours),
            &s.logs(),
        );
        let b = run(
            Command::new(rsync_bin())
                .arg("-aXi")
                .arg(url(&ref_d, "push/"))
                .arg(&theirs),
            &s.logs(),
        );
        a.assert_code(0);
        b.assert_code(0);
        assert_eq!(dump(&ours), want, "pull, oxsync daemon: {ox_daemon}");
        assert_eq!(dump(&ours), dump(&theirs));
        assert_eq!(
            a.itemized(),
            b.itemized(),
            "{}",
            show_runs("pull", "-aXi", &a, &b)
        );
    }
}

/// A literal xattr list as upstream's send_xattr() writes it.
fn literal(items: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(&mut out, 0);
    write_varint(&mut out, items.len() as i32);
    for (name, len, value) in items {
        write_varint(&mut out, name.len() as i32 + 1);
        write_varint(&mut out, *len as i32);
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(value);
    }
    out
}

fn pull_from_fake(
    s: &Scratch,
    entries: Vec<FileEntry>,
    lists: Vec<Vec<u8>>,
    args: &[&str],
    dest: &Path,
) -> Run {
    let server = FakeServer::start_with_xattrs(s, entries, lists);
    let r = run(
        Command::new(oxsync_bin())
            .args(args)
            .arg("-e")
            .arg(server.rsh())
            .arg("h:src/")
            .arg(dest),
        &s.logs(),
    );
    let _ = server.served();
    r
}

/// A hostile sender announcing a 128 MiB + 1 value: refused before any
/// allocation with upstream's message and exit code 2 (upstream
/// xattr-wire-cap); nothing is written.
#[test]
fn hostile_sender_oversized_xattr_value_is_refused() {
    let s = Scratch::new();
    let dest = s.path("dest");
    let entries = vec![FileEntry {
        name: b"f".into(),
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(8)
    .with_mtime(T0)];
    let lists = vec![literal(&[(b"user.big", (128 << 20) + 1, b"")])];
    let r = pull_from_fake(&s, entries, lists, &["-aX"], &dest);
    r.assert_code(2);
    assert!(
        r.stderr.contains("xattr datum_len exceeds per-value limit"),
        "{}",
        r.stderr
    );
    assert!(!dest.join("f").exists());
}

/// A hostile sender's names: `user.../../evil` is only a name (set as
/// such, nothing is created by it anywhere); `trusted.*` and `security.*`
/// are dropped by a receiver that is not the super-user and kept by root;
/// a reference to a list never sent is refused (exit 12).
#[test]
fn hostile_sender_xattr_names() {
    let s = Scratch::new();
    let entries = vec![
        FileEntry {
            name: b".".into(),
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_mtime(T0),
        FileEntry {
            name: b"d".into(),
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_mtime(T0),
    ];
    let evil: &[(&[u8], u32, &[u8])] = &[
        (b"security.evil", 1, b"s"),
        (b"trusted.evil", 1, b"t"),
        (b"user.../../evil", 1, b"v"),
        (b"user.ok", 2, b"ok"),
    ];
    let lists = vec![literal(&[]), literal(evil)];
    for (extra, trusted) in [("--no-super", false), ("--super", true)] {
        let dest = s.path(&format!("dest{extra}"));
        let r = pull_from_fake(&s, entries.clone(), lists.clone(), &["-rX", extra], &dest);
        r.assert_code(0);
        let got = dump(&dest);
        let names: Vec<&String> = got["d"].keys().collect();
        if trusted {
            assert_eq!(
                names,
                [
                    "security.evil",
                    "trusted.evil",
                    "user.../../evil",
                    "user.ok"
                ]
            );
        } else {
            assert_eq!(names, ["user.../../evil", "user.ok"]);
        }
        assert!(!got.contains_key("."), "{got:?}");
        assert_eq!(fs::read_dir(&dest).expect("ls").count(), 1);
    }
    // Only the logs, the fake rsh and the two destinations appeared.
    let mut names: Vec<String> = fs::read_dir(s.root())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dest--no-super", "dest--super", "fake-rsh.sh", "logs"]
    );
    assert!(!Path::new("/evil").exists() && !s.root().join("evil").exists());
    // A reference to list 5 (index 6 on the wire) when none was sent.
    let mut bad = Vec::new();
    write_varint(&mut bad, 6);
    let dest = s.path("dest-ref");
    let r = pull_from_fake(&s, entries[..1].to_vec(), vec![bad], &["-rX"], &dest);
    r.assert_code(12);
    assert!(r.stderr.contains("xa index 6 out of range"), "{}", r.stderr);
}

/// Run as an ordinary user (uid 65534): a read-only file of ours whose
/// xattrs alone changed gets them (the owner's write bit added for the
/// moment and taken away again), as stock rsync does.
#[test]
fn read_only_file_of_an_ordinary_user() {
    let s = Scratch::new();
    for who in ["ours", "theirs"] {
        let base = s.path(who);
        for d in ["src", "dst"] {
            fs::create_dir_all(base.join(d)).expect("mkdir");
            write_file(&base.join(d).join("f"), b"a\n", 0o444, T0);
        }
        setx(&base.join("src/f"), "user.k", "val");
        setx(&base.join("dst/f"), "user.old", "gone");
        let st = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(&base)
            .status()
            .expect("chown");
        assert!(st.success());
        fs::set_permissions(
            s.root(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod scratch");
        let bin = if who == "ours" {
            oxsync_bin()
        } else {
            rsync_bin()
        };
        let r = run(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(bin)
                .arg("-aXi")
                .arg(format!("{}/", base.join("src").display()))
                .arg(format!("{}/", base.join("dst").display())),
            &s.logs(),
        );
        r.assert_code(0);
        assert_eq!(r.itemized(), [".f........x f"], "{who}");
        let got = dump(&base.join("dst"));
        assert_eq!(got["f"].keys().collect::<Vec<_>>(), ["user.k"], "{who}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(base.join("dst/f"))
                .expect("stat")
                .permissions(),
        );
        assert_eq!(mode & 0o7777, 0o444, "{who}");
    }
}
