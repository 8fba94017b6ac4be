//! Incremental recursion with oxsync RECEIVING `-X`/`-XX` and `-A`
//! (upstream compat.c set_allow_inc_recurse() does not exclude them; the
//! xattr lists are numbered across the whole transfer, xattrs.c
//! rsync_xal_l): a stock sender (3.2.7, and 3.5.0 when built) pushing to
//! `oxsync --server`, oxsync pulling from a stock `rsync --server`, and a
//! stock client pushing to an oxsync daemon. The tree has xattrs and ACLs
//! in every directory, so most arrive in later sub-lists: values over 32
//! bytes (abbreviated; the receiving side asks the sender for those it
//! lacks), one identical set on a file of every directory (sent once, then
//! as a reference to a list an earlier sub-list brought), access ACLs on
//! files and default ACLs on directories, some different in each
//! directory. The destination is stale (values to replace, names to
//! remove, an ACL to change). Each transfer is compared with the stock
//! receiver's on an identical destination: exit code, sorted itemize
//! lines, `getfattr`/`getfacl` of every item; and the stock sender's
//! `--debug=FLIST3` lines must show one list per directory (an oxsync
//! that does not grant incremental recursion gets a single list). And a
//! batch stock rsync wrote incrementally with `-aXA` replays as in stock
//! rsync (it was refused before); ACL entries whose names first arrive in
//! a later list are mapped by name (`--usermap`/`--groupmap`); a hostile
//! sub-list referring to an xattr list none has brought is refused.
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(prog: &str, args: &[&str], path: &Path) {
    let out = Command::new(prog)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog} {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn setx(path: &Path, name: &str, value: &str) {
    tool("setfattr", &["-n", name, "-v", value], path);
}

fn setfacl(path: &Path, spec: &str) {
    tool("setfacl", &["-m", spec], path);
}

/// Every xattr beneath `root` (hex values), as `getfattr -R` lists them.
pub(crate) fn xattrs_of(root: &Path) -> String {
    let out = Command::new("getfattr")
        .args(["-R", "-d", "-m", "-", "-e", "hex", "."])
        .current_dir(root)
        .output()
        .expect("run getfattr");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `getfacl` of every item beneath `root` (numeric ids).
pub(crate) fn acls_of(root: &Path) -> String {
    let out = Command::new("getfacl")
        .args(["-R", "-n", "-p", "."])
        .current_dir(root)
        .output()
        .expect("run getfacl");
    assert!(out.status.success(), "getfacl in {}", root.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn long(c: char, n: usize, tag: &str) -> String {
    let mut s: String = std::iter::repeat_n(c, n).collect();
    s.push_str(tag);
    s
}

/// The directories of the tree: 4 x 3 below the top, each its own list.
fn dirs() -> Vec<String> {
    let mut v = Vec::new();
    for a in 0..4 {
        v.push(format!("d{a}"));
        for b in 0..3 {
            v.push(format!("d{a}/s{b}"));
        }
    }
    v
}

/// Directories in the tree (each gets its own list under inc_recurse).
pub(crate) fn dir_count(root: &Path) -> usize {
    snapshot(root).values().filter(|e| e.kind == 'd').count()
}

/// Files `f0`..`f3` and `same` in every directory (and the top).
fn make_files(src: &Path) {
    for d in std::iter::once(String::new()).chain(dirs()) {
        let dir = src.join(&d);
        fs::create_dir_all(&dir).expect("mkdir");
        for f in ["f0", "f1", "f2", "f3", "same"] {
            let body = format!("{d}/{f}\n").repeat(3);
            write_file(&dir.join(f), body.as_bytes(), 0o644, T0);
        }
    }
}

/// -X: in every directory a file with short and long values of its own,
/// a file with the set every directory's `same` shares (one list, sent
/// by reference after its first time), a long value on the directory;
/// a `trusted.` name (we run as root) and a `user.rsync.%stat` one (sent
/// only with -XX) deep down.
fn add_xattrs(src: &Path) {
    for d in std::iter::once(String::new()).chain(dirs()) {
        let dir = src.join(&d);
        for f in ["f0", "f1", "f2", "f3"] {
            let tag = format!("{d}/{f}");
            let p = dir.join(f);
            setx(&p, "user.short", &format!("v{tag}"));
            setx(&p, "user.long", &long('L', 60, &tag));
        }
        setx(&dir.join("same"), "user.same", &long('S', 50, ""));
        setx(&dir.join("same"), "user.k", "v");
        if !d.is_empty() {
            setx(&dir, "user.dir", &long('D', 40, &d));
        }
    }
    setx(&src.join("d3/s2/f2"), "trusted.t", &long('T', 40, ""));
    setx(&src.join("d2/s1/f1"), "user.rsync.%stat", "100644 0,0 0:0");
}

/// -A: named-user/group ACLs on files of every directory (one shared,
/// one different per directory), default ACLs on directories (one
/// shared, some their own), an access ACL on some directories.
fn add_acls(src: &Path) {
    for (k, d) in dirs().iter().enumerate() {
        let dir = src.join(d);
        setfacl(&dir.join("f1"), "u:1234:rwx,g:55:r-x");
        setfacl(&dir.join("f2"), &format!("u:{}:r--,m::rwx", 2000 + k));
        setfacl(&dir, "d:u:1234:rwx,d:g:55:r-x");
        if k % 3 == 1 {
            setfacl(&dir, &format!("d:u:{}:r-x,g:{}:rwx", 3000 + k, 4000 + k));
        }
    }
    setfacl(src, "d:g:77:rwx");
}

/// A stale destination (the same for the oxsync and the stock receiver):
/// some files already there with their data but other xattrs (a long
/// value to replace, so the receiving side asks for it; a name to
/// remove; a long value already right) or another ACL; with `extra` a
/// file in each for `--delete` to remove.
pub(crate) fn make_stale(dst: &Path, xattrs: bool, acls: bool, extra: bool) {
    for d in ["d0/s1", "d2", "d3/s2"] {
        let dir = dst.join(d);
        fs::create_dir_all(&dir).expect("mkdir");
        for f in ["f0", "f1", "same"] {
            let body = format!("{d}/{f}\n").repeat(3);
            write_file(&dir.join(f), body.as_bytes(), 0o644, T0);
        }
        if extra {
            write_file(&dir.join("extraneous"), b"x\n", 0o644, T0);
        }
        if xattrs {
            setx(&dir.join("f0"), "user.long", &long('M', 70, d));
            setx(&dir.join("f0"), "user.extra", "remove me");
            setx(
                &dir.join("f1"),
                "user.long",
                &long('L', 60, &format!("{d}/f1")),
            );
            setx(&dir.join("same"), "user.same", &long('X', 50, ""));
            setx(&dir, "user.stale", "x");
        }
        if acls {
            setfacl(&dir.join("f1"), "u:999:---");
            setfacl(&dir, "d:u:999:rwx");
        }
    }
    fix_dirs(dst, T0 - 50);
}

/// The source: the files, then the attributes, then directory times.
pub(crate) fn make_src(src: &Path, xattrs: bool, acls: bool) {
    make_files(src);
    if xattrs {
        add_xattrs(src);
    }
    fix_dirs(src, T0 - 100);
    // After fix_dirs (its chmod would rewrite the ACL masks); setfacl
    // leaves the directory times alone.
    if acls {
        add_acls(src);
    }
}

/// The stock sender's list lines (`--debug=FLIST3`: "[sender] flist
/// start=N, used=...", one per list it sent).
fn sent_lists(r: &Run) -> usize {
    (r.stdout.lines().chain(r.stderr.lines()))
        .filter(|l| l.contains("[sender] flist start="))
        .count()
}

/// A stock binary run with `--debug=FLIST3` (a pulled-from server).
pub(crate) fn debug_wrapper(s: &Scratch, bin: &Path) -> PathBuf {
    let name = format!("debug-{}.sh", bin.to_string_lossy().replace('/', "_"));
    crate::util::debug_wrapper(s, bin, &name)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// The stock client pushes to a `--server` receiver.
    Push,
    /// The receiving client pulls from a stock `--server` sender.
    Pull,
}

/// One transfer from `src` into `dst` over the loopback shell: with
/// `ours` the receiver is oxsync, else the stock binary.
fn transfer(s: &Scratch, stock: &Path, way: Way, ours: bool, opts: &[&str], dst: &Path) -> Run {
    let recv = if ours {
        oxsync_bin()
    } else {
        stock.to_path_buf()
    };
    let src = format!("{}/", s.path("src").display());
    let dst = format!("{}/", dst.display());
    let mut c = match way {
        Way::Push => Command::new(stock),
        Way::Pull => Command::new(&recv),
    };
    c.args(opts).arg("-e").arg(s.rsh());
    match way {
        Way::Push => c
            .arg("--debug=FLIST3")
            .arg(format!("--rsync-path={}", recv.display()))
            .arg(src)
            .arg(format!("host:{dst}")),
        Way::Pull => c
            .arg(format!(
                "--rsync-path={}",
                debug_wrapper(s, stock).display()
            ))
            .arg(format!("host:{src}"))
            .arg(dst),
    };
    run(&mut c, &s.logs())
}

/// The oxsync receiver's result is the stock receiver's, and the lists
/// came one per directory.
fn assert_agree(label: &str, src: &Path, dst: &Path, ours: &Run, theirs: &Run, what: &[Attr]) {
    ours.assert_code(0);
    theirs.assert_code(0);
    assert_eq!(
        sent_lists(ours),
        dir_count(src),
        "{label}: not one list per directory (no incremental recursion)\n{}",
        ours.stdout
    );
    assert_eq!(sent_lists(theirs), dir_count(src), "{label}: stock run");
    if let Some(diff) = itemize_diff(ours, theirs) {
        panic!("{label}: itemize lines differ from stock rsync's:\n{diff}");
    }
    // Changes that arrived in later lists: a long value the receiving
    // side had to ask for (also in a list sent once and then referred
    // to), an ACL; a new file. (Item flag at `k`, YXcstpoguax.)
    let items = ours.itemized();
    for (a, k, flag, name) in [
        (Some(Attr::X), 10, 'x', "d0/s1/f0"),
        (Some(Attr::X), 10, 'x', "d3/s2/same"),
        (Some(Attr::A), 9, 'a', "d0/s1/f1"),
        (None, 2, '+', "d2/s2/f3"),
    ] {
        if a.is_none_or(|a| what.contains(&a)) {
            let hit =
                |l: &String| l.ends_with(&format!(" {name}")) && l.chars().nth(k) == Some(flag);
            assert!(items.iter().any(hit), "{label}: {name}\n{items:#?}");
        }
    }
    assert_same_tree(src, dst);
    let stock_dst = dst.with_file_name("stock");
    for a in what {
        let (mine, stock, orig) = match a {
            Attr::X => (xattrs_of(dst), xattrs_of(&stock_dst), xattrs_of(src)),
            Attr::A => (acls_of(dst), acls_of(&stock_dst), acls_of(src)),
        };
        assert_eq!(mine, stock, "{label}: {a:?} differ from stock rsync's");
        let xx = label.contains("-aXX");
        assert_eq!(
            sent_attrs(&mine),
            sent_attrs(&orig),
            "{label}: {a:?} differ from the source's"
        );
        if *a == Attr::X {
            assert_eq!(mine.contains("user.rsync.%stat"), xx, "{label}");
        }
    }
}

/// An attribute dump without `user.rsync.%stat` (sent only with -XX).
fn sent_attrs(dump: &str) -> Vec<&str> {
    dump.lines()
        .filter(|l| !l.starts_with("user.rsync.%stat"))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Attr {
    X,
    A,
}

/// Every stock binary, push and pull, with `opts` into a stale
/// destination.
fn both_ways(opts: &[&str], what: &[Attr]) {
    let (xattrs, acls) = (what.contains(&Attr::X), what.contains(&Attr::A));
    for stock in stock_bins() {
        for way in [Way::Push, Way::Pull] {
            let s = Scratch::new();
            let src = s.path("src");
            make_src(&src, xattrs, acls);
            let (dst, stock_dst) = (s.path("dst"), s.path("stock"));
            let extra = opts.contains(&"--delete");
            make_stale(&dst, xattrs, acls, extra);
            make_stale(&stock_dst, xattrs, acls, extra);
            let label = format!("{} {} {way:?}", stock.display(), opts.join(" "));
            let ours = transfer(&s, &stock, way, true, opts, &dst);
            let theirs = transfer(&s, &stock, way, false, opts, &stock_dst);
            assert_agree(&label, &src, &dst, &ours, &theirs, what);
        }
    }
}

/// `-aX`: user and trusted names, long values asked for, shared sets.
#[test]
fn xattrs_incremental_as_stock() {
    both_ways(&["-aXi"], &[Attr::X]);
}

/// `-aXX`: rsync's own `user.rsync.%stat` travels too.
#[test]
fn xx_incremental_as_stock() {
    both_ways(&["-aXXi"], &[Attr::X]);
}

/// `-aA`: access and default ACLs across the sub-lists.
#[test]
fn acls_incremental_as_stock() {
    both_ways(&["-aAi"], &[Attr::A]);
}

/// `-aXA` with `--delete`: both at once, extraneous files removed as each
/// directory's list arrives.
#[test]
fn xattrs_and_acls_with_delete_incremental_as_stock() {
    both_ways(&["-aXAi", "--delete"], &[Attr::X, Attr::A]);
}

/// A stock client pushes `-aXAi` to an oxsync daemon module: the same
/// result as the stock receiver over a remote shell, one list per
/// directory.
#[test]
fn push_to_daemon_incremental_as_stock() {
    for stock in stock_bins() {
        let d = crate::daemon::start(
            &oxsync_bin(),
            "[mod]\npath = %ROOT%/mod\nread only = no\nfake super = no\n",
        );
        let root = crate::daemon::root(&d);
        let s = Scratch::new();
        let src = s.path("src");
        make_src(&src, true, true);
        let dst = root.join("mod");
        let stock_dst = s.path("stock");
        make_stale(&dst, true, true, true);
        make_stale(&stock_dst, true, true, true);
        let opts = ["-aXAi", "--delete"];
        let ours = run(
            Command::new(&stock)
                .args(opts)
                .arg("--debug=FLIST3")
                .arg(format!("{}/", src.display()))
                .arg(crate::daemon::url(&d, "mod/")),
            &s.logs(),
        );
        let theirs = transfer(&s, &stock, Way::Push, false, &opts, &stock_dst);
        ours.assert_code(0);
        // The daemon's destination is not beside `stock`: compare here.
        let label = format!("{} daemon", stock.display());
        assert_eq!(
            sent_lists(&ours),
            dir_count(&src),
            "{label}\n{}",
            ours.stdout
        );
        if let Some(diff) = itemize_diff(&ours, &theirs) {
            panic!("{label}: itemize lines differ from stock rsync's:\n{diff}");
        }
        assert_same_tree(&src, &dst);
        assert_eq!(xattrs_of(&dst), xattrs_of(&stock_dst), "{label}: xattrs");
        assert_eq!(
            sent_attrs(&xattrs_of(&dst)),
            sent_attrs(&xattrs_of(&src)),
            "{label}: xattrs"
        );
        assert_eq!(acls_of(&dst), acls_of(&stock_dst), "{label}: ACLs");
        assert_eq!(acls_of(&dst), acls_of(&src), "{label}: ACLs");
    }
}

/// A batch stock rsync wrote with incremental recursion and `-aXA` (a
/// local copy into a new directory) replays in oxsync as in stock rsync,
/// each into a new directory: same exit code, itemize lines, xattrs and ACLs (before,
/// such a batch was refused with "Incompatible options specified for
/// inc-recursive batch file.").
#[test]
fn inc_recursive_xattr_acl_batch_replays_as_stock() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let src = s.path("src");
        make_src(&src, true, true);
        let batch = s.path("B");
        let w = run(
            Command::new(&stock)
                .args(["-aXA", "--debug=FLIST3"])
                .arg(format!("--write-batch={}", batch.display()))
                .arg(format!("{}/", src.display()))
                .arg(s.path("written")),
            &s.logs(),
        );
        w.assert_code(0);
        let label = format!("{} batch", stock.display());
        assert_eq!(sent_lists(&w), dir_count(&src), "{label}: not incremental");
        let (dst, stock_dst) = (s.path("dst"), s.path("stock"));
        let replay = |bin: &Path, d: &Path| {
            run(
                Command::new(bin)
                    .arg("-aXAi")
                    .arg(format!("--read-batch={}", batch.display()))
                    .arg(format!("{}/", d.display())),
                &s.logs(),
            )
        };
        let ours = replay(&oxsync_bin(), &dst);
        let theirs = replay(&stock, &stock_dst);
        ours.assert_code(0);
        theirs.assert_code(0);
        if let Some(diff) = itemize_diff(&ours, &theirs) {
            panic!("{label}: itemize lines differ from stock rsync's:\n{diff}");
        }
        assert!(
            ours.itemized().iter().any(|l| l == ">f+++++++++ d3/s2/f2"),
            "{label}: {}",
            ours.stdout
        );
        assert_same_tree(&src, &dst);
        assert_eq!(xattrs_of(&dst), xattrs_of(&stock_dst), "{label}: xattrs");
        assert_eq!(
            sent_attrs(&xattrs_of(&dst)),
            sent_attrs(&xattrs_of(&src)),
            "{label}: xattrs"
        );
        assert_eq!(acls_of(&dst), acls_of(&stock_dst), "{label}: ACLs");
        assert_eq!(acls_of(&dst), acls_of(&src), "{label}: ACLs");
    }
}

/// A hostile sender's sub-list (`-X`, incremental recursion granted):
/// its first entry refers to the xattr list the top list brought (the
/// numbering spans the transfer: accepted), its second to a list none has
/// brought: refused as upstream receive_xattr() does ("xa index 2 out of
/// range", exit 12) before anything is written.
#[test]
fn hostile_sublist_xattr_reference_beyond_the_lists() {
    use protocol::flist::{FileEntry, FlistEncoder, FlistOptions, S_IFDIR, S_IFREG, XMIT_TOP_DIR};
    use protocol::ndx::{NdxWriter, NDX_FLIST_OFFSET};
    use protocol::varint::write_varint;
    let entry = |name: &str, mode: u32| {
        FileEntry {
            name: name.into(),
            mode,
            ..FileEntry::default()
        }
        .with_mtime(T0)
    };
    let out = crate::fakepeer::against_receiver_with("-rXe.iLsfxCIvu", |p| {
        assert_ne!(
            p.compat() & protocol::compat::CF_INC_RECURSE,
            0,
            "the receiver did not grant incremental recursion with -X"
        );
        let mut enc = FlistEncoder::new(FlistOptions {
            preserve_uid: false,
            preserve_gid: false,
            preserve_links: false,
            preserve_devices: false,
            preserve_specials: false,
            ..p.flist_options()
        });
        let mut data = Vec::new();
        // The top list: "d" brings list 0 (literal, empty), "f" refers to it.
        enc.encode(
            &mut data,
            &entry("d", S_IFDIR | 0o755).with_xflags(XMIT_TOP_DIR),
        );
        data.extend_from_slice(&[0, 0]);
        enc.encode(&mut data, &entry("f", S_IFREG | 0o644));
        write_varint(&mut data, 1);
        enc.encode_end(&mut data, 0);
        NdxWriter::default().write(&mut data, NDX_FLIST_OFFSET);
        enc.encode(&mut data, &entry("d/ok", S_IFREG | 0o644));
        write_varint(&mut data, 1);
        enc.encode(&mut data, &entry("d/x", S_IFREG | 0o644));
        write_varint(&mut data, 2);
        enc.encode_end(&mut data, 0);
        data
    });
    out.check(12, "xattr reference beyond the lists", |l| {
        l.contains("receive_xattr: xa index 2 out of range for d/x")
    });
}

/// ACL entries naming users and groups that first appear in later lists
/// (their names sent inline there, as no id lists follow under
/// incremental recursion) are mapped by name on the receiver:
/// `--usermap=daemon:sys --groupmap=bin:sys` turn them into id 3, as the
/// stock receiver does.
#[test]
fn acl_names_in_later_lists_are_mapped() {
    let opts = ["-aAi", "--usermap=daemon:sys", "--groupmap=bin:sys"];
    for stock in stock_bins() {
        for way in [Way::Push, Way::Pull] {
            let s = Scratch::new();
            let src = s.path("src");
            make_src(&src, false, true);
            setfacl(&src.join("d3/s2/f3"), "u:daemon:rw-,g:bin:r--");
            setfacl(&src.join("d2/s1"), "d:u:daemon:rwx,d:g:bin:r-x");
            let (dst, stock_dst) = (s.path("dst"), s.path("stock"));
            let label = format!("{} {way:?}", stock.display());
            let ours = transfer(&s, &stock, way, true, &opts, &dst);
            let theirs = transfer(&s, &stock, way, false, &opts, &stock_dst);
            ours.assert_code(0);
            theirs.assert_code(0);
            assert_eq!(
                sent_lists(&ours),
                dir_count(&src),
                "{label}: not incremental"
            );
            if let Some(diff) = itemize_diff(&ours, &theirs) {
                panic!("{label}: itemize lines differ from stock rsync's:\n{diff}");
            }
            let file = |root: &Path, p: &str| {
                let out = Command::new("getfacl")
                    .args(["-n", "-p"])
                    .arg(root.join(p))
                    .output()
                    .expect("getfacl");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let f3 = file(&dst, "d3/s2/f3");
            assert!(
                f3.contains("user:3:rw-") && f3.contains("group:3:r--"),
                "{label}: {f3}"
            );
            let dir = file(&dst, "d2/s1");
            assert!(dir.contains("default:user:3:rwx"), "{label}: {dir}");
            let got = acls_of(&dst);
            assert!(
                !got.contains("user:1:") && !got.contains("group:2:"),
                "{label}: {got}"
            );
            assert_eq!(got, acls_of(&stock_dst), "{label}: ACLs");
        }
    }
}
