//! Incremental recursion (upstream's inc_recurse, CF_INC_RECURSE) with
//! oxsync receiving: stock rsync 3.2.7 pushing to `oxsync --server` and to
//! an oxsync daemon, and oxsync pulling from stock rsync, each with the
//! sub-lists actually sent (counted from the stock sender's
//! `--debug=FLIST3` lines), then with `--no-inc-recursive`; and a hostile
//! sender's sub-lists: for a cleared directory slot, after the last list
//! was finished, for another directory's entries, twice for one
//! directory, and with a hard-link back-reference no earlier list
//! declared.
use crate::fakepeer::{against_receiver_with, Peer};
use crate::util::*;
use protocol::flist::{
    FileEntry, FlistEncoder, FlistOptions, S_IFDIR, S_IFREG, XMIT_HLINKED, XMIT_TOP_DIR,
};
use protocol::ndx::{NdxWriter, NDX_DONE, NDX_FLIST_OFFSET};
use protocol::varint::write_varint;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;
use std::process::Command;

const RERR_PROTOCOL: i32 = 2;
const RERR_UNSUPPORTED: i32 = 4;

/// A tree of several levels: 4 x 3 x 3 directories of 7 files each, files
/// at every level, symlinks, hard-link groups within a directory and
/// across directories (so across sub-lists), an empty directory.
pub(crate) fn make_tree(src: &Path) -> usize {
    let mut files = 0;
    fs::create_dir_all(src.join("empty")).expect("mkdir empty");
    write_file(&src.join("top.txt"), b"top\n", 0o644, T0);
    for a in 0..4 {
        let da = src.join(format!("d{a}"));
        fs::create_dir_all(&da).expect("mkdir");
        write_file(
            &da.join("at_a"),
            format!("a{a}\n").as_bytes(),
            0o640,
            T0 + a,
        );
        for b in 0..3 {
            let db = da.join(format!("s{b}"));
            fs::create_dir_all(&db).expect("mkdir");
            for c in 0..3 {
                let dc = db.join(format!("t{c}"));
                fs::create_dir_all(&dc).expect("mkdir");
                for f in 0..7 {
                    let body = format!("{a}/{b}/{c}/{f}\n").repeat(f * 40 + 1);
                    write_file(
                        &dc.join(format!("f{f}.dat")),
                        body.as_bytes(),
                        0o644,
                        T0 + f as i64,
                    );
                    files += 1;
                }
                symlink("f0.dat", dc.join("link")).expect("symlink");
            }
            symlink("../../top.txt", db.join("uplink")).expect("symlink");
        }
    }
    // Hard links: within one directory, and from deep directories back to
    // one in an earlier list.
    fs::hard_link(src.join("d0/s0/t0/f1.dat"), src.join("d0/s0/t0/same_dir")).expect("link");
    fs::hard_link(src.join("d0/s0/t0/f2.dat"), src.join("d3/s2/t2/far")).expect("link");
    fs::hard_link(src.join("d0/s0/t0/f2.dat"), src.join("d2/s1/far2")).expect("link");
    fs::hard_link(src.join("top.txt"), src.join("d1/s1/t1/top_again")).expect("link");
    for d in [
        "", "d0", "d0/s0", "d0/s0/t0", "d3/s2/t2", "d2/s1", "d1/s1/t1",
    ] {
        set_mtime(&src.join(d), T0 - 100);
    }
    files
}

/// Extraneous items in the destination, at several depths, that --delete
/// removes when their directory's list arrives.
pub(crate) fn plant_extraneous(dst: &Path) {
    for d in ["d0/s0/t0", "d3/s2", "d1"] {
        fs::create_dir_all(dst.join(d)).expect("mkdir");
        fs::write(dst.join(d).join("extraneous"), b"x").expect("write");
    }
    fs::create_dir_all(dst.join("d2/s0/gone/deeper")).expect("mkdir");
    fs::write(dst.join("d2/s0/gone/deeper/file"), b"x").expect("write");
}

/// The names that must be one inode in the destination.
pub(crate) fn assert_links(dst: &Path) {
    let ino = |p: &str| fs::metadata(dst.join(p)).expect(p).ino();
    assert_eq!(ino("d0/s0/t0/f1.dat"), ino("d0/s0/t0/same_dir"));
    assert_eq!(ino("d0/s0/t0/f2.dat"), ino("d3/s2/t2/far"));
    assert_eq!(ino("d0/s0/t0/f2.dat"), ino("d2/s1/far2"));
    assert_eq!(ino("top.txt"), ino("d1/s1/t1/top_again"));
    assert_ne!(ino("d0/s0/t0/f1.dat"), ino("d0/s0/t0/f2.dat"));
}

/// The lists a stock sender sent (`--debug=FLIST3` prints each one as
/// "[sender] flist start=N, used=...").
fn sent_lists(out: &str) -> usize {
    out.lines().filter(|l| l.contains("flist start=")).count()
}

/// Directories in the tree (each gets its own list under inc_recurse).
fn dirs_in(root: &Path) -> usize {
    snapshot(root).values().filter(|e| e.kind == 'd').count()
}

fn check_result(src: &Path, dst: &Path, run: &Run, inc: bool) {
    run.assert_code(0);
    assert_same_tree(src, dst);
    assert_links(dst);
    let lists = sent_lists(&run.stdout);
    if inc {
        // The top list and one per directory but ".".
        assert_eq!(lists, dirs_in(src), "{}", run.stdout);
    } else {
        assert_eq!(lists, 1, "{}", run.stdout);
    }
}

fn push_to_server(inc: bool) {
    let s = Scratch::new();
    let (src, dst) = (s.path("src"), s.path("dst"));
    assert!(make_tree(&src) > 200);
    plant_extraneous(&dst);
    let mut cmd = Command::new(rsync_bin());
    cmd.args(["-aH", "--delete", "--debug=FLIST3", "-e"])
        .arg(s.rsh())
        .arg(format!("--rsync-path={}", oxsync_bin().display()));
    if !inc {
        cmd.arg("--no-inc-recursive");
    }
    let r = run(
        cmd.arg(format!("{}/", src.display()))
            .arg(format!("host:{}/", dst.display())),
        &s.logs(),
    );
    check_result(&src, &dst, &r, inc);
    // Again, with changes: a rewritten file deep down, a removed
    // directory, a new file; nothing else is sent.
    fs::write(src.join("d2/s2/t1/f3.dat"), b"changed\n").expect("write");
    fs::remove_dir_all(src.join("d1/s0")).expect("rm");
    write_file(&src.join("d3/s1/t0/new"), b"new\n", 0o600, T0);
    let r = run(
        Command::new(rsync_bin())
            .args(["-aiH", "--delete", "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", oxsync_bin().display()))
            .arg(format!("{}/", src.display()))
            .arg(format!("host:{}/", dst.display())),
        &s.logs(),
    );
    r.assert_code(0);
    assert_same_tree(&src, &dst);
    assert_links(&dst);
    let items = r.itemized();
    let mut sent: Vec<&String> = items
        .iter()
        .filter(|l| !l.starts_with(['.', '*']))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        ["<f+++++++++ d3/s1/t0/new", "<f.st...... d2/s2/t1/f3.dat"],
        "{}",
        r.stdout
    );
    let deleted: Vec<&String> = items.iter().filter(|l| l.starts_with('*')).collect();
    assert!(
        deleted.contains(&&"*deleting   d1/s0/".to_string()),
        "{}",
        r.stdout
    );
    assert!(
        deleted.iter().all(|l| l.starts_with("*deleting   d1/s0/")),
        "{}",
        r.stdout
    );
}

/// Stock rsync pushes to `oxsync --server` with incremental recursion.
#[test]
fn stock_push_to_server_inc_recursive() {
    push_to_server(true);
}

/// The same without it (`--no-inc-recursive`: one list).
#[test]
fn stock_push_to_server_no_inc_recursive() {
    push_to_server(false);
}

/// Stock rsync pushes to an oxsync daemon with incremental recursion, and
/// without.
#[test]
fn stock_push_to_daemon() {
    for inc in [true, false] {
        let d = crate::daemon::start(
            &oxsync_bin(),
            "[mod]\npath = %ROOT%/mod\nread only = no\nmunge symlinks = no\n",
        );
        let root = crate::daemon::root(&d);
        let (src, dst) = (root.join("src"), root.join("mod"));
        fs::remove_dir_all(&src).expect("rm src");
        make_tree(&src);
        plant_extraneous(&dst);
        let logs = root.join("logs");
        fs::create_dir_all(&logs).expect("logs");
        let mut cmd = Command::new(rsync_bin());
        cmd.args(["-rlptH", "--delete", "--debug=FLIST3"]);
        if !inc {
            cmd.arg("--no-i-r");
        }
        let r = run(
            cmd.arg(format!("{}/", src.display()))
                .arg(crate::daemon::url(&d, "mod/")),
            &logs,
        );
        check_result(&src, &dst, &r, inc);
    }
}

/// A stock sender's `--debug=FLIST3` wrapper, which also records its
/// arguments (to see whether `i` was offered).
fn stock_sender(s: &Scratch) -> std::path::PathBuf {
    let p = s.path("stock-sender.sh");
    write_script(
        &p,
        &format!(
            "#!/bin/sh\necho \"$@\" >> {}\nexec {} --debug=FLIST3 \"$@\"\n",
            s.path("sender-args").display(),
            rsync_bin().display()
        ),
    );
    p
}

fn pull_from_stock(inc: bool) {
    let s = Scratch::new();
    let (src, dst) = (s.path("src"), s.path("dst"));
    make_tree(&src);
    plant_extraneous(&dst);
    let mut cmd = Command::new(oxsync_bin());
    cmd.args(["-aH", "--delete", "-e"])
        .arg(s.rsh())
        .arg(format!("--rsync-path={}", stock_sender(&s).display()));
    if !inc {
        cmd.arg("--no-inc-recursive");
    }
    let r = run(
        cmd.arg(format!("host:{}/", src.display()))
            .arg(format!("{}/", dst.display())),
        &s.logs(),
    );
    check_result(&src, &dst, &r, inc);
    let args = fs::read_to_string(s.path("sender-args")).expect("sender args");
    assert_eq!(args.contains(".iL"), inc, "{args}");
}

/// oxsync pulls from stock rsync with incremental recursion.
#[test]
fn pull_from_stock_inc_recursive() {
    pull_from_stock(true);
}

/// The same with `--no-inc-recursive`: the `i` is not offered.
#[test]
fn pull_from_stock_no_inc_recursive() {
    pull_from_stock(false);
}

/// A pulling client says it receives incrementally, as stock rsync does
/// (and a progress line counts `ir-chk` while lists are still coming).
#[test]
fn pull_says_incremental() {
    let s = Scratch::new();
    let src = s.path("src");
    make_tree(&src);
    let mut firsts = Vec::new();
    for (bin, dst) in [(oxsync_bin(), "d1"), (rsync_bin(), "d2")] {
        let r = run(
            Command::new(bin)
                .args(["-rv", "-e"])
                .arg(s.rsh())
                .arg(format!("--rsync-path={}", rsync_bin().display()))
                .arg(format!("host:{}/", src.display()))
                .arg(s.path(dst)),
            &s.logs(),
        );
        r.assert_code(0);
        firsts.push(r.stdout.lines().next().unwrap_or_default().to_string());
    }
    assert_eq!(firsts[0], "receiving incremental file list");
    assert_eq!(firsts[0], firsts[1]);
}

/// Server flags of a hostile sender's session: `-r` with the client info
/// of a stock client that offers incremental recursion.
const FLAGS: &str = "-re.iLsfxCIvu";
const FLAGS_H: &str = "-rHe.iLsfxCIvu";

fn options(peer: &Peer, hard_links: bool) -> FlistOptions {
    assert_ne!(
        peer.compat() & protocol::compat::CF_INC_RECURSE,
        0,
        "the receiver did not grant incremental recursion"
    );
    FlistOptions {
        preserve_uid: false,
        preserve_gid: false,
        preserve_links: false,
        preserve_devices: false,
        preserve_specials: false,
        preserve_hard_links: hard_links,
        ..peer.flist_options()
    }
}

fn dir(name: &str) -> FileEntry {
    FileEntry {
        name: name.into(),
        mode: S_IFDIR | 0o755,
        ..FileEntry::default()
    }
    .with_mtime(T0)
    .with_xflags(XMIT_TOP_DIR)
}

fn file(name: &str, size: i64) -> FileEntry {
    FileEntry {
        name: name.into(),
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(size)
    .with_mtime(T0)
}

/// The top list `top`, then a sub-list marker for `dir_ndx` and `sub`.
fn top_then_sub(
    o: FlistOptions,
    top: &[FileEntry],
    before_sub: &[i32],
    dir_ndx: i32,
    sub: &[FileEntry],
) -> Vec<u8> {
    let mut enc = FlistEncoder::new(o);
    let mut out = Vec::new();
    for e in top {
        enc.encode(&mut out, e);
    }
    enc.encode_end(&mut out, 0);
    let mut ndx = NdxWriter::default();
    for &n in before_sub {
        ndx.write(&mut out, n);
    }
    ndx.write(&mut out, NDX_FLIST_OFFSET - dir_ndx);
    for e in sub {
        enc.encode(&mut out, e);
    }
    enc.encode_end(&mut out, 0);
    out
}

/// A sub-list for a directory slot the list cleaning cleared (the second
/// of two same-named directories): refused, nothing written.
// upstream: testsuite/proto-cleared-dirflist_test.py
#[test]
fn hostile_sublist_for_cleared_dir() {
    let out = against_receiver_with(FLAGS, |p| {
        let top = [dir("d"), dir("d"), file("f", 100)];
        top_then_sub(options(p, false), &top, &[], 1, &[file("d/x", 0)])
    });
    out.check(RERR_PROTOCOL, "sub-list for a cleared slot", |l| {
        l.contains("refusing flist for cleared dir_ndx 1")
    });
}

/// A sub-list after the sender finished the last list: refused.
// upstream: testsuite/proto-subflist-freed_test.py
#[test]
fn hostile_sublist_after_final_list() {
    let out = against_receiver_with(FLAGS, |p| {
        let top = [dir("d"), dir("e")];
        top_then_sub(options(p, false), &top, &[NDX_DONE], 0, &[file("d/x", 0)])
    });
    out.check(RERR_PROTOCOL, "sub-list after the final list", |l| {
        l.contains("refusing sub-flist after final flist was freed")
    });
}

/// A sub-list naming a directory index no list holds: refused.
#[test]
fn hostile_sublist_for_unknown_dir() {
    let out = against_receiver_with(FLAGS, |p| {
        let top = [dir("d"), file("f", 100)];
        top_then_sub(options(p, false), &top, &[], 5, &[file("d/x", 0)])
    });
    out.check(RERR_PROTOCOL, "sub-list for dir 5 of 1", |l| {
        l.contains("invalid dir index: -106 (-101 - -101)")
    });
}

/// A directory's list holding another directory's entry (a path that
/// would land elsewhere): refused before anything is written.
#[test]
fn hostile_sublist_with_foreign_entry() {
    let out = against_receiver_with(FLAGS, |p| {
        let top = [dir("d"), dir("e"), file("f", 100)];
        top_then_sub(options(p, false), &top, &[], 0, &[file("e/escape", 0)])
    });
    out.check(RERR_UNSUPPORTED, "entry of another directory", |l| {
        l.contains("aborting due to invalid path from sender: e/escape")
    });
}

/// Two lists for one directory: the second is refused.
#[test]
fn hostile_duplicate_sublist() {
    let out = against_receiver_with(FLAGS, |p| {
        let o = options(p, false);
        let top = [dir("d"), file("f", 100)];
        let mut data = top_then_sub(o, &top, &[], 0, &[file("d/x", 0)]);
        // The marker for dir 0 again (the index writer's state as after
        // the first one), then an empty list.
        let mut ndx = NdxWriter::default();
        ndx.write(&mut Vec::new(), NDX_FLIST_OFFSET);
        ndx.write(&mut data, NDX_FLIST_OFFSET);
        data.extend_from_slice(&[0, 0]);
        data
    });
    out.check(RERR_PROTOCOL, "second list for a directory", |l| {
        l.contains("refusing malicious duplicate flist for dir 0")
    });
}

/// With -H, a sub-list entry naming as its hard-link group an earlier
/// index that never started a group: refused as a protocol error.
// upstream: testsuite/proto-hlink-gnum_test.py
#[test]
fn hostile_undeclared_hardlink_backref() {
    let out = against_receiver_with(FLAGS_H, |p| {
        let mut enc = FlistEncoder::new(options(p, true));
        let mut data = Vec::new();
        for e in [dir("d"), file("f", 100)] {
            enc.encode(&mut data, &e);
        }
        enc.encode_end(&mut data, 0);
        NdxWriter::default().write(&mut data, NDX_FLIST_OFFSET);
        // The top list held "d" (1) and "f" (2), so this list starts at 4;
        // its entry "d/h" follows group 1, which is the directory "d".
        write_varint(&mut data, XMIT_HLINKED as i32);
        data.push(3);
        data.extend_from_slice(b"d/h");
        write_varint(&mut data, 1);
        data.extend_from_slice(&[0, 0]);
        data
    });
    out.check(RERR_PROTOCOL, "undeclared hard-link back-reference", |l| {
        l.contains("hard-link gnum 1 precedes flist start 4")
    });
}
